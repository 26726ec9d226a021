"""Cross-validation of elastic-net paths with R glmnet 4.1's ``cv.glmnet`` semantics.

    import mlxs_glmnet as mg
    cv = mg.cv_glmnet(x, y, family="binomial", type_measure="auc", seed=1)
    cv.lambda_min, cv.lambda_1se
    cv.predict(newx, s="lambda_1se", type="response")

What happens, as in ``cv.glmnet`` (alignment = "lambda"):

1. the full data and every fold are fitted in ONE engine call (``glmnet_batch``): problem 0 has
   all rows (it is glmnet's fit of the full data; its lambda sequence is the CV grid), problem k
   has the user's weights with the rows of fold k set to zero, so each fold computes its own
   lambda path exactly as a glmnet fit on its training rows would;
2. every fold predicts its held-out rows at the full-data lambdas, interpolating its coefficients
   linearly in lambda (glmnet's ``lambda.interp``, clamped to the fold's own lambda range);
3. the held-out predictions give a loss per observation and lambda; losses are averaged per fold
   (``grouped``), and the fold means give ``cvm`` and its standard error ``cvsd`` weighted by the
   folds' total weights (glmnet's ``cvcompute`` / ``cvstats``);
4. ``lambda_min`` is the largest lambda attaining the minimum of ``cvm``; ``lambda_1se`` the
   largest lambda whose ``cvm`` is within one ``cvsd`` of that minimum (``getOptcv.glmnet``).
"""
from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import api, frames

__all__ = ["CvGlmnetFit", "CVGlmnet", "cv_glmnet"]

# type.measure choices per family, default first (glmnet's cvtype).
_MEASURES = {
    "gaussian": ("mse", "deviance", "mae"),
    "binomial": ("deviance", "class", "auc", "mse", "mae"),
    "poisson": ("deviance", "mse", "mae"),
}
_DEVNAME = {
    "gaussian": "Mean-squared Error",
    "binomial": "Binomial Deviance",
    "poisson": "Poisson Deviance",
}
_TYPENAMES = {
    "mse": "Mean-Squared Error",
    "mae": "Mean Absolute Error",
    "auc": "AUC",
    "class": "Misclassification Error",
}
# glmnet options forwarded to the engine (everything else is a TypeError).
_GLMNET_OPTIONS = frozenset({
    "weights", "offset", "alpha", "nlambda", "lambda_min_ratio", "lambda_", "standardize",
    "intercept", "thresh", "dfmax", "pmax", "exclude", "penalty_factor", "lower_limits",
    "upper_limits", "maxit", "device", "dtype", "type_gaussian",
})
_PROB_MIN = 1e-5  # binomial deviance clamps probabilities to [1e-5, 1 - 1e-5]


# ----------------------------------------------------------------------------- result object
@dataclass
class CvGlmnetFit:
    """The cross-validated path; the fields mirror R's ``cv.glmnet`` object."""

    lambda_: np.ndarray
    cvm: np.ndarray
    cvsd: np.ndarray
    cvup: np.ndarray
    cvlo: np.ndarray
    nzero: np.ndarray
    name: dict
    glmnet_fit: Any
    lambda_min: float
    lambda_1se: float
    index: np.ndarray
    type_measure: str
    foldid: Optional[np.ndarray] = None
    fit_preval: Optional[np.ndarray] = None
    # relax=True: glmnet's $relaxed -- statlist (one dict of lambda_, cvm, cvsd, cvup, cvlo,
    # nzero per gamma), gamma, lambda_min, lambda_1se, gamma_min, gamma_1se, nzero_min,
    # nzero_1se, index ((2, 2): rows min / 1se, columns lambda index / gamma index, 1-based);
    # with keep=True also fit_preval: {gamma: held-out predictions (n, nlambda)}, gamma 1 included
    relaxed: Optional[dict] = None

    def _resolve_sg(self, s, gamma):
        """(lambda value(s), gamma) as predict.cv.relaxed resolves them: s "lambda_min" /
        "lambda_1se" picks the relaxed optimum and, unless gamma is given, its gamma."""
        r = self.relaxed
        if r is None:
            if gamma is not None and gamma != 1.0:
                raise ValueError("gamma: this cross-validation has no relaxed fits (relax=True)")
            return self._resolve_s(s), 1.0
        if isinstance(s, str):
            key = s.replace(".", "_")
            if key not in ("lambda_min", "lambda_1se"):
                raise ValueError(f"s must be 'lambda_1se', 'lambda_min' or numeric lambda value(s), got {s!r}")
            lam = r[key]
            if gamma is None:
                gamma = r["gamma_min" if key == "lambda_min" else "gamma_1se"]
        else:
            lam = self._resolve_s(s)
        if isinstance(gamma, str):
            key = gamma.replace(".", "_")
            if key not in ("gamma_min", "gamma_1se"):
                raise ValueError(f"gamma must be 'gamma_1se', 'gamma_min' or a number, got {gamma!r}")
            gamma = r[key]
        return lam, 1.0 if gamma is None else gamma

    def _resolve_s(self, s):
        if isinstance(s, str):
            key = s.replace(".", "_")
            if key == "lambda_1se":
                return self.lambda_1se
            if key == "lambda_min":
                return self.lambda_min
            raise ValueError(f"s must be 'lambda_1se', 'lambda_min' or numeric lambda value(s), got {s!r}")
        if s is None:
            raise ValueError("s must be 'lambda_1se', 'lambda_min' or numeric lambda value(s)")
        return s

    def predict(self, newx=None, s="lambda_1se", type: str = "link", newoffset=None, gamma=None):
        """Predictions of the full-data fit at s (default: lambda_1se), as predict.cv.glmnet;
        relax=True: at gamma too (default: the gamma chosen with s, as predict.cv.relaxed)."""
        lam, g = self._resolve_sg(s, gamma)
        return self.glmnet_fit.predict(newx, s=lam, type=type, newoffset=newoffset, gamma=g)

    def coef(self, s="lambda_1se", gamma=None) -> np.ndarray:
        """(p+1, k) coefficients (intercept first) of the full-data fit at s (and gamma)."""
        lam, g = self._resolve_sg(s, gamma)
        return self.glmnet_fit.coef(s=lam, gamma=g)

    def coef_frame(self, s="lambda_1se"):
        """coef() as a pandas DataFrame (rows "(Intercept)" and the features)."""
        return self.glmnet_fit.coef_frame(s=self._resolve_s(s))

    def plot(self, sign_lambda: float = 1, ax=None, **kwargs):
        """The CV curve with error bars and the lambda_min / lambda_1se lines, as glmnet's
        plot.cv.glmnet (matplotlib; returns the Axes)."""
        from .plot import plot_cv
        return plot_cv(self, sign_lambda=sign_lambda, ax=ax, **kwargs)

    def __repr__(self) -> str:
        (measure, label), = self.name.items()
        return (f"CvGlmnetFit(measure={label!r}, nlambda={len(self.lambda_)}, "
                f"lambda_min={self.lambda_min:.6g}, "
                f"lambda_1se={self.lambda_1se:.6g})")

    def summary(self) -> str:
        """glmnet's print.cv.glmnet table (relax=True: print.cv.relaxed's, with the gammas)."""
        (measure, label), = self.name.items()
        r = self.relaxed
        if r is not None:
            lines = [f"Measure: {label}", "",
                     "    Gamma Index     Lambda Index  Measure       SE Nonzero"]
            for tag in ("min", "1se"):
                il, ig = (int(v) for v in r["index"][0 if tag == "min" else 1])
                st = r["statlist"][ig - 1]
                lines.append(f"{tag:>3} {r['gamma_' + tag]:5.2f} {ig:5d} {r['lambda_' + tag]:10.5g} "
                             f"{il:5d} {st['cvm'][il - 1]:8.5g} {st['cvsd'][il - 1]:8.5g} "
                             f"{r['nzero_' + tag]:7d}")
            return "\n".join(lines)
        lines = [f"Measure: {label}", "", "     Lambda Index  Measure       SE Nonzero"]
        for tag, i in zip(("min", "1se"), self.index[:, 0]):
            k = int(i) - 1
            lines.append(f"{tag:>3} {self.lambda_[k]:8.5g} {int(i):5d} {self.cvm[k]:8.5g} "
                         f"{self.cvsd[k]:8.5g} {int(self.nzero[k]):7d}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- helpers
def _interp_coefs(a0, beta, lam, s):
    """Coefficients (p+1, len(s)) at lambda values s by glmnet's lambda.interp (clamped)."""
    full = np.vstack([np.asarray(a0, dtype=np.float64)[None, :],
                      np.asarray(beta, dtype=np.float64)])
    lam = np.asarray(lam, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    k = lam.shape[0]
    if k == 1:
        return np.repeat(full[:, :1], s.shape[0], axis=1)
    span = lam[0] - lam[-1]
    lfrac = (lam[0] - lam) / span           # increasing from 0 to 1 along the path
    sfrac = np.clip((lam[0] - s) / span, lfrac.min(), lfrac.max())
    coord = np.interp(sfrac, lfrac, np.arange(k, dtype=np.float64))
    left = np.floor(coord).astype(np.intp)
    right = np.ceil(coord).astype(np.intp)
    denom = lfrac[left] - lfrac[right]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = (sfrac - lfrac[right]) / denom
    same = (left == right) | (np.abs(lam[left] - lam[right]) < np.finfo(np.float64).eps)
    w[same] = 1.0
    return full[:, left] * w + full[:, right] * (1.0 - w)


def _wmean(x, w):
    """Column-wise R weighted.mean(x, w, na.rm = TRUE): NaN entries and their weights drop out,
    zero-weight entries contribute nothing to the numerator (so 0 * Inf is not NaN)."""
    ok = ~np.isnan(x)
    w = np.broadcast_to(w[:, None], x.shape)
    num = np.where(ok & (w != 0), x * np.where(w != 0, w, 1.0), 0.0).sum(axis=0)
    den = np.where(ok, w, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _weighted_auc(prob, wneg, wpos):
    """Weighted concordance of prob between negatives and positives (ties count 1/2), the value
    of glmnet's auc.mat (survival::concordance with pair weight w_i * w_j). The prediction
    sorted once; a tied group's negatives below it and half of its own come from the sorted
    cumulative sums at the group's start and end (running extremes, no searches: a fold of 1e5
    rows and 63 lambdas took 2.2 s with a stable sort and two searches a lambda on a 2-core VM,
    0.36 s so, on one thread)."""
    den = wneg.sum() * wpos.sum()
    if den <= 0:
        return np.nan
    order = np.argsort(prob)
    ps = prob[order]
    wn = wneg[order]
    incl = np.cumsum(wn)
    step = np.empty(ps.size + 1, dtype=bool)
    step[0] = step[-1] = True
    np.not_equal(ps[1:], ps[:-1], out=step[1:-1])
    lo = np.maximum.accumulate(np.where(step[:-1], incl - wn, 0.0))
    hi = np.minimum.accumulate(np.where(step[1:], incl, np.inf)[::-1])[::-1]
    return float(wpos[order] @ (lo + hi)) * 0.5 / den


def _each_lambda(f, L, m):
    """[f(0), ..., f(L - 1)], on every core for folds of many rows (numpy's sorts release the
    GIL: a fold of 1e5 rows and 63 lambdas, 364 -> 127 ms on a 2-core VM)."""
    from .engine import _cpu_threads
    nt = min(_cpu_threads(), L)
    if nt < 2 or m * L < (1 << 17):
        return [f(j) for j in range(L)]
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(nt) as pool:
        return list(pool.map(f, range(L)))


def _cv_raw(family, measure, predmat, y, xp=np):
    """Per-observation losses (n, L) of the held-out predictions (link scale). xp: the array
    module (numpy, or mlx.core for predictions on a device: the same formulas there)."""
    if family == "gaussian":
        r = y[:, None] - predmat
        return xp.abs(r) if measure == "mae" else r * r
    with np.errstate(over="ignore", invalid="ignore"):
        if family == "poisson":
            mu = xp.exp(predmat)
            if measure == "mse":
                return (y[:, None] - mu) ** 2
            if measure == "mae":
                return xp.abs(y[:, None] - mu)
            ylogy = xp.where(y > 0, y * xp.log(xp.where(y > 0, y, 1.0)), 0.0)
            devy = xp.where(y == 0, 0.0, ylogy - y)
            return 2.0 * (devy[:, None] - (y[:, None] * predmat - mu))
        # binomial, y is 0/1 (second class = 1)
        prob = 1.0 / (1.0 + xp.exp(-predmat))
    y1 = y[:, None]
    if measure == "mse":
        return 2.0 * (y1 - prob) ** 2
    if measure == "mae":
        return 2.0 * xp.abs(y1 - prob)
    if measure == "class":
        return xp.where(y1 > 0, prob <= 0.5, prob > 0.5).astype(predmat.dtype)
    p = xp.clip(prob, _PROB_MIN, 1.0 - _PROB_MIN)
    return -2.0 * xp.where(y1 > 0, xp.log(p), xp.log1p(-p))


def _relax_problem(f, prep, family, args, maxp, path, train):
    """glmnet's relax.glmnet on one problem of the CV batch: the full data (train None) or the
    training rows of a fold (train: a row mask; the held-out rows get weight 0, as in the batch).
    args: the batch's arguments (api._batch_args). maxp defaults to the problem's rows - 3, as
    relax.glmnet's n - 3 on glmnet's subset."""
    rows = prep["n"] if train is None else int(train.sum())
    pk = prep if train is None else dict(prep, w=prep["w"] * train, unit_w=False, moments=None)
    kw = {k: args[k] for k in ("standardize", "intercept", "thresh", "maxit", "device", "dtype",
                               "type_gaussian")}
    f.relaxed = api._relaxed(f, pk, family, args["offset"] is not None,
                             rows - 3 if maxp is None else int(maxp), bool(path),
                             dict(kw, trace_it=0, unit=bool(pk["unit_w"])))
    return f


def _fold_coefs(ff, k, lam, alignment):
    """Fold k's fit as coefficients (p + 1, L) at the full data's lambdas (alignment "lambda",
    glmnet's interpolation) or at its own path's steps ("fraction")."""
    L = lam.shape[0]
    if len(ff.lambda_) == 0:
        raise RuntimeError(f"the fit of fold {k + 1} returned no solution (jerr={ff.jerr})")
    if alignment == "lambda":
        return _interp_coefs(ff.a0, ff.beta, ff.lambda_, lam)
    cf = np.vstack([np.asarray(ff.a0, dtype=np.float64)[None, :],
                    np.asarray(ff.beta, dtype=np.float64)])
    m = min(cf.shape[1], L)
    return np.concatenate([cf[:, :m], np.repeat(cf[:, m - 1:m], L - m, axis=1)], axis=1)


def _fold_eta(X, rows, cf, off):
    """Held-out predictions (link scale, float64 on the host) of the rows from coefficients cf."""
    L = cf.shape[1]
    used = np.flatnonzero(np.any(cf[1:] != 0, axis=1))   # skip never-active columns
    if used.size == 0:
        eta = np.broadcast_to(cf[0], (rows.size, L)).copy()
    elif api.engine.is_sparse(X):                # compressed columns: a sparse product
        eta = np.asarray(X[rows] @ cf[1:]) + cf[0]
    elif isinstance(X, api.engine.mx.array):     # x on a device: predict there
        eta = np.array(_device_eta(X, rows, cf, used), dtype=np.float64)
    elif 2 * used.size < X.shape[1]:
        eta = X[np.ix_(rows, used)] @ cf[1 + used] + cf[0]
    else:
        eta = X[rows] @ cf[1:] + cf[0]
    if off is not None:
        eta = eta + off[rows, None]
    return eta


def _device_eta(X, rows, cf, used, off_d=None):
    """The rows' predictions on x's device (float32): only the columns some lambda uses are
    gathered (gpu.gather: rows and columns in one pass on CUDA). rows: numpy or device int32."""
    from . import gpu
    mx = api.engine.mx
    f32 = np.float32
    r = rows if isinstance(rows, mx.array) else mx.array(rows.astype(np.int32))
    xr = gpu.gather(X, rows=r, cols=mx.array(used.astype(np.int32)),
                    c=mx.zeros((X.shape[1],), dtype=mx.float32))
    eta = xr @ mx.array(cf[1 + used].astype(f32)) + mx.array(cf[0].astype(f32))[None, :]
    return eta if off_d is None else eta + mx.take(off_d, r)[:, None]


def _device_auc(eta, y, w):
    """_weighted_auc of every column of one fold's predictions (m, L) on the device: (L,)
    float32 and whether it is defined (both classes weighted). Each lambda's predictions sorted
    once, as the rows of the transpose (sorts, running sums and extremes along the last axis:
    on an H100 the first call compiled in 0.18 s and a fold of 1e5 rows took 4 ms, where the
    same steps along the first axis compiled for 6.3 s and took 16-19 ms); tied predictions
    share the negatives' weight below their group and half of the group's, as searchsorted's
    left and right ends give it on the host: the group's start and end found by a running
    maximum and a reversed running minimum of the sorted cumulative sums."""
    mx = api.engine.mx
    prob = mx.sigmoid(eta.T)                                           # (L, m)
    wneg, wpos = w * (1 - y), w * y
    order = mx.argsort(prob, axis=1)
    ps = mx.take_along_axis(prob, order, axis=1)
    wn, wp = mx.take(wneg, order), mx.take(wpos, order)                 # (L, m)
    incl = mx.cumsum(wn, axis=1)
    excl = incl - wn
    edge = mx.ones((ps.shape[0], 1), dtype=mx.bool_)
    step = ps[:, 1:] != ps[:, :-1]
    lo = mx.cummax(mx.where(mx.concatenate([edge, step], axis=1), excl, 0), axis=1)
    hi = mx.cummin(mx.where(mx.concatenate([step, edge], axis=1), incl, mx.inf), axis=1,
                   reverse=True)
    num = mx.sum(wp * (lo + hi), axis=1) * 0.5
    den = mx.sum(wneg) * mx.sum(wpos)
    return num / mx.where(den > 0, den, 1), (den > 0) & (ps.shape[1] > 0)


def _device_stats(coefs, X, frows, n, lam, off, family, measure, grouped, keep, yv, w, cw,
                  unit_w):
    """glmnet's cvcompute with x on a device: the folds' held-out predictions stay there
    (float32: only the columns some lambda uses are read) and glmnet's per-fold measures (AUC:
    each lambda's predictions sorted there), or the per-observation losses' weighted moments
    (grouped=False: the mean first, then the squared deviations from it), come back as a few
    (L,) arrays, in one evaluation for all folds; with keep the predictions come back once, in
    the rows' own order, as float64. At n = 1e6, p = 1e3 on an H100 cv_glmnet's statistics took
    2.1 s through the host and 19-30 ms so. Returns (predmat or None, cvraw (K, L) or None,
    (cvm, mean squared deviation) or None), or None where a float32 value is not finite (the
    host's float64 path then). cw: the folds' weight sums; unit_w: w is all ones (not
    uploaded)."""
    mx = api.engine.mx
    from . import gpu
    f32 = np.float32
    L = lam.shape[0]
    y_d = mx.array(yv.astype(f32))
    w_d = None if unit_w else mx.array(w.astype(f32))
    off_d = None if off is None else mx.array(off.astype(f32))
    etas, ys, ws = [], [], []
    for k, cf in enumerate(coefs):
        r = frows.device(k)
        used = np.flatnonzero(np.any(cf[1:] != 0, axis=1))
        if used.size:
            e = _device_eta(X, r, cf, used, off_d)
        else:
            e = mx.broadcast_to(mx.array(cf[0].astype(f32))[None, :], (r.shape[0], L))
            if off_d is not None:
                e = e + mx.take(off_d, r)[:, None]
        etas.append(e)
        ys.append(mx.take(y_d, r))
        ws.append(mx.ones((r.shape[0],), dtype=mx.float32) if w_d is None else mx.take(w_d, r))
    checks, outs = [], []
    moments = None
    if measure == "auc":
        for e, yk, wk in zip(etas, ys, ws):
            a, ok = _device_auc(e, yk, wk)
            checks.append(mx.all(mx.isfinite(e)))
            outs.append(mx.where(ok, a, mx.nan))
    else:
        raws = [_cv_raw(family, measure, e, yk, xp=mx) for e, yk in zip(etas, ys)]
        checks = [mx.all(mx.isfinite(raw)) for raw in raws]
        outs = [wk @ raw for wk, raw in zip(ws, raws)]                     # (L,) each
    mx.eval(*checks, *outs)
    if not all(c.item() for c in checks):
        return None
    sums = np.array(mx.stack(outs), dtype=np.float64)                        # (K, L)
    cvraw = None
    if measure == "auc":
        cvraw = sums
    elif grouped:
        with np.errstate(invalid="ignore", divide="ignore"):
            cvraw = sums / cw[:, None]
    else:
        sw = float(cw.sum())
        cvm = sums.sum(axis=0) / sw
        cvm_d = mx.array(cvm.astype(f32))
        dev = [wk @ ((raw - cvm_d[None, :]) ** 2) for wk, raw in zip(ws, raws)]
        moments = (cvm, np.array(sum(dev[1:], dev[0]), dtype=np.float64) / sw)
    pm = None
    if keep:
        # the folds' rows in the rows' own order: the inverse of the folds' permutation
        E = mx.concatenate(etas, axis=0)
        inv = mx.argsort(frows.device_order())
        pm32 = np.array(mx.take(E, inv, axis=0))
        pm = np.empty(pm32.shape, dtype=np.float64)
        gpu._copy_rows(pm, pm32)
    return pm, cvraw, moments


class _FoldRows:
    """The rows of every fold, found once: by a stable sort of the fold numbers in a narrow integer
    type (a radix sort: ~6 ms at n = 1e6 on a 2-core VM, where a comparison a fold took 16 ms),
    and, for x on a device, sorted there (mx.argsort) from the fold numbers as bytes."""

    def __init__(self, foldid, nfolds, sizes):
        self.foldid, self.K = foldid, int(nfolds)
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._order = self._order_d = None

    def _narrow(self):
        return self.foldid.astype(np.int8 if self.K < 127 else
                                  (np.int16 if self.K < 32000 else np.int64))

    def host(self, k):
        if self._order is None:
            self._order = np.argsort(self._narrow(), kind="stable")
        return self._order[self.starts[k]:self.starts[k + 1]]

    def device_order(self):
        """The rows sorted by fold (stable), on the device (int32)."""
        mx = api.engine.mx
        if self._order_d is None:
            self._order_d = mx.argsort(mx.array(self._narrow()).astype(mx.int32)).astype(mx.int32)
        return self._order_d

    def device(self, k):
        return self.device_order()[int(self.starts[k]):int(self.starts[k + 1])]


def _predmat(fold_fits, X, frows, n, lam, alignment, off, say):
    """Held-out predictions (n, L) on the link scale (glmnet's buildPredmat)."""
    predmat = np.empty((n, lam.shape[0]))
    for k, ff in enumerate(fold_fits):
        rows = frows.host(k)
        predmat[rows] = _fold_eta(X, rows, _fold_coefs(ff, k, lam, alignment), off)
        say(f"Fold: {k + 1}/{len(fold_fits)}")
    return predmat


def _fold_wmean(raw, w):
    """R's weighted.mean(na.rm = TRUE) of every column of one fold's losses, infinities as NA
    (glmnet's cvcompute): one product where every loss is finite, else _wmean."""
    if np.isfinite(raw).all():
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w @ raw) / w.sum()
    return _wmean(np.where(np.isinf(raw), np.nan, raw), w)


def _grouped_cvraw(fold_fits, X, frows, lam, alignment, off, family, measure, yv, w, say):
    """glmnet's cvcompute (grouped, any measure but auc) fold by fold on the host, without the
    (n, L) matrix of held-out predictions: each fold's losses and their weighted mean (at
    n = 1e6 and 63 lambdas the predictions matrix and the passes over it took ~3 s on a 2-core
    VM). With x on a device _device_stats takes the measures there; this is its float64
    fallback."""
    K, L = len(fold_fits), lam.shape[0]
    cvraw = np.empty((K, L))
    for k, ff in enumerate(fold_fits):
        rows = frows.host(k)
        raw = _cv_raw(family, measure, _fold_eta(X, rows, _fold_coefs(ff, k, lam, alignment), off),
                      yv[rows])
        cvraw[k] = _fold_wmean(raw, w[rows])
        say(f"Fold: {k + 1}/{K}")
    return cvraw


def _cv_stats(predmat, family, measure, grouped, yv, w, frows, cw, n, lam, nz):
    """glmnet's cvcompute and cvstats of held-out predictions: (lambda, cvm, cvsd, nzero) at
    the lambdas where the standard error is defined (frows: _FoldRows; cw: the folds' weight
    sums)."""
    L, nfolds = lam.shape[0], frows.K
    if measure == "auc":
        cvraw = np.full((nfolds, L), np.nan)
        with np.errstate(over="ignore"):
            prob = 1.0 / (1.0 + np.exp(-predmat))
        for k in range(nfolds):
            rows = frows.host(k)
            wneg, wpos = w[rows] * (1.0 - yv[rows]), w[rows] * yv[rows]
            pk = np.ascontiguousarray(prob[rows].T)          # (a lambda's predictions a row)
            cvraw[k] = _each_lambda(lambda j: _weighted_auc(pk[j], wneg, wpos), L, rows.size)
        N = np.full(L, float(nfolds))
    else:
        raw = _cv_raw(family, measure, predmat, yv)
        if grouped:                  # (as _grouped_cvraw: the same sums without keep)
            cvraw = np.empty((nfolds, L))
            for k in range(nfolds):
                rows = frows.host(k)
                cvraw[k] = _fold_wmean(raw[rows], w[rows])
            N = np.full(L, float(nfolds))
        else:
            cvraw, cw = raw, w
            N = n - np.isnan(predmat).sum(axis=0).astype(np.float64)
    return _cv_summary(cvraw, cw, N, lam, nz)


def _cv_summary(cvraw, cw, N, lam, nz):
    """glmnet's cvstats: (lambda, cvm, cvsd, nzero) at the lambdas where the standard error is
    defined, from the per-fold (or per-observation) measures cvraw and their weights cw."""
    cvm = _wmean(cvraw, cw)
    with np.errstate(invalid="ignore", divide="ignore"):
        cvsd = np.sqrt(_wmean((cvraw - cvm) ** 2, cw) / (N - 1))
    good = ~np.isnan(cvsd)
    return lam[good], cvm[good], cvsd[good], nz[good]


def _moments_summary(cvm, msd, N, lam, nz):
    """_cv_summary of per-observation losses (grouped=False) from their weighted mean and mean
    squared deviation from it."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cvsd = np.sqrt(msd / (N - 1))
    good = ~np.isnan(cvsd)
    return lam[good], cvm[good], cvsd[good], nz[good]


def _opt_relaxed(statlist, gamma, auc):
    """glmnet's getOptcv.relaxed: over every (gamma, lambda), the largest lambda (then gamma)
    attaining the smallest measure, and the largest within one standard error of it."""
    lams = np.concatenate([st["lambda_"] for st in statlist])
    cvm = np.concatenate([st["cvm"] for st in statlist])
    cvsd = np.concatenate([st["cvsd"] for st in statlist])
    nzero = np.concatenate([st["nzero"] for st in statlist])
    gams = np.concatenate([np.full(len(st["lambda_"]), g) for st, g in zip(statlist, gamma)])
    ig = np.concatenate([np.full(len(st["lambda_"]), i + 1) for i, st in enumerate(statlist)])
    il = np.concatenate([np.arange(1, len(st["lambda_"]) + 1) for st in statlist])
    if auc:
        cvm = -cvm

    def pick(mask):
        cand = np.flatnonzero(mask)
        order = np.lexsort((-gams[cand], -lams[cand]))     # lambda, then gamma, decreasing
        return int(cand[order[0]])
    i = pick(cvm <= np.nanmin(cvm))
    j = pick(cvm <= cvm[i] + cvsd[i])
    return dict(lambda_min=float(lams[i]), lambda_1se=float(lams[j]), gamma_min=float(gams[i]),
                gamma_1se=float(gams[j]), nzero_min=int(nzero[i]), nzero_1se=int(nzero[j]),
                index=np.array([[il[i], ig[i]], [il[j], ig[j]]], dtype=np.int64))


# ----------------------------------------------------------------------------- cv_glmnet
def cv_glmnet(x, y, family: str = "gaussian", *, nfolds: int = 10, foldid=None,
              type_measure: str = "default", keep: bool = False, grouped: bool = True,
              trace_it: int = 0, seed=None, alignment: str = "lambda", relax: bool = False,
              gamma=(0.0, 0.25, 0.5, 0.75, 1.0), **kwargs) -> CvGlmnetFit:
    """K-fold cross-validation of the elastic-net path, as R glmnet's ``cv.glmnet``.

    x, y, family and ``**kwargs`` (weights, offset, alpha, nlambda, lambda_min_ratio, lambda_,
    standardize, intercept, thresh, dfmax, pmax, exclude, penalty_factor, lower_limits,
    upper_limits, maxit, device, dtype) are glmnet's. ``foldid`` (1-based fold numbers) overrides
    ``nfolds``; otherwise folds are a random permutation of rep(1..nfolds) drawn with
    ``numpy.random.default_rng(seed)``. ``type_measure``: "default", "mse", "deviance", "mae"
    (all families), "class" and "auc" (binomial). All folds are fitted in one engine call.

    relax=True cross-validates glmnet's relaxed fits too, as ``cv.glmnet(relax = TRUE)``: the
    full data's fit and every fold's get their relaxed fit (``maxp`` and ``path`` as in
    :func:`mlxs_glmnet.glmnet`), and each ``gamma`` (1 added when missing) blends them for the
    held-out predictions. The usual fields are gamma = 1's (the plain path's); ``relaxed`` holds
    glmnet's ``$relaxed``: the statistics per gamma, gamma_min / gamma_1se and the lambdas that go
    with them; ``predict`` / ``coef`` take ``gamma`` (default: the one chosen with ``s``)."""
    maxp, rpath = kwargs.pop("maxp", None), kwargs.pop("path", False)
    if not isinstance(relax, (bool, np.bool_)):
        raise TypeError("relax must be True or False")
    if not relax and (maxp is not None or rpath):
        raise TypeError("cv_glmnet(): maxp and path are relax=True's arguments")
    if relax:
        gam = np.atleast_1d(np.asarray(gamma, dtype=np.float64)) if not isinstance(gamma, str) \
            else np.array([np.nan])
        if gam.ndim != 1 or gam.size == 0 or not np.all((gam >= 0) & (gam <= 1)):
            raise ValueError(f"gamma must be numbers in [0, 1], got {gamma!r}")
        gam = np.sort(gam)
    unknown = sorted(set(kwargs) - _GLMNET_OPTIONS)
    if unknown:
        raise TypeError(f"cv_glmnet() got unexpected keyword argument(s): {', '.join(unknown)}")
    if not isinstance(family, str) or family not in _MEASURES:
        raise ValueError(f"family must be one of {sorted(_MEASURES)}, got {family!r}")
    measures = _MEASURES[family]
    if type_measure == "default":
        measure = measures[0]
    elif type_measure in measures:
        measure = type_measure
    else:
        raise ValueError(f"type_measure must be 'default' or one of {list(measures)} for "
                         f"family={family!r}, got {type_measure!r}")
    if alignment not in ("lambda", "fraction"):
        raise ValueError(f"alignment must be 'lambda' or 'fraction', got {alignment!r}")
    lam_user = kwargs.get("lambda_")
    if lam_user is not None:
        if np.asarray(lam_user).size < 2:
            raise ValueError("lambda_ needs more than one value for cv_glmnet")
        if alignment == "fraction":
            warnings.warn("alignment='fraction' is not available when lambda_ is given; "
                          "using alignment='lambda'", stacklevel=2)
            alignment = "lambda"
    for nm, v in (("keep", keep), ("grouped", grouped)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{nm} must be True or False")

    shape = getattr(x, "shape", None)
    if shape is None:
        x = np.asarray(x)
        shape = x.shape
    if len(shape) != 2:
        raise ValueError(f"x must be a 2-d matrix, got shape {tuple(shape)}")
    n = int(shape[0])

    if foldid is None:
        if isinstance(nfolds, bool) or not isinstance(nfolds, (int, np.integer)):
            raise ValueError(f"nfolds must be an integer, got {nfolds!r}")
        nfolds = int(nfolds)
        if nfolds < 3:
            raise ValueError(f"nfolds must be at least 3, got {nfolds}; nfolds=10 recommended")
        if nfolds > n:
            raise ValueError(f"nfolds must be at most the number of observations ({n}), got {nfolds}")
        rng = np.random.default_rng(seed)
        foldid = rng.permutation(np.resize(np.arange(1, nfolds + 1, dtype=np.int64), n))
        sizes = np.bincount(foldid, minlength=nfolds + 1)[1:]
    else:
        foldid, nfolds, sizes = api.fold_numbers(foldid, n, min_folds=3, counts=True)

    t0 = time.perf_counter()
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if trace_it else (lambda msg: None)
    # x, y and the options checked once, as glmnet_batch checks them; the fit below uses them
    args = api._batch_args(x, y, family, trace_it=trace_it, **kwargs)
    prepared = api._prepare_batch(args)
    prep = prepared[0]
    if prepared[2]:
        raise ValueError(f"y must be a vector (got shape {np.shape(prepared[1])})")
    yv = prep["Y"]                           # binomial: 0/1 for the second class
    w = prep["w"]

    # One engine call for everything: problem 0 is the full data (glmnet's fit on all rows),
    # problem k gives the rows of fold k weight 0, i.e. fits the training rows of fold k
    # (glmnet_batch's foldid: the (K + 1) x n weights are never formed on the way to a GPU).
    if family == "binomial":
        live = (w > 0).astype(np.float64)
        held_ones = np.bincount(foldid - 1, weights=live * yv, minlength=nfolds)
        held_all = np.bincount(foldid - 1, weights=live, minlength=nfolds)
        ones = (live @ yv) - held_ones
        zeros = (live.sum() - held_all) - ones
        bad = np.flatnonzero(np.minimum(ones, zeros) <= 1)
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"foldid: the training rows of fold {k + 1} hold {int(min(ones[k], zeros[k]))} "
                             f"observation(s) of one binomial class; at least 2 per class are needed "
                             f"(use fewer folds or stratify foldid)")
    say("Training")
    say(f"Fold: 1-{nfolds}/{nfolds} (full data and {nfolds} folds as {nfolds + 1} problems of one engine call)")
    args["foldid"] = api._Folds(foldid, nfolds, sizes)
    # (on a GPU: x goes up here, so that the held-out statistics and any relaxed refits read the
    # device's copy too)
    api._x_on_device(prep, family, args["device"], args["dtype"], args["type_gaussian"],
                     nfolds + 1, folds=True)
    fits = api._batch(prepared, args)
    fit, fold_fits = fits[0], fits[1:]
    if relax:                 # glmnet's relax.glmnet on the full data's fit and on every fold's
        say("Relaxed fits")
        fits = [_relax_problem(f, prep, family, args, maxp, rpath,
                               None if k == 0 else (foldid != k))
                for k, f in enumerate(fits)]
        fit, fold_fits = fits[0], fits[1:]
    say(f"Fitted ({time.perf_counter() - t0:.3f}s)")
    lam = np.asarray(fit.lambda_, dtype=np.float64)
    L = lam.shape[0]
    if L == 0:
        raise RuntimeError(f"the full-data fit returned no solution (jerr={fit.jerr})")
    nz = (np.asarray(fit.beta) != 0).sum(axis=0).astype(np.int64)

    offset = kwargs.get("offset")
    off = None if offset is None else np.asarray(offset, dtype=np.float64).reshape(-1)

    # The measure and grouping glmnet settles on before it computes the losses.
    if measure == "auc" and n / nfolds < 10:
        warnings.warn("Too few (< 10) observations per fold for type_measure='auc'; changed to "
                      "type_measure='deviance'. Alternatively, use smaller value for nfolds",
                      stacklevel=2)
        measure = "deviance"
    if grouped and n / nfolds < 3 and measure != "auc":
        warnings.warn("Option grouped=False enforced in cv_glmnet, since < 3 observations per fold",
                      stacklevel=2)
        grouped = False

    frows = _FoldRows(foldid, nfolds, sizes)
    cw = np.bincount(foldid, weights=w, minlength=nfolds + 1)[1:]     # the folds' weights

    def stats_at(g):
        """Held-out predictions of the folds' fits (blended with their relaxed fits at gamma
        g < 1) and glmnet's statistics of them: with x on a device all of it there, else on the
        host, where the predictions matrix (None when not kept) is formed only for keep, auc or
        grouped=False."""
        ffs = [ff if g == 1.0 else ff.blend(g) for ff in fold_fits]
        X = prep["X"]
        if isinstance(X, api.engine.mx.array):
            got = _device_stats([_fold_coefs(ff, k, lam, alignment) for k, ff in enumerate(ffs)],
                                X, frows, n, lam, off, family, measure, grouped, keep, yv, w, cw,
                                bool(prep.get("unit_w")))
            if got is not None:
                pm, cvraw, moments = got
                say(f"Fold: 1-{nfolds}/{nfolds} (held-out measures on the device)")
                if cvraw is not None:
                    return pm, _cv_summary(cvraw, cw, np.full(L, float(nfolds)), lam, nz)
                return pm, _moments_summary(*moments, float(n), lam, nz)
        if keep or measure == "auc" or not grouped:
            pm = _predmat(ffs, X, frows, n, lam, alignment, off, say)
            return pm, _cv_stats(pm, family, measure, grouped, yv, w, frows, cw, n, lam, nz)
        cvraw = _grouped_cvraw(ffs, X, frows, lam, alignment, off, family, measure, yv, w, say)
        return None, _cv_summary(cvraw, cw, np.full(L, float(nfolds)), lam, nz)

    predmat, (lam_out, cvm, cvsd, nz_out) = stats_at(1.0)
    if lam_out.size == 0:
        raise RuntimeError("cross-validation produced no finite measure at any lambda")
    relaxed = None
    if relax:
        statlist, pms = [], []
        for g in gam:
            if g == 1.0:
                pm, (lo_, m_, sd_, z_) = predmat, (lam_out, cvm, cvsd, nz_out)
            else:
                pm, (lo_, m_, sd_, z_) = stats_at(float(g))
            pms.append(pm)
            statlist.append(dict(lambda_=lo_, cvm=m_, cvsd=sd_, cvup=m_ + sd_, cvlo=m_ - sd_,
                                 nzero=z_))
        relaxed = dict(statlist=statlist, gamma=gam,
                       **_opt_relaxed(statlist, gam, measure == "auc"))
        if keep:        # glmnet keeps every gamma's held-out predictions, gamma 1's included
            gk = list(gam) + ([] if gam[-1] == 1.0 else [1.0])
            relaxed["fit_preval"] = {float(g): frames.label_obs(pm, fit.obs_index, lam)
                                     for g, pm in zip(gk, pms + ([] if gam[-1] == 1.0 else [predmat]))}
    nz = nz_out

    # glmnet's getOptcv.glmnet.
    score = -cvm if measure == "auc" else cvm
    lambda_min = float(np.max(lam_out[score <= np.min(score)]))
    idmin = int(np.flatnonzero(lam_out == lambda_min)[0])
    semin = score[idmin] + cvsd[idmin]
    ok = score <= semin
    lambda_1se = float(np.max(lam_out[ok]))
    id1se = int(np.flatnonzero(lam_out == lambda_1se)[0])

    label = _DEVNAME[family] if measure == "deviance" else _TYPENAMES[measure]
    say(f"Done ({time.perf_counter() - t0:.3f}s)")
    return CvGlmnetFit(
        lambda_=lam_out, cvm=cvm, cvsd=cvsd, cvup=cvm + cvsd, cvlo=cvm - cvsd, nzero=nz,
        name={measure: label}, glmnet_fit=fit, lambda_min=lambda_min, lambda_1se=lambda_1se,
        index=np.array([[idmin + 1], [id1se + 1]], dtype=np.int64), type_measure=measure,
        foldid=frames.label_obs(foldid.copy(), fit.obs_index) if keep else None,
        fit_preval=frames.label_obs(predmat, fit.obs_index, lam) if keep else None,
        relaxed=relaxed)


CVGlmnet = CvGlmnetFit   # the name used in the Python API docs; one class
