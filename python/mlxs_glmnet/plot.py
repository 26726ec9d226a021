"""matplotlib plots of a path and of a CV curve, drawn as R glmnet draws them.

matplotlib is an optional dependency (``pip install matplotlib``); it is imported only when a plot
is asked for. Both functions draw into ``ax`` (a new figure when None) and return the Axes.

- :func:`plot_fit` (``GlmnetFit.plot``) is glmnet's ``plot.glmnet``/``plotCoef``: one line per
  variable that is ever non-zero, against the L1 norm of the coefficients (``xvar="norm"``, the
  default), log(lambda) (``"lambda"``) or the fraction of deviance explained (``"dev"``); the top
  axis gives the number of non-zero coefficients at the bottom axis' ticks (step interpolation as
  glmnet's ``approx(..., method = "constant")``); ``label=True`` writes the variable names at the
  end of the lines.
- :func:`plot_cv` (``CvGlmnetFit.plot``) is glmnet's ``plot.cv.glmnet``: red points at the mean CV
  measure against log(lambda), dark grey error bars (cvlo..cvup), the number of non-zero
  coefficients along the top, dotted vertical lines at lambda_min and lambda_1se. A relaxed
  cross-validation (``relax=True``) draws glmnet's ``plot.cv.relaxed``: one curve per gamma
  (coloured from gamma 0 to 1, with its standard-error band) and the lines at the relaxed
  optimum's lambdas.
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["plot_fit", "plot_cv"]

# R's default palette, colours 1:6 (matplot's default col = 1:6, lty = 1)
_R_COLS = ["#000000", "#DF536B", "#61D04F", "#2297E6", "#28E2E5", "#CD0BBC"]
_XVARS = ("norm", "lambda", "dev")


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - CI installs matplotlib
        raise ImportError("plotting needs matplotlib (pip install matplotlib)") from e
    return plt


def _axes(ax, figsize=None):
    if ax is not None:
        return ax
    plt = _plt()
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _step_at(x, y, xout, f):
    """R's approx(x, y, xout, method = "constant", f = f, rule = 2)."""
    order = np.argsort(x, kind="mergesort")
    xs, ys = np.asarray(x, dtype=float)[order], np.asarray(y, dtype=float)[order]
    out = np.empty(len(xout))
    for k, v in enumerate(xout):
        if v <= xs[0]:
            out[k] = ys[0]
        elif v >= xs[-1]:
            out[k] = ys[-1]
        else:
            i = int(np.searchsorted(xs, v, side="right")) - 1
            out[k] = ys[i] if (xs[i] == v or f == 0) else ys[i + 1]
    return out


def _pretty(lo, hi, n=6):
    """Ticks like R's pretty(): round steps of 1, 2, 5 x 10^k covering [lo, hi]."""
    from matplotlib.ticker import MaxNLocator
    if not np.isfinite(lo) or not np.isfinite(hi):
        return np.array([])
    if hi == lo:
        return np.array([lo])
    ticks = MaxNLocator(nbins=n, steps=[1, 2, 5, 10]).tick_values(lo, hi)
    eps = 1e-10 * (hi - lo)
    return ticks[(ticks >= lo - eps) & (ticks <= hi + eps)]


def plot_fit(fit, xvar: str = "norm", label: bool = False, ax=None, figsize=None, **kwargs):
    """Coefficient paths of a GlmnetFit (glmnet's plot.glmnet). Extra keyword arguments go to
    ``Axes.plot`` for every line. Returns the Axes."""
    if xvar not in _XVARS:
        raise ValueError(f"xvar must be one of {list(_XVARS)}, got {xvar!r}")
    if not isinstance(label, (bool, np.bool_)):
        raise TypeError("label must be True or False")
    beta = np.asarray(fit.beta, dtype=float)
    which = np.flatnonzero(np.any(beta != 0, axis=1))
    ax = _axes(ax, figsize)
    if which.size == 0:
        warnings.warn("No plot produced since all coefficients zero", stacklevel=2)
        return ax
    if which.size == 1:
        warnings.warn("1 or less nonzero coefficients; glmnet plot is not meaningful", stacklevel=2)
    b = beta[which]
    if xvar == "norm":
        index, xlab, f = np.abs(b).sum(axis=0), "L1 Norm", 1
    elif xvar == "lambda":
        with np.errstate(divide="ignore"):
            index, xlab, f = np.log(np.asarray(fit.lambda_, dtype=float)), "Log Lambda", 0
    else:
        index, xlab, f = np.asarray(fit.dev_ratio, dtype=float), "Fraction Deviance Explained", 1
    for j in range(b.shape[0]):
        ax.plot(index, b[j], color=_R_COLS[j % len(_R_COLS)], linestyle="-", **kwargs)
    ax.set_xlabel(xlab)
    ax.set_ylabel("Coefficients")
    finite = index[np.isfinite(index)]
    if finite.size:
        at = _pretty(finite.min(), finite.max())
        dfs = _step_at(index, np.asarray(fit.df, dtype=float), at, f)
        top = ax.secondary_xaxis("top")
        top.set_xticks(at)
        top.set_xticklabels([str(int(d)) for d in dfs])
    if label:
        names = getattr(fit, "feature_names", None)
        labels = [names[j] if names is not None else str(j + 1) for j in which]
        if xvar == "lambda":
            xpos, ha = np.nanmin(finite) if finite.size else 0.0, "right"
        else:
            xpos, ha = np.nanmax(finite) if finite.size else 0.0, "left"
        for lab, yv in zip(labels, b[:, -1]):
            ax.text(xpos, yv, lab, fontsize=6, ha=ha, va="center")
    return ax


def plot_cv(cv, sign_lambda: float = 1, ax=None, figsize=None, **kwargs):
    """The CV curve of a CvGlmnetFit (glmnet's plot.cv.glmnet; relax=True: plot.cv.relaxed).
    Extra keyword arguments go to the scatter of the mean measure (the curves, relaxed).
    Returns the Axes."""
    if not isinstance(sign_lambda, (int, float, np.integer, np.floating)) or sign_lambda == 0:
        raise ValueError(f"sign_lambda must be 1 or -1, got {sign_lambda!r}")
    sgn = 1.0 if sign_lambda > 0 else -1.0
    if getattr(cv, "relaxed", None) is not None:
        return _plot_cv_relaxed(cv, sgn, _axes(ax, figsize), **kwargs)
    lam = np.asarray(cv.lambda_, dtype=float)
    with np.errstate(divide="ignore"):
        xs = sgn * np.log(lam)
    cvm, up, lo = (np.asarray(v, dtype=float) for v in (cv.cvm, cv.cvup, cv.cvlo))
    ax = _axes(ax, figsize)
    ok = np.isfinite(xs)
    span = np.ptp(xs[ok]) if ok.any() else 0.0
    w = 0.01 * span
    ax.vlines(xs, lo, up, colors="darkgrey", linewidth=1)
    ax.hlines(up, xs - w, xs + w, colors="darkgrey", linewidth=1)
    ax.hlines(lo, xs - w, xs + w, colors="darkgrey", linewidth=1)
    opts = dict(s=12, color="red", zorder=3)
    opts.update(kwargs)
    ax.scatter(xs, cvm, **opts)
    for v in (cv.lambda_min, cv.lambda_1se):
        ax.axvline(sgn * np.log(v), color="black", linestyle=":", linewidth=1)
    (_, label), = cv.name.items() if isinstance(cv.name, dict) else [(None, str(cv.name))]
    ax.set_ylabel(label)
    ax.set_xlabel(("-" if sgn < 0 else "") + r"Log($\lambda$)")
    # glmnet labels every lambda on top and R drops the labels that would overlap; keep about 12
    top = ax.secondary_xaxis("top")
    step = max(1, int(np.ceil(len(xs) / 12)))
    keep = np.arange(0, len(xs), step)
    top.set_xticks(xs[keep])
    top.set_xticklabels([str(int(z)) for z in np.asarray(cv.nzero)[keep]])
    top.tick_params(length=0)
    return ax


def _plot_cv_relaxed(cv, sgn, ax, **kwargs):
    r = cv.relaxed
    gam = np.asarray(r["gamma"], dtype=float)
    cmap = _plt().get_cmap("autumn")
    for g, st in zip(gam, r["statlist"]):
        with np.errstate(divide="ignore"):
            xs = sgn * np.log(np.asarray(st["lambda_"], dtype=float))
        col = cmap(1.0 - g if gam.size > 1 else 0.0)
        ax.fill_between(xs, st["cvlo"], st["cvup"], color=col, alpha=0.12, linewidth=0)
        opts = dict(color=col, linewidth=1.5, label=f"gamma = {g:g}")
        opts.update(kwargs)
        ax.plot(xs, st["cvm"], **opts)
    for v in (r["lambda_min"], r["lambda_1se"]):
        ax.axvline(sgn * np.log(v), color="black", linestyle=":", linewidth=1)
    (_, label), = cv.name.items() if isinstance(cv.name, dict) else [(None, str(cv.name))]
    ax.set_ylabel(label)
    ax.set_xlabel(("-" if sgn < 0 else "") + r"Log($\lambda$)")
    ax.legend(title=r"$\gamma$", fontsize="small")
    return ax
