"""The GPU's GLM driver (irls.py: IRLS in covariance form, the path driven from the host, the
weighted least-squares steps solved by path.kern's warm-start mode) run on the CPU in float64,
against the engine's own naive path kernel, which the parity tests hold to R's glmnet. On a CUDA
machine the same code runs in float32 (bench/gpu.py --check)."""
import zlib

import numpy as np
import pytest

import mlxs_glmnet as mg
from mlxs_glmnet import engine, irls
from objective import Problem


def driver_run(chunk=1):
    """A stand-in for engine.run_paths that sends a fit through the GLM driver (CPU backend,
    float64); chunk: lambdas solved side by side (irls.chunk_size)."""
    def run(x, y, W, O, **k):
        fam = engine.FAMILIES[k["family"]]
        params = engine.kernel_params(
            n=x.shape[0], p=x.shape[1], B=W.shape[0], fam=fam, mode=0, nlam=k["nlam"],
            ulam=k["ulam"], intercept=k["intercept"], standardize=k["standardize"],
            maxit=k["maxit"], dfmax=k["dfmax"], pmax=k["pmax"], alpha=k["alpha"],
            flmin=k["flmin"], thresh=k["thresh"], fdev=k["fdev"], lower=k["lower"],
            upper=k["upper"])
        # (engine.run_paths' own step before any backend: glmnet's chkvars)
        excluded = engine.chkvars(x, k["excluded"], k["intercept"], k["standardize"])
        return irls.run_glm(x, y, W, O, fam=fam, pf=k["pf"], excluded=excluded,
                            nlam=k["nlam"], params=params, backend="cpu", chunk=chunk)
    return run


def _driver(monkeypatch, chunk=1):
    """Route the API's engine call through the GLM driver."""
    monkeypatch.setattr(engine, "run_paths", driver_run(chunk))


def _data(fam, n, p, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) + 0.3 * rng.standard_normal((n, 1))
    x[:, 3] = x[:, 3] * 5 + 40
    eta = x[:, :4] @ np.array([1.0, -1.0, 0.5, 0.1])
    eta -= eta.mean()
    if fam == "binomial":
        y = (eta + rng.logistic(size=n) > 0).astype(float)
    else:
        y = rng.poisson(np.exp(0.3 * eta)).astype(float)
    return rng, x, y


def _options(rng, n, p):
    pf = np.ones(p)
    pf[:2] = 0.0
    pf[5] = 2.0
    return {
        "default": {},
        "options": dict(weights=rng.uniform(0.5, 2.0, n), offset=0.2 * rng.standard_normal(n),
                        alpha=0.4, penalty_factor=pf, lower_limits=-0.6, upper_limits=0.8),
        "nointercept_nostd": dict(intercept=False, standardize=False),
        "ridge": dict(alpha=0.0, nlambda=30),
        "exclude_dfmax": dict(exclude=[1, 7], dfmax=6),
        "pmax": dict(pmax=5),
        "user_lambda": dict(lambda_=np.geomspace(0.2, 0.002, 25)),
    }


def _gap(x, y, fam, kw, ref, got):
    prob = Problem(x, y, fam, weights=kw.get("weights"), offset=kw.get("offset"),
                   alpha=kw.get("alpha", 1.0), penalty_factor=kw.get("penalty_factor"),
                   standardize=kw.get("standardize", True), intercept=kw.get("intercept", True))
    worst = 0.0
    for m in range(min(len(ref.lambda_), len(got.lambda_))):
        fr = prob.objective(ref.lambda_[m], ref.a0[m], ref.beta[:, m])
        fg = prob.objective(ref.lambda_[m], got.a0[m], got.beta[:, m])
        worst = max(worst, abs(fg - fr) / abs(fr))
    return worst


CASES = [(fam, opt, shape) for fam in ("binomial", "poisson")
         for opt in _options(np.random.default_rng(0), 10, 10)
         for shape in ((300, 20), (60, 100))]


@pytest.mark.parametrize("chunk", [1, 5])
@pytest.mark.parametrize("fam,opt,shape", CASES, ids=[f"{f}-{o}-{s[0]}x{s[1]}" for f, o, s in CASES])
def test_driver_matches_the_kernel_path(monkeypatch, fam, opt, shape, chunk):
    """The driver (one lambda at a time, and in chunks of 5 lambdas solved side by side) gives
    the kernel's path: the same lambdas, length and error code, the same objective."""
    n, p = shape
    rng, x, y = _data(fam, n, p, seed=zlib.crc32(f"{fam}{opt}{n}".encode()) % 1000)
    kw = _options(rng, n, p)[opt]
    ref = mg.glmnet(x, y, fam, thresh=1e-12, **kw)
    _driver(monkeypatch, chunk)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # pmax: the same warning as the reference
        got = mg.glmnet(x, y, fam, thresh=1e-12, **kw)
    if opt == "pmax":
        # pmax counts variables ever nonzero while the solver moves: the driver solves on the
        # union of strong sets in its own order, so the count may pass pmax one lambda apart
        assert got.jerr <= -10000 and abs(got.jerr - ref.jerr) <= 1
        k = min(len(got.lambda_), len(ref.lambda_))
        assert abs(len(got.lambda_) - len(ref.lambda_)) <= 1
    else:
        # the same path: length, lambdas, and the objective at every lambda
        assert got.jerr == ref.jerr
        k = len(ref.lambda_)
        assert len(got.lambda_) == k
    np.testing.assert_allclose(got.lambda_[:k], ref.lambda_[:k], rtol=1e-7)
    assert _gap(x, y, fam, kw, ref, got) < 1e-7
    # a coefficient at the edge of zero may count on one side or the other
    assert np.abs(got.df[:k] - ref.df[:k]).max() <= 1


@pytest.mark.parametrize("fam", ["binomial", "poisson"])
@pytest.mark.parametrize("group", [True, False])
def test_driver_batches_folds(monkeypatch, fam, group):
    """CV folds move through the path in lockstep, sharing the union of their strong sets: every
    fold's path is still its own (its own lambda_max, its own early stop). With the full-data
    problem in the batch, Gram refreshes are shared (one batched product under the full problem's
    weights for every problem; uneven folds, weighted rows): only the curvature changes, so the
    paths are the same."""
    n, p = 240, 15
    rng, x, y = _data(fam, n, p, seed=5)
    fold = rng.integers(0, 4, n)
    base = rng.uniform(0.5, 2.0, n)
    Wb = np.stack([base] + [base * (fold != k) for k in range(4)])
    ref = mg.glmnet_batch(x, y, fam, weights_batch=Wb, thresh=1e-12)
    _driver(monkeypatch)
    monkeypatch.setattr(irls, "GROUP_REFRESH", group)
    got = mg.glmnet_batch(x, y, fam, weights_batch=Wb, thresh=1e-12)
    assert (got[0].info["fold_gram_refreshes"] > 0) == group
    assert got[0].info["irls_chunk"] == 1
    for b in range(Wb.shape[0]):
        assert len(got[b].lambda_) == len(ref[b].lambda_)
        np.testing.assert_allclose(got[b].lambda_, ref[b].lambda_, rtol=1e-7)
        assert _gap(x, y, fam, dict(weights=Wb[b]), ref[b], got[b]) < 1e-8



@pytest.mark.parametrize("fam", ["binomial", "poisson"])
def test_cv_folds_in_chunks(monkeypatch, fam):
    """irls.CV_CHUNK > 1: a CV batch solved in chunks of lambdas (each fold's copies share its
    own Gram; no shared fold refreshes): every fold's path is still the kernel's."""
    n, p = 240, 15
    rng, x, y = _data(fam, n, p, seed=5)
    fold = rng.integers(0, 4, n)
    Wb = np.stack([np.ones(n)] + [1.0 * (fold != k) for k in range(4)])
    ref = mg.glmnet_batch(x, y, fam, weights_batch=Wb, thresh=1e-12)
    _driver(monkeypatch, 16)
    monkeypatch.setattr(irls, "CV_CHUNK", 8)
    got = mg.glmnet_batch(x, y, fam, weights_batch=Wb, thresh=1e-12)
    assert got[0].info["irls_chunk"] == 8 and got[0].info["fold_gram_refreshes"] == 0
    for b in range(Wb.shape[0]):
        assert len(got[b].lambda_) == len(ref[b].lambda_)
        np.testing.assert_allclose(got[b].lambda_, ref[b].lambda_, rtol=1e-7)
        assert _gap(x, y, fam, dict(weights=Wb[b]), ref[b], got[b]) < 1e-8


@pytest.mark.parametrize("fam", ["binomial", "poisson"])
def test_chunks_of_several_problems(monkeypatch, fam):
    """Chunks of lambdas for a batch that is not CV folds (two weightings of the rows): each
    problem's copies share its Gram and data rows, never another problem's; every path is
    the kernel's (length, lambdas, objective), its own early stop included."""
    n, p = 260, 14
    rng, x, y = _data(fam, n, p, seed=11)
    Wb = np.stack([rng.uniform(0.5, 2.0, n), rng.uniform(0.0, 1.0, n) ** 2])
    ref = mg.glmnet_batch(x, y, fam, weights_batch=Wb, thresh=1e-12)
    _driver(monkeypatch, 6)
    got = mg.glmnet_batch(x, y, fam, weights_batch=Wb, thresh=1e-12)
    assert got[0].info["irls_chunk"] == 6
    for b in range(Wb.shape[0]):
        assert len(got[b].lambda_) == len(ref[b].lambda_)
        np.testing.assert_allclose(got[b].lambda_, ref[b].lambda_, rtol=1e-7)
        assert _gap(x, y, fam, dict(weights=Wb[b]), ref[b], got[b]) < 1e-8
        # and each solution satisfies the KKT conditions on its own (measured: at most 1.4e-6
        # here; the kernel's own path 1.5e-7 to 3.9e-7, IRLS's last step is a quasi-Newton one)
        prob = Problem(x, y, fam, weights=Wb[b])
        kkt = max(prob.kkt_violation(lam, a0, bt)[0]
                  for lam, a0, bt in zip(got[b].lambda_, got[b].a0, got[b].beta.T))
        assert kkt < 1e-5


@pytest.mark.parametrize("carry", [True, False])
def test_chunks_cut_short_carry_their_far_lambdas(monkeypatch, carry):
    """A chunk whose first half has converged while a few far lambdas still iterate is cut there
    (irls.CARRY): its converged lambdas are kept, the far ones go on in the next chunk from
    where they stood. The path is the kernel's either way (length, lambdas, objective), and
    every solution satisfies the KKT conditions."""
    n, p = 400, 30
    rng, x, y = _data("binomial", n, p, seed=0)
    ref = mg.glmnet(x, y, "binomial", thresh=1e-12)
    _driver(monkeypatch, 16)
    monkeypatch.setattr(irls, "CARRY", carry)
    got = mg.glmnet(x, y, "binomial", thresh=1e-12)
    assert (got.info["irls_lambdas_carried"] > 0) == carry
    assert len(got.lambda_) == len(ref.lambda_)
    np.testing.assert_allclose(got.lambda_, ref.lambda_, rtol=1e-7)
    assert _gap(x, y, "binomial", {}, ref, got) < 1e-7
    prob = Problem(x, y, "binomial")
    kkt = max(prob.kkt_violation(lam, a0, bt)[0]
              for lam, a0, bt in zip(got.lambda_, got.a0, got.beta.T))
    assert kkt < 1e-5


def test_chunks_shrink_to_their_memory_budget(monkeypatch):
    """A chunk whose stacked Grams and (chunk, n) arrays would pass chunk_bytes takes fewer
    lambdas (halved until it fits, down to one): the path is still the kernel's."""
    n, p = 300, 20
    rng, x, y = _data("binomial", n, p, seed=13)
    ref = mg.glmnet(x, y, "binomial", thresh=1e-12)
    _driver(monkeypatch, 8)
    monkeypatch.setattr(irls, "CHUNK_BYTES", 2 * (p * p + 12 * n) * 8)      # two lambdas fit
    got = mg.glmnet(x, y, "binomial", thresh=1e-12)
    sizes = got.info["irls_chunk_sizes"]
    assert got.info["irls_chunk"] == 8 and max(sizes) == 2 and sum(sizes) >= len(got.lambda_) - 1
    assert len(got.lambda_) == len(ref.lambda_)
    assert _gap(x, y, "binomial", {}, ref, got) < 1e-7


def test_chunk_byte_limit_follows_the_gpu_budget(monkeypatch):
    """The chunks' byte limit: CHUNK_BYTES on the CPU; on a GPU a share of its memory budget when
    that is larger (a CV batch at n = 1e6 keeps its chunks), never less than CHUNK_BYTES; the
    environment variable sets it outright and a malformed one is an error naming it."""
    monkeypatch.delenv("MLXS_GPU_IRLS_CHUNK_BYTES", raising=False)
    monkeypatch.setenv("MLXS_GLMNET_GPU_MEMORY_BUDGET", "64G")
    assert irls.chunk_bytes("cpu") == irls.CHUNK_BYTES
    assert irls.chunk_bytes("gpu") == int(irls.CHUNK_SHARE * 64 * 2 ** 30)
    monkeypatch.setenv("MLXS_GLMNET_GPU_MEMORY_BUDGET", "1G")
    assert irls.chunk_bytes("gpu") == irls.CHUNK_BYTES
    monkeypatch.setenv("MLXS_GPU_IRLS_CHUNK_BYTES", "3G")
    assert irls.chunk_bytes("gpu") == irls.chunk_bytes("cpu") == 3 * 2 ** 30
    monkeypatch.setenv("MLXS_GPU_IRLS_CHUNK_BYTES", "lots")
    with pytest.raises(ValueError, match="MLXS_GPU_IRLS_CHUNK_BYTES"):
        irls.chunk_bytes("gpu")


@pytest.mark.parametrize("fam", ["binomial", "poisson"])
@pytest.mark.parametrize("batch", [False, True])
def test_kkt_pass_feeds_the_next_step(monkeypatch, fam, batch):
    """The first IRLS step after a KKT pass takes that pass's weights and residuals (KKT_REUSE):
    they were computed at the same coefficients, so the iterates are the same bit for bit as with
    eta computed again (one problem, and CV folds whose problems leave the KKT loop at different
    times), and the reuse happens once a lambda at least."""
    n, p = 300, 12
    rng, x, y = _data(fam, n, p, seed=9)
    fold = rng.integers(0, 3, n)
    Wb = np.stack([np.ones(n)] + [1.0 * (fold != k) for k in range(3)])
    _driver(monkeypatch)
    fits = {}
    for reuse in (True, False):
        monkeypatch.setattr(irls, "KKT_REUSE", reuse)
        fits[reuse] = mg.glmnet_batch(x, y, fam, weights_batch=Wb) if batch else \
            [mg.glmnet(x, y, fam)]
    on, off = fits[True], fits[False]
    assert off[0].info["kkt_moments_reused"] == 0
    assert on[0].info["kkt_moments_reused"] >= len(on[0].lambda_) - 1
    for a, b in zip(on, off):
        assert a.info["irls_steps"] == b.info["irls_steps"] and a.npasses == b.npasses
        np.testing.assert_array_equal(a.lambda_, b.lambda_)
        np.testing.assert_array_equal(a.beta, b.beta)
        np.testing.assert_array_equal(a.a0, b.a0)

@pytest.mark.parametrize("chunk", [1, 4])
def test_driver_maxit_stops_like_the_kernel(monkeypatch, chunk):
    rng, x, y = _data("binomial", 300, 20, seed=3)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = mg.glmnet(x, y, "binomial", maxit=60)
        _driver(monkeypatch, chunk)
        got = mg.glmnet(x, y, "binomial", maxit=60)
    assert ref.jerr < 0 and got.jerr < 0
    # both stop inside the path; pass counts differ by the IRLS bookkeeping, so within 2 lambdas
    # one lambda at a time. A chunk's lambdas count their passes from the chunk's start and the
    # path goes on from its last lambda's count: from starts on the line through the last two
    # solutions (irls.EXTRAP) that is fewer passes than lambda after lambda, so chunks may reach
    # maxit up to 4 lambdas later (earlier: within 2, as one lambda at a time)
    slack = 2 if chunk == 1 else 4
    assert -2 <= ref.jerr - got.jerr <= slack
    assert -2 <= len(got.lambda_) - len(ref.lambda_) <= slack
    # in chunks: the chunk that ran into maxit was solved again one lambda at a time, so the
    # error comes from glmnet's count along the path
    assert (got.info["irls_chunks_retried"] >= 1) == (chunk > 1)


@pytest.mark.parametrize("chunk", [1, 4])
def test_stale_gram_is_refreshed_before_the_step(monkeypatch, chunk):
    """A poisson fit without intercept or standardisation, with unpenalised variables: the first
    IRLS step of the unpenalised stage moves far, the weights' sum grows several-fold, and a
    step on the first step's Gram diverged (jerr -1, an empty path; found by fuzzing the driver
    against R glmnet). With the Gram refreshed first (irls.STALE_SUM) it is the kernel's path."""
    rng = np.random.default_rng(4)
    n, p = 40, 8
    x = np.abs(rng.standard_normal((n, p))) * rng.uniform(0.5, 3, p)
    y = rng.poisson(np.exp(0.8 * x[:, 0] - 0.5 * x[:, 1] + 0.5)).astype(float)
    pf = np.ones(p)
    pf[:3] = 0.0
    kw = dict(intercept=False, standardize=False, penalty_factor=pf, nlambda=20)
    ref = mg.glmnet(x, y, "poisson", thresh=1e-12, **kw)
    _driver(monkeypatch, chunk)
    got = mg.glmnet(x, y, "poisson", thresh=1e-12, **kw)
    assert got.jerr == ref.jerr == 0 and len(got.lambda_) == len(ref.lambda_) == 16
    assert got.info["stale_gram_refreshes"] >= 1
    assert _gap(x, y, "poisson", kw, ref, got) < 1e-9
    monkeypatch.setattr(irls, "STALE_SUM", np.inf)
    monkeypatch.setattr(irls, "EXACT_RETRY", False)      # (which would solve it again exactly)
    if chunk > 1:
        # the rule off: in a chunk, the kept Gram's curvature scaled up to the current weights'
        # sum (irls.RHO) alone keeps the step from diverging; with neither, it diverges
        alone = mg.glmnet(x, y, "poisson", thresh=1e-12, **kw)
        assert alone.jerr == 0 and _gap(x, y, "poisson", kw, ref, alone) < 1e-9
        monkeypatch.setattr(irls, "RHO", False)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert mg.glmnet(x, y, "poisson", thresh=1e-12, **kw).jerr == -1


def test_warm_start_resumes_a_solution():
    """path.kern's warm-start mode started at a solution of its problem stays there (no pass
    moves a coefficient), and from zero it reaches the same solution."""
    import mlx.core as mx
    from mlxs_glmnet import _core
    rng = np.random.default_rng(2)
    n, p = 200, 8
    x = rng.standard_normal((n, p))
    y = x[:, :3] @ np.array([1.0, -0.5, 0.25]) + rng.standard_normal(n)
    W = np.ones((1, n))
    g, st = engine.gram_stats(x, y, W)
    f = lambda a: mx.array(np.ascontiguousarray(a, dtype=np.float64), dtype=mx.float64)  # noqa: E731
    lam = 0.05

    xm, m2 = st[0, :p], st[0, 2 * p + 2:]
    sd = np.sqrt(m2 - xm ** 2)
    Gc = (g[0] - np.outer(xm, xm)) / np.outer(sd, sd)           # standardised, centred
    ybar = st[0, 2 * p]
    ysd = np.sqrt(st[0, 2 * p + 1] - ybar ** 2)
    cc = (st[0, p:2 * p] - xm * ybar) / (sd * ysd)

    def call(start):
        # warm start: the gradient at the start goes in the cross-product slot (internal scale)
        gs = st.copy()
        gs[0, p:2 * p] = (cc - Gc @ (start * sd / ysd)) * sd * ysd + xm * ybar
        ip = np.array([1, p, 1, 0, 1, 1, 1, 1, 100000, p + 1, p + 1, p, 0, 0, 1, 5], np.int32)
        dp = np.array([[1.0, lam, 1e-14, 0.0, 0.999, 1e-9]])
        cl = np.stack([np.full(p, -9.9e35), np.full(p, 9.9e35)])[None]
        ins = [f(np.zeros(1)), f(np.zeros(1)), f(np.zeros((1, 1))), f(np.zeros(1)), f(g), f(gs),
               f(np.ones(p)), f(cl), mx.array(np.zeros(p, np.int32)), f(np.zeros(1)),
               mx.array(ip), f(dp), mx.array(np.arange(p, dtype=np.int32)), f(np.zeros(1)),
               mx.zeros((1,), dtype=mx.int32), f(start[None, None, :]), f(np.zeros(1))]
        outs = _core.glmnet_path(ins, 1, nthreads=1, block_threads=1, stream=mx.cpu)
        mx.eval(*outs)
        return np.array(outs[0])[0, 0], int(np.array(outs[5])[0, 1])

    cold, passes_cold = call(np.zeros(p))
    ref = mg.glmnet(x, y, lambda_=[lam], thresh=1e-14, standardize=True)
    np.testing.assert_allclose(cold, ref.beta[:, 0], atol=1e-10)
    warm, passes_warm = call(cold)
    np.testing.assert_allclose(warm, cold, atol=1e-12)
    assert passes_warm < passes_cold


@pytest.mark.parametrize("chunk", [1, 4])
def test_driver_reports_progress_per_lambda(chunk):
    """trace_it on a GPU: the host-driven GLM path tells the progress bar each stored lambda
    (in order, also when a chunk of lambdas is solved at once)."""
    rng, x, y = _data("binomial", 200, 10, seed=4)
    fam = engine.FAMILIES["binomial"]
    params = engine.kernel_params(n=200, p=10, B=1, fam=fam, mode=0, nlam=30, ulam=None,
                                  intercept=True, standardize=True, maxit=100000, dfmax=11,
                                  pmax=10, alpha=1.0, flmin=np.array([1e-4]), thresh=1e-7,
                                  fdev=1e-5, lower=np.full(10, -np.inf), upper=np.full(10, np.inf))
    seen = []
    res = irls.run_glm(x, y, np.ones((1, 200)), np.zeros((1, 200)), fam=fam, pf=np.ones(10),
                       excluded=np.zeros(10, dtype=bool), nlam=30, params=params,
                       backend="cpu", progress=seen.append, chunk=chunk)
    assert seen == list(range(1, int(res.lmu[0]) + 1))
    assert res.extra["irls_chunk"] == chunk


@pytest.mark.parametrize("fam", [1, 2])
def test_fused_moments_match_the_ops(fam):
    """The GPU's fused IRLS moments and deviance (mx.compile, shapeless: one trace serves every
    chunk size and broadcast of the data rows) give the MLX ops' values, also after a trace at
    another shape; here compiled on the CPU, in float32 as on a GPU."""
    import mlx.core as mx
    rng = np.random.default_rng(fam)
    n = 500
    y = (rng.random(n) < 0.4) if fam == 1 else rng.poisson(2.0, n)
    Y1 = mx.array(y.astype(np.float32)[None, :])
    W1 = mx.array(rng.uniform(0, 2, (1, n)).astype(np.float32) / n)
    for make in (irls._moments_of, irls._deviance_of):
        ops, fused = make(fam), mx.compile(make(fam), shapeless=True)
        for k, Y, W in [(16, Y1, W1), (3, mx.broadcast_to(Y1, (3, n)), W1),
                        (5, Y1, mx.concatenate([W1] * 5)), (1, Y1, W1)]:
            eta = mx.array(rng.normal(0, 1.5, (k, n)).astype(np.float32))
            a, b = ops(eta, Y, W, 1e-5), fused(eta, Y, W, 1e-5)
            for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
                assert u.shape == v.shape
                np.testing.assert_allclose(np.array(v), np.array(u), rtol=2e-6, atol=1e-12)
    sq = mx.sqrt(W1)[0][:, None]
    A = mx.array(rng.standard_normal((n, 7)).astype(np.float32))
    fused = mx.compile(irls._scaled_bf16(fam), shapeless=True)
    assert fused(sq, A).dtype == mx.bfloat16
    np.testing.assert_array_equal(np.array(fused(sq, A).astype(mx.float32)),
                                  np.array((sq * A).astype(mx.bfloat16).astype(mx.float32)))


@pytest.mark.parametrize("fam", ["binomial", "poisson"])
def test_chunks_start_on_the_line_through_the_last_two_solutions(monkeypatch, fam):
    """A chunk's lambdas start on the line (in lambda) through their problem's last two
    solutions (irls.EXTRAP), not all at the last one: the same path, in fewer IRLS steps."""
    rng, x, y = _data(fam, 2000, 40, seed=0)
    ref = mg.glmnet(x, y, fam, thresh=1e-12)
    _driver(monkeypatch, 16)
    steps = {}
    for on in (True, False):
        monkeypatch.setattr(irls, "EXTRAP", on)
        got = mg.glmnet(x, y, fam, lambda_=ref.lambda_)
        assert got.jerr == 0 and len(got.lambda_) == len(ref.lambda_)
        assert _gap(x, y, fam, {}, ref, got) < 1e-6
        steps[on] = got.info["irls_steps"]
    assert steps[True] < steps[False]


def test_kept_gram_is_scaled_to_the_current_weights(monkeypatch):
    """In a chunk, a kept Gram stands for a copy's curvature times the ratio of its current IRLS
    weights' sum to the Gram's (irls.RHO, at least RHO_MIN): the same path with fewer
    Gram refreshes where refreshes are rationed (the GPU's regime, REFRESH_FLOPS; measured on an
    H100 at n = 1e6: 14 -> 9 refreshes)."""
    rng = np.random.default_rng(1)
    n, p = 5000, 100
    x = rng.standard_normal((n, p)) + 0.5 * rng.standard_normal((n, 1))
    y = (x[:, :20] @ rng.standard_normal(20) + rng.logistic(size=n) > 0).astype(float)
    ref = mg.glmnet(x, y, "binomial", thresh=1e-12)
    _driver(monkeypatch, 16)
    monkeypatch.setattr(irls, "REFRESH_FLOPS", 0.0)
    refreshes = {}
    for on in (True, False):
        monkeypatch.setattr(irls, "RHO", on)
        got = mg.glmnet(x, y, "binomial", lambda_=ref.lambda_)
        assert got.jerr == 0 and _gap(x, y, "binomial", {}, ref, got) < 1e-5   # (thresh 1e-7)
        refreshes[on] = got.info["gram_refreshes"]
    assert refreshes[True] < refreshes[False]


def test_rho_below_one_only_while_irls_converges(monkeypatch):
    """irls.RHO_MIN < 1 lets a copy's scaled Gram stand for less curvature than the Gram's own,
    but only until that copy's IRLS change grows; from then on rho >= 1 for the rest of the
    chunk. A problem found by fuzzing (binomial, p ~ n, no intercept, non-negative limits,
    zero weights) oscillated in its chunk into maxit with rho unclipped."""
    from test_fuzz import THRESH, make_problem
    spec = {"alpha": 0.25035083513523393, "seed": 3485363, "weights": "with_zeros",
            "family": "binomial", "n": 58, "p": 50, "standardize": False, "offset": False,
            "nlambda": 5, "design": "sparse", "limits": "nonneg", "type_gaussian": "naive",
            "intercept": False, "pf": "random"}
    x, y, kw = make_problem(spec)
    ref = mg.glmnet(x, y, "binomial", thresh=THRESH, **kw)
    okw = {k: v for k, v in kw.items() if k != "nlambda"}
    _driver(monkeypatch, 16)
    monkeypatch.setattr(irls, "RHO_MIN", 0.0)
    got = mg.glmnet(x, y, "binomial", lambda_=ref.lambda_, thresh=THRESH, **okw)
    assert got.jerr == 0 and len(got.lambda_) == len(ref.lambda_) == 5
    assert _gap(x, y, "binomial", kw, ref, got) < 1e-6


# two fuzzed problems (tests/python/test_fuzz.py's make_problem) where the driver's steps on a
# kept Gram ran into maxit at a small lambda of a nearly singular Gram (p = n, neither intercept
# nor standardisation) and glmnet's exact steps complete the path
_MAXIT_SPECS = [
    {"alpha": 0.9157988841820631, "type_gaussian": None, "standardize": False, "nlambda": 5,
     "intercept": False, "design": "sparse", "n": 51, "pf": "zeros", "seed": 9240, "p": 51,
     "weights": "random", "offset": False, "family": "poisson", "limits": "box"},
    {"p": 44, "intercept": False, "alpha": 0.6570288585509196, "family": "binomial",
     "limits": "none", "pf": "none", "seed": 44, "standardize": False, "n": 44, "offset": False,
     "weights": "random", "design": "binary", "nlambda": 14, "type_gaussian": "covariance"},
    # fuzz seed 59: lambda 1 (9 unpenalised binary columns alone, p > n): the kept Gram's steps
    # overshot, one took 87513 passes (maxit's code -1, retried since)
    {"seed": 14, "p": 46, "weights": "random", "n": 14, "family": "poisson", "pf": "zeros",
     "offset": True, "limits": "none", "intercept": True, "standardize": True,
     "type_gaussian": None, "alpha": 0.01, "design": "binary", "nlambda": 13},
]


@pytest.mark.parametrize("spec", _MAXIT_SPECS,
                         ids=["poisson-51x51", "binomial-44x44", "poisson-14x46-lambda1"])
def test_maxit_path_is_solved_again_with_exact_steps(monkeypatch, spec):
    """A problem that runs into maxit in the driver is solved again from the start with a Gram
    at every IRLS step (irls.EXACT_RETRY): then it is the kernel's whole path (glmnet's: 5, 14
    and 13 lambdas), where without the retry it stopped at lambda 2 / 10 / 1 with the maxit
    code."""
    import warnings
    from test_fuzz import THRESH, make_problem
    x, y, kw = make_problem(spec)
    kw["thresh"] = THRESH
    fam = spec["family"]
    ref = mg.glmnet(x, y, fam, **kw)
    assert ref.jerr == 0 and len(ref.lambda_) == spec["nlambda"]
    _driver(monkeypatch, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # (no maxit warning)
        got = mg.glmnet(x, y, fam, **kw)
    assert got.jerr == 0 and len(got.lambda_) == len(ref.lambda_)
    assert got.info["irls_exact_retries"] == 1
    # (lambda_max from the unpenalised stage's solution: thresh 1e-10 gave 4e-8 relative; the
    # binomial path nearly separates, its objective -> 0: relative gaps 1.8e-6 there; the
    # poisson 14 x 46's unpenalised fit is ill-conditioned: 1.3e-5)
    np.testing.assert_allclose(got.lambda_, ref.lambda_, rtol=1e-6 if spec["n"] > 14 else 3e-5)
    assert _gap(x, y, fam, kw, ref, got) < 1e-5
    monkeypatch.setattr(irls, "EXACT_RETRY", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cut = mg.glmnet(x, y, fam, **kw)
    assert -10000 < cut.jerr < 0 and len(cut.lambda_) < len(ref.lambda_)
    assert "irls_exact_retries" not in cut.info


def test_exact_retry_keeps_the_other_problems_of_a_batch(monkeypatch):
    """In a batch, only the problems that ran into maxit are solved again: the others' rows are
    the batch's without the retry, bit for bit, and the retried ones are that problem's path."""
    from test_fuzz import make_problem
    x, y, kw = make_problem(_MAXIT_SPECS[0])
    w = kw.pop("weights")
    rng = np.random.default_rng(5)
    Wb = np.stack([w, w * rng.uniform(0.5, 1.5, w.size), w])
    monkeypatch.setattr(engine, "run_paths", driver_run(1))
    got = mg.glmnet_batch(x, y, "poisson", weights_batch=Wb, **kw)
    alone = mg.glmnet(x, y, "poisson", weights=w, **kw)
    monkeypatch.setattr(irls, "EXACT_RETRY", False)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cut = mg.glmnet_batch(x, y, "poisson", weights_batch=Wb, **kw)
    assert [f.jerr for f in cut] == [-2, 0, -2] and [f.jerr for f in got] == [0, 0, 0]
    assert got[0].info["irls_exact_retries"] == 2

    def dense(f):
        return np.asarray(f.beta.toarray() if hasattr(f.beta, "toarray") else f.beta)
    for k in ("lambda_", "a0", "dev_ratio"):
        np.testing.assert_array_equal(getattr(got[1], k), getattr(cut[1], k))
    np.testing.assert_array_equal(dense(got[1]), dense(cut[1]))
    for b in (0, 2):
        assert len(got[b].lambda_) == len(alone.lambda_) == 5
        np.testing.assert_allclose(dense(got[b]), dense(alone), rtol=1e-6, atol=1e-9)


def test_chunk_step_unseen_by_its_gram_is_solved_again(monkeypatch):
    """A chunk whose shared Gram has no curvature along a coefficient that its step moved (see
    irls.BLIND) is solved again one lambda at a time. The fuzz's case (seed 31): poisson, no
    intercept or standardisation, 5 lambdas 10x apart, column 0 non-zero on one row with y = 0.
    A copy diverged along column 0, the chunk's Gram was formed under its weights (no curvature
    there), every copy's coefficient of column 0 went to 0 unseen by the IRLS test, and the
    chunk passed it 4-9% above the optimum at every lambda after the first."""
    x = np.zeros((12, 5))
    for i, j, v in [(0, 0, -5.1233790801370995), (3, 3, 1.3219609596032025),
                    (4, 2, 0.6485490692163303), (4, 3, 6.225542904786985),
                    (4, 4, -2.604693494249937), (5, 2, 0.15841311229779478),
                    (6, 1, 3.339611361108517), (7, 3, -1.860390467709781),
                    (7, 4, -0.2473658834330821), (8, 2, -0.026785156000713593),
                    (10, 2, -0.07496672112904319), (10, 3, -4.346295361939785)]:
        x[i, j] = v
    y = np.array([0.0, 0, 3, 2, 1, 1, 1, 1, 0, 1, 2, 2])
    w = np.array([0.5857528506297986, 0.6573112968806789, 1.7014564720502312, 0.48984638426321,
                  0.3806064570964383, 0.22859451263573127, 2.0336741762585104,
                  2.5993914577596344, 2.772779518231752, 1.7738104425631904, 1.319026158966409,
                  1.61431958202553])
    kw = dict(weights=w, alpha=1.0, standardize=False, intercept=False, thresh=1e-10)
    ref = mg.glmnet(x, y, "poisson", nlambda=5, **kw)
    assert len(ref.lambda_) == 5 and ref.beta[0, -1] > 1.5     # (column 0 in the model)
    _driver(monkeypatch, 32)
    got = mg.glmnet(x, y, "poisson", lambda_=ref.lambda_, **kw)
    assert got.jerr == 0 and len(got.lambda_) == 5
    assert got.info["irls_blind_steps"] >= 1 and got.info["irls_chunks_retried"] >= 1
    assert _gap(x, y, "poisson", kw, ref, got) < 1e-8
    monkeypatch.setattr(irls, "BLIND", -1.0)                   # (the test off: it can fail)
    cut = mg.glmnet(x, y, "poisson", lambda_=ref.lambda_, **kw)
    assert cut.info["irls_blind_steps"] == 0
    assert _gap(x, y, "poisson", kw, ref, cut) > 1e-2
