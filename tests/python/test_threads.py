"""One problem split over several CPU threads gives the same path as one thread.

The engine splits a naive-mode problem over the cores when there are fewer problems than cores
and n >= engine.BLOCK_SPLIT_MIN_N; the kernel's barriers and per-thread shares must then produce
exactly the single-thread numbers (only the order of partial sums differs)."""
import numpy as np
import pytest

import mlxs_glmnet as mg
from mlxs_glmnet import engine


def _data(family, n=2600, p=40, seed=3):
    rng = np.random.default_rng(seed)
    x = np.asfortranarray(rng.standard_normal((n, p)) + 0.5 * rng.standard_normal((n, 1)))
    eta = x[:, :4] @ np.array([0.8, -0.6, 0.4, 0.3])
    if family == "binomial":
        y = (eta + rng.logistic(size=n) > 0).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(0.3 * eta)).astype(float)
    else:
        y = eta + rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    off = 0.1 * rng.standard_normal(n)
    return x, y, w, off


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_split_problem_matches_single_thread(family, monkeypatch):
    if engine._cpu_threads() < 2:
        pytest.skip("needs at least 2 CPU cores to split a problem")
    x, y, w, off = _data(family)
    kw = dict(weights=w, offset=off, alpha=0.7, thresh=1e-10, type_gaussian="naive")
    monkeypatch.setattr(engine, "BLOCK_SPLIT_MIN_N", 10 ** 9)
    one = mg.glmnet(x, y, family, **kw)
    monkeypatch.setattr(engine, "BLOCK_SPLIT_MIN_N", 1000)
    split = mg.glmnet(x, y, family, **kw)
    assert len(one.lambda_) == len(split.lambda_)
    np.testing.assert_allclose(split.lambda_, one.lambda_, rtol=1e-12)
    np.testing.assert_allclose(split.beta, one.beta, rtol=0, atol=1e-9)
    np.testing.assert_allclose(split.a0, one.a0, rtol=0, atol=1e-9)
    assert split.npasses == one.npasses
