"""Zero-copy stays read-only: no entry point writes into an array it did not allocate.

reticulate hands the engine R's own memory as a read-only, Fortran-ordered numpy array; the
engine may read it without copying but must never write into it. Here every input is marked
read-only (a Python-level write would raise) and its bytes are compared before and after each
entry point -- glmnet, glmnet_batch, cv_glmnet, GlmnetFit.predict/coef, CvGlmnetFit.predict/coef
and the R bridge's fit / cv_fit -- in both memory orders and both gaussian modes (covariance
reads x through numpy's BLAS, naive copies it once into MLX). The R side (R matrices through the
R package) is tested in rpkg/tests/testthat/test-bad-inputs.R.
"""
from __future__ import annotations

import numpy as np
import pytest

import mlxs_glmnet as mg
from mlxs_glmnet import rbridge
from datagen import make_data, make_weights

N, P = 90, 7


def _inputs(family, order):
    x, y, off = make_data(family, N, P, 11, with_offset=True)
    x = np.asfortranarray(x) if order == "F" else np.ascontiguousarray(x)
    pf = np.ones(P)
    pf[1] = 0.0
    arrs = dict(x=x, y=y, weights=make_weights(N, 11), offset=off, penalty_factor=pf,
                lower_limits=np.full(P, -2.0), upper_limits=np.full(P, 3.0),
                exclude=np.array([5]), lambda_=np.array([0.2, 0.05, 0.01]),
                newx=np.asfortranarray(x[:10]) if order == "F" else x[:10].copy(),
                newoffset=off[:10].copy(), foldid=(np.arange(N) % 4 + 1).astype(np.float64),
                weights_batch=np.vstack([np.ones(N), (np.arange(N) % 3 > 0).astype(float)]))
    for v in arrs.values():
        v.setflags(write=False)
    return arrs


def _snap(arrs):
    return {k: (v.tobytes(order="A"), v.flags.f_contiguous, v.flags.writeable) for k, v in arrs.items()}


def _calls(family, a):
    kw = {k: a[k] for k in ("weights", "offset", "penalty_factor", "lower_limits", "upper_limits",
                            "exclude")}
    modes = ("covariance", "naive") if family == "gaussian" else (None,)
    for tg in modes:
        fit = mg.glmnet(a["x"], a["y"], family, type_gaussian=tg, **kw)
        fit.predict(a["newx"], s=a["lambda_"], newoffset=a["newoffset"])
        fit.predict(a["newx"], s=0.03, type="response", newoffset=a["newoffset"])
        fit.coef(s=a["lambda_"])
        mg.glmnet(a["x"], a["y"], family, lambda_=a["lambda_"], type_gaussian=tg, **kw)
        mg.glmnet_batch(a["x"], a["y"], family, weights_batch=a["weights_batch"], type_gaussian=tg,
                        **kw)
    cv = mg.cv_glmnet(a["x"], a["y"], family, foldid=a["foldid"].astype(int), keep=True, **kw)
    cv.predict(a["newx"], s="lambda_min", newoffset=a["newoffset"])
    cv.coef(s="lambda_1se")
    # the R bridge, called the way R calls it (flat scalars, arrays as a dict)
    arrays = dict(kw)
    arrays["exclude"] = a["exclude"]
    out = rbridge.fit(a["x"], a["y"], family, [0.5, 30.0], ["alpha", "nlambda"], [], [], arrays)
    assert "error" not in out, out
    out = rbridge.cv_fit(a["x"], a["y"], family, [4.0], ["nfolds"], [], [],
                         dict(arrays, foldid=a["foldid"]))
    assert "error" not in out, out


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
@pytest.mark.parametrize("order", ["F", "C"])
def test_entry_points_leave_readonly_inputs_unchanged(family, order):
    a = _inputs(family, order)
    before = _snap(a)
    _calls(family, a)
    after = _snap(a)
    for k in before:
        assert after[k] == before[k], f"{k} changed (bytes, memory order or writeability)"


def test_engine_result_does_not_alias_the_input():
    """The fit's arrays are the engine's own (writing into them leaves x and y alone)."""
    a = _inputs("gaussian", "F")
    before = _snap(a)
    fit = mg.glmnet(a["x"], a["y"])
    for arr in (fit.beta, fit.a0, fit.lambda_, fit.dev_ratio):
        assert arr.flags.writeable
        assert not np.shares_memory(arr, a["x"]) and not np.shares_memory(arr, a["y"])
        arr[...] = 0.0
    assert _snap(a) == before
