"""Property-based fuzzing against R glmnet 4.1 (hypothesis).

Hypothesis draws small random problems -- family gaussian/binomial/poisson, shapes including
p > n, iid / correlated / sparse / binary designs, observation weights (some zero), offsets,
penalty factors with zeros, coefficient limits, alpha in [0, 1], standardize and intercept on or
off, and for gaussian the naive or covariance update forced whatever the shape. R glmnet fits every drawn problem (thresh = 1e-10) in ONE Rscript run; we then fit each with
glmnet's own lambda sequence (thresh = 1e-10) and require, at every lambda,

* our KKT violation (objective.Problem.kkt_violation, glmnet's internal scale) <= KKT_TOL plus
  three times glmnet's own worst violation on the path (at thresh = 1e-10 both solvers stop with
  violations up to a few 1e-4 on that scale, at slightly different points: the differences
  vanish at thresh = 1e-14), and
* our penalized objective, evaluated with glmnet's by objective.Problem (glmnet's objective,
  written independently of the engine), no more than OBJ_RTOL * |glmnet's| + OBJ_NULL_TOL *
  (the null model's loss) above it. The second term matters only when a p >= n path nearly
  interpolates (objective -> 0): both solvers stop on a criterion relative to the null deviance,
  which leaves absolute differences of up to ~2e-6 of the null loss there (near-saturated
  poisson paths, p = n gaussian paths near interpolation, where glmnet's own solution has the
  same KKT violation as ours; the differences vanish at thresh = 1e-14). The worst relative gap
  is reported as well (it is large only where the objective itself is ~0).

The binomial and poisson problems also go through the GPU's IRLS driver (irls.py, on the CPU in
float64), one lambda a step and in chunks of 32, on the same criteria (test_fuzz_glm_driver):
this found a stale Gram diverging and chunks running into maxit. Paths with p >= n and neither
intercept nor standardisation stopped at maxit there (two of the default problems) until such a
problem was solved again with exact Newton steps (irls.EXACT_RETRY): every driver path is now
glmnet's whole path.

Every problem also goes through the float32 GPU path itself on the CPU seam (device="gpu", the
kernel launches served by the CPU primitive on a GPU launch's float32 inputs; default routing, and
every binomial/poisson problem through the IRLS driver), against the same R fits on the GPU's
criterion (test_fuzz_gpu_path_on_the_seam, GPU_RTOL).

With intercept = FALSE, standardize = FALSE and zero weights, glmnet uses a column that is
constant over the positive-weight rows but not over all rows (glmnet's chkvars looks at every row;
such a column then acts as an intercept) for gaussian and poisson, and leaves it out for binomial;
the engine does the same
(test_constant_on_weighted_rows_without_intercept below, against glmnet's numbers). The objective
helper cannot standardise such a column, so fuzz problems where glmnet's solution uses one are
counted as ``known_issue`` and not compared.

CI draws ``MLXS_FUZZ_EXAMPLES`` problems (default 150, ~8 s) from a fixed seed (``derandomize=True``),
so the run is reproducible; a longer run is e.g.::

    MLXS_FUZZ_EXAMPLES=400 MLXS_FUZZ_SEED=7 .venv/bin/python -m pytest tests/python/test_fuzz.py -q -s

which prints the number of problems and the worst objective gap / KKT violation (``-s``), and
writes them as JSON to ``$MLXS_FUZZ_REPORT`` when set. Problems that R glmnet itself refuses or
stops early (jerr != 0) are counted and skipped.
"""
from __future__ import annotations

import contextlib
import json
import os
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import mlxs_glmnet as mg  # noqa: E402
from objective import Problem  # noqa: E402
from rbridge import run_glmnet_cases  # noqa: E402

THRESH = 1e-10
OBJ_RTOL = 1e-6
OBJ_NULL_TOL = 5e-6
KKT_TOL = 1e-4
N_EXAMPLES = int(os.environ.get("MLXS_FUZZ_EXAMPLES", "150"))
SEED = os.environ.get("MLXS_FUZZ_SEED") or None

SPEC = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31 - 1),
    "family": st.sampled_from(["gaussian", "binomial", "poisson"]),
    "n": st.integers(12, 80),
    "p": st.integers(2, 60),
    "design": st.sampled_from(["iid", "correlated", "sparse", "binary"]),
    "weights": st.sampled_from(["none", "random", "with_zeros"]),
    "offset": st.booleans(),
    "pf": st.sampled_from(["none", "zeros", "random"]),
    "limits": st.sampled_from(["none", "none", "box", "nonneg"]),
    "alpha": st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.01, 1.0)),
    "standardize": st.booleans(),
    "intercept": st.booleans(),
    "nlambda": st.integers(5, 40),
    "type_gaussian": st.sampled_from([None, None, "naive", "covariance"]),
})


def _draw_specs(n_examples, seed):
    specs = []
    kw = dict(max_examples=n_examples, deadline=None, database=None, phases=[hypothesis.Phase.generate],
              suppress_health_check=list(HealthCheck))
    if seed is None:
        kw["derandomize"] = True

    @settings(**kw)
    @given(SPEC)
    def collect(spec):
        specs.append(spec)

    if seed is not None:
        collect = hypothesis.seed(int(seed))(collect)
    collect()
    return specs


def make_problem(spec):
    """Data and glmnet options of one drawn spec (numpy; deterministic in spec['seed'])."""
    rng = np.random.default_rng(spec["seed"])
    n, p, fam = spec["n"], spec["p"], spec["family"]
    if spec["design"] == "iid":
        x = rng.standard_normal((n, p))
    elif spec["design"] == "correlated":
        rho = rng.uniform(0.3, 0.95)
        x = np.sqrt(1 - rho) * rng.standard_normal((n, p)) + np.sqrt(rho) * rng.standard_normal((n, 1))
    elif spec["design"] == "sparse":
        x = rng.standard_normal((n, p)) * (rng.uniform(size=(n, p)) < 0.2)
    else:
        x = (rng.uniform(size=(n, p)) < rng.uniform(0.1, 0.9, p)).astype(np.float64)
    x = x * rng.uniform(0.2, 5.0, p) + rng.uniform(-3.0, 3.0, p) * (spec["design"] != "sparse")
    # a column constant over the data (glmnet leaves it out) stays; an all-constant x does not
    sd = x.std(axis=0)
    if not (sd > 1e-8 * np.maximum(1, np.abs(x).max(axis=0))).any():
        x[:, 0] += rng.standard_normal(n)
    k = max(1, min(p, 4))
    beta = np.zeros(p)
    beta[rng.choice(p, k, replace=False)] = rng.uniform(-1, 1, k)
    xs = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    eta = xs @ beta
    kw = {"alpha": float(spec["alpha"]), "standardize": spec["standardize"],
          "intercept": spec["intercept"], "nlambda": spec["nlambda"]}
    w = None
    if spec["weights"] != "none":
        w = rng.uniform(0.2, 3.0, n)
        if spec["weights"] == "with_zeros":
            w[rng.choice(n, max(1, n // 8), replace=False)] = 0.0
        kw["weights"] = w
    off = None
    if spec["offset"]:
        off = rng.uniform(-0.5, 0.5, n)
        kw["offset"] = off
    e = eta + (0 if off is None else off)
    if fam == "gaussian":
        y = 1.0 + 2.0 * eta + rng.standard_normal(n) + (0 if off is None else off)
    elif fam == "binomial":
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-e))).astype(np.float64)
        live = np.flatnonzero(w > 0) if w is not None else np.arange(n)
        # at least two observations (of positive weight) in each class
        y[live[:2]], y[live[2:4]] = 0.0, 1.0
    else:
        y = rng.poisson(np.exp(0.5 * e + 0.2)).astype(np.float64)
        if (y == y[0]).all():
            y[0] += 1
    if spec["pf"] != "none":
        pf = rng.uniform(0.2, 3.0, p) if spec["pf"] == "random" else np.ones(p)
        if spec["pf"] == "zeros":
            pf[rng.choice(p, max(1, p // 5), replace=False)] = 0.0
            if not (pf > 0).any():
                pf[-1] = 1.0
        kw["penalty_factor"] = pf
    if spec["limits"] == "box":
        kw["lower_limits"] = -rng.uniform(0.05, 1.0, p)
        kw["upper_limits"] = rng.uniform(0.05, 1.0, p)
    elif spec["limits"] == "nonneg":
        kw["lower_limits"] = 0.0
    return x, y, kw


_R_NAMES = {"penalty_factor": "penalty.factor", "lower_limits": "lower.limits",
            "upper_limits": "upper.limits"}


@pytest.fixture(scope="module")
def r_fits():
    """The drawn problems and R glmnet's fits of them (one Rscript run)."""
    specs = _draw_specs(N_EXAMPLES, SEED)
    probs = [make_problem(s) for s in specs]
    rcases = [dict(name=f"fuzz{i}", x=x, y=y, family=s["family"],
                   args=dict({_R_NAMES.get(k, k): v for k, v in kw.items()}, family=s["family"],
                             thresh=THRESH))
              for i, (s, (x, y, kw)) in enumerate(zip(specs, probs))]
    return specs, probs, run_glmnet_cases(rcases, timeout=1800)


@pytest.fixture(scope="module")
def fuzz_results(r_fits):
    return _compare(*r_fits, label="fuzz vs glmnet")


def _compare(specs, probs, rres, label, families=None):
    out = []
    for s, (x, y, kw), r in zip(specs, probs, rres):
        if families is not None and s["family"] not in families:
            continue
        rec = dict(spec=s, skipped=None, worst_gap=-np.inf, worst_kkt=0.0, where="",
                   worst_excess=-np.inf, worst_kkt_excess=-np.inf, worst_gap_null=-np.inf)
        if r["error"] is not None or r["jerr"] != 0 or len(r["lambda_"]) == 0:
            rec["skipped"] = r["error"] or f"glmnet jerr={r.get('jerr')}"
            out.append(rec)
            continue
        if not (np.isfinite(r["lambda_"]).all() and np.isfinite(r["beta"]).all()):
            rec["skipped"] = f"glmnet returned non-finite values (lambda {r['lambda_'][:3]})"
            out.append(rec)
            continue
        lam = r["lambda_"]
        okw = {k: v for k, v in kw.items() if k != "nlambda"}
        if s["family"] == "gaussian" and s.get("type_gaussian"):
            okw["type_gaussian"] = s["type_gaussian"]      # both modes whatever the shape
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = mg.glmnet(x, y, s["family"], lambda_=lam, thresh=THRESH, **okw)
        prob = Problem(x, y, s["family"], weights=kw.get("weights"), offset=kw.get("offset"),
                       alpha=kw["alpha"], standardize=kw["standardize"], intercept=kw["intercept"],
                       penalty_factor=kw.get("penalty_factor"),
                       lower_limits=kw.get("lower_limits", -np.inf),
                       upper_limits=kw.get("upper_limits", np.inf))
        rec["k_r"], rec["k_ours"], rec["jerr_ours"] = len(lam), len(fit.lambda_), int(fit.jerr)
        rec["npass_r"] = r["npasses"]
        kkt_r_path = max(prob.kkt_violation(lam[j], r["a0"][j], r["beta"][:, j])[0]
                         for j in range(len(lam)))
        if not np.isfinite(kkt_r_path):
            rec["skipped"] = "known_issue: glmnet uses a column constant over the positive-weight rows"
            out.append(rec)
            continue
        wsum = np.sum(kw["weights"]) if "weights" in kw else len(y)
        f_null = r["nulldev"] / wsum / 2          # the null model's loss on Problem's scale
        for j in range(min(len(lam), len(fit.lambda_))):
            f_r = prob.objective(lam[j], r["a0"][j], r["beta"][:, j])
            f_o = prob.objective(lam[j], fit.a0[j], fit.beta[:, j])
            gap = (f_o - f_r) / max(abs(f_r), 1e-300)
            kkt, _ = prob.kkt_violation(lam[j], fit.a0[j], fit.beta[:, j])
            excess = (f_o - f_r) / (OBJ_RTOL * abs(f_r) + OBJ_NULL_TOL * f_null)  # > 1 fails
            if excess > rec["worst_excess"]:
                rec["worst_excess"], rec["where"] = excess, f"lambda[{j}]={lam[j]:.6g}"
            rec["worst_gap"] = max(rec["worst_gap"], gap)
            rec["worst_gap_null"] = max(rec["worst_gap_null"], (f_o - f_r) / f_null)
            rec["worst_kkt"] = max(rec["worst_kkt"], kkt)
            rec["worst_kkt_excess"] = max(rec["worst_kkt_excess"], kkt / (KKT_TOL + 3 * kkt_r_path))
        out.append(rec)
    done = [o for o in out if o["skipped"] is None]
    known = sum(1 for o in out if str(o["skipped"]).startswith("known_issue"))
    summary = dict(problems=len(out), compared=len(done), known_issue=known,
                   skipped=len(out) - len(done) - known,
                   worst_gap=max((o["worst_gap"] for o in done), default=None),
                   worst_gap_null=max((o["worst_gap_null"] for o in done), default=None),
                   worst_kkt=max((o["worst_kkt"] for o in done), default=None),
                   worst_obj_excess=max((o["worst_excess"] for o in done), default=None),
                   worst_kkt_excess=max((o["worst_kkt_excess"] for o in done), default=None),
                   seed=SEED or "derandomized", lambdas=int(sum(o["k_r"] for o in done)))
    print(f"\n{label}: {json.dumps(summary)}")
    if os.environ.get("MLXS_FUZZ_REPORT") and families is None:
        with open(os.environ["MLXS_FUZZ_REPORT"], "w") as fh:
            json.dump(dict(summary=summary, cases=out), fh, indent=1, default=float)
    return out


def _describe(rec):
    s = rec["spec"]
    return (f"{s['family']} n={s['n']} p={s['p']} design={s['design']} weights={s['weights']} "
            f"offset={s['offset']} pf={s['pf']} limits={s['limits']} alpha={s['alpha']:.3g} "
            f"standardize={s['standardize']} intercept={s['intercept']} seed={s['seed']}"
            f"{' type_gaussian=' + s['type_gaussian'] if s.get('type_gaussian') and s['family'] == 'gaussian' else ''}")


def test_fuzz_drew_enough_problems(fuzz_results):
    done = [o for o in fuzz_results if o["skipped"] is None or o["skipped"].startswith("known")]
    assert len(fuzz_results) >= min(N_EXAMPLES, 20)
    assert len(done) >= 0.8 * len(fuzz_results), \
        [(_describe(o), o["skipped"]) for o in fuzz_results if o["skipped"]]
    fams = {o["spec"]["family"] for o in done}
    assert fams == {"gaussian", "binomial", "poisson"}
    assert any(o["spec"]["p"] > o["spec"]["n"] for o in done)


# glmnet's pass count (maxit counts the whole path's passes) is chaotic in the lambdas near
# maxit: a fuzzed poisson 44 x 43 path (seed 31) took 94788 passes with glmnet's own sequence
# (nlambda = 11), and R glmnet given that same sequence as `lambda` (equal bits up to ~3e-15)
# ran into maxit at lambda 11 (100001 passes), as our engine does there. A path that stops
# with maxit's code at the next lambda where glmnet's own used MAXIT_EDGE of maxit or more is
# such a knife-edge, not an early stop. The IRLS driver alone counts passes of its own (its steps
# are not glmnet's): there the edge is DRIVER_MAXIT_EDGE (seed 47: a poisson 33 x 33 path that
# took glmnet 81647 passes ran into maxit in the driver even with exact steps; on a GPU such a
# problem then goes to the path kernel, gpu.KERNEL_FALLBACK, and the seam test of that route
# found its whole path).
MAXIT_EDGE = 0.9
DRIVER_MAXIT_EDGE = 0.5


def _stopped_early(o, k, jerr, edge=MAXIT_EDGE):
    """Whether a fit of o's problem at glmnet's lambdas, k of them with code jerr, stopped short
    of glmnet's path (a maxit knife-edge excepted: see MAXIT_EDGE)."""
    if k == o["k_r"] and jerr == 0:
        return False
    maxit = 100000                                 # (glmnet's default: the fuzz draws none)
    return not (jerr == -(k + 1) and o["npass_r"] >= edge * maxit)


def test_fuzz_full_path_returned(fuzz_results):
    bad = [(_describe(o), o["k_r"], o["k_ours"], o["jerr_ours"]) for o in fuzz_results
           if o["skipped"] is None and _stopped_early(o, o["k_ours"], o["jerr_ours"])]
    assert not bad, f"our fit at glmnet's lambdas stopped early: {bad[:5]}"


def test_fuzz_objective_not_above_glmnet(fuzz_results):
    bad = [(_describe(o), o["where"], f"relative gap {o['worst_gap']:.3g}",
            f"{o['worst_excess']:.3g}x the tolerance") for o in fuzz_results
           if o["skipped"] is None and o["worst_excess"] > 1]
    assert not bad, f"{len(bad)} problem(s) with our objective above glmnet's: {bad[:5]}"


def test_fuzz_kkt(fuzz_results):
    bad = [(_describe(o), f"{o['worst_kkt']:.3g}") for o in fuzz_results
           if o["skipped"] is None and o["worst_kkt_excess"] > 1]
    assert not bad, f"{len(bad)} problem(s) violate KKT: {bad[:5]}"


@pytest.mark.parametrize("type_gaussian", ["covariance", "naive"])
def test_constant_on_weighted_rows_without_intercept(type_gaussian):
    rng = np.random.default_rng(3)
    n, p = 30, 4
    x = rng.standard_normal((n, p))
    x[:, 1] = 1.0
    x[:5, 1] = 0.0             # constant on rows 5.., different on the zero-weight rows 0..4
    w = np.ones(n)
    w[:5] = 0.0
    y = 2 + x[:, 0] + rng.standard_normal(n)
    fit = mg.glmnet(x, y, weights=w, intercept=False, standardize=False, thresh=1e-12,
                    type_gaussian=type_gaussian)
    # glmnet 4.1-6 on these data (both type.gaussian): 60 lambdas, lambda[0] = 1.933377,
    # beta[1, last] = 2.173571
    assert len(fit.lambda_) == 60
    np.testing.assert_allclose(fit.lambda_[0], 1.933377, rtol=1e-5)
    np.testing.assert_allclose(fit.beta[1, -1], 2.173571, rtol=1e-5)
    # poisson (fishnet) keeps the column too; binomial (lognet) leaves it out (glmnet 4.1-6)
    yb = (x[:, 0] + rng.logistic(size=n) > 0).astype(float)
    yp = rng.poisson(np.exp(0.3 * x[:, 0])).astype(float)
    fb = mg.glmnet(x, yb, "binomial", weights=w, intercept=False, standardize=False, thresh=1e-12)
    assert len(fb.lambda_) == 66
    np.testing.assert_allclose(fb.beta[:, -1], [1.90545, 0.0, 1.465544, -0.3389264], atol=1e-5)
    fp = mg.glmnet(x, yp, "poisson", weights=w, intercept=False, standardize=False, thresh=1e-12)
    assert len(fp.lambda_) == 58
    np.testing.assert_allclose(fp.beta[:, -1], [0.2904354, 0.2093881, 0.1198454, -0.09766627],
                               atol=1e-6)


@pytest.fixture(scope="module", params=[1, 32], ids=["one-lambda-a-step", "chunks-of-32"])
def driver_results(request, r_fits):
    """The binomial and poisson problems through the GPU's IRLS driver (irls.py; on a GPU it
    runs from n = 30000, in chunks of 32 lambdas), here on the CPU in float64: one lambda a step
    and in chunks of 32, against the same R fits and on the same criteria."""
    from mlxs_glmnet import engine
    from test_irls import driver_run
    real = engine.run_paths
    run = driver_run(request.param)
    engine.run_paths = run
    try:
        return _compare(*r_fits, label=f"IRLS driver, {request.param} lambda(s) a step, vs glmnet",
                        families=("binomial", "poisson"))
    finally:
        engine.run_paths = real


def test_fuzz_glm_driver(driver_results):
    """The driver's float64 paths are glmnet's whole paths, within the fuzz's criteria.
    Known limit (MLXS_FUZZ_EXAMPLES=300 MLXS_FUZZ_SEED=61): a poisson 21 x 21 path whose
    unpenalised, non-negative column is non-zero on one row only, where y = 0 and its sign makes
    the coefficient run to +inf (no finite optimum at lambda 1). glmnet stops at 29.7, where its
    coordinate-wise updates of intercept and coefficient have slowed down enough for its test;
    the driver's steps solve intercept and coefficients jointly, keep moving along that
    direction at a constant rate (the intercept's change, weighed by the weights' sum, does not
    shrink), and run into maxit at lambda 1, the exact retry too. On a GPU the path kernel then
    solves it (gpu.KERNEL_FALLBACK; the seam tests of both routes had glmnet's whole path)."""
    done = [o for o in driver_results if o["skipped"] is None]
    assert len(done) >= 0.4 * min(N_EXAMPLES, 20)
    # (before irls.EXACT_RETRY, 2 of the default 150 problems' paths stopped at maxit here)
    early = [(_describe(o), o["k_r"], o["k_ours"], o["jerr_ours"]) for o in done
             if _stopped_early(o, o["k_ours"], o["jerr_ours"], DRIVER_MAXIT_EDGE)]
    assert not early, f"the driver stopped early: {early[:5]}"
    bad = [(_describe(o), o["where"], f"{o['worst_excess']:.3g}x") for o in done
           if o["worst_excess"] > 1]
    assert not bad, f"the driver's objective above glmnet's: {bad[:5]}"
    bad = [(_describe(o), f"{o['worst_kkt']:.3g}") for o in done if o["worst_kkt_excess"] > 1]
    assert not bad, f"the driver's solutions violate KKT: {bad[:5]}"


# The GPU path against glmnet: float32 at glmnet's default thresh (1e-7; float32 cannot resolve
# 1e-10). At that thresh the float64 CPU engine itself (glmnet's passes exactly) stops far from the
# optimum on some near-interpolating p >= n paths (relative gaps up to 1e-1 against glmnet at
# 1e-10, measured here), and float32 rounding then stops elsewhere, so a GPU objective may exceed
# glmnet's by GPU_RTOL relative, GPU_NULL_TOL of the null loss (float32 resolves a deviance to
# ~1e-7 of the null deviance), and GPU_CPU_SLACK times the float64 engine's own excess there.
# The IRLS driver's steps are not glmnet's (kept Grams, a cap on a lambda's float32 IRLS steps):
# where both stop far from the optimum, its stopping point differs more (binomial without
# intercept, p ~ n: up to ~4 times the float64 engine's own excess, 2.9e-4 of the null loss;
# the other routes' worst was 0.64 of this criterion at slack 3)
GPU_THRESH = 1e-7
GPU_RTOL = 1e-4
GPU_NULL_TOL = 1e-5
GPU_CPU_SLACK = {"default": 3.0, "irls": 10.0}


@contextlib.contextmanager
def _gpu_seam(route):
    """The float32 GPU path on the CPU seam: gpu.metal_kernel_call served by the compiled CPU
    primitive (test_gpu_driver_on_cpu.seam_launch); route "irls": every binomial/poisson problem
    through the IRLS driver."""
    from mlxs_glmnet import gpu
    from test_gpu_driver_on_cpu import seam_launch
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gpu, "metal_kernel_call", seam_launch())
        mp.setitem(gpu._ACTIVE, "force", "metal")
        if route == "irls":
            mp.setenv("MLXS_GPU_GLM", "irls")
        try:
            yield
        finally:
            gpu._ACTIVE.pop("backend", None)


@pytest.fixture(scope="module", params=["default", "irls"])
def gpu_seam_results(request, r_fits):
    """Every problem through device="gpu" as a GPU runs it (float32: gpu.run_paths_gpu, its
    covariance and naive launches and screens; with MLXS_GPU_GLM=irls, binomial/poisson through
    the IRLS driver), the launches served by the compiled CPU primitive on the float32 inputs a
    GPU launch receives (test_gpu_driver_on_cpu's seam), at glmnet's lambdas, and the float64
    CPU engine at the same thresh: returns (spec, skipped, k_r, k_gpu, jerr_gpu, worst excess,
    where) per problem (see GPU_RTOL)."""
    specs, probs, rres = r_fits
    fams = None if request.param == "default" else ("binomial", "poisson")
    out = []
    with _gpu_seam(request.param):
        for s, (x, y, kw), r in zip(specs, probs, rres):
            if fams is not None and s["family"] not in fams:
                continue
            rec = dict(spec=s, skipped=None, worst=-np.inf, where="", worst_null=-np.inf)
            out.append(rec)
            if r["error"] is not None or r["jerr"] != 0 or len(r["lambda_"]) == 0 or \
                    not (np.isfinite(r["lambda_"]).all() and np.isfinite(r["beta"]).all()):
                rec["skipped"] = r["error"] or f"glmnet jerr={r.get('jerr')}"
                continue
            lam = r["lambda_"]
            okw = {k: v for k, v in kw.items() if k != "nlambda"}
            if s["family"] == "gaussian" and s.get("type_gaussian"):
                okw["type_gaussian"] = s["type_gaussian"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fg = mg.glmnet(x, y, s["family"], lambda_=lam, device="gpu",
                               thresh=GPU_THRESH, **okw)
                fc = mg.glmnet(x, y, s["family"], lambda_=lam, device="cpu",
                               thresh=GPU_THRESH, **okw)
            prob = Problem(x, y, s["family"], weights=kw.get("weights"),
                           offset=kw.get("offset"), alpha=kw["alpha"],
                           standardize=kw["standardize"], intercept=kw["intercept"],
                           penalty_factor=kw.get("penalty_factor"),
                           lower_limits=kw.get("lower_limits", -np.inf),
                           upper_limits=kw.get("upper_limits", np.inf))
            rec["k_r"], rec["k_gpu"], rec["jerr_gpu"] = len(lam), len(fg.lambda_), int(fg.jerr)
            rec["npass_r"] = r["npasses"]
            f_null = r["nulldev"] / (np.sum(kw["weights"]) if "weights" in kw else len(y)) / 2
            bg = np.asarray(fg.beta.toarray() if hasattr(fg.beta, "toarray") else fg.beta)
            bc = np.asarray(fc.beta.toarray() if hasattr(fc.beta, "toarray") else fc.beta)
            for j in range(min(len(lam), len(fg.lambda_), len(fc.lambda_))):
                f_r = prob.objective(lam[j], r["a0"][j], r["beta"][:, j])
                f_g = prob.objective(lam[j], fg.a0[j], bg[:, j])
                f_c = prob.objective(lam[j], fc.a0[j], bc[:, j])
                excess = (f_g - f_r) / (GPU_RTOL * abs(f_r) + GPU_NULL_TOL * f_null +
                                        GPU_CPU_SLACK[request.param] * max(f_c - f_r, 0.0))
                if excess > rec["worst"]:
                    rec["worst"], rec["where"] = excess, f"lambda[{j}]={lam[j]:.6g}"
                rec["worst_null"] = max(rec["worst_null"], (f_g - f_r) / f_null)
    done = [o for o in out if o["skipped"] is None]
    print(f"\nGPU path on the CPU seam ({request.param}) vs glmnet: {len(done)} of {len(out)} "
          f"problems compared, worst excess {max(o['worst'] for o in done):.3g}, worst objective "
          f"above glmnet's {max(o['worst_null'] for o in done):.3g} of the null loss")
    return out


def test_fuzz_gpu_path_on_the_seam(gpu_seam_results):
    """The float32 GPU path's paths are glmnet's whole paths, with objectives within the GPU
    criterion (GPU_RTOL) of glmnet's at every lambda. (This found three binomial p > n paths that
    the float32 IRLS driver stopped early, now solved by the path kernel: gpu.KERNEL_FALLBACK.
    Known limit: with MLXS_FUZZ_EXAMPLES=400 MLXS_FUZZ_SEED=7 two IRLS-route paths exceed the
    criterion, 3.2x and 1.4x: on an ill-conditioned binomial 80 x 53 at alpha 0.115 the driver's
    float32 steps accepted at its cap (irls_cap) leave the objective 4.6e-3 above the optimum
    where the path kernel in float32, and the float64 engine at thresh 1e-7, are within 1.2e-4.
    MLXS_FUZZ_SEED=47 (300 problems) shows the same kind on three IRLS-route paths, 1.7-5.8x:
    poisson 12 x 12 with box limits (7.4e-4 relative, one copy accepted at the cap), binomial
    42 x 37 and 37 x 37 without intercept or standardisation (2.2e-2 and 2.3e-3 relative, none
    at the cap: chunk copies whose shared Gram's curvature is another lambda's pass the IRLS test
    early), where one lambda a step is within 1.1e-4. The default route sends none of these to
    the driver, which it uses from n = 30000 on.)"""
    done = [o for o in gpu_seam_results if o["skipped"] is None]
    assert len(done) >= 0.4 * min(N_EXAMPLES, 20)
    early = [(_describe(o), o["k_r"], o["k_gpu"], o["jerr_gpu"]) for o in done
             if _stopped_early(o, o["k_gpu"], o["jerr_gpu"])]
    assert not early, f"the GPU path stopped early: {early[:5]}"
    bad = [(_describe(o), o["where"], f"{o['worst']:.3g}x") for o in done if o["worst"] > 1]
    assert not bad, f"the GPU path's objective above glmnet's: {bad[:5]}"


# (default routing only: through the IRLS driver some of these CV batches took minutes on the
# seam, their hard folds run to maxit in the driver, again in its exact retry, then in the path
# kernel)
@pytest.fixture(scope="module", params=["default"])
def gpu_seam_cv_results(request):
    """CV batches (glmnet_batch(foldid=...): the full data and 3-5 folds, one batch as cv_glmnet
    fits it) of the drawn problems with n >= 30 through the float32 GPU path on the CPU seam, at
    the full data's lambdas, against the float64 engine's batch at thresh 1e-10 (the reference),
    at the GPU's thresh (1e-7), and the float32 CPU engine's (the same kernel in float32: what
    float32 itself allows). Per batch: (spec, worst excess over its problems and lambdas, where,
    and the problems whose GPU path stopped early where the float32 CPU engine's did not)."""
    specs = _draw_specs(N_EXAMPLES, SEED)
    out = []
    with _gpu_seam(request.param):
        for s in specs:
            if s["n"] < 30 or (request.param == "irls" and s["family"] == "gaussian"):
                continue
            x, y, kw = make_problem(s)
            K = 3 + s["seed"] % 3
            foldid = np.random.default_rng(s["seed"]).permutation(np.arange(s["n"]) % K) + 1
            okw = {k: v for k, v in kw.items() if k != "nlambda"}
            if s["family"] == "gaussian" and s.get("type_gaussian"):
                okw["type_gaussian"] = s["type_gaussian"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    lam = mg.glmnet(x, y, s["family"], nlambda=kw["nlambda"], **okw).lambda_
                    fits = [mg.glmnet_batch(x, y, s["family"], foldid=foldid, lambda_=lam,
                                            **dict(okw, **o))
                            for o in (dict(thresh=1e-10), dict(thresh=GPU_THRESH),
                                      dict(thresh=GPU_THRESH, dtype="float32"),
                                      dict(thresh=GPU_THRESH, device="gpu"))]
                except ValueError:                 # (a fold of one class, say)
                    continue
            rec = dict(spec=s, worst=-np.inf, where="", early=[])
            out.append(rec)
            w0 = kw.get("weights", np.ones(len(y)))
            for b in range(K + 1):
                r, c64, c32, g = (f[b] for f in fits)
                if (len(g.lambda_), g.jerr) != (len(c32.lambda_), c32.jerr) and \
                        (len(g.lambda_) < len(c64.lambda_) or g.jerr != 0):
                    rec["early"].append((b, len(g.lambda_), int(g.jerr), len(c64.lambda_)))
                wb = w0 * (foldid != b) if b > 0 else w0
                prob = Problem(x, y, s["family"], weights=wb, offset=kw.get("offset"),
                               alpha=kw["alpha"], standardize=kw["standardize"],
                               intercept=kw["intercept"],
                               penalty_factor=kw.get("penalty_factor"))
                f_null = r.nulldev / wb.sum() / 2
                bs = [np.asarray(f.beta.toarray() if hasattr(f.beta, "toarray") else f.beta)
                      for f in (r, c64, c32, g)]
                for j in range(min(len(f.lambda_) for f in (r, c64, c32, g))):
                    o_r, o_64, o_32, o_g = (prob.objective(lam[j], f.a0[j], bb[:, j])
                                            for f, bb in zip((r, c64, c32, g), bs))
                    excess = (o_g - o_r) / (GPU_RTOL * abs(o_r) + GPU_NULL_TOL * f_null +
                                            GPU_CPU_SLACK[request.param] *
                                            max(o_64 - o_r, o_32 - o_r, 0.0))
                    if excess > rec["worst"]:
                        rec["worst"], rec["where"] = excess, f"problem {b} lambda[{j}]"
    print(f"\nGPU CV batches on the CPU seam ({request.param}): {len(out)} batches, worst excess "
          f"{max(o['worst'] for o in out):.3g}")
    return out


def test_fuzz_gpu_cv_batches_on_the_seam(gpu_seam_cv_results):
    """Every problem of a CV batch (the full data and its folds) on the float32 GPU path: its
    whole path unless the float32 CPU engine's stops there too (a poisson fold of 20 rows and 33
    columns, 6 unpenalised, no intercept, needs 41143 passes for its first lambda in float64 and
    runs into maxit in float32 on either), and objectives within the GPU criterion, where
    float32's own distance (the CPU engine's in float32) counts as the float64 engine's does."""
    assert len(gpu_seam_cv_results) >= 0.2 * min(N_EXAMPLES, 20)
    early = [(_describe(o), o["early"]) for o in gpu_seam_cv_results if o["early"]]
    assert not early, f"a CV problem's GPU path stopped early: {early[:5]}"
    bad = [(_describe(o), o["where"], f"{o['worst']:.3g}x") for o in gpu_seam_cv_results
           if o["worst"] > 1]
    assert not bad, f"a CV problem's GPU objective above the reference: {bad[:5]}"
