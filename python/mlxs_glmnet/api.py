"""Python API: glmnet(), glmnet_batch() and the GlmnetFit they return (glmnet 4.1 semantics)."""
from __future__ import annotations

import math
import os
import sys
import threading
import warnings
import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import engine, frames
from . import memory

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))

__all__ = ["GlmnetFit", "glmnet", "glmnet_batch", "lambda_interp"]

_INF = math.inf


# ----------------------------------------------------------------------------- fit object
@dataclass
class GlmnetFit:
    a0: np.ndarray
    beta: np.ndarray
    lambda_: np.ndarray
    df: np.ndarray
    dim: np.ndarray
    dev_ratio: np.ndarray
    nulldev: float
    npasses: int
    jerr: int
    nobs: int
    offset: bool
    family: str
    classnames: Optional[list] = None
    feature_names: Optional[list] = None
    info: dict = field(default_factory=dict)
    obs_index: Optional[object] = None       # pandas index of the training rows (frames.py)
    relaxed: Optional["GlmnetFit"] = None    # relax=True: the relaxed fit (glmnet's $relaxed)

    # -- relax = True: glmnet's blend of the path and its relaxed fit ------------------------
    def blend(self, gamma: float) -> "GlmnetFit":
        """glmnet's blend.relaxed: the fit gamma * (this path) + (1 - gamma) * (its relaxed
        fit) at every lambda of the path (lambdas whose active set was too large to refit
        (maxp) take the last relaxed fit). gamma = 1 is the path itself."""
        gamma = _check_gamma(gamma)
        if self.relaxed is None:
            raise ValueError("gamma: this fit has no relaxed fit (fit it with relax=True)")
        plain = dataclasses.replace(self, relaxed=None)
        if gamma == 1.0:
            return plain
        gamma = max(gamma, 1e-5)                 # (glmnet's epsilon)
        r = self.relaxed
        pos = {float(v): i for i, v in enumerate(r.lambda_)}
        at = np.array([pos.get(float(v), -1) for v in self.lambda_])
        at[at < 0] = at.max()                    # (glmnet: a lambda without a refit takes the last)
        return dataclasses.replace(
            plain, a0=gamma * self.a0 + (1 - gamma) * r.a0[at],
            beta=gamma * self.beta + (1 - gamma) * r.beta[:, at],
            dev_ratio=gamma * self.dev_ratio + (1 - gamma) * r.dev_ratio[at])

    # -- glmnet's coef / predict ------------------------------------------------------------
    def _coefs_at(self, s):
        """(p+1, k) coefficients (intercept first) at lambda values s, glmnet's interpolation."""
        full = np.vstack([self.a0[None, :], self.beta])
        if s is None:
            return full, np.asarray(self.lambda_)
        s = np.atleast_1d(np.asarray(s, dtype=np.float64))
        if s.ndim != 1 or not np.all(np.isfinite(s)) or np.any(s < 0):
            raise ValueError("s must be a vector of non-negative finite lambda values")
        left, right, frac = lambda_interp(self.lambda_, s)
        return full[:, left] * frac + full[:, right] * (1 - frac), s

    def coef(self, s=None, gamma: float = 1.0) -> np.ndarray:
        """(p+1, k) coefficients at lambdas s (the path's when None); gamma < 1 blends in the
        relaxed fit (relax=True), as glmnet's coef(fit, s, gamma)."""
        if _check_gamma(gamma) != 1.0:
            return self.blend(gamma).coef(s)
        return self._coefs_at(s)[0]

    def coef_frame(self, s=None):
        """coef() as a pandas DataFrame: rows "(Intercept)" and the features, columns lambdas."""
        return frames.coef_frame(self, s)

    def plot(self, xvar: str = "norm", label: bool = False, ax=None, gamma: float = 1.0, **kwargs):
        """Coefficient paths against the L1 norm, log(lambda) or the deviance explained, as
        glmnet's plot.glmnet (matplotlib; returns the Axes); gamma < 1: of the blend with the
        relaxed fit, as glmnet's plot.relaxed."""
        from .plot import plot_fit
        if _check_gamma(gamma) != 1.0:
            return self.blend(gamma).plot(xvar=xvar, label=label, ax=ax, **kwargs)
        return plot_fit(self, xvar=xvar, label=label, ax=ax, **kwargs)

    def predict(self, newx=None, s=None, type: str = "link", newoffset=None, gamma: float = 1.0):
        """glmnet's predict(). On a pandas DataFrame newx (columns matched to the features by
        name) link/response/class predictions come back indexed like newx: a Series for a
        scalar s, else a DataFrame with one column per lambda. gamma < 1 predicts from the
        blend with the relaxed fit (relax=True), as glmnet's predict(fit, gamma = )."""
        if _check_gamma(gamma) != 1.0:
            return self.blend(gamma).predict(newx, s=s, type=type, newoffset=newoffset)
        if frames.is_frame(newx) and type in ("link", "response", "class"):
            newx = frames.align_newx(self, newx)
            out = self._predict(newx, s, type, newoffset)
            lam = self._coefs_at(s)[1]
            return frames.wrap_predictions(out, newx, s, lam)
        return self._predict(newx, s, type, newoffset)

    def _predict(self, newx, s, type, newoffset):
        types = ("link", "response", "class", "coefficients", "nonzero")
        if type not in types:
            raise ValueError(f"type must be one of {types}, got {type!r}")
        if type == "class" and self.family != "binomial":
            raise ValueError("type='class' is only available for the binomial family")
        cf, _ = self._coefs_at(s)
        if type == "coefficients":
            return cf
        if type == "nonzero":
            return [np.flatnonzero(cf[1:, k]) for k in range(cf.shape[1])]
        if newx is None:
            raise ValueError("newx is required for type='link', 'response' or 'class'")
        X = _as_matrix(newx, "newx")
        if X.shape[1] != self.beta.shape[0]:
            raise ValueError(f"newx must have {self.beta.shape[0]} columns, got {X.shape[1]}")
        eta = X @ cf[1:] + cf[0]
        if self.offset:
            if newoffset is None:
                raise ValueError("newoffset is required: the fit used an offset")
            off = np.asarray(newoffset, dtype=np.float64).reshape(-1)
            if off.shape[0] != X.shape[0]:
                raise ValueError("newoffset must have one value per row of newx")
            eta = eta + off[:, None]
        if type == "link":
            return eta
        if self.family == "binomial":
            prob = 1.0 / (1.0 + np.exp(-eta))
            if type == "response":
                return prob
            names = np.asarray(self.classnames, dtype=object)
            return names[(eta > 0).astype(int)]
        if self.family == "poisson":
            return np.exp(eta)
        return eta

    def __repr__(self) -> str:
        return (f"GlmnetFit(family={self.family!r}, nobs={self.nobs}, nvars={self.beta.shape[0]}, "
                f"nlambda={len(self.lambda_)}, dev_ratio_max={self.dev_ratio.max(initial=0):.4f})")

    def summary(self) -> str:
        """glmnet's print(): Df, %Dev, Lambda per step (relax=True: also the relaxed fit's %Dev,
        "%Dev R", blank where its active set was not refitted)."""
        if self.relaxed is None:
            lines = ["    Df  %Dev   Lambda"]
            for k in range(len(self.lambda_)):
                lines.append(f"{k + 1:3d} {int(self.df[k]):3d} {100 * self.dev_ratio[k]:5.2f} {self.lambda_[k]:.6g}")
            return "\n".join(lines)
        rdev = dict(zip(self.relaxed.lambda_.tolist(), self.relaxed.dev_ratio.tolist()))
        lines = ["Relaxed", "    Df  %Dev %Dev R   Lambda"]
        for k in range(len(self.lambda_)):
            r = rdev.get(float(self.lambda_[k]))
            rd = "      " if r is None else f"{100 * r:6.2f}"
            lines.append(f"{k + 1:3d} {int(self.df[k]):3d} {100 * self.dev_ratio[k]:5.2f} {rd} {self.lambda_[k]:.6g}")
        return "\n".join(lines)


def glmnet_control(fdev=None, devmax=None, eps=None, mnlam=None, pmin=None, *,
                   factory: bool = False) -> dict:
    """glmnet's glmnet.control for this engine: set the parameters that shape every later path
    (fdev: the deviance-change stop, 0 turns it off; devmax: the deviance-ratio stop; eps: the
    smallest lambda.min.ratio used; mnlam: solutions before any early stop; pmin: the binomial
    probability clamp and IRLS weight floor), or with factory=True restore glmnet's factory
    values (1e-5, 0.999, 1e-6, 5, 1e-9). Returns the values now in force."""
    if factory:
        engine.CONTROL.update(engine.CONTROL_DEFAULTS)
    new = {k: v for k, v in dict(fdev=fdev, devmax=devmax, eps=eps, mnlam=mnlam, pmin=pmin).items()
           if v is not None}
    for k, v in new.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(v):
            raise ValueError(f"{k} must be a finite number, got {v!r}")
    if "mnlam" in new and (new["mnlam"] < 1 or new["mnlam"] != int(new["mnlam"])):
        raise ValueError(f"mnlam must be a positive whole number, got {new['mnlam']!r}")
    for k in ("fdev", "eps"):
        if k in new and not 0 <= new[k] < 1:
            raise ValueError(f"{k} must be in [0, 1), got {new[k]!r}")
    if "devmax" in new and not 0 < new["devmax"] <= 1:
        raise ValueError(f"devmax must be in (0, 1], got {new['devmax']!r}")
    if "pmin" in new and not 0 < new["pmin"] < 0.5:
        raise ValueError(f"pmin must be in (0, 0.5), got {new['pmin']!r}")
    engine.CONTROL.update({k: (int(v) if k == "mnlam" else float(v)) for k, v in new.items()})
    return dict(engine.CONTROL)


def _check_gamma(gamma) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(gamma) <= 1.0:
        raise ValueError(f"gamma must be a single number in [0, 1], got {gamma!r}")
    return float(gamma)


def lambda_interp(lam: np.ndarray, s: np.ndarray):
    """glmnet's lambda.interp: left/right indices and weights for s on the path lam."""
    lam = np.asarray(lam, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    k = lam.shape[0]
    if k == 1:
        z = np.zeros(s.shape[0], dtype=int)
        return z, z, np.ones(s.shape[0])
    s = np.clip(s, lam.min(), lam.max())
    span = lam[0] - lam[-1]
    sfrac = (lam[0] - s) / span
    lfrac = (lam[0] - lam) / span
    coord = np.interp(sfrac, lfrac, np.arange(k, dtype=np.float64))
    left = np.floor(coord).astype(int)
    right = np.ceil(coord).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = (sfrac - lfrac[right]) / (lfrac[left] - lfrac[right])
    w[left == right] = 1.0
    return left, right, w


# ----------------------------------------------------------------------------- validation
def _warn(msg, category=UserWarning):
    """A warning attributed to the user's line: the first caller outside this package (the
    API's entry points reach their checks through a varying number of internal calls)."""
    f, level = sys._getframe(0), 1
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f, level = f.f_back, level + 1
    warnings.warn(msg, category, stacklevel=level)


def _sparse_matrix(x, name: str):
    """A scipy.sparse x as the engine takes it: compressed columns (CSC), float64 values, int32
    row indices ascending within each column and no duplicates. The caller's matrix is used as it
    is when it is that already (nothing is written into it), else converted into a new one."""
    import scipy.sparse as sps
    if len(x.shape) != 2:
        raise ValueError(f"{name} must be a 2-d matrix, got {len(x.shape)} dimension(s)")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric matrix, got dtype {x.dtype}")
    if x.nnz >= 2 ** 31 - 1:
        raise ValueError(f"{name} has {x.nnz} non-zeros; at most 2**31 - 2 are supported")
    c = x
    ok = getattr(c, "format", None) == "csc" and c.dtype == np.float64 \
        and c.indices.dtype == np.int32 and c.indptr.dtype == np.int32
    if not ok or not c.has_canonical_format:
        c = sps.csc_matrix(x, dtype=np.float64, copy=True)
        c.sum_duplicates()                   # (sorted rows, no duplicates: on our copy)
        c.indices = c.indices.astype(np.int32, copy=False)
        c.indptr = c.indptr.astype(np.int32, copy=False)
    if not np.isfinite(c.data).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return c


def _as_matrix(x, name: str) -> np.ndarray:
    if engine.is_sparse(x):
        return _sparse_matrix(x, name)
    if isinstance(x, engine.mx.array):
        # an MLX array stays where it is (on a GPU: no host copy); checked on its device
        if x.ndim != 2:
            raise ValueError(f"{name} must be a 2-d matrix, got {x.ndim} dimension(s)")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
        if not engine.mx.issubdtype(x.dtype, engine.mx.floating):
            x = x.astype(engine.mx.float32)
        # NaN/Inf are caught where the engine first reads x (the GPU statistics pass, or the
        # host copy for the CPU), before any path is solved: a separate pass costs ~7 ms at 4 GB
        return x
    if frames.is_frame(x):
        x = frames.frame_to_matrix(x, name)   # non-numeric columns: an error pointing to make_x
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        a = x
    else:
        try:
            a = np.asarray(x)
        except Exception as e:  # pragma: no cover
            raise TypeError(f"{name} must be a numeric matrix ({e})") from None
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a numeric matrix, got dtype {a.dtype}")
        a = a.astype(np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-d matrix, got {a.ndim} dimension(s)")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not _all_finite(a):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


_FINITE_BLOCK = 1 << 20


def _all_finite(a):
    """np.isfinite(a).all() (x, y, several responses) without an a-sized temporary (whose fresh pages made that test of a
    2e5 x 1e3 matrix cost 224-273 ms on the device machines' hosts, 71 ms on a 2-core VM): the sums of
    blocks of 1M elements, on several threads (a NaN or an infinity makes a sum non-finite; a
    block whose sum overflowed gets the elementwise test)."""
    if a.size <= _FINITE_BLOCK // 16 or not (a.flags.c_contiguous or a.flags.f_contiguous):
        return bool(np.isfinite(a).all())      # (small, or a strided view: the plain test)
    v = a.ravel(order="C" if a.flags.c_contiguous else "F")   # (a view, in memory order)
    n = v.size

    def part(lo, hi):
        with np.errstate(over="ignore", invalid="ignore"):     # (per thread)
            for i in range(lo, hi, _FINITE_BLOCK):
                blk = v[i:min(i + _FINITE_BLOCK, hi)]
                if not np.isfinite(np.add.reduce(blk)) and not np.isfinite(blk).all():
                    return False
        return True
    nt = min(engine._cpu_threads(), n // (4 * _FINITE_BLOCK))
    if nt < 2:
        return part(0, n)
    from concurrent.futures import ThreadPoolExecutor
    cuts = np.linspace(0, n, nt + 1).astype(np.int64)
    with ThreadPoolExecutor(nt) as pool:
        return all(pool.map(lambda k: part(int(cuts[k]), int(cuts[k + 1])), range(nt)))


def _feature_names(x):
    if hasattr(x, "columns"):
        return [str(c) for c in x.columns]
    return None


def _vector(v, name, n, *, allow_none=False):
    if v is None:
        return None
    if hasattr(v, "to_numpy"):
        v = v.to_numpy()
    a = np.asarray(v)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64).reshape(-1) if a.ndim <= 1 or (a.ndim == 2 and 1 in a.shape) else None
    if a is None:
        raise ValueError(f"{name} must be a vector")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {a.shape[0]}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _ones(*shape):
    """Unit weights as a read-only view of one value: no fresh pages to fill (an n = 1e6 vector
    of ones cost ~1 ms of page faults on the host, a (100, 2e4) batch ~2 ms); whatever needs
    them dense (the CPU engine's upload) makes its own copy."""
    return np.broadcast_to(np.float64(1.0), shape)


_CHUNK = 1 << 16
_BUF = threading.local()


def _buffer():
    """A 512 KB float64 scratch vector kept by the thread: a fresh one is fresh pages on every
    call (2 MB of them cost ~0.5 ms at n = 1e6, half of the pass it served)."""
    b = getattr(_BUF, "v", None)
    if b is None:
        b = _BUF.v = np.empty(_CHUNK)
    return b


def _centred_ss(v, m):
    """sum (v - m)^2 for a vector v, in 512 KB chunks through one buffer: no temporary the size
    of v."""
    buf = _buffer()
    ss = 0.0
    with np.errstate(over="ignore", invalid="ignore"):      # (huge y: inf, as BLAS gave)
        for i in range(0, v.shape[0], _CHUNK):
            d = np.subtract(v[i:i + _CHUNK], m, out=buf[:min(_CHUNK, v.shape[0] - i)])
            ss += float(np.add.reduce(np.square(d, out=d)))
    return ss


def _moments(v):
    """(mean, sum (v - mean)^2) of a vector in one pass: the sums of d = v - s and d^2 around a
    centre s, the median of ~1024 sampled values (engine.sample_rows; within a standard deviation
    of the mean, so that sum d^2 - (sum d)^2 / n loses nothing to cancellation), in chunks
    through one buffer (_buffer; a 2-core VM at n = 1e6: 0.47 ms, the mean and the centred sum
    1.1 ms). No BLAS: a threaded dot product a chunk cost ~1.5 ms on a 16-core device host.
    Up to 4 chunks, the mean and then the centred sum (a median of 1024 costs ~25 us). A centre
    far from the mean after all (sum d^2 less than twice the centred sum) takes a second pass
    around the mean."""
    n = v.shape[0]
    if n <= 4 * _CHUNK:              # (small: two quick passes cost less than a median)
        m = float(v.mean())
        return m, _centred_ss(v, m)
    s = float(np.median(v[engine.sample_rows(n)]))
    buf = _buffer()
    s1 = s2 = 0.0
    with np.errstate(over="ignore", invalid="ignore"):      # (huge y: inf, as BLAS gave)
        for i in range(0, n, _CHUNK):
            d = np.subtract(v[i:i + _CHUNK], s, out=buf[:min(_CHUNK, n - i)])
            s1 += float(np.add.reduce(d))
            s2 += float(np.add.reduce(np.square(d, out=d)))
    m = s1 / n
    ss = s2 - s1 * m
    if not ss * 2.0 >= s2:               # (NaN included: the caller decides what it means)
        ss = _centred_ss(v, s + m)
    return s + m, max(ss, 0.0)


def _response(y, family, n, finite_known=False):
    """y as a float64 vector (binomial: 0/1) and its class names. finite_known: the caller tests
    a numeric y's finiteness itself (from its moments: _prepare)."""
    classnames = cats = None
    if hasattr(y, "to_numpy"):
        if hasattr(y, "cat"):
            cats = list(y.cat.categories)
            codes = y.cat.codes.to_numpy()
            if (codes < 0).any():
                raise ValueError("y contains missing values")
            y = np.asarray(cats, dtype=object)[codes]
        else:
            y = y.to_numpy()
    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"y must be a vector (got shape {a.shape})")
    if a.shape[0] != n:
        raise ValueError(f"y must have length {n} (the number of rows of x), got {a.shape[0]}")
    if family == "binomial":
        if a.dtype.kind in "biuf":
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise ValueError("y contains NaN or infinite values")
        elif a.dtype == object:
            if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in a):
                raise ValueError("y contains missing values")
        # a categorical's two categories keep their order (R: the factor's levels)
        levels = np.asarray(cats, dtype=object) if cats is not None and len(cats) == 2 \
            else np.unique(a)
        if len(levels) != 2:
            raise ValueError(f"y for family='binomial' must have exactly two classes, got {len(levels)}")
        if a.dtype.kind == "b":
            classnames = ["FALSE", "TRUE"]
        else:
            classnames = [str(v) if not isinstance(v, (float, np.floating)) or not float(v).is_integer()
                          else str(int(v)) for v in levels]
        yy = (a == levels[1]).astype(np.float64)
        counts = np.array([(yy == 0).sum(), (yy == 1).sum()])
        if counts.min() <= 1:
            raise ValueError("y: one binomial class has 1 or 0 observations; not allowed")
        if counts.min() < 8:
            _warn("y: one binomial class has fewer than 8 observations; dangerous ground")
        return yy, classnames
    if a.dtype.kind not in "biuf":
        raise TypeError(f"y must be numeric for family={family!r}, got dtype {a.dtype}")
    a = np.asarray(a, dtype=np.float64)          # (no copy of a float64 y: it is only read)
    if not finite_known and not _all_finite(a):
        raise ValueError("y contains NaN or infinite values")
    if family == "poisson" and (a < 0).any():
        raise ValueError("y must be non-negative for family='poisson'")
    return a, classnames


def _limits(v, name, p, sign):
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    if a.shape[0] == 1:
        a = np.full(p, a[0])
    if a.shape[0] != p:
        raise ValueError(f"{name} must be a scalar or have length {p}")
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN")
    if sign < 0 and (a > 0).any():
        raise ValueError(f"{name} must be non-positive")
    if sign > 0 and (a < 0).any():
        raise ValueError(f"{name} must be non-negative")
    return a


def _scaled_penalty(pf, excluded):
    """glmnet's penalty factors as the kernel takes them: an excluded variable's set to 1, then
    all rescaled to sum to the number of variables."""
    pf = np.array(pf, dtype=np.float64)
    pf[excluded] = 1.0
    if pf.sum() <= 0:
        raise ValueError("penalty_factor must not all be zero")
    return pf * pf.shape[0] / pf.sum()


def _prepare(x, y, family, weights, offset, alpha, nlambda, lambda_min_ratio, lambda_, standardize,
             intercept, thresh, dfmax, pmax, exclude, penalty_factor, lower_limits, upper_limits,
             maxit, type_gaussian):
    if not isinstance(family, str) or family not in engine.FAMILIES:
        raise ValueError(f"family must be one of {sorted(engine.FAMILIES)}, got {family!r}")
    names = _feature_names(x)
    index = frames.obs_index(x, y)
    X = _as_matrix(x, "x")
    n, p = X.shape
    if n < 2:
        raise ValueError("x must have at least 2 rows")
    # gaussian y without weights or offset, large: its moments' pass is also its finiteness test
    # (a NaN or an infinity makes the sums non-finite), in the test's place among the checks
    one_pass = family == "gaussian" and weights is None and offset is None and n > 4 * _CHUNK
    Y, classnames = _response(y, family, n, finite_known=one_pass)
    moments = None
    if one_pass:
        moments = _moments(Y)
        if not (math.isfinite(moments[0]) and math.isfinite(moments[1])) \
                and not np.isfinite(Y).all():
            raise ValueError("y contains NaN or infinite values")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)) \
            or math.isnan(alpha):
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    if alpha > 1:                            # glmnet warns and clamps (its own wording)
        _warn("alpha >1; set to 1")
        alpha = 1.0
    elif alpha < 0:
        _warn("alpha<0; set to 0")
        alpha = 0.0
    w = _vector(weights, "weights", n)
    if w is None:
        w = _ones(n)
    elif (w < 0).any():
        raise ValueError("weights must be non-negative")
    elif w.sum() <= 0:
        raise ValueError("weights must not all be zero")
    off = _vector(offset, "offset", n)
    for nm, v in (("standardize", standardize), ("intercept", intercept)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{nm} must be True or False")
    if not (isinstance(thresh, (int, float)) and thresh > 0 and math.isfinite(thresh)):
        raise ValueError(f"thresh must be a positive number, got {thresh!r}")
    if not (isinstance(maxit, (int, np.integer, float)) and maxit >= 1):
        raise ValueError(f"maxit must be a positive integer, got {maxit!r}")
    if lambda_ is not None:
        lam = _vector(lambda_, "lambda_", None)
        if lam.shape[0] == 0:
            raise ValueError("lambda_ must not be empty")
        if (lam < 0).any():
            raise ValueError("lambda_ must be non-negative")
        if lam.shape[0] > 1 and np.any(np.diff(lam) > 0):
            raise ValueError("lambda_ must be in decreasing order")
        nlam = lam.shape[0]
    else:
        lam = None
        if isinstance(nlambda, bool) or not isinstance(nlambda, (int, np.integer)) or nlambda < 1:
            raise ValueError(f"nlambda must be a positive integer, got {nlambda!r}")
        nlam = int(nlambda)
    if lambda_min_ratio is not None:
        # glmnet accepts 0 (its smallest ratio is glmnet.control()$eps, applied in _run)
        if not isinstance(lambda_min_ratio, (int, float)) or not (0 <= lambda_min_ratio < 1):
            raise ValueError("lambda_min_ratio must be in [0, 1)")
    if penalty_factor is None:
        pf = np.ones(p)
    else:
        pf = np.asarray(penalty_factor.to_numpy() if hasattr(penalty_factor, "to_numpy")
                        else penalty_factor)
        if pf.dtype.kind not in "biuf":
            raise TypeError(f"penalty_factor must be numeric, got dtype {pf.dtype}")
        pf = pf.astype(np.float64).reshape(-1)
        if pf.shape[0] != p:
            raise ValueError(f"penalty_factor must have length {p}, got {pf.shape[0]}")
        if np.isnan(pf).any() or (pf < 0).any():
            raise ValueError("penalty_factor must be non-negative (Inf excludes a variable)")
    excluded = np.zeros(p, dtype=bool)
    excluded[np.isinf(pf)] = True            # glmnet: an infinite penalty factor excludes
    if exclude is not None:
        ex = np.atleast_1d(np.asarray(exclude))
        if ex.size:
            if ex.dtype.kind not in "iu" or ex.min() < 0 or ex.max() >= p:
                raise ValueError(f"exclude must hold column indices in [0, {p - 1}]")
            excluded[ex] = True
    if excluded.all():
        raise ValueError("exclude: cannot exclude all variables")
    pf_given = pf
    pf = _scaled_penalty(pf, excluded)
    lo = _limits(lower_limits, "lower_limits", p, -1)
    hi = _limits(upper_limits, "upper_limits", p, +1)
    if dfmax is None:
        dfmax = p + 1
    if pmax is None:
        pmax = min(int(dfmax) * 2 + 20, p)
    for nm, v in (("dfmax", dfmax), ("pmax", pmax)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer, float)) or v < 0:
            raise ValueError(f"{nm} must be a non-negative integer, got {v!r}")
    if type_gaussian not in (None, "covariance", "naive"):
        raise ValueError("type_gaussian must be 'covariance', 'naive' or None")
    if family == "gaussian":
        yy = Y if off is None else Y - off
        if weights is None:
            # unit weights (the common case): one pass over y, whose sums also give the null
            # deviance (_run); a constant y has a variance at rounding level
            ym, ss = _moments(yy) if moments is None else moments
            moments = (ym, ss)
            yk = yy
            const = ss <= 1e-24 * max(ss + n * ym * ym, 1e-300)
        else:
            ww = w / w.sum()
            ym = ww @ yy
            yk = yy[w > 0]
            with np.errstate(over="ignore", invalid="ignore"):
                ss = ww @ (yy - ym) ** 2
                const = bool(yk.max() == yk.min()) or ss <= 1e-24 * max(ww @ (yy * yy), 1e-300)
        if not math.isfinite(ss) and yk.max() != yk.min():       # (finite y: 1e300, say)
            raise ValueError("y is too large: its variance overflows double precision")
        if const:
            raise ValueError("y is constant; gaussian glmnet fails at standardization step")
    return dict(X=X, Y=Y, w=w, off=off, classnames=classnames, names=names, index=index, n=n, p=p, lam=lam,
                nlam=nlam, pf=pf, excluded=excluded, lo=lo, hi=hi, dfmax=int(dfmax),
                pmax=int(pmax), alpha=float(alpha), lmr=lambda_min_ratio, unit_w=weights is None,
                moments=moments, pf_given=pf_given)


# glmnet's own texts after the prefix (its prefix is "from glmnet C++ code (error code ...)")
_JERR_MAXIT = ("from mlxs_glmnet engine (error code {jerr}); Convergence for {k}th lambda value not "
               "reached after maxit={maxit} iterations; solutions for larger lambdas returned")
_JERR_PMAX = ("from mlxs_glmnet engine (error code {jerr}); Number of nonzero coefficients along the "
              "path exceeds pmax={pmax} at {k}th lambda value; solutions for larger lambdas returned")


def _kept_columns(excluded, dev, X):
    """The columns the CPU engine solves over when at least half of them are excluded (None:
    all of them, excluded ones skipped inside the kernel)."""
    if dev != "cpu" or isinstance(X, engine.mx.array) or 2 * int(excluded.sum()) < excluded.shape[0]:
        return None
    return np.flatnonzero(~excluded)


def _device_and_mode(prep, family, device, dtype, type_gaussian, B, folds):
    """(device, mode) of a fit of B problems over prep's x: the device asked for or chosen
    (engine.resolve_device; a sparse x: the CPU), then, on a GPU, whether its memory holds the
    fit (memory.plan_gpu: "auto" takes the CPU where it would not, "gpu" raises MemoryError)."""
    X, n, p = prep["X"], prep["n"], prep["p"]
    sparse = engine.is_sparse(X)
    if sparse:            # compressed columns: the CPU engine (its kernel reads them as they are)
        if isinstance(device, str) and device.lower() == "gpu":
            raise ValueError("device: a sparse x is fitted by the CPU engine; use device='cpu' "
                             "(or 'auto'), or pass a dense x to fit it on a GPU")
        dev = engine.resolve_device("cpu")
    else:
        dev = engine.resolve_device(device, x=X, family=family, shape=(n, p), dtype=dtype)
    mode = engine.choose_mode(family, n, p, type_gaussian, sparse)
    if dev == "gpu":                # the GPU's own memory: auto takes the CPU where it would not fit
        from .gpu import _glm_driver
        auto = device is None or (isinstance(device, str) and device == "auto")
        resident = isinstance(X, engine.mx.array) and X.dtype == engine.mx.float32
        dev = memory.plan_gpu(mode, n, p, B, prep["nlam"], asked=not auto, x_resident=resident,
                              irls=family != "gaussian" and _glm_driver(n) == "irls",
                              folds=folds)
    return dev, mode


def _x_on_device(prep, family, device, dtype, type_gaussian, B, folds=False):
    """A host x whose fit goes to a GPU, uploaded once here (the engine's own copy,
    gpu._device_x) where several fits or passes will read it: cv_glmnet (the batch, then the
    held-out predictions and measures on the device instead of from the host's x) and relax=True
    (every active set's refit is a fit of its own: each uploaded x again). prep["X"] becomes the
    device array; nothing changes where the fit stays on the CPU or the choice raises (the fit
    then names the argument)."""
    from . import gpu
    if isinstance(prep["X"], engine.mx.array) or engine.is_sparse(prep["X"]):
        return
    try:
        if _device_and_mode(prep, family, device, dtype, type_gaussian, B, folds)[0] != "gpu":
            return
    except (ValueError, MemoryError):
        return
    if gpu._ACTIVE.get("force") or gpu.gpu_available():  # (device="gpu" without one: the fit says so)
        prep["X"] = gpu._device_x(prep["X"], 1)


def _run(prep, family, Wb, nobs_b, offset_given, *, standardize, intercept, thresh, maxit, device, dtype,
         trace_it, type_gaussian, unit=False):
    """unit: every row of Wb is all ones (glmnet() without weights, or several responses)."""
    X, Y, n, p = prep["X"], prep["Y"], prep["n"], prep["p"]
    B = Wb.shape[0]
    off = prep["off"]
    O = None if off is None else np.broadcast_to(off, (B, n))      # (None: zeros, see run_paths)
    y_in = Y
    if family == "gaussian" and off is not None:
        y_in = Y - off
        O = None
    if prep["lmr"] is None:
        flmin = np.where(nobs_b < p, 0.01, 1e-4)
    else:
        flmin = np.full(B, float(prep["lmr"]))
    flmin = np.maximum(flmin, engine.CONTROL["eps"])   # glmnet.control()$eps: the smallest ratio
    sparse = engine.is_sparse(X)
    dev, mode = _device_and_mode(prep, family, device, dtype, type_gaussian, B, B > 1 and not unit)
    pf, lo, hi, excluded = prep["pf"], prep["lo"], prep["hi"], prep["excluded"]
    keep = _kept_columns(excluded, dev, X)
    Xr = X
    if keep is not None:
        # most variables excluded (relax = TRUE refits each active set with the rest excluded):
        # the CPU engine solves over the kept columns only (a covariance-mode Gram over all of
        # x cost more than the whole refit); excluded variables stay 0 as they would anyway
        Xr = X[:, keep]
        if sparse:
            Xr.sort_indices()             # (our slice: ascending rows within columns)
        pf, lo, hi, excluded = pf[keep], lo[keep], hi[keep], excluded[keep]
        mode = engine.choose_mode(family, n, len(keep), type_gaussian, sparse)
    # covariance mode falls back to naive when its Grams would not fit; MemoryError when nothing fits
    mode = memory.plan(mode, n, Xr.shape[1], B, prep["nlam"], forced=type_gaussian == "covariance",
                       real_bytes=8 if dev == "cpu" and not engine._is_float32(dtype) else 4,
                       x_copy=not sparse)
    res = engine.run_paths(Xr, y_in, Wb, None if O is None else np.ascontiguousarray(O),
                           family=family, alpha=prep["alpha"],
                           nlam=prep["nlam"], flmin=flmin, ulam=prep["lam"],
                           standardize=bool(standardize), intercept=bool(intercept),
                           thresh=float(thresh), maxit=int(maxit), dfmax=prep["dfmax"],
                           pmax=prep["pmax"], pf=pf, lower=lo, upper=hi,
                           excluded=excluded, mode=mode, device=dev, dtype=dtype,
                           # glmnet turns its deviance-change stop off when a limit is zero
                           fdev=0.0 if ((prep["lo"] == 0).any() or (prep["hi"] == 0).any())
                           else engine.CONTROL["fdev"],
                           trace_it=trace_it, unit_weights=unit)
    if keep is not None:
        full = np.zeros(res.beta.shape[:2] + (p,), dtype=res.beta.dtype)
        full[:, :, keep] = res.beta
        res.beta = full
    wsums = Wb.sums if isinstance(Wb, engine.FoldBatch) else \
        (np.full(B, float(n)) if unit else Wb.sum(axis=1))
    if family == "gaussian" and unit and B == 1 and prep["moments"] is not None:
        ym, ss = prep["moments"]                  # from _prepare's check of y: no pass over n
        nulldevs = np.array([ss if intercept else ss + n * ym * ym])
    elif family == "gaussian" and res.nulldev is not None:
        nulldevs = res.nulldev                    # the GPU's statistics had them (a CV batch)
    elif family == "gaussian":
        # every problem's null deviance at once (a batch of CV folds at n = 1e6: one product, not
        # a few passes over n per problem); y is shifted by a common centre for accuracy
        yc = y_in - (y_in.mean(axis=-1, keepdims=True) if intercept else 0.0)
        if isinstance(Wb, engine.FoldBatch):
            s1, s2 = Wb.per_problem(yc), Wb.per_problem(yc * yc)
        elif yc.ndim == 1:
            s1, s2 = Wb @ yc, Wb @ (yc * yc)
        else:
            s1, s2 = (Wb * yc).sum(axis=1), (Wb * yc * yc).sum(axis=1)
        nulldevs = s2 - (s1 * s1 / wsums if intercept else 0.0)
    fits = []
    for b in range(B):
        k = int(res.lmu[b])
        jerr = int(res.jerr[b])
        if jerr != 0:
            if jerr <= -10000:
                msg = _JERR_PMAX.format(jerr=jerr, pmax=prep["pmax"], k=-jerr - 10000)
            else:
                msg = _JERR_MAXIT.format(jerr=jerr, maxit=int(maxit), k=-jerr)
            _warn(msg, RuntimeWarning)
        if k == 0:                           # glmnet's words for a path without any solution
            _warn("an empty model has been returned; probably a convergence issue",
                  RuntimeWarning)
        beta, df = engine.beta_block(res.beta, b, k)
        if family == "gaussian":
            nulldev = float(nulldevs[b])
        else:
            nulldev = float(res.nulldev_int[b] * wsums[b])
        fits.append(GlmnetFit(
            a0=res.a0[b, :k].copy(), beta=beta, lambda_=res.lambda_[b, :k].copy(),
            df=df, dim=np.array([p, k]),
            dev_ratio=res.dev_ratio[b, :k].copy(), nulldev=nulldev,
            npasses=int(res.npasses[b]), jerr=jerr, nobs=int(nobs_b[b]),
            offset=offset_given, family=family, classnames=prep["classnames"],
            feature_names=prep["names"], obs_index=prep.get("index"),
            info={"mode": "covariance" if res.mode == 1 else "naive", "device": dev,
                  **res.extra}))
    return fits


def glmnet(x, y, family: str = "gaussian", *, weights=None, offset=None, alpha: float = 1.0,
           nlambda: int = 100, lambda_min_ratio=None, lambda_=None, standardize: bool = True,
           intercept: bool = True, thresh: float = 1e-7, dfmax=None, pmax=None, exclude=None,
           penalty_factor=None, lower_limits=-_INF, upper_limits=_INF, maxit: int = 100000,
           device=None, dtype=None, trace_it: int = 0, type_gaussian=None, relax: bool = False,
           maxp=None, path: bool = False) -> GlmnetFit:
    """Fit an elastic-net regularisation path with glmnet's semantics (one kernel launch).

    device: "cpu", "gpu", or "auto"/None: a GPU where it was measured to win (x already an
    mx.array on it, or n p of at least engine.AUTO_GPU_GLM_ELEMENTS for binomial/poisson and
    engine.AUTO_GPU_GAUSSIAN_ELEMENTS for gaussian), else the CPU (engine.resolve_device).

    relax=True adds glmnet's relaxed fit (``fit.relaxed``; ``coef``, ``predict`` and ``plot``
    then take ``gamma``): each distinct active set of the path refitted without penalty
    (lambda 0, the other variables excluded), as glmnet's relax.glmnet. maxp: active sets with
    more variables are not refitted (default n - 3; their lambdas are left out of the relaxed
    fit); path=True refits each set along the path's lambdas down to 0 instead of at 0 alone."""
    if not isinstance(relax, (bool, np.bool_)):
        raise TypeError("relax must be True or False")
    prep = _prepare(x, y, family, weights, offset, alpha, nlambda, lambda_min_ratio, lambda_,
                    standardize, intercept, thresh, dfmax, pmax, exclude, penalty_factor,
                    lower_limits, upper_limits, maxit, type_gaussian)
    if relax:
        maxp = prep["n"] - 3 if maxp is None else maxp
        if isinstance(maxp, bool) or not isinstance(maxp, (int, np.integer)):
            raise ValueError(f"maxp must be a whole number, got {maxp!r}")
        if not isinstance(path, (bool, np.bool_)):
            raise TypeError("path must be True or False")
    # glmnet's nobs is nrow(x), zero weights included (it also sets the lambda.min.ratio default)
    kw = dict(standardize=standardize, intercept=intercept, thresh=thresh, maxit=maxit,
              device=device, dtype=dtype, trace_it=trace_it, type_gaussian=type_gaussian,
              unit=prep["unit_w"])
    if relax:
        _x_on_device(prep, family, device, dtype, type_gaussian, 1)
    fit = _run(prep, family, prep["w"][None, :], np.array([prep["n"]]), offset is not None, **kw)[0]
    if relax:
        fit.relaxed = _relaxed(fit, prep, family, offset is not None, int(maxp), bool(path),
                               dict(kw, trace_it=0), trace_it=trace_it)
    return fit


def _relaxed(fit, prep, family, offset_given, maxp, path, kw, trace_it=0):
    """glmnet's relax.glmnet on a fit: every distinct active set of the path with at most maxp
    variables refitted at lambda 0 (path: along the path's lambdas and then 0) with the other
    variables excluded; each lambda takes its set's refit; sets over maxp are left out."""
    nz = fit.beta != 0
    size = nz.sum(axis=0)
    a0, beta, dev = fit.a0.copy(), fit.beta.copy(), fit.dev_ratio.copy()
    lam0 = np.append(fit.lambda_, 0.0) if path else np.zeros(1)
    todo = np.flatnonzero((size > 0) & (size <= maxp))
    keys = [nz[:, k].tobytes() for k in todo]          # (an active set: its column of nz)
    refits = {}
    with engine._Progress(len(set(keys)), bool(trace_it), label="relaxed fits",
                          poll=False) as prog:
        for k, key in zip(todo, keys):
            if key not in refits:
                out = ~nz[:, k] | prep["excluded"]
                pk = dict(prep, excluded=out, pf=_scaled_penalty(prep["pf_given"], out), lam=lam0,
                          nlam=len(lam0))
                r = _run(pk, family, prep["w"][None, :], np.array([prep["n"]]), offset_given,
                         **kw)[0]
                m = len(r.lambda_) - 1
                refits[key] = (r.a0[m], r.beta[:, m], r.dev_ratio[m])
                prog.update(len(refits))
            a0[k], beta[:, k], dev[k] = refits[key]
        prog.finish(len(refits))
    keep = size <= maxp
    return dataclasses.replace(
        fit, a0=a0[keep], beta=beta[:, keep], dev_ratio=dev[keep], lambda_=fit.lambda_[keep].copy(),
        df=fit.df[keep].copy(), dim=np.array([fit.beta.shape[0], int(keep.sum())]),
        info=dict(fit.info, relaxed_refits=len(refits)))


def glmnet_batch(x, y, family: str = "gaussian", *, weights_batch=None, weights=None, offset=None,
                 alpha: float = 1.0, nlambda: int = 100, lambda_min_ratio=None, lambda_=None,
                 standardize: bool = True, intercept: bool = True, thresh: float = 1e-7,
                 dfmax=None, pmax=None, exclude=None, penalty_factor=None,
                 lower_limits=-_INF, upper_limits=_INF, maxit: int = 100000, device=None,
                 dtype=None, trace_it: int = 0, type_gaussian=None, foldid=None) -> list:
    """Fit one path per problem in a single engine call (one kernel launch on a GPU).

    A problem is a row of weights_batch (B x n; rows with weight 0 are ignored as if removed, as
    for CV folds; `weights` multiplies every row) and/or a column of y: with y an (n, B) matrix,
    problem b fits response y[:, b] (several responses over the same x). weights_batch defaults
    to all ones.

    foldid (fold numbers 1..K, one per row; instead of weights_batch): the K + 1 problems of a
    cross-validation, problem 0 on every row and problem k on the rows outside fold k, without
    forming their (K + 1) x n weights (cv_glmnet's call)."""
    args = dict(locals())                     # (first: exactly the parameters)
    return _batch(_prepare_batch(args), args)


def _batch_args(x, y, family="gaussian", **kw):
    """glmnet_batch's arguments with its defaults filled in: cv_glmnet checks the data once
    (_prepare_batch), uses them, then fits (_batch). An unknown keyword is a TypeError, as in a
    call."""
    import inspect
    ba = inspect.signature(glmnet_batch).bind(x, y, family, **kw)
    ba.apply_defaults()
    return dict(ba.arguments)


def _prepare_batch(a):
    """glmnet_batch's checks of x, y and the options (a: its arguments): (prep, y, several)."""
    y, family = a["y"], a["family"]
    yarr = y.to_numpy() if hasattr(y, "to_numpy") and hasattr(y, "columns") else y
    multi = isinstance(yarr, np.ndarray) and yarr.ndim == 2 and yarr.shape[1] > 1
    prep = _prepare(a["x"], yarr[:, 0] if multi else y, family, *(a[k] for k in (
        "weights", "offset", "alpha", "nlambda", "lambda_min_ratio", "lambda_", "standardize",
        "intercept", "thresh", "dfmax", "pmax", "exclude", "penalty_factor", "lower_limits",
        "upper_limits", "maxit", "type_gaussian")))
    if multi:
        if family != "binomial" and yarr.dtype.kind in "biuf" and yarr.shape[0] == prep["n"]:
            # numeric responses: _response's checks on the whole array at once (100 columns of
            # 2e4 one by one, strided, then stacked: ~10 ms on the GPU machine's host), by block
            # sums (_all_finite) and the minimum: no temporaries. The problems' responses are the
            # (B, n) transposed view, read-only (the caller's array when it is float64): the GPU
            # reads it as it is, the CPU engine makes its own copy (engine.run_paths); a
            # transposed copy here cost 2.3-3.3 ms at 100 x 2e4 on a 2-core VM
            ya = np.asarray(yarr, dtype=np.float64)
            if not _all_finite(ya):
                raise ValueError("y contains NaN or infinite values")
            if family == "poisson" and ya.min() < 0:
                raise ValueError("y must be non-negative for family='poisson'")
            Yt = ya.T.view()
            Yt.flags.writeable = False
            prep["Y"] = Yt
        else:
            cols = [_response(yarr[:, k], family, prep["n"]) for k in range(yarr.shape[1])]
            if any(c[1] != prep["classnames"] for c in cols):
                raise ValueError("y: every response column needs the same classes")
            prep["Y"] = np.stack([c[0] for c in cols])
        if family == "gaussian":
            # constant over the rows of positive weight: a response whose first two such values
            # differ is not, so only the others get the full check (two passes over 100 x 2e4
            # cost ~3 ms); with one such row every response is constant
            Y = prep["Y"]
            rows = None if prep["unit_w"] else np.flatnonzero(prep["w"] > 0)
            i = (0, 1) if rows is None else tuple(rows[:2])
            if len(i) < 2:
                bad = np.arange(Y.shape[0])
            else:
                maybe = np.flatnonzero(Y[:, i[0]] == Y[:, i[1]])
                Ym = Y[maybe] if rows is None else Y[np.ix_(maybe, rows)]
                bad = maybe[Ym.max(axis=1) == Ym.min(axis=1)]
            if bad.size:
                raise ValueError(f"y: response column {int(bad[0])} is constant")
    return prep, yarr, multi


def _batch(prepared, a):
    """glmnet_batch after _prepare_batch: the problems' weights checked, then the engine."""
    prep, yarr, multi = prepared
    family, weights_batch, weights = a["family"], a["weights_batch"], a["weights"]
    offset, foldid = a["offset"], a["foldid"]
    standardize, intercept, thresh, maxit = a["standardize"], a["intercept"], a["thresh"], a["maxit"]
    device, dtype, trace_it, type_gaussian = a["device"], a["dtype"], a["trace_it"], a["type_gaussian"]
    if foldid is not None:
        if weights_batch is not None or multi:
            raise ValueError("foldid: give either foldid or weights_batch / several responses")
        return _run_folds(prep, family, foldid, offset is not None, standardize=standardize,
                          intercept=intercept, thresh=thresh, maxit=maxit, device=device,
                          dtype=dtype, trace_it=trace_it, type_gaussian=type_gaussian)
    if weights_batch is None:
        # one problem a response, all on the same (valid) weights: no checks over B x n, and
        # the engine told so (several responses of 2e4 rows: ~10 ms of passes on a GPU's host)
        B = yarr.shape[1] if multi else 1
        Wb = _ones(B, prep["n"]) if weights is None else \
            np.broadcast_to(prep["w"][None, :], (B, prep["n"]))
        nobs_b = np.full(B, prep["n"])
        if family == "binomial":
            _check_classes(Wb, prep["Y"], "weights")
        return _run(prep, family, Wb, nobs_b, offset is not None, standardize=standardize,
                    intercept=intercept, thresh=thresh, maxit=maxit, device=device, dtype=dtype,
                    trace_it=trace_it, type_gaussian=type_gaussian, unit=weights is None)
    Wb = np.asarray(weights_batch, dtype=np.float64).view()
    Wb.flags.writeable = False               # (it may be the caller's array: never written)
    if multi and Wb.ndim == 2 and Wb.shape[0] != yarr.shape[1]:
        raise ValueError(f"weights_batch must have one row per column of y ({yarr.shape[1]})")
    if Wb.ndim != 2 or Wb.shape[1] != prep["n"]:
        raise ValueError(f"weights_batch must be a (B, {prep['n']}) matrix")
    # (NaN fails >= 0; +Inf makes its row's sum infinite)
    sums = Wb.sum(axis=1)
    if not (Wb >= 0).all() or not np.isfinite(sums).all():
        raise ValueError("weights_batch must be finite and non-negative")
    # a problem's nobs is its number of rows (nonzero weights_batch), as if the others were removed
    nobs_b = (Wb > 0).sum(axis=1)
    if weights is not None:
        Wb = Wb * prep["w"][None, :]
        sums = Wb.sum(axis=1)
    if (sums <= 0).any():
        raise ValueError("weights_batch: every problem needs a positive weight")
    if family == "binomial":
        _check_classes(Wb, prep["Y"])
    return _run(prep, family, Wb, nobs_b, offset is not None, standardize=standardize,
                intercept=intercept, thresh=thresh, maxit=maxit, device=device, dtype=dtype,
                trace_it=trace_it, type_gaussian=type_gaussian)


def _check_classes(Wb, Y, name="weights_batch"):
    """Binomial: every problem needs weight on both classes (name: the argument to blame)."""
    pos = (Wb * (np.broadcast_to(Y, Wb.shape) > 0)).sum(axis=1)
    neg = (Wb * (np.broadcast_to(Y, Wb.shape) == 0)).sum(axis=1)
    bad = np.flatnonzero((pos <= 0) | (neg <= 0))
    if bad.size:
        raise ValueError(f"{name}: problem {int(bad[0])} has observations of one "
                         "class only; binomial needs both")


class _Folds:
    """Fold numbers that cv_glmnet has validated already (fold_numbers passes them through
    instead of checking the n rows again)."""
    __slots__ = ("f", "k", "counts")

    def __init__(self, f, k, counts):
        self.f, self.k, self.counts = f, int(k), counts


def fold_numbers(foldid, n: int, min_folds: int = 2, counts: bool = False):
    """foldid validated: (int64 fold numbers 1..K of the n rows, K); every fold non-empty.
    counts: also return the folds' sizes (K,)."""
    if isinstance(foldid, _Folds):
        if foldid.f.shape != (n,):
            raise ValueError(f"foldid must be a vector of length {n}")
        return (foldid.f, foldid.k, foldid.counts) if counts else (foldid.f, foldid.k)
    f = np.asarray(foldid.to_numpy() if hasattr(foldid, "to_numpy") else foldid)
    if f.ndim != 1 or f.shape[0] != n:
        raise ValueError(f"foldid must be a vector of length {n} (one fold number per row of x), "
                         f"got shape {f.shape}")
    if f.dtype.kind not in "iu" and (f.dtype.kind != "f" or not np.all(np.isfinite(f))
                                     or np.any(f != np.round(f))):
        raise ValueError("foldid must hold integer fold numbers 1, 2, ..., nfolds")
    f = f.astype(np.int64, copy=False)
    # (one pass: the counts give the largest fold number and whether 0 occurs; a negative one
    # makes bincount refuse, and only then is the minimum looked up)
    try:
        all_counts = np.bincount(f)
    except ValueError:
        all_counts = None
    if all_counts is None or all_counts[0] > 0:
        raise ValueError(f"foldid must hold 1-based fold numbers (>= 1), got {int(f.min())}")
    k = all_counts.shape[0] - 1
    if k < min_folds:
        raise ValueError(f"nfolds must be at least {min_folds} (foldid has {k} folds)"
                         + ("; nfolds=10 recommended" if min_folds >= 3 else ""))
    want = counts
    counts = all_counts[1:]
    if np.any(counts == 0):
        empty = int(np.flatnonzero(counts == 0)[0]) + 1
        raise ValueError(f"foldid: fold {empty} has no observations; folds must be numbered 1..nfolds")
    return (f, k, counts) if want else (f, k)


def _run_folds(prep, family, foldid, offset_given, **kw):
    """glmnet_batch(foldid=...): the checks of a weights_batch batch, in O(n) per check."""
    n = prep["n"]
    f, K, counts = fold_numbers(foldid, n, counts=True)
    Wb = engine.FoldBatch(prep["w"], f, K, counts=counts)
    nobs_b = np.concatenate([[n], n - counts])      # rows of each problem, zero weights included
    if (Wb.sums <= 0).any():
        raise ValueError("foldid: every problem needs a positive weight (a fold holds all of it)")
    if family == "binomial":
        pos, neg = Wb.per_problem(prep["Y"] > 0), Wb.per_problem(prep["Y"] == 0)
        bad = np.flatnonzero((pos <= 0) | (neg <= 0))
        if bad.size:
            raise ValueError(f"foldid: problem {int(bad[0])} has observations of one class only; "
                             "binomial needs both")
    return _run(prep, family, Wb, nobs_b, offset_given, **kw)
