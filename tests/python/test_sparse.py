"""A sparse x (scipy.sparse): the CPU kernel reads compressed columns (naive mode) or the Gram
comes from sparse products (covariance mode); either way the fit is the dense x's, for every
family and option, and the caller's matrix is never touched."""
import warnings

import numpy as np
import pytest

import mlxs_glmnet as mg
from mlxs_glmnet import _core, engine

sps = pytest.importorskip("scipy.sparse")


def _data(n, p, per_col, family, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.concatenate([np.sort(rng.choice(n, per_col, replace=False)) for _ in range(p)])
    x = sps.csc_matrix((rng.standard_normal(rows.size) * 2 + 0.5, rows.astype(np.int32),
                        np.arange(0, p * per_col + 1, per_col, dtype=np.int32)), shape=(n, p))
    eta = x @ np.r_[1.0, -1.0, 0.6, 0.4, -0.3, np.zeros(p - 5)]
    y = {"gaussian": eta + rng.standard_normal(n),
         "binomial": (eta + rng.logistic(size=n) > 0).astype(float),
         "poisson": rng.poisson(np.exp(0.3 * eta)).astype(float)}[family]
    return x, y, rng


def _same(a, b, tol=1e-10):
    assert len(a.lambda_) == len(b.lambda_)
    np.testing.assert_allclose(a.lambda_, b.lambda_, rtol=1e-12)
    np.testing.assert_allclose(a.beta, b.beta, rtol=tol, atol=tol)
    np.testing.assert_allclose(a.a0, b.a0, rtol=tol, atol=tol)
    np.testing.assert_allclose(a.dev_ratio, b.dev_ratio, rtol=1e-9, atol=1e-12)
    assert a.npasses == b.npasses


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
@pytest.mark.parametrize("shape", [(300, 40, 30), (120, 300, 12), (2600, 30, 400)],
                         ids=["n>p", "p>n", "n>=2000"])
def test_sparse_fit_is_the_dense_fit(family, shape, monkeypatch):
    """(n >= 2000 with the dense x splits the problem over the cores; the sparse x stays on one:
    the same path either way.)"""
    n, p, k = shape
    monkeypatch.setattr(engine, "BLOCK_SPLIT_MIN_N", 1000)
    x, y, rng = _data(n, p, k, family)
    w = rng.uniform(0.2, 2.0, n)
    off = 0.1 * rng.standard_normal(n)
    for kw in (dict(), dict(weights=w, alpha=0.5, standardize=False),
               dict(intercept=False, lower_limits=-0.5, penalty_factor=np.r_[0.0, np.ones(p - 1)]),
               dict(offset=off, exclude=[2, 7]) if family != "gaussian" else dict(type_gaussian="naive"),
               dict(intercept=False, standardize=False)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = mg.glmnet(x, y, family, thresh=1e-12, **kw)
            b = mg.glmnet(x.toarray(), y, family, thresh=1e-12, **kw)
        assert a.info["mode"] == b.info["mode"]
        _same(a, b)


def test_sparse_cv_relax_batch_and_predict():
    x, y, rng = _data(400, 30, 40, "binomial", seed=1)
    xd = x.toarray()
    foldid = np.resize(np.arange(1, 6), 400)
    a = mg.cv_glmnet(x, y, "binomial", foldid=foldid, relax=True, gamma=[0, 0.5])
    b = mg.cv_glmnet(xd, y, "binomial", foldid=foldid, relax=True, gamma=[0, 0.5])
    np.testing.assert_allclose(a.cvm, b.cvm, rtol=1e-9)
    assert a.relaxed["gamma_min"] == b.relaxed["gamma_min"]
    np.testing.assert_allclose(a.glmnet_fit.relaxed.beta, b.glmnet_fit.relaxed.beta, rtol=1e-8, atol=1e-10)
    W = rng.uniform(0.5, 1.5, (3, 400))
    for fa, fb in zip(mg.glmnet_batch(x, y, "binomial", weights_batch=W),
                      mg.glmnet_batch(xd, y, "binomial", weights_batch=W)):
        np.testing.assert_allclose(fa.beta, fb.beta, rtol=1e-8, atol=1e-10)
    fit = a.glmnet_fit
    for t in ("link", "response", "class"):
        np.testing.assert_array_equal(fit.predict(x[:7], s=[0.05, 0.01], type=t),
                                      fit.predict(xd[:7], s=[0.05, 0.01], type=t))


def test_sparse_input_forms_and_the_callers_matrix():
    """csr, coo, int64 indices, unsorted rows and duplicates (summed) give the canonical matrix's
    fit; the caller's arrays are left as they were."""
    x, y, _ = _data(150, 12, 20, "gaussian", seed=2)
    ref = mg.glmnet(x, y)
    coo = x.tocoo()
    dup = sps.coo_matrix((np.r_[coo.data / 2, coo.data / 2], (np.r_[coo.row, coo.row],
                                                             np.r_[coo.col, coo.col])), shape=x.shape)
    unsorted = x.copy()
    for j in range(x.shape[1]):                     # reverse the rows within every column
        sl = slice(unsorted.indptr[j], unsorted.indptr[j + 1])
        unsorted.indices[sl] = unsorted.indices[sl][::-1].copy()
        unsorted.data[sl] = unsorted.data[sl][::-1].copy()
    unsorted.has_sorted_indices = False
    i64 = sps.csc_matrix((x.data, x.indices.astype(np.int64), x.indptr.astype(np.int64)), shape=x.shape)
    for m in (x.tocsr(), coo, dup, unsorted, i64, sps.csc_array(x)):
        kept = [a.copy() for a in (getattr(m, "data"), getattr(m, "indices", getattr(m, "row", None)))]
        fit = mg.glmnet(m, y)
        np.testing.assert_allclose(fit.beta, ref.beta, rtol=1e-12, atol=1e-14)
        assert all(np.array_equal(a, b) for a, b in
                   zip(kept, (m.data, getattr(m, "indices", getattr(m, "row", None)))))


def test_sparse_constant_and_empty_columns():
    """A column without non-zeros (and, without intercept and standardisation, one of n equal
    values) is left out as glmnet leaves out constant columns."""
    x, y, _ = _data(200, 10, 30, "gaussian", seed=3)
    x = x.tolil()
    x[:, 4] = 0.0
    x[:, 6] = 2.5
    x = x.tocsc()
    for kw in (dict(), dict(intercept=False, standardize=False)):
        a = mg.glmnet(x, y, thresh=1e-12, **kw)
        b = mg.glmnet(x.toarray(), y, thresh=1e-12, **kw)
        _same(a, b)
        assert not a.beta[4].any()


def test_sparse_bad_input():
    x, y, _ = _data(60, 5, 10, "gaussian", seed=4)
    bad = x.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        mg.glmnet(bad, y)
    with pytest.raises(ValueError, match="empty"):
        mg.glmnet(sps.csc_matrix((0, 5)), y[:0])
    with pytest.raises(ValueError, match="device: a sparse x"):
        mg.glmnet(x, y, device="gpu")
    with pytest.raises(ValueError, match="must have length"):
        mg.glmnet(x, y[:-1])


def test_sparse_host_call_checks_the_structure():
    """glmnet_path_host refuses a compressed-column structure it could read out of bounds."""
    from test_bad_inputs import _core_inputs, _host_outputs
    import mlx.core as mx
    ins, L = _core_inputs()                   # naive mode, n = 30, p = 4
    ins[10] = mx.array(np.asarray(ins[10], dtype=np.int32))
    ins = [np.array(a) for a in ins]
    good_p = np.array([0, 2, 3, 3, 5], np.int32)
    good_i = np.array([1, 7, 0, 2, 29], np.int32)
    vals = np.arange(1.0, 6.0)
    ins[0] = vals
    _core.glmnet_path_host(ins, _host_outputs(L=L), L, sp_indptr=good_p, sp_indices=good_i)
    for pp, ii in ((np.array([0, 2, 3, 3], np.int32), good_i),            # p entries, not p + 1
                   (np.array([0, 2, 1, 3, 5], np.int32), good_i),         # decreasing
                   (good_p, np.array([1, 7, 0, 2, 30], np.int32)),        # a row past n
                   (good_p, np.array([7, 1, 0, 2, 29], np.int32)),        # rows not ascending
                   (good_p, good_i.astype(np.int64))):                    # not int32
        with pytest.raises(ValueError, match="sparse x"):
            _core.glmnet_path_host(ins, _host_outputs(L=L), L, sp_indptr=pp, sp_indices=ii)


def test_sparse_x_is_not_copied_dense(monkeypatch):
    """A sparse x far larger dense than the memory budget still fits (the kernel reads the
    non-zeros; no dense copy is planned or made)."""
    monkeypatch.setenv("MLXS_GLMNET_MEMORY_BUDGET", "300M")
    x, y, _ = _data(20000, 3000, 5, "binomial", seed=5)        # dense: 480 MB
    fit = mg.glmnet(x, y, "binomial", nlambda=10)
    assert fit.info["mode"] == "naive" and len(fit.lambda_) == 10
