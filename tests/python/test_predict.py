"""predict()/coef() against R's predict.glmnet at off-grid s, every type; pandas input; binomial
labels and classnames; the float32 path.

R fits and predicts every case in one Rscript process (module fixture).  Our predictions come from
our own fit; since the fits agree to ~1e-8 (test_parity.py), predictions are compared at 1e-6.
"""
from __future__ import annotations

import numpy as np
import pytest

import mlxs_glmnet as mg
from datagen import make_data, make_weights
from objective import Problem
from rbridge import r_args, run_glmnet_cases

THRESH = 1e-12
TYPES = ("link", "response", "coefficients", "nonzero")


def _make_cases():
    out = []
    specs = [
        ("gaussian", dict(), False),
        ("gaussian", dict(alpha=0.5, weights=make_weights(120, 3)), True),
        ("binomial", dict(), False),
        ("binomial", dict(alpha=0.3), True),
        ("poisson", dict(), False),
        ("poisson", dict(weights=make_weights(120, 5)), True),
    ]
    for i, (fam, kw, use_off) in enumerate(specs):
        x, y, off = make_data(fam, 120, 10, 500 + i, with_offset=use_off)
        if use_off:
            kw = dict(kw, offset=off)
        newx = make_data(fam, 17, 10, 900 + i)[0]
        newoff = np.random.default_rng(i).uniform(-0.5, 0.5, 17) if use_off else None
        out.append(dict(name=f"{fam}{'-offset' if use_off else ''}-{i}", family=fam, x=x, y=y,
                        kwargs=kw, newx=newx, newoffset=newoff))
    return out


CASES = _make_cases()


def _s_grid(lam):
    """Off-grid s: beyond both ends of the path, between grid points, and one on a grid point.
    (Not exactly lambda_max: ours and glmnet's differ in the last ulp there, and glmnet's linear
    interpolation then yields coefficients of 1e-15 that 'nonzero' would count.)"""
    lmax, lmin = lam[0], lam[-1]
    mids = np.sqrt(lam[[3, 10, 20]] * lam[[4, 11, 21]])      # geometric midpoints: off-grid
    return np.array([lmax * 2.0, lmax * (1 + 1e-9), mids[0], lam[7], mids[1], mids[2],
                     (lmin + lam[-2]) / 2, lmin, lmin / 3, 0.0])


@pytest.fixture(scope="module")
def r_results():
    # pass 1 is not needed: the s grid is built from OUR lambda path, which equals glmnet's to 1e-8
    rc = []
    for c in CASES:
        fit = mg.glmnet(c["x"], c["y"], c["family"], thresh=THRESH, **c["kwargs"])
        c["fit"] = fit
        c["s"] = _s_grid(fit.lambda_)
        preds = []
        types = TYPES + (("class",) if c["family"] == "binomial" else ())
        for t in types:
            preds.append(dict(newx=c["newx"], s=c["s"], type=t, newoffset=c["newoffset"]))
        preds.append(dict(newx=c["newx"], s=None, type="link", newoffset=c["newoffset"]))
        c["types"] = types + ("link-all",)
        rc.append(dict(name=c["name"], x=c["x"], y=c["y"], family=c["family"], predict=preds,
                       args=dict(r_args(**c["kwargs"]), family=c["family"], thresh=THRESH)))
    res = run_glmnet_cases(rc)
    return {c["name"]: r for c, r in zip(CASES, res)}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_predict_matches_r(case, r_results):
    r = r_results[case["name"]]
    assert r["error"] is None, r["error"]
    fit = case["fit"]
    assert len(fit.lambda_) == len(r["lambda_"])
    np.testing.assert_allclose(fit.lambda_, r["lambda_"], rtol=1e-8)
    # how far apart the two fits' predictions are on the grid itself: interpolated predictions
    # are convex combinations of two grid columns, so they can be no further apart than that
    all_r = r["predict"][-1]
    all_o = fit.predict(case["newx"], type="link", newoffset=case["newoffset"])
    assert all_o.shape == all_r.shape
    grid_err = np.abs(all_o - all_r).max()
    assert grid_err <= 1e-4 * max(1.0, np.abs(all_r).max()), f"fits differ by {grid_err:.3g}"
    for t, rp in zip(case["types"], r["predict"]):
        assert not isinstance(rp, Exception), f"R predict type={t} failed: {rp}"
        s = None if t == "link-all" else case["s"]
        tt = "link" if t == "link-all" else t
        ours = fit.predict(case["newx"], s=s, type=tt, newoffset=case["newoffset"])
        if tt == "nonzero":
            assert len(ours) == len(rp), (len(ours), len(rp))
            for k, (a, b) in enumerate(zip(ours, rp)):
                assert set(np.asarray(a).tolist()) == set(np.asarray(b).tolist()), \
                    f"nonzero at s[{k}]={case['s'][k]}: ours={a} R={b}"
            continue
        if tt == "class":
            ours = np.asarray(ours).astype(str)
            rp = np.asarray(rp).astype(str)
            assert ours.shape == rp.shape, (ours.shape, rp.shape)
            # classes can only differ where the probability is at 1/2 to within fit accuracy
            prob = fit.predict(case["newx"], s=s, type="response", newoffset=case["newoffset"])
            bad = (ours != rp) & (np.abs(prob - 0.5) > 1e-6)
            assert not bad.any(), f"class differs at {np.argwhere(bad)[:5]}"
            continue
        ours = np.asarray(ours, dtype=np.float64)
        assert ours.shape == rp.shape, f"type={t}: shape ours={ours.shape} R={rp.shape}"
        err = np.abs(ours - rp)
        if tt == "link":
            bound = grid_err * (1 + 1e-9) + 1e-12
        elif tt == "coefficients":
            bound = 1e-4 * max(1.0, np.abs(rp).max())
        else:          # response: a smooth monotone map of the link
            bound = 1e-4 * max(1.0, np.abs(rp).max())
        i = np.unravel_index(int(np.argmax(err)), err.shape)
        assert err[i] <= bound, (f"[{case['name']}] predict type={t}: |ours - R| = {err[i]:.3g} "
                                 f"> {bound:.3g} at {i} (s={case['s'][i[1]] if s is not None else None}): "
                                 f"ours={ours[i]!r} R={rp[i]!r}")
    # coef(s) is predict(type='coefficients')
    np.testing.assert_array_equal(fit.coef(s=case["s"]), fit.predict(None, s=case["s"],
                                                                      type="coefficients"))
    assert fit.coef().shape == (fit.beta.shape[0] + 1, len(fit.lambda_))


def test_interpolation_is_linear_in_lambda():
    """At s between two grid points the coefficients are the lambda-linear blend (glmnet's
    lambda.interp), exactly on a grid point they are that column, and s is clamped to the path."""
    x, y, _ = make_data("gaussian", 100, 8, 42)
    fit = mg.glmnet(x, y)
    lam = fit.lambda_
    full = fit.coef()
    for k in (0, 5, len(lam) - 2):
        for frac in (0.0, 0.25, 0.9):
            s = lam[k] * (1 - frac) + lam[k + 1] * frac
            np.testing.assert_allclose(fit.coef(s=s)[:, 0], (1 - frac) * full[:, k] + frac * full[:, k + 1],
                                       rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fit.coef(s=lam[0] * 10)[:, 0], full[:, 0], atol=1e-14)
    np.testing.assert_allclose(fit.coef(s=0.0)[:, 0], full[:, -1], atol=1e-14)
    np.testing.assert_allclose(fit.coef(s=lam[7])[:, 0], full[:, 7], rtol=1e-12, atol=1e-14)


def test_pandas_input_same_as_numpy():
    pd = pytest.importorskip("pandas")
    x, y, _ = make_data("binomial", 150, 7, 8)
    cols = [f"feat{i}" for i in range(7)]
    fn = mg.glmnet(x, y, "binomial")
    fp = mg.glmnet(pd.DataFrame(x, columns=cols), pd.Series(y), "binomial")
    np.testing.assert_array_equal(fn.lambda_, fp.lambda_)
    np.testing.assert_allclose(fn.beta, fp.beta, rtol=0, atol=1e-13)
    pr = fp.predict(pd.DataFrame(x[:5], columns=cols), s=0.01, type="response")
    assert isinstance(pr, pd.Series)                   # one lambda: a Series (see test_pandas.py)
    np.testing.assert_allclose(pr.to_numpy()[:, None], fn.predict(x[:5], s=0.01, type="response"),
                               atol=1e-13)
    # F-ordered and integer-valued frames are fine too
    fi = mg.glmnet(pd.DataFrame(np.round(x * 10).astype(int), columns=cols), y, "binomial")
    assert fi.beta.shape[0] == 7


@pytest.fixture(scope="module")
def r_labels():
    """R glmnet with a factor response: classnames and class predictions."""
    x, y01, _ = make_data("binomial", 140, 6, 77)
    labels = np.where(y01 > 0, "yes", "no").astype(object)
    labels2 = np.where(y01 > 0, "alpha", "beta").astype(object)    # level order != 0/1 order
    newx = make_data("binomial", 9, 6, 78)[0]
    rc = [dict(name=n, x=x, y=lab, family="binomial",
               args=dict(family="binomial", thresh=THRESH),
               predict=[dict(newx=newx, s=np.array([0.05, 0.01]), type="class"),
                        dict(newx=newx, s=np.array([0.05, 0.01]), type="response")])
          for n, lab in (("yesno", labels), ("alphabeta", labels2))]
    res = run_glmnet_cases(rc)
    return x, newx, {"yesno": (labels, res[0]), "alphabeta": (labels2, res[1])}


@pytest.mark.parametrize("which", ["yesno", "alphabeta"])
@pytest.mark.parametrize("kind", ["numpy-str", "pandas-categorical", "pandas-object"])
def test_binomial_string_labels(r_labels, which, kind):
    x, newx, d = r_labels
    labels, r = d[which]
    if kind == "numpy-str":
        y = np.asarray(labels, dtype=str)
    else:
        pd = pytest.importorskip("pandas")
        y = pd.Series(labels, dtype="category" if kind == "pandas-categorical" else object)
    fit = mg.glmnet(x, y, "binomial", thresh=THRESH)
    assert list(fit.classnames) == r["classnames"], (fit.classnames, r["classnames"])
    np.testing.assert_allclose(fit.lambda_, r["lambda_"], rtol=1e-8)
    np.testing.assert_allclose(fit.beta, r["beta"], rtol=0, atol=1e-5)
    cls = np.asarray(fit.predict(newx, s=np.array([0.05, 0.01]), type="class")).astype(str)
    np.testing.assert_array_equal(cls, np.asarray(r["predict"][0]).astype(str))
    prob = fit.predict(newx, s=np.array([0.05, 0.01]), type="response")
    np.testing.assert_allclose(prob, r["predict"][1], atol=1e-5)


def test_binomial_boolean_and_01_agree():
    x, y, _ = make_data("binomial", 100, 5, 3)
    fb = mg.glmnet(x, y > 0, "binomial")
    f01 = mg.glmnet(x, y.astype(int), "binomial")
    np.testing.assert_allclose(fb.beta, f01.beta, atol=1e-13)
    assert len(fb.classnames) == 2 and len(f01.classnames) == 2


# ------------------------------------------------------------------------------ float32 path
@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_float32_path_close_to_float64(family):
    x, y, _ = make_data(family, 200, 15, 123)
    f64 = mg.glmnet(x, y, family, thresh=1e-10)
    f32 = mg.glmnet(x, y, family, dtype="float32")
    for a in (f32.a0, f32.beta, f32.lambda_, f32.dev_ratio):
        assert np.isfinite(a).all()
    # the path may end a step or two apart (early-stop rules on rounded deviances)
    k = min(len(f64.lambda_), len(f32.lambda_))
    assert abs(len(f64.lambda_) - len(f32.lambda_)) <= 3, (len(f64.lambda_), len(f32.lambda_))
    np.testing.assert_allclose(f32.lambda_[:k], f64.lambda_[:k], rtol=1e-5)
    prob = Problem(x, y, family)
    gaps = []
    for j in range(k):
        lam = f64.lambda_[j]
        o64 = prob.objective(lam, f64.a0[j], f64.beta[:, j])
        o32 = prob.objective(lam, float(f32.a0[j]), f32.beta[:, j].astype(np.float64))
        gaps.append((o32 - o64) / o64)
    j = int(np.argmax(gaps))
    assert gaps[j] <= 1e-4, f"float32 objective {gaps[j]:.3g} above float64's at lambda[{j}]"
    d = np.abs(f32.beta[:, :k] - f64.beta[:, :k]) * prob.sd[:, None] / prob.ys
    assert d.max() <= 5e-3, f"float32 coefficients differ by {d.max():.3g} (internal scale)"
    np.testing.assert_allclose(f32.dev_ratio[:k], f64.dev_ratio[:k], atol=1e-4)
