"""GPU backends: kernels/path.kern (the same source as the CPU primitive) through
mx.fast.cuda_kernel behind kernels/prelude_cuda.h, or mx.fast.metal_kernel behind
kernels/prelude_metal.h (guarded by a first-use self-check). One thread block per problem, float32.

Covariance mode (gaussian, n >= p) never forms the whole Gram. The device computes the sufficient
statistics in one read of x (a small column-statistics kernel, on data shifted by a rough column
centre so that float32 keeps the variances), then Gram *columns* only for the variables that can
move: the path kernel receives K columns and a slot map; when a coordinate without a column would
move, the problem saves its state and stops with K_NEEDCOL; the driver adds columns (the missing
ones, then the variables forecast to enter next (_entry_forecast), then the largest gradients the
kernel left behind; 32 columns first, at least 64 and a quarter more in each later round)
and the kernel resumes where it stopped. Before the first launch over all variables a screen
(_screen) solves the path restricted to the variables that have columns (on the host: the CPU
primitive, float64) and checks glmnet's KKT conditions for every other variable along it, from
the same columns: violators and the variables forecast to enter next get columns, and a
restricted path that no variable violates is the path itself, so that a fit whose columns the
ranking and the screen foresaw needs no launch at all. When the whole Gram costs about as much
as a round (2 n p^2 <= 2.5e11 flops), it is computed at once. Each round is one GEMM over x plus
one launch; x stays on the device throughout (pass an mx.array to skip the host copy). A batch of
CV folds (every problem one weighting with some rows zeroed, each row held out by at most one
problem) has its rows grouped by fold once: a round's columns are then one batched GEMM for every
problem, the cost of one problem's (see _Columns).

Binomial and poisson with n >= GLM_IRLS_MIN_N go to irls.py (IRLS in covariance form, driven from
the host, path.kern's warm-start mode for each weighted least-squares step); smaller ones, and
gaussian with p > n, run the naive kernel: one launch for the whole batch.
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
THREADS = min(512, int(os.environ.get("MLXS_GPU_THREADS", "512")))   # see _launch; the CUDA
# prelude declares 512 as the kernel's launch bound
# Gram columns computed before the first launch in covariance mode (all of them when p is small).
# Measured on the H200 at n = 1e6, p = 1e3 (path df 20), with the forecast: 32 first columns 34 ms
# (2 rounds, 64 columns), 64: 38 ms (2 rounds, 128), 128: 46 ms (2 rounds, 256); without it, 64 first
# columns took 4 rounds and 256 columns (53 ms).
FIRST_COLUMNS = int(os.environ.get("MLXS_GPU_FIRST_COLUMNS", "32"))
# Columns added by a later round at least (a path that keeps asking grows by a quarter a round)
ROUND_COLUMNS = int(os.environ.get("MLXS_GPU_ROUND_COLUMNS", "64"))
NEEDCOL = 90000          # path.kern's K_NEEDCOL
# Covariance mode's inner passes run on one warp up to this many active variables (the preludes'
# K_ICAP; 0: every pass on the whole block), and the largest p whose covariance-mode gradients
# stay in shared memory (MLXS_GPU_GSH: K_GSH; 0: in the scratch). Set only to measure; the
# preludes hold the defaults.
_ICAP = os.environ.get("MLXS_GPU_ICAP")
_GSH = os.environ.get("MLXS_GPU_GSH")
KERNEL_NAME = "mlxs_glmnet_path_v16" + (f"_icap{int(_ICAP)}" if _ICAP else "") \
    + (f"_gsh{int(_GSH)}" if _GSH else "")


def _header(prelude: str) -> str:
    text = (_KDIR / prelude).read_text()
    if _GSH:
        text = f"#define K_GSH {int(_GSH)}\n" + text
    return (f"#define K_ICAP {int(_ICAP)}\n" + text) if _ICAP else text
# Columns after a stop: forecast the variables the path will want next (_entry_forecast); 0 turns
# it off (then: the missing columns and the largest gradients)
FORECAST = os.environ.get("MLXS_GPU_FORECAST", "1") != "0"
# Before the first launch, covariance mode screens for the columns its path will want beyond the
# first ones (_screen): the path restricted to the variables that have columns, solved on the host
# by the CPU primitive, then every variable's gradient along it from those columns; variables
# whose KKT ratio reaches SCREEN_MARGIN get columns too, up to SCREEN_ROUNDS times (0: off, then
# only the stops and _entry_forecast add columns). A common factor in x hides variables from the
# marginal ranking (bench/gpu.py's data at n = 1e6: 6 of the 20 variables that enter ranked
# 994-999 of 1000), which a stop and a resumed launch found before.
SCREEN_ROUNDS = int(os.environ.get("MLXS_GPU_SCREEN_ROUNDS", "2"))
RANK_CENTRED = os.environ.get("MLXS_GPU_RANK_CENTRED", "1") != "0"
SCREEN_MARGIN = 0.9
SCREEN_COLUMNS = 16
# CV folds: after the first problem's clean screen, the variables within this fraction of its KKT
# bound get columns too (the folds' paths wander a little from the full data's)
SCREEN_NEAR = 0.75
# CV folds: every problem screened on the host (their restricted paths are the paths when none is
# violated: no launch), instead of the first problem alone and a launch over all of them
SCREEN_FOLDS = os.environ.get("MLXS_GPU_SCREEN_FOLDS", "1") != "0"
# The screen's KKT check works through its problems in chunks of at most this many ratios
SCREEN_CHUNK = 1 << 23
# Several responses under one weighting: their column statistics use a GEMM over a shifted copy
# of x when x has at most this many elements (else the statistics kernel, whose cost grows with B)
STATS_GEMM_ELEMENTS = 2.5e8
# The statistics kernel reads four columns a thread (float4) where p allows and one weighting
# is summed (its registers grow with the problems a pass: NB x V x 3)
STATS_VEC = int(os.environ.get("MLXS_GPU_STATS_VEC", "4"))
# Covariance mode computes the whole Gram up front when it costs at most this many flops.
FULL_GRAM_FLOPS = float(os.environ.get("MLXS_GPU_FULL_GRAM_FLOPS", "2.5e11"))

INPUTS = ["x", "y", "w", "off", "gram", "gst", "pf", "cl", "jx", "ulam", "ip", "dp", "gsl",
          "rsp", "rip", "rbe", "rad"]
OUTPUTS = ["beta_o", "a0_o", "lam_o", "dev_o", "nd_o", "info_o", "wsp", "wsn", "wip"]

# Column statistics of the shifted design for every problem, one read of x (row-major n x p):
# out[k, b, chunk, j] = sum over the chunk's rows of wn_b * v * {1, v, y} with v = x_ij - c_j.
# nbp = [B, R, s]: R = 0: chunks of ceil(n / C) rows; R > 0: segments of R rows, s chunks each.
# HR: row i is x's row rows[i] (n = len(rows)); HO: the rows read are also written to xo (n, p),
# so that a CV batch's fold-grouped copy of x and its statistics are one pass. V: columns a
# thread (1, or 4 read as one float4 where p is a multiple of 4: a quarter of the load
# instructions for the same bytes).
_STATS_SRC = r"""
  const int n = HR ? rows_shape[0] : X_shape[0], p = X_shape[1], B = nbp[0];
  const int BW = W_shape[0], BY = yv_shape[0];
  const int jv = blockIdx.x * blockDim.x + threadIdx.x;
  const int ch = blockIdx.y, C = gridDim.y;
  if (jv * V >= p) return;
  const int j = jv * V;
  // nbp[1] = R > 0: the rows come in segments of R (fold groups' chunks) and every segment is
  // split into nbp[2] chunks, so that no chunk straddles two segments
  const int R = nbp[1], sp = R > 0 ? nbp[2] : 1;
  const int rows_ = R > 0 ? (R + sp - 1) / sp : (n + C - 1) / C;
  const int i0 = R > 0 ? (ch / sp) * R + (ch % sp) * rows_ : ch * rows_;
  const int i1 = min(R > 0 ? (ch / sp + 1) * R : n, i0 + rows_);
  float cj[V];
  for (int u = 0; u < V; ++u) cj[u] = c[j + u];
  for (int b0 = 0; b0 < B; b0 += NB) {
    float s1[NB][V], s2[NB][V], s3[NB][V];
    for (int q = 0; q < NB; ++q)
      for (int u = 0; u < V; ++u) { s1[q][u] = 0.f; s2[q][u] = 0.f; s3[q][u] = 0.f; }
#pragma unroll 4
    for (int i = i0; i < i1; ++i) {
      const size_t r = (HR ? (size_t)rows[i] : (size_t)i) * p + j;
      float xv[V];
      if (V == 4) {
        const float4 t = *reinterpret_cast<const float4*>(X + r);
        xv[0] = t.x; xv[1] = t.y; xv[2] = t.z; xv[3] = t.w;
        if (HO && b0 == 0) *reinterpret_cast<float4*>(xo + (size_t)i * p + j) = t;
      } else {
        xv[0] = X[r];
        if (HO && b0 == 0) xo[(size_t)i * p + j] = xv[0];
      }
#pragma unroll
      for (int q = 0; q < NB; ++q) {
        if (b0 + q < B) {
          const float wq = W[(BW == 1 ? (size_t)0 : (size_t)(b0 + q) * n) + i];
          const float yq = yv[(BY == 1 ? (size_t)0 : (size_t)(b0 + q) * n) + i];
#pragma unroll
          for (int u = 0; u < V; ++u) {
            const float v = xv[u] - cj[u], t = wq * v;
            s1[q][u] += t; s2[q][u] += t * v; s3[q][u] += t * yq;
          }
        }
      }
    }
    for (int q = 0; q < NB && b0 + q < B; ++q) {
      const size_t o = ((size_t)(b0 + q) * C + ch) * p + j;
      for (int u = 0; u < V; ++u) {
        out[o + u] = s1[q][u];
        out[(size_t)B * C * p + o + u] = s2[q][u];
        out[(size_t)2 * B * C * p + o + u] = s3[q][u];
      }
    }
  }
"""

# Gathers of x on the device: out[r, k] = (X[row_r, col_k] - c[col_k]) * w[r] (HR: rows given,
# else row r; HS: columns given with their shift c, else every column unshifted; HW: w given).
# mx.take did the same in several passes (H200, n = 1e6, p = 1e3: 96 columns 3.3 ms, the fold-
# grouped copy of all rows 7.4 ms) for reads that cost ~0.6 and ~2.5 ms.
_GATHER_SRC = r"""
  const int m = nm[0], K = nm[1], p = nm[2], RB = nm[3];
  const int r0 = blockIdx.x * RB;
  const int cnt = min(RB, m - r0) * K;
  for (int t = threadIdx.x; t < cnt; t += blockDim.x) {
    const int r = r0 + t / K, k = t - (t / K) * K;
    const size_t i = HR ? (size_t)rows[r] : (size_t)r;
    const int j = HS ? cols[k] : k;
    float v = X[i * p + j];
    if (HS) v -= c[j];
    if (HW) v *= w[r];
    out[(size_t)r * K + k] = v;
  }
"""


def backend():
    """'cuda', 'metal' or None: the GPU backend of this MLX build."""
    for name in ("cuda", "metal"):
        try:
            if getattr(mx, name).is_available():
                return name
        except AttributeError:  # pragma: no cover - MLX without that backend module
            pass
    return None


def gpu_available() -> bool:
    """A GPU the engine may use: CUDA, or Metal once it has passed its self-check."""
    b = backend()
    return b == "cuda" or (b == "metal" and metal_ok())


# ---------------------------------------------------------------- Metal (Apple silicon)
_PTR = __import__("re").compile(r"(?<![\w])((?:const\s+)?)(real_t|int)\s*\*")
_METAL_STATE: dict = {}


def metal_source() -> str:
    """The Metal kernel body: the prelude's per-thread declarations, then path.kern with every
    pointer declaration given Metal's `device` address space (the one textual change)."""
    body = (_KDIR / "path.kern").read_text()
    body = _PTR.sub(lambda m: f"{m.group(1)}device {m.group(2)}*", body)
    return ("threadgroup float k_tg[33];\n"
            "const uint k_bid = threadgroup_position_in_grid.x;\n"
            "const uint k_tid = thread_position_in_threadgroup.x;\n"
            "const uint k_nt = threads_per_threadgroup.x;\n" + body)


def metal_kernel_call(name, **kw):
    """The one seam to the Metal backend: build (once) and call the named Metal kernel."""
    key = "metal:" + name
    if key not in _KERNELS:
        _KERNELS[key] = mx.fast.metal_kernel(
            name=KERNEL_NAME, input_names=INPUTS, output_names=OUTPUTS,
            source=metal_source(), header=_header("prelude_metal.h"))
    return _KERNELS[key](**kw)


def metal_ok() -> bool:
    """First use in a process: solve small problems on the CPU and through the Metal kernel;
    on a mismatch warn once and report False (the engine then uses the CPU)."""
    if "ok" not in _METAL_STATE:
        _METAL_STATE["ok"] = False          # (a failure inside the check leaves it False)
        try:
            err = _metal_selfcheck()
            _METAL_STATE["err"] = err
            _METAL_STATE["ok"] = err <= METAL_TOL
            msg = f"relative coefficient difference {err:.1e}"
        except Exception as e:  # noqa: BLE001 - any failure of the backend means: do not use it
            msg = f"{type(e).__name__}: {e}"
        if not _METAL_STATE["ok"]:
            import warnings
            warnings.warn(f"mlxs_glmnet: the Metal GPU kernel failed its self-check ({msg}); "
                          "using the CPU", RuntimeWarning, stacklevel=3)
    return _METAL_STATE["ok"]


# float32 against float64 at thresh 1e-10 differs by ~1e-5 (CUDA, bench/gpu.py); a wrong kernel
# by far more than this
METAL_TOL = 5e-3


def _metal_selfcheck() -> float:
    from . import api
    rng = np.random.default_rng(11)
    x = rng.standard_normal((120, 8))
    eta = x[:, :3] @ np.array([1.0, -0.7, 0.4])
    worst = 0.0
    for fam, y in (("gaussian", eta + rng.standard_normal(120)),
                   ("binomial", (eta + rng.logistic(size=120) > 0).astype(float))):
        tg = "naive" if fam == "gaussian" else None
        ref = api.glmnet(x, y, fam, device="cpu", type_gaussian=tg, thresh=1e-10)
        _ACTIVE["force"] = "metal"
        try:
            got = api.glmnet(x, y, fam, device="gpu", lambda_=ref.lambda_, type_gaussian=tg,
                             thresh=1e-10)
        finally:
            _ACTIVE.pop("force", None)
        if got.beta.shape != ref.beta.shape:
            return float("inf")
        scale = max(np.abs(ref.beta).max(), 1e-12)
        worst = max(worst, float(np.abs(got.beta - ref.beta).max() / scale),
                    float(np.abs(got.a0 - ref.a0).max() / max(np.abs(ref.a0).max(), 1.0)))
    return worst


def _call(name, **kw):
    if _ACTIVE.get("backend", backend()) == "metal":
        return metal_kernel_call(name, **kw)
    return _kernel(name)(**kw)


_ACTIVE: dict = {}


def _kernel(name):
    if name not in _KERNELS:
        if name == "path":
            _KERNELS[name] = mx.fast.cuda_kernel(
                name=KERNEL_NAME, input_names=INPUTS, output_names=OUTPUTS,
                source=(_KDIR / "path.kern").read_text(), header=_header("prelude_cuda.h"))
        elif name == "gather":
            _KERNELS[name] = mx.fast.cuda_kernel(
                name="mlxs_glmnet_gather", input_names=["X", "rows", "cols", "c", "w", "nm"],
                output_names=["out"], source=_GATHER_SRC)
        else:
            _KERNELS[name] = mx.fast.cuda_kernel(
                name="mlxs_glmnet_colstats4", input_names=["X", "rows", "c", "W", "yv", "nbp"],
                output_names=["out", "xo"], source=_STATS_SRC)
    return _KERNELS[name]


# x in host memory goes up through a float32 copy written on several threads straight into the
# device array's memory (MLX's documented writable numpy view of an array): measured on the
# device machine (16 cores, H100), n = 1e6, p = 1e3 float64: numpy's one-thread cast 1143 ms,
# then mx.array's copy 294 ms; the same cast on 16 threads into the array 237 ms. Below this
# many elements, one thread (a pool costs more than it saves); likewise a batch's coefficients
# coming back as float64 (download_beta).
PARALLEL_COPY_ELEMENTS = 1 << 22


def _copy_rows(dst, src):
    """np.copyto(dst, src) with a cast, in blocks of rows on every core for large arrays (numpy's
    casts release the GIL; a fresh destination's page faults spread over the threads too)."""
    from .engine import _cpu_threads
    nt = min(_cpu_threads(), 32, src.shape[0])
    if src.size < PARALLEL_COPY_ELEMENTS or nt < 2:
        np.copyto(dst, src, casting="same_kind")
        return
    from concurrent.futures import ThreadPoolExecutor
    cuts = np.linspace(0, src.shape[0], nt + 1).astype(int)
    with ThreadPoolExecutor(nt) as pool:
        list(pool.map(lambda k: np.copyto(dst[cuts[k]:cuts[k + 1]], src[cuts[k]:cuts[k + 1]],
                                          casting="same_kind"), range(nt)))


def _f32_upload(a):
    """The 2-d numpy a (any layout) as a float32 mx.array of the same shape (row-major),
    converted on every core straight into the array's own memory (_copy_rows). a is only read."""
    out = _zc_read(a)
    if out is not None:
        return out
    if a.size >= PARALLEL_COPY_ELEMENTS:
        out = mx.zeros(a.shape, dtype=mx.float32)
        mx.eval(out)
        v = np.array(out, copy=False)
        if v.flags.writeable and v.flags.c_contiguous and v.shape == a.shape:
            _copy_rows(v, a)
            return out
    return mx.array(np.ascontiguousarray(a, dtype=np.float32))      # (small, or not a view)


# Host arrays read by the GPU in place. MLX puts an array made from host data in CUDA managed
# memory, whose pages a kernel's first read migrates a few at a time (~2.7 GB/s on the device
# machines: y of a fit at n = 1e6, 4 MB, ~1.5 ms; x of 4 GB, seconds). Instead the numpy buffer
# is page-locked for the duration of one kernel (cuMemHostRegister through ctypes: CUDA's
# driver library, which MLX's CUDA backend loads) that reads it over the bus and writes the
# float32 values (minus a shift per row) into an ordinary device array. Off CUDA, when the
# driver refuses, or with MLXS_GPU_ZEROCOPY=0, the copies go through mx.array as before.
ZEROCOPY = os.environ.get("MLXS_GPU_ZEROCOPY", "1") != "0"
ZEROCOPY_MIN_BYTES = int(os.environ.get("MLXS_GPU_ZEROCOPY_MIN_BYTES", 1 << 18))  # (0: all)
# Blocks of about this many bytes (0, the default: one block), pipelined: worker threads
# page-lock the next blocks while the GPU reads the current one, and unlock the blocks read. On
# an H100 host, locking 1.6 GB took 37.6 ms, the read 36.1 ms, the unlocking 11.8 ms, one after
# the other; on an H200 (stop 21, 2e5 x 1e3 float64, medians of the whole fit) 64 MB blocks did
# not hide any of it: the upload stage took 100.7-103.1 ms in blocks and 99.2-103.0 ms in one,
# the fit 168.9-176.4 ms against 144.6-179.7 ms. So one block by default.
ZEROCOPY_BLOCK_BYTES = int(os.environ.get("MLXS_GPU_ZEROCOPY_BLOCK_BYTES", 0))
ZEROCOPY_THREADS = 4
_CU: dict = {}
_ZC_SRC = r"""
  const unsigned long long a = ((unsigned long long)(unsigned)ad[1] << 32) | (unsigned)ad[0];
  const SRC* h = reinterpret_cast<const SRC*>(a);
  const long long n = ((long long)(unsigned)nm[1] << 32) | (unsigned)nm[0];
  const long long o = ((long long)(unsigned)nm[3] << 32) | (unsigned)nm[2];
  const long long m = nm[4];
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    out[i] = (float)(h[i] - (SRC)sh[HS == 1 ? (o + i) / m : (HS == 2 ? (o + i) % m : 0)]);
"""


def _driver():
    """CUDA's driver library through ctypes with MLX's (primary) context current, or None."""
    if "lib" in _CU:
        return _CU["lib"]
    _CU["lib"] = None
    try:
        import ctypes
        lib = ctypes.CDLL("libcuda.so.1")
        ctx = ctypes.c_void_p()
        if lib.cuCtxGetCurrent(ctypes.byref(ctx)) != 0:
            return None
        if not ctx.value and (lib.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0) != 0 or
                              lib.cuCtxSetCurrent(ctx) != 0):
            return None
        lib.cuMemHostRegister_v2.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint]
        lib.cuMemHostUnregister.argtypes = [ctypes.c_void_p]
        lib.cuMemHostGetDevicePointer_v2.argtypes = [ctypes.POINTER(ctypes.c_uint64),
                                                     ctypes.c_void_p, ctypes.c_uint]
        lib.cuCtxSetCurrent.argtypes = [ctypes.c_void_p]
        _CU["ctypes"] = ctypes
        _CU["ctx"] = ctx.value           # (made current in the threads that lock blocks)
        _CU["lib"] = lib
    except (OSError, AttributeError):
        return None
    return lib


def _zc_kernel(src_dtype, shifted):
    """shifted: 0 one shift, 1 one a row, 2 one a column."""
    name = f"zc_{np.dtype(src_dtype).name}_{int(shifted)}"
    if name not in _KERNELS:
        ctype = "double" if np.dtype(src_dtype) == np.float64 else "float"
        _KERNELS[name] = mx.fast.cuda_kernel(
            name="mlxs_glmnet_" + name, input_names=["ad", "sh", "nm"], output_names=["out"],
            source=_ZC_SRC.replace("SRC", ctype).replace("HS", str(int(shifted))))
    return _KERNELS[name]


def _zc_cuts(host, nbytes, itemsize):
    """Byte offsets of the blocks of a buffer at address host: about ZEROCOPY_BLOCK_BYTES each
    (at most 64 blocks), every inner cut on a 4 KB page boundary of the address (two blocks never
    share a page, which the driver locks whole) and on an element boundary."""
    nb = 1 if ZEROCOPY_BLOCK_BYTES <= 0 else max(1, min(64, nbytes // ZEROCOPY_BLOCK_BYTES))
    cuts = [0]
    for k in range(1, nb):
        c = -(-(host + k * (nbytes // nb)) // 4096) * 4096 - host
        if c % itemsize == 0 and cuts[-1] < c < nbytes:
            cuts.append(c)
    return cuts + [nbytes]


def _zc_read(a, shift=None, by_column=False):
    """The C-contiguous 1- or 2-d numpy float64/float32 a as a float32 device array of its
    shape, minus shift (one value a row, or a column with by_column, a scalar, or none), read
    by the GPU in place (see
    ZEROCOPY); None where that path is not available (the caller uploads as before). a is
    only read; each block of it is page-locked until the kernel reading it has finished."""
    if not ZEROCOPY or _ACTIVE.get("backend", backend()) != "cuda" or \
            a.dtype not in (np.float64, np.float32) or not a.flags.c_contiguous or \
            a.nbytes < ZEROCOPY_MIN_BYTES or a.ndim not in (1, 2):
        return None
    lib = _driver()
    if lib is None:
        return None
    ct = _CU["ctypes"]
    host = a.__array_interface__["data"][0]
    cuts = _zc_cuts(host, a.nbytes, a.itemsize)
    nb = len(cuts) - 1

    def lock(k):                         # -> the driver's code (0: locked here)
        if nb > 1 and _CU.get("ctx"):    # (a worker thread: MLX's context made current)
            lib.cuCtxSetCurrent(_CU["ctx"])
        rc = -1
        for flags in _CU.get("flags", (10, 2)):        # DEVICEMAP | READ_ONLY, then DEVICEMAP
            rc = lib.cuMemHostRegister_v2(host + cuts[k], cuts[k + 1] - cuts[k], flags)
            if rc == 0:
                _CU["flags"] = (flags,)
            if rc in (0, 712):
                break
        return rc

    def unlock(k):
        if nb > 1 and _CU.get("ctx"):
            lib.cuCtxSetCurrent(_CU["ctx"])
        lib.cuMemHostUnregister(host + cuts[k])

    shape2 = a.shape if a.ndim == 2 else (1, a.shape[0])
    # (the shifts go up as float32: the driver makes y's float32 values, so that this read and
    # the host's float64 difference subtract the same numbers)
    sv = np.zeros(1, np.float32) if shift is None else \
        np.asarray(shift, dtype=np.float32).reshape(-1)
    mode = 2 if by_column and sv.size == shape2[1] and shape2[1] > 1 else \
        int(not by_column and sv.size == shape2[0] and shape2[0] > 1)
    sh = mx.array(sv if mode else sv[:1])
    pool = None
    if nb > 1:
        from concurrent.futures import ThreadPoolExecutor
        pool = ThreadPoolExecutor(min(ZEROCOPY_THREADS, nb))
        locks = [pool.submit(lock, k) for k in range(nb)]
    else:
        rc0 = lock(0)
    locked = set()                       # blocks this call locked and has not unlocked
    unlocks = []
    outs = []
    fail = None                          # the driver's refusal, or "kernel"
    try:
        for k in range(nb):
            rc = locks[k].result() if pool else rc0
            if rc == 0:
                locked.add(k)
            if rc not in (0, 712):       # (712: already locked, by its owner: used as it is)
                fail = rc
                break
            dev = ct.c_uint64()
            if lib.cuMemHostGetDevicePointer_v2(ct.byref(dev), host + cuts[k], 0) != 0:
                fail = -1
                break
            e0, cnt = cuts[k] // a.itemsize, (cuts[k + 1] - cuts[k]) // a.itemsize
            ad = mx.array(np.array([dev.value & 0xFFFFFFFF, dev.value >> 32],
                                   dtype=np.uint64).astype(np.uint32).view(np.int32))
            nm = np.array([cnt & 0xFFFFFFFF, cnt >> 32, e0 & 0xFFFFFFFF, e0 >> 32, 0],
                          dtype=np.uint64).astype(np.uint32).view(np.int32)
            nm[4] = shape2[1]
            blocks = max(1, min(-(-cnt // 256), 4096))
            try:
                out = _zc_kernel(a.dtype, mode)(
                    inputs=[ad, sh, mx.array(nm)], grid=(blocks * 256, 1, 1),
                    threadgroup=(256, 1, 1), output_shapes=[(cnt,)],
                    output_dtypes=[mx.float32])[0]
                mx.eval(out)
                mx.synchronize()     # (the pages stay locked until the read has finished)
            except Exception:        # (a GPU or driver this was never tried on: the upload)
                try:
                    mx.synchronize()
                except Exception:    # pragma: no cover - the failure already reported
                    pass
                fail = "kernel"
                break
            outs.append(out)
            if k in locked:
                locked.discard(k)
                if pool:
                    unlocks.append(pool.submit(unlock, k))
                else:
                    unlock(k)
    finally:
        if pool:                         # every lock has returned before anything is unlocked
            for k in range(nb):
                try:
                    if locks[k].result() == 0 and k >= len(outs):
                        locked.add(k)
                except Exception:        # pragma: no cover - ctypes raised: nothing locked
                    pass
        for k in sorted(locked):
            unlock(k)
        for u in unlocks:
            u.result()
        if pool:
            pool.shutdown()
    if fail is not None:
        if fail == "kernel" or fail in (800, 801):
            _CU["lib"] = None            # (not permitted / not supported / no kernel: off)
        return None                      # (else this array only, e.g. memory CUDA manages)
    out = outs[0] if nb == 1 else mx.concatenate(outs)
    return out.reshape(a.shape)


def _device_x(x, mode):
    """x as float32 on the device: (n, p) row-major for covariance mode, (p, n) for naive."""
    if isinstance(x, mx.array):
        xd = x if x.dtype == mx.float32 else x.astype(mx.float32)
        return xd if mode == 1 else mx.contiguous(xd.T)   # (the kernels make x row-contiguous)
    a = np.asarray(x)
    # the host copy (float32) keeps x's own layout, and the device transposes where the mode wants
    # the other one: a strided host transpose cost 6.6 ns an element (2e5 x 1e3 C-ordered
    # float64: 1.32 s), the straight conversion 1 ns (0.20 s), a device transpose far less
    if a.flags.f_contiguous and not a.flags.c_contiguous:
        xt = _f32_upload(a.T)                                        # (p, n): an R matrix
        return mx.contiguous(xt.T) if mode == 1 else xt
    xd = _f32_upload(a)                                              # (n, p): numpy's default
    return xd if mode == 1 else mx.contiguous(xd.T)


def _tn(A, X, out=None):
    """A' X for A (n, k), X (n, p) with long n: split over row blocks (a batched GEMM, then a
    sum), so that a thin result still spreads over the whole GPU. out: the type of the products
    before they are summed (float32 for bfloat16 operands)."""
    n = X.shape[0]
    nc = max(1, min(64, n // 8192))
    cast = (lambda t: t) if out is None else (lambda t: t.astype(out))  # noqa: E731
    if nc == 1:
        return cast(A.T @ X)
    r = n // nc
    m = nc * r
    parts = cast(mx.matmul(mx.transpose(A[:m].reshape(nc, r, -1), (0, 2, 1)),
                           X[:m].reshape(nc, r, -1)))
    total = mx.sum(parts, axis=0)
    return total if m == n else total + cast(A[m:].T @ X[m:])


def gather(X, rows=None, cols=None, c=None, w=None):
    """(m, K) float32: X[rows][:, cols] - c[cols], times w[r] by row r (rows: every row when
    None, m of them; cols: every column, unshifted, when None; w: none when None); all device
    arrays (rows, cols int32). On CUDA one kernel (one read of what it gathers); elsewhere MLX
    ops."""
    if _ACTIVE.get("backend", backend()) == "cuda" and X.dtype == mx.float32:
        n, p = X.shape
        m = n if rows is None else rows.shape[0]
        K = p if cols is None else cols.shape[0]
        RB = max(1, 4096 // K)
        d = mx.zeros((1,), mx.float32)
        di = mx.zeros((1,), mx.int32)
        return _kernel("gather")(
            inputs=[X, di if rows is None else rows, di if cols is None else cols,
                    d if c is None else c, d if w is None else w,
                    mx.array(np.array([m, K, p, RB], dtype=np.int32))],
            template=[("HR", int(rows is not None)), ("HS", int(cols is not None)),
                      ("HW", int(w is not None))],
            grid=(-(-m // RB) * 256, 1, 1), threadgroup=(256, 1, 1),
            output_shapes=[(m, K)], output_dtypes=[mx.float32])[0]
    out = X if rows is None else mx.take(X, rows, axis=0)
    if cols is not None:
        out = mx.take(out, cols, axis=1) - mx.take(c, cols)[None, :]
    return out if w is None else out * w[:, None]


def centre_shift(X, w0=None, rows=1024):
    """The float32 statistics' shift c of every column (x - c is what they sum): among the first
    `rows` rows (those of positive weight w0, when w0 is given and some are), the value nearest
    their mean. A rough centre keeps the float32 cross-products accurate; an actual value of the
    column makes a column constant over a problem's rows (of positive weight) exactly 0 there
    after the shift, so that its statistics say constant exactly and it stays out of the model,
    as glmnet leaves it out. (The mean itself, one rounding off the constant, left such columns
    a float32 variance of +-1e-7 of their second moment, and of up to 1e-5 in CV folds, whose
    statistics are differences: the fuzz found a gaussian covariance path, n = 12, p = 59, whose
    constant columns then entered with a standard deviation of ~1e-4 and drove the path to 1e36.)
    Without a positive-weight row among the first, any of them."""
    m = min(X.shape[0], rows)
    X0 = X[:m]
    if w0 is not None:
        pos = np.asarray(w0[:m]) > 0
        if pos.any() and not pos.all():
            X0 = mx.take(X0, mx.array(np.flatnonzero(pos).astype(np.int32)), axis=0)
    mu = mx.mean(X0, axis=0)
    r = mx.argmin(mx.abs(X0 - mu[None, :]), axis=0)
    return mx.take_along_axis(X0, r[None, :], axis=0)[0]


def _centred_f32_cols(y, cy):
    """(y - cy[None, :]) for y (n, B) float64 (several responses as the caller's array), in
    float64 and stored as float32, ~2 MB of rows at a time."""
    out = np.empty(y.shape, np.float32)
    R = max(1, (1 << 18) // max(y.shape[1], 1))
    for r in range(0, y.shape[0], R):
        np.subtract(y[r:r + R], cy[None, :], out=out[r:r + R], casting="same_kind")
    return out


def _centred_f32(y, cy):
    """(y - cy[:, None]) for y (B, n) float64, computed in float64 and stored as float32. A block
    of ~2 MB of rows at a time: one broadcast subtract with the cast took 2.3 ms at 100 x 2e4 on
    a 2-core VM, the blocks 0.85 ms; rows of 1.3e5 and more one by one (the cast subtract of a
    single row needs no temporary and is fast)."""
    B, n = y.shape
    out = np.empty((B, n), np.float32)
    R = (1 << 18) // max(n, 1)
    for r in range(0, B, max(R, 1)):
        if R >= 2:
            out[r:r + R] = y[r:r + R] - cy[r:r + R, None]
        else:
            np.subtract(y[r], cy[r], out=out[r], casting="same_kind")
    return out


def _centre(y, w=None):
    """A centre of y along its last axis for float32 differences y - centre to keep their
    precision: the median of ~1024 sampled values (engine.sample_rows; those of positive weight
    w when w is given), which lies within a standard deviation of the mean and ignores outliers
    (a huge y at weight 0, say). No pass over n: the exact (weighted) mean cost one, ~0.3-1 ms
    at n = 1e6 on the device's host; the statistics take the exact moments of y - centre."""
    from .engine import sample_rows
    n = y.shape[-1]
    pick = sample_rows(n)
    if w is not None:
        w = np.asarray(w)
        pos = pick[w[pick] > 0]
        pick = pos if pos.size else np.flatnonzero(w > 0)[:1024]
        if not pick.size:
            pick = sample_rows(n)
    # (np.median's value by a sort: for 100 responses np.median took 1.8 ms, the sort 0.3 ms)
    v = np.sort(y[..., pick], axis=-1)
    k = v.shape[-1] // 2
    return v[..., k] if v.shape[-1] % 2 else 0.5 * (v[..., k - 1] + v[..., k])


def _stats_vec(p, B):
    """The statistics kernel's columns a thread (V): 4 (one float4 load) where p is a multiple of
    4 and one problem is summed, else 1."""
    return 4 if STATS_VEC == 4 and p % 4 == 0 and B == 1 else 1


def column_stats(X, c, Wn_d, ys_d, B):
    """(3, B, p): sum_i wn_bi v_ij {1, v_ij, y_bi} with v = x - c, for the B weightings of Wn_d
    ((B or 1, n), rows summing to 1) and responses ys_d ((B or 1, n)); one read of x (n, p)."""
    n, p = X.shape
    if _ACTIVE.get("backend", backend()) == "cuda" and X.dtype == mx.float32:
        if B > 1 and Wn_d.shape[0] == 1 and ys_d.shape[0] == B and n * p <= STATS_GEMM_ELEMENTS:
            # several responses under one weighting: the kernel's cost grows with B (100
            # responses at n = 2e4, p = 2e3: 9.3 ms on an H200); their cross-products with x are
            # one GEMM over the shifted x instead, the sums of 1 and v one kernel pass
            st1 = column_stats(X, c, Wn_d, ys_d[:1], 1)
            xy = _tn(mx.transpose(Wn_d * ys_d), X - c[None, :])                 # (B, p)
            return mx.stack([mx.broadcast_to(st1[0], (B, p)), mx.broadcast_to(st1[1], (B, p)),
                             xy])
        C = max(1, min(-(-n // 256), max(1, 8192 // B), 65535))
        V = _stats_vec(p, B)
        part = _kernel("stats")(inputs=[X, mx.zeros((1,), mx.int32), c, Wn_d, ys_d,
                                        mx.array(np.array([B, 0, 1], dtype=np.int32))],
                                template=[("NB", int(min(B, 16))), ("HR", 0), ("HO", 0), ("V", V)],
                                grid=(-(-(p // V) // 128) * 128, C, 1), threadgroup=(128, 1, 1),
                                output_shapes=[(3, B, C, p), (1,)],
                                output_dtypes=[mx.float32, mx.float32])[0]
        return mx.sum(part, axis=2)
    # Metal, or the float64 CPU check of the GLM driver: MLX ops (a temporary of x)
    xs_ = X - c[None, :]
    return mx.stack([mx.broadcast_to(Wn_d @ xs_, (B, p)),
                     mx.broadcast_to(Wn_d @ (xs_ * xs_), (B, p)),
                     mx.broadcast_to((Wn_d * ys_d) @ xs_, (B, p))])


def weighted_moments(X, Wd):
    """(Wd @ X, Wd @ X^2) for weightings Wd (B, n) of the columns of X (n, m), in one read of X
    (on CUDA the statistics kernel, with no temporary of X's size; elsewhere MLX products)."""
    if _ACTIVE.get("backend", backend()) == "cuda" and X.dtype == mx.float32:
        st = column_stats(X, mx.zeros((X.shape[1],), mx.float32), Wd,
                          mx.zeros((1, X.shape[0]), mx.float32), Wd.shape[0])
        return st[0], st[1]
    return Wd @ X, Wd @ (X * X)


def fold_structure(W):
    """CV folds in a batch of weightings W (B, n): every problem's weights are one weighting
    `base` with some rows zeroed, and every row is zeroed (held out) by at most one problem.
    Returns (base, held) with held[i] the problem holding row i out (-1: none), or None.
    (A few passes over W: at n = 1e6 and 11 problems each costs milliseconds on the host; an
    engine.FoldBatch, cv_glmnet's batch, knows its folds and answers in O(n).)"""
    from .engine import FoldBatch
    if isinstance(W, FoldBatch):
        return W.base, W.held()
    B = W.shape[0]
    if B < 3:
        return None
    base = W.max(axis=0)
    Z = W == 0
    Z[:, base == 0] = False                       # rows no problem uses: held by none
    if not bool(((W == base[None, :]) | Z).all()):
        return None                               # a problem reweights rows: not folds
    nz = np.count_nonzero(Z, axis=0)
    if bool((nz > 1).any()):
        return None
    held = np.full(W.shape[1], -1, dtype=np.int64)
    for b in range(B):
        held[Z[b]] = b
    return base, held


def fold_groups(folds, B, held_d=None, counts=None):
    """The rows grouped by the problem that holds them out (fold_structure), for one batched
    GEMM over the groups: idx (G m,) row indices (a device array), group after group, each group
    padded to m rows (a multiple of the nc row chunks a group is split into, so that a thin
    product spreads over the whole GPU) with valid (G, m) = 0 on the padding (device); own[b] is
    the group problem b holds out (-1: none). Rows of weight 0 everywhere are left out.
    The grouping is a sort of the rows' group keys on the device (bytes up, when B allows): on
    the host, the sort and the padded index took 18-28 ms at n = 1e6 (H200 host, this VM).
    held_d: held already on the device (any integer type), when every base weight is positive;
    counts: the rows of each key -2 .. B - 1, when the caller knows them (a FoldBatch of one
    constant weight: its fold sizes), else counted on the device (one round trip)."""
    base, held = folds
    every = bool(base.min() > 0)
    if held_d is None or not every:
        hk = held if every else np.where(base > 0, held, -2)     # -2: weight 0 everywhere
        held_d = mx.array(np.asarray(hk).astype(_key_type(B)))
    kd = held_d.astype(mx.int32)
    # the groups' sizes: one comparison per row and key on the device, not a host pass
    if counts is None:
        counts = np.array(mx.sum(kd[None, :] == mx.arange(-2, B, dtype=mx.int32)[:, None], axis=1))
    keys = [k - 2 for k in range(1, B + 2) if counts[k] > 0]     # -1 (held by none), problems
    order = mx.argsort(kd)                                       # the rows, by group key
    starts = np.concatenate([[0], np.cumsum(counts)])[[k + 2 for k in keys]]
    cnt = counts[[k + 2 for k in keys]]
    big = int(cnt.max())
    nc = max(1, min(64, big // 8192))
    m = -(-big // nc) * nc
    at = mx.arange(m, dtype=mx.int32)[None, :]
    last = mx.array((cnt - 1).astype(np.int32))[:, None]
    # padding: the group's last row again, weight 0
    idx = mx.take(order, mx.array(starts.astype(np.int32))[:, None] + mx.minimum(at, last))
    valid = (at <= last).astype(mx.float32)
    gof = {int(k): g for g, k in enumerate(keys)}
    return dict(idx=idx.reshape(-1).astype(mx.int32), shape=(len(keys), nc, m // nc), valid=valid,
                own=[gof.get(b, -1) for b in range(B)], every=every)


def fold_weights(held_d, base, sums, const, arr):
    """CV folds' normalised weights (B, n) made on the device: problem b's row is base / sums[b]
    with the rows it holds out (held_d == b, the fold numbers on the device) zeroed. const: the
    base weight is that one value (nothing of size n goes up); arr: numpy -> the backend's device
    array (its float type)."""
    B = len(sums)
    keep = held_d[None, :] != mx.arange(B, dtype=held_d.dtype)[:, None]
    if const is not None:
        return keep * arr(const / np.asarray(sums))[:, None]
    return keep * (arr(base)[None, :] / arr(np.asarray(sums))[:, None])


def _key_type(B):
    """The narrowest integer type for row keys -2 .. B - 1 (uploads cost ~0.6 ms a MB)."""
    return np.int8 if B < 127 else (np.int16 if B < 32000 else np.int32)


def fold_products(A, Bm, shape):
    """Per-group products A_g' B_g over fold-grouped rows (fold_groups: A (G nc r, K) and
    Bm (G nc r, m), or the same reshaped to (G nc, r, .)): one batched GEMM. Returns the parts
    (G, K, m) and their sum, the whole data's product; problem b's is that sum minus
    parts[own[b]] (fold_part)."""
    G, nc, r = shape
    parts = mx.matmul(mx.transpose(A.reshape(G * nc, r, -1), (0, 2, 1)),
                      Bm.reshape(G * nc, r, -1))
    if parts.dtype == mx.bfloat16:                 # (irls.GRAM_BF16) summed in float32
        parts = parts.astype(mx.float32)
    parts = mx.sum(parts.reshape(G, nc, parts.shape[1], parts.shape[2]), axis=1)
    return parts, mx.sum(parts, axis=0)


def fold_part(full, parts, g):
    """The product over every row but group g's (g < 0: every row)."""
    return full if g < 0 else full - parts[g]


def group_stats(X, rows, c, wg, ysg, shape):
    """Column statistics (3, G, p) of fold-grouped rows (fold_groups: rows, (G nc r,) indices of
    x's rows; weights wg and responses ysg (G nc r,) in that order): each group's sums of
    wg v {1, v, y} with v = x - c, one weighting a row (the folds' own sums follow by
    subtraction, fold_part). Returns them and xg = x[rows], the grouped copy every round's Gram
    columns read: on CUDA both come from one pass over x (the copy written as the statistics
    read it; a separate copy and statistics pass read x twice)."""
    G, nc, r = shape
    M, p = rows.shape[0], X.shape[1]
    # (the kernel's chunks are its grid's y: at most 65535, so not for tens of thousands of folds)
    if _ACTIVE.get("backend", backend()) == "cuda" and X.dtype == mx.float32 \
            and G * nc <= 65535:
        s = max(1, min(r // 256, 4096 // (G * nc)))
        C = G * nc * s
        V = _stats_vec(p, 1)
        part, xg = _kernel("stats")(inputs=[X, rows, c, wg.reshape(1, M), ysg.reshape(1, M),
                                            mx.array(np.array([1, r, s], dtype=np.int32))],
                                    template=[("NB", 1), ("HR", 1), ("HO", 1), ("V", V)],
                                    grid=(-(-(p // V) // 128) * 128, C, 1),
                                    threadgroup=(128, 1, 1),
                                    output_shapes=[(3, 1, C, p), (M, p)],
                                    output_dtypes=[mx.float32, mx.float32])
        return mx.sum(part.reshape(3, G, nc * s, p), axis=2), xg
    xg = gather(X, rows=rows)
    xs_ = (xg - c[None, :]).reshape(G, nc * r, p)
    w3 = wg.reshape(G, 1, nc * r)
    return mx.stack([mx.matmul(w3, xs_)[:, 0], mx.matmul(w3, xs_ * xs_)[:, 0],
                     mx.matmul(w3 * ysg.reshape(G, 1, nc * r), xs_)[:, 0]]), xg


class _Columns:
    """Gram columns of the shifted design for B weightings, computed on demand (one set for all
    problems when they share their weights, e.g. several responses).

    CV folds (fold_structure): the rows are grouped by the problem that holds them out, once (a
    copy of x, fold after fold, written by the pass that reads x for the column statistics, with
    one weighting a row: fold_stats), and each round of columns is one batched GEMM over the
    groups, which costs one
    full Gram's flops for all problems together: the whole data's columns are the sum of the
    groups' parts, and each fold's are that sum minus its own group's part."""

    def __init__(self, X, c, Wn, rs, shared, folds=None, held_d=None, const_base=False,
                 counts=None):
        """Wn: the normalised weightings (B or 1, n) on the device (None for CV folds); rs: the
        B weightings' sums; shared: every problem has the same weights; held_d: the folds' row
        -> problem map on the device (fold_groups); const_base: the folds' base weight is one
        constant; counts: fold_groups'. The column means m1s (B, p) are set once the
        statistics are known."""
        self.X, self.c, self.Wn = X, c, Wn
        self.m1s = None
        B = len(rs)
        self.shared = shared
        if self.shared:
            self.Wn = Wn[:1]                             # Wn: already one row
            B = 1
        self.B = B
        self.grp = None
        if not self.shared and folds is not None:
            base = folds[0]
            fg = fold_groups(folds, B, held_d, counts)
            sb = float(base.sum())
            if const_base:                               # cv_glmnet without weights: no upload
                wg = fg["valid"] * float(base[0] / sb)
            else:
                wg = fg["valid"] * (mx.take(mx.array((base / sb).astype(np.float32)), fg["idx"])
                                    .reshape(fg["valid"].shape))
            # x's rows grouped (xg: every round's operand) are copied with the statistics
            # (fold_stats) or, where those come from the (B, n) weights, on first use (compute)
            self.grp = dict(idx=fg["idx"], shape=fg["shape"], w=wg.reshape(-1), xg=None,
                            own=fg["own"], scale=(sb / rs).astype(np.float32),
                            every=fg["every"])

    def fold_stats(self, ys):
        """CV folds: (3, B, p) column statistics and (B, 2) moments of ys (the shifted response,
        (n,) on the device) under every problem's normalised weights, from the groups' sums."""
        gr = self.grp
        G = gr["shape"][0]
        ysg = mx.take(ys, gr["idx"])
        parts, gr["xg"] = group_stats(self.X, gr["idx"], self.c, gr["w"], ysg, gr["shape"])
        wy = (gr["w"] * ysg).reshape(G, -1)
        ym = mx.stack([mx.sum(wy, axis=1), mx.sum(wy * ysg.reshape(G, -1), axis=1)], axis=1)
        parts = mx.concatenate([mx.transpose(parts, (1, 0, 2)),
                                mx.broadcast_to(ym[:, :, None], (G, 2, parts.shape[2]))], axis=1)
        full = mx.sum(parts, axis=0)                                               # (5, p)
        sc = mx.array(gr["scale"])[None, :, None]
        st = mx.stack([fold_part(full, parts, g) for g in gr["own"]], axis=1) * sc  # (5, B, p)
        return st[:3], mx.transpose(st[3:, :, 0])

    def compute(self, S):
        X, c = self.X, self.c
        Sx = mx.array(np.asarray(S, dtype=np.int32))
        if self.grp is None:
            if self.B == 1:
                R = gather(X, cols=Sx, c=c, w=self.Wn[0])                     # (n, K)
            else:
                XS = gather(X, cols=Sx, c=c)                                   # (n, K)
                R = self.Wn[:, :, None] * XS[None, :, :]                       # (B, n, K)
                R = mx.transpose(R, (1, 0, 2)).reshape(XS.shape[0], -1)
            HT = _tn(R, X).reshape(self.B, len(S), -1)                         # (B, K, p)
        else:
            gr = self.grp
            if gr["xg"] is None:
                gr["xg"] = gather(X, rows=gr["idx"])
            xg = gr["xg"]
            A = gather(xg, cols=Sx, c=c, w=gr["w"])                            # (G nc r, K)
            parts, full = fold_products(A, xg, gr["shape"])                   # (G, K, p), (K, p)
            HT = mx.stack([fold_part(full, parts, g) * float(gr["scale"][b])
                           for b, g in enumerate(gr["own"])])
        # back to cross-products of the shifted design: subtract c_k * mean'_j
        return HT - self.m1s[:, Sx][:, :, None] * c[None, None, :]


# Binomial/poisson on a GPU: below this n the naive kernel (one block per problem) is faster than
# the host-driven IRLS driver, whose fixed cost is a few launches per IRLS step. Measured on an
# H200 (bench/RESULTS.md): n = 1e4, p = 100: naive 0.29 s, IRLS 0.67 s; n = 1e5, p = 1e3: naive
# 27 s, IRLS 1.3 s.
GLM_IRLS_MIN_N = 30000
# A problem the IRLS driver cannot complete even with exact steps (maxit; float32 on separable
# fits with unpenalised variables and p > n, found by fuzzing the driver on the CPU seam: paths
# stopped at lambda 0, 1 and 6 where glmnet's run to 37, 31 and 17) is solved by the path kernel
# instead, glmnet's own algorithm in one block (slower at large n, where the driver runs); the
# fuzzed paths then are glmnet's. MLXS_GPU_KERNEL_FALLBACK=0: the driver's early stop stands.
KERNEL_FALLBACK = os.environ.get("MLXS_GPU_KERNEL_FALLBACK", "1") != "0"


def _glm_driver(n):
    """'irls' or 'naive' (MLXS_GPU_GLM=irls|naive overrides the choice by n)."""
    forced = os.environ.get("MLXS_GPU_GLM", "auto")
    if forced in ("irls", "naive"):
        return forced
    return "irls" if n >= GLM_IRLS_MIN_N else "naive"


def run_paths_gpu(x, y, W, O, *, pf, excluded, mode, nlam, params, intercept=True, progress=None,
                  unit_weights=False, driver=True):
    """The batch on the GPU: x copied once to the device (float32) unless it is an mx.array
    already, then the path kernel launched once (covariance mode: once per round of columns).
    params: engine.kernel_params(); unit_weights: W is known to be all ones; driver: binomial
    and poisson may go to the IRLS driver (_glm_driver)."""
    from .engine import FoldBatch, path_result
    backend_name = _ACTIVE.get("force")        # the Metal self-check runs through here
    if backend_name is None:
        if not gpu_available():
            raise ValueError("device='gpu' was requested but this MLX build has no usable GPU "
                             "(CUDA, or Metal that passed its self-check); use device='cpu'")
        backend_name = backend()
    _ACTIVE["backend"] = backend_name
    n, p = x.shape
    B = W.shape[0]
    L = int(nlam)
    f32 = mx.float32

    def arr(a, d=f32):
        return mx.array(np.ascontiguousarray(a, dtype=np.float32 if d == f32 else np.int32), dtype=d)

    ul, ip, dp, cl = params
    if ip[3] != 0 and driver and _glm_driver(n) == "irls":
        # binomial, poisson: IRLS in covariance form, driven from the host
        from .irls import run_glm
        res = run_glm(x, y, W, O, fam=int(ip[3]), pf=pf, excluded=excluded, nlam=L,
                      params=params, backend="gpu", progress=progress,
                      unit_weights=unit_weights)
        hit = np.flatnonzero((res.jerr < 0) & (res.jerr > -10000))
        if KERNEL_FALLBACK and hit.size:
            res = _kernel_fallback(res, hit, x, y, W, O, pf=pf, excluded=excluded, nlam=L,
                                   params=params, intercept=intercept)
        return res
    prof = _Profile()
    X = _device_x(x, mode)
    small = [arr(pf), arr(cl), arr(excluded.astype(np.int32), mx.int32), arr(ul)]
    if mode != 1:
        if isinstance(x, mx.array) and not mx.all(mx.isfinite(X)).item():
            raise ValueError("x contains NaN or infinite values")
        inputs = [X, arr(np.broadcast_to(y, (B, n))), arr(W),
                  mx.zeros((B, n), f32) if O is None else arr(O), mx.zeros((1,), f32),
                  mx.zeros((1,), f32), *small, arr(ip, mx.int32), arr(dp),
                  mx.zeros((1,), mx.int32), mx.zeros((1,), f32), mx.zeros((1,), mx.int32),
                  mx.zeros((1,), f32), mx.zeros((1,), f32)]
        prof.mark("upload", inputs)
        outs = _launch(inputs, B, L, p, n)
        prof.mark("path kernel")
        out = path_result([download_beta(outs[0])] + [np.array(o) for o in outs[1:6]], mode)
        out.extra = prof.report()
        return out

    # ---- covariance mode ----
    # O(n) work stays on the device: at n = 1e6 every host pass over a vector costs ~1 ms.
    y = np.asarray(y, dtype=np.float64)
    # (row sums first: a batch of CV folds differs there, without a pass over all of W; a
    # FoldBatch, cv_glmnet's, is folds by construction)
    fb = isinstance(W, FoldBatch)
    rs = W.sums if fb else (np.full(B, float(n)) if unit_weights else W.sum(axis=1))
    shared_w = not fb and (unit_weights or B == 1 or
                           (bool(np.all(rs == rs[0])) and bool(np.all(W == W[:1]))))
    unit_w = unit_weights or (shared_w and bool(np.all(W[0] == W[0, 0])))
    folds = None if shared_w else fold_structure(W)
    held_d = None
    const_base = False                   # CV folds whose base weight is one constant
    Wn_d = None                          # (CV folds: no (B, n) weights unless needed below)
    if folds is not None:
        const_base = (W.const is not None) if fb else bool(np.all(folds[0] == folds[0][0]))
        # (uploads cost ~0.6 ms a MB here: the fold numbers go up as bytes when B allows, a
        # constant base weight not at all)
        held_d = mx.array(folds[1].astype(_key_type(B)))
    if unit_w:
        Wn_d = mx.full((1, n), 1.0 / n, dtype=f32)
    elif shared_w:
        Wn_d = arr(W[:1] / W[0].sum())
    elif folds is None:
        Wn_d = arr(W / W.sum(axis=1, keepdims=True))
    # shift: a rough centre of every column (and of y) keeps float32 cross-products accurate;
    # without an intercept glmnet does not centre, so neither may the shift
    # (one response shared by the problems is one row; the shifts are float32 values, so that
    # the GPU's in-place read and the host's float64 difference subtract the same numbers)
    w0 = None if unit_w else (W.base if fb else W[0])
    y2 = y if y.ndim == 2 else y[None, :]
    cy2 = _centre(y2, w0).astype(np.float32).astype(np.float64) if intercept \
        else np.zeros(y2.shape[0])
    if y2.shape[0] > 1 and not y2.flags.c_contiguous and y2.T.flags.c_contiguous:
        # several responses as the caller's (n, B) array (glmnet_batch passes its transposed
        # view): read as they are, one shift a column, and transposed on the device
        ys_d = _zc_read(y2.T, cy2, by_column=True)
        ys_d = mx.array(_centred_f32_cols(y2.T, cy2)) if ys_d is None else ys_d
        ys_d = mx.contiguous(ys_d.T)
    else:
        ys_d = _zc_read(y2, cy2)
        ys_d = mx.array(_centred_f32(y2, cy2)) if ys_d is None else ys_d
    cy = cy2 if y.ndim == 2 else np.full(B, cy2[0])
    c = centre_shift(X, w0) if intercept else mx.zeros((p,), f32)
    prof.mark("upload", [a for a in (X, c, Wn_d, ys_d, held_d) if a is not None])
    cols = _Columns(X, c, None if Wn_d is None else
                    (Wn_d if Wn_d.shape[0] == B or shared_w else mx.broadcast_to(Wn_d, (B, n))),
                    rs, shared_w, folds, held_d, const_base,
                    W.key_counts() if fb and const_base else None)
    if cols.grp is not None:
        prof.mark("fold grouping", [cols.grp["idx"], cols.grp["w"]])
    if cols.grp is not None and cols.grp["every"] and ys_d.shape[0] == 1:
        # CV folds: the statistics of the grouped rows, one weighting a row
        st3, ymom = cols.fold_stats(ys_d[0])
    else:
        if Wn_d is None:                 # CV folds (rows of weight 0, or several responses)
            Wn_d = fold_weights(held_d, folds[0], rs, float(folds[0][0]) if const_base else None,
                                arr)
        st3 = column_stats(X, c, Wn_d, ys_d, B)
        wy = Wn_d * ys_d                                                    # (B or 1, n)
        ymom = mx.stack([mx.sum(wy, axis=1), mx.sum(wy * ys_d, axis=1)], axis=1)
    cols.m1s = st3[0][:1] if cols.shared else st3[0]
    gst = mx.concatenate([st3[0], st3[2], mx.broadcast_to(ymom, (B, 2)), st3[1]], axis=1)
    mx.eval(gst)                                                            # (B, 3p + 2)
    prof.mark("statistics")
    g = np.array(gst, dtype=np.float64)
    if not np.isfinite(g).all():          # the one read of x doubles as its finiteness check
        raise ValueError("x contains NaN or infinite values (or values too large for float32)")
    # every column at once when that costs about one round's launch and read of x anyway (the
    # H200 does 2 n p^2 = 2e11 flops in ~4 ms), else the likeliest ones and more on demand
    # (CV folds' columns are one product over the grouped rows for all problems: one Gram's flops)
    whole = p <= 2 * ROUND_COLUMNS or \
        2.0 * n * p * p * (1 if cols.grp is not None else cols.B) <= FULL_GRAM_FLOPS
    if whole:                 # (no ranking: 100 responses at p = 2e3 spent 4-5 ms on it)
        S = list(range(p))
    else:
        # the variables by their largest marginal KKT score over the problems (one weighting:
        # the columns' spreads are every problem's)
        m1, xy, m2 = g[:, :p], g[:, p:2 * p], g[:, 2 * p + 2:]
        sh = slice(0, 1) if cols.shared else slice(None)
        sd = np.sqrt(np.maximum(m2[sh] - m1[sh] * m1[sh], 0.0)) * pf[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            score = (xy - m1 * g[:, 2 * p:2 * p + 1]) / sd
        if RANK_CENTRED:
            ok = np.isfinite(score) & ~excluded[None, :] & (pf > 0)[None, :]
            med = np.array([np.median(r[k]) if k.any() else 0.0 for r, k in zip(score, ok)])
            score = score - med[:, None]
        score = np.abs(score)
        score = np.where(np.isfinite(score), score, -1.0).max(axis=0)
        score[pf == 0] = np.inf                       # unpenalised: in the model from the start
        score[excluded] = -np.inf
        order = np.argsort(-score, kind="stable")
        S = [int(j) for j in order[:max(FIRST_COLUMNS, int((pf == 0).sum()))]]
    prof.mark("column ranking")
    gsl = np.full(p, -1, dtype=np.int32)
    gsl[S] = np.arange(len(S), dtype=np.int32)
    gram = cols.compute(S)
    mx.eval(gram)
    prof.mark("Gram columns")
    screened = None                    # the restricted path's solution, when it is the path
    screens = 0
    gh = None                          # the columns' host copy (the screen's)
    # Every problem is screened, and their restricted paths are the paths when none is violated:
    # no launch. For problems with their own columns (CV folds) that costs a screen of all of
    # them on the host (H100, eleven problems at n = 1e6: 4.1-4.9 ms, against 1.0 for the first
    # alone and a 4.1-4.4 ms launch; stop 18 measured 11 ms before the direct kernel call).
    # SCREEN_FOLDS off: the first problem alone (cv_glmnet's full data) is screened and its
    # columns, with those near its bound, serve the launch over all problems.
    every = cols.shared or SCREEN_FOLDS
    sub = slice(None) if every else slice(0, 1)
    for it in range(0 if whole or SCREEN_ROUNDS <= 0 else SCREEN_ROUNDS + 1):
        if gh is None:
            gh = np.array(gram[sub])
            std = _standardisation(g[sub], p, bool(ip[6]), bool(ip[7]), excluded)
        outs_s, add, clean = _screen(gh, S, g[sub], std, ip, dp[sub], ul, pf, cl, excluded,
                                     cols.shared, L, near=None if every else SCREEN_NEAR)
        screens += 1
        prof.mark("column screen")
        if clean and every:
            screened = outs_s
        if not add:
            break
        gsl[add] = np.arange(len(S), len(S) + len(add), dtype=np.int32)
        S = S + add
        more = cols.compute(add)
        gram = mx.concatenate([gram, more], axis=1)
        mx.eval(gram)
        gh = np.concatenate([gh, np.array(more[sub])], axis=1)
        prof.mark("Gram columns")
        if clean:                      # (the folds' margin, added after a clean screen)
            break
    dummy = mx.zeros((1,), f32)
    idummy = mx.zeros((1,), mx.int32)
    rounds = 0
    idx = np.arange(B)                 # the problems of this launch (the stopped ones, later)
    state = None                       # a stopped launch's scratch and solutions, for resuming
    res = None
    while screened is None:
        rounds += 1
        ipk = ip.copy()
        ipk[11] = len(S)
        ipk[12] = int(cols.shared)
        ipk[13] = int(state is not None)
        sub = mx.array(idx.astype(np.int32))
        gsub = gram if (cols.shared or idx.size == B) else mx.take(gram, sub, axis=0)
        inputs = [dummy, dummy, dummy, dummy, gsub, mx.take(gst, sub, axis=0) if idx.size < B else gst,
                  *small, arr(ipk, mx.int32), arr(dp[idx]), arr(gsl, mx.int32),
                  *(state if state is not None else (dummy, idummy, dummy, dummy))]
        outs = _launch(inputs, idx.size, L, p, 1)
        r = [None] + [np.array(o) for o in outs[1:6]]          # (the solutions stay up there)
        if res is None:
            res, beta_d = r, outs[0]
        else:
            for k in range(1, 6):
                res[k][idx] = r[k]
            beta_d[sub] = outs[0]
        prof.mark("path kernel")
        stopped = np.flatnonzero(r[5][:, 2] == NEEDCOL)
        if stopped.size == 0:
            break
        # more columns: the missing ones, then the largest gradients the kernel left behind (the
        # next to move); the kernel resumes where it stopped, so a round costs one GEMM and a
        # launch, not a new path
        wsp = np.array(outs[6])[:, :10 * p].reshape(idx.size, 10, p)
        wip = np.array(outs[8]).reshape(idx.size, 6, p)
        usable = (wip[stopped, 0] > 0).any(axis=0)
        have = gsl >= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            gr = np.abs(wsp[stopped, 4]) / np.where(pf > 0, pf, 1.0)[None, :]   # (s, p)
        need = r[5][stopped, 3]
        free = ~have & usable
        cand = np.isin(np.arange(p), need) & free
        if FORECAST:
            fc = _entry_forecast(r, outs[0], wsp, wip, stopped, idx, gram, gsl, g, dp, ip, ul,
                                 pf, cols.shared)
        else:
            fc = np.full(p, np.inf)
        # the missing columns, then the forecast entries (earliest first), then the largest
        # gradients; a round reads all of x once (~1.5 ms at 4 GB) whatever its width: 64 columns a
        # round at least (growing by a quarter: a path that keeps asking costs O(log p) rounds, not
        # O(p / 64), while at large n, where every column costs GEMM time, few go unused; measured
        # on the H200 at n = 1e6, p = 1e3: doubling computed 512 columns for a path that needed 256;
        # the forecast took that path from 4 rounds and 256 columns to 2 rounds and 128)
        pri = np.where(cand, 0, np.where(np.isfinite(fc), 1, 2))
        order = np.lexsort((np.where(pri == 1, fc, -gr.max(axis=0)), pri))
        want = min(p - len(S), max(int(cand.sum()), ROUND_COLUMNS, len(S) // 4))
        new = [int(j) for j in order if free[j]][:want]
        if not new:                                   # cannot happen: a needed column is missing
            raise RuntimeError("GPU covariance path: no column to add")
        gsl[new] = np.arange(len(S), len(S) + len(new), dtype=np.int32)
        S = S + new
        prof.mark("column forecast")
        gram = mx.concatenate([gram, cols.compute(new)], axis=1)
        st_d = mx.array(stopped.astype(np.int32))
        state = (mx.take(outs[6], st_d, axis=0), mx.take(outs[8], st_d, axis=0),
                 mx.take(outs[0], st_d, axis=0),
                 mx.take(mx.concatenate([outs[1], outs[2], outs[3]], axis=1), st_d, axis=0))
        idx = idx[stopped]
        mx.eval(gram, *state)
        prof.mark("Gram columns")
    if screened is not None:
        res = [None] + screened[1:6]
        res[0] = _scatter_beta(screened[0], S, p)
    else:
        res[0] = download_beta(beta_d)
    out = path_result(res, mode)
    if intercept:                                     # undo the shift in the intercepts
        out.a0 = out.a0 + cy[:, None] - out.beta.dot(np.array(c, dtype=np.float64))
    # the null deviances from the statistics' response moments (sums of w y and w y^2 with y
    # shifted by cy, under each problem's normalised weights): a CV batch's are then no host pass
    ybar, yy = g[:, 2 * p], g[:, 2 * p + 1]
    out.nulldev = rs * ((yy - ybar * ybar) if intercept else yy)
    prof.mark("outputs")
    out.extra = {"gpu_rounds": rounds, "gpu_screens": screens, "gpu_columns": len(S),
                 **prof.report()}
    return out


def _kernel_fallback(res, hit, x, y, W, O, *, pf, excluded, nlam, params, intercept):
    """The problems hit of the IRLS driver's result res that ran into maxit even with exact
    steps (irls.EXACT_RETRY) solved by the path kernel (glmnet's algorithm, one block a problem:
    see KERNEL_FALLBACK); their rows of res replaced."""
    from .engine import FoldBatch
    Wd = W.dense() if isinstance(W, FoldBatch) else np.asarray(W)
    ya = np.asarray(y)
    ul, ip, dp, cl = params
    sub = run_paths_gpu(x, ya if ya.ndim == 1 else ya[hit], Wd[hit],
                        None if O is None else np.asarray(O)[hit], pf=pf, excluded=excluded,
                        mode=0, nlam=nlam, params=(ul, ip, np.asarray(dp)[hit], cl),
                        intercept=intercept, driver=False)
    res.set_rows(hit, sub)
    res.extra["gpu_kernel_fallbacks"] = int(hit.size)
    return res


def _standardisation(g, p, intr, isd, excluded):
    """The kernel's covariance-mode standardisation (path.kern) of B problems from their
    statistics g (B, 3p + 2) in float64: xm, xs, cc (B, p), the usable variables ju (B, p) and
    the response scale ys (B,)."""
    m1, xyv, m2 = g[:, :p], g[:, p:2 * p], g[:, 2 * p + 2:]
    ybar, yy = g[:, 2 * p:2 * p + 1], g[:, 2 * p + 1:2 * p + 2]
    var = m2 - m1 * m1
    # (the statistics are float32 sums: path.kern's float32 tolerance)
    ju = ~excluded[None, :] & ((m2 > 0) if (not intr and not isd) else
                               (var > 1e-6 * np.where(m2 > 0, m2, 1.0)))
    ym = ybar if intr else 0.0
    ys = np.sqrt(np.maximum(yy - ybar * ybar if intr else yy, 0.0))
    xm = m1 if intr else np.zeros_like(m1)
    xs = np.where(ju & bool(isd), np.sqrt(np.maximum(var, 0.0)), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cc = (xyv - xm * ybar - ym * m1 + xm * ym) / (xs * ys)
    return xm, xs, np.where(np.isfinite(cc), cc, 0.0), ju, ys[:, 0]


def _screen(gh, S, g, std, ip, dp, ul, pf, cl, excluded, shared, L, near=None):
    """The path restricted to the variables S that have columns, solved by the CPU primitive in
    float64 on those columns' rows and the statistics (the same kernel source; on the GPU a launch
    costs about what the whole path's does, one block's latency a lambda: H100, 5.7 ms a screen;
    the host solve of 32-48 variables took 0.3-0.5 ms on a 2-core VM), checked against glmnet's KKT conditions for every other variable
    along it. Returns its outputs (numpy), the columns to add and whether no variable violates
    them (the columns are then those within `near` of the bound, when given: none by default) at
    any lambda (the restricted path then is the path: every other coefficient stays 0), else
    the variables violating them at the first lambda where any does, then those whose gradient,
    extrapolated in lambda from the two exact solutions before it (as _entry_forecast does),
    crosses the bound earliest (SCREEN_COLUMNS in all at least). The gradients come from the
    columns (gh (1 or B, K, p), the Gram columns' host copy): g_j = cc_j - (sum_k b_k G_kj -
    (b'xm) xm_j) / xs_j with b the solutions over ys, against alpha lambda pf_j / ys. All of it on
    the host: on the device its small products and reductions cost ~2 ms a screen (H100), in
    launches and synchronisations."""
    from .engine import _cpu_threads, kernel_host
    B, p = g.shape[0], pf.shape[0]
    K = len(S)
    Sn = np.asarray(S, dtype=np.int64)
    GS = gh[:, :, Sn].astype(np.float64)                                        # (1 or B, K, K)
    gS = np.concatenate([g[:, Sn], g[:, p + Sn], g[:, 2 * p:2 * p + 2], g[:, 2 * p + 2 + Sn]],
                        axis=1)
    ipk = ip.copy()
    ipk[0] = 1                           # (the CPU primitive checks w's (B, n) shape against it)
    ipk[1] = ipk[11] = K
    ipk[12], ipk[13], ipk[14] = int(shared), 0, 0
    f64, i32 = np.float64, np.int32
    d, di = np.zeros(1, f64), np.zeros(1, i32)
    c = np.ascontiguousarray
    inputs = [d, d, np.zeros((B, 1), f64), d, c(GS, f64), c(gS, f64), c(pf[Sn], f64),
              c(cl[:, Sn], f64), c(excluded[Sn], i32), c(ul, f64), c(ipk, i32), c(dp, f64),
              np.arange(K, dtype=i32), d, di, d, d]
    res = kernel_host(inputs, B=B, L=L, p=K, nthreads=min(_cpu_threads(), B))
    xm, xs, cc, ju, ys = std                   # (_standardisation of g, once for every screen)
    ys = np.where(ys > 0, ys, 1.0)
    lmu = res[5][:, 0]
    lam_u = res[2]                                                              # (B, L)
    free = ju.copy()
    free[:, Sn] = False
    Lm = max(1, int(lmu.max()))                  # (slots past every path's end: not checked)
    bound = np.where(np.arange(Lm)[None, :] < lmu[:, None],
                     lam_u[:, :Lm] * (dp[:, :1] / ys[:, None]), np.inf)             # (B, Lm)
    # every free variable's KKT ratio along the restricted path, |cc_j - b'Gc_j / xs_j| / (pf_j
    # bound), as |cc pf^-1 - b'(Gc (pf xs)^-1)| / bound: one float32 product (host BLAS,
    # (Lm, K) x (K, p) a problem) and two passes over (B, Lm, p) in chunks of problems, the
    # scalings folded into the small columns and the bound applied after the maximum (11 CV
    # problems at p = 1e3: float64 and four passes took ~4 ms a screen on a 2-core VM)
    Bg = gh.shape[0]                             # (1: one weighting, so one xm, xs and ju)
    ipf = np.where(free, 1.0 / np.where(pf > 0, pf, 1.0)[None, :], 0.0)          # (B, p)
    # the covariance columns Gc = gh - xm_S xm' (Bg, K, p), scaled, made in float32 (gh's own
    # type: float64 temporaries of the columns took ~0.4 ms a screen of 64 at p = 1e3)
    sc = ipf[:Bg] / xs[:Bg]                                                     # (Bg, p)
    Gs = np.multiply(gh, sc.astype(np.float32)[:, None, :])
    Gs -= (xm[:Bg, Sn, None].astype(np.float32) *
           (xm[:Bg] * sc).astype(np.float32)[:, None, :])
    bsc = res[0][:, :Lm] / ys[:, None, None]                                    # (B, Lm, K)
    ccs = (cc * ipf).astype(np.float32)
    scale = 1.0 / np.maximum(bound, 1e-300)                                     # (B, Lm)
    # prio: 0 for a violator at its problem's first violation, else the earliest forecast
    # crossing + 1; jmax: the largest ratio (the margin a clean screen reports, `near`)
    prio = np.full(p, np.inf)
    jmax = np.zeros(p, dtype=np.float32)
    violated = False
    step = max(1, SCREEN_CHUNK // (Lm * p))      # (problems a chunk: many responses at large p)

    for b0 in range(0, B, step):
        bs = slice(b0, min(B, b0 + step))
        dev = np.matmul(bsc[bs].astype(np.float32), Gs if Bg == 1 else Gs[bs])  # (b, Lm, p)
        np.subtract(ccs[bs, None, :], dev, out=dev)
        np.abs(dev, out=dev)
        bad = dev.max(axis=2) * scale[bs] >= 1.0
        if near is not None and not violated:
            r = dev * scale[bs, :, None].astype(np.float32)
            jmax = np.maximum(jmax, r.max(axis=(0, 1)))
        for i in np.flatnonzero(bad.any(axis=1)):
            violated = True
            b, m = b0 + int(i), int(bad[i].argmax())
            prio[dev[i, m] * scale[b, m] >= SCREEN_MARGIN] = 0.0
            if m >= 2:
                ms = [m - 1, max(m - 3, 0)]
                bg = min(b, Bg - 1)                                     # the gradients there
                gr2 = cc[b] - (bsc[b, ms] @ gh[bg] - np.outer(bsc[b, ms] @ xm[bg, Sn],
                                                              xm[bg])) / xs[b]
                at = _crossing(gr2, lam_u[b, ms] / ys[b],
                               _future_lambdas(lam_u[b], m, b, ys[b], ip, ul, dp, L),
                               float(dp[b, 0]) * pf)
                prio = np.minimum(prio, np.where(free[b], at + 1.0, np.inf))
    if not violated:
        if near is None:
            return res, [], True
        cand = np.flatnonzero(jmax >= near)
        return res, [int(j) for j in cand[np.argsort(-jmax[cand], kind="stable")]], True
    prio[~free.any(axis=0)] = np.inf
    cand = np.flatnonzero(np.isfinite(prio))
    cand = cand[np.argsort(prio[cand], kind="stable")]
    want = max(int((prio == 0).sum()), SCREEN_COLUMNS, K // 4)
    return res, [int(j) for j in cand[:want]], False


def _scatter_beta(bS, S, p):
    """The restricted path's coefficients bS (B, L, K) for the variables S as a CompactBeta over
    all p variables (the others 0)."""
    from .engine import CompactBeta
    B, L, K = bS.shape
    Sn = np.asarray(S, dtype=np.int64)
    order = np.argsort(Sn, kind="stable")
    cols, vals = [], []
    for b in range(B):
        moved = order[(bS[b][:, order] != 0).any(axis=0)]
        cols.append(Sn[moved])
        vals.append(bS[b][:, moved])
    return CompactBeta((B, L, p), cols, vals, np.count_nonzero(bS, axis=2))


def download_beta(beta_d):
    """The kernel's coefficients (B, L, p) on the device as an engine.CompactBeta: which
    variables each problem ever moved (a (B, p) mask down), then only their values (one gather
    down). 100 paths at p = 2000 are 80 MB dense: ~30 ms to download on an H200 host. Where
    most variables moved, all of them (a full CompactBeta)."""
    from .engine import CompactBeta
    B, L, p = beta_d.shape
    nz = beta_d != 0
    mask_d, df_d = mx.any(nz, axis=1), mx.sum(nz, axis=2)
    mx.eval(mask_d, df_d)
    mask, df = np.array(mask_d), np.array(df_d)                              # (B, p), (B, L)
    if mask.mean() > 0.5:              # most variables moved: the whole array, as (B, p, L)
        # (transposed on the device: each fit's beta is then a view of one float64 block)
        # (the float64 copy on every core: 100 x 2000 x 83 values are 133 MB of fresh pages)
        T = np.array(mx.transpose(beta_d, (0, 2, 1)))
        block = np.empty(T.shape, dtype=np.float64)
        _copy_rows(block, T)
        return CompactBeta((B, L, p), None, None, df, block=block)
    rows = np.flatnonzero(mask.reshape(-1))                                  # b p + j
    cnt = mask.sum(axis=1)
    if rows.size:
        vals = np.array(mx.take(mx.transpose(beta_d, (0, 2, 1)).reshape(B * p, L),
                                mx.array(rows.astype(np.int32)), axis=0))    # (nnz, L)
    else:
        vals = np.zeros((0, L), dtype=np.float32)
    off = np.concatenate([[0], np.cumsum(cnt)])
    return CompactBeta((B, L, p), [np.flatnonzero(mask[b]) for b in range(B)],
                       [vals[off[b]:off[b + 1]].T for b in range(B)], df)


def _entry_forecast(r, beta_d, wsp, wip, stopped, idx, gram, gsl, g, dp, ip, ul, pf, shared):
    """Which variables without a Gram column the stopped problems will want next: each stopped
    problem's gradient, taken at its last solutions (from the columns of their active variables)
    and extrapolated linearly in lambda over the lambdas still to come, against glmnet's KKT bound
    alpha lambda pf. Returns, per variable, the earliest lambda index at which some problem's
    forecast crosses the bound (inf: none). The lasso's gradients are piecewise linear in lambda,
    so the variables a common factor masks at the start of the path (their marginal correlation
    offset by the others') are forecast lambdas before they ask, and come in the same round.
    r: the launch's outputs as numpy (r[0], the solutions, unused: they stay on the device as
    beta_d (B, L, p)); wsp (B, 10, p), wip (B, 6, p): its scratch (wip[:, 2]: ever active)."""
    p = pf.shape[0]
    L = r[2].shape[1]
    first = np.full(p, np.inf)
    intr = bool(ip[6])
    todo = []
    for i in stopped:
        m = int(r[5][i, 0])                           # solutions stored so far
        if m < 2:
            continue
        b = int(idx[i])
        ms = [m - 1, max(0, m - 3)]
        ybar, yy = g[b, 2 * p], g[b, 2 * p + 1]
        ysc = float(np.sqrt(max(yy - ybar * ybar, 0.0) if intr else yy))
        lam = r[2][i][ms].astype(np.float64) / max(ysc, 1e-300)
        # the variables ever active (a superset of those non-zero at the two solutions; the
        # others' coefficients are 0 there and add nothing): known before anything comes down
        A = np.flatnonzero(wip[i, 2])
        if not ysc > 0 or lam[0] >= lam[1] or A.size == 0 or (gsl[A] < 0).any():
            continue
        todo.append((i, m, b, ysc, wsp[i, 1], wsp[i, 2], wsp[i, 8], ms, lam, A))
    if not todo:
        return first
    # every problem at once over the union of their active sets (T problems, |A| variables):
    # the gradients at their two solutions are cc - (b' G_A - (b' xm_A) xm) / xs with b the
    # solutions over ysc and G_A their Gram rows; the products b' G_A on the device and one
    # round trip for them and b (a host product over (T, |A|, p) arrays took hundreds of ms
    # a round for 11 problems whose active sets had grown to hundreds)
    Au = np.unique(np.concatenate([t[9] for t in todo]))
    K = gram.shape[1]
    T = len(todo)
    if shared:
        rows = gsl[Au]
    else:
        rows = (np.array([t[2] for t in todo])[:, None] * K + gsl[Au][None, :]).reshape(-1)
    at = np.array([[t[0] * L + k for k in t[7]] for t in todo]).reshape(-1)
    bA_d = mx.take(mx.take(beta_d.reshape(-1, p), mx.array(at.astype(np.int32)), axis=0),
                   mx.array(Au.astype(np.int32)), axis=1).reshape(T, 2, Au.size)
    GA = mx.take(gram.reshape(-1, p), mx.array(rows.astype(np.int32)), axis=0)
    P_d = mx.matmul(bA_d, GA.reshape(1 if shared else T, Au.size, p))       # (T, 2, p)
    mx.eval(bA_d, P_d)
    ysc = np.array([t[3] for t in todo])[:, None, None]
    bA = np.array(bA_d, dtype=np.float64) / ysc                             # (T, 2, |A|)
    P = np.array(P_d, dtype=np.float64) / ysc
    xm = np.stack([t[4] for t in todo]).astype(np.float64)                 # (T, p)
    xs = np.stack([t[5] for t in todo]).astype(np.float64)
    cc = np.stack([t[6] for t in todo]).astype(np.float64)
    lam = np.stack([t[8] for t in todo])                                    # (T, 2)
    bm = np.einsum("tka,ta->tk", bA, xm[:, Au])                             # (T, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        gr = cc[:, None, :] - np.where(xs[:, None, :] > 0, (P - bm[:, :, None] * xm[:, None, :])
                                       / xs[:, None, :], 0.0)              # (T, 2, p)
    for k, (i, m, b, ysc) in enumerate(t[:4] for t in todo):
        at = _crossing(gr[k], lam[k], _future_lambdas(r[2][i], m, b, ysc, ip, ul, dp, L),
                       float(dp[b, 0]) * pf)
        first = np.minimum(first, at + m)
    return first


def _future_lambdas(lam_row, m, b, ysc, ip, ul, dp, L):
    """Problem b's lambdas m .. L - 1 on the kernel's scale (user lambdas, or glmnet's geometric
    sequence from the path's first lambda lam_row[0]; user scale in lam_row and ul)."""
    if ip[5]:
        return np.asarray(ul[m:L], dtype=np.float64) / ysc
    return float(lam_row[0]) / ysc * float(dp[b, 1]) ** (np.arange(m, L) / (L - 1))


def _crossing(gr2, lam2, lf, cpf):
    """Per variable: the first index k of the lambdas lf at which the gradient, extrapolated
    linearly in lambda from its values gr2 (2, p) at lam2 (2,), crosses the KKT bound cpf lambda
    (cpf = alpha pf); inf: never. The earliest future lambda at which |g0 + s (lambda - lambda0)|
    > cpf lambda is solved for per variable rather than tried at every lambda (an array (T, L, p)
    cost ~10 ms for 11 problems): with a = g0 - s lambda0 that is a + (s - cpf) lambda > 0 or
    -a - (s + cpf) lambda > 0, two half-lines in lambda, and the lambdas still to come decrease."""
    if lf.size == 0 or not lam2[0] < lam2[1]:
        return np.full(gr2.shape[1], np.inf)
    slope = (gr2[0] - gr2[1]) / (lam2[0] - lam2[1])
    a = gr2[0] - slope * lam2[0]
    return np.minimum(_first_positive(a, slope - cpf, lf), _first_positive(-a, -(slope + cpf), lf))


def _first_positive(alpha, beta, lf):
    """Per element: the first index k with alpha + beta lf[k] > 0 for decreasing lf (inf: none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        now = alpha + beta * lf[0] > 0                   # beta >= 0: at the first lambda or never
        tau = -alpha / beta                              # beta < 0: once lf[k] < tau
        later = np.searchsorted(-lf, -tau, side="right").astype(np.float64)
    later[~(beta < 0) | (later >= lf.size)] = np.inf
    return np.where(now, 0.0, later)


class _Profile:
    """Seconds per stage (synchronised), kept in fit.info['gpu_profile'] when MLXS_GPU_PROFILE
    is set (the syncs cost a little, so they are off by default)."""

    def __init__(self):
        import time
        self.on = bool(os.environ.get("MLXS_GPU_PROFILE"))
        self.clock = time.perf_counter
        self.t = self.clock()
        self.acc: dict = {}

    def mark(self, stage, arrays=()):
        if not self.on:
            return
        if arrays:
            mx.eval(*arrays)
        t = self.clock()
        self.acc[stage] = self.acc.get(stage, 0.0) + (t - self.t)
        self.t = t

    def report(self):
        return {"gpu_profile": {k: round(v * 1e3, 2) for k, v in self.acc.items()}} if self.on else {}


def _launch(inputs, B, L, p, nvec, threads=None, then=None):
    """One launch of the path kernel, evaluated. 512 threads a block: the CUDA prelude declares
    that launch bound, so the compiler keeps the kernel's registers within it (should a build
    still refuse, the block falls back to 384, then 256 threads, learnt once per process).
    then(outputs): an array evaluated with them; (outputs, that array) is returned."""
    global THREADS
    f32 = mx.float32
    shapes = [(B, L, p), (B, L), (B, L), (B, L), (B,), (B, 4), (B, 10 * p + 16), (B, 4 * nvec),
              (B, 6 * p)]
    dtypes = [f32, f32, f32, f32, f32, mx.int32, f32, f32, mx.int32]
    while True:
        nt = min(threads, THREADS) if threads else THREADS
        try:
            outs = _call("path", inputs=inputs, grid=(B * nt, 1, 1),
                         threadgroup=(nt, 1, 1), output_shapes=shapes,
                         output_dtypes=dtypes, init_value=0)
            if then is None:
                mx.eval(*outs[:6])
                return outs
            res = then(outs)
            mx.eval(*outs[:6], res)
            return outs, res
        except RuntimeError as e:
            if "too many resources" not in str(e) or THREADS <= 128:
                raise
            THREADS = {512: 384, 384: 256}.get(THREADS, 128)
