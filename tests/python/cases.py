"""The family x option grid shared by test_parity.py (vs R glmnet) and test_kkt.py (own KKT).

Every case is small (n <= 300, p <= 80) so that the whole grid fits comfortably in the test
budget; the options are those of glmnet 4.1's ``glmnet()`` that the engine must match."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datagen import make_data, make_weights
from objective import Problem

THRESH = 1e-12
FAMILIES = ("gaussian", "binomial", "poisson")


@dataclass
class Case:
    name: str
    family: str
    x: np.ndarray
    y: np.ndarray
    kwargs: dict = field(default_factory=dict)
    # coefficient tolerance on glmnet's internal scale; p > n paths end nearly interpolating,
    # where objectives agree to 1e-9 while coefficients may differ by ~1e-4 (both solutions
    # satisfying KKT to ~1e-6), so those cases get a looser bound
    coef_tol: float = 1e-4


def _pf(p, rng):
    pf = rng.uniform(0.5, 2.0, p)
    pf[[0, 3]] = 0.0            # two unpenalised variables
    return pf


def _cases_for(family, base_seed):
    out = []
    fam = family[:3]

    def add(opt, n=150, p=12, seed=0, offset=False, **kw):
        x, y, off = make_data(family, n, p, base_seed + seed, with_offset=offset)
        if offset:
            kw["offset"] = off
        out.append(Case(f"{fam}-{opt}", family, x, y, kw, coef_tol=1e-4 if n > p else 2e-3))

    rng = np.random.default_rng(base_seed)
    add("default")
    add("weights", seed=1, weights=make_weights(150, base_seed + 1))
    add("offset", seed=2, offset=True)
    add("penalty_factor_zeros", seed=3, penalty_factor=_pf(12, rng))
    lo = np.full(12, -np.inf)
    hi = np.full(12, np.inf)
    lo[[1, 2, 5]] = [-0.05, -0.2, 0.0]
    hi[[4, 6, 7]] = [0.03, 0.0, 0.1]
    add("limits", seed=4, lower_limits=lo, upper_limits=hi)
    add("lower_limits_zero", seed=5, lower_limits=0.0)          # glmnet then sets fdev = 0
    add("exclude", seed=6, exclude=[1, 4, 9])
    pfx = np.ones(12)
    pfx[[1, 2, 4]] = [0.0, 3.0, 5.0]
    add("exclude_with_penalty_factor", seed=7, exclude=[2, 4], penalty_factor=pfx)
    add("no_intercept", seed=8, intercept=False)
    add("no_standardize", seed=9, standardize=False)
    add("no_intercept_no_standardize", seed=10, intercept=False, standardize=False)
    add("alpha0", seed=11, alpha=0.0)
    add("alpha05", seed=12, alpha=0.5)
    add("alpha1", seed=13, alpha=1.0)
    add("alpha02_weights_offset", seed=14, alpha=0.2, offset=True,
        weights=make_weights(150, base_seed + 14))
    # user lambda: a decreasing grid that reaches below the default end of the path
    add("user_lambda", seed=15, lambda_=np.exp(np.linspace(np.log(0.5), np.log(0.002), 25)))
    add("user_lambda_single", seed=16, lambda_=np.array([0.05]))
    add("p_gt_n", n=40, p=80, seed=17)
    add("p_gt_n_alpha05", n=40, p=80, seed=18, alpha=0.5)
    add("dfmax", n=100, p=30, seed=19, dfmax=6)
    add("pmax", n=100, p=30, seed=20, pmax=8)
    add("nlambda_lmr", seed=21, nlambda=30, lambda_min_ratio=0.05)
    add("n300_p50", n=300, p=50, seed=22)
    wz = make_weights(150, base_seed + 24)
    wz[::7] = 0.0                                   # rows with weight zero (glmnet drops them)
    add("zero_weights", seed=24, weights=wz)
    out.append(_constant_column_case(family, fam, base_seed + 25))
    add("combo_weights_pf_nostd_limits", seed=23, weights=make_weights(150, base_seed + 23),
        penalty_factor=_pf(12, rng), standardize=False, alpha=0.7,
        lower_limits=np.where(np.arange(12) % 4 == 1, -0.1, -np.inf))
    return out


def _constant_column_case(family, fam, seed):
    x, y, _ = make_data(family, 150, 12, seed)
    x[:, 4] = 2.5                                  # zero variance: glmnet leaves it out (ju = 0)
    return Case(f"{fam}-constant_column", family, x, y, {})


CASES = [c for i, f in enumerate(FAMILIES) for c in _cases_for(f, 100 * (i + 1))]


def problem_for(case):
    kw = case.kwargs
    return Problem(case.x, case.y, case.family, weights=kw.get("weights"), offset=kw.get("offset"),
                   alpha=kw.get("alpha", 1.0), standardize=kw.get("standardize", True),
                   intercept=kw.get("intercept", True), penalty_factor=kw.get("penalty_factor"),
                   exclude=kw.get("exclude"), lower_limits=kw.get("lower_limits", -np.inf),
                   upper_limits=kw.get("upper_limits", np.inf))
