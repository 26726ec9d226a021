"""Plots (matplotlib, Agg backend): coefficient paths and the CV curve, rendered to PNG files."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import mlxs_glmnet as mg
from mlxs_glmnet.plot import _step_at

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

W, H, DPI = 640, 480, 80          # pixels of the rendered files


@pytest.fixture(scope="module")
def fits():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 12))
    y = x[:, :4] @ np.array([2.0, -1.5, 1.0, 0.5]) + rng.standard_normal(300)
    return mg.glmnet(x, y), mg.cv_glmnet(x, y, nfolds=5, seed=1), mg.cv_glmnet(
        x, y > 0, "binomial", type_measure="auc", nfolds=5, seed=1)


def _render(ax, path):
    fig = ax.figure
    fig.set_size_inches(W / DPI, H / DPI)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    img = mpimg.imread(path)
    assert img.shape[:2] == (H, W)                     # the requested pixel size
    rgb = img[..., :3]
    ink = (rgb.min(axis=2) < 0.9).mean()               # fraction of non-white pixels
    assert 0.01 < ink < 0.6, ink
    return rgb


def _red(rgb):
    return ((rgb[..., 0] > 0.8) & (rgb[..., 1] < 0.3) & (rgb[..., 2] < 0.3)).sum()


@pytest.mark.parametrize("xvar,xlab", [("norm", "L1 Norm"), ("lambda", "Log Lambda"),
                                       ("dev", "Fraction Deviance Explained")])
def test_path_plot(fits, tmp_path, xvar, xlab):
    fit = fits[0]
    ax = fit.plot(xvar=xvar)
    active = np.flatnonzero(np.any(fit.beta != 0, axis=1))
    lines = ax.get_lines()
    assert len(lines) == active.size                   # one line per variable ever non-zero
    index = {"norm": np.abs(fit.beta).sum(axis=0), "lambda": np.log(fit.lambda_),
             "dev": fit.dev_ratio}[xvar]
    for ln, j in zip(lines, active):
        np.testing.assert_allclose(ln.get_xdata(), index)
        np.testing.assert_allclose(ln.get_ydata(), fit.beta[j])
    assert ax.get_xlabel() == xlab and ax.get_ylabel() == "Coefficients"
    _render(ax, tmp_path / f"path_{xvar}.png")


def test_relaxed_path_plot(fits, tmp_path):
    """plot(gamma=) of a relax=True fit draws the blend of the path and its relaxed fit, as
    glmnet's plot.relaxed; gamma = 1 is the path's own plot."""
    x = np.random.default_rng(4).standard_normal((300, 12))
    y = x[:, :4] @ np.array([2.0, -1.5, 1.0, 0.5]) + np.random.default_rng(5).standard_normal(300)
    fit = mg.glmnet(x, y, relax=True)
    blend = fit.blend(0.25)
    ax = fit.plot(xvar="lambda", gamma=0.25)
    active = np.flatnonzero(np.any(blend.beta != 0, axis=1))
    for ln, j in zip(ax.get_lines(), active):
        np.testing.assert_allclose(ln.get_ydata(), blend.beta[j])
    assert not np.allclose(blend.beta, fit.beta)
    _render(ax, tmp_path / "relaxed.png")
    ax1 = fit.plot(xvar="lambda", gamma=1.0)
    for ln, j in zip(ax1.get_lines(), np.flatnonzero(np.any(fit.beta != 0, axis=1))):
        np.testing.assert_allclose(ln.get_ydata(), fit.beta[j])
    plt.close(ax1.figure)


def test_relaxed_cv_plot(tmp_path):
    """A relaxed cross-validation draws one curve per gamma (glmnet's plot.cv.relaxed) with the
    lines at the relaxed optimum's lambdas."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((200, 10))
    y = x[:, :3] @ np.array([1.0, -1.0, 0.5]) + rng.standard_normal(200)
    cv = mg.cv_glmnet(x, y, relax=True, gamma=[0.0, 0.5], seed=2)
    ax = cv.plot()
    curves = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    assert len(curves) == 2                                  # the gammas asked for: 0, 0.5
    for ln, st in zip(curves, cv.relaxed["statlist"]):
        np.testing.assert_allclose(ln.get_ydata(), st["cvm"])
    vlines = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    np.testing.assert_allclose(sorted(ln.get_xdata()[0] for ln in vlines),
                               sorted(np.log([cv.relaxed["lambda_min"], cv.relaxed["lambda_1se"]])))
    _render(ax, tmp_path / "cv_relaxed.png")


def test_path_plot_top_axis_and_labels(fits, tmp_path):
    fit = fits[0]
    fig, ax = plt.subplots()
    assert fit.plot(xvar="lambda", label=True, ax=ax) is ax          # draws into the given axes
    top = [c for c in ax.child_axes]
    assert len(top) == 1
    ticks = top[0].get_xticks()
    labels = [t.get_text() for t in top[0].get_xticklabels()]
    # glmnet: df at the ticks by approx(method = "constant", f = 0) for log(lambda)
    want = _step_at(np.log(fit.lambda_), fit.df, ticks, 0)
    assert labels == [str(int(v)) for v in want]
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(j + 1) for j in np.flatnonzero(np.any(fit.beta != 0, axis=1))]
    _render(ax, tmp_path / "labels.png")


def test_step_interpolation_like_R_approx():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([10.0, 20.0, 30.0])
    np.testing.assert_array_equal(_step_at(x, y, [-1, 0, 0.5, 1, 1.5, 3], 0), [10, 10, 10, 20, 20, 30])
    np.testing.assert_array_equal(_step_at(x, y, [-1, 0, 0.5, 1, 1.5, 3], 1), [10, 10, 20, 20, 30, 30])
    # decreasing x (log lambda along the path) is sorted first, as approx() does
    np.testing.assert_array_equal(_step_at(x[::-1], y[::-1], [0.5], 0), [10])


def test_cv_plot(fits, tmp_path):
    cv = fits[1]
    ax = cv.plot()
    pts = ax.collections[-1].get_offsets()
    np.testing.assert_allclose(pts[:, 0], np.log(cv.lambda_))
    np.testing.assert_allclose(pts[:, 1], cv.cvm)
    vl = [ln.get_xdata()[0] for ln in ax.get_lines()]
    np.testing.assert_allclose(sorted(vl), sorted(np.log([cv.lambda_min, cv.lambda_1se])))
    bars = ax.collections[0].get_segments()              # error bars from cvlo to cvup
    np.testing.assert_allclose([s[:, 1].min() for s in bars], cv.cvlo)
    np.testing.assert_allclose([s[:, 1].max() for s in bars], cv.cvup)
    assert ax.get_ylabel() == "Mean-Squared Error" and "Log" in ax.get_xlabel()
    rgb = _render(ax, tmp_path / "cv.png")
    assert _red(rgb) > 50                                 # the red points are there

    ax = fits[2].plot(sign_lambda=-1)
    assert ax.get_ylabel() == "AUC" and ax.get_xlabel().startswith("-")
    np.testing.assert_allclose(ax.collections[-1].get_offsets()[:, 0], -np.log(fits[2].lambda_))
    _render(ax, tmp_path / "cv_auc.png")


def test_bad_arguments_and_degenerate_paths(fits):
    fit, cv = fits[0], fits[1]
    with pytest.raises(ValueError, match="xvar must be one of"):
        fit.plot(xvar="lam")
    with pytest.raises(TypeError, match="label must be"):
        fit.plot(label="yes")
    with pytest.raises(ValueError, match="sign_lambda"):
        cv.plot(sign_lambda=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3))
    one = mg.glmnet(x, x[:, 0] * 3 + 0.1 * rng.standard_normal(50), lambda_=[5.0, 4.0])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ax = one.plot()
    assert any("No plot produced" in str(m.message) for m in w) and not ax.get_lines()
    plt.close("all")
