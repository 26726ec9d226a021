"""CUDA backend: compiles kernels/path.kern (the same source as the CPU primitive) with
mx.fast.cuda_kernel behind kernels/prelude_cuda.h. One thread block per problem, float32."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import mlx.core as mx

_KDIR = Path(__file__).with_name("kernels")
_KERNEL = None
# Threads per block (one block per problem); a multiple of 32. Measured on an H200, binomial
# 20000x500 path: 128 threads 8.9 s, 256 4.6 s, 512 2.5 s; 1024 exceeds the kernel's registers.
THREADS = int(os.environ.get("MLXS_GPU_THREADS", "512"))

INPUTS = ["x", "y", "w", "off", "gram", "gst", "pf", "cl", "jx", "ulam", "ip", "dp"]
OUTPUTS = ["beta_o", "a0_o", "lam_o", "dev_o", "nd_o", "info_o", "wsp", "wsn", "wip"]


def gpu_available() -> bool:
    try:
        return mx.cuda.is_available()
    except AttributeError:  # pragma: no cover - older MLX
        return False


def _kernel():
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = mx.fast.cuda_kernel(
            name="mlxs_glmnet_path_v2", input_names=INPUTS, output_names=OUTPUTS,
            source=(_KDIR / "path.kern").read_text(),
            header=(_KDIR / "prelude_cuda.h").read_text())
    return _KERNEL


def run_paths_gpu(x, y, W, O, *, pf, excluded, mode, nlam, params):
    """The batch on the GPU: x copied once (float32, column-major), the Gram on the device for
    covariance mode, one launch of the path kernel. params: engine.kernel_params()."""
    from .engine import path_result
    if not gpu_available():
        raise ValueError("device='gpu' was requested but this MLX build has no CUDA GPU "
                         "(the Metal backend is not wired yet); use device='cpu'")
    n, p = x.shape
    B = W.shape[0]
    L = int(nlam)
    f32 = mx.float32

    def arr(a, d=f32):
        return mx.array(np.ascontiguousarray(a, dtype=np.float32 if d == f32 else np.int32), dtype=d)

    xg = mx.array(np.ascontiguousarray(x.T, dtype=np.float32))  # the one copy of x, (p, n)
    if mode == 1:
        Wn = mx.array((W / W.sum(axis=1, keepdims=True)).astype(np.float32))
        X = xg.T
        yg = mx.array(y.astype(np.float32))
        grams = mx.stack([(X * Wn[b][:, None]).T @ X for b in range(B)])
        m1 = Wn @ X                                  # (B, p)
        xy = (Wn * yg[None, :]) @ X                  # (B, p)
        ys = mx.stack([Wn @ yg, Wn @ (yg * yg)], axis=1)
        gst = mx.concatenate([m1, xy, ys], axis=1)
        xin = mx.zeros((1,), dtype=f32)
    else:
        grams = mx.zeros((1,), dtype=f32)
        gst = mx.zeros((1,), dtype=f32)
        xin = xg
    ul, ip, dp, cl = params
    inputs = [xin, arr(np.broadcast_to(y, (B, n))), arr(W), arr(O), grams, gst, arr(pf), arr(cl),
              arr(excluded.astype(np.int32), mx.int32), arr(ul), arr(ip, mx.int32), arr(dp)]
    shapes = [(B, L, p), (B, L), (B, L), (B, L), (B,), (B, 4), (B, 10 * p), (B, 4 * n), (B, 6 * p)]
    dtypes = [f32, f32, f32, f32, f32, mx.int32, f32, f32, mx.int32]
    outs = _kernel()(inputs=inputs, grid=(B * THREADS, 1, 1), threadgroup=(THREADS, 1, 1),
                     output_shapes=shapes, output_dtypes=dtypes, init_value=0)
    mx.eval(*outs[:6])
    return path_result([np.array(o) for o in outs[:6]], mode)
