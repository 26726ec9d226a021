"""GPU (CUDA) check and timing of the path kernel: runs on the device machine.

    python bench/gpu_bench.py ref   # here, on the CPU: writes reference fits to $OUT or /tmp
    python bench/gpu_bench.py gpu   # on the H200: compares with the reference, times big paths
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import mlxs_glmnet as mg  # noqa: E402

REF = os.path.join(os.path.dirname(__file__), "gpu_ref.npz")


def small_cases():
    rng = np.random.default_rng(7)
    n, p = 400, 30
    x = rng.standard_normal((n, p)) + 0.3 * rng.standard_normal((n, 1))
    eta = x[:, :5] @ np.array([1.0, -1.0, 0.5, 0.5, -0.25])
    return x, {"gaussian": eta + rng.standard_normal(n),
               "binomial": (eta + rng.logistic(size=n) > 0).astype(float),
               "poisson": rng.poisson(np.exp(0.3 * eta)).astype(float)}


def main(what):
    x, ys = small_cases()
    if what == "ref":
        out = {}
        for fam, y in ys.items():
            for tg in (["covariance", "naive"] if fam == "gaussian" else [None]):
                f = mg.glmnet(x, y, fam, type_gaussian=tg, thresh=1e-10)
                out[f"{fam}_{tg}_beta"] = f.beta
                out[f"{fam}_{tg}_lam"] = f.lambda_
                out[f"{fam}_{tg}_a0"] = f.a0
        np.savez(REF, **out)
        return
    import mlx.core as mx
    print("mlx", mx.__version__, mx.default_device(), flush=True)
    ref = np.load(REF)
    for fam, y in ys.items():
        for tg in (["covariance", "naive"] if fam == "gaussian" else [None]):
            t = time.perf_counter()
            f = mg.glmnet(x, y, fam, type_gaussian=tg, thresh=1e-7, device="gpu")
            t = time.perf_counter() - t
            rb, rl = ref[f"{fam}_{tg}_beta"], ref[f"{fam}_{tg}_lam"]
            k = min(rb.shape[1], f.beta.shape[1])
            err = np.abs(f.beta[:, :k] - rb[:, :k]).max() / max(np.abs(rb).max(), 1e-12)
            print(f"{fam:9s} {str(tg):10s} nlam gpu {f.beta.shape[1]} ref {rb.shape[1]}  "
                  f"max rel coef err {err:.2e}  lam rel err {np.abs(f.lambda_[:k] / rl[:k] - 1).max():.2e}  {t:.3f}s", flush=True)
    rng = np.random.default_rng(1)
    for (n, p, fam, B) in [(100000, 1000, "gaussian", 1), (100000, 1000, "gaussian", 10),
                           (20000, 500, "binomial", 1), (20000, 500, "binomial", 10)]:
        x = np.asfortranarray(rng.standard_normal((n, p)), dtype=np.float32)
        beta = np.zeros(p); beta[:20] = rng.standard_normal(20)
        y = x @ beta + rng.standard_normal(n)
        if fam == "binomial":
            y = (y + rng.standard_normal(n) > 0).astype(float)
        W = np.ones((B, n))
        if B > 1:
            fold = rng.integers(0, B, n)
            W = np.stack([(fold != b).astype(float) for b in range(B)])
        for rep in range(2):
            t = time.perf_counter()
            fits = mg.glmnet_batch(x, y, fam, weights_batch=W, device="gpu")
            t = time.perf_counter() - t
        print(f"{fam} n={n} p={p} B={B}: {t:.3f} s (second run), nlam {len(fits[0].lambda_)}, "
              f"mode {fits[0].info['mode']}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gpu")
