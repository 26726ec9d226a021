"""Binomial and poisson paths on a GPU: IRLS in covariance form, the lambda path driven from here.

The naive path kernel solves a GLM path inside one thread block, so every coordinate update is a
block-wide pass over n rows on one multiprocessor: at n = 1e5, p = 1e3 that took 27 s on an H200.
This driver follows glmnet's algorithm step for step (null model, unpenalised stage, lambda_max,
sequential strong rule, IRLS steps, KKT check over all variables, glmnet's path stops) but moves
every O(n) operation onto whole-GPU array operations, a few per IRLS step:

  * eta = offset + b0 + X_S beta_S, the IRLS weights v and residuals r          (elementwise, GEMV)
  * X_S' v, X_S' t and the weighted Gram X_S' diag(v) X_S of the strong set S    (thin GEMMs)
  * the weighted least-squares problem of the step, solved by ``path.kern`` itself in covariance
    mode with a warm start (one block per problem, O(|S|) per coordinate update, no pass over n)
  * once per lambda: the gradient X' r of every variable for the KKT check and the strong rule
    (one read of x for all problems of the batch).

On a GPU the path goes in chunks of CHUNK lambdas: the sequential IRLS steps, not the reads of
x, set the time there (about 265 steps of ~5 ms at binomial n = 1e6, p = 1e3, however small n),
so CHUNK copies of a problem solve a chunk's lambdas side by side from the same start, each step
one launch and one read of the strong columns for all of them; glmnet's stops are then applied
lambda by lambda (see the chunked path in _run_glm).

All problems of a batch (CV folds) move through the path in lockstep, one lambda index at a time,
sharing the columns of the union of their strong sets; with the full data among them, a Gram
refresh serves every fold whose IRLS weights are close to the full problem's (one batched product
over the rows grouped by fold). Standardisation follows glmnet: x~ =
(x - xm) / xs with each problem's own weights; the Grams are formed from x shifted by a rough
column centre c (float32 keeps the variances) and brought to the x~ scale in |S| x |S| algebra.

The same code runs on the CPU in float64 (``backend="cpu"``, the compiled kernel for the
least-squares steps): the tests check it there against the engine's naive path, so the algorithm
is verified in CI, and the GPU's float32 results are compared with float64 ones by
``bench/gpu.py --check``.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np
import mlx.core as mx

# A problem's kept Gram is refreshed when an IRLS step shrank the change by less than this factor
# (when the refresh is expensive, n |S|^2 >= 1e11; else by less than 0.1). Measured on an H200,
# binomial n = 1e6, p = 1e3: 0.1 -> 59 refreshes, 1.73 s; 0.5 -> 7 refreshes, 1.38 s; at n = 1e5
# 0.5 cost more IRLS steps than it saved (1.14 s -> 1.31 s).
REFRESH_RATIO = float(os.environ.get("MLXS_GPU_REFRESH_RATIO", "0.5"))
# The same in chunks of lambdas (K > 1), whose copies share one Gram: H100, chunks of 32, n = 1e6,
# p = 1e3 (stop 25): binomial 0.5 -> 393-448 ms (32-34 steps, 11-12 refreshes), 0.3 -> 356-390 ms
# (25-27 steps, 15-18 refreshes), 0.2 and 0.4 403-425 ms; poisson 184-195 ms at 0.2-0.3
REFRESH_RATIO_CHUNK = float(os.environ.get("MLXS_GPU_REFRESH_RATIO_CHUNK", "0.3"))
# (below n |S|^2 = REFRESH_FLOPS a refresh costs little: ratio 0.1)
REFRESH_FLOPS = 1e11
# CV folds: one Gram refresh for all problems of the batch (see _run_glm); 0 turns it off
GROUP_REFRESH = os.environ.get("MLXS_GPU_GROUP_REFRESH", "1") != "0"
GROUP_TOL = 0.1          # the largest relative L1 distance of the weights for a shared refresh
# Kept Grams from bfloat16 products (GPU) where they are expensive and well determined: the Gram
# only shapes the IRLS steps (the exact float32 gradient fixes where they converge), and sqrt(v) x
# rounded once on both sides keeps it positive semidefinite. Measured on an H200 at n = 1e6,
# p = 1e3: binomial 1752 -> 1373 ms (Gram refreshes 336 -> 155 ms), its 10-fold CV 6830 ->
# 5640 ms. Not for n < BF16_ROWS |S| (p > n fold problems of 150 x 300 then ran into maxit: the
# rounding moves a singular Gram's null space, and IRLS stalls there) nor below BF16_MIN_FLOPS
# (n |S|^2), where float32 costs little. MLXS_GPU_GRAM_BF16=0 turns it off.
GRAM_BF16 = os.environ.get("MLXS_GPU_GRAM_BF16", "1") != "0"
BF16_ROWS = 10
BF16_MIN_FLOPS = 1e11
# The first IRLS step after a KKT pass takes that pass's IRLS weights and residuals (computed at
# the same coefficients) instead of computing eta again (MLXS_GPU_KKT_REUSE=0: it recomputes)
KKT_REUSE = os.environ.get("MLXS_GPU_KKT_REUSE", "1") != "0"
# A KKT pass whose problems have every usable variable in the strong set computes no gradients
# (x' r, a read of all of x a pass): nothing is left to check or to add (MLXS_GPU_KKT_SKIP_FULL=0:
# it computes them anyway). Stop 29, one H100, n = 1e6, p = 1e3 (3 of binomial's 4 passes):
# binomial 314.6 -> 297.4 / 301.2 ms, poisson 178.9 -> 173.7 / 171.1 ms
KKT_SKIP_FULL = os.environ.get("MLXS_GPU_KKT_SKIP_FULL", "1") != "0"
# Threads per block for the least-squares solves (0: the path kernel's block size)
WLS_THREADS = int(os.environ.get("MLXS_GPU_WLS_THREADS", "0"))
# Lambdas solved side by side on a GPU (chunk_size; MLXS_GPU_IRLS_CHUNK): see _run_glm's
# chunked path. Measured on H100s at p = 1e3 (bench/RESULTS_GPU.md, stops 24 and 25): binomial
# n = 1e6 1.37-1.51 s at 1 (265 IRLS steps), 0.75-0.80 s at 16 (49 steps) with stop 24's host
# work; with stop 25's (one upload and one download a step, the caller's data one row for all
# copies) 0.44-0.47 s at 16, 0.42 s at 24, 0.36-0.45 s at 32 (25-34 steps), 0.41-0.44 s at 48;
# poisson n = 1e6 1.07 s at 1, 0.19-0.23 s at 16-48. Objectives within 4e-6 (relative) of the
# one-lambda and the 16-lambda paths' on those; but at 32 the CPU seam's float32 binomial
# 300 x 10 path ended a lambda later than the float64 engine's by its deviance-change stop
# (the dev ratio 1e-5 above it at the far lambdas of a chunk: their shared Gram's curvature is
# another lambda's, and its damped steps pass the IRLS test early), which 16 and 24 do not.
# Stop 27 (EXTRAP, RHO_MIN = 0; one H100): 16 351 ms (33 steps), 24 341 ms (26), 32 329 ms (22),
# objectives within 1.8e-6 of 16's at 32 (2.6e-5 at 24), and the CPU seam's tests pass at 24 and
# 32. bench/gpu.py --check with 32 (a third H100: 387 -> 364 ms) failed a poisson p > n fold:
# the float32 step cap had accepted two unconverged copies (see irls_cap, CAP_SLACK; fixed, and
# reproduced and tested on the CPU seam). Stop 28 (one H100, with that fix): bench/gpu.py --check
# with 32 passed (worst gap 2.01e-6; every GLM through IRLS: only the devmax knife-edge that 16
# fails too), and 16 -> 32 took binomial n = 1e6 371 -> 352 ms (33 -> 22 steps), poisson n = 1e6
# 218 -> 192 ms, binomial n = 1e5 203 -> 210 ms (call c of stop 27: 237 -> 212 ms). 32 it is.
CHUNK = 32
# CV batches (full + folds) in chunks too, each fold's copies with their own Gram: H100, binomial
# n = 1e6, p = 1e3, full + 10 folds (stop 26): 1 -> 3.85 s (280 steps, 152 refreshes), 16 ->
# 2.23-2.29 s (36 steps, 96 refreshes), 8 -> 2.31-2.34 s, with the chunks' byte limit raised (at
# 2 GB, 11 problems x 16 lambdas at n = 1e6 fell back to chunks of 2). Stop 27 (H100, one call,
# RHO_MIN = 0 and the budget's limit, chunk_bytes): 1 -> 3.87 s, 16 -> 1.80 s (33 steps, 71
# refreshes), 8 -> 1.96 s; bench/gpu.py --check passed with 16 (MLXS_GPU_IRLS_CV_CHUNK=1: off).
# Stop 28 (H100): 32 -> 2.04 s against 16's 1.85 s (74 IRLS steps against 33, 128 refreshes
# against 71, and the full fit's objectives 1.6e-4 from 16's): 16 stays.
CV_CHUNK = int(os.environ.get("MLXS_GPU_IRLS_CV_CHUNK", "16"))
# A chunk's stacked Grams and (chunk, n) rows may take at most this many bytes (fewer lambdas a
# chunk where they would take more); on a GPU CHUNK_SHARE of its free memory when that is more
# (memory.gpu_budget_bytes: MLXS_GLMNET_GPU_MEMORY_BUDGET, else what the device reports), so that
# a CV batch at n = 1e6 (11 problems x 16 lambdas: ~9 GB) keeps its chunks on an 80 GB card;
# MLXS_GPU_IRLS_CHUNK_BYTES sets the limit outright
CHUNK_BYTES = 2 << 30
CHUNK_SHARE = 0.25
# A kept Gram is refreshed before a step whose IRLS weights sum to more than this factor above
# (or below) the Gram's: found by fuzzing the driver against R glmnet, a poisson fit without
# intercept or standardisation and with unpenalised variables diverged after its first step
# (the weights' sum grew 7.6-fold, the next step on the old Gram went far astray)
STALE_SUM = 4.0
# A chunk is cut short where its first lambdas have converged and only a few far ones still
# iterate (at most CUT_FRACTION of its copies, none of the first half, after CUT_STEPS steps):
# the converged lambdas are kept, the others carried into the next chunk as they are (mid-IRLS),
# so that the new lambdas' steps overlap their tail instead of following it
# (MLXS_GPU_IRLS_CARRY=1). Off: H100, chunks of 32, n = 1e6, p = 1e3 (stop 25), binomial
# 390 -> 356 ms at REFRESH_RATIO_CHUNK 0.3 (27 -> 25 steps) but 393 -> 448 ms at 0.5, poisson
# 192 / 195 ms either way; and the one H200 call with it on (with 0.3, and gradient products
# then turned around, since undone) took binomial n = 1e5 27 s (136 steps), not re-run.
CARRY = os.environ.get("MLXS_GPU_IRLS_CARRY", "0") == "1"
# A problem that runs into maxit (glmnet's code -k at lambda k) is solved again from the start
# with exact Newton steps: its Gram formed at every IRLS step under the current weights, float32
# Grams, one lambda a step (MLXS_GPU_IRLS_EXACT_RETRY=0: the path stops there, as before). The
# kept Grams' steps can overshoot where the Gram is nearly singular (p >= n without intercept or
# standardisation: a fuzzed poisson 51 x 51 path stopped at lambda 2 and a binomial 44 x 44 at
# 10, where glmnet's exact steps run to lambdas 5 and 14), and they count more passes than
# glmnet's (maxit counts the whole path's). The retry costs a Gram a step, for those problems.
EXACT_RETRY = os.environ.get("MLXS_GPU_IRLS_EXACT_RETRY", "1") != "0"
CUT_STEPS = 3
CUT_FRACTION = 0.25
# A chunk's copies share one Gram: its least-squares launch reads that one m x m Gram for all of
# them (path.kern's ip[12]) instead of a stacked copy per lambda (MLXS_GPU_SHARE_GRAM=0)
SHARE_GRAM = os.environ.get("MLXS_GPU_SHARE_GRAM", "1") != "0"
# The IRLS test weighs a coefficient's change by its curvature in the kept Gram, so it cannot see
# a coefficient that moves along a direction where the Gram has (next to) none: a diagonal entry
# below BLIND times the Gram's largest. In a chunk that Gram can be another lambda's under
# far-off weights: a fuzzed poisson path (n = 12, p = 5, no intercept, lambdas 10x apart, one
# column non-zero on a single row) had a copy diverge, the chunk's Gram formed under its weights
# had no curvature for that column, every copy's coefficient of it was set to 0 unseen, and the
# chunk passed the test 4-9% above the optimum. A chunk with such a step is solved again one
# lambda at a time (each lambda its own Gram, where the step is then glmnet's).
BLIND = 1e-10
# The same test in a chunk, after its IRLS converged: each copy's own curvature (the diagonal of
# x~' V x~ under its current weights V: products of V with the strong columns and their squares)
# against the curvature its steps used (the shared Gram's, scaled by rho). A copy whose last
# change, weighed by its own curvature, is CURV_SLACK times the threshold or more (the shared
# Gram's curvature was larger: its steps were damped, and the test passed them early) fails the
# chunk, which is then solved again one lambda at a time. CPU seam, float32, fuzz seed 47:
# binomial 42 x 37 and 37 x 37 without intercept or standardisation, whose chunks left them
# 2.2e-2 and 2.3e-3 above the optimum (relative objective; that ratio reached 17.8 and 21.3 at the
# worst lambdas, at most 4.6 at the others), end within 1.1e-4 with it at slack 1 to 100;
# benchmark-like binomial fits (5e3 x 500, 2e4 x 200 with correlated columns) took 29 and 73 IRLS
# steps with it at slack 3-100, as without, and 122 and 291 at slack 1. The check runs once the
# KKT check accepts copies (a copy that goes on to another round is checked when that one is
# accepted): one read of the strong columns (gpu.weighted_moments) per accepted chunk. Off by
# default (MLXS_GPU_IRLS_CURV_CHECK=1 turns it on): not yet timed on a GPU.
CURV_CHECK = os.environ.get("MLXS_GPU_IRLS_CURV_CHECK", "0") == "1"
CURV_SLACK = float(os.environ.get("MLXS_GPU_IRLS_CURV_SLACK", "10"))
# In a chunk, a kept Gram stands for a problem's curvature scaled by rho, the ratio of the
# problem's current IRLS weights' sum to the Gram's (the chunk's copies share a Gram formed under
# one copy's weights), rho at least RHO_MIN. H100, binomial n = 1e6, p = 1e3, chunks of 16 with
# EXTRAP (stop 26, one call): RHO off 414 ms (37 steps, 14 refreshes), RHO_MIN = 1 379 ms (36, 9),
# RHO_MIN = 0 338 ms (31, 8); poisson 211-214 ms all three. Scaled down (rho < 1), a near-singular
# Gram (p ~ n, no intercept) took steps too long: a fuzzed path's chunk oscillated into maxit
# (tests/python/test_fuzz.py). So a copy whose IRLS change grew keeps rho >= 1 for the rest of its
# chunk (the guard completes that path and the fuzz). With the guard (stop 27, one H100 call):
# RHO_MIN = 1 355-372 ms (36 steps, 9 refreshes), 0 328 ms (33, 7), objectives within 2.2e-6;
# poisson 188-193 / 188 ms; bench/gpu.py --check passed with 0 (MLXS_GPU_IRLS_RHO_MIN=1: off).
# K = 1: rho = 1 (a fuzzed path one lambda a step failed the same way).
RHO = os.environ.get("MLXS_GPU_IRLS_RHO", "1") != "0"
RHO_MIN = float(os.environ.get("MLXS_GPU_IRLS_RHO_MIN", "0"))
# A chunk's lambdas start on the line (in lambda) through their problem's last two solutions
# (see chunked): same call, RHO off, binomial 462 -> 414 ms (42 -> 37 steps), poisson 249 -> 213
EXTRAP = os.environ.get("MLXS_GPU_IRLS_EXTRAP", "1") != "0"
BIG = 9.9e35
# IRLS changes below CAP_SLACK times the threshold after irls_cap steps at one lambda are taken
# as float32's resolution (at thresh 1e-10 those left were 1-4 times it); larger ones have not
# converged
CAP_SLACK = 100.0


class _Backend:
    def __init__(self, kind: str):
        self.kind = kind
        self.dt = mx.float32 if kind == "gpu" else mx.float64
        self.npdt = np.float32 if kind == "gpu" else np.float64

    def arr(self, a, integer=False):
        if isinstance(a, mx.array):          # (gpu.fold_groups' device arrays)
            return a.astype(mx.int32 if integer else self.dt)
        if integer:
            return mx.array(np.ascontiguousarray(a, dtype=np.int32), dtype=mx.int32)
        return mx.array(np.ascontiguousarray(a, dtype=self.npdt), dtype=self.dt)

    def x(self, x):
        """x (n, p) row-major on the backend's device and dtype."""
        if self.kind == "gpu":
            from .gpu import _device_x
            return _device_x(x, 1)           # the gaussian covariance path's upload, reused
        if isinstance(x, mx.array):
            return x if x.dtype == self.dt else x.astype(self.dt)
        return mx.array(np.ascontiguousarray(x, dtype=self.npdt), dtype=self.dt)

    def tn(self, A, X):
        """A' X for long columns (n rows)."""
        if self.kind == "gpu":
            from .gpu import _tn
            return _tn(A, X)
        return A.T @ X

    def bf16(self, n, m):
        """Whether a kept Gram of m strong columns over n rows is formed in bfloat16."""
        return self.kind == "gpu" and GRAM_BF16 and n >= BF16_ROWS * m \
            and n * float(m) * m >= BF16_MIN_FLOPS

    def wtn(self, v, A, Bm=None, bf16=False):
        """(v A)' Bm for long columns (Bm None: A), v >= 0 the rows' weights (bf16: from
        sqrt(v) A and sqrt(v) Bm rounded to bfloat16, summed in float32)."""
        if bf16:
            from .gpu import _tn
            sq = mx.sqrt(v)[:, None]
            Za = _rowfun("bf16", 0)(sq, A)
            return _tn(Za, Za if Bm is None else _rowfun("bf16", 0)(sq, Bm), out=mx.float32)
        return self.tn(v[:, None] * A, A if Bm is None else Bm)

    def solve(self, inputs, B, p, then):
        """The least-squares launch; then(outputs): what to evaluate with it (one sync)."""
        if self.kind == "gpu":
            from .gpu import _launch
            return _launch(inputs, B, 1, p, 1, threads=WLS_THREADS or None, then=then)[1]
        from . import _core
        from .engine import _cpu_threads
        outs = _core.glmnet_path(inputs, 1, nthreads=_cpu_threads(), block_threads=1,
                                 stream=mx.cpu)
        res = then(outs)
        mx.eval(*outs[:6], res)
        return res


def _moments_of(fam):
    def f(eta, Y, Wn, pmin):
        """IRLS weights v = wn h and residuals r = wn (y - mu) at eta (all (k, n)); pmin:
        glmnet.control's floor of the binomial weights."""
        if fam == 1:
            mu = mx.sigmoid(eta)
            h = mx.maximum(mu * (1 - mu), pmin)
        else:
            mu = mx.exp(eta)
            h = mu
        return Wn * h, Wn * (Y - mu)
    return f


def _deviance_of(fam):
    def f(eta, Y, Wn, pmin):
        """sum_i wn_i d_i as path.kern computes it (binomial probabilities clamped at pmin)."""
        if fam == 1:
            mu = mx.clip(mx.sigmoid(eta), pmin, 1 - pmin)
            d = -2 * (mx.where(Y > 0, Y * mx.log(mu), 0)
                      + mx.where(Y < 1, (1 - Y) * mx.log(1 - mu), 0))
        else:
            mu = mx.exp(eta)
            d = 2 * (mx.where(Y > 0, Y * mx.log(mx.maximum(Y, 1e-30) / mu), 0) - (Y - mu))
        return mx.sum(Wn * d, axis=1)
    return f


# On a GPU the elementwise work on (k, n) rows (the IRLS moments, also straight from eta's parts,
# the deviance, the bfloat16 Gram's scaled rows) and a kept Gram's terms (m x m) are one fused
# kernel each (mx.compile, shapeless: one trace for every k, m and broadcast); MLXS_GPU_FUSE_MOMENTS
# =0: one MLX op at a time, for all of them. (On the CPU, where the float64 check of the driver
# runs, compiling costs more than it saves.) Stop 28: bench/gpu.py --check passed on an H100 with
# the fused moments from eta's parts and Gram terms (every GLM through IRLS included).
FUSE_MOMENTS = os.environ.get("MLXS_GPU_FUSE_MOMENTS", "1") != "0"
# The launch's per-step rows (launch_terms) fused too (MLXS_GPU_FUSE_LAUNCH=1 turns it on). Stop 29,
# one H100: bench/gpu.py --check with every GLM through IRLS passed with it (the devmax
# knife-edge alone failed, as without), but binomial n = 1e6 took 307.7 ms against 302.9 ms
# unfused (poisson 179.4 against 178.1): off
FUSE_LAUNCH = os.environ.get("MLXS_GPU_FUSE_LAUNCH", "0") == "1"
_FUSED: dict = {}


def _moments_parts_of(fam):
    mom = _moments_of(fam)

    def f(xb, base, c0, Y, Wn, pmin):
        """The IRLS moments at eta = x~ b (xb, (k, n)) + offsets (base) + c0 (k, 1): eta is not
        formed on its own (fused: one pass from the GEMM's output to v and r)."""
        return mom(xb + base + c0, Y, Wn, pmin)
    return f


def _gram_terms_of(fam):
    """(fam: the factories' common signature)"""
    def f(H, dS, a, svc, iS):
        """A kept Gram of raw cross-products of x - c (H; a its weighted column sums, svc its
        weights' sum) as the Gram of x~ = (x - c - dS) iS divided by svc (fused: one pass)."""
        G = (H - dS[:, None] * a[None, :] - a[:, None] * dS[None, :]
             + svc * dS[:, None] * dS[None, :]) * (iS[:, None] * iS[None, :])
        return G / svc
    return f


def _launch_terms_of(flags):
    intr, rho = flags

    def f(gr, sr, sv, dS, iS, mv, svc, diag, lam, alp, thr, dvp, rf):
        """The least-squares launch's per-step rows from the gradients gr = XS' r (k, m), the
        residuals' and IRLS weights' sums sr, sv (k, 1), the kept Gram's terms (gram_terms: a row
        each, or one for all) and the host values lambda, alpha, threshold (k, 1), (devmax, pmin)
        (k, 2) and the least rho rf (k, 1): (gst, dpk, the curvatures, the Gram weights' sum, the
        x~ means), each with a row a problem. Fused: one graph of elementwise work and two
        concatenations instead of ~20 launches (shapeless: no sub-slices inside, which a trace
        for other shapes cannot follow)."""
        one = sr * 0 + 1                                         # (k, 1)
        gt = (gr - sr * dS) * iS                                 # x~' r, exact
        gc = gt - mv * sr if intr else gt                        # intercept profiled out
        mvk = mv + gr * 0
        dgk = diag + gr * 0
        # the kernel's Gram is the kept one scaled to its own weights' sum (Gn); each problem's
        # curvature is taken as that Gram times rho = (its current weights' sum) / (the Gram's),
        # so its gradient, lambda and threshold are scaled by its own sum (RHO; off: the Gram's)
        svk = mx.maximum(sv, rf * svc) if rho else svc * one
        cc = gc / svk            # warm start: the kernel takes this as the gradient at bw
        gst = mx.concatenate([mvk, cc, one * 0, one, dgk / svc], axis=1)
        if rho:                  # (the IRLS test and the intercept's step: the same curvature)
            dgk = dgk * (svk / svc)
        dpk = mx.concatenate([alp, mx.minimum(lam / svk, 1e30), thr / svk, one * 0, dvp], axis=1)
        return gst, dpk, dgk, svk, mvk
    return f


def _scaled_bf16(fam):
    """(fam: the factories' common signature; the scaling is the same for every family)"""
    def f(sq, A):
        """sqrt(v) A rounded to bfloat16 (fused: no float32 temporary of A's size)."""
        return (sq * A).astype(mx.bfloat16)
    return f


def _rowfun(kind, fam):
    make = {"moments": _moments_of, "deviance": _deviance_of, "bf16": _scaled_bf16,
            "moments_parts": _moments_parts_of, "gram_terms": _gram_terms_of,
            "launch_terms": _launch_terms_of}[kind]
    if not FUSE_MOMENTS or mx.default_device().type != mx.DeviceType.gpu \
            or (kind == "launch_terms" and not FUSE_LAUNCH):
        return make(fam)
    key = (kind, fam)
    if key not in _FUSED:
        _FUSED[key] = mx.compile(make(fam), shapeless=True)
    return _FUSED[key]


def _moments(eta, Y, Wn, fam, pmin):
    """IRLS weights v = wn h and residuals r = wn (y - mu) at eta (all (k, n))."""
    return _rowfun("moments", fam)(eta, Y, Wn, pmin)


def _deviance(eta, Y, Wn, fam, pmin):
    """sum_i wn_i d_i as path.kern computes it (binomial probabilities clamped at pmin)."""
    return _rowfun("deviance", fam)(eta, Y, Wn, pmin)


def run_glm(x, y, W, O, *, fam, pf, excluded, nlam, params, backend="gpu", progress=None,
            chunk=None, unit_weights=False):
    """B binomial/poisson paths sharing x (n, p); y (n,) or (B, n); weights W and offsets O (B, n)
    or None;
    params: engine.kernel_params(); chunk: lambdas solved side by side (see CHUNK; None: the
    default for this backend and batch); unit_weights: the caller knows W to be all ones.
    Returns an engine.PathResult (naive-mode layout). A problem that runs into maxit is solved
    again with exact Newton steps (see EXACT_RETRY)."""
    K = chunk_size(chunk, backend, W)
    kw = dict(fam=fam, pf=pf, excluded=excluded, nlam=nlam, params=params, backend=backend,
              progress=progress, K=K, unit_weights=unit_weights)
    with (mx.stream(mx.cpu) if backend == "cpu" else contextlib.nullcontext()):
        res = _run_glm(x, y, W, O, **kw)
        # (-1, the code of lambda 1 and of the null model's Newton steps, included: the kept
        # Grams' steps at lambda 1 (the unpenalised variables alone) can overshoot too, where
        # exact steps converge -- fuzz seed 59, poisson 14 x 46 with 9 unpenalised binary
        # columns: 87513 passes in one step, then maxit; exact steps: glmnet's whole path in
        # 3501 passes, glmnet's own 3167 -- and the null model's steps are exact already, so
        # such a problem costs one more run; <= -10000: pmax, which exact steps do not change)
        hit = np.flatnonzero((res.jerr < 0) & (res.jerr > -10000))
        if EXACT_RETRY and hit.size:
            res = _retry_exact(res, hit, x, y, W, O, kw)
    return res


def _retry_exact(res, hit, x, y, W, O, kw):
    """The problems hit of res (a PathResult) solved again from the start with a Gram formed at
    every IRLS step (exact Newton, glmnet's own steps: see EXACT_RETRY), one lambda a step, in
    float32 Grams; their rows of res replaced (the new jerr: glmnet's maxit code where even
    those steps run out of passes)."""
    from .engine import FoldBatch
    Wd = W.dense() if isinstance(W, FoldBatch) else np.asarray(W)
    ya = np.asarray(y)
    ul, ip, dp, cl = kw["params"]
    prog = kw["progress"]
    rest = np.ones(res.lmu.shape[0], dtype=bool)
    rest[hit] = False
    sub = dict(kw, K=1, params=(ul, ip, np.asarray(dp)[hit], cl), exact=True,
               progress=None if prog is None else
               (lambda k: prog(int(res.lmu[rest].sum()) + k)))
    r2 = _run_glm(x, ya if ya.ndim == 1 else ya[hit], Wd[hit], None if O is None else O[hit],
                  **sub)
    res.set_rows(hit, r2)
    res.extra["irls_exact_retries"] = int(hit.size)
    for k in ("irls_steps", "gram_refreshes"):
        res.extra[k] = res.extra.get(k, 0) + r2.extra.get(k, 0)
    return res


def chunk_size(chunk, backend, W):
    """Lambdas a chunk: the argument, else MLXS_GPU_IRLS_CHUNK, else CHUNK on a GPU and 1 on
    the CPU; CV_CHUNK for a CV batch in chunks (CV_CHUNK = 1: one lambda a step, its folds
    sharing Gram refreshes instead, GROUP_REFRESH)."""
    if chunk is None:
        env = os.environ.get("MLXS_GPU_IRLS_CHUNK")
        chunk = int(env) if env else (CHUNK if backend == "gpu" else 1)
    chunk = max(1, int(chunk))
    if chunk > 1 and W.shape[0] >= 3:
        from .gpu import fold_structure
        if fold_structure(W) is not None:
            return CV_CHUNK
    return chunk


def chunk_bytes(backend):
    """The byte limit of a chunk's arrays (see CHUNK_BYTES)."""
    from .memory import gpu_budget_bytes, parse_bytes
    env = os.environ.get("MLXS_GPU_IRLS_CHUNK_BYTES", "").strip()
    if env:
        return parse_bytes(env, "MLXS_GPU_IRLS_CHUNK_BYTES")
    if backend != "gpu":
        return CHUNK_BYTES
    budget = gpu_budget_bytes()
    return CHUNK_BYTES if budget is None else max(CHUNK_BYTES, int(CHUNK_SHARE * budget))


def _folds_on_device(be, W):
    """A FoldBatch's normalised weights (B, n) on the backend's device (gpu.fold_weights)."""
    from .gpu import _key_type, fold_weights
    B = W.shape[0]
    held_d = mx.array(np.asarray(W.held()).astype(_key_type(B)))
    return fold_weights(held_d, W.base, W.sums, W.const, be.arr)


def _response_rows(be, ya):
    """y (n,) or (B, n) float64 as the backend's device array: on a GPU read in place
    (gpu._zc_read: y at n = 1e6 took 0.9 ms against 1.9-2.4 ms for the cast and upload), else
    uploaded."""
    if be.kind == "gpu":
        from .gpu import _zc_read
        out = _zc_read(np.ascontiguousarray(ya))
        if out is not None:
            return out
    return be.arr(ya)


def _run_glm(x, y, W, O, *, fam, pf, excluded, nlam, params, backend, progress, K=1,
             unit_weights=False, exact=False):
    from .engine import FoldBatch, PathResult
    from .gpu import _Profile, centre_shift, column_stats, gather, weighted_moments
    be = _Backend(backend)
    prof = _Profile()                     # MLXS_GPU_PROFILE=1: seconds per stage in fit.info
    ul, ip, dp, cl = params
    n, p = int(ip[0]), int(ip[1])
    B0 = W.shape[0]                       # the caller's problems
    if K > 1:
        # chunks of K lambdas: problem b's copies b K .. b K + K - 1 (the virtual problems) solve
        # a chunk's lambdas side by side, from the same start (see the chunked path below). Their
        # data (weights, offsets, responses, column statistics) are the caller's problem's: on the
        # device one row for all K copies (data_rows), on the host rows repeated
        dp = np.repeat(np.asarray(dp), K, axis=0)
    B = B0 * K
    L = int(nlam)
    ulflag, intr, isd, maxit, ne, nx = (int(ip[k]) for k in (5, 6, 7, 8, 9, 10))
    alpha, flmin, thresh, fdev, devmax, pmin = (np.asarray(dp[:, k], dtype=np.float64)
                                                for k in range(6))
    pmin0 = float(pmin[0])                 # (glmnet.control's pmin: one for the whole call)
    pf = np.asarray(pf, dtype=np.float64)

    # ---- device data (one row a caller's problem) ----
    X = be.x(x)                                                   # (n, p) row-major
    fb = isinstance(W, FoldBatch)         # (CV folds as base weights and fold numbers)
    # (weights known to be ones: no pass over them on the host, nothing to upload; else each
    # MB costs ~0.6 ms to go up on the device's host)
    sw0 = W.sums if fb else (np.full(B0, float(n)) if unit_weights else W.sum(axis=1))
    # (a FoldBatch: its weights made on the device from the fold numbers, not the dense (B, n)
    # matrix, whose host passes (sums, division, cast: 88 MB at n = 1e6 and 11 problems) and
    # upload (44 MB at ~0.6 ms a MB on the device's host) this saves)
    Wn = _folds_on_device(be, W) if fb else \
        (mx.full((B0, n), 1.0 / n, dtype=be.dt) if unit_weights else be.arr(W / sw0[:, None]))
    ya = np.asarray(y, dtype=np.float64)
    # (one response for every problem, a CV batch's: uploaded once, broadcast on the device; on
    # CUDA read by the GPU in place, gpu._zc_read, where it can)
    Yd = _response_rows(be, ya)
    if ya.ndim == 1:
        Yd = mx.broadcast_to(Yd, (B0, n))
    Od = mx.zeros((B0, n), dtype=be.dt) if O is None else be.arr(O)   # (None: no offsets)
    c = centre_shift(X, W.base if fb else (None if unit_weights else W[0]))
    st3 = column_stats(X, c, Wn, mx.zeros((1, n), be.dt), B0)
    ybar_d = mx.sum(Wn * Yd, axis=1)
    mx.eval(st3, ybar_d)
    st = np.repeat(np.array(st3, dtype=np.float64), K, axis=1)   # (host: a row a problem)
    if not np.isfinite(st).all():
        raise ValueError("x contains NaN or infinite values (or values too large for float32)")
    sw = np.repeat(sw0, K)
    cn = np.array(c, dtype=np.float64)
    m1s, m2s = st[0], st[1]
    var = np.maximum(m2s - m1s * m1s, 0.0)
    tol = 1e-6 if be.dt == mx.float32 else 1e-13
    if intr or isd or fam == 1:
        ju = (~np.asarray(excluded, dtype=bool))[None, :] & (var > tol * np.maximum(m2s, 1e-300))
    else:                 # as path.kern (poisson): chkvars (in excluded), a non-zero second moment
        ju = (~np.asarray(excluded, dtype=bool))[None, :] & (var + (cn[None, :] + m1s) ** 2 > 0)
    xm = (cn[None, :] + m1s) if intr else np.zeros((B, p))
    xs = np.where(ju & bool(isd), np.sqrt(np.where(ju, var, 1.0)), 1.0)
    ixs = np.where(ju, 1.0 / xs, 0.0)
    clo, chi = (np.asarray(cl, dtype=np.float64)[k][None, :] * xs for k in (0, 1))  # (internal)
    dsh = xm - cn[None, :]                                        # x~ = (x - c - dsh) * ixs
    dsh_d, ixs_d, xm_d, xs_d = (be.arr(t[::K]) for t in (dsh, ixs, xm, xs))
    ybar = np.repeat(np.array(ybar_d, dtype=np.float64), K)
    prof.mark("setup")

    # CV folds (gpu.fold_structure) with a problem that holds no rows out (the full data, f):
    # the problems' fits are usually so close that f's IRLS weights on a fold's rows are a good
    # curvature for that fold too, so a refresh that any problem asks for refreshes the Grams of
    # every iterating problem whose own weights are within GROUP_TOL of those, under f's current
    # weights: one batched GEMM over the rows grouped by fold (the cost of one Gram; f's Gram is
    # the sum of the groups' parts, a fold's that sum minus its own rows' part) instead of one
    # Gram per problem. A problem that still converges
    # slowly right after such a refresh gets its own Gram under its own weights (for the rest of
    # that lambda: with a nearly separated fit the full problem's weights can be far from a fold's).
    grp = None
    if B >= 3 and GROUP_REFRESH and K == 1 and not exact:
        from .gpu import fold_groups, fold_part, fold_products, fold_structure
        folds = fold_structure(W)
        if folds is not None:
            holds = np.zeros(B, dtype=bool)
            holds[folds[1][folds[1] >= 0]] = True
            free = np.flatnonzero(~holds)
            # (a FoldBatch's problem 0 holds nothing out and has the base weights)
            if free.size and (free[0] == 0 if fb else bool(np.all(W[free[0]] == folds[0]))):
                fg = fold_groups(folds, B)
                grp = dict(f=int(free[0]), idx=be.arr(fg["idx"], integer=True), shape=fg["shape"],
                           valid=be.arr(fg["valid"].reshape(-1)), own=fg["own"],
                           scale=sw[int(free[0])] / sw, last=-10, count=0)

    # ---- state ----
    bt = np.zeros((B, p))                 # coefficients on the internal (x~) scale
    b0 = np.zeros(B)
    S: list[int] = []                     # the strong set (union over the problems), in order
    XS = None                             # device (n, |S|): x[:, S] - c[S]
    ever = np.zeros((B, p), dtype=bool)   # (kept only where pmax can bind: track_ever)
    track_ever = nx < p
    s_arr = [np.zeros(0, dtype=np.int64)]
    npass = np.zeros(B, dtype=np.int64)
    jerr = np.zeros(B, dtype=np.int64)
    lmu = np.zeros(B0, dtype=np.int64)     # (the outputs: the caller's problems)
    beta_o = np.zeros((B0, L, p))
    a0_o = np.zeros((B0, L))
    lam_o = np.zeros((B0, L))
    dev_o = np.zeros((B0, L))
    g = np.zeros((B, p))                  # gradients x~' r at the last solution
    sv_last = np.ones(B)
    dev_now = np.zeros(B)                 # deviance at the last solution
    dl_prev = np.zeros(B)
    # float32 cannot resolve IRLS changes far below its rounding: after this many IRLS steps at
    # one lambda the step is accepted (counted in fit.info['irls_floor'])
    # (stop 27: with 32 lambdas a chunk, a chunk's first copies on bench/gpu.py's poisson p > n
    # fold were still changing by 0.2-0.7 there, 1e9 times the threshold, and were accepted with
    # KKT violations of 0.4-0.6 and objectives 7-11% too high; H100 and the CPU seam alike)
    irls_cap = 30 if be.dt == mx.float32 else 10 ** 9
    rfloor = np.full(B, RHO_MIN)          # each copy's least rho (RHO_MIN; 1 once its IRLS grew)
    floor_hits = [0]
    blind_hits = [0]
    blind = np.zeros(B, dtype=bool)       # the last step moved a coefficient the Gram cannot see
    used_curv: dict = {}                  # each copy's curvatures of S at its last step (CURV_CHECK)
    curv_hits = [0]

    def add_columns(new):
        """New strong variables: their columns of x - c, and their rows and columns of every kept
        Gram (under the weights that Gram was formed with, so that it stays one weighted Gram)."""
        nonlocal XS
        new = [j for j in new if j not in Sset]
        if not new:
            return
        nd = be.arr(new, integer=True)
        cols = gather(X, cols=nd, c=c)                                 # (n, new) of x - c
        XS = cols if XS is None else mx.concatenate([XS, cols], axis=1)
        m0 = len(S)
        S.extend(new)
        Sset.update(new)
        ext: dict = {}
        done: dict = {}                   # (a chunk's problems share Gram objects: extend once)
        for bb in range(B):
            if Hs[bb] is None:
                continue
            key = id(Hs[bb])
            if key in done:
                Hs[bb], aH[bb] = done[key]
                continue
            # (in the Gram's own precision and from its own rounding: a bfloat16 Gram extended
            # in float32, or from differently scaled rows, would no longer be one product, nor
            # surely positive semidefinite)
            g = gsrc[bb]
            if g >= 0:
                # formed by a shared fold refresh: extended the same way, by one grouped
                # product for every problem it served (not one product over n a problem)
                if g not in ext:
                    ext[g] = group_products(gforms[g]["vf"], gforms[g]["lowp"], cols)
                    fold_ext[0] += 1
                parts, full = ext[g]
                C = fold_part(full, parts, grp["own"][bb]) * float(grp["scale"][bb])
            else:
                C = be.wtn(vH[bb], cols, XS, bf16=bool(hb[bb]))       # (new, m0 + new)
            Hs[bb] = mx.concatenate([mx.concatenate([Hs[bb], C[:, :m0].T], axis=1), C], axis=0)
            aH[bb] = mx.concatenate([aH[bb], vH[bb] @ cols])
            done[key] = (Hs[bb], aH[bb])
        mx.eval(XS, *[h for h in Hs if h is not None])
        prof.mark("strong-set columns")

    def group_products(vf, lowp, A):
        """A' XS weighted by vf over the rows grouped by fold, (parts, full) as fold_products:
        a shared fold refresh's Grams (A = XS) and, under the same weights and rounding, their
        extension by new columns A. lowp: from sqrt(vf) x rounded to bfloat16 on both sides."""
        wg = mx.take(vf, grp["idx"]) * grp["valid"]
        if lowp:
            sq = mx.sqrt(wg)
            zb = gather(XS, rows=grp["idx"], w=sq).astype(mx.bfloat16)
            za = zb if A is XS else gather(A, rows=grp["idx"], w=sq).astype(mx.bfloat16)
        else:
            zb = gather(XS, rows=grp["idx"])
            za = wg[:, None] * zb if A is XS else gather(A, rows=grp["idx"], w=wg)
        return fold_products(za, zb, grp["shape"])

    # each problem's kept Gram of S: raw cross-products of x - c under the weights vH
    gsrc = np.full(B, -1)                 # the shared fold refresh that formed it (-1: its own)
    gforms: dict = {}                     # those refreshes' weights and precision
    fold_ext = [0]                        # grouped extensions of such Grams by new columns
    Hs: list = [None] * B
    aH: list = [None] * B
    vH: list = [None] * B
    svH_d: list = [None] * B
    svH_h = np.ones(B)                    # (their values on the host)
    stale = [0]                           # refreshes for a weights' sum off by STALE_SUM
    hb = np.zeros(B, dtype=bool)          # that Gram was formed in bfloat16 (Backend.bf16)
    lowp_count = [0]
    fresh = np.ones(B, dtype=bool)
    solo = np.zeros(B, dtype=bool)        # CV folds: problems left out of shared refreshes
    refreshes = [0]
    steps_total = [0]

    Sset: set = set()
    # a problem's IRLS weights and residuals from the KKT pass at its current coefficients
    at_kkt: dict = {}
    kkt_reused = [0]
    kkt_passes = [0]
    kkt_skipped = [0]                     # of those, passes with no gradients (KKT_SKIP_FULL)
    pstart = np.zeros(B, dtype=np.int64)  # (a chunk's problems: their passes when it began)
    s_up: dict = {}                       # S's device inputs, uploaded once a length of S
    chunk_sizes: list = []                # the lambdas of each chunk (chunk_bytes can lower it)
    cap_bytes = chunk_bytes(backend) if K > 1 else 0
    retried = [0]                         # chunks solved again one lambda at a time (maxit)
    cut_at = [1 << 30]                    # where solve_stage cut the current chunk (CARRY)
    carried = [0]                         # lambdas carried into a next chunk, in all
    idx_up: dict = {}                     # problem indices on the device, by value

    def s_dev():
        """S's device inputs of a least-squares launch: its indices, penalty factors, limits and
        the kernel's fixed integer vectors (S only grows: its length names it)."""
        m = len(S)
        if s_up.get("m") != m:
            s_up.update(m=m, Sd=be.arr(S, integer=True), pf=be.arr(pf[S]),
                        cl=be.arr(np.asarray(cl, dtype=np.float64)[:, S]),
                        ar=be.arr(np.arange(m), integer=True), zi=mx.zeros((m,), mx.int32))
        return s_up

    def s_idx():
        """S as an index array (S only grows: its length names it)."""
        if s_arr[0].size != len(S):
            s_arr[0] = np.array(S, dtype=np.int64)
        return s_arr[0]

    def hostpack(idx, lam=None, bS=None):
        """One upload of the problems' host values (k, |S| + 7): their coefficients of S (bS:
        gathered already), then b0, lambda, alpha, the IRLS threshold, devmax, pmin, the least
        rho (one upload a step, not eight)."""
        m = len(S)
        h = np.zeros((idx.size, m + 7))
        h[:, :m] = bt[np.ix_(idx, s_idx())] if bS is None else bS
        h[:, m] = b0[idx]
        if lam is not None:
            h[:, m + 1:] = np.stack([lam, alpha[idx], thresh_g[idx], devmax[idx], pmin[idx],
                                     rfloor[idx]], 1)
        return be.arr(h)

    def eta_parts(idx, hp=None):
        """eta = offset + b0 + x~_S beta_S of the problems idx (hp: their hostpack) in parts:
        (xb = (x - c)_S (beta_S / xs_S), (k, n), or None where S is empty; the offsets' rows;
        b0 - dsh_S' (beta_S / xs_S), (k, 1))."""
        m = len(S)
        if hp is None:
            hp = hostpack(idx)
        c0 = hp[:, m:m + 1]
        if not S:
            return None, data_rows(Od, idx), c0
        Sd = s_dev()["Sd"]
        bsc = hp[:, :m] * mx.take(data_rows(ixs_d, idx), Sd, axis=1)         # per unit of x - c
        c0 = c0 - mx.sum(mx.take(data_rows(dsh_d, idx), Sd, axis=1) * bsc, axis=1, keepdims=True)
        # (several problems: (k, n) straight from the GEMM, not a transposed (n, k))
        xb = (XS @ bsc.T).T if idx.size == 1 else bsc @ XS.T
        return xb, data_rows(Od, idx), c0

    def eta_of(idx, hp=None):
        """eta = offset + b0 + x~_S beta_S of the problems idx (hp: their hostpack)."""
        xb, base, c0 = eta_parts(idx, hp)
        return base + c0 if xb is None else xb + base + c0

    def step_moments(idx, hp):
        """The IRLS weights and residuals of the problems idx at their coefficients (hp), eta
        not formed on its own (_moments_parts)."""
        xb, base, c0 = eta_parts(idx, hp)
        if xb is None:
            return _moments(base + c0, data_rows(Yd, idx), data_rows(Wn, idx), fam, pmin0)
        return _rowfun("moments_parts", fam)(xb, base, c0, data_rows(Yd, idx),
                                             data_rows(Wn, idx), pmin0)

    def idx_d(idx):
        key = (idx.dtype.str, idx.tobytes())
        d = idx_up.get(key)
        if d is None:
            if len(idx_up) > 256:
                idx_up.clear()
            d = idx_up[key] = be.arr(idx, integer=True)
        return d

    def passes(ids):
        """The passes counted against maxit. In a chunk, lambda k counts the passes of the
        chunk's lambdas 0 .. k since it began (an upper bound on those of lambdas solved one
        after the other): a chunk that runs into maxit is solved again one lambda at a time
        from its start (see chunked), where the count is glmnet's."""
        if K == 1:
            return npass[ids]
        d = (npass - pstart).reshape(-1, K).cumsum(axis=1).reshape(-1)
        return pstart[ids] + d[ids]

    def data_rows(A, idx):
        """The rows of the problems idx in a device array of one row a caller's problem (B0, .):
        one row (broadcast) where they are all copies of one problem (a chunk's)."""
        o = idx // K
        if o.size and np.all(o == o[0]):
            return A[int(o[0]):int(o[0]) + 1]
        return A[idx_d(o)]

    def group_refresh(idx, v):
        """The Grams of the iterating problems idx (and f's) under the full problem's current
        IRLS weights on their rows (see grp), for those whose own weights are close to them."""
        f = grp["f"]
        hit = np.flatnonzero(idx == f)
        if hit.size:
            vf = v[int(hit[0])]
        else:                              # f is not iterating: its weights at its solution
            fa = np.array([f])
            vf = _moments(eta_of(fa), Yd[idx_d(fa)], Wn[idx_d(fa)], fam, pmin0)[0][0]
        wf = Wn[f]
        hf = mx.where(wf > 0, vf / mx.where(wf > 0, wf, 1), 0)                 # f's IRLS h
        # a problem whose own IRLS weights are far from f's on its rows keeps its own Gram
        # (relative L1 distance; a nearly separated fit, say, where they differ by orders)
        dist = np.array(mx.sum(mx.abs(v - Wn[idx_d(idx)] * hf[None, :]), axis=1)
                        / mx.sum(v, axis=1))
        solo[idx[dist > GROUP_TOL]] = True
        serve = np.zeros(B, dtype=bool)
        serve[idx] = True
        serve[f] = True
        serve &= ~solo
        if not serve[np.arange(B) != f].any():
            return []                      # no fold to serve: f refreshes alone, as usual
        lowp = be.bf16(n, len(S))
        parts, full = group_products(vf, lowp, XS)                          # (G, m, m), (m, m)
        gid = grp["count"]
        gforms[gid] = dict(vf=vf, lowp=lowp)
        for bb in np.flatnonzero(serve):
            Hs[bb] = fold_part(full, parts, grp["own"][bb]) * float(grp["scale"][bb])
            gsrc[bb] = gid
            hb[bb] = lowp
            lowp_count[0] += int(lowp)
            vH[bb] = vf if bb == f else Wn[bb] * hf
            aH[bb] = vH[bb] @ XS
            svH_d[bb] = mx.sum(vH[bb])
        fresh[serve] = False
        for g in [g for g in gforms if g not in gsrc]:   # (refreshes no Gram comes from now)
            del gforms[g]
        mx.eval(*[a for a in (*Hs, *aH, *svH_d) if a is not None])
        for bb in np.flatnonzero(serve):
            svH_h[bb] = float(np.array(svH_d[bb]))
        refreshes[0] += 1
        grp["last"] = steps_total[0]
        grp["count"] += 1
        return np.flatnonzero(serve)

    def wls(idx, lam, jerr_at, count=True):
        """One IRLS step for the problems idx: the exact gradient x~' r at the current eta, the
        curvature from each problem's kept weighted Gram (refreshed with the current weights when
        the last steps converged slowly), the penalised quadratic solved by the kernel from the
        current coefficients. A stale curvature changes how fast IRLS converges, never where: the
        fixed point has the exact gradient. Returns (current sum of IRLS weights, the Gram
        weights' sum, the curvatures of S) for the IRLS test. count: whether an intercept-only
        step (empty S) counts as a pass; the null model's do not, as in glmnet.

        The step is one graph on the device from one upload (hostpack) to one download (every
        result packed in one array): its host syncs and small transfers had cost ~4 ms of a
        ~16 ms step at binomial n = 1e6 (stop 24)."""
        k = idx.size
        steps_total[0] += 1
        prof.mark("host")
        bold = bt[np.ix_(idx, s_idx())]        # (the step's start: one gather for all its uses)
        hp = hostpack(idx, lam, bold)
        kk = [at_kkt.get(bb) for bb in idx]
        if KKT_REUSE and all(e is not None for e in kk):
            # the KKT pass at these coefficients left their IRLS weights and residuals (one read
            # of the strong columns, for eta, saved a lambda); a whole pass's arrays as they are
            src, row = kk[0][0], kk[0][2]
            if all(e[0] is src for e in kk) and [e[2] for e in kk] == list(range(src.shape[0])):
                v, r = kk[0][0], kk[0][1]
            elif all(e[0] is src and e[2] == row for e in kk):    # (a chunk's first step)
                v = mx.broadcast_to(src[row:row + 1], (k, n))
                r = mx.broadcast_to(kk[0][1][row:row + 1], (k, n))
            else:
                v = mx.stack([e[0][e[2]] for e in kk])
                r = mx.stack([e[1][e[2]] for e in kk])
            kkt_reused[0] += 1
        else:
            v, r = step_moments(idx, hp)
        for bb in idx:                     # (the step moves the coefficients)
            at_kkt.pop(bb, None)
        sv_d, sr_d = mx.sum(v, axis=1), mx.sum(r, axis=1)
        if not S:                                                   # intercept only: Newton
            mx.eval(sv_d, sr_d)
            svh = np.array(sv_d, dtype=np.float64)
            if intr:
                b0[idx] += np.array(sr_d, dtype=np.float64) / svh
            npass[idx] += int(count)
            return svh, svh, np.zeros(k)
        m = len(S)
        mx.async_eval(v, r, sv_d, sr_d)   # (the device starts while the host builds the rest)
        prof.mark("IRLS statistics", [v, r])
        # A kept Gram formed under weights whose sum is off by more than STALE_SUM from the
        # current ones does not describe the curvature any more (a long step: poisson's weights
        # grow as exp(eta)): the step is taken again after refreshing it, not accepted astray.
        # (Tested after the step, from its one download: it happens rarely, a sync before every
        # step would cost each one.)
        while True:
            ref_now: dict = {}
            P = wls_step(idx, v, r, sv_d, sr_d, hp, ref_now)
            svh = P[:, 2 * m + 5]
            for bb, i in ref_now.items():
                if i >= 0:
                    svH_h[bb] = svh[i]
            late = [i for i, bb in enumerate(idx) if bb not in ref_now and Hs[bb] is not None
                    and not svH_h[bb] / STALE_SUM <= svh[i] <= svH_h[bb] * STALE_SUM]
            if not late:
                break
            fresh[idx[late]] = True
            stale[0] += len(late)
        bnew, a0k = P[:, :m], P[:, m]
        info = np.rint(P[:, m + 1:m + 5]).astype(np.int64)
        if track_ever:                                     # the kernel's ever-active flags
            ever[np.ix_(idx, s_idx())] |= P[:, m + 5:2 * m + 5] > 0
        svg, srh = P[:, 2 * m + 6], P[:, 2 * m + 7]
        diag, mvh = P[:, 2 * m + 8:3 * m + 8], P[:, 3 * m + 8:4 * m + 8]
        npass[idx] += info[:, 1]
        bad = info[:, 2] != 0
        if bad.any():
            jerr[idx[bad]] = np.broadcast_to(jerr_at, idx.shape)[bad]
        bt[np.ix_(idx, s_idx())] = bnew
        if intr:                 # the intercept's Newton step, given the coefficients' step
            b0[idx] += srh / svg + a0k + (mvh * bold).sum(axis=1)
        if K > 1:                                  # (chunks only: BLIND, CURV_CHECK)
            # a coefficient that moved along a direction of no curvature in the Gram
            flat = diag <= BLIND * np.maximum(diag.max(axis=1, keepdims=True), 1e-300)
            blind[idx] = (flat & (bnew != bold)).any(axis=1)
            if CURV_CHECK:
                for i, bb in enumerate(idx):
                    used_curv[int(bb)] = diag[i]
        return svh, svg, (diag * (bnew - bold) ** 2).max(axis=1)

    # the kept Grams' terms that do not change from step to step (gram_terms), by Gram
    curv: dict = {}

    def gram_terms(bb):
        """Problem bb's kept Gram as the least-squares launch takes it, (Gn, its diagonal before
        the division, the x~ means under its weights mv, its weights' sum svc (1,), dS, iS):
        Gn = G / svc, G the Gram of x~ = (x - c - dS) iS over S, from the raw cross-products H of
        x - c, their weighted column sums a and weights' sum svc. They change only when that
        Gram does (a refresh, new columns: a new array), so they are formed once for each Gram,
        not at every IRLS step (an m x m pass and a dozen small launches. Stop 28's profile of
        binomial n = 1e6, p = 1e3 on an H100 put the stacked Grams and the launch's terms at
        ~1.7 ms of a ~14 ms step; the next H100's full run, with this, gave the same stage times
        (332.0 against 331.6 ms, on a host ~25% slower): no saving measured yet)."""
        H, m, o = Hs[bb], len(S), bb // K
        key = (id(H), o)
        e = curv.get(key)
        if e is not None and e[0] is H and e[1] == m:
            return e[2]
        Sd = s_dev()["Sd"]
        dS, iS = mx.take(dsh_d[o], Sd), mx.take(ixs_d[o], Sd)
        a, svc = aH[bb], svH_d[bb].reshape(1)
        Gn = _rowfun("gram_terms", 0)(H, dS, a, svc, iS)
        diag = (mx.diagonal(H) - 2 * dS * a + svc * dS * dS) * iS * iS
        mv = (a - svc * dS) * iS / svc                              # x~ means under the Gram weights
        t = (Gn, diag, mv, svc, dS, iS)
        curv[key] = (H, m, t)
        return t

    def wls_step(idx, v, r, sv_d, sr_d, hp, ref_now):
        """The device work of one IRLS step (see wls) and its packed results on the host:
        (k, 4 |S| + 8) = the new coefficients of S | the kernel's intercept step | its info (4) |
        ever-active flags of S | sum of IRLS weights | the Gram weights' sum | sum of residuals |
        the curvatures of S | the x~ means under the Gram weights. ref_now: the problems whose
        Gram this step refreshed, with the row of the weights it used (-1: known already)."""
        k, m = idx.size, len(S)
        if grp is not None:
            need = [bb for bb in idx if (fresh[bb] or Hs[bb] is None) and not solo[bb]]
            if need and steps_total[0] - grp["last"] <= 1:
                # still slow right after a shared refresh: the full problem's weights do not
                # serve these (a nearly separated fit, say): own Grams, for the rest of the lambda
                solo[need] = True
            elif need:
                for bb in group_refresh(idx, v):
                    ref_now[int(bb)] = -1
        need = [i for i, bb in enumerate(idx) if fresh[bb] or Hs[bb] is None]
        if K > 1:
            # a chunk's problems (one caller's problem at neighbouring lambdas) share one Gram:
            # under the weights of the middle one of those that asked, for all of them iterating
            # (a Gram for each group of those far apart changed nothing measured: stop 25)
            by: dict = {}
            for i in need:
                by.setdefault(int(idx[i]) // K, []).append(i)
            need = [(ii[len(ii) // 2], np.flatnonzero(idx // K == o)) for o, ii in by.items()]
        else:
            need = [(i, [i]) for i in need]
        for i, serve in need:                                        # Gram refreshes
            vi = v[i]
            lowp = be.bf16(n, m) and not exact
            Hn, an, sn = be.wtn(vi, XS, bf16=lowp), vi @ XS, mx.sum(vi)
            for j in serve:
                bb = idx[j]
                hb[bb] = lowp
                Hs[bb], aH[bb], vH[bb], svH_d[bb] = Hn, an, vi, sn
                ref_now[int(bb)] = int(i)
                gsrc[bb] = -1
                fresh[bb] = False
            lowp_count[0] += int(lowp)
            refreshes[0] += 1
        prof.mark("Gram refreshes", [Hs[bb] for bb in idx])
        sd = s_dev()
        Sd = sd["Sd"]
        # the distinct curvatures: a chunk's problems share their Gram and standardisation,
        # and then the launch too reads one Gram for all of them (ip[12]: K copies of an m x m
        # Gram no longer fit the GPU's L2 cache at m = 1e3)
        first: dict = {}
        inv = np.array([first.setdefault((id(Hs[bb]), int(bb) // K), len(first)) for bb in idx])
        rep = idx[np.unique(inv, return_index=True)[1]]
        live = {id(h) for h in Hs if h is not None}
        for key in [key for key, e in curv.items() if id(e[0]) not in live]:
            del curv[key]                 # (the terms of Grams no problem keeps any more)
        terms = [gram_terms(int(bb)) for bb in rep]
        if rep.size == 1:                 # (u = 1: views, no stacked copy)
            Gn, diag, mv, svc, dS, iS = (t[None] for t in terms[0])
        else:
            Gn, diag, mv, svc, dS, iS = (mx.stack(list(c)) for c in zip(*terms))
        gr = r @ XS                                                 # (k, m): XS' r
        prof.mark("IRLS gradient", [gr, Gn])
        gone = rep.size == 1 and (SHARE_GRAM or k == 1)
        if not gone and rep.size < k:     # (back to one row a problem)
            inv_d = idx_d(inv.astype(np.int64))
            mv, svc, dS, iS, Gn, diag = (mx.take(t, inv_d, axis=0)
                                         for t in (mv, svc, dS, iS, Gn, diag))
        gst, dpk, dgn, svc, mv = _rowfun("launch_terms", (bool(intr), bool(RHO and K > 1)))(
            gr, sr_d[:, None], sv_d[:, None], dS, iS, mv, svc, diag, hp[:, m + 1:m + 2],
            hp[:, m + 2:m + 3], hp[:, m + 3:m + 4], hp[:, m + 4:m + 6], hp[:, m + 6:m + 7])
        xsS = mx.take(data_rows(xs_d, idx), Sd, axis=1)
        cls = mx.broadcast_to(mx.clip(sd["cl"][None] * xsS[:, None, :], -BIG, BIG), (k, 2, m))
        ipk = np.array([1, m, 1, 0, 1, 1, intr, 0, max(1, maxit - int(passes(idx).min())), m + 1,
                        m + 1, m, int(gone), 0, 1, 1], dtype=np.int32)
        dummy = mx.zeros((1,), be.dt)
        inputs = [dummy, dummy, mx.zeros((k, 1), be.dt), dummy, Gn, gst, sd["pf"], cls, sd["zi"],
                  dummy, be.arr(ipk, integer=True), dpk, sd["ar"], dummy,
                  mx.zeros((1,), mx.int32), hp[:, None, :m], dummy]

        def pack(outs):
            return mx.concatenate([outs[0].reshape(k, m), outs[1].reshape(k, 1),
                                   outs[5].astype(be.dt),
                                   (outs[8][:, 2 * m:3 * m] > 0).astype(be.dt),
                                   sv_d[:, None], svc, sr_d[:, None], dgn, mv], axis=1)
        prof.mark("IRLS statistics", [Gn, gst, dpk, cls])
        packed = be.solve(inputs, k, m, then=pack)
        prof.mark("least-squares kernel")
        return np.array(packed, dtype=np.float64)

    def solve_stage(idx, lam, s, mj, ks=None, chunk=False):
        """glmnet's KKT loop around IRLS for the problems idx at lambdas lam (per problem); mj:
        the lambda's number for error codes (an array over all problems in a chunk). ks: a
        chunk of ks lambdas that may be cut short (see CARRY): cut_at[0] then says where, the
        copies from there on are left as they are, unchecked. chunk: idx are a chunk's copies
        (several lambdas of a problem; see irls_cap)."""
        def mjv(ids):
            return mj if np.isscalar(mj) else mj[ids]

        def fail(ids):
            """glmnet's maxit code for the problems ids not failed yet (in a chunk: the chunk
            is then solved again one lambda at a time); returns how many."""
            ids = ids[jerr[ids] == 0]
            jerr[ids] = -mjv(ids)
            return ids.size

        def curvature_late(ok, acc, vk):
            """CURV_CHECK at the KKT pass of a chunk's copies ok (IRLS weights vk), for those the
            KKT check accepts (acc, positions in ok): each one's own curvature against the one
            its steps used. True when one fails (fail(): the chunk is then solved again one
            lambda at a time). Only accepted copies are checked: one that goes on to another
            IRLS round is checked when that round is accepted."""
            if not (chunk and CURV_CHECK and S and acc.size) or \
                    not all(int(bb) in used_curv for bb in ok[acc]):
                return False
            ids = ok[acc]
            Sd = s_dev()["Sd"]
            dS = mx.take(data_rows(dsh_d, ids), Sd, axis=1)
            iS = mx.take(data_rows(ixs_d, ids), Sd, axis=1)
            va = vk if acc.size == ok.size else mx.take(vk, be.arr(acc, integer=True), axis=0)
            s1, s2 = weighted_moments(XS, va)
            own = (s2 - 2 * dS * s1 + mx.sum(va, axis=1, keepdims=True) * dS * dS) * iS * iS
            own = np.array(own, dtype=np.float64)
            used = np.stack([used_curv[int(bb)] for bb in ids])
            ratio = np.where(own > 0, used / np.maximum(own, 1e-300), 1.0).max(axis=1)
            late = fail(ids[dl_prev[ids] * ratio >= CURV_SLACK * thrg[ids]])
            curv_hits[0] += late
            prof.mark("curvature check")
            return late > 0
        todo = idx
        first_round = True
        while todo.size:
            cur = todo
            steps = 0
            while cur.size:                                          # IRLS
                # maxit is tested before every weighted least-squares step, as glmnet does (a
                # lambda's first and the one after a failed KKT check included)
                over = passes(cur) > maxit
                fail(cur[over])
                cur = cur[~over]
                if not cur.size:
                    break
                steps += 1
                b0s = b0[cur].copy()
                if exact:                  # (glmnet's steps: the curvature at the current weights)
                    fresh[cur] = True
                svh, svg, dlb = wls(cur, lam[np.searchsorted(idx, cur)], -mjv(cur))
                sv_last[cur] = svh
                if chunk and blind[cur].any():
                    # (the shared Gram's weights are another lambda's: see BLIND)
                    blind_hits[0] += fail(cur[blind[cur]])
                dl = np.maximum(svg * (b0[cur] - b0s) ** 2, dlb)
                # slow convergence: the kept Gram's weights are too old; refresh it next step
                # (a refresh costs 2 n |S|^2 flops, ~26 ms at n = 1e6, |S| = 800 on an H200,
                # about five IRLS steps: only when the steps stop shrinking the change fast)
                if steps >= 2:
                    ratio = (REFRESH_RATIO_CHUNK if K > 1 else REFRESH_RATIO) \
                        if n * len(S) ** 2 >= REFRESH_FLOPS else 0.1
                    fresh[cur[dl > ratio * dl_prev[cur]]] = True
                    rfloor[cur[dl > dl_prev[cur]]] = max(RHO_MIN, 1.0)     # (see RHO_MIN)
                dl_prev[cur] = dl
                if track_ever:
                    ever[cur] |= bt[cur] != 0
                    over = ever[cur].sum(axis=1) > nx
                    hit = cur[over & (jerr[cur] == 0)]
                    jerr[hit] = -10000 - mjv(hit)
                conv = dl < thrg[cur]
                if steps >= irls_cap and not conv.all():
                    # accepted at float32's resolution only: a change still CAP_SLACK times the
                    # threshold is IRLS that has not converged (a chunk's copy oscillating on a
                    # shared Gram); in a chunk it fails the chunk, which is then solved again one
                    # lambda at a time, and alone it goes on iterating up to maxit
                    near = ~conv & (dl < CAP_SLACK * thrg[cur])
                    floor_hits[0] += int(near.sum())
                    conv |= near
                    if chunk and not conv.all():
                        fail(cur[~conv])
                cur = cur[~conv & (jerr[cur] == 0)]
                if ks is not None and first_round and steps >= CUT_STEPS and cur.size:
                    j = int((cur % K).min())
                    if j >= max(1, ks // 2) and cur.size <= CUT_FRACTION * idx.size:
                        cut_at[0] = j
                        cur = cur[:0]
            first_round = False
            ok = todo[(jerr[todo] == 0) & (todo % K < cut_at[0])]
            if not ok.size:
                return
            # gradients of every variable at the solution (the KKT check and the next strong
            # rule) and its deviance, in one read of x
            prof.mark("host")
            eta = eta_of(ok)
            kkt_passes[0] += 1
            Yk, Wk = data_rows(Yd, ok), data_rows(Wn, ok)
            vk, r = _moments(eta, Yk, Wk, fam, pmin0)
            dvd = _deviance(eta, Yk, Wk, fam, pmin0)
            out = np.ones(p, dtype=bool)
            out[S] = False
            if s >= 1 and KKT_SKIP_FULL and not (ju[ok] & out[None, :]).any():
                # every usable variable is in the strong set: no KKT check, no strong rule,
                # so no gradients (x' r reads all of x); S never shrinks, so g is never read
                # again for these problems
                mx.eval(dvd, vk, r)
                for i, bb in enumerate(ok):
                    at_kkt[bb] = (vk, r, i)
                dev_now[ok] = np.array(dvd, dtype=np.float64)
                kkt_skipped[0] += 1
                prof.mark("KKT gradients")
                curvature_late(ok, np.arange(ok.size), vk)
                return
            sr = mx.sum(r, axis=1)
            gd = (r @ X - data_rows(xm_d, ok) * sr[:, None]) * data_rows(ixs_d, ok)
            both = mx.concatenate([gd, dvd[:, None]], axis=1)
            mx.eval(both, vk, r)
            for i, bb in enumerate(ok):    # (the next IRLS step of bb starts here)
                at_kkt[bb] = (vk, r, i)
            both = np.array(both, dtype=np.float64)
            g[ok] = both[:, :p]
            dev_now[ok] = both[:, p]
            prof.mark("KKT gradients")
            if s < 1:
                return
            lk = lam[np.searchsorted(idx, ok)]
            viol = ju[ok] & out[None, :] & (np.abs(g[ok]) > (lk * alpha[ok])[:, None] * pf[None, :])
            if curvature_late(ok, np.flatnonzero(~viol.any(axis=1)), vk):
                return
            new = np.flatnonzero(viol.any(axis=0))
            add_columns([int(j) for j in new])
            todo = ok[viol.any(axis=1)]

    # ---- stage -1: the null model (intercept and offsets) ----
    if intr:
        b0[:] = np.log(ybar / (1 - ybar)) if fam == 1 else np.log(ybar)
    thrg = np.asarray(thresh, dtype=np.float64).copy()          # before the null deviance is known
    thresh_g = thrg
    if intr:
        # (glmnet fits the null model without counting passes, as path.kern does: its Newton
        # steps are bounded by maxit on their own)
        cur = np.arange(B)
        newton = 0
        while cur.size:
            b0s = b0[cur].copy()
            svh, _, _ = wls(cur, np.full(cur.size, BIG), -1, count=False)
            newton += 1
            conv = svh * (b0[cur] - b0s) ** 2 < thrg[cur]
            late = ~conv & (newton > maxit)
            jerr[cur[late]] = -1
            cur = cur[~conv & ~late]
    all_idx = np.arange(B)
    nulld = np.array(_deviance(eta_of(all_idx), data_rows(Yd, all_idx), data_rows(Wn, all_idx),
                               fam, pmin0), dtype=np.float64)
    thrg = thresh * nulld * 0.5
    thresh_g = thrg

    # ---- stage 0: the unpenalised variables; lambda_max ----
    add_columns([int(j) for j in np.flatnonzero(ju.any(axis=0) & (pf <= 0))])
    alive = all_idx[jerr == 0]
    solve_stage(alive, np.full(alive.size, BIG), 0, 1)
    lammax = np.zeros(B)
    pos = pf > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ju & pos[None, :], np.abs(g) / np.where(pos, pf, 1.0)[None, :], 0.0)
    lammax = ratio.max(axis=1) / np.maximum(alpha, 1e-3)
    lamprev = lammax.copy()

    def store(idx, m, lam, dest=None):
        """The solutions of the problems idx as lambda m of the outputs' rows dest (idx)."""
        dest = idx if dest is None else dest
        devr = 1 - dev_now[idx] / nulld[idx]
        bo = np.where(ju[idx], bt[idx] * ixs[idx], 0.0)
        beta_o[dest, m] = bo
        a0_o[dest, m] = b0[idx] - (xm[idx] * bo).sum(axis=1)
        lam_o[dest, m] = lam
        dev_o[dest, m] = devr
        lmu[dest] = m + 1
        if progress is not None:
            progress(int(lmu.sum()))
        return devr, (bo != 0).sum(axis=1)

    mnl = min(L, int(ip[15]))

    def stops(idx, dest, m, devr, df):
        """glmnet's path stops after lambda m for the problems idx (output rows dest)."""
        stop = np.zeros(idx.size, dtype=bool)
        if not ulflag and m + 1 >= mnl:
            prev = dev_o[dest, m - 1] if m > 0 else np.zeros(idx.size)
            stop |= df > ne
            # (fdev = 0: no deviance-change stop in float32, where only rounding triggers it)
            fon = (fdev[idx] > 0) | (be.kind != "gpu")
            if fam == 1:
                stop |= fon & (devr - prev < fdev[idx])
                stop |= sv_last[idx] <= (1 + pmin0) * pmin0 * (1 - pmin0)
            else:
                stop |= fon & ((devr - dev_o[dest, m - mnl + 1]) / devr < 10 * fdev[idx])
            stop |= devr > devmax[idx]
        return stop

    def lambdas(idx, m):
        """Lambda m (an array: per problem) of the problems idx."""
        if ulflag:
            return np.asarray(ul, dtype=np.float64)[m] * np.ones(idx.size)
        return lammax[idx] * flmin[idx] ** (m / (L - 1) if L > 1 else 0.0)

    def strong_new(idx, lam):
        """The sequential strong rule from the last gradients: the new columns of S."""
        out = np.ones(p, dtype=bool)
        out[S] = False
        tl = alpha[idx] * (2 * lam - lamprev[idx])
        strong = ju[idx] & out[None, :] & (np.abs(g[idx]) > tl[:, None] * pf[None, :])
        return [int(j) for j in np.flatnonzero(strong.any(axis=0))]

    def strong_columns(idx, lam):
        add_columns(strong_new(idx, lam))

    def chunked(alive):
        """The path in chunks of K lambdas. Problem b's copies b K + k solve lambdas m0 + k of a
        chunk at once, all from b's solution at lambda m0 - 1: one IRLS step of the chunk costs
        about what one step of one lambda does (one read of the strong columns for K etas, one
        for K gradients, K blocks of one kernel launch), so the path takes about K times fewer
        sequential steps, each lambda a few more. The strong set is the union of each lambda's
        sequential strong rule from lambda m0 - 1; the copies share Gram refreshes (under their
        middle one's weights). glmnet's stops are then applied lambda by lambda, in order, and
        the chunk's solutions after a stop (or an error) are dropped. A chunk cut short (CARRY)
        keeps its converged first lambdas; its later copies go on in the next chunk, which
        begins with them (shifted to its first copies), as they are. A chunk in which a lambda
        ran into maxit (a hard fit: near separation, p near n, where a lambda far from its start
        takes many IRLS steps), or in which a copy met the float32 step cap unconverged, is solved
        again from its start one lambda at a time over the chunk's lambdas; chunks then resume.
        Each further retry of the path doubles the stretch solved one lambda at a time (a path
        that stays hard ends up solved one lambda a step)."""
        nonlocal s
        orig = np.flatnonzero(np.isin(np.arange(B0), alive // K))
        jerr_o = jerr[::K].copy()
        npass_o = npass[::K].copy()
        mjs = np.zeros(B, dtype=np.int64)
        one_until = 0                     # one lambda a chunk below this lambda (a retry's)
        nretry = 0                        # this path's retries (each doubles that stretch)
        # each problem's last solution (before the first chunk: its start), where a chunk's new
        # copies begin and a retried chunk restarts
        base = {int(b): state_of(int(b) * K) for b in orig}
        carry = 0                         # the chunk's first copies that are carried ones
        hist: dict = {}                   # each problem's last two solutions (lambda, bt, b0)

        def extrapolate(orig, carry, ks, lam):
            """The chunk's new copies start on the line through their problem's last two
            solutions (linear in lambda; a coefficient that would change sign, or that the last
            solution had at 0, starts at 0; limits hold), not all at the last one."""
            for i, b in enumerate(orig):
                h = hist.get(int(b), [])
                if len(h) < 2 or h[1][0] == h[0][0]:
                    continue
                (l0, v0, c0), (l1, v1, c1) = h
                for k in range(carry, ks):
                    vb = int(b) * K + k
                    t = (lam[i * ks + k] - l1) / (l1 - l0)
                    bx = v1 + t * (v1 - v0)
                    bx = np.where((v1 != 0) & (np.sign(bx) == np.sign(v1)), bx, 0.0)
                    bt[vb] = np.clip(bx, clo[vb], chi[vb])
                    b0[vb] = c1 + t * (c1 - c0)
                    at_kkt.pop(vb, None)

        while orig.size:
            m0 = s - 1 if ulflag else s
            if m0 >= L:
                break
            one = m0 < one_until
            ks = 1 if one else min(K, L - m0)
            while True:
                vid = (orig[:, None] * K + np.arange(ks)[None, :]).ravel()
                ms = np.tile(m0 + np.arange(ks), orig.size)
                lam = lambdas(vid, ms)
                new = strong_new(vid, lam)
                # a chunk's strong set is the union of its lambdas': fewer lambdas where its
                # stacked Grams and (chunk, n) arrays would pass chunk_bytes (a large p, a CV
                # batch at a large n)
                mm = len(S) + len(new)
                size = vid.size * (mm * mm + 12 * n) * np.dtype(be.npdt).itemsize
                if ks == 1 or size <= cap_bytes:
                    break
                ks = max(1, ks // 2)
            if carry > ks:                # (carried lambdas beyond a smaller chunk: afresh)
                for b in orig:
                    for vb in range(int(b) * K + ks, int(b) * K + carry):
                        set_state(base[int(b)], vb)
                carry = ks
            chunk_sizes.append(ks)
            mjs[vid] = ms + 1
            if EXTRAP and not one:
                extrapolate(orig, carry, ks, lam)
            # (maxit: see passes. The next chunk goes on from the last lambda's own count, its
            # passes from the chunk's start standing for those of the lambdas before it: adding
            # theirs would count the way there up to K times over, and a hard path then ran into
            # maxit in chunks of 16 that one lambda at a time did not. npasses is all the work.)
            start = npass[vid].copy()
            pstart[:] = npass
            rfloor[vid] = RHO_MIN
            add_columns(new)
            cut_at[0] = ks
            solve_stage(vid, lam, s, mjs, ks if CARRY and ks > 1 else None, chunk=ks > 1)
            err = jerr[vid]
            if ks > 1 and ((err < 0) & (err > -10000)).any():
                for i, b in enumerate(orig):        # back to the chunk's start, then one by one
                    blk = slice(i * ks, (i + 1) * ks)
                    npass_o[b] += int((npass[vid[blk]] - start[blk]).sum())
                    for vb in range(b * K, b * K + K):
                        set_state(base[int(b)], vb)
                        Hs[vb] = None            # (S may have grown since: a Gram afresh)
                one_until = m0 + ks * (1 << nretry)
                nretry += 1
                carry = 0
                retried[0] += 1
                continue
            j = cut_at[0]                 # the lambdas kept from this chunk (the rest: carried)
            keep = []
            for i, b in enumerate(orig):
                last = None
                blk = slice(i * ks, (i + 1) * ks)
                npass_o[b] += int((npass[vid[blk]] - start[blk]).sum())      # (all the work)
                go = True
                for k in range(j):
                    vb = b * K + k
                    if jerr[vb] != 0:
                        jerr_o[b] = jerr[vb]
                        go = False
                        break
                    m = m0 + k
                    devr, df = store(np.array([vb]), m, lam[i * ks + k:i * ks + k + 1],
                                     np.array([b]))
                    last = vb
                    if stops(np.array([vb]), np.array([b]), m, devr, df)[0]:
                        go = False
                        break
                if last is not None:
                    lamprev[last] = lam[i * ks + (last - b * K)]
                    for vb in range(max(b * K, last - 1), last + 1):
                        hist.setdefault(int(b), []).append(
                            (lam[i * ks + (vb - b * K)], bt[vb].copy(), b0[vb]))
                    hist[int(b)] = hist[int(b)][-2:]
                if go:
                    keep.append(b)
                    st = base[int(b)] = state_of(last)
                    for k in range(j, ks):            # carried: to the next chunk's first copies
                        set_state(state_of(b * K + k), b * K + k - j)
                    for vb in range(b * K + ks - j, b * K + K):     # the others start at `last`
                        set_state(st, vb)
            carry = ks - j
            carried[0] += carry
            orig = np.array(keep, dtype=np.int64)
            s += j
            prof.mark("chunk bookkeeping")
        return result(lmu, npass_o, jerr_o)

    def state_of(a):
        """Problem a's state: rows of coefficients and gradients, its scalars, its kept Gram."""
        return ([t[a].copy() for t in (bt, g, ever)],
                [t[a] for t in (b0, dev_now, sv_last, dl_prev, lamprev, npass, jerr, hb, gsrc,
                                fresh, svH_h)],
                [t[a] for t in (Hs, aH, vH, svH_d)], at_kkt.get(a))

    def set_state(st, b):
        for t, v in zip((bt, g, ever), st[0]):
            t[b] = v
        for t, v in zip((b0, dev_now, sv_last, dl_prev, lamprev, npass, jerr, hb, gsrc, fresh,
                         svH_h), st[1]):
            t[b] = v
        for t, v in zip((Hs, aH, vH, svH_d), st[2]):
            t[b] = v
        if st[3] is None:
            at_kkt.pop(b, None)
        else:
            at_kkt[b] = st[3]

    def copy_state(a, b):
        set_state(state_of(a), b)

    def result(lmu_, npass_, jerr_):
        pos = W.positive() if fb else (np.full(B0, n) if unit_weights else (W > 0).sum(axis=1))
        info = np.stack([lmu_, npass_, jerr_, pos], axis=1)
        return PathResult(beta=beta_o, a0=a0_o, lambda_=lam_o, dev_ratio=dev_o,
                          nulldev_int=nulld[::K], lmu=info[:, 0], npasses=info[:, 1],
                          jerr=info[:, 2], nobs=info[:, 3], mode=0,
                          extra={"gpu_strong_columns": len(S), "irls_floor": floor_hits[0],
                                 "irls_blind_steps": blind_hits[0],
                                 "irls_curvature_fails": curv_hits[0],
                                 "gram_refreshes": refreshes[0], "irls_steps": steps_total[0],
                                 "bf16_grams": lowp_count[0], "irls_chunk": K,
                                 "stale_gram_refreshes": stale[0],
                                 "irls_chunk_sizes": chunk_sizes,
                                 "irls_chunks_retried": retried[0],
                                 "irls_lambdas_carried": carried[0],
                                 "kkt_passes": kkt_passes[0],
                                 "kkt_gradients_skipped": kkt_skipped[0],
                                 "fold_gram_refreshes": grp["count"] if grp is not None else 0,
                                 "fold_gram_extensions": fold_ext[0],
                                 "kkt_moments_reused": kkt_reused[0],
                                 **prof.report()})

    alive = alive[jerr[alive] == 0]
    if not ulflag and alive.size:
        first = alive[alive % K == 0]
        store(first, 0, lammax[first], first // K)
    s = 1
    if K > 1:
        return chunked(alive)
    while alive.size:
        m = s - 1 if ulflag else s
        if m >= L:
            break
        mj = m + 1
        lam = lambdas(alive, m)
        strong_columns(alive, lam)
        solo[:] = False
        solve_stage(alive, lam, s, mj)
        ok = jerr[alive] == 0
        alive, lam = alive[ok], lam[ok]
        if not alive.size:
            break
        lamprev[alive] = lam
        devr, df = store(alive, m, lam)
        alive = alive[~stops(alive, alive, m, devr, df)]
        s += 1
    return result(lmu, npass, jerr)
