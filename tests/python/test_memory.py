"""Scale limits: the working memory is budgeted before anything is allocated (memory.py).

With an artificially low budget (MLXS_GLMNET_MEMORY_BUDGET) a gaussian fit whose Gram would not
fit runs in the memory-lean naive mode instead (same solution), a forced covariance fit and a
fit that would not fit at all raise MemoryError with a message saying so -- never an
out-of-memory kill. The R package gets the same message as an R error.
"""
from __future__ import annotations

import numpy as np
import pytest

import mlxs_glmnet as mg
from mlxs_glmnet import memory, rbridge
from datagen import make_data

N, P = 400, 300


@pytest.fixture(scope="module")
def data():
    x, y, _ = make_data("gaussian", N, P, 4)
    return x, y


def test_budget_parsing(monkeypatch):
    assert memory.parse_bytes("512") == 512
    assert memory.parse_bytes("1.5K") == 1536
    assert memory.parse_bytes("2G") == 2 << 30
    assert memory.parse_bytes("3 MiB") == 3 << 20
    for bad in ("lots", "-1", "0", "1Q"):
        with pytest.raises(ValueError, match=memory.ENV):
            memory.parse_bytes(bad)
    monkeypatch.delenv(memory.ENV, raising=False)
    assert memory.budget_bytes() is None or memory.budget_bytes() > 0
    monkeypatch.setenv(memory.ENV, "lots")
    with pytest.raises(ValueError, match=memory.ENV):
        mg.glmnet(np.eye(3)[:, :2] + 0.1, np.arange(3.0))


def test_estimates_are_ordered():
    # a Gram per problem costs more than one copy of x when p > n / 2
    assert memory.estimate_bytes(1, N, P, 1, 100) > memory.estimate_bytes(0, N, P, 1, 100)
    assert memory.estimate_bytes(1, 10000, 50, 1, 100) < memory.estimate_bytes(0, 10000, 50, 1, 100)
    assert memory.estimate_bytes(0, N, P, 10, 100) > memory.estimate_bytes(0, N, P, 1, 100)


def test_low_budget_switches_to_naive_mode(data, monkeypatch):
    x, y = data
    ref = mg.glmnet(x, y, type_gaussian="naive", thresh=1e-10)
    assert mg.glmnet(x, y).info["mode"] == "covariance"       # the default choice for n >= p
    cov = memory.estimate_bytes(1, N, P, 1, 100)
    naive = memory.estimate_bytes(0, N, P, 1, 100)
    monkeypatch.setenv(memory.ENV, str((cov + naive) // 2))
    fit = mg.glmnet(x, y, thresh=1e-10)
    assert fit.info["mode"] == "naive"
    np.testing.assert_allclose(fit.beta, ref.beta, atol=1e-8)
    np.testing.assert_allclose(fit.lambda_, ref.lambda_, rtol=1e-12)
    with pytest.raises(MemoryError, match="type_gaussian='covariance'.*budget"):
        mg.glmnet(x, y, type_gaussian="covariance")
    # CV batches (the full data and 3 folds: 4 problems) count every fold's Gram: they fall back too
    cov4, naive4 = memory.estimate_bytes(1, N, P, 4, 100), memory.estimate_bytes(0, N, P, 4, 100)
    monkeypatch.setenv(memory.ENV, str((cov4 + naive4) // 2))
    cv = mg.cv_glmnet(x, y, nfolds=3, seed=2)
    assert cv.glmnet_fit.info["mode"] == "naive"


def test_nothing_fits(data, monkeypatch):
    x, y = data
    monkeypatch.setenv(memory.ENV, "100K")
    for fam, yy in (("gaussian", y), ("binomial", (y > np.median(y)).astype(float))):
        with pytest.raises(MemoryError, match=r"needs about .* of working memory .*budget 100\.0 KiB"):
            mg.glmnet(x, yy, fam)
    out = rbridge.fit(x, y, "gaussian", [], [], [], [], {})
    assert out["error"].startswith("MemoryError: the fit needs about"), out
    monkeypatch.delenv(memory.ENV)
    assert len(mg.glmnet(x, y).lambda_) > 1           # and everything works again


def test_available_memory_is_the_default_budget(monkeypatch):
    """Without the variable the budget is the memory the OS reports as available: a fit whose
    working memory is far beyond any machine's is refused before anything is allocated."""
    monkeypatch.delenv(memory.ENV, raising=False)
    if memory.budget_bytes() is None:
        pytest.skip("the available memory is unknown on this platform")
    with pytest.raises(MemoryError, match="working memory"):
        memory.plan(0, 10**7, 10**6, 1, 100)             # x alone: 80 TB
    assert memory.plan(1, 1000, 50, 1, 100) == 1          # small fits: no lookup, no change
