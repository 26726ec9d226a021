"""The R-facing contract of mlxs_glmnet.rbridge (what the R package relies on), and the
dict-returning variants for other callers."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import mlxs_glmnet as mg
from mlxs_glmnet import rbridge


def _data(seed=0, n=120, p=9):
    rng = np.random.default_rng(seed)
    x = np.asfortranarray(rng.standard_normal((n, p)))
    x[:, 4] = 0.0                                      # a column that never enters
    eta = x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2]
    return x, eta, rng


def _same(d, fit):
    np.testing.assert_array_equal(d["a0"], fit.a0)
    np.testing.assert_array_equal(d["beta"], fit.beta)
    np.testing.assert_array_equal(d["lambda"], fit.lambda_)
    np.testing.assert_array_equal(d["df"], fit.df)
    np.testing.assert_array_equal(d["dim"], fit.dim)
    np.testing.assert_array_equal(d["dev_ratio"], fit.dev_ratio)
    # (the null deviance to rounding: a fit without weights sums y's moments in one pass around
    # a centre, one with weights around the mean)
    assert d["nulldev"] == pytest.approx(fit.nulldev, rel=1e-13)
    assert d["npasses"] == fit.npasses and d["jerr"] == fit.jerr
    assert d["offset"] == fit.offset and d["nobs"] == fit.nobs


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_packed_fit_unpacks_to_the_fit(family):
    x, eta, rng = _data(1)
    y = {"gaussian": eta + rng.standard_normal(120),
         "binomial": (eta + rng.logistic(size=120) > 0).astype(float),
         "poisson": rng.poisson(np.exp(0.3 * eta)).astype(float)}[family]
    kw = dict(offset=np.full(120, 0.1)) if family == "poisson" else {}
    fit = mg.glmnet(x, y, family, **kw)
    packed = rbridge._pack_fit(fit)
    assert set(packed) == {"d", "i", "classnames"}          # three objects cross to R, no more
    assert packed["d"].dtype == np.float64 and packed["i"].dtype == np.int32
    _same(rbridge.unpack_fit(packed), fit)


def test_r_entry_point_flat_arguments_and_errors():
    x, eta, rng = _data(2)
    y = eta + rng.standard_normal(120)
    out = rbridge.fit(x, y, "gaussian", [0.5, 30.0, float("nan"), 1.0], ["alpha", "nlambda",
                      "lambda_min_ratio", "standardize"], ["covariance"], ["type_gaussian"],
                      {"weights": np.ones(120)})
    assert set(out) == {"result", "warnings"} and out["warnings"] == []
    ref = mg.glmnet(x, y, alpha=0.5, nlambda=30, type_gaussian="covariance")
    _same(rbridge.unpack_fit(out["result"]), ref)
    # bad input never raises here: the message comes back as text naming the argument
    bad = rbridge.fit(x, y[:-1], "gaussian", [], [], [], [], None)
    assert set(bad) == {"error", "warnings"} and bad["error"].startswith("y")
    bad = rbridge.fit(x, y, "gaussian", [-3.0], ["nlambda"], [], [], None)
    assert "nlambda" in bad["error"]
    cv = rbridge.cv_fit(x, y, "gaussian", [1.0], ["keep"], ["mse"], ["type_measure"],
                        {"foldid": np.resize(np.arange(1, 5), 120)})
    res = cv["result"]
    nlam = int(res["glmnet_fit"]["i"][0])
    assert res["fit_preval"].shape == (120, nlam) and res["foldid"].dtype == np.int32
    assert res["name_key"] == "mse" and res["index"].shape == (2,)


def test_relaxed_fit_crosses_as_one_more_packed_fit():
    """relax = TRUE through the R entry point: the relaxed fit packed like the path, under
    "relaxed", unpacking to the engine's fit.relaxed."""
    x, eta, rng = _data(3)
    y = eta + rng.standard_normal(120)
    out = rbridge.fit(x, y, "gaussian", [1.0, 6.0, 0.0], ["relax", "maxp", "path"], [], [], None)
    ref = mg.glmnet(x, y, relax=True, maxp=6)
    res = out["result"]
    assert set(res) == {"d", "i", "classnames", "relaxed"}
    d = rbridge.unpack_fit(res)
    _same(d, dataclasses.replace(ref, relaxed=None))
    _same(d["relaxed"], ref.relaxed)
    assert d["relaxed"]["beta"].shape[1] < d["beta"].shape[1]      # maxp left lambdas out
    assert "relaxed" not in rbridge.unpack_fit(rbridge._pack_fit(mg.glmnet(x, y)))


def test_dict_variants():
    x, eta, rng = _data(3)
    yb = (eta + rng.logistic(size=120) > 0)
    d = rbridge.fit_dict(x, yb, "binomial", alpha=0.3)
    _same(d, mg.glmnet(x, yb, "binomial", alpha=0.3))
    assert d["classnames"] == ["FALSE", "TRUE"]
    assert all(isinstance(v, (np.ndarray, int, float, bool, list)) for v in d.values())
    c = rbridge.cv_fit_dict(x, yb, "binomial", nfolds=4, seed=1, type_measure="class")
    ref = mg.cv_glmnet(x, yb, "binomial", nfolds=4, seed=1, type_measure="class")
    np.testing.assert_array_equal(c["cvm"], ref.cvm)
    assert c["lambda_min"] == ref.lambda_min and c["name_key"] == "class"
    _same(c["glmnet_fit"], ref.glmnet_fit)
    with pytest.raises(ValueError, match="^y"):
        rbridge.fit_dict(x, yb[:-1], "binomial")
    with pytest.raises(ValueError, match="nfolds"):
        rbridge.cv_fit_dict(x, yb, "binomial", nfolds=1)
