"""The engine: prepares one batch of path problems and runs the path kernel on an MLX backend.

One call = one kernel launch for the whole batch (every lambda of every problem). The kernel
source is ``kernels/path.kern``; the CPU backend is the compiled MLX primitive in ``_core``
(built from ``src/glmnet_cpu.cpp``), the CUDA backend compiles the same source through
``mx.fast.cuda_kernel`` (see ``gpu.py``).
"""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field

import numpy as np

# The Gram that coordinate descent solves on must not be computed in TF32 on CUDA GPUs (DESIGN.md,
# "Precision"); this must be set before MLX runs its first matmul.
os.environ.setdefault("MLX_ENABLE_TF32", "0")

import mlx.core as mx  # noqa: E402

FAMILIES = {"gaussian": 0, "binomial": 1, "poisson": 2}
BIG = 9.9e35

# Covariance (Gram) mode for gaussian when the Gram is cheap relative to the naive sweeps.
# Measured on the 2-core CI-class machine (bench/RESULTS.md): the Gram costs n*p^2 flops at BLAS
# speed once, after which every coordinate update is O(p) instead of O(n).
COV_MAX_P = 3000
# Smallest n for which one problem is split over several CPU threads (measured, see run_paths).
BLOCK_SPLIT_MIN_N = 2000


class FoldBatch:
    """The weights of a cross-validation batch without its (B, n) matrix: problem 0 fits every row
    with weight base[i], problem k (1..K) every row outside fold k (fold[i] = k). At n = 1e6 and
    ten folds each pass over the dense weights costs ~10 ms on the host; per-problem sums here
    are O(n), and the GPU covariance driver works from (base, fold) directly. dense() forms the
    matrix for the engines that read it."""

    def __init__(self, base: np.ndarray, fold: np.ndarray, K: int, counts=None):
        """counts: the rows of each fold (np.bincount(fold)[1:]), when the caller has them."""
        self.base, self.fold, self.K = base, fold, int(K)
        self.n = base.shape[0]
        self.shape = (self.K + 1, self.n)
        self.ndim = 2
        # a constant base weight (cv_glmnet without weights): the sums are the fold sizes'
        # (unit weights come as a read-only view of one value, api._ones: no pass to know)
        one = base.ndim == 1 and base.strides[0] == 0
        self.const = float(base[0]) if self.n and (one or bool(np.all(base == base[0]))) \
            else None
        self.counts = None
        if self.const is not None:
            c = np.bincount(fold, minlength=self.K + 1)[1:] if counts is None else counts
            self.counts = np.asarray(c, dtype=np.int64)
            self.sums = self.const * np.concatenate([[self.n], self.n - c]).astype(np.float64)
        else:
            self.sums = self.per_problem(None)

    def per_problem(self, v) -> np.ndarray:
        """(B,) sum_i W[b, i] v_i (v None: the weights' sums)."""
        wv = self.base if v is None else self.base * v
        part = np.bincount(self.fold - 1, weights=wv, minlength=self.K + 1)[:self.K]
        total = float(wv.sum())
        return np.concatenate([[total], total - part])

    def held(self) -> np.ndarray:
        """gpu.fold_structure's row -> problem map: the problem holding row i out (-1: none)."""
        return self.fold if self.const is not None and self.const > 0 else \
            np.where(self.base > 0, self.fold, -1)

    def key_counts(self) -> np.ndarray:
        """A constant positive base weight: the rows of each gpu.fold_groups key -2 .. K (-2: weight
        0 everywhere, -1: held out by none, 0: by the full fit, k: by fold k), without a pass."""
        return np.concatenate([[0, 0, 0], self.counts])

    def positive(self) -> np.ndarray:
        """(B,) the rows of positive weight of each problem."""
        pos = self.base > 0
        if self.const is not None:
            total, part = (self.n, self.counts) if self.const > 0 else (0, 0 * self.counts)
        else:
            total = int(pos.sum())
            part = np.bincount(self.fold - 1, weights=pos, minlength=self.K + 1)[:self.K]
        return np.concatenate([[total], total - np.asarray(part)]).astype(np.int64)

    def dense(self) -> np.ndarray:
        W = np.empty(self.shape)
        W[0] = self.base
        np.multiply(self.base[None, :], self.fold[None, :] != np.arange(1, self.K + 1)[:, None],
                    out=W[1:])
        return W


# A large zeroed block whose pages are touched here and there (a batch's dense coefficients:
# each problem's moved rows) costs only the touched pages, unless the kernel backs the mapping
# with transparent huge pages ("always" mode), where every touch zeroes 2 MB: the device hosts'
# 100-response batch spent ~29 ms after the engine against ~3 ms on a host in "madvise" mode.
# MADV_NOHUGEPAGE on the fresh block (Linux; anywhere else, or if refused, nothing changes).
NO_HUGEPAGES = os.environ.get("MLXS_NO_HUGEPAGES", "1") != "0"
_MADV_NOHUGEPAGE = 15


def sparse_zeros(shape) -> np.ndarray:
    """np.zeros(shape) (float64) for a block of which only some pages will be written."""
    z = np.zeros(shape)
    if NO_HUGEPAGES and sys.platform.startswith("linux") and z.nbytes >= (8 << 20):
        try:
            import ctypes
            import mmap
            libc = ctypes.CDLL(None, use_errno=True)
            addr = z.__array_interface__["data"][0]
            start = -(-addr // mmap.PAGESIZE) * mmap.PAGESIZE
            end = (addr + z.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
            if end > start:
                libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start),
                             _MADV_NOHUGEPAGE)
        except (OSError, AttributeError):  # pragma: no cover - no libc through ctypes
            pass
    return z


class CompactBeta:
    """A batch's coefficients (B, L, p) as each problem's variables that were ever nonzero on its
    path: cols[b] (sorted indices) and vals[b] (L, len(cols[b])). A GPU's results come back so
    (gpu.download_beta): 100 paths at p = 2000 are 80 MB dense, ~30 ms to download on an
    H200 host and ~150 ms more to convert on the host, for a few percent of nonzeros."""

    def __init__(self, shape, cols, vals, df, block=None):
        """df (B, L): nonzeros of every solution. block: every variable (a deep path's), as one
        float64 (B, p, L) array whose views are the fits' beta (one conversion: 100 fits of
        2000 x 83 cost ~130 ms one by one on a VM, ~22 ms at once); cols and vals then None."""
        self.shape = tuple(shape)
        self.df = df
        self.block = block
        self.full = block is not None
        self._zeros = None               # (B, p, L) float64: the moved rows filled (dense())
        if self.full:
            cols = [np.arange(shape[2])] * shape[0]
            vals = [block[b].T for b in range(shape[0])]
        self.cols, self.vals = cols, vals

    def dense(self) -> np.ndarray:
        """(B, p, L) float64: every problem's coefficients, made once for all problems. One zeroed
        block with each problem's moved rows filled (only their pages are touched): a (p, L) array a
        problem, each of its own, cost 2.3x as much here (100 problems at p = 2000: 9.5 against
        4.1 ms on a 2-core VM), in page faults and the allocator's mappings."""
        if self.full:
            return self.block
        if self._zeros is None:
            B, L, p = self.shape
            z = sparse_zeros((B, p, L))
            for b in range(B):
                z[b][self.cols[b], :] = self.vals[b].T
            self._zeros = z
        return self._zeros

    def dot(self, v) -> np.ndarray:
        """(B, L): every solution times v (p,), in float64."""
        v = np.asarray(v, dtype=np.float64)
        if self.full:
            return np.matmul(v, self.block)       # (BLAS: einsum took 6x as long here)
        return np.stack([np.einsum("lk,k->l", vb, v[c], dtype=np.float64)
                         for c, vb in zip(self.cols, self.vals)]) if self.cols else \
            np.zeros(self.shape[:2])


def beta_block(beta, b, k):
    """Problem b's first k solutions as a fit's beta (p, k) float64, and their df (k,). From a
    dense (B, L, p) array: one sequential copy in Fortran order (what R's matrices are); from a
    CompactBeta: a view of its dense() block, zeros with the moved variables' rows filled (C
    order: only their pages touched; Fortran order cost ~1 ms a fit at p = 2000)."""
    if isinstance(beta, CompactBeta):
        return beta.dense()[b][:, :k], beta.df[b, :k].astype(np.int64)
    bk = beta[b, :k]                                   # (k, p), float32 from a GPU
    return bk.T.astype(np.float64, order="K"), np.count_nonzero(bk, axis=1).astype(np.int64)


@dataclass
class PathResult:
    beta: np.ndarray      # (B, L, p) original scale (float32 from a GPU), or a CompactBeta
    a0: np.ndarray        # (B, L)
    lambda_: np.ndarray   # (B, L)
    dev_ratio: np.ndarray # (B, L)
    nulldev_int: np.ndarray  # (B,)
    lmu: np.ndarray       # (B,)
    npasses: np.ndarray   # (B,)
    jerr: np.ndarray      # (B,)
    nobs: np.ndarray      # (B,)
    mode: int
    extra: dict = field(default_factory=dict)   # backend facts for fit.info (GPU rounds, profile)
    nulldev: np.ndarray | None = None   # (B,) gaussian null deviances, where the backend had them

    def set_rows(self, rows, other: "PathResult") -> None:
        """Problems rows of this (dense-beta) result replaced by other's paths, other holding
        just those problems (a retry of them; other's beta dense or a CompactBeta)."""
        ob = other.beta
        self.beta[rows] = np.transpose(ob.dense(), (0, 2, 1)) if isinstance(ob, CompactBeta) \
            else ob
        for name in ("a0", "lambda_", "dev_ratio", "nulldev_int", "lmu", "npasses", "jerr"):
            getattr(self, name)[rows] = getattr(other, name)


def _gpu_irls(fam: int, n: int) -> bool:
    """Whether a binomial/poisson batch on the GPU goes to the host-driven IRLS driver."""
    from .gpu import _glm_driver
    return fam != 0 and _glm_driver(n) == "irls"


def _cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS
        return max(1, os.cpu_count() or 1)


# A sparse x: covariance mode only below this many columns (glmnet's own rule for type.gaussian):
# its Gram from sparse products cost more than the sparse naive path from there on (2-core VM,
# density 1%: 1e4 x 1e3 0.085 against 0.031 s; 5e4 x 5e3 4.2 against 0.17 s)
SPARSE_COV_MAX_P = 500


def choose_mode(family: str, n: int, p: int, type_gaussian: str | None = None,
                sparse: bool = False) -> int:
    """1 = covariance (Gram) updates, 0 = naive (residual) updates."""
    if family != "gaussian":
        return 0
    if type_gaussian == "covariance":
        return 1
    if type_gaussian == "naive":
        return 0
    if sparse:
        return 1 if (p < SPARSE_COV_MAX_P and n >= p) else 0
    # Measured (2-core x86, float64): covariance wins from n >= p on (n=1000, p=1000: 0.15 s vs
    # 0.30 s; n=20000, p=2000: 2.3 s vs 3.6 s), naive when p > n (n=500, p=3000: 0.11 s vs 0.29 s).
    return 1 if (p <= COV_MAX_P and n >= p) else 0


def is_sparse(x) -> bool:
    """x is a scipy.sparse matrix (the API hands the engine compressed columns, api._as_matrix)."""
    return type(x).__module__.startswith("scipy.sparse")


def _rmul(A: np.ndarray, x) -> np.ndarray:
    """A @ x for a dense (B, n) A and x dense or sparse (n, p)."""
    return np.asarray((x.T @ A.T).T) if is_sparse(x) else A @ x


def _weighted_gram(x: np.ndarray, w: np.ndarray, rows=None) -> np.ndarray:
    """X'diag(w)X over the given rows (all when None), in row blocks so that no copy of x is made
    beyond one block. numpy's BLAS: MLX's Linux CPU wheel ships the reference BLAS, ~30x slower
    for this product (DESIGN.md)."""
    n, p = x.shape
    if is_sparse(x):             # (sparse products; the p x p result is dense)
        xs, ws = (x, w) if rows is None else (x[rows], w[rows])
        return np.asarray((xs.T @ xs.multiply(ws[:, None]).tocsc()).toarray(), dtype=np.float64)
    if rows is None and np.all(w == w[0]):
        g = x.T @ x          # syrk on the caller's array, no copy
        g *= w[0]
        return g
    idx = np.flatnonzero(w > 0) if rows is None else rows
    g = np.zeros((p, p))
    step = max(1, min(len(idx), (1 << 22) // max(p, 1)))
    for s in range(0, len(idx), step):
        r = idx[s:s + step]
        xc = x[r] * np.sqrt(w[r])[:, None]
        g += xc.T @ xc
    return g


def gram_stats(x: np.ndarray, y: np.ndarray, W: np.ndarray):
    """Per problem b: raw cross-products X'diag(wn_b)X and [X'wn_b, X'(wn_b y), wn_b'y, wn_b'y^2]
    with wn_b = W[b] / sum(W[b]). When every problem keeps a subset of one weight vector (CV
    folds), the Grams are the full one minus each held-out block: about twice one Gram's cost
    instead of B times."""
    B, n = W.shape
    p = x.shape[1]
    sw = W.sum(axis=1)
    base = W.max(axis=0)
    subset = bool(np.all((W == 0) | (W == base[None, :])))
    grams = np.empty((B, p, p))
    if B > 1 and subset:
        full = _weighted_gram(x, base)
        for b in range(B):
            held = np.flatnonzero((W[b] == 0) & (base > 0))
            grams[b] = full - _weighted_gram(x, base, held) if held.size else full
            grams[b] /= sw[b]
    else:
        for b in range(B):
            grams[b] = _weighted_gram(x, W[b] / sw[b])
    Wn = W / sw[:, None]
    st = np.empty((B, 3 * p + 2))
    st[:, :p] = _rmul(Wn, x)
    yb = np.broadcast_to(y, (B, n))          # one response for all, or one per problem
    st[:, p:2 * p] = _rmul(Wn * yb, x)
    st[:, 2 * p] = (Wn * yb).sum(axis=1)
    st[:, 2 * p + 1] = (Wn * yb * yb).sum(axis=1)
    st[:, 2 * p + 2:] = np.diagonal(grams, axis1=1, axis2=2)
    return grams, st


class _Progress:
    """Shows the number of lambdas solved while the kernel runs (glmnet's trace.it)."""

    def __init__(self, total: int, enabled: bool, label: str = "lambdas", poll: bool = True):
        self.total, self.enabled, self.label, self.poll = total, enabled, label, poll
        self._stop = threading.Event()
        self._thread = None

    def update(self, done: int):
        """Progress told by a host-driven path (the GPU GLM driver) instead of polled."""
        if self.enabled:
            self._draw(done)

    def _draw(self, done: int):
        width = 40
        frac = min(1.0, done / max(self.total, 1))
        bar = "=" * int(width * frac)
        sys.stderr.write(f"\r  |{bar:<{width}}| {int(100 * frac):3d}% ({done}/{self.total} {self.label})")
        sys.stderr.flush()

    def __enter__(self):
        if self.enabled and self.poll:
            from . import _core
            self._base = _core.progress()

            def loop():
                while not self._stop.wait(0.1):
                    self._draw(_core.progress() - self._base)
            self._thread = threading.Thread(target=loop, daemon=True)
            self._thread.start()
        return self

    def finish(self, done: int):
        if self.enabled:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            self.total = done          # the path may stop early (glmnet's rules): that is the end
            self._draw(done)
            sys.stderr.write("\n")
            sys.stderr.flush()

    def __exit__(self, *exc):
        self._stop.set()
        return False


def _is_float32(dtype) -> bool:
    if dtype is None:
        return False
    if isinstance(dtype, mx.Dtype):
        return dtype == mx.float32
    if isinstance(dtype, str):
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        return dtype == "float32"
    if dtype in (np.float32, np.float64):
        return dtype == np.float32
    raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")


# device="auto" with x in host memory (numpy, pandas, an R matrix): the GPU for fits of at least
# this many elements n p (binomial and poisson: GLM; gaussian: GAUSSIAN), else the CPU engine.
# Measured with bench/gpu.py --auto (bench/RESULTS.md, "auto") on the device machine (H100,
# 16-core host), host x in numpy's and R's layouts, device="gpu" against device="cpu", after the
# GPU's host copy became a parallel float32 cast into the device array:
#   GLMs: n p = 1.5e7 and 2e7 the CPU by 1.14-1.21x; every GLM at n p >= 5e7 (six shapes, from
#     1e6 x 50 to 5e4 x 1e3) the GPU by 0.42-0.53 of the CPU's time; 2e5 x 500 0.32-0.51.
#   gaussian: below 1e8 either side by shape (1e5 x 500 1.18, 2e5 x 200 1.11; 5e4 x 1e3 0.83,
#     1e6 x 50 0.72); from 1e8 the GPU (2e5 x 1e3 0.57-0.64, 1e6 x 1e3 0.37-0.47).
# With fewer host cores than 16 the CPU engine is slower and the crossovers lower; x already on
# the device (an mx.array) goes to the GPU whatever its size.
AUTO_GPU_GLM_ELEMENTS = 5e7
AUTO_GPU_GAUSSIAN_ELEMENTS = 1e8


def resolve_device(device, *, x=None, family="gaussian", shape=None, dtype=None) -> str:
    """'cpu' or 'gpu'. device "auto" (or None): the GPU when MLX has a usable one and the fit is
    one it wins (see AUTO_GPU_GLM_ELEMENTS and AUTO_GPU_GAUSSIAN_ELEMENTS): x an mx.array, or a
    fit of at least that many elements n p;
    float64 (dtype) exists on the CPU only. Without x (and shape), any usable GPU."""
    if device is None or device == "auto":
        from .gpu import gpu_available
        if dtype is not None and not _is_float32(dtype):
            return "cpu"
        if not gpu_available():
            return "cpu"
        if x is None or isinstance(x, mx.array):
            return "gpu"
        n, p = shape if shape is not None else np.shape(x)
        least = AUTO_GPU_GAUSSIAN_ELEMENTS if family == "gaussian" else AUTO_GPU_GLM_ELEMENTS
        return "gpu" if float(n) * p >= least else "cpu"
    if isinstance(device, str) and device.lower() in ("cpu", "gpu"):
        if device.lower() == "gpu":
            from . import gpu
            # Metal is used only after its first-use self-check passed (else: warned, CPU)
            if gpu.backend() == "metal" and not gpu._ACTIVE.get("force") and not gpu.metal_ok():
                return "cpu"
        return device.lower()
    if device == mx.cpu:
        return "cpu"
    if device == mx.gpu:
        return resolve_device("gpu")
    raise ValueError(f"device must be 'cpu', 'gpu' or 'auto', got {device!r}")


# glmnet.control()'s parameters that shape a path, at glmnet 4.1's factory values: fdev (the
# deviance-change stop), devmax (the deviance-ratio stop), eps (the smallest lambda.min.ratio),
# mnlam (solutions before any early stop) and pmin (the binomial probability clamp and IRLS weight
# floor). mlxs_glmnet.glmnet_control() changes them; the R package passes R's glmnet.control()
# values with every call, so that they act as they act on glmnet.
CONTROL_DEFAULTS = {"fdev": 1e-5, "devmax": 0.999, "eps": 1e-6, "mnlam": 5, "pmin": 1e-9}
CONTROL = dict(CONTROL_DEFAULTS)


def kernel_params(*, n, p, B, fam, mode, nlam, ulam, intercept, standardize, maxit, dfmax, pmax,
                  alpha, flmin, thresh, fdev, lower, upper):
    """The kernel's small inputs, the same for every backend: user lambdas, the int parameters,
    the per-problem real parameters and the limits (see path.kern's header). devmax, mnlam and
    pmin come from CONTROL."""
    ul = np.asarray(ulam if ulam is not None else [0.0], dtype=np.float64)
    ip = np.array([n, p, int(nlam), fam, mode, int(ulam is not None), int(intercept),
                   int(standardize), int(maxit), int(dfmax), int(pmax), p, 0, 0, 0,
                   int(CONTROL["mnlam"])], dtype=np.int32)
    dp = np.stack([np.full(B, alpha), np.asarray(flmin, dtype=np.float64) * np.ones(B),
                   np.full(B, thresh), np.full(B, fdev), np.full(B, float(CONTROL["devmax"])),
                   np.full(B, float(CONTROL["pmin"]))], axis=1)
    cl = np.stack([np.maximum(lower, -BIG), np.minimum(upper, BIG)])
    return ul, ip, dp, cl


def chkvars(x, excluded, intercept, standardize) -> np.ndarray:
    """The variables the kernels leave out: excluded, and without intercept and standardisation
    (glmnet's chkvars) every column constant over all rows; the kernel keeps the others (one
    constant only over the positive-weight rows acts as an intercept)."""
    if not intercept and not standardize:
        return excluded | _constant_columns(x)
    return excluded


def path_result(arrays, mode) -> PathResult:
    """The kernel's first six outputs (numpy) as a PathResult: float64, except beta (see below)."""
    beta, a0, lam, dev, nd, info = arrays
    # beta stays in the kernel's type: the caller converts each problem's (L, p) block once (for
    # 100 problems at p = 2000 a whole float64 copy costs ~100 ms on the host)
    return PathResult(beta=beta, a0=a0.astype(np.float64),
                      lambda_=lam.astype(np.float64), dev_ratio=dev.astype(np.float64),
                      nulldev_int=nd.astype(np.float64), lmu=info[:, 0], npasses=info[:, 1],
                      jerr=info[:, 2], nobs=info[:, 3], mode=mode)


def _constant_columns(x) -> np.ndarray:
    """Columns of x (numpy or mx.array, n x p) equal to their first row everywhere."""
    if isinstance(x, mx.array):
        return np.array(mx.all(x == x[:1], axis=0))
    if is_sparse(x):                     # (compressed columns: all zero, or n equal values)
        nnz = np.diff(x.indptr)
        out = nnz == 0
        full = np.flatnonzero(nnz == x.shape[0])
        for j in full:
            v = x.data[x.indptr[j]:x.indptr[j + 1]]
            out[j] = bool((v == v[0]).all())
        return out
    return (np.asarray(x) == np.asarray(x)[:1]).all(axis=0)


def sample_rows(n, k=1024):
    """At most k row numbers spread over range(n) with no period (a multiplicative hash): a
    sample of rows that a regular pattern in the data does not fool."""
    if n <= k:
        return np.arange(n)
    return np.sort((np.arange(k, dtype=np.int64) * 2654435761) % n)


def transposed_copy(a):
    """a.T (float64, C-contiguous) copied a block of 1024 rows of a at a time (100 responses of
    2e4 rows on a 2-core VM: 4.5 ms in one strided copy, 2.6 ms in blocks)."""
    out = np.empty(a.shape[::-1], dtype=np.float64)
    for r in range(0, a.shape[0], 1024):
        out[:, r:r + 1024] = a[r:r + 1024].T
    return out


def run_paths(x, y, W, O, *, family, alpha, nlam, flmin, ulam, standardize, intercept, thresh,
              maxit, dfmax, pmax, pf, lower, upper, excluded, mode, fdev=1e-5, device="cpu", dtype=None,
              trace_it=0, unit_weights=False) -> PathResult:
    """Run B path problems sharing x (n, p): y (n,) or (B, n), weights W (B, n), offsets O (B, n).

    Gaussian offsets are subtracted from y by the caller. flmin is per problem (B,).
    unit_weights: the caller knows W to be all ones (the GPU driver then skips its passes over W).
    O None: no offsets (the GPU drivers make no host zeros for them: 11 x 1e6 cost
    milliseconds, and as many to upload)."""
    n, p = x.shape
    B = W.shape[0]
    fam = FAMILIES[family]
    if y.ndim == 2 and not y.flags.c_contiguous and \
            not (device == "gpu" and mode == 1 and fam == 0):
        y = transposed_copy(y.T)     # (the GPU's covariance driver reads y.T in place)
    if O is None and device != "gpu":
        O = np.zeros((B, n))
    L = int(nlam)
    if isinstance(W, FoldBatch) and not (device == "gpu" and (mode == 1 or _gpu_irls(fam, n))):
        W = W.dense()              # (the GPU's covariance and IRLS drivers work from the folds)
    excluded = chkvars(x, excluded, intercept, standardize)
    params = kernel_params(n=n, p=p, B=B, fam=fam, mode=mode, nlam=L, ulam=ulam,
                           intercept=intercept, standardize=standardize, maxit=maxit,
                           dfmax=dfmax, pmax=pmax, alpha=alpha, flmin=flmin, thresh=thresh,
                           fdev=fdev, lower=lower, upper=upper)
    if device == "gpu":
        if dtype is not None and not _is_float32(dtype):
            raise ValueError("dtype: MLX GPUs compute in float32 only; use dtype='float32' or device='cpu'")
        from . import gpu
        with _Progress(B * L, bool(trace_it) and fam != 0, poll=False) as prog:
            res = gpu.run_paths_gpu(x, y, W, O, pf=pf, excluded=excluded, mode=mode, nlam=L,
                                    params=params, intercept=intercept, progress=prog.update,
                                    unit_weights=unit_weights)
            prog.finish(int(res.lmu.sum()))
        return res
    # the CPU engine's arrays on the CPU whatever MLX's default device is: float64 exists there
    # only (with a CUDA or Metal GPU as the default, mx.zeros(..., float64) raises)
    with mx.stream(mx.cpu):
        return _run_paths_cpu(x, y, W, O, params, n=n, p=p, B=B, L=L, pf=pf, excluded=excluded,
                              mode=mode, dtype=dtype, trace_it=trace_it)


def _run_paths_cpu(x, y, W, O, params, *, n, p, B, L, pf, excluded, mode, dtype, trace_it):
    if isinstance(x, mx.array):          # a device array meets the CPU engine: one host copy
        x = np.asarray(np.array(x), dtype=np.float64)   # (float64 exists on the CPU only)
        if not np.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values")
    dt = mx.float32 if _is_float32(dtype) else mx.float64
    npdt = np.float32 if dt == mx.float32 else np.float64
    from . import _core

    def arr(a, d=dt):
        return mx.array(np.ascontiguousarray(a, dtype=npdt if d == dt else np.int32), dtype=d)

    ul, ip, dp, cl = params
    grams = gst = None
    if mode == 1:
        grams, gst = gram_stats(x, y, W)
    Y = np.broadcast_to(y, (B, n))
    # Fewer problems than cores: the cores share each problem (naive mode, where every coordinate
    # update is O(n); with n below ~2000 the barriers cost more than the split saves).
    cores = _cpu_threads()
    block_threads = max(1, cores // B) if (mode == 0 and n >= BLOCK_SPLIT_MIN_N) else 1
    if host_call() or is_sparse(x):        # (a sparse x: the host call only; one thread a problem)
        return _run_paths_host(x, Y, W, O, params, grams=grams, gst=gst, p=p, B=B, L=L, pf=pf,
                               excluded=excluded, npdt=npdt, cores=cores,
                               block_threads=block_threads, trace_it=trace_it, mode=mode)
    if mode == 1:
        xin = mx.zeros((1,), dtype=dt)
        gin, gsin = arr(grams), arr(gst)
    else:
        # The one copy of x: (p, n) row-major = column-major x. For a Fortran-ordered x (what R
        # hands over) x.T is C-contiguous, so numpy makes no copy before this one.
        xt = x.T
        if xt.dtype != npdt or not xt.flags.c_contiguous:
            xin = mx.array(np.ascontiguousarray(xt, dtype=npdt), dtype=dt)
        else:
            xin = mx.array(xt, dtype=dt)
        gin, gsin = mx.zeros((1,), dtype=dt), mx.zeros((1,), dtype=dt)
    inputs = [xin, arr(Y), arr(W), arr(O), gin, gsin, arr(pf), arr(cl),
              arr(excluded.astype(np.int32), mx.int32), arr(ul), arr(ip, mx.int32), arr(dp),
              arr(np.arange(p), mx.int32),    # every Gram column present, in order
              mx.zeros((1,), dt), mx.zeros((1,), mx.int32), mx.zeros((1,), dt),
              mx.zeros((1,), dt)]             # (no resume on the CPU)
    outs = _core.glmnet_path(inputs, L, nthreads=cores, block_threads=block_threads, stream=mx.cpu)
    with _Progress(B * L, bool(trace_it)) as prog:
        mx.eval(*outs[:6])
        res = [np.array(o) for o in outs[:6]]
        prog.finish(int(res[5][:, 0].sum()))
    return path_result(res, mode)


# How the CPU engine calls the kernel. "host" (the default): _core.glmnet_path_host runs it on
# numpy's buffers, now, on the calling thread and its helpers. "mlx": _core.glmnet_path, the same
# kernel as an MLX primitive in MLX's lazy graph. Measured on a 2-core VM at stop 21 (README, "How
# it works"; bench/RESULTS_GPU.md, "Stop 21"), the host call was never slower: a 32 x 10 path
# 0.47 -> 0.27 ms (MLX's 17 input arrays, graph and scheduler cost ~0.2 ms), 1e5 x 50 naive
# 103 -> 82-91 ms (no copy of an F-ordered x: x.T is the kernel's (p, n) layout as it is).
CPU_CALL = os.environ.get("MLXS_CPU_CALL", "host")


def host_call() -> bool:
    """Whether the CPU engine's kernel runs through _core.glmnet_path_host (see CPU_CALL)."""
    if CPU_CALL not in ("host", "mlx"):
        raise ValueError(f"MLXS_CPU_CALL must be 'host' or 'mlx', got {CPU_CALL!r}")
    return CPU_CALL == "host"


def kernel_host(inputs, *, B, L, p, nthreads, block_threads=1, sparse=None):
    """Run the path kernel now through _core.glmnet_path_host on numpy arrays: the 17 inputs of
    _core.glmnet_path, C-contiguous, x's float dtype (int32 where the kernel reads ints);
    sparse: (indptr, indices) int32 of a compressed-column x whose non-zeros are inputs[0].
    Returns its six outputs (beta (B, L, p), a0, lambda, dev_ratio (B, L), nulldev (B,),
    info (B, 4) int32), zero past each path's end."""
    from . import _core
    dt = inputs[0].dtype
    outs = [np.empty((B, L, p), dt), np.empty((B, L), dt), np.empty((B, L), dt),
            np.empty((B, L), dt), np.empty(B, dt), np.empty((B, 4), np.int32)]   # (zeroed there)
    sp_p, sp_i = (None, None) if sparse is None else sparse
    _core.glmnet_path_host(inputs, outs, L, nthreads=nthreads, block_threads=block_threads,
                           sp_indptr=sp_p, sp_indices=sp_i)
    return outs


def _run_paths_host(x, Y, W, O, params, *, grams, gst, p, B, L, pf, excluded, npdt, cores,
                    block_threads, trace_it, mode):
    def c(a, d=npdt):
        return np.ascontiguousarray(a, dtype=d)
    ul, ip, dp, cl = params
    z, zi = np.zeros(1, dtype=npdt), np.zeros(1, dtype=np.int32)
    sparse = None
    if mode == 1:
        xin, gin, gsin = z, c(grams), c(gst)
    elif is_sparse(x):                   # compressed columns: the non-zeros and their positions
        xin, gin, gsin = c(x.data), z, z
        sparse = (c(x.indptr, np.int32), c(x.indices, np.int32))
    else:
        xin, gin, gsin = c(x.T), z, z       # (an F-ordered float64 x: no copy)
    inputs = [xin, c(Y), c(W), c(O), gin, gsin, c(pf), c(cl), c(excluded, np.int32), c(ul),
              c(ip, np.int32), c(dp), np.arange(p, dtype=np.int32), z, zi, z, z]
    with _Progress(B * L, bool(trace_it)) as prog:
        outs = kernel_host(inputs, B=B, L=L, p=p, nthreads=cores, block_threads=block_threads,
                           sparse=sparse)
        prog.finish(int(outs[5][:, 0].sum()))
    return path_result(outs, mode)
