"""The GPU check and benchmark, one script (issue 6).

    python bench/gpu.py ref       # here (CPU, float64): writes bench/gpu_ref.npz, the references
    python bench/gpu.py --check   # on the CUDA machine: every case against the references;
                                  # exit status 1 on any failure
    python bench/gpu.py --time    # on the CUDA machine: timings, against glmnet's Fortran
                                  # (python-glmnet) on the same host, markdown to $OUT/gpu.md
    python bench/gpu.py --auto    # on the CUDA machine: x in host memory (numpy), device="gpu"
                                  # against device="cpu" over a grid of shapes: the evidence for
                                  # device="auto"'s rule (engine.AUTO_GPU_GLM_ELEMENTS,
                                  # AUTO_GPU_GAUSSIAN_ELEMENTS);
                                  # AUTO_SET=small|medium|large|edge picks one part of the grid,
                                  # AUTO_ORDER=C|F|C,F x's layout (numpy's, R's, or both),
                                  # AUTO_MIN_ELEMENTS=m only the shapes with n p >= m

The check compares float32 GPU solutions with the float64 CPU engine on glmnet's objective at
every lambda (same lambdas: the GPU fit gets the reference path as user lambdas) and checks that
the default path matches in length and lambdas. Timings are medians of repeats after a warm-up
launch (NVRTC compiles each kernel once per process), wall-clock around the whole call, which
returns host numpy arrays (so the device is synchronised).
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
import mlxs_glmnet as mg  # noqa: E402
from objective import Problem  # noqa: E402

REF = os.path.join(HERE, "gpu_ref.npz")
TOL_OBJ = 1e-4     # issue 6: relative objective gap of float32 GPU vs float64 CPU
# glmnet's early stop compares deviance changes with 1e-5: in float32 the last few lambdas before
# it can come out either way (observed: up to 4 lambdas for binomial)
NLAM_SLACK = 5


# covariance-mode drivers the check runs (gpu module settings; None: the module's default)
DRIVERS = {"whole": dict(FULL_GRAM_FLOPS=None, FIRST_COLUMNS=None, ROUND_COLUMNS=None,
                         SCREEN_ROUNDS=None),
           "rounds": dict(FULL_GRAM_FLOPS=0.0, FIRST_COLUMNS=4, ROUND_COLUMNS=4, SCREEN_ROUNDS=0),
           "screen": dict(FULL_GRAM_FLOPS=0.0, FIRST_COLUMNS=4, ROUND_COLUMNS=4, SCREEN_ROUNDS=2)}


def cases():
    """(name, x, y, family, kwargs, weights_batch or None)."""
    rng = np.random.default_rng(7)
    out = []
    for (n, p) in [(400, 30), (150, 300)]:
        x = rng.standard_normal((n, p)) + 0.3 * rng.standard_normal((n, 1))
        x[:, 3] = x[:, 3] * 5 + 40                   # a column with a large mean and scale
        eta = x[:, :5] @ np.array([1.0, -1.0, 0.5, 0.1, -0.5])
        eta -= eta.mean()
        ys = {"gaussian": eta + rng.standard_normal(n) + 3.0,
              "binomial": (eta + rng.logistic(size=n) > 0).astype(float),
              "poisson": rng.poisson(np.exp(0.3 * (eta - eta.mean()))).astype(float)}
        w = rng.uniform(0.5, 2.0, n)
        off = 0.2 * rng.standard_normal(n)
        pf = np.ones(p); pf[:2] = 0.0; pf[5] = 2.0
        for fam, y in ys.items():
            tgs = ["covariance", "naive"] if (fam == "gaussian" and n >= p) else [None]
            for tg in tgs:
                tag = f"{fam}_{n}x{p}_{tg or 'naive'}"
                base = dict(type_gaussian=tg) if fam == "gaussian" else {}
                out.append((f"{tag}_default", x, y, fam, dict(base), None))
                out.append((f"{tag}_options", x, y, fam,
                            dict(base, weights=w, offset=off if fam != "gaussian" else None,
                                 alpha=0.4, penalty_factor=pf, lower_limits=-0.6,
                                 upper_limits=0.8), None))
                if fam == "gaussian":
                    out.append((f"{tag}_nointercept_nostd", x, y, fam,
                                dict(base, intercept=False, standardize=False), None))
                fold = rng.integers(0, 5, n)
                Wb = np.stack([np.ones(n)] + [(fold != k).astype(float) for k in range(5)])
                out.append((f"{tag}_folds", x, y, fam, dict(base), Wb))
                if tg == "covariance":
                    # folds of a weighting with zero rows (the statistics over every row), and
                    # three responses in one call (their statistics as one GEMM)
                    w0 = w * (rng.uniform(size=n) > 0.1)
                    Wb = np.stack([w0] + [w0 * (fold != k) for k in range(5)])
                    out.append((f"{tag}_weighted_folds", x, y, fam, dict(base), Wb))
                    Y = np.stack([y, eta[::-1] + rng.standard_normal(n),
                                  x[:, 3] - 2.0 * x[:, 7] + rng.standard_normal(n)], axis=1)
                    out.append((f"{tag}_responses", x, Y, fam, dict(base), None))
    return out


def fit(x, y, fam, kw, Wb, **extra):
    if Wb is None and np.ndim(y) == 2:
        return mg.glmnet_batch(x, y, fam, **kw, **extra)             # one problem a response
    if Wb is None:
        return [mg.glmnet(x, y, fam, **kw, **extra)]
    return mg.glmnet_batch(x, y, fam, weights_batch=Wb, **kw, **extra)


def make_ref():
    out = {}
    for name, x, y, fam, kw, Wb in cases():
        for b, f in enumerate(fit(x, y, fam, kw, Wb, thresh=1e-12)):
            out[f"{name}/{b}/lam"] = f.lambda_
            out[f"{name}/{b}/beta"] = f.beta
            out[f"{name}/{b}/a0"] = f.a0
    np.savez_compressed(REF, **out)
    print(f"wrote {REF} ({len(out) // 3} paths)")


def check():
    import mlx.core as mx
    print("mlx", mx.__version__, mx.default_device(), flush=True)
    ref = np.load(REF)
    worst, failures, npaths = 0.0, [], 0
    from mlxs_glmnet import gpu as G
    defaults = {k: getattr(G, k) for k in DRIVERS["whole"]}
    runs = [(c, d) for c in cases() for d in (DRIVERS if "covariance" in c[0] else ["whole"])]
    for (name0, x, y, fam, kw, Wb), drv in runs:
        # covariance mode three ways: the whole Gram, rounds of columns with resumed launches,
        # and the screen before the first launch (the cases' p is small enough for the first)
        for k, v in DRIVERS[drv].items():
            setattr(G, k, v if v is not None else defaults[k])
        name = name0 if drv == "whole" else f"{name0}[{drv}]"
        W = np.ones((np.shape(y)[1] if np.ndim(y) == 2 else 1, x.shape[0])) if Wb is None else Wb
        gfits = fit(x, y, fam, kw, Wb, device="gpu")
        yall = y
        for b in range(W.shape[0]):
            y = yall[:, b] if np.ndim(yall) == 2 else yall
            rl = ref[f"{name0}/{b}/lam"]
            rb, ra = ref[f"{name0}/{b}/beta"], ref[f"{name0}/{b}/a0"]
            g = gfits[b]
            # the default path: the same lambdas (length may differ by one at the early stop)
            k = min(len(rl), len(g.lambda_))
            lam_err = float(np.abs(g.lambda_[:k] / rl[:k] - 1).max())
            # the same lambdas as user lambdas: objective gap at every one
            wk = dict(kw)
            w0 = wk.pop("weights", None)
            wts = W[b] * (np.ones(len(y)) if w0 is None else w0)
            # (thresh 1e-10: this measures float32 against float64, not the stopping rule)
            gl = fit(x, y, fam, dict(wk, weights=wts), None, device="gpu", lambda_=rl,
                     thresh=1e-10)[0]
            prob = Problem(x, y, fam, weights=wts, offset=kw.get("offset"),
                           alpha=kw.get("alpha", 1.0), penalty_factor=kw.get("penalty_factor"),
                           standardize=kw.get("standardize", True),
                           intercept=kw.get("intercept", True))
            gaps = []
            for m in range(min(len(rl), len(gl.lambda_))):     # (fewer: a failure, below)
                fr = prob.objective(rl[m], ra[m], rb[:, m])
                fg = prob.objective(rl[m], gl.a0[m], gl.beta[:, m])
                gaps.append((fg - fr) / max(abs(fr), 1e-12))
            gap = float(np.max(np.abs(gaps)))
            worst = max(worst, gap)
            npaths += 1
            ok = gap <= TOL_OBJ and lam_err <= 1e-4 and abs(len(rl) - len(g.lambda_)) <= NLAM_SLACK \
                and len(gl.lambda_) == len(rl)
            if not ok:
                failures.append(name)
            print(f"{'ok  ' if ok else 'FAIL'} {name}/{b}: nlam gpu {len(g.lambda_)} cpu {len(rl)} "
                  f"(user lambdas: {len(gl.lambda_)}, jerr {gl.jerr}), "
                  f"lambda rel err {lam_err:.1e}, max rel objective gap {gap:.1e}", flush=True)
    for k, v in defaults.items():
        setattr(G, k, v)
    # relax=True: the refits of the active sets through the GPU drivers, against the float64
    # CPU engine's relaxed fits (float32 accuracy on the deviance ratio and the coefficients)
    for name, x, y, fam, kw, Wb in cases():
        if Wb is not None or np.ndim(y) == 2 or not name.endswith("_default") or x.shape[0] < x.shape[1]:
            continue
        try:
            g = mg.glmnet(x, y, fam, relax=True, device="gpu", thresh=1e-10, **kw).relaxed
            c = mg.glmnet(x, y, fam, relax=True, device="cpu", thresh=1e-12, **kw).relaxed
            k = min(len(g.lambda_), len(c.lambda_))
            dd = float(np.abs(g.dev_ratio[:k] - c.dev_ratio[:k]).max())
            db = float(np.abs(g.beta[:, :k] - c.beta[:, :k]).max() / max(np.abs(c.beta).max(), 1.0))
            ok = dd <= 1e-4 and db <= 1e-2
            print(f"{'ok  ' if ok else 'FAIL'} relax {name}: max |d dev_ratio| {dd:.1e}, "
                  f"max |d beta| / max |beta| {db:.1e}", flush=True)
            if not ok:
                failures.append(f"relax {name}")
        except Exception as e:  # noqa: BLE001 - reported as a failure
            failures.append(f"relax {name}: {type(e).__name__}: {e}")
    # glmnet_control: the path-stopping settings reach the GPU drivers
    for ctl in (dict(fdev=0), dict(devmax=0.8), dict(mnlam=30, fdev=1e-3)):
        for name, x, y, fam, kw, Wb in cases()[:1] + [c for c in cases() if c[0].startswith("binomial_400")][:1]:
            try:
                mg.glmnet_control(**ctl)
                ng = len(mg.glmnet(x, y, fam, device="gpu", **kw).lambda_)
                nc = len(mg.glmnet(x, y, fam, device="cpu", **kw).lambda_)
            finally:
                mg.glmnet_control(factory=True)
            ok = abs(ng - nc) <= (1 if ctl.get("fdev", 1) != 0 else 0)
            print(f"{'ok  ' if ok else 'FAIL'} control {ctl} {name}: nlam gpu {ng} cpu {nc}", flush=True)
            if not ok:
                failures.append(f"control {ctl} {name}")
    # bad input reaches the GPU only after validation; the messages name the argument
    x, y = cases()[0][1], cases()[0][2]
    for bad, kw in [("thresh", dict(thresh=-1.0)), ("weights", dict(weights=-np.ones(len(y)))),
                    ("x", dict(x=np.full_like(x, np.nan)))]:
        try:
            mg.glmnet(kw.pop("x", x), y, device="gpu", **kw)
            failures.append(f"bad {bad} accepted")
        except ValueError as e:
            if bad not in str(e):
                failures.append(f"bad {bad}: message {e}")
    xd = mx.array(x.astype(np.float32))
    xd[0, 0] = float("inf")
    for tg in ("covariance", "naive"):
        try:
            mg.glmnet(xd, y, device="gpu", type_gaussian=tg)
            failures.append(f"device x with Inf accepted ({tg})")
        except ValueError as e:
            if "x contains NaN" not in str(e):
                failures.append(f"device x with Inf ({tg}): {e}")
    # device="cpu" on a machine whose default MLX device is the GPU (float64 lives on the CPU
    # only): the float64 engine, a device x included, and cv_glmnet, against the reference
    name, x, y, fam, kw, _ = cases()[0]
    for xin in (x, mx.array(x.astype(np.float32))):
        try:
            c = fit(xin, y, fam, kw, None, device="cpu", thresh=1e-12)[0]
            rb = ref[f"{name}/0/beta"]
            if xin is x and (c.beta.shape != rb.shape or np.abs(c.beta - rb).max() > 1e-9):
                failures.append("device='cpu' differs from the reference")
            mg.cv_glmnet(xin, y, fam, device="cpu", nfolds=3, seed=1)
        except Exception as e:  # noqa: BLE001 - reported as a failure
            failures.append(f"device='cpu' on a GPU machine: {type(e).__name__}: {e}")
    # the GPU memory plan: the device's budget as MLX reports it, and a fit beyond a small budget
    # (auto: the CPU engine; device="gpu": MemoryError before anything reaches the device)
    from mlxs_glmnet import memory
    budget = memory.gpu_budget_bytes()
    try:
        info = mx.device_info(mx.gpu)
    except Exception as e:  # noqa: BLE001 - reported below (the budget is then unknown)
        info = f"{type(e).__name__}: {e}"
    print(f"GPU memory budget {budget} bytes; device_info {info}", flush=True)
    if budget is None or budget < (1 << 30):
        failures.append(f"GPU memory budget {budget}")
    os.environ[memory.GPU_ENV] = "1K"
    try:
        xd = mx.array(x.astype(np.float32))
        if mg.glmnet(xd, y, fam, **kw).info["device"] != "cpu":
            failures.append("auto did not take the CPU beyond the GPU budget")
        try:
            mg.glmnet(xd, y, fam, device="gpu", **kw)
            failures.append("device='gpu' beyond the GPU budget accepted")
        except MemoryError as e:
            if "GPU memory" not in str(e):
                failures.append(f"GPU budget: message {e}")
    finally:
        del os.environ[memory.GPU_ENV]
    print(f"{npaths} GPU paths checked; worst relative objective gap {worst:.2e} (limit {TOL_OBJ:g}); "
          f"{len(failures)} failure(s) {failures}; {mg.gpu.THREADS} threads per block", flush=True)
    return 1 if failures else 0


def _median_time(f, reps):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def _fortran():
    try:
        from glmnet import _glmnet   # python-glmnet: glmnet's own Fortran
        return _glmnet
    except Exception as e:  # pragma: no cover - depends on the machine
        print("python-glmnet not available:", e)
        return None


def fortran_path(F, x, y, family, nlam=100):
    """One default path with glmnet's Fortran (python-glmnet's f2py wrappers), float64."""
    n, p = x.shape
    xf = np.asfortranarray(x, dtype=np.float64)
    jd = np.zeros(1, dtype=np.int32)
    vp = np.ones(p)
    cl = np.asfortranarray(np.vstack([np.full(p, -9.9e35), np.full(p, 9.9e35)]))
    ulam = np.zeros(nlam)
    flmin = 1e-4 if n > p else 0.01
    common = dict(jd=jd, vp=vp, cl=cl, nx=p, flmin=flmin, ulam=ulam, thr=1e-7, ne=p + 1,
                  nlam=nlam, isd=1, intr=1, maxit=100000)
    if family == "gaussian":
        return F.elnet(ka=1, parm=1.0, x=xf, y=y.astype(np.float64).copy(), w=np.ones(n), **common)
    if family == "binomial":
        yy = np.asfortranarray(np.stack([1 - y, y], axis=1), dtype=np.float64)
        return F.lognet(parm=1.0, nc=1, x=xf, y=yy, g=np.zeros((n, 2), order="F"), kopt=0, **common)
    return F.fishnet(parm=1.0, x=xf, y=y.astype(np.float64).copy(), g=np.zeros(n), w=np.ones(n),
                     **common)


def timing():
    import mlx.core as mx
    lines = []
    def say(s):                         # printed, kept, and written as it goes ($OUT/gpu.md)
        print(s, flush=True)
        lines.append(s)
        _write(lines)
    F = _fortran()

    def data(n, p, family, k=20, nresp=1):
        # the same data for a row whichever rows run (GPU_BENCH_ONLY)
        rng = np.random.default_rng([n, p, k, nresp, {"gaussian": 0, "binomial": 1}.get(family, 2)])
        xd = mx.random.normal((n, p), key=mx.random.key(1)) \
            + 0.5 * mx.random.normal((n, 1), key=mx.random.key(2))
        beta = np.zeros((p, nresp)); beta[:k] = rng.standard_normal((k, nresp))
        eta = np.array(xd @ mx.array(beta.astype(np.float32)), dtype=np.float64)
        if family == "gaussian":
            y = eta + rng.standard_normal(eta.shape)
        elif family == "binomial":
            y = (eta + rng.logistic(size=eta.shape) > 0).astype(float)
        else:
            y = rng.poisson(np.exp(0.3 * eta / eta.std())).astype(float)
        mx.eval(xd)
        return xd, (y[:, 0] if nresp == 1 else y)

    def sk_path(xh, y):
        try:
            from sklearn.linear_model import enet_path
        except Exception:
            return None
        xc = xh - xh.mean(axis=0)
        xc /= xc.std(axis=0)
        import warnings
        with warnings.catch_warnings():      # (its convergence and deprecation notes: timed only)
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            enet_path(xc, y - y.mean(), l1_ratio=1.0, n_alphas=100, eps=1e-4, tol=1e-7)
            return time.perf_counter() - t0

    only = [t for t in os.environ.get("GPU_BENCH_ONLY", "").split(";") if t]

    def one(label, n, p, family, reps=5, fortran=True, folds=0, nresp=1, sk=False, lmr=None):
        if only and not any(t in label for t in only):
            return float("nan")
        xd, y = data(n, p, family, nresp=nresp)
        if nresp > 1:
            call = lambda: mg.glmnet_batch(xd, y, family, device="gpu",  # noqa: E731
                                           lambda_min_ratio=lmr)
        elif folds:
            # cv_glmnet's call: the full data and every fold's training rows, given by foldid
            foldid = np.random.default_rng(folds).integers(0, folds, n) + 1
            call = lambda: mg.glmnet_batch(xd, y, family, foldid=foldid, device="gpu")  # noqa: E731
        else:
            call = lambda: [mg.glmnet(xd, y, family, device="gpu")]  # noqa: E731
        res = {}
        t = _median_time(lambda: res.__setitem__("f", call()), reps)
        f = res["f"][0]
        tf = tsk = None
        if os.environ.get("GPU_BENCH_NO_REF"):        # GPU rows only (development)
            fortran = sk = False
        if (fortran and F is not None) or sk:
            xh = np.array(xd, dtype=np.float64)
            if fortran and F is not None:
                t0 = time.perf_counter()
                fortran_path(F, xh, y, family)
                tf = time.perf_counter() - t0
            if sk:
                tsk = sk_path(xh, y)
            del xh
        prof = ""
        if True:
            # (twice, the second reported: the stage boundaries' evaluations can compile MLX
            # kernels of their own on the first profiled call)
            os.environ["MLXS_GPU_PROFILE"] = "1"
            call()
            fp = call()[0]
            del os.environ["MLXS_GPU_PROFILE"]
            prof = ", ".join(f"{k} {v} ms" for k, v in fp.info.get("gpu_profile", {}).items())
        if "gpu_strong_columns" in f.info:          # GLMs: IRLS in covariance form
            info = f"{len(f.lambda_)} lambdas, df {int(f.df[-1])}, " \
                f"{f.info['gpu_strong_columns']} strong-set columns, {f.info['irls_steps']} IRLS " \
                f"steps ({f.info.get('irls_chunk', 1)} lambdas a step), " \
                f"{f.info['gram_refreshes']} Gram refreshes"
        else:
            info = f"{len(f.lambda_)} lambdas, df {int(f.df[-1])}, " \
                f"{f.info.get('gpu_screens', 0)} screen(s), {f.info.get('gpu_rounds', 1)} launch(es) over " \
                f"all variables, {f.info.get('gpu_columns', '-')} Gram columns"
        ratio = "" if tf is None else f"{tf / t:.0f}x"
        sks = "" if tsk is None else f"{tsk * 1e3:.0f} ms ({tsk / t:.0f}x)"
        say(f"| {label} | {t * 1e3:.1f} ms | {'' if tf is None else f'{tf * 1e3:.0f} ms'} | {ratio} | "
            f"{sks} | {info} | {prof} |")
        return t

    quick = bool(os.environ.get("GPU_BENCH_QUICK"))
    if quick:                      # development: the GPU rows only, and the stage micro-timings
        from mlxs_glmnet import gpu as G
        n, p = 1000000, 1000
        xd, _ = data(n, p, "gaussian")
        c = mx.mean(xd[:1024], axis=0)
        w1 = mx.full((1, n), 1.0 / n, dtype=mx.float32)
        ys = mx.zeros((1, n), dtype=mx.float32)
        say(f"column statistics (the stats kernel and its sum) "
            f"{_median_time(lambda: mx.eval(G.column_stats(xd, c, w1, ys, 1)), 5) * 1e3:.2f} ms; "
            f"x'w GEMV {_median_time(lambda: mx.eval(w1 @ xd), 5) * 1e3:.2f} ms; "
            f"isfinite check {_median_time(lambda: mx.all(mx.isfinite(xd)).item(), 5) * 1e3:.2f} ms")
        S = np.arange(64)
        cols = G._Columns(xd, c, w1, np.ones(1), True)
        cols.m1s = mx.zeros((1, p))
        say(f"64 Gram columns {_median_time(lambda: mx.eval(cols.compute(S)), 5) * 1e3:.2f} ms; "
            f"16 columns {_median_time(lambda: mx.eval(cols.compute(S[:16])), 5) * 1e3:.2f} ms")
        del xd
        F = None
    say("| problem (GPU: x already on the device, float32) | GPU | glmnet Fortran (1 core, float64) | "
        "speed-up | sklearn enet_path (float64) | path | GPU stages (one profiled run) |")
    say("|---|---|---|---|---|---|---|")
    one("gaussian n=10,000 p=100", 10000, 100, "gaussian", reps=9, sk=True)
    # (glmnet's Fortran took 60-72 s on this row in earlier runs: skipped to save device time;
    # the n = 1e6 row carries the comparison)
    one("gaussian n=100,000 p=1,000", 100000, 1000, "gaussian", fortran=False, sk=True)
    t1 = one("gaussian n=1,000,000 p=1,000", 1000000, 1000, "gaussian", reps=5, sk=True)
    t10 = one("gaussian n=1,000,000 p=1,000, full + 10 CV folds (11 problems)", 1000000, 1000,
              "gaussian", reps=3, fortran=False, folds=10)
    notes = []                         # (ratios, said after the table: a line inside breaks it)
    if t1 == t1 and t10 == t10:
        notes.append(f"CV (full + 10 folds) / one fit at n=1e6, p=1e3: {t10 / t1:.2f}x")
    one("gaussian n=20,000 p=2,000, 100 responses in one call", 20000, 2000, "gaussian",
        reps=3, fortran=False, nresp=100)
    # the path of the prototype's 4.8 ms figure (../shared/device): lambda down to lambda_max / 100
    one("gaussian n=20,000 p=2,000, 100 responses, lambda_min_ratio=0.01 (the prototype's path)",
        20000, 2000, "gaussian", reps=3, fortran=False, nresp=100, lmr=0.01)
    if quick:
        for t in notes:
            say("\n" + t)
        return _write(lines)
    one("binomial n=10,000 p=100", 10000, 100, "binomial", reps=5)
    one("binomial n=100,000 p=1,000", 100000, 1000, "binomial", reps=3)
    # (glmnet's Fortran at n = 1e6 would take ~10 min: its n = 1e5 row is the comparison)
    b1 = one("binomial n=1,000,000 p=1,000", 1000000, 1000, "binomial", reps=3, fortran=False)
    b10 = one("binomial n=1,000,000 p=1,000, full + 10 CV folds (11 problems)", 1000000, 1000,
              "binomial", reps=1, fortran=False, folds=10)
    if b1 == b1 and b10 == b10:
        notes.append(f"binomial CV (full + 10 folds) / one fit at n=1e6, p=1e3: {b10 / b1:.2f}x")
    # (python-glmnet 2.6.1 wraps only glmnet's elnet and lognet: no Fortran column for poisson)
    one("poisson n=100,000 p=1,000", 100000, 1000, "poisson", reps=3, fortran=False)
    one("poisson n=1,000,000 p=1,000", 1000000, 1000, "poisson", reps=3, fortran=False)
    for t in notes:
        say("\n" + t)
    if only and not any(t in "floors" for t in only):
        return _write(lines)
    # the floor: one read of x, and the strict-fp32 Gram of the whole x
    xd, _ = data(1000000, 1000, "gaussian")
    tr = _median_time(lambda: mx.eval(mx.sum(xd, axis=0)), 5)
    tg = _median_time(lambda: mx.eval(xd.T @ xd), 3)
    say(f"\nFloors at n=1e6, p=1e3: one read of x (column sums) {tr * 1e3:.2f} ms; "
        f"the full strict-fp32 Gram x'x {tg * 1e3:.1f} ms.")
    _write(lines)


def _threads():
    from mlxs_glmnet import gpu
    return gpu.THREADS


def _write(lines):
    import mlx.core as mx
    out = os.environ.get("OUT", "/tmp")
    with open(os.path.join(out, "gpu.md"), "w") as fh:
        fh.write(f"Machine: {platform.node()}, MLX {mx.__version__}, {mx.default_device()}, "
                 f"{time.strftime('%Y-%m-%d')}, {_threads()} threads per block\n\n" + "\n".join(lines) + "\n")


def auto_grid():
    """Host x (numpy float64), one default path: device="gpu" and device="cpu" (the CPU engine on
    every core of the host) and glmnet's Fortran (not for poisson: python-glmnet has no fishnet
    wrapper), medians of 3 (1 for the large set, after a warm-up call each)."""
    F = _fortran()
    sets = {
        "small": [("gaussian", 100, 10), ("gaussian", 500, 50), ("gaussian", 2000, 200),
                  ("gaussian", 200, 2000), ("gaussian", 200, 20000), ("gaussian", 1000, 5000),
                  ("gaussian", 5000, 500), ("gaussian", 20000, 100), ("binomial", 500, 50),
                  ("binomial", 5000, 200), ("binomial", 1000, 1000), ("binomial", 200, 5000),
                  ("binomial", 20000, 50)],
        "medium": [("poisson", 500, 50), ("poisson", 2000, 500), ("poisson", 20000, 50),
                   ("gaussian", 100000, 100), ("gaussian", 20000, 500), ("gaussian", 50000, 1000),
                   ("gaussian", 200000, 200), ("gaussian", 2000, 5000), ("binomial", 40000, 100),
                   ("binomial", 100000, 20), ("binomial", 100000, 200), ("binomial", 30000, 500),
                   ("poisson", 50000, 100), ("poisson", 100000, 200)],
        "large": [("gaussian", 200000, 1000), ("binomial", 200000, 500),
                  ("gaussian", 1000000, 1000)],
        # n p = 5e7, the crossover the medium and large sets bracket
        "edge": [("gaussian", 100000, 500), ("gaussian", 1000000, 50), ("binomial", 100000, 500),
                 ("binomial", 50000, 1000), ("binomial", 1000000, 50), ("poisson", 200000, 250)]}
    pick = os.environ.get("AUTO_SET")
    # x's layout: "C" (numpy's default), "F" (an R matrix's, as R hands it over), or both
    orders = os.environ.get("AUTO_ORDER", "C").split(",")
    for name, cases_ in sets.items():
        if (pick and name != pick) or (name == "edge" and pick != "edge"):
            continue                       # (the edge set only when asked for)
        reps = 1 if name == "large" else 3
        for fam, n, p in cases_:
            if n * p < float(os.environ.get("AUTO_MIN_ELEMENTS", "0")):
                continue
            rng = np.random.default_rng([n, p])
            x0 = rng.standard_normal((n, p))
            eta = x0[:, :min(p, 10)] @ rng.standard_normal(min(p, 10)) * 0.5
            y = {"gaussian": eta + rng.standard_normal(n),
                 "binomial": (eta + rng.logistic(size=n) > 0).astype(float),
                 "poisson": rng.poisson(np.exp(0.3 * eta)).astype(float)}[fam]
            for order in orders:
                x = np.asfortranarray(x0) if order == "F" else x0
                tg = _median_time(lambda: mg.glmnet(x, y, fam, device="gpu"), reps)
                res = {}
                tc = _median_time(lambda: res.__setitem__("f", mg.glmnet(x, y, fam,
                                                                         device="cpu")), reps)
                tf = _median_time(lambda: fortran_path(F, x, y, fam), 1) \
                    if F is not None and fam != "poisson" and name != "large" and \
                    order == orders[0] else float("nan")
                f = res["f"]
                print(f"| {fam} | {n} | {p} | {order} | {tg * 1e3:.1f} | {tc * 1e3:.1f} | "
                      f"{tf * 1e3:.1f} | {tg / tc:.2f} | {len(f.lambda_)} lambdas, "
                      f"df {int(f.df[-1])} |", flush=True)


if __name__ == "__main__":
    arg = sys.argv[1] if len(sys.argv) > 1 else "--check"
    if arg == "ref":
        make_ref()
    elif arg == "--check":
        sys.exit(check())
    elif arg == "--time":
        timing()
    elif arg == "--auto":
        auto_grid()
    else:
        sys.exit(__doc__)
