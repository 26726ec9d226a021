"""The rpy2 bridge, both ways: Python fits as R glmnet objects, R data through the engine.

For Python sessions that embed R with rpy2 (``pip install "rpy2<3.6"`` for R 4.2; rpy2 is an
optional dependency, imported when this module is)::

    import rpy2.robjects as ro
    from mlxs_glmnet.rpy2 import fit_r, cv_fit_r, to_r, from_r

    x_r, y_r = ro.r("x"), ro.r("y")          # an R double matrix and an R vector
    rfit = fit_r(x_r, y_r, family="binomial", alpha=0.5)   # an R "lognet"/"glmnet" object
    ro.r["predict"](rfit, newx=x_r, s=0.01, type="response")  # glmnet's own predict method
    rcv = cv_fit_r(x_r, y_r, nfolds=10)                    # an R "cv.glmnet" object

    to_r(mlxs_glmnet.glmnet(x, y))          # any Python GlmnetFit / CvGlmnetFit -> R object
    from_r(ro.r("glmnet::glmnet(x, y)"))     # an R glmnet / cv.glmnet object -> Python

The data cross without a copy: :func:`fit_r` hands the engine a read-only numpy view over the R
matrix's own memory (an R double matrix is column-major float64, which is what the engine reads).
Integer or logical matrices are converted once to float64 (R would do the same). Only the
results are copied, once, into the R object, whose fields, names and classes are those glmnet
4.1 builds (``a0``, ``beta`` as a dgCMatrix, ``df``, ``dim``, ``lambda``, ``dev.ratio``,
``nulldev``, ``npasses``, ``jerr``, ``offset``, ``classnames``, ``call``, ``nobs``), so
``print``, ``coef``, ``predict``, ``plot`` and ``deviance`` from glmnet work on it; so do the
``cv.glmnet`` methods on what :func:`cv_fit_r` and ``to_r(cvfit)`` return.

Arguments of :func:`fit_r` / :func:`cv_fit_r` are those of :func:`mlxs_glmnet.glmnet` /
:func:`mlxs_glmnet.cv_glmnet`, under their Python names (``lambda_min_ratio``) or glmnet's R
names (``**{"lambda.min.ratio": 1e-3}``), as Python values or R vectors. R's conventions hold
for R vectors: ``exclude`` and ``foldid`` given as R vectors are 1-based, R factors keep their
level order as the binomial classes (the second level is the "success"), NA is refused by name.
Without ``foldid``, :func:`cv_fit_r` draws the folds with R's random number generator exactly
as ``cv.glmnet`` does, so ``set.seed()`` in R gives glmnet's folds. Bad input raises
``ValueError``/``TypeError`` naming the argument.

The ``call`` stored in the R objects records the Python call (``mlxs_glmnet.glmnet(...)``); it is
for printing, so glmnet features that re-evaluate the call (``coef(..., exact = TRUE)``,
``update()``) are not available on converted objects.
"""
from __future__ import annotations

import time

import numpy as np

try:
    import rpy2.rinterface as _ri
    import rpy2.robjects as _ro
except ImportError as _e:  # pragma: no cover - CI installs rpy2
    raise ImportError("mlxs_glmnet.rpy2 needs rpy2 (pip install 'rpy2<3.6' for R 4.2)") from _e

from . import api
from . import cv as _cv

__all__ = ["to_r", "from_r", "fit_r", "cv_fit_r", "r_matrix", "last_timing"]

_NA_INT = -(2 ** 31)
_LAST = {"engine_s": float("nan"), "total_s": float("nan")}

# R spellings of glmnet's arguments -> the Python keywords
_R_NAMES = {
    "lambda": "lambda_", "lambda.min.ratio": "lambda_min_ratio", "penalty.factor": "penalty_factor",
    "lower.limits": "lower_limits", "upper.limits": "upper_limits", "trace.it": "trace_it",
    "type.gaussian": "type_gaussian", "type.measure": "type_measure",
}
_INT_ARGS = {"nlambda", "dfmax", "pmax", "maxit", "trace_it", "nfolds"}
_VECTOR_ARGS = {"weights", "offset", "lambda_", "penalty_factor", "lower_limits", "upper_limits",
                "exclude", "foldid"}
_CLASS = {"gaussian": "elnet", "binomial": "lognet", "poisson": "fishnet"}
_FAMILY = {v: k for k, v in _CLASS.items()}

# R closures that assemble glmnet's objects from flat vectors (one R call per object; a dgCMatrix
# from its slots without new()'s validity check, which alone costs ~0.8 ms at p = 200).
_R_SOURCE = r"""
local({
  suppressMessages(requireNamespace("glmnet"))
  proto <- methods::new("dgCMatrix")
  fit <- function(cls, a0, i, p, x, nvars, xnames, df, lambda, dev, nulldev, npasses, jerr,
                  offset, classnames, call, nobs) {
    nlam <- length(lambda)
    snames <- paste0("s", seq_len(nlam) - 1L)
    names(a0) <- snames
    if (is.null(xnames)) xnames <- paste0("V", seq_len(nvars))   # glmnet's names for a bare x
    b <- proto
    methods::slot(b, "i", check = FALSE) <- i
    methods::slot(b, "p", check = FALSE) <- p
    methods::slot(b, "x", check = FALSE) <- x
    methods::slot(b, "Dim", check = FALSE) <- c(nvars, nlam)
    methods::slot(b, "Dimnames", check = FALSE) <- list(xnames, snames)
    out <- list(a0 = a0, beta = b, df = df, dim = c(nvars, nlam), lambda = lambda,
                dev.ratio = dev, nulldev = nulldev, npasses = npasses, jerr = jerr,
                offset = offset)
    if (!is.null(classnames)) out$classnames <- classnames
    out$call <- str2lang(call)
    out$nobs <- nobs
    class(out) <- c(cls, "glmnet")
    out
  }
  cv <- function(lambda, cvm, cvsd, cvup, cvlo, nzero, call, name, fit, preval, foldid,
                 lambda.min, lambda.1se, index) {
    snames <- paste0("s", seq_along(lambda) - 1L)
    names(nzero) <- snames
    out <- list(lambda = lambda, cvm = cvm, cvsd = cvsd, cvup = cvup, cvlo = cvlo,
                nzero = nzero, call = str2lang(call), name = name, glmnet.fit = fit)
    if (!is.null(preval)) {
      dimnames(preval) <- list(NULL, paste0("s", seq_len(ncol(preval)) - 1L))
      out$fit.preval <- preval
      out$foldid <- foldid
    }
    out$lambda.min <- lambda.min
    out$lambda.1se <- lambda.1se
    out$index <- matrix(index, 2L, 1L, dimnames = list(c("min", "1se"), "Lambda"))
    class(out) <- "cv.glmnet"
    out
  }
  relaxed <- function(fit, rfit) {          # glmnet's relax.glmnet result: the relaxed fit inside
    rfit$dim <- fit$dim                      # (relax.glmnet leaves it so where maxp dropped lambdas)
    fit$relaxed <- rfit
    class(fit) <- c("relaxed", class(fit))
    fit
  }
  unrelax <- function(f) {
    r <- f$relaxed
    f$relaxed <- NULL
    class(f) <- class(f)[-1L]
    list(fit = f, relaxed = r)
  }
  cvrelaxed <- function(out, gamma, cvm, cvsd, lambdas, nzeros, lmin, l1se, gmin, g1se, nzmin,
                        nz1se, index) {      # cv.glmnet(relax = TRUE)'s object around a cv one
    statlist <- lapply(seq_along(gamma), function(i) {
      nz <- nzeros[[i]]
      names(nz) <- paste0("s", seq_along(nz) - 1L)
      list(lambda = lambdas[[i]], cvm = cvm[[i]], cvsd = cvsd[[i]], cvup = cvm[[i]] + cvsd[[i]],
           cvlo = cvm[[i]] - cvsd[[i]], nzero = nz)
    })
    names(statlist) <- paste("g", gamma, sep = ":")
    out$relaxed <- list(statlist = statlist, gamma = gamma, lambda.min = lmin, lambda.1se = l1se,
                        gamma.min = gmin, gamma.1se = g1se, nzero.min = nzmin, nzero.1se = nz1se,
                        index = matrix(index, 2L, 2L, dimnames = list(c("min", "1se"),
                                                                      c("Lambda", "Gamma"))))
    class(out) <- c("cv.relaxed", "cv.glmnet")
    out
  }
  unrelaxcv <- function(o) {
    r <- o$relaxed
    list(gamma = as.double(r$gamma),
         lambda = lapply(r$statlist, function(s) as.double(s$lambda)),
         cvm = lapply(r$statlist, function(s) as.double(s$cvm)),
         cvsd = lapply(r$statlist, function(s) as.double(s$cvsd)),
         nzero = lapply(r$statlist, function(s) as.integer(s$nzero)),
         opt = c(r$lambda.min, r$lambda.1se, r$gamma.min, r$gamma.1se, r$nzero.min, r$nzero.1se),
         index = as.integer(r$index))
  }
  folds <- function(nfolds, n) sample(rep(seq(nfolds), length = n))
  unfit <- function(f) list(a0 = as.double(f$a0), beta = as.matrix(f$beta),
                            lambda = as.double(f$lambda), df = as.integer(f$df),
                            dev = as.double(f$dev.ratio), nulldev = as.double(f$nulldev),
                            npasses = as.integer(f$npasses), jerr = as.integer(f$jerr),
                            offset = isTRUE(f$offset), nobs = as.integer(f$nobs),
                            classnames = if (is.null(f$classnames)) NULL else as.character(f$classnames),
                            xnames = rownames(f$beta), cls = class(f)[1L])
  list(fit = fit, cv = cv, folds = folds, unfit = unfit, relaxed = relaxed, unrelax = unrelax,
       cvrelaxed = cvrelaxed, unrelaxcv = unrelaxcv)
})
"""
_FN = {}


def _fns():
    if not _FN:
        res = _ro.r(_R_SOURCE)
        for k in ("fit", "cv", "folds", "unfit", "relaxed", "unrelax", "cvrelaxed", "unrelaxcv"):
            _FN[k] = res.rx2(k)
    return _FN


def _call(name, *args):
    """Call one of the R closures through rinterface (robjects' argument conversion costs
    ~10 us per argument)."""
    return _ri.SexpClosure.__call__(_fns()[name], *args)


def last_timing() -> dict:
    """Seconds spent by the last fit_r / cv_fit_r call in the engine and in total."""
    return dict(_LAST)


# ----------------------------------------------------------------------------- Python -> R
def _dbl(a):
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float64).reshape(-1))
    return _ri.FloatSexpVector.from_memoryview(memoryview(a))


def _int(a):
    a = np.ascontiguousarray(np.asarray(a, dtype=np.int32).reshape(-1))
    return _ri.IntSexpVector.from_memoryview(memoryview(a))


def _str(v):
    return _ri.StrSexpVector([str(s) for s in v])


def _bool(b):
    return _ri.BoolSexpVector([bool(b)])


def _csc(beta):
    beta = np.asarray(beta, dtype=np.float64)
    mask = beta != 0
    colptr = np.zeros(beta.shape[1] + 1, dtype=np.int32)
    np.cumsum(mask.sum(axis=0), out=colptr[1:])
    mt = mask.T                                    # column-major order of the non-zeros
    rows = np.nonzero(mt)[1].astype(np.int32)
    return rows, colptr, beta.T[mt]


def _fit_sexp(fit, call, xnames=None):
    """xnames: the R character vector of column names when x came from R (passed back as is).
    A fit with a relaxed fit (relax=True) becomes glmnet's "relaxed" object."""
    if fit.relaxed is not None:
        import dataclasses
        return _call("relaxed", _fit_sexp(dataclasses.replace(fit, relaxed=None), call, xnames),
                     _fit_sexp(fit.relaxed, call, xnames))
    family = fit.family
    if family not in _CLASS:
        raise ValueError(f"fit: family {family!r} has no glmnet class")
    rows, colptr, vals = _csc(fit.beta)
    p = int(np.asarray(fit.beta).shape[0])
    classnames = _ri.NULL if (family != "binomial" or fit.classnames is None) \
        else _str(fit.classnames)
    if xnames is None:       # R makes glmnet's V1..Vp when there are no names
        xnames = _ri.NULL if fit.feature_names is None else _str(fit.feature_names)
    return _call("fit", _str([_CLASS[family]]), _dbl(fit.a0), _int(rows), _int(colptr), _dbl(vals),
                 _int([p]), xnames, _int(fit.df), _dbl(fit.lambda_), _dbl(fit.dev_ratio),
                 _dbl([fit.nulldev]), _int([fit.npasses]), _int([fit.jerr]), _bool(fit.offset),
                 classnames, _str([call]), _int([fit.nobs]))


def _py_call(fn, family):
    return f'mlxs_glmnet.{fn}(x = x, y = y, family = "{family}")'


def to_r(obj, call=None):
    """An R glmnet object (class c("elnet"|"lognet"|"fishnet", "glmnet")) from a GlmnetFit, or an
    R "cv.glmnet" object from a CvGlmnetFit. Returns an rpy2 ListVector that R's glmnet methods
    accept (``ro.r["predict"](to_r(fit), newx=..., s=...)``). ``call``: the text of the R call
    to record (default: the Python call, ``mlxs_glmnet.glmnet(x = x, y = y, family = ...)``)."""
    if call is not None and not isinstance(call, str):
        raise TypeError("call must be the text of an R call (a str)")
    if isinstance(obj, api.GlmnetFit):
        res = _fit_sexp(obj, _py_call("glmnet", obj.family) if call is None else call)
    elif isinstance(obj, _cv.CvGlmnetFit):
        res = _cv_sexp(obj, call)
    else:
        raise TypeError(f"obj must be a GlmnetFit or a CvGlmnetFit, got {type(obj).__name__}")
    return _ro.vectors.ListVector(res)


def _cv_sexp(cv, call=None, fit_call=None, xnames=None):
    fit = cv.glmnet_fit
    key, label = next(iter(cv.name.items())) if isinstance(cv.name, dict) else (cv.name, cv.name)
    name = _ri.StrSexpVector([str(label)])
    name.names = _ri.StrSexpVector([str(key)])
    fsx = _fit_sexp(fit, _py_call("glmnet", fit.family) if fit_call is None else fit_call, xnames)
    if cv.fit_preval is not None:
        pv = np.asarray(cv.fit_preval, dtype=np.float64)
        preval = _ri.FloatSexpVector.from_memoryview(memoryview(
            np.ascontiguousarray(pv.ravel(order="F"))))
        preval.do_slot_assign("dim", _int(pv.shape))
        foldid = _int(np.asarray(cv.foldid)) if cv.foldid is not None else _ri.NULL
    else:
        preval, foldid = _ri.NULL, _ri.NULL
    call = _py_call("cv_glmnet", fit.family) if call is None else call
    out = _call("cv", _dbl(cv.lambda_), _dbl(cv.cvm), _dbl(cv.cvsd), _dbl(cv.cvup),
                _dbl(cv.cvlo), _int(cv.nzero), _str([call]), name, fsx, preval, foldid,
                _dbl([cv.lambda_min]), _dbl([cv.lambda_1se]), _int(np.asarray(cv.index).reshape(-1)))
    r = getattr(cv, "relaxed", None)
    if r is None:
        return out
    st = r["statlist"]
    lst = lambda k, f: _ri.ListSexpVector([f(d[k]) for d in st])  # noqa: E731
    return _call("cvrelaxed", out, _dbl(r["gamma"]), lst("cvm", _dbl), lst("cvsd", _dbl),
                 lst("lambda_", _dbl), lst("nzero", _int), _dbl([r["lambda_min"]]),
                 _dbl([r["lambda_1se"]]), _dbl([r["gamma_min"]]), _dbl([r["gamma_1se"]]),
                 _int([r["nzero_min"]]), _int([r["nzero_1se"]]),
                 _int(np.asarray(r["index"]).reshape(-1, order="F")))


# ----------------------------------------------------------------------------- R -> Python
def _rclass(obj):
    try:
        return list(_ri.baseenv["class"](obj))
    except Exception:  # pragma: no cover
        return []


def from_r(obj):
    """A GlmnetFit from an R glmnet object of class elnet/lognet/fishnet (R glmnet's own or one
    made here), or a CvGlmnetFit from an R cv.glmnet object."""
    cls = _rclass(obj) if isinstance(obj, _ri.Sexp) else []
    if cls and isinstance(obj, _ri.ListSexpVector) and not hasattr(obj, "rx2"):
        obj = _ro.vectors.ListVector(obj)
    if "cv.glmnet" in cls:
        g = lambda k: obj.rx2(k)  # noqa: E731
        name = g("name")
        fit = from_r(g("glmnet.fit"))
        keep = "fit.preval" in list(obj.names)
        relaxed = None
        if "cv.relaxed" in cls:
            u = _ro.vectors.ListVector(_call("unrelaxcv", obj))
            gam = np.array(u.rx2("gamma"), dtype=np.float64)
            lams, cvms, sds, nzs = ([np.array(v, dtype=t) for v in u.rx2(k)] for k, t in (
                ("lambda", np.float64), ("cvm", np.float64), ("cvsd", np.float64), ("nzero", np.int64)))
            opt = np.array(u.rx2("opt"), dtype=np.float64)
            relaxed = dict(
                statlist=[dict(lambda_=a, cvm=m, cvsd=d, cvup=m + d, cvlo=m - d, nzero=z)
                          for a, m, d, z in zip(lams, cvms, sds, nzs)],
                gamma=gam, lambda_min=float(opt[0]), lambda_1se=float(opt[1]),
                gamma_min=float(opt[2]), gamma_1se=float(opt[3]), nzero_min=int(opt[4]),
                nzero_1se=int(opt[5]),
                index=np.array(u.rx2("index"), dtype=np.int64).reshape(2, 2, order="F"))
        return _cv.CvGlmnetFit(
            relaxed=relaxed,
            lambda_=np.array(g("lambda"), dtype=np.float64), cvm=np.array(g("cvm"), dtype=np.float64),
            cvsd=np.array(g("cvsd"), dtype=np.float64), cvup=np.array(g("cvup"), dtype=np.float64),
            cvlo=np.array(g("cvlo"), dtype=np.float64), nzero=np.array(g("nzero"), dtype=np.int64),
            name={str(name.names[0]): str(name[0])}, glmnet_fit=fit,
            lambda_min=float(g("lambda.min")[0]), lambda_1se=float(g("lambda.1se")[0]),
            index=np.array(g("index"), dtype=np.int64).reshape(2, 1),
            type_measure=str(name.names[0]),
            foldid=np.array(g("foldid"), dtype=np.int64) if keep else None,
            fit_preval=np.array(g("fit.preval"), dtype=np.float64) if keep else None)
    if cls[:1] == ["relaxed"] and "glmnet" in cls:
        parts = _ro.vectors.ListVector(_call("unrelax", obj))
        fit = from_r(parts.rx2("fit"))
        fit.relaxed = from_r(parts.rx2("relaxed"))
        return fit
    if "glmnet" not in cls or cls[0] not in _FAMILY:
        raise TypeError("obj must be an R glmnet object of class elnet, lognet or fishnet, or a "
                        f"cv.glmnet object; got class {cls or type(obj).__name__}")
    u = _ro.vectors.ListVector(_call("unfit", obj))
    g = lambda k: u.rx2(k)  # noqa: E731
    beta = np.array(g("beta"), dtype=np.float64)
    lam = np.array(g("lambda"), dtype=np.float64)
    beta = beta.reshape(-1, lam.shape[0]) if beta.size else np.zeros((0, lam.shape[0]))
    xn = g("xnames")
    cn = g("classnames")
    return api.GlmnetFit(
        a0=np.array(g("a0"), dtype=np.float64), beta=beta, lambda_=lam,
        df=np.array(g("df"), dtype=np.int64), dim=np.array(beta.shape, dtype=np.int64),
        dev_ratio=np.array(g("dev"), dtype=np.float64), nulldev=float(g("nulldev")[0]),
        npasses=int(g("npasses")[0]), jerr=int(g("jerr")[0]), nobs=int(g("nobs")[0]),
        offset=bool(g("offset")[0]), family=_FAMILY[str(g("cls")[0])],
        classnames=None if cn is _ri.NULL else [str(c) for c in cn],
        feature_names=None if xn is _ri.NULL else [str(c) for c in xn])


def _r_sparse(x, name):
    """A sparse Matrix-package matrix as a scipy.sparse CSC matrix over its dgCMatrix slots
    (read-only views of R's memory; another sparse class is converted to dgCMatrix in R once)."""
    import scipy.sparse as sps
    if "dgCMatrix" not in _rclass(x):
        x = _ro.r("function(m) methods::as(methods::as(methods::as(m, 'CsparseMatrix'), "
                  "'generalMatrix'), 'dMatrix')")(x)

    def view(slot):
        a = np.asarray(x.do_slot(slot).memoryview()).view()
        a.flags.writeable = False
        return a
    dim = [int(v) for v in x.do_slot("Dim")]
    return sps.csc_matrix((view("x"), view("i"), view("p")), shape=tuple(dim), copy=False)


def r_matrix(x, name: str = "x") -> np.ndarray:
    """A read-only, Fortran-ordered float64 numpy view over an R double matrix's memory (no
    copy); an integer or logical matrix is converted once (NA refused). A sparse Matrix-package
    matrix becomes a scipy.sparse CSC matrix over its slots (no copy of a dgCMatrix)."""
    if not isinstance(x, _ri.Sexp):
        raise TypeError(f"{name} must be an R matrix (an rpy2 object), got {type(x).__name__}; "
                        "for numpy arrays use mlxs_glmnet.glmnet()")
    cls = _rclass(x)
    if "data.frame" in cls:
        raise TypeError(f"{name} must be a numeric R matrix, got a data.frame; use as.matrix() "
                        "or, with factor columns, glmnet::makeX()")
    if any(c.endswith("Matrix") for c in cls):
        if _ro.r("function(m) methods::is(m, 'sparseMatrix')")(x)[0]:
            return _r_sparse(x, name)
        raise TypeError(f"{name}: a dense Matrix-package matrix ({cls[0]}) is not supported; "
                        "pass as.matrix(x), or a sparse Matrix")
    dim = x.do_slot("dim") if "dim" in list(x.list_attrs()) else None
    if dim is None or len(dim) != 2:
        raise ValueError(f"{name} must be an R matrix (a vector with 2 dimensions)")
    if x.typeof == _ri.RTYPES.REALSXP:
        a = np.asarray(x.memoryview())
    elif x.typeof in (_ri.RTYPES.INTSXP, _ri.RTYPES.LGLSXP):
        a = np.asarray(x.memoryview())
        if (a == _NA_INT).any():
            raise ValueError(f"{name} contains missing values (NA)")
        a = np.asfortranarray(a, dtype=np.float64)
    else:
        raise TypeError(f"{name} must be a numeric R matrix, got R type {x.typeof.name}")
    a = a.view()
    a.flags.writeable = False
    return a


def _colnames(x):
    """x's column names as the R character vector itself (or None): never converted, since
    they only go back to R."""
    if "dimnames" not in list(x.list_attrs()):
        return None
    dn = x.do_slot("dimnames")
    if len(dn) < 2 or dn[1] is _ri.NULL:
        return None
    return dn[1]


def _response(y, name="y"):
    """(numpy y, classnames or None) from an R vector; factors keep R's level order."""
    if not isinstance(y, _ri.Sexp):
        return y, None
    cls = _rclass(y)
    if y.typeof == _ri.RTYPES.INTSXP and "factor" in cls:
        codes = np.asarray(y.memoryview())
        if (codes == _NA_INT).any():
            raise ValueError(f"{name} contains missing values (NA)")
        levels = [str(v) for v in y.do_slot("levels")]
        if len(levels) != 2:
            raise ValueError(f"{name}: a factor with {len(levels)} levels; family='binomial' "
                             "needs exactly two (drop unused levels with droplevels())")
        return (codes == 2).astype(np.float64), levels
    if y.typeof == _ri.RTYPES.REALSXP:
        a = np.asarray(y.memoryview())
        if "dim" in list(y.list_attrs()) and a.ndim == 2 and 1 in a.shape:
            a = a.reshape(-1, order="F")
        if np.isnan(a).any():
            raise ValueError(f"{name} contains missing values (NA) or NaN")
        return a, None
    if y.typeof in (_ri.RTYPES.INTSXP, _ri.RTYPES.LGLSXP):
        a = np.asarray(y.memoryview()).reshape(-1, order="F")
        if (a == _NA_INT).any():
            raise ValueError(f"{name} contains missing values (NA)")
        return (a != 0) if y.typeof == _ri.RTYPES.LGLSXP else a.astype(np.float64), None
    if y.typeof == _ri.RTYPES.STRSXP:
        vals = list(y)
        if any(v is _ri.NA_Character for v in vals):
            raise ValueError(f"{name} contains missing values (NA)")
        return np.asarray([str(v) for v in vals], dtype=object), None
    raise TypeError(f"{name} must be a numeric, logical, character or factor R vector, got R "
                    f"type {y.typeof.name}")


def _arg(key, v):
    """One keyword argument: R vectors become numpy (views where possible), R's 1-based indices
    0-based for exclude."""
    if not isinstance(v, _ri.Sexp):
        return v
    if v is _ri.NULL:
        return None
    t = v.typeof
    if t == _ri.RTYPES.STRSXP:
        vals = [str(s) for s in v]
        return vals[0] if len(vals) == 1 else vals
    if t not in (_ri.RTYPES.REALSXP, _ri.RTYPES.INTSXP, _ri.RTYPES.LGLSXP):
        raise TypeError(f"{key} must be a numeric, logical or character R vector, got R type "
                        f"{t.name}")
    a = np.asarray(v.memoryview()).reshape(-1, order="F")
    if t != _ri.RTYPES.REALSXP:
        if (a == _NA_INT).any():
            raise ValueError(f"{key} contains missing values (NA)")
        a = (a != 0) if t == _ri.RTYPES.LGLSXP else a.astype(np.float64)
    if key == "exclude":
        if a.size and (np.any(a != np.round(a)) or a.min() < 1):
            raise ValueError("exclude must hold 1-based column indices (an R vector)")
        return a.astype(np.int64) - 1
    if key in _VECTOR_ARGS or a.size != 1:
        return a
    s = a[0]
    if a.dtype == bool:
        return bool(s)
    if key in _INT_ARGS and float(s).is_integer():
        return int(s)
    return float(s)


def _kwargs(kwargs):
    out = {}
    for k, v in kwargs.items():
        key = _R_NAMES.get(k, k.replace(".", "_"))
        if key in out:
            raise TypeError(f"argument {k!r} given twice (R and Python spelling)")
        out[key] = _arg(key, v)
    return out


def _family(family):
    if isinstance(family, _ri.Sexp):
        if "family" in _rclass(family):
            fam, link = str(family.rx2("family")[0]), str(family.rx2("link")[0])
            canon = {"gaussian": "identity", "binomial": "logit", "poisson": "log"}
            if canon.get(fam) != link:
                raise ValueError(f"family: {fam}(link = \"{link}\") is not supported; only the "
                                 "canonical links of gaussian, binomial and poisson")
            return fam
        if family.typeof == _ri.RTYPES.STRSXP and len(family) == 1:
            return str(family[0])
        raise TypeError("family must be a string or an R family object")
    return family


def _prepare(x, y, family, kwargs):
    X = r_matrix(x, "x")
    family = _family(family)
    Y, classnames = _response(y, "y")
    return X, Y, family, classnames, _colnames(x), _kwargs(kwargs)


def fit_r(x, y, family="gaussian", **kwargs):
    """Fit a path from R data and return R's glmnet object.

    x: an R double matrix (handed to the engine as a read-only numpy view of R's memory, no
    copy); y: an R vector (numeric, logical, character or a two-level factor) or numpy; further
    keyword arguments as :func:`mlxs_glmnet.glmnet`'s, in Python or R spelling, Python or R
    values. Returns an rpy2 ListVector of class c("elnet"|"lognet"|"fishnet", "glmnet")."""
    t0 = time.perf_counter()
    X, Y, family, classnames, names, kw = _prepare(x, y, family, kwargs)
    t1 = time.perf_counter()
    fit = api.glmnet(X, Y, family, **kw)
    t2 = time.perf_counter()
    if classnames is not None:
        fit.classnames = classnames
    out = _ro.vectors.ListVector(_fit_sexp(fit, _py_call("glmnet", family), names))
    _LAST.update(engine_s=t2 - t1, total_s=time.perf_counter() - t0)
    return out


def cv_fit_r(x, y, family="gaussian", *, nfolds=10, foldid=None, type_measure="default",
             keep=False, **kwargs):
    """Cross-validate from R data and return R's cv.glmnet object (see :func:`fit_r`).

    Without ``foldid`` the folds are drawn with R's RNG as cv.glmnet draws them
    (``sample(rep(seq(nfolds), length = N))``), so an R ``set.seed()`` reproduces glmnet's folds;
    an R ``foldid`` vector holds 1-based fold numbers, as in R."""
    t0 = time.perf_counter()
    X, Y, family, classnames, names, kw = _prepare(x, y, family, kwargs)
    type_measure = kw.pop("type_measure", type_measure)
    nfolds = _arg("nfolds", nfolds)
    keep = _arg("keep", keep)
    if foldid is None:
        if isinstance(nfolds, bool) or not isinstance(nfolds, (int, np.integer)) or nfolds < 3:
            raise ValueError(f"nfolds must be an integer >= 3, got {nfolds!r}")
        if nfolds > X.shape[0]:
            raise ValueError(f"nfolds must be at most the number of observations ({X.shape[0]})")
        foldid = np.array(_call("folds", _int([nfolds]), _int([X.shape[0]])).memoryview())
    else:
        foldid = _arg("foldid", foldid)
    t1 = time.perf_counter()
    cvf = _cv.cv_glmnet(X, Y, family, foldid=foldid, type_measure=type_measure, keep=keep, **kw)
    t2 = time.perf_counter()
    if classnames is not None:
        cvf.glmnet_fit.classnames = classnames
    out = _ro.vectors.ListVector(_cv_sexp(cvf, xnames=names))
    _LAST.update(engine_s=t2 - t1, total_s=time.perf_counter() - t0)
    return out
