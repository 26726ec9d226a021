"""The R bridge: entry points that the R package 'mlxsglmnet' calls through reticulate.

Holds no numerics: it calls mlxs_glmnet.glmnet / mlxs_glmnet.cv_glmnet, captures Python warnings
and exceptions (so that R gets the engine's message without a traceback and the R session never
sees an uncaught Python error), and packs the results into a dict of plain numpy arrays that
reticulate converts in one go. beta is handed back as the three CSC arrays of a dgCMatrix.

The R-facing contract (what rpkg/R/engine.R and mlxs_glmnet.R rely on; see fit() and cv_fit()):

- in: only plain objects that reticulate converts without copying or in one step: x an (n, p)
  float64 array (R's double matrix as a read-only, Fortran-ordered view; never written or
  copied here), y a float64 vector (binomial: 1.0 for R's second factor level, else 0.0),
  family a str, the scalar arguments as one float64 vector plus their names, the string
  arguments as one str vector plus names, vector arguments (weights, offset, lambda_,
  penalty_factor, lower/upper_limits, exclude (0-based), foldid) as a dict of arrays;
- out: a dict {"result": packed, "warnings": [str, ...]} or {"error": str, "warnings": [...]};
  never an exception for bad input or engine failure. "packed" is the fit as two flat vectors
  (see _pack_fit; a few objects, because reticulate 1.28 converts each returned object at a
  fixed cost of ~0.1 ms), or for cv_fit a dict of the cv.glmnet fields with the full-data fit
  packed the same way.

fit_dict() and cv_fit_dict() are the same calls for other callers (Julia, other FFIs, tests):
keyword arguments in, a plain dict of numpy arrays out with glmnet's field names, exceptions
(ValueError/TypeError naming the argument) as in the Python API. unpack_fit() turns a packed fit
into that dict, which pins the packing down.
"""
import time
import warnings

import numpy as np

_ENGINE = None
_LAST = {"engine_s": float("nan")}


def engine():
    """Import the engine once; returns (module, error message or None)."""
    global _ENGINE
    if _ENGINE is None:
        if int(np.__version__.split(".")[0]) >= 2:
            raise ImportError(f"numpy {np.__version__} is installed; reticulate 1.28 needs numpy<2")
        import mlxs_glmnet
        _ENGINE = mlxs_glmnet  # the package this module belongs to
    return _ENGINE


def info():
    import sys
    mg = engine()
    return {"python": sys.executable, "version": sys.version.split()[0],
            "numpy": np.__version__, "engine": getattr(mg, "__version__", "?"),
            "engine_path": mg.__file__, "has_cv": hasattr(mg, "cv_glmnet")}


def last_timing():
    return dict(_LAST)


def array_info(x):
    """Data address and flags of the numpy array reticulate made from an R object (for tests)."""
    return {"address": str(x.__array_interface__["data"][0]), "owndata": bool(x.flags.owndata),
            "f_contiguous": bool(x.flags.f_contiguous), "writeable": bool(x.flags.writeable),
            "dtype": str(x.dtype), "shape": [int(s) for s in x.shape]}


def _csc(beta):
    beta = np.asarray(beta, dtype=np.float64)
    mask = beta != 0
    counts = mask.sum(axis=0)
    colptr = np.zeros(beta.shape[1] + 1, dtype=np.int32)
    np.cumsum(counts, out=colptr[1:])
    bt, mt = beta.T, mask.T          # column-major order of the nonzeros
    rows = np.nonzero(mt)[1].astype(np.int32)
    return rows, colptr, np.ascontiguousarray(bt[mt])


def _pack_fit(f):
    """A fit as two flat vectors (reticulate converts each object at a fixed cost of tens of
    microseconds, so a dozen small arrays cost more than the R layer's whole budget):
    d = [a0, lambda, dev_ratio (nlam each), beta's non-zeros (nnz), nulldev];
    i = [nlam, nnz, npasses, jerr, offset, nobs, df (nlam), dim (2), beta rows (nnz),
         beta column pointers (nlam + 1)]. rpkg/R/mlxs_glmnet.R's .as_glmnet() unpacks them."""
    rows, colptr, vals = _csc(f.beta)
    nlam = len(f.lambda_)
    d = np.concatenate([np.asarray(f.a0, dtype=np.float64), np.asarray(f.lambda_, dtype=np.float64),
                        np.asarray(f.dev_ratio, dtype=np.float64), vals, [float(f.nulldev)]])
    i = np.concatenate([np.array([nlam, len(vals), int(f.npasses), int(f.jerr), int(bool(f.offset)),
                                  int(f.nobs)], dtype=np.int32),
                        np.asarray(f.df, dtype=np.int32), np.asarray(f.dim, dtype=np.int32),
                        rows, colptr]).astype(np.int32)
    out = {"d": d, "i": i,
           "classnames": None if f.classnames is None else [str(c) for c in f.classnames]}
    if getattr(f, "relaxed", None) is not None:      # (relax = True only: one object more)
        out["relaxed"] = _pack_fit(f.relaxed)
    return out


def _pack_cv(cv):
    name = cv.name
    if isinstance(name, dict):
        key, label = next(iter(name.items()))
    else:
        key, label = str(name), str(name)
    out = {
        "lambda": np.asarray(cv.lambda_, dtype=np.float64),
        "cvm": np.asarray(cv.cvm, dtype=np.float64),
        "cvsd": np.asarray(cv.cvsd, dtype=np.float64),
        "cvup": np.asarray(cv.cvup, dtype=np.float64),
        "cvlo": np.asarray(cv.cvlo, dtype=np.float64),
        "nzero": np.asarray(cv.nzero, dtype=np.int32),
        "name_key": str(key), "name_label": str(label),
        "glmnet_fit": _pack_fit(cv.glmnet_fit),
        "lambda_min": float(cv.lambda_min), "lambda_1se": float(cv.lambda_1se),
        "index": np.asarray(cv.index, dtype=np.int32).reshape(-1),
        "foldid": None, "fit_preval": None,
    }
    if getattr(cv, "foldid", None) is not None:
        out["foldid"] = np.asarray(cv.foldid, dtype=np.int32)
    if getattr(cv, "fit_preval", None) is not None:
        out["fit_preval"] = np.asfortranarray(np.asarray(cv.fit_preval, dtype=np.float64))
    r = getattr(cv, "relaxed", None)
    if r is not None:       # relax = TRUE: glmnet's $relaxed, flat (see the R package's .cv_relaxed)
        st = r["statlist"]
        out["relaxed"] = {
            "gamma": np.asarray(r["gamma"], dtype=np.float64),
            "lambda": [np.asarray(d["lambda_"], dtype=np.float64) for d in st],
            "cvm": [np.asarray(d["cvm"], dtype=np.float64) for d in st],
            "cvsd": [np.asarray(d["cvsd"], dtype=np.float64) for d in st],
            "nzero": [np.asarray(d["nzero"], dtype=np.int32) for d in st],
            "opt": np.array([r["lambda_min"], r["lambda_1se"], r["gamma_min"], r["gamma_1se"],
                             r["nzero_min"], r["nzero_1se"]], dtype=np.float64),
            "index": np.asarray(r["index"], dtype=np.int32).reshape(-1, order="F"),
            "preval_gamma": None, "preval": None}
        if "fit_preval" in r:
            out["relaxed"]["preval_gamma"] = np.array(list(r["fit_preval"]), dtype=np.float64)
            out["relaxed"]["preval"] = [np.asfortranarray(np.asarray(v, dtype=np.float64))
                                        for v in r["fit_preval"].values()]
    return out


_CONTROL_PREFIX = "control_"


def _call(fn_name, pack, x, y, family, kwargs):
    """Run one engine entry point; never raises for engine errors (returns them as text).
    Keyword arguments control_<name> are R's glmnet.control() values, in force for this call
    only (mlxs_glmnet.glmnet_control's fdev, devmax, eps, mnlam, pmin)."""
    kwargs = {k: v for k, v in dict(kwargs).items() if v is not None}
    control = {k[len(_CONTROL_PREFIX):]: kwargs.pop(k) for k in list(kwargs)
               if k.startswith(_CONTROL_PREFIX)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = None
        try:
            if control:
                from .engine import CONTROL
                saved = dict(CONTROL)
                engine().glmnet_control(**control)
            mg = engine()
            fn = getattr(mg, fn_name, None)
            if fn is None:
                return {"error": f"the installed engine has no {fn_name}()", "warnings": []}
            t0 = time.perf_counter()
            res = fn(x, y, family, **kwargs)
            _LAST["engine_s"] = time.perf_counter() - t0
            out = pack(res)
        except Exception as e:  # noqa: BLE001 - everything becomes an R error with this text
            msg = str(e) or type(e).__name__
            if not isinstance(e, (ValueError, TypeError)):
                msg = f"{type(e).__name__}: {msg}"
            return {"error": msg, "warnings": [str(w.message) for w in caught]}
        finally:
            if saved is not None:
                from .engine import CONTROL
                CONTROL.clear()
                CONTROL.update(saved)
    return {"result": out, "warnings": [str(w.message) for w in caught]}


_INTS = {"nlambda", "dfmax", "pmax", "maxit", "trace_it", "nfolds", "maxp", "control_mnlam"}
_BOOLS = {"standardize", "intercept", "keep", "grouped", "relax", "path"}


def _as_list(v):
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _kwargs(scal_vals, scal_names, str_vals, str_names, arrays):
    """Rebuild keyword arguments from R's flat form: reticulate converts a named R list element
    by element at ~50 us each, a plain double or character vector in one step."""
    kw = {}
    for k, v in zip(_as_list(scal_names), _as_list(scal_vals)):
        v = float(v)
        if v != v:          # NaN stands for None (e.g. lambda_min_ratio left to the engine)
            continue
        kw[k] = int(v) if k in _INTS else bool(v) if k in _BOOLS else v
    for k, v in zip(_as_list(str_names), _as_list(str_vals)):
        kw[k] = str(v)
    if arrays:
        kw.update({k: v for k, v in dict(arrays).items() if v is not None})
    return kw


def fit(x, y, family, scal_vals, scal_names, str_vals, str_names, arrays):
    """The R package's fitting entry point (mlxs_glmnet() calls it through reticulate).

    x: (n, p) float64 array (zero-copy view of R's matrix); y: float64 vector of length n;
    family: "gaussian" | "binomial" | "poisson"; scal_vals / scal_names: a float64 vector of
    scalar keyword arguments of mlxs_glmnet.glmnet and their names (NaN stands for None;
    nlambda, dfmax, pmax, maxit, trace_it become int, standardize/intercept bool);
    str_vals / str_names: the same for string arguments (device, dtype, type_gaussian);
    arrays: dict of vector arguments (or None).
    Returns {"result": {"d": float64[3 * nlam + nnz + 1], "i": int32[6 + nlam + 2 + nnz +
    nlam + 1], "classnames": [str, str] | None, and with relax = TRUE "relaxed": the relaxed
    fit packed the same way}, "warnings": [str]} (layout in _pack_fit), or
    {"error": str, "warnings": [str]}; never raises for bad input or an engine failure."""
    kw = _kwargs(scal_vals, scal_names, str_vals, str_names, arrays)
    return _call("glmnet", _pack_fit, x, y, family, kw)


def cv_fit(x, y, family, scal_vals, scal_names, str_vals, str_names, arrays):
    """The R package's cross-validation entry point (mlxs_cv_glmnet()); arguments as fit(),
    plus foldid (int array, 1-based, in arrays), type_measure / alignment (strings), keep /
    grouped (scalars). Returns {"result": {"lambda", "cvm", "cvsd", "cvup", "cvlo": float64,
    "nzero": int32, "name_key", "name_label": str, "glmnet_fit": packed fit as in fit(),
    "lambda_min", "lambda_1se": float, "index": int32[2], "foldid": int32 | None,
    "fit_preval": (n, nlam) float64 | None}, "warnings": [...]} or {"error": ..., ...}."""
    kw = _kwargs(scal_vals, scal_names, str_vals, str_names, arrays)
    return _call("cv_glmnet", _pack_cv, x, y, family, kw)


def unpack_fit(packed):
    """A packed fit (fit()'s "result") as a plain dict with glmnet's field names: a0, beta
    (dense (p, nlam)), lambda, df, dim, dev_ratio, nulldev, npasses, jerr, offset, nobs,
    classnames, and with relax = True relaxed (the relaxed fit's dict). The Python mirror of
    the R package's .as_glmnet()."""
    d = np.asarray(packed["d"], dtype=np.float64)
    iv = np.asarray(packed["i"], dtype=np.int64)
    nlam, nnz = int(iv[0]), int(iv[1])
    dim = iv[6 + nlam:8 + nlam]
    o = 8 + nlam
    rows, colptr = iv[o:o + nnz], iv[o + nnz:o + nnz + nlam + 1]
    beta = np.zeros((int(dim[0]), nlam))
    cols = np.repeat(np.arange(nlam), np.diff(colptr))
    beta[rows, cols] = d[3 * nlam:3 * nlam + nnz]
    return {"a0": d[:nlam], "beta": beta, "lambda": d[nlam:2 * nlam],
            "df": iv[6:6 + nlam].astype(np.int32), "dim": dim.astype(np.int32),
            "dev_ratio": d[2 * nlam:3 * nlam], "nulldev": float(d[3 * nlam + nnz]),
            "npasses": int(iv[2]), "jerr": int(iv[3]), "offset": bool(iv[4]),
            "nobs": int(iv[5]), "classnames": packed.get("classnames"),
            **({"relaxed": unpack_fit(packed["relaxed"])} if "relaxed" in packed else {})}


def fit_dict(x, y, family="gaussian", **kwargs):
    """mlxs_glmnet.glmnet(x, y, family, **kwargs) as a plain dict of numpy arrays (see
    unpack_fit) for callers that want no Python objects back; bad input raises as in the
    Python API (ValueError/TypeError naming the argument); warnings are Python warnings."""
    return unpack_fit(_pack_fit(engine().glmnet(x, y, family, **kwargs)))


def cv_fit_dict(x, y, family="gaussian", **kwargs):
    """mlxs_glmnet.cv_glmnet(...) as a plain dict: the cv.glmnet fields (lambda, cvm, cvsd,
    cvup, cvlo, nzero, name_key, name_label, lambda_min, lambda_1se, index, foldid, fit_preval)
    and glmnet_fit as fit_dict() gives it."""
    out = _pack_cv(engine().cv_glmnet(x, y, family, **kwargs))
    out["glmnet_fit"] = unpack_fit(out["glmnet_fit"])
    return out
