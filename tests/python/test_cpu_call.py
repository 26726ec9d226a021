"""The CPU engine's two ways of calling the one kernel give the same bits.

engine.CPU_CALL "host" (the default) runs the kernel through _core.glmnet_path_host on numpy's
buffers; "mlx" through _core.glmnet_path, the MLX primitive in MLX's lazy graph. Same kernel,
same inputs, same thread layout: every output must agree exactly, for every family and option,
float32 and float64, batches of CV folds and of responses, one problem split over threads."""
import warnings

import numpy as np
import pytest

import mlxs_glmnet as mg
from mlxs_glmnet import _core, engine


def _data(n, p, seed=0):
    rng = np.random.default_rng(seed)
    x = np.asfortranarray(rng.standard_normal((n, p)) + 0.3 * rng.standard_normal((n, 1)))
    eta = x[:, :5] @ np.array([0.9, -0.7, 0.5, 0.4, -0.3])
    ys = {"gaussian": eta + rng.standard_normal(n),
          "binomial": (eta + rng.logistic(size=n) > 0).astype(float),
          "poisson": rng.poisson(np.exp(0.3 * eta)).astype(float)}
    return x, ys, rng.uniform(0.2, 2.0, n), 0.1 * rng.standard_normal(n)


def _calls():
    x, ys, w, off = _data(120, 15)
    xw, ysw, _, _ = _data(60, 90, seed=1)              # p > n: naive gaussian
    for fam in ("gaussian", "binomial", "poisson"):
        y = ys[fam]
        yield f"{fam} default", lambda y=y, fam=fam: mg.glmnet(x, y, fam)
        yield f"{fam} options", lambda y=y, fam=fam: mg.glmnet(
            x, y, fam, weights=w, offset=off, alpha=0.4, lower_limits=-0.3, upper_limits=0.8,
            penalty_factor=np.r_[0.0, np.ones(14)], exclude=[3], standardize=False)
        yield f"{fam} float32", lambda y=y, fam=fam: mg.glmnet(x, y, fam, dtype="float32")
        yield f"{fam} cv", lambda y=y, fam=fam: mg.cv_glmnet(x, y, fam, foldid=np.arange(120) % 4 + 1)
        yield f"{fam} p > n", lambda fam=fam: mg.glmnet(xw, ysw[fam], fam, lambda_min_ratio=0.05)
    yield "gaussian naive, no intercept", lambda: mg.glmnet(
        x, ys["gaussian"], type_gaussian="naive", intercept=False)
    yield "several responses", lambda: mg.glmnet_batch(
        x, np.stack([ys["gaussian"], 2 * ys["gaussian"] + 1, ys["poisson"]], axis=1))
    xs, yss, ws, _ = _data(2600, 12, seed=2)            # one problem on several threads
    yield "split over threads", lambda: mg.glmnet(xs, yss["binomial"], "binomial", weights=ws)


def _flat(r):
    if isinstance(r, list):
        return [a for f in r for a in _flat(f)]
    if hasattr(r, "glmnet_fit"):
        return [r.cvm, r.cvsd, r.lambda_] + _flat(r.glmnet_fit)
    return [r.beta, r.a0, r.lambda_, r.dev_ratio, np.array([r.nulldev, r.npasses, r.jerr])]


@pytest.mark.parametrize("what,call", list(_calls()), ids=[w for w, _ in _calls()])
def test_host_call_and_primitive_agree(what, call, monkeypatch):
    if what == "split over threads":
        monkeypatch.setattr(engine, "BLOCK_SPLIT_MIN_N", 1000)
    used = []
    real_host, real_mlx = _core.glmnet_path_host, _core.glmnet_path
    monkeypatch.setattr(_core, "glmnet_path_host", lambda *a, **k: (used.append("host"), real_host(*a, **k))[1])
    monkeypatch.setattr(_core, "glmnet_path", lambda *a, **k: (used.append("mlx"), real_mlx(*a, **k))[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setattr(engine, "CPU_CALL", "host")
        host = _flat(call())
        assert used and set(used) == {"host"}
        used.clear()
        monkeypatch.setattr(engine, "CPU_CALL", "mlx")
        prim = _flat(call())
        assert used and set(used) == {"mlx"}
    assert len(host) == len(prim)
    for a, b in zip(host, prim):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_host_call_reads_an_f_ordered_x_in_place(monkeypatch):
    """Naive mode wants x as (p, n) rows: an F-ordered float64 x (what R hands over) is that
    already, and the host call reads the caller's buffer without a copy (and never writes it)."""
    x, ys, _, _ = _data(60, 90, seed=1)
    x.flags.writeable = False
    seen = []
    real = _core.glmnet_path_host
    monkeypatch.setattr(_core, "glmnet_path_host",
                        lambda ins, outs, L, **k: (seen.append(ins[0]), real(ins, outs, L, **k))[1])
    fit = mg.glmnet(x, ys["gaussian"])
    assert fit.info["mode"] == "naive" and len(seen) == 1
    assert np.shares_memory(seen[0], x)


def test_cpu_call_setting_is_checked(monkeypatch):
    x, ys, _, _ = _data(40, 5)
    monkeypatch.setattr(engine, "CPU_CALL", "gpu")
    with pytest.raises(ValueError, match="MLXS_CPU_CALL"):
        mg.glmnet(x, ys["gaussian"])


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_most_columns_excluded_solved_over_the_rest(family, monkeypatch):
    """With at least half of the variables excluded (relax = TRUE's refits of an active set), the
    CPU engine solves over the kept columns only; the fit is the one over all columns with the
    excluded ones skipped in the kernel: same lambdas, same coefficients, zeros where excluded."""
    from mlxs_glmnet import api
    x, ys, w, off = _data(150, 20, seed=4)
    exclude = np.r_[1, 3, 5:20]
    seen = []
    real = _core.glmnet_path_host
    monkeypatch.setattr(_core, "glmnet_path_host",
                        lambda ins, outs, L, **k: (seen.append(outs[0].shape[-1]), real(ins, outs, L, **k))[1])
    for kw in (dict(), dict(lambda_=[0.0]), dict(weights=w, offset=off, alpha=0.5)):
        sub = mg.glmnet(x, ys[family], family, exclude=exclude, thresh=1e-12, **kw)
        assert seen[-1] == 3
        with monkeypatch.context() as m:
            m.setattr(api, "_kept_columns", lambda *a: None)
            full = mg.glmnet(x, ys[family], family, exclude=exclude, thresh=1e-12, **kw)
        assert seen[-1] == 20
        assert sub.beta.shape == full.beta.shape == (20, len(full.lambda_))
        np.testing.assert_allclose(sub.lambda_, full.lambda_, rtol=1e-12)
        np.testing.assert_allclose(sub.beta, full.beta, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(sub.a0, full.a0, rtol=1e-9, atol=1e-12)
        assert not sub.beta[exclude].any()
        assert np.array_equal(sub.df, full.df)


def test_relax_arguments_are_checked():
    x, ys, _, _ = _data(40, 5)
    y = ys["gaussian"]
    with pytest.raises(TypeError, match="relax"):
        mg.glmnet(x, y, relax="yes")
    with pytest.raises(ValueError, match="maxp"):
        mg.glmnet(x, y, relax=True, maxp=2.5)
    with pytest.raises(TypeError, match="path"):
        mg.glmnet(x, y, relax=True, path=1)
    fit = mg.glmnet(x, y)
    with pytest.raises(ValueError, match="relaxed fit"):
        fit.predict(x, gamma=0.5)
    rfit = mg.glmnet(x, y, relax=True)
    for bad in (-0.1, 1.5, [0.5], "0.5", True):
        with pytest.raises(ValueError, match="gamma"):
            rfit.coef(gamma=bad)
    # gamma = 1 is the path itself; gamma = 0 the relaxed fit at its lambdas
    np.testing.assert_array_equal(rfit.coef(gamma=1.0), fit.coef())
    np.testing.assert_allclose(rfit.coef(gamma=0.0)[1:], rfit.relaxed.beta, rtol=1e-4, atol=1e-12)
    assert "Relaxed" in rfit.summary() and "%Dev R" in rfit.summary()
