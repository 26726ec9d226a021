"""Memory budget: the engine's working memory is estimated before anything is allocated.

A fit must never end in an out-of-memory kill. Before the engine runs, ``plan()`` estimates the
bytes the call will allocate beyond the caller's own arrays, for the mode the engine chose:

* covariance (Gram) mode: one (p, p) Gram per problem, computed in numpy and copied once into
  MLX (2 B p^2 values), plus the full-data Gram and one held-out block for CV batches;
* naive mode: one copy of x (n p values) in MLX;
* both: the results (B L p coefficients, a few B L vectors), the kernel's scratch (B (10 p + 4 n)
  reals, 6 B p ints) and the per-problem inputs (y, weights, offsets: 3 B n).

and compares it with the budget: the environment variable ``MLXS_GLMNET_MEMORY_BUDGET`` (bytes,
or with a suffix K, M, G, T: ``"512M"``, ``"4G"``), else the memory the operating system reports
as available (``MemAvailable`` on Linux, physical memory elsewhere); no check when neither is
known. When covariance mode would not fit but naive mode would, the engine switches to naive mode
(unless the caller forced ``type_gaussian="covariance"``, which then is an error); when even naive
mode would not fit, a ``MemoryError`` says how much is needed and how much the budget allows.

A GPU fit (float32) is planned against the GPU's memory as well (``plan_gpu``): x's float32 copy
on the device (none for a device x in covariance mode or IRLS; its transpose in naive mode), the
fold-grouped copy of x of a CV batch in covariance mode, the Gram columns, and for the IRLS
driver (binomial/poisson at n >= 30000) its strong columns of x (up to every column) with the
bfloat16 weighted copies its Gram refreshes make, and its kept Grams; plus the results and the
kernel's scratch. The budget is ``MLXS_GLMNET_GPU_MEMORY_BUDGET`` if set, else the free memory MLX
reports for the GPU (plus what MLX holds in its cache), else its total memory less what MLX has in
use; no check when none is known. ``device="auto"`` then takes the CPU; an explicit
``device="gpu"`` raises ``MemoryError`` before anything reaches the device.
"""
from __future__ import annotations

import os
import re

ENV = "MLXS_GLMNET_MEMORY_BUDGET"
GPU_ENV = "MLXS_GLMNET_GPU_MEMORY_BUDGET"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
SMALL = 256 << 20   # below this estimate the available memory is not looked up (no env budget)


def parse_bytes(text: str, name: str = ENV) -> int:
    """'123', '512M', '1.5G', '2 GiB' -> bytes (name: the variable it came from, for errors)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*", str(text),
                     flags=re.IGNORECASE)
    if m is None:
        raise ValueError(f"{name} must be a number of bytes, optionally with a suffix K, M, G or T "
                         f"(e.g. '512M'), got {text!r}")
    value = float(m.group(1)) * _UNITS[m.group(2).upper()]
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {text!r}")
    return int(value)


def _available_bytes():
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return None


def budget_bytes():
    """The budget in bytes (None: unknown, no check)."""
    env = os.environ.get(ENV, "").strip()
    if env:
        return parse_bytes(env)
    return _available_bytes()


def estimate_bytes(mode: int, n: int, p: int, B: int, L: int, real_bytes: int = 8,
                   x_copy: bool = True) -> int:
    """Bytes the engine allocates for one call, beyond the caller's arrays (see the module doc).
    x_copy False: naive mode reads x where it is (a sparse x: its non-zeros as given)."""
    common = real_bytes * (B * L * (p + 4) + B * (10 * p + 4 * n) + 3 * B * n + 2 * p) + 4 * 6 * B * p
    if mode == 1:
        grams = 8 * p * p * (B + (2 if B > 1 else 0))   # numpy float64 Grams (+ full and held-out)
        return common + grams + real_bytes * B * p * p  # + the copy handed to MLX
    return common + (real_bytes * n * p if x_copy else 0)


def _fmt(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return f"{b:.1f} TiB"  # pragma: no cover


def plan(mode: int, n: int, p: int, B: int, L: int, *, forced: bool = False,
         real_bytes: int = 8, x_copy: bool = True) -> int:
    """The mode to run (1 covariance, 0 naive) within the memory budget, or MemoryError."""
    need = estimate_bytes(mode, n, p, B, L, real_bytes, x_copy)
    if need < SMALL and not os.environ.get(ENV, "").strip():
        return mode                     # not worth reading /proc/meminfo (~50 us) for small fits
    budget = budget_bytes()
    if budget is None or need <= budget:
        return mode
    where = (f"(n={n}, p={p}, {B} problem(s), {L} lambdas; budget {_fmt(budget)}: "
             f"{ENV} or the available memory)")
    if mode == 1:
        if forced:
            raise MemoryError(
                f"type_gaussian='covariance' needs about {_fmt(need)} for the Gram matrices {where}; "
                "use type_gaussian='naive' (no Gram) or raise the budget")
        lean = estimate_bytes(0, n, p, B, L, real_bytes, x_copy)
        if lean <= budget:
            return 0
        need = lean
    raise MemoryError(f"the fit needs about {_fmt(need)} of working memory {where}; "
                      "fit fewer lambdas (nlambda) or problems at once, or use fewer columns")


def gpu_budget_bytes():
    """Bytes of GPU memory a fit may use (None: unknown, no check); see the module doc."""
    env = os.environ.get(GPU_ENV, "").strip()
    if env:
        return parse_bytes(env, GPU_ENV)
    import mlx.core as mx
    try:
        info = mx.device_info(mx.gpu)
    except Exception:                  # (no GPU device, or an MLX without device_info)
        return None
    free = info.get("free_memory")                                   # CUDA (system-wide)
    if isinstance(free, int) and free > 0:
        return free + mx.get_cache_memory()
    total = info.get("max_recommended_working_set_size") or info.get("total_memory") \
        or info.get("memory_size")                                   # Metal; CUDA without free
    if isinstance(total, int) and total > 0:
        return max(total - mx.get_active_memory(), 0)
    return None


def estimate_gpu_bytes(mode: int, n: int, p: int, B: int, L: int, *, x_resident: bool = False,
                       irls: bool = False, folds: bool = False) -> int:
    """float32 bytes a GPU fit allocates on the device (see the module doc). x_resident: x is a
    float32 device array already; folds: a batch whose problems weigh rows differently (CV)."""
    npf = float(n) * p
    # (a device x is used as it is in covariance mode and by the IRLS driver; naive mode's kernel
    # reads its transpose)
    x = 0.0 if (x_resident and (mode == 1 or irls)) else npf
    if irls:
        work = 2.0 * npf + B * float(p) * p
    elif mode == 1:
        work = (npf if folds else 0.0) + (B if folds else 1) * float(p) * p
    else:
        work = 0.0
    common = 2.0 * B * L * (p + 4) + B * (10.0 * p + 16 + 4 * n) + 6.0 * B * p + 4.0 * B * n
    return int(4 * (x + work + common))


def plan_gpu(mode: int, n: int, p: int, B: int, L: int, *, asked: bool, x_resident: bool = False,
             irls: bool = False, folds: bool = False) -> str:
    """'gpu' when the fit fits the GPU's budget (or nothing is known), else 'cpu' when the device
    was chosen automatically, else (asked: device="gpu") MemoryError."""
    need = estimate_gpu_bytes(mode, n, p, B, L, x_resident=x_resident, irls=irls, folds=folds)
    if need < SMALL and not os.environ.get(GPU_ENV, "").strip():
        return "gpu"
    budget = gpu_budget_bytes()
    if budget is not None and need > budget and not os.environ.get(GPU_ENV, "").strip():
        # MLX's freed buffers go back to CUDA's stream-ordered pool, which the driver counts as
        # used until it trims the pool at a synchronisation (found on an H100: a 7.5 GiB fit
        # refused with 5 GiB "free" of 80, the rest held for earlier fits of the process)
        import mlx.core as mx
        mx.clear_cache()
        mx.synchronize()
        budget = gpu_budget_bytes()
    if budget is None or need <= budget:
        return "gpu"
    if not asked:
        return "cpu"
    raise MemoryError(
        f"device='gpu': the fit needs about {_fmt(need)} of GPU memory (n={n}, p={p}, {B} "
        f"problem(s), {L} lambdas; budget {_fmt(budget)}: {GPU_ENV} or the GPU's free memory); "
        "use device='cpu' or 'auto', or fit fewer problems or columns at once")
