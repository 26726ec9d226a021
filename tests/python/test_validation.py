"""Input validation and input hygiene of mlxs_glmnet.glmnet.

Bad input must raise ValueError or TypeError whose message names the offending argument -- never a
crash, a hang or a silently wrong fit.  Where R glmnet 4.1 behaves differently we say so:

* NaN in x or y: glmnet errors ("x has missing values" / an unhelpful "missing value where
  TRUE/FALSE needed"); Inf in x or y: glmnet fits silently, garbage.  We reject both.
* negative weights: glmnet fails with "missing value where TRUE/FALSE needed".  We reject.
* alpha outside [0, 1]: glmnet warns and clamps ("alpha >1; set to 1"); so do we (see
  test_bad_inputs.py and the catalogue rpkg/tests/testthat/bad_inputs.txt).
* negative lambda: glmnet errors "lambdas should be non-negative".  Same here.
* user lambda not in decreasing order: glmnet silently sorts it (``ulam = rev(sort(lambda))``) and
  returns the path on the sorted values.  We accept either that behaviour (checked against a fit on
  the sorted values) or a ValueError naming lambda_.
* binomial y with more than two classes: glmnet errors (use multinomial); poisson y < 0: errors.

The caller's arrays are never modified (checked against copies), and read-only arrays work.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import mlxs_glmnet as mg
from datagen import make_data, make_weights

N, P = 60, 6


def _data(family="gaussian", seed=5):
    x, y, _ = make_data(family, N, P, seed)
    return x, y


def _raises_naming(name, fn):
    with pytest.raises((ValueError, TypeError)) as ei:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    msg = str(ei.value)
    assert re.search(rf"(?<![A-Za-z_]){re.escape(name)}", msg), \
        f"error message does not name {name!r}: {type(ei.value).__name__}: {msg}"
    return ei.value


def _with(a, idx, val):
    a = np.array(a, dtype=np.float64)
    a[idx] = val
    return a


X, Y = _data()
XB, YB = _data("binomial")
XP, YP = _data("poisson")

BAD = [
    # (id, argument named in the message, family, kwargs for glmnet)
    ("x_nan", "x", "gaussian", dict(x=_with(X, (3, 2), np.nan))),
    ("x_inf", "x", "gaussian", dict(x=_with(X, (0, 0), np.inf))),
    ("x_neg_inf", "x", "binomial", dict(x=_with(XB, (5, 1), -np.inf), y=YB)),
    ("x_1d", "x", "gaussian", dict(x=X[:, 0])),
    ("x_3d", "x", "gaussian", dict(x=X[None])),
    ("x_strings", "x", "gaussian", dict(x=np.full((N, P), "a"))),
    ("x_empty", "x", "gaussian", dict(x=np.empty((N, 0)))),
    ("y_nan", "y", "gaussian", dict(y=_with(Y, 4, np.nan))),
    ("y_inf", "y", "gaussian", dict(y=_with(Y, 4, np.inf))),
    ("y_short", "y", "gaussian", dict(y=Y[:-1])),
    ("y_2cols", "y", "gaussian", dict(y=np.c_[Y, Y])),
    ("y_binomial_3_classes", "y", "binomial", dict(x=XB, y=np.arange(N) % 3)),
    ("y_binomial_1_class", "y", "binomial", dict(x=XB, y=np.ones(N))),
    ("y_binomial_nan", "y", "binomial", dict(x=XB, y=_with(YB, 0, np.nan))),
    ("y_poisson_negative", "y", "poisson", dict(x=XP, y=_with(YP, 7, -1.0))),
    ("y_poisson_nan", "y", "poisson", dict(x=XP, y=_with(YP, 7, np.nan))),
    ("weights_negative", "weights", "gaussian", dict(weights=_with(np.ones(N), 3, -0.5))),
    ("weights_nan", "weights", "gaussian", dict(weights=_with(np.ones(N), 3, np.nan))),
    ("weights_inf", "weights", "binomial", dict(x=XB, y=YB, weights=_with(np.ones(N), 3, np.inf))),
    ("weights_length", "weights", "gaussian", dict(weights=np.ones(N + 1))),
    ("weights_all_zero", "weights", "gaussian", dict(weights=np.zeros(N))),
    ("offset_length", "offset", "poisson", dict(x=XP, y=YP, offset=np.zeros(N - 2))),
    ("offset_nan", "offset", "binomial", dict(x=XB, y=YB, offset=_with(np.zeros(N), 1, np.nan))),
    ("alpha_nan", "alpha", "gaussian", dict(alpha=float("nan"))),
    ("alpha_string", "alpha", "gaussian", dict(alpha="0.5")),
    ("lambda_negative", "lambda", "gaussian", dict(lambda_=np.array([0.5, 0.1, -0.01]))),
    ("lambda_nan", "lambda", "gaussian", dict(lambda_=np.array([0.5, np.nan]))),
    ("lambda_inf", "lambda", "gaussian", dict(lambda_=np.array([np.inf, 0.1]))),
    ("lambda_empty", "lambda", "gaussian", dict(lambda_=np.array([]))),
    ("nlambda_zero", "nlambda", "gaussian", dict(nlambda=0)),
    ("nlambda_float", "nlambda", "gaussian", dict(nlambda=10.5)),
    ("lambda_min_ratio_one", "lambda_min_ratio", "gaussian", dict(lambda_min_ratio=1.0)),
    ("lambda_min_ratio_negative", "lambda_min_ratio", "gaussian", dict(lambda_min_ratio=-0.1)),
    ("penalty_factor_negative", "penalty_factor", "gaussian",
     dict(penalty_factor=_with(np.ones(P), 0, -1.0))),
    ("penalty_factor_length", "penalty_factor", "gaussian", dict(penalty_factor=np.ones(P + 2))),
    ("penalty_factor_nan", "penalty_factor", "gaussian",
     dict(penalty_factor=_with(np.ones(P), 1, np.nan))),
    ("exclude_out_of_range", "exclude", "gaussian", dict(exclude=[0, P])),
    ("exclude_negative", "exclude", "gaussian", dict(exclude=[-1])),
    ("lower_limits_positive", "lower_limits", "gaussian", dict(lower_limits=0.1)),
    ("lower_limits_length", "lower_limits", "gaussian", dict(lower_limits=-np.ones(P - 1))),
    ("upper_limits_negative", "upper_limits", "gaussian", dict(upper_limits=-0.1)),
    ("upper_limits_nan", "upper_limits", "gaussian", dict(upper_limits=_with(np.ones(P), 2, np.nan))),
    ("family_unknown", "family", "gamma", dict()),
    ("thresh_zero", "thresh", "gaussian", dict(thresh=0.0)),
    ("thresh_negative", "thresh", "gaussian", dict(thresh=-1e-7)),
    ("dfmax_negative", "dfmax", "gaussian", dict(dfmax=-1)),
    ("pmax_negative", "pmax", "gaussian", dict(pmax=-3)),
    ("maxit_zero", "maxit", "gaussian", dict(maxit=0)),
    ("standardize_string", "standardize", "gaussian", dict(standardize="yes")),
    ("intercept_string", "intercept", "gaussian", dict(intercept="no")),
]


@pytest.mark.parametrize("arg,family,kw", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_naming_the_argument(arg, family, kw):
    kw = dict(kw)
    x = kw.pop("x", X)
    y = kw.pop("y", Y)
    _raises_naming(arg, lambda: mg.glmnet(x, y, family, **kw))


def test_user_lambda_in_increasing_order():
    """glmnet sorts a user lambda decreasingly and fits that; an error naming lambda_ is also
    acceptable, anything else (a silently different path) is not."""
    lam = np.array([0.01, 0.2, 0.05, 0.1])
    try:
        fit = mg.glmnet(X, Y, lambda_=lam, thresh=1e-12)
    except (ValueError, TypeError) as e:
        assert "lambda" in str(e), f"error does not name lambda_: {e}"
        return
    ref = mg.glmnet(X, Y, lambda_=np.sort(lam)[::-1], thresh=1e-12)
    np.testing.assert_allclose(fit.lambda_, np.sort(lam)[::-1], rtol=1e-12)
    np.testing.assert_allclose(fit.beta, ref.beta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.a0, ref.a0, rtol=0, atol=1e-10)


def test_constant_gaussian_y_raises():
    _raises_naming("y", lambda: mg.glmnet(X, np.full(N, 3.0)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n", [300, 300000])
def test_gaussian_y_not_finite_named_first(bad, n):
    """A large gaussian y without weights is tested for finiteness by its moments' pass (one read
    of y): a NaN or an infinity anywhere is still "y contains NaN", and still before the other
    arguments' checks (alpha here)."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 3))
    y = x[:, 0] + rng.standard_normal(n)
    y[n - 7] = bad
    with pytest.raises(ValueError, match="y contains NaN or infinite"):
        mg.glmnet(x, y)
    with pytest.raises(ValueError, match="y contains NaN or infinite"):
        mg.glmnet(x, y, alpha="high")
    y2 = y.copy()
    y2[n - 7] = 1.0
    assert mg.glmnet(x, y2, nlambda=3).lambda_.shape == (3,)


@pytest.mark.parametrize("n", [300, 300000])
@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_y_too_large_is_not_called_constant(n, weighted):
    """A finite y whose variance overflows double precision is named as too large (it used to be
    reported as constant); a constant y, however large, is constant."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 3))
    y = rng.standard_normal(n)
    y[5] = 1e300
    w = np.ones(n) if weighted else None
    with pytest.raises(ValueError, match="y is too large"):
        mg.glmnet(x, y, weights=w)
    for c in (3.0, 1e300):
        with pytest.raises(ValueError, match="y is constant"):
            mg.glmnet(x, np.full(n, c), weights=w)


def test_predict_validation():
    fit = mg.glmnet(X, Y)
    _raises_naming("newx", lambda: fit.predict(X[:, :-1], s=0.1))
    _raises_naming("newx", lambda: fit.predict(_with(X, (0, 0), np.nan), s=0.1))
    _raises_naming("type", lambda: fit.predict(X, s=0.1, type="probability"))
    _raises_naming("s", lambda: fit.predict(X, s=-1.0))
    _raises_naming("s", lambda: fit.coef(s=np.nan))
    fb = mg.glmnet(XB, YB, "binomial", offset=np.zeros(N))
    _raises_naming("newoffset", lambda: fb.predict(XB, s=0.01))


def test_maxit_reached_warns_and_sets_jerr():
    """Non-convergence within maxit warns (RuntimeWarning-like) and sets jerr < 0 as glmnet does,
    returning the solutions for the larger lambdas."""
    x, y, _ = make_data("gaussian", 200, 30, 77)
    with pytest.warns(Warning, match="maxit|converge"):
        fit = mg.glmnet(x, y, maxit=3, thresh=1e-14)
    assert fit.jerr < 0, fit.jerr
    assert len(fit.lambda_) < 100
    assert np.isfinite(fit.beta).all() and np.isfinite(fit.a0).all()


# --------------------------------------------------------------------------- input hygiene
def _all_arrays(family, order):
    x, y, off = make_data(family, 120, 9, 31, with_offset=True)
    x = np.asfortranarray(x) if order == "F" else np.ascontiguousarray(x)
    lo = np.full(9, -np.inf)
    lo[2] = -0.1
    hi = np.full(9, np.inf)
    hi[5] = 0.2
    pf = np.ones(9)
    pf[0] = 0.0
    return dict(x=x, y=y, weights=make_weights(120, 31), offset=off, penalty_factor=pf,
                lower_limits=lo, upper_limits=hi, exclude=np.array([7]),
                lambda_=np.array([0.3, 0.1, 0.03, 0.01]))


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("readonly", [False, True], ids=["writeable", "readonly"])
def test_inputs_not_modified_and_readonly_ok(family, order, readonly):
    arrs = _all_arrays(family, order)
    copies = {k: v.copy(order="K") for k, v in arrs.items()}
    if readonly:
        for v in arrs.values():
            v.setflags(write=False)
    kw = {k: v for k, v in arrs.items() if k not in ("x", "y")}
    fit = mg.glmnet(arrs["x"], arrs["y"], family, alpha=0.6, **kw)
    fit2 = mg.glmnet(arrs["x"], arrs["y"], family, **{k: v for k, v in kw.items() if k != "lambda_"})
    fit.predict(arrs["x"], s=0.05, newoffset=arrs["offset"])
    fit2.coef(s=np.array([0.05, 0.001]))
    for k, v in arrs.items():
        assert np.array_equal(v, copies[k]), f"{k} was modified by glmnet()"
        assert v.flags.f_contiguous == copies[k].flags.f_contiguous
    # same numbers whatever the memory order / writeability
    ref = mg.glmnet(np.ascontiguousarray(copies["x"]), copies["y"], family, alpha=0.6,
                    **{k: copies[k] for k in kw})
    np.testing.assert_allclose(fit.beta, ref.beta, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fit.a0, ref.a0, rtol=0, atol=1e-12)


def test_pandas_input_not_modified():
    pd = pytest.importorskip("pandas")
    x, y, _ = make_data("gaussian", 80, 5, 12)
    df = pd.DataFrame(x, columns=[f"v{i}" for i in range(5)])
    ys = pd.Series(y)
    df0, ys0 = df.copy(), ys.copy()
    mg.glmnet(df, ys)
    pd.testing.assert_frame_equal(df, df0)
    pd.testing.assert_series_equal(ys, ys0)


@pytest.mark.parametrize("order", ["C", "F", "strided"])
@pytest.mark.parametrize("threads", [False, True])
def test_x_finiteness_by_block_sums(monkeypatch, order, threads):
    """x's finiteness test without an x-sized temporary: a NaN or an infinity anywhere (first,
    last, inside a block) is found in either memory order and in a strided view; finite values
    whose sums overflow are not taken for infinities; the blocks spread over threads alike."""
    from mlxs_glmnet import api, engine
    # (blocks far smaller than the default, so that this x takes the block sums)
    monkeypatch.setattr(api, "_FINITE_BLOCK", 1000 if threads else 4096)
    if threads:
        monkeypatch.setattr(engine, "_cpu_threads", lambda: 4)
    rng = np.random.default_rng(2)
    base = rng.standard_normal((300, 80))

    def view(a):
        a = np.asarray(a, order="F") if order == "F" else a
        return a[:, ::2] if order == "strided" else a
    assert api._all_finite(view(base))
    assert api._all_finite(view(np.full((300, 80), 1e308)))
    for (i, j, v) in [(0, 0, np.nan), (299, 78, np.inf), (151, 40, -np.inf), (7, 62, np.nan)]:
        b = base.copy()
        b[i, j] = v
        assert not api._all_finite(view(b))
        with pytest.raises(ValueError, match="x contains NaN or infinite"):
            mg.glmnet(view(b), rng.standard_normal(300))


def test_glmnet_control_values_and_reset():
    """glmnet_control sets the path-shaping parameters for later fits (fdev=0: every lambda),
    checks them by name, and factory=True restores glmnet's values."""
    from mlxs_glmnet import engine
    rng = np.random.default_rng(9)
    x = rng.standard_normal((80, 6))
    y = x[:, 0] - x[:, 1] + 0.5 * rng.standard_normal(80)
    try:
        assert mg.glmnet_control() == engine.CONTROL_DEFAULTS
        n_default = len(mg.glmnet(x, y).lambda_)
        assert n_default < 100
        assert mg.glmnet_control(fdev=0)["fdev"] == 0.0
        assert len(mg.glmnet(x, y).lambda_) == 100
        mg.glmnet_control(devmax=0.5)
        assert len(mg.glmnet(x, y).lambda_) < n_default
        for bad in (dict(fdev=-1), dict(fdev=1.5), dict(devmax=0), dict(mnlam=0), dict(mnlam=2.5),
                    dict(pmin=0.7), dict(eps="small"), dict(devmax=float("nan"))):
            name = next(iter(bad))
            with pytest.raises(ValueError, match=name):
                mg.glmnet_control(**bad)
    finally:
        assert mg.glmnet_control(factory=True) == engine.CONTROL_DEFAULTS
    assert len(mg.glmnet(x, y).lambda_) == n_default
