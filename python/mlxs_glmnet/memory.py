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
"""
from __future__ import annotations

import os
import re

ENV = "MLXS_GLMNET_MEMORY_BUDGET"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
SMALL = 256 << 20   # below this estimate the available memory is not looked up (no env budget)


def parse_bytes(text: str) -> int:
    """'123', '512M', '1.5G', '2 GiB' -> bytes."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*", str(text),
                     flags=re.IGNORECASE)
    if m is None:
        raise ValueError(f"{ENV} must be a number of bytes, optionally with a suffix K, M, G or T "
                         f"(e.g. '512M'), got {text!r}")
    value = float(m.group(1)) * _UNITS[m.group(2).upper()]
    if not value > 0:
        raise ValueError(f"{ENV} must be positive, got {text!r}")
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


def estimate_bytes(mode: int, n: int, p: int, B: int, L: int, real_bytes: int = 8) -> int:
    """Bytes the engine allocates for one call, beyond the caller's arrays (see the module doc)."""
    common = real_bytes * (B * L * (p + 4) + B * (10 * p + 4 * n) + 3 * B * n + 2 * p) + 4 * 6 * B * p
    if mode == 1:
        grams = 8 * p * p * (B + (2 if B > 1 else 0))   # numpy float64 Grams (+ full and held-out)
        return common + grams + real_bytes * B * p * p  # + the copy handed to MLX
    return common + real_bytes * n * p


def _fmt(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return f"{b:.1f} TiB"  # pragma: no cover


def plan(mode: int, n: int, p: int, B: int, L: int, *, forced: bool = False,
         real_bytes: int = 8) -> int:
    """The mode to run (1 covariance, 0 naive) within the memory budget, or MemoryError."""
    need = estimate_bytes(mode, n, p, B, L, real_bytes)
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
        lean = estimate_bytes(0, n, p, B, L, real_bytes)
        if lean <= budget:
            return 0
        need = lean
    raise MemoryError(f"the fit needs about {_fmt(need)} of working memory {where}; "
                      "fit fewer lambdas (nlambda) or problems at once, or use fewer columns")
