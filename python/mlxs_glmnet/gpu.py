"""CUDA backend: compiles kernels/path.kern (the same source as the CPU primitive) with
mx.fast.cuda_kernel behind kernels/prelude_cuda.h. One thread block per problem, float32.

Covariance mode (gaussian, n >= p) never forms the whole Gram. The device computes the sufficient
statistics in one read of x (a small column-statistics kernel, on data shifted by a rough column
centre so that float32 keeps the variances), then Gram *columns* only for the variables that can
move: the path kernel receives K columns and a slot map; when a coordinate without a column would
move, the problem stops with K_NEEDCOL and the driver adds columns (at least doubling K, ranked by
the gradient the kernel left behind) and runs the path again. Each round is one GEMM over x plus
one launch; x stays on the device throughout (pass an mx.array to skip the host copy).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import mlx.core as mx

_KDIR = Path(__file__).with_name("kernels")
_KERNELS: dict = {}
# Threads per block (one block per problem); a multiple of 32. Measured on an H200, binomial
# 20000x500 path: 128 threads 8.9 s, 256 4.6 s, 512 2.5 s; 1024 exceeds the kernel's registers.
THREADS = int(os.environ.get("MLXS_GPU_THREADS", "512"))
# Gram columns computed before the first launch in covariance mode (all of them when p is small).
FIRST_COLUMNS = int(os.environ.get("MLXS_GPU_FIRST_COLUMNS", "64"))
NEEDCOL = 90000          # path.kern's K_NEEDCOL

INPUTS = ["x", "y", "w", "off", "gram", "gst", "pf", "cl", "jx", "ulam", "ip", "dp", "gsl"]
OUTPUTS = ["beta_o", "a0_o", "lam_o", "dev_o", "nd_o", "info_o", "wsp", "wsn", "wip"]

# Column statistics of the shifted design for every problem, one read of x (row-major n x p):
# out[k, b, chunk, j] = sum over the chunk's rows of wn_b * v * {1, v, y} with v = x_ij - c_j.
_STATS_SRC = r"""
  const int n = X_shape[0], p = X_shape[1], B = W_shape[0], BY = yv_shape[0];
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  const int ch = blockIdx.y, C = gridDim.y;
  if (j >= p) return;
  const int rows = (n + C - 1) / C;
  const int i0 = ch * rows, i1 = min(n, i0 + rows);
  const float cj = c[j];
  for (int b0 = 0; b0 < B; b0 += NB) {
    float s1[NB], s2[NB], s3[NB];
    for (int q = 0; q < NB; ++q) { s1[q] = 0.f; s2[q] = 0.f; s3[q] = 0.f; }
    for (int i = i0; i < i1; ++i) {
      const float v = X[(size_t)i * p + j] - cj;
#pragma unroll
      for (int q = 0; q < NB; ++q) {
        if (b0 + q < B) {
          const float t = W[(size_t)(b0 + q) * n + i] * v;
          s1[q] += t; s2[q] += t * v; s3[q] += t * yv[(BY == 1 ? (size_t)0 : (size_t)(b0 + q) * n) + i];
        }
      }
    }
    for (int q = 0; q < NB && b0 + q < B; ++q) {
      const size_t o = ((size_t)(b0 + q) * C + ch) * p + j;
      out[o] = s1[q];
      out[(size_t)B * C * p + o] = s2[q];
      out[(size_t)2 * B * C * p + o] = s3[q];
    }
  }
"""


def gpu_available() -> bool:
    try:
        return mx.cuda.is_available()
    except AttributeError:  # pragma: no cover - older MLX
        return False


def _kernel(name):
    if name not in _KERNELS:
        if name == "path":
            _KERNELS[name] = mx.fast.cuda_kernel(
                name="mlxs_glmnet_path_v3", input_names=INPUTS, output_names=OUTPUTS,
                source=(_KDIR / "path.kern").read_text(),
                header=(_KDIR / "prelude_cuda.h").read_text())
        else:
            _KERNELS[name] = mx.fast.cuda_kernel(
                name="mlxs_glmnet_colstats", input_names=["X", "c", "W", "yv"],
                output_names=["out"], source=_STATS_SRC)
    return _KERNELS[name]


def _device_x(x, mode):
    """x as float32 on the device: (n, p) row-major for covariance mode, (p, n) for naive."""
    if isinstance(x, mx.array):
        xd = x if x.dtype == mx.float32 else x.astype(mx.float32)
        return mx.contiguous(xd) if mode == 1 else mx.contiguous(xd.T)
    xt = np.asarray(x).T                      # (p, n); C-contiguous for an R (Fortran) matrix
    xt = mx.array(np.ascontiguousarray(xt, dtype=np.float32))
    return mx.contiguous(xt.T) if mode == 1 else xt


class _Columns:
    """Gram columns of the shifted design for B weightings, computed on demand."""

    def __init__(self, X, c, Wn, m1s, W):
        self.X, self.c, self.Wn, self.m1s = X, c, Wn, m1s
        B, n = W.shape
        self.B = B
        # CV folds (every row a subset of one weight vector): each fold's columns are the full
        # columns minus the held-out rows' part, so a round costs about two GEMMs, not B.
        base = W.max(axis=0)
        self.sub = None
        if B > 2 and bool(np.all((W == 0) | (W == base[None, :]))):
            sw = W.sum(axis=1)
            held = [np.flatnonzero((W[b] == 0) & (base > 0)) for b in range(B)]
            self.sub = dict(base=mx.array((base / base.sum()).astype(np.float32)),
                            scale=(base.sum() / sw).astype(np.float32),
                            held=[mx.array(h.astype(np.int32)) if h.size else None for h in held],
                            wh=[mx.array((base[h] / base.sum()).astype(np.float32)) if h.size else None
                                for h in held],
                            xh=[None] * B)

    def compute(self, S):
        X, c = self.X, self.c
        Sx = mx.array(np.asarray(S, dtype=np.int32))
        XS = mx.take(X, Sx, axis=1) - c[Sx][None, :]                     # (n, K)
        K = len(S)
        if self.sub is None:
            R = self.Wn[:, :, None] * XS[None, :, :]                       # (B, n, K)
            HT = mx.transpose(R, (0, 2, 1)).reshape(self.B * K, -1) @ X    # (B K, p)
            HT = HT.reshape(self.B, K, -1)
        else:
            sb = self.sub
            full = (sb["base"][:, None] * XS).T @ X                         # (K, p)
            parts = []
            for b in range(self.B):
                h = sb["held"][b]
                if h is None:
                    parts.append(full)
                    continue
                if sb["xh"][b] is None:
                    sb["xh"][b] = mx.take(X, h, axis=0)                     # kept for later rounds
                part = (sb["wh"][b][:, None] * mx.take(XS, h, axis=0)).T @ sb["xh"][b]
                parts.append((full - part) * float(sb["scale"][b]))
            HT = mx.stack(parts)
        # back to cross-products of the shifted design: subtract c_k * mean'_j
        return HT - self.m1s[:, Sx][:, :, None] * c[None, None, :]


def run_paths_gpu(x, y, W, O, *, pf, excluded, mode, nlam, params, intercept=True):
    """The batch on the GPU: x copied once to the device (float32) unless it is an mx.array
    already, then the path kernel launched once (covariance mode: once per round of columns).
    params: engine.kernel_params()."""
    from .engine import path_result
    if not gpu_available():
        raise ValueError("device='gpu' was requested but this MLX build has no CUDA GPU; "
                         "use device='cpu'")
    n, p = x.shape
    B = W.shape[0]
    L = int(nlam)
    f32 = mx.float32

    def arr(a, d=f32):
        return mx.array(np.ascontiguousarray(a, dtype=np.float32 if d == f32 else np.int32), dtype=d)

    ul, ip, dp, cl = params
    X = _device_x(x, mode)
    small = [arr(pf), arr(cl), arr(excluded.astype(np.int32), mx.int32), arr(ul)]
    if mode != 1:
        inputs = [X, arr(np.broadcast_to(y, (B, n))), arr(W), arr(O), mx.zeros((1,), f32),
                  mx.zeros((1,), f32), *small, arr(ip, mx.int32), arr(dp),
                  mx.zeros((1,), mx.int32)]
        outs = _launch(inputs, B, L, p, n)
        mx.eval(*outs[:6])
        return path_result([np.array(o) for o in outs[:6]], mode)

    # ---- covariance mode ----
    y = np.asarray(y, dtype=np.float64)
    sw = W.sum(axis=1)
    Wn = W / sw[:, None]
    # shift: a rough centre of every column (and of y) keeps float32 cross-products accurate;
    # without an intercept glmnet does not centre, so neither may the shift
    Yb = np.broadcast_to(y, (B, n))
    if intercept:
        c = mx.mean(X[: min(n, 1024)], axis=0)
        # one response: one shift (any common shift works, the kernel centres per problem)
        cy = np.full(B, Wn[0] @ y) if y.ndim == 1 else (Wn * Yb).sum(axis=1)
    else:
        c = mx.zeros((p,), f32)
        cy = np.zeros(B)
    ys = (y - cy[0])[None, :] if y.ndim == 1 else Yb - cy[:, None]
    Wn_d = arr(Wn)
    rows = 1024
    C = max(1, min(-(-n // rows), 65535))
    nb = int(min(B, 16))
    part = _kernel("stats")(inputs=[X, c, Wn_d, arr(ys)], template=[("NB", nb)],
                            grid=(-(-p // 128) * 128, C, 1), threadgroup=(128, 1, 1),
                            output_shapes=[(3, B, C, p)], output_dtypes=[f32])[0]
    st3 = mx.sum(part, axis=2)                                             # (3, B, p)
    m1s = st3[0]
    ysb = np.broadcast_to(ys, (B, n))
    gst = mx.concatenate([st3[0], st3[2],
                          arr(np.stack([(Wn * ysb).sum(1), (Wn * ysb * ysb).sum(1)], axis=1)),
                          st3[1]], axis=1)                                  # (B, 3p + 2)
    mx.eval(gst)
    g = np.array(gst, dtype=np.float64)
    m1, xy, m2 = g[:, :p], g[:, p:2 * p], g[:, 2 * p + 2:]
    ybar = g[:, 2 * p]
    var = np.maximum(m2 - m1 * m1, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.abs(xy - m1 * ybar[:, None]) / np.sqrt(var) / pf[None, :]
    score = np.where(np.isfinite(score) | (pf[None, :] == 0), score, -1.0)
    score[:, pf == 0] = np.inf                        # unpenalised: in the model from the start
    score[:, excluded] = -np.inf
    score = score.max(axis=0)
    order = np.argsort(-score, kind="stable")
    cols = _Columns(X, c, Wn_d, m1s, W)
    K0 = p if p <= 2 * FIRST_COLUMNS else max(FIRST_COLUMNS, int((pf == 0).sum()))
    S = [int(j) for j in order[:K0]]
    gsl = np.full(p, -1, dtype=np.int32)
    gsl[S] = np.arange(len(S), dtype=np.int32)
    gram = cols.compute(S)
    dummy = mx.zeros((1,), f32)
    rounds = 0
    while True:
        rounds += 1
        ipk = ip.copy()
        ipk[11] = len(S)
        inputs = [dummy, dummy, dummy, dummy, gram, gst, *small, arr(ipk, mx.int32), arr(dp),
                  arr(gsl, mx.int32)]
        outs = _launch(inputs, B, L, p, 1)
        mx.eval(*outs[:6])
        res = [np.array(o) for o in outs[:6]]
        stopped = np.flatnonzero(res[5][:, 2] == NEEDCOL)
        if stopped.size == 0:
            break
        wsp = np.array(outs[6]).reshape(B, 10, p)
        wip = np.array(outs[8]).reshape(B, 6, p)
        have = gsl >= 0
        strong = (wip[stopped, 1] > 0).any(axis=0) & ~have
        gmax = np.abs(wsp[stopped, 4]).max(axis=0)
        with np.errstate(divide="ignore"):
            rank = np.where(pf > 0, gmax / np.where(pf > 0, pf, 1.0), np.inf)
        rank[have | excluded | ~(wip[stopped, 0] > 0).any(axis=0)] = -np.inf
        want = max(len(S), int(strong.sum()))
        new = [j for j in np.flatnonzero(strong)]
        for j in np.argsort(-rank, kind="stable"):
            if len(new) >= want or rank[j] == -np.inf:
                break
            if not strong[j]:
                new.append(int(j))
        if not new:                                   # cannot happen: a needed column is missing
            raise RuntimeError("GPU covariance path: no column to add")
        gsl[new] = np.arange(len(S), len(S) + len(new), dtype=np.int32)
        S = S + [int(j) for j in new]
        gram = mx.concatenate([gram, cols.compute(new)], axis=1)
    out = path_result(res, mode)
    if intercept:                                     # undo the shift in the intercepts
        cn = np.array(c, dtype=np.float64)
        out.a0 = out.a0 + cy[:, None] - out.beta @ cn
    out.extra = {"gpu_rounds": rounds, "gpu_columns": len(S)}
    return out


def _launch(inputs, B, L, p, nvec):
    f32 = mx.float32
    shapes = [(B, L, p), (B, L), (B, L), (B, L), (B,), (B, 4), (B, 10 * p), (B, 4 * nvec),
              (B, 6 * p)]
    dtypes = [f32, f32, f32, f32, f32, mx.int32, f32, f32, mx.int32]
    return _kernel("path")(inputs=inputs, grid=(B * THREADS, 1, 1), threadgroup=(THREADS, 1, 1),
                           output_shapes=shapes, output_dtypes=dtypes, init_value=0)
