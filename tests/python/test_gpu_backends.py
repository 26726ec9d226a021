"""GPU backends without a GPU: the Metal source generated from path.kern and the CUDA kernel, both
checked as C++ by g++; the Metal self-check guard (with the one Metal seam,
gpu.metal_kernel_call, replaced by the CPU primitive), device arrays as x, several responses per
call; and the CUDA check when a CUDA GPU is present."""
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

import mlx.core as mx
import mlxs_glmnet as mg
from mlxs_glmnet import _core, engine, gpu

# Metal keywords as no-ops, so that g++ checks the generated kernel's syntax and types as C++.
_METAL_STUBS = r"""
#include <cmath>
#include <cstddef>
using namespace std;
typedef unsigned int uint;
#define device
#define thread
#define threadgroup
struct k_uint3 { uint x, y, z; };
static const k_uint3 threadgroup_position_in_grid = {0, 0, 0};
static const k_uint3 thread_position_in_threadgroup = {0, 0, 0};
static const k_uint3 threads_per_threadgroup = {32, 1, 1};
namespace mem_flags { enum { mem_device = 1, mem_threadgroup = 2 }; }
inline void threadgroup_barrier(int) {}
inline void simdgroup_barrier(int) {}
inline float simd_sum(float v) { return v; }
inline int simd_sum(int v) { return v; }
inline int simd_prefix_exclusive_sum(int) { return 0; }
"""


def test_metal_source_qualifies_every_pointer():
    src = gpu.metal_source()
    body = src.split("\n", 4)[4]
    assert src.startswith("threadgroup float k_tg[33];")
    for line in body.splitlines():
        code = line.split("/*")[0]
        for tok in ("real_t*", "int*"):
            if tok in code:
                assert f"device {tok}" in code, line
    # every name the prelude's macros use is declared before path.kern starts
    for name in ("k_tg", "k_bid", "k_tid", "k_nt"):
        assert name in src.split("/* mlxs_glmnet")[0]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_metal_source_compiles_as_cpp(tmp_path):
    kd = os.path.join(os.path.dirname(gpu.__file__), "kernels")
    header = open(os.path.join(kd, "prelude_metal.h")).read()
    ints = {"jx", "ip", "gsl", "rip", "info_o", "wip"}
    params = [f"const device {'int' if n in ints else 'float'}* {n}" for n in gpu.INPUTS]
    params += [f"device {'int' if n in ints else 'float'}* {n}" for n in gpu.OUTPUTS]
    code = _METAL_STUBS + header + "\nvoid path_kernel(" + ", ".join(params) + ") {\n" + \
        gpu.metal_source() + "\n}\n"
    f = tmp_path / "metal_as_cpp.cpp"
    f.write_text(code)
    r = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-Wall", "-Wno-unused-variable",
                        "-Wno-unused-but-set-variable", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


# CUDA built-ins as host stand-ins, so that g++ checks the CUDA kernel (prelude_cuda.h + path.kern,
# as gpu._kernel hands them to mx.fast.cuda_kernel) as C++ where no CUDA compiler is.
_CUDA_STUBS = r"""
#include <cmath>
#include <cstddef>
using namespace std;
#define __device__
#define __forceinline__ inline
#define __shared__ static
struct k_u3 { unsigned x, y, z; };
static k_u3 threadIdx, blockDim, blockIdx;
template <class T> T __shfl_up_sync(unsigned, T v, int) { return v; }
template <class T> T __shfl_down_sync(unsigned, T v, int) { return v; }
template <class T> T __shfl_xor_sync(unsigned, T v, int) { return v; }
template <class T> T __shfl_sync(unsigned, T v, int) { return v; }
inline void __syncthreads() {}
inline void __syncwarp(unsigned = 0xffffffffu) {}
"""


def _cuda_as_cpp(tmp_path, body):
    ints = {"jx", "ip", "gsl", "rip", "info_o", "wip"}
    params = [f"const {'int' if n in ints else 'float'}* {n}" for n in gpu.INPUTS]
    params += [f"{'int' if n in ints else 'float'}* {n}" for n in gpu.OUTPUTS]
    f = tmp_path / "cuda_as_cpp.cpp"
    f.write_text(_CUDA_STUBS + gpu._header("prelude_cuda.h") + "\nvoid path_kernel(" +
                 ", ".join(params) + ") {\n" + body + "\n}\n")
    return subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-Wall", "-Wno-unused-variable",
                           "-Wno-unused-but-set-variable", str(f)], capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_cuda_source_compiles_as_cpp(tmp_path):
    """The CUDA variant of the kernel (the CUDA prelude's macros, not the CPU's: its block scans,
    ordered appends and warp passes) is valid C++ with CUDA's built-ins stubbed, so a kernel edit
    that breaks only the GPU build fails here, in CI, not first on a device. The check is live: an
    undeclared name in the body fails it."""
    body = (gpu._KDIR / "path.kern").read_text()
    r = _cuda_as_cpp(tmp_path, body)
    assert r.returncode == 0, r.stderr[-3000:]
    r = _cuda_as_cpp(tmp_path, body.replace("K_APPEND(sl, nsl, sf[j])",
                                            "K_APPEND(sl, nsl, sf_undeclared[j])"))
    assert r.returncode != 0 and "sf_undeclared" in r.stderr


# The statistics kernel (gpu._STATS_SRC) run as C++ on the host over its whole grid, one thread
# at a time: its indexing (chunks, fold segments, gathered rows, the grouped copy, four columns a
# thread) checked against numpy where no GPU is.
_STATS_HOST = r"""
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <vector>
#include <algorithm>
using std::min;
struct float4 { float x, y, z, w; };
struct k_u3 { unsigned x, y, z; };
static k_u3 threadIdx, blockDim, blockIdx, gridDim;
template <int NB, int HR, int HO, int V>
void stats(const float* X, const int* X_shape, const int* rows, const int* rows_shape,
           const float* c, const float* W, const int* W_shape, const float* yv,
           const int* yv_shape, const int* nbp, float* out, float* xo) {
BODY
}
static std::vector<float> rd(const char* f, size_t m) {
  std::vector<float> v(m); FILE* h = fopen(f, "rb"); fread(v.data(), 4, m, h); fclose(h); return v;
}
int main(int argc, char** argv) {
  // argv: n p nrows BW BY B R s C grid_x
  int a[10]; for (int k = 0; k < 10; ++k) a[k] = atoi(argv[k + 1]);
  int n = a[0], p = a[1], M = a[2], BW = a[3], BY = a[4];
  std::vector<float> X = rd("X", (size_t)n * p), c = rd("c", p), W = rd("W", (size_t)BW * M),
                     y = rd("y", (size_t)BY * M), rf = rd("rows", M > 0 ? M : 1);
  std::vector<int> rows(rf.size()); for (size_t i = 0; i < rf.size(); ++i) rows[i] = (int)rf[i];
  int Xs[2] = {n, p}, Rs[1] = {M}, Ws[2] = {BW, M}, Ys[2] = {BY, M}, nbp[3] = {a[5], a[6], a[7]};
  int C = a[8];
  std::vector<float> out((size_t)3 * a[5] * C * p, -7.f), xo((size_t)M * p, -7.f);
  blockDim = {128, 1, 1}; gridDim = {(unsigned)(a[9] / 128), (unsigned)C, 1};
  for (unsigned by = 0; by < gridDim.y; ++by)
    for (unsigned bx = 0; bx < gridDim.x; ++bx)
      for (unsigned t = 0; t < 128; ++t) {
        blockIdx = {bx, by, 0}; threadIdx = {t, 0, 0};
        KERNEL_CALL;
      }
  FILE* h = fopen("out", "wb"); fwrite(out.data(), 4, out.size(), h); fclose(h);
  h = fopen("xo", "wb"); fwrite(xo.data(), 4, xo.size(), h); fclose(h);
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
@pytest.mark.parametrize("V,grouped", [(1, False), (4, False), (1, True), (4, True)])
def test_stats_kernel_on_the_host(tmp_path, V, grouped):
    """The statistics kernel's sums (3, chunks, p) and, for fold-grouped rows, the copy of x it
    writes, equal numpy's, with one column or four a thread (p a multiple of 4 for V = 4)."""
    rng = np.random.default_rng(V + 2 * grouped)
    n, p = 203, (36 if V == 4 else 37)
    X = rng.standard_normal((n, p)).astype(np.float32)
    c = rng.standard_normal(p).astype(np.float32)
    if grouped:                  # 3 groups of R = 70 rows (the last padded), 2 chunks each
        R, s = 70, 2
        rows = rng.permutation(n)
        rows = np.concatenate([rows, np.repeat(rows[-1:], 3 * R - n)]).astype(np.int32)
        M, C = rows.size, 3 * s
        nbp = (1, R, s)
    else:
        rows, M, C, nbp = np.zeros(1, np.int32), n, 9, (1, 0, 1)
    W = rng.uniform(0.1, 1.0, (1, M)).astype(np.float32)
    y = rng.standard_normal((1, M)).astype(np.float32)
    gx = -(-(p // V) // 128) * 128
    body = gpu._STATS_SRC
    call = (f"stats<1, {int(grouped)}, {int(grouped)}, {V}>(X.data(), Xs, rows.data(), Rs, "
            "c.data(), W.data(), Ws, y.data(), Ys, nbp, out.data(), xo.data())")
    src = _STATS_HOST.replace("BODY", body).replace("KERNEL_CALL", call)
    (tmp_path / "k.cpp").write_text(src)
    r = subprocess.run(["g++", "-std=c++17", "-O1", "-w", "-o", str(tmp_path / "k"),
                        str(tmp_path / "k.cpp")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    for name, a in (("X", X), ("c", c), ("W", W), ("y", y), ("rows", rows.astype(np.float32))):
        a.astype(np.float32).tofile(tmp_path / name)
    args = [n, p, M if grouped else 0, 1, 1, *nbp, C, gx]
    if not grouped:
        args[2] = n
    r = subprocess.run([str(tmp_path / "k")] + [str(v) for v in args], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = np.fromfile(tmp_path / "out", np.float32).reshape(3, C, p)
    xr = X[rows] if grouped else X
    v = xr.astype(np.float64) - c
    t = W[0, :, None] * v
    if grouped:
        chunk = np.concatenate([np.repeat(np.arange(g * s, g * s + s), R // s) for g in range(3)])
    else:
        rows_ = -(-n // C)
        chunk = np.arange(n) // rows_
    for k, val in enumerate((t, t * v, t * y[0, :, None])):
        want = np.stack([val[chunk == q].sum(axis=0) for q in range(C)])
        np.testing.assert_allclose(out[k], want, rtol=1e-4, atol=1e-4)
    if grouped:
        np.testing.assert_array_equal(np.fromfile(tmp_path / "xo", np.float32).reshape(M, p), xr)


def _cpu_as_metal(perturb=0.0):
    """A stand-in for the Metal kernel: the CPU primitive run on the very inputs the Metal launch
    receives (float32), optionally with its coefficients perturbed."""
    calls = []

    def call(name, *, inputs, grid, threadgroup, output_shapes, output_dtypes, init_value):
        assert name == "path" and init_value == 0 and grid[0] % threadgroup[0] == 0
        calls.append(output_shapes)
        outs = _core.glmnet_path(inputs, output_shapes[0][1], nthreads=1, block_threads=1,
                                 stream=mx.cpu)
        if perturb:
            outs = [outs[0] * (1 + perturb)] + list(outs[1:])
        return outs
    return call, calls


@pytest.fixture
def fresh_guard(monkeypatch):
    monkeypatch.setattr(gpu, "_METAL_STATE", {})
    return monkeypatch


def test_metal_guard_accepts_a_correct_backend(fresh_guard):
    call, calls = _cpu_as_metal()
    fresh_guard.setattr(gpu, "metal_kernel_call", call)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gpu.metal_ok() is True
    assert len(calls) == 2 and gpu._METAL_STATE["err"] < 1e-3 < gpu.METAL_TOL
    assert gpu.metal_ok() is True and len(calls) == 2      # checked once per process


def test_metal_guard_rejects_a_wrong_backend_once(fresh_guard):
    call, calls = _cpu_as_metal(perturb=0.05)
    fresh_guard.setattr(gpu, "metal_kernel_call", call)
    with pytest.warns(RuntimeWarning, match="Metal GPU kernel failed its self-check"):
        assert gpu.metal_ok() is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # no second warning
        assert gpu.metal_ok() is False
    # with Metal rejected, device='gpu' and 'auto' fall back to the CPU
    fresh_guard.setattr(gpu, "backend", lambda: "metal")
    assert engine.resolve_device("gpu") == "cpu"
    assert engine.resolve_device("auto") == "cpu"
    n_before = len(calls)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 4))
    f = mg.glmnet(x, x[:, 0] + rng.standard_normal(50), device="gpu")
    assert f.info["device"] == "cpu" and len(calls) == n_before


def test_metal_guard_survives_a_crashing_backend(fresh_guard):
    def boom(name, **kw):
        raise RuntimeError("no such kernel")
    fresh_guard.setattr(gpu, "metal_kernel_call", boom)
    with pytest.warns(RuntimeWarning, match="RuntimeError: no such kernel"):
        assert gpu.metal_ok() is False


def test_device_array_x_gives_the_numpy_fit():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 12))
    y = x[:, 0] - x[:, 1] + rng.standard_normal(300)
    a = mg.glmnet(x, y, device="cpu")
    b = mg.glmnet(mx.array(x, dtype=mx.float64), y, device="cpu")
    assert np.allclose(a.beta, b.beta, atol=1e-12) and np.allclose(a.a0, b.a0, atol=1e-12)
    bad = mx.array(np.where(np.arange(300)[:, None] == 5, np.nan, x), dtype=mx.float64)
    with pytest.raises(ValueError, match="x contains NaN"):
        mg.glmnet(bad, y, device="cpu")


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_several_responses_in_one_call(family):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((250, 15))
    eta = x[:, :3] @ rng.standard_normal((3, 5))
    Y = {"gaussian": eta + rng.standard_normal(eta.shape),
         "binomial": (eta + rng.logistic(size=eta.shape) > 0).astype(float),
         "poisson": rng.poisson(np.exp(0.3 * eta)).astype(float)}[family]
    fits = mg.glmnet_batch(x, Y, family)
    assert len(fits) == 5
    for k, f in enumerate(fits):
        g = mg.glmnet(x, Y[:, k], family)
        assert np.allclose(f.lambda_, g.lambda_, rtol=1e-12, atol=0)
        assert np.allclose(f.beta, g.beta, atol=1e-12) and np.allclose(f.a0, g.a0, atol=1e-12)
        assert f.nulldev == pytest.approx(g.nulldev)
    with pytest.raises(ValueError, match="weights_batch must have one row per column of y"):
        mg.glmnet_batch(x, Y, family, weights_batch=np.ones((2, 250)))
    # the responses' checks hold for every column, not only the first; the caller's Y is only
    # read, in either layout
    Yf = np.asfortranarray(Y)
    Yf.flags.writeable = False
    fits_f = mg.glmnet_batch(x, Yf, family)
    assert all(np.array_equal(a.beta, b.beta) for a, b in zip(fits, fits_f))
    bad = Y.copy()
    bad[7, 3] = np.nan
    with pytest.raises(ValueError, match="y contains NaN"):
        mg.glmnet_batch(x, bad, family)
    if family == "poisson":
        bad = Y.copy()
        bad[7, 3] = -1.0
        with pytest.raises(ValueError, match="non-negative"):
            mg.glmnet_batch(x, bad, family)
        fi = mg.glmnet_batch(x, Y.astype(np.int64), family)      # integer counts
        assert all(np.array_equal(a.beta, b.beta) for a, b in zip(fits, fi))
    if family == "gaussian":
        bad = Y.copy()
        bad[:, 2] = 1.5
        with pytest.raises(ValueError, match="response column 2 is constant"):
            mg.glmnet_batch(x, bad, family)


@pytest.mark.skipif(gpu.backend() != "cuda", reason="no CUDA GPU here (CI); bench/gpu.py --check "
                    "runs this on the device machine")
def test_cuda_check():
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    r = subprocess.run([sys.executable, os.path.join(root, "bench", "gpu.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:]


def test_auto_device_follows_the_measured_rule(monkeypatch):
    """device='auto' with a usable GPU: x on the device goes there; x in host memory stays on the
    CPU except for binomial/poisson fits of at least AUTO_GPU_GLM_ELEMENTS and gaussian fits of
    at least AUTO_GPU_GAUSSIAN_ELEMENTS (measured on the device machine: below those the CPU
    engine won or split by shape); float64 only on the CPU."""
    monkeypatch.setattr(gpu, "gpu_available", lambda: True)
    big = int(engine.AUTO_GPU_GLM_ELEMENTS // 200)
    gbig = int(engine.AUTO_GPU_GAUSSIAN_ELEMENTS // 200)
    assert gbig > big                    # (the GLM sizes below test the gaussian rule too)
    host = np.zeros((4, 3))
    assert engine.resolve_device("auto") == "gpu"
    assert engine.resolve_device(None, x=mx.zeros((4, 3))) == "gpu"
    assert engine.resolve_device("auto", x=mx.zeros((4, 3)), dtype="float64") == "cpu"
    assert engine.resolve_device("auto", x=host) == "cpu"
    assert engine.resolve_device("auto", x=host, family="gaussian", shape=(big, 200)) == "cpu"
    assert engine.resolve_device("auto", x=host, family="gaussian", shape=(gbig - 1, 200)) == "cpu"
    assert engine.resolve_device("auto", x=host, family="gaussian", shape=(gbig, 200)) == "gpu"
    assert engine.resolve_device("auto", x=host, family="gaussian", shape=(gbig, 200),
                                 dtype="float64") == "cpu"
    for fam in ("binomial", "poisson"):
        assert engine.resolve_device("auto", x=host, family=fam, shape=(big, 200)) == "gpu"
        assert engine.resolve_device("auto", x=host, family=fam, shape=(big - 1, 200)) == "cpu"
    assert engine.resolve_device("gpu", x=host) == "gpu"            # asked for: the GPU
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 5))
    f = mg.glmnet(x, x[:, 0] + rng.standard_normal(60))             # (never reaches a GPU)
    assert f.info["device"] == "cpu"
    cvf = mg.cv_glmnet(x, (x[:, 0] > 0).astype(float), "binomial", nfolds=3, seed=0)
    assert cvf.glmnet_fit.info["device"] == "cpu"
