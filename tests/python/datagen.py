"""Synthetic data for the parity tests: correlated Gaussian columns with different means and
scales, a sparse true coefficient vector, responses for each family."""
from __future__ import annotations

import numpy as np


def make_x(n, p, seed, rho=0.4):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, p))
    common = rng.standard_normal((n, 1))
    x = np.sqrt(1 - rho) * z + np.sqrt(rho) * common            # equicorrelated
    x = x * rng.uniform(0.3, 3.0, p) + rng.uniform(-2.0, 2.0, p)  # scales and means differ
    return x


def make_data(family, n, p, seed, *, signal=1.0, with_offset=False):
    rng = np.random.default_rng(seed + 1000)
    x = make_x(n, p, seed)
    k = min(p, 5)
    beta = np.zeros(p)
    beta[rng.choice(p, k, replace=False)] = rng.choice([-1.0, 1.0], k) * rng.uniform(0.3, 1.0, k)
    xs = (x - x.mean(0)) / x.std(0)
    eta = signal * (xs @ beta) / np.sqrt(k)
    offset = rng.uniform(-0.5, 0.5, n) if with_offset else None
    if family == "gaussian":
        y = 2.0 + 3.0 * eta + rng.standard_normal(n) * 1.5
        if offset is not None:
            y = y + offset
    elif family == "binomial":
        e = eta + (offset if offset is not None else 0.0)
        y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-e))).astype(np.float64)
    elif family == "poisson":
        e = 0.5 * eta + 0.3 + (offset if offset is not None else 0.0)
        y = rng.poisson(np.exp(e)).astype(np.float64)
    else:
        raise ValueError(family)
    return x, y, offset


def make_weights(n, seed):
    rng = np.random.default_rng(seed + 2000)
    return rng.uniform(0.2, 3.0, n)
