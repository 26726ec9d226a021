"""glmnet's penalized objective and KKT conditions, written independently of the engine.

The exact objective that R glmnet 4.1 minimises was settled by experiment (KKT residuals of
glmnet's own solutions at thresh=1e-14, weights, offsets, alpha=0.3, with/without standardize and
intercept, limits and penalty factors: the definition below leaves residuals of 1e-10 .. 2e-7 on
glmnet's internal scale, the alternatives -- y sd centred vs uncentred vs none, x sd centred vs
uncentred without intercept, penalty on raw vs standardised coefficients -- 5e-2 .. 0.8):

* weights are normalised to sum to 1: ``w_i = weights_i / sum(weights)``; (equivalently, the usual
  ``1/(2n) sum w_i ...`` with weights summing to n);
* ``sd_j`` = weighted standard deviation of column j with the 1/n (weighted) variance, ALWAYS
  centred (also when ``intercept=FALSE``), and ``sd_j = 1`` when ``standardize=FALSE``;
  the penalty acts on ``sd_j * beta_j`` (the coefficient of the standardised column);
* ``pf`` = penalty.factor with excluded variables' entries first set to 1 (glmnet does
  ``penalty.factor[exclude] = 1``), then rescaled to sum to nvars;
* gaussian: glmnet divides y (after subtracting the offset) by ``ys`` = weighted sd of y
  (centred when intercept=TRUE, the uncentred root-mean-square ``sqrt(sum w y^2)`` when
  intercept=FALSE) and lambda by ys; on the original scale this leaves the lasso part unchanged
  but divides the ridge part by ys::

      F = 1/2 sum w (y - off - b0 - x b)^2
          + lam * sum_j pf_j [ (1-alpha)/(2 ys) (sd_j b_j)^2 + alpha |sd_j b_j| ]

* binomial / poisson (no response scaling)::

      F = -sum w loglik_i(eta_i) + lam * sum_j pf_j [ (1-alpha)/2 (sd_j b_j)^2 + alpha |sd_j b_j| ]

  with ``eta = off + b0 + x b``; binomial loglik ``y eta - log(1 + e^eta)``, poisson
  ``y eta - e^eta``; ``loss()`` adds the saturated log-likelihood so that the data term is the
  weighted deviance / 2 (>= 0), which makes relative objective gaps meaningful.
"""
from __future__ import annotations

import numpy as np


class Problem:
    """The data and options of one fit, in glmnet's definitions (all original-scale)."""

    def __init__(self, x, y, family="gaussian", *, weights=None, offset=None, alpha=1.0,
                 standardize=True, intercept=True, penalty_factor=None, exclude=None,
                 lower_limits=-np.inf, upper_limits=np.inf):
        x = np.asarray(x, dtype=np.float64)
        n, p = x.shape
        self.x, self.family, self.alpha = x, family, float(alpha)
        self.y = np.asarray(y, dtype=np.float64)
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        self.w = w / w.sum()
        self.off = np.zeros(n) if offset is None else np.asarray(offset, dtype=np.float64)
        self.intercept = intercept
        xm = self.w @ x
        self.sd = np.sqrt(self.w @ (x - xm) ** 2) if standardize else np.ones(p)
        pf = np.ones(p) if penalty_factor is None else np.array(penalty_factor, dtype=np.float64)
        self.excluded = np.zeros(p, dtype=bool)
        if exclude is not None and len(exclude):
            self.excluded[np.asarray(exclude, dtype=int)] = True
            pf[self.excluded] = 1.0
        self.pf = pf * p / pf.sum()
        # glmnet leaves out constant columns (zero weighted variance) altogether
        self.excluded |= np.sqrt(self.w @ (x - xm) ** 2) <= 1e-10 * np.maximum(1.0, np.abs(xm))
        self.lo = np.broadcast_to(np.asarray(lower_limits, dtype=np.float64), (p,)).copy()
        self.hi = np.broadcast_to(np.asarray(upper_limits, dtype=np.float64), (p,)).copy()
        if family == "gaussian":
            yy = self.y - self.off
            if intercept:
                self.ys = np.sqrt(self.w @ (yy - self.w @ yy) ** 2)
            else:
                self.ys = np.sqrt(self.w @ yy ** 2)
        else:
            self.ys = 1.0

    # ---------------------------------------------------------------------------------------
    def eta(self, b0, b):
        return self.off + b0 + self.x @ b

    def loss(self, b0, b):
        """Smooth data term = weighted deviance / 2 (weights summing to 1), so that it is >= 0
        and relative objective gaps are meaningful."""
        eta = self.eta(b0, b)
        y = self.y
        if self.family == "gaussian":
            return 0.5 * self.w @ (y - eta) ** 2
        if self.family == "binomial":
            ll = y * eta - np.logaddexp(0.0, eta)
            with np.errstate(divide="ignore", invalid="ignore"):
                sat = np.where((y > 0) & (y < 1), y * np.log(y) + (1 - y) * np.log1p(-y), 0.0)
            return self.w @ (sat - ll)
        if self.family == "poisson":
            ll = y * eta - np.exp(eta)
            with np.errstate(divide="ignore", invalid="ignore"):
                sat = np.where(y > 0, y * np.log(y) - y, 0.0)
            return self.w @ (sat - ll)
        raise ValueError(self.family)

    def penalty(self, lam, b):
        sb = self.sd * b
        ridge = (1 - self.alpha) / (2 * self.ys) * sb ** 2
        return lam * np.sum(self.pf * (ridge + self.alpha * np.abs(sb)))

    def objective(self, lam, b0, b):
        return self.loss(b0, b) + self.penalty(lam, b)

    def mean(self, eta):
        if self.family == "gaussian":
            return eta
        if self.family == "binomial":
            return 1.0 / (1.0 + np.exp(-eta))
        return np.exp(eta)

    def kkt_violation(self, lam, b0, b):
        """Largest KKT violation at (b0, b), in the units of glmnet's internal problem
        (standardised columns, y divided by ys for gaussian): returns (worst, j, detail) where
        j is the worst variable (-1 = the intercept)."""
        mu = self.mean(self.eta(b0, b))
        r = self.w * (self.y - mu)
        g = -(r @ self.x)                                   # gradient of the smooth part
        h = g + lam * self.pf * (1 - self.alpha) / self.ys * self.sd ** 2 * b
        t = lam * self.alpha * self.pf * self.sd
        eps = 1e-12 * np.maximum(1.0, np.maximum(np.abs(self.lo), np.abs(self.hi)).clip(max=1e6))
        at_lo = b <= self.lo + eps
        at_hi = b >= self.hi - eps
        v = np.zeros_like(b)
        nz = b != 0
        # interior non-zero: stationarity
        inter = nz & ~at_lo & ~at_hi
        v[inter] = np.abs(h[inter] + t[inter] * np.sign(b[inter]))
        # zero, strictly inside the box: subgradient bound
        z = ~nz & ~at_lo & ~at_hi
        v[z] = np.maximum(np.abs(h[z]) - t[z], 0)
        # zero sitting on a limit (lo = 0 or hi = 0)
        zl = ~nz & at_lo & ~at_hi
        v[zl] = np.maximum(-h[zl] - t[zl], 0)              # need h >= -t
        zh = ~nz & at_hi & ~at_lo
        v[zh] = np.maximum(h[zh] - t[zh], 0)               # need h <= t
        # non-zero on a limit
        nl = nz & at_lo
        v[nl] = np.maximum(-(h[nl] + t[nl] * np.sign(b[nl])), 0)   # need h + t*sign >= 0
        nh = nz & at_hi
        v[nh] = np.maximum(h[nh] + t[nh] * np.sign(b[nh]), 0)      # need h + t*sign <= 0
        # outside the box at all is a violation of its own
        outside = (b < self.lo - 1e-9 * np.maximum(1, np.abs(self.lo))) | \
                  (b > self.hi + 1e-9 * np.maximum(1, np.abs(self.hi)))
        v[outside] = np.inf
        v[self.excluded] = np.where(b[self.excluded] != 0, np.inf, 0.0)
        scale = np.where(self.sd > 0, self.sd, 1.0) * self.ys
        v = v / scale
        worst_j = int(np.argmax(v)) if v.size else -1
        worst = float(v[worst_j]) if v.size else 0.0
        if self.intercept:
            vi = abs(r.sum()) / self.ys
            if vi > worst:
                worst, worst_j = vi, -1
        return worst, worst_j
