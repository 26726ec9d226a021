"""cv_glmnet against R glmnet 4.1's cv.glmnet with the same foldid, plus input checks.

All R work happens in ONE Rscript process per module (fixture ``rres``): every case's data go to a
temporary directory as raw little-endian float64 files, R runs cv.glmnet on each case and writes
the cv object's fields back the same way.  For a few cases R also recomputes the CV statistics
(glmnet:::cv.<class> + glmnet:::cvstats + glmnet:::getOptcv.glmnet) from OUR held-out predictions
(fit_preval), which checks the statistics part independently of the path solver.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import warnings

import numpy as np
import pytest

import mlxs_glmnet as mg
from rbridge import run_rscript
from mlxs_glmnet.cv import _interp_coefs, _weighted_auc

THRESH = 1e-12


# ----------------------------------------------------------------------------- data
def _data(family, n, p, seed, *, k_true=5, signal=0.6, flip=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p))
    k_true = min(k_true, p)
    beta = np.zeros(p)
    beta[:k_true] = rng.uniform(0.5, 1.0, k_true) * rng.choice([-1, 1], k_true)
    eta = x @ beta * signal
    if family == "gaussian":
        y = eta + rng.standard_normal(n)
    elif family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
        far = np.argsort(-np.abs(eta))[:flip]     # mislabel the most extreme points
        y[far] = 1 - y[far]
    else:
        y = rng.poisson(np.exp(0.5 + 0.5 * eta)).astype(float)
    return x, y


def _foldid(n, k, seed):
    rng = np.random.default_rng(seed + 1000)
    return rng.permutation(np.resize(np.arange(1, k + 1), n))


# name -> spec. "opts" are glmnet options (Python names), "arrays" extra per-row arrays.
def _cases():
    cases = {}

    def add(name, family, n, p, seed, *, tm="default", nfolds=10, keep=False, grouped=True,
            signal=0.6, flip=0, opts=None, weights=False, offset=False, lam=False, restats=False, tol=1e-5, alignment="lambda",
            zero_weights=0, xfail=None):
        x, y = _data(family, n, p, seed, signal=signal, flip=flip)
        rng = np.random.default_rng(seed + 7)
        o = dict(opts or {})
        if weights:
            o["weights"] = rng.uniform(0.2, 2.0, n)
            o["weights"][:zero_weights] = 0.0
        if offset:
            o["offset"] = rng.uniform(-0.3, 0.3, n)
        if lam:
            o["lambda_"] = np.exp(np.linspace(np.log(0.5), np.log(0.005), 30))
        cases[name] = dict(family=family, x=x, y=y, foldid=_foldid(n, nfolds, seed), tm=tm,
                           keep=keep, grouped=grouped, opts=o, restats=restats, tol=tol,
                           alignment=alignment, xfail=xfail)

    add("gaus_mse", "gaussian", 200, 20, 1, keep=True)
    add("gaus_mae_enet", "gaussian", 150, 30, 2, tm="mae", opts={"alpha": 0.5})
    add("gaus_dev_w_off", "gaussian", 180, 15, 3, tm="deviance", weights=True, offset=True,
        keep=True)
    add("gaus_lambda", "gaussian", 120, 10, 4, lam=True, nfolds=5)
    add("gaus_ungrouped", "gaussian", 100, 12, 5, grouped=False, nfolds=5, keep=True)
    # full fit n > p (lambda.min.ratio 1e-4), folds n < p (0.01): checks each fold's own path.
    # Ill-conditioned near the end of the path, where fold fits agree with R's only to ~1e-4.
    add("gaus_p_near_n", "gaussian", 60, 55, 6, nfolds=10, tol=1e-3)
    # user weights with zeros: R decides lambda.min.ratio from nrow(x) (here 60 > 55: 1e-4)
    add("gaus_zero_weights", "gaussian", 60, 55, 10, weights=True, zero_weights=8, tol=1e-3)
    add("gaus_nostd_noint", "gaussian", 120, 8, 7, opts={"standardize": False, "intercept": False})
    add("gaus_fraction", "gaussian", 150, 12, 8, alignment="fraction", keep=True)
    add("gaus_tiny_folds", "gaussian", 25, 5, 9, nfolds=10, keep=True)   # < 3 per fold: ungrouped
    add("bin_dev", "binomial", 250, 20, 11, keep=True)
    add("bin_auc_fallback", "binomial", 80, 6, 18, tm="auc", nfolds=10)  # < 10 per fold: deviance
    # nearly separable: held-out probabilities beyond the 1e-5 clamp of binomial deviance
    add("bin_dev_clamped", "binomial", 200, 6, 19, signal=4.0, flip=4, keep=True)
    add("bin_class", "binomial", 250, 15, 12, tm="class")
    add("bin_auc", "binomial", 250, 15, 13, tm="auc", keep=True)
    add("bin_auc_w", "binomial", 200, 10, 14, tm="auc", weights=True, keep=True, restats=True)
    add("bin_mse_w", "binomial", 200, 10, 15, tm="mse", weights=True, keep=True, restats=True)
    add("bin_mae", "binomial", 200, 10, 16, tm="mae", opts={"alpha": 0.3})
    add("bin_dev_off", "binomial", 200, 10, 17, offset=True, nfolds=5)
    add("pois_dev", "poisson", 200, 15, 21, keep=True)
    add("pois_mse_off", "poisson", 200, 10, 22, tm="mse", offset=True, keep=True)
    add("pois_mae_w", "poisson", 180, 10, 23, tm="mae", weights=True, keep=True, restats=True)
    add("pois_dev_w_ungrouped", "poisson", 150, 10, 24, weights=True, grouped=False, keep=True,
        restats=True)
    return cases


CASES = _cases()

_R_OPT = {"alpha": "alpha", "standardize": "standardize", "intercept": "intercept",
          "weights": "weights", "offset": "offset", "lambda_": "lambda"}

_R_PRELUDE = r"""
suppressMessages(library(glmnet))
rb <- function(d, f, n) readBin(file.path(d, f), "double", n = n)
wb <- function(v, d, f) writeBin(as.double(v), file.path(d, f))
run_case <- function(d, n, p, family, tm, keep, grouped, opts, restats, alignment) {
  x <- matrix(rb(d, "x.bin", n * p), n, p)
  y <- rb(d, "y.bin", n)
  foldid <- as.integer(rb(d, "foldid.bin", n))
  args <- list(x = x, y = y, family = family, foldid = foldid, type.measure = tm, keep = keep,
               grouped = grouped, thresh = 1e-12, alignment = alignment)
  for (nm in names(opts)) {
    v <- opts[[nm]]
    if (is.character(v)) { f <- file.path(d, v); v <- readBin(f, "double", n = file.size(f) / 8) }
    args[[nm]] <- v
  }
  cv <- do.call(cv.glmnet, args)
  wb(cv$lambda, d, "r_lambda.bin"); wb(cv$cvm, d, "r_cvm.bin"); wb(cv$cvsd, d, "r_cvsd.bin")
  wb(cv$cvup, d, "r_cvup.bin"); wb(cv$cvlo, d, "r_cvlo.bin"); wb(cv$nzero, d, "r_nzero.bin")
  wb(c(cv$lambda.min, cv$lambda.1se, cv$index), d, "r_opt.bin")
  writeLines(c(names(cv$name), unname(cv$name)), file.path(d, "r_name.txt"))
  if (keep) wb(cv$fit.preval, d, "r_preval.bin")
  if (restats) {
    # R's statistics on OUR held-out predictions.
    L <- length(rb(d, "py_lambda.bin", 1e6))
    pm <- matrix(rb(d, "py_preval.bin", n * L), n, L)
    lam <- rb(d, "py_lambda.bin", L)
    w <- if (is.null(args$weights)) rep(1, n) else args$weights
    sub <- switch(family, gaussian = "elnet", binomial = "lognet", poisson = "fishnet")
    tmr <- glmnet:::cvtype(tm, sub)
    st <- do.call(getFromNamespace(paste0("cv.", sub), "glmnet"), list(pm, y, tmr, w, foldid, grouped))
    nz <- rep(0, L)
    out <- glmnet:::cvstats(st, foldid, max(foldid), lam, nz, st$grouped)
    cvname <- names(st$type.measure)
    opt <- glmnet:::getOptcv.glmnet(out$lambda, out$cvm, out$cvsd, cvname)
    wb(out$cvm, d, "s_cvm.bin"); wb(out$cvsd, d, "s_cvsd.bin")
    wb(c(opt$lambda.min, opt$lambda.1se, opt$index), d, "s_opt.bin")
  }
}
"""


def _rlit(v):
    if isinstance(v, (bool, np.bool_)):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return repr(float(v))
    return f'"{v}"'


def _py_cv(case):
    o = dict(case["opts"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mg.cv_glmnet(case["x"], case["y"], case["family"], foldid=case["foldid"],
                            type_measure=case["tm"], keep=True, grouped=case["grouped"],
                            alignment=case["alignment"], thresh=THRESH, dtype="float64",
                            device="cpu", **o)


@pytest.fixture(scope="module")
def results():
    """(python CvGlmnetFit, R outputs) per case, R run once for the whole module."""
    tmp = tempfile.mkdtemp(prefix="mlxs_cv_")   # run_rscript fails loudly without Rscript
    py = {}
    lines = [_R_PRELUDE]
    try:
        for name, c in CASES.items():
            d = os.path.join(tmp, name)
            os.makedirs(d)
            n, p = c["x"].shape
            np.asfortranarray(c["x"]).T.astype("<f8").tofile(os.path.join(d, "x.bin"))
            c["y"].astype("<f8").tofile(os.path.join(d, "y.bin"))
            c["foldid"].astype("<f8").tofile(os.path.join(d, "foldid.bin"))
            ropts = []
            for k, v in c["opts"].items():
                if isinstance(v, np.ndarray):
                    v.astype("<f8").tofile(os.path.join(d, k + ".bin"))
                    ropts.append(f'{_R_OPT.get(k, k)} = "{k}.bin"')
                else:
                    ropts.append(f"{_R_OPT.get(k, k)} = {_rlit(v)}")
            fit = _py_cv(c)
            py[name] = fit
            if c["restats"]:
                fit.fit_preval.T.astype("<f8").tofile(os.path.join(d, "py_preval.bin"))
                fit.glmnet_fit.lambda_.astype("<f8").tofile(os.path.join(d, "py_lambda.bin"))
            rtm = {"default": "default"}.get(c["tm"], c["tm"])
            lines.append(
                f'run_case("{d}", {n}L, {p}L, "{c["family"]}", "{rtm}", {_rlit(c["keep"])}, '
                f'{_rlit(c["grouped"])}, list({", ".join(ropts)}), {_rlit(c["restats"])}, "{c["alignment"]}")')
        run_rscript(lines, tmp, timeout=600)
        r = {}
        for name, c in CASES.items():
            d = os.path.join(tmp, name)
            rd = lambda f: np.fromfile(os.path.join(d, f), dtype="<f8")
            n = c["x"].shape[0]
            out = {k: rd(f"r_{k}.bin") for k in ("lambda", "cvm", "cvsd", "cvup", "cvlo", "nzero",
                                                  "opt")}
            with open(os.path.join(d, "r_name.txt")) as f:
                nm = f.read().split("\n")
            out["name"] = {nm[0]: nm[1]}
            if c["keep"]:
                out["preval"] = rd("r_preval.bin").reshape(-1, n).T
            if c["restats"]:
                out["s_cvm"], out["s_cvsd"], out["s_opt"] = rd("s_cvm.bin"), rd("s_cvsd.bin"), rd("s_opt.bin")
            r[name] = out
        yield py, r
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3)))


# ----------------------------------------------------------------------------- parity with R
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason=c["xfail"], strict=True)) if c["xfail"] else n
    for n, c in CASES.items()])
def test_matches_cv_glmnet(results, name):
    py, r = results
    fit, ref, case = py[name], r[name], CASES[name]
    assert fit.lambda_.shape == ref["lambda"].shape, (fit.lambda_.shape, ref["lambda"].shape)
    np.testing.assert_allclose(fit.lambda_, ref["lambda"], rtol=1e-7)
    tol = case["tol"]
    np.testing.assert_allclose(fit.cvm, ref["cvm"], rtol=tol, atol=1e-9)
    np.testing.assert_allclose(fit.cvsd, ref["cvsd"], rtol=10 * tol, atol=1e-9)
    np.testing.assert_allclose(fit.cvup, ref["cvup"], rtol=tol, atol=1e-9)
    np.testing.assert_allclose(fit.cvlo, ref["cvlo"], rtol=10 * tol, atol=1e-9)
    np.testing.assert_array_equal(fit.nzero, ref["nzero"].astype(int))
    assert fit.lambda_min == pytest.approx(ref["opt"][0], rel=1e-7)
    assert fit.lambda_1se == pytest.approx(ref["opt"][1], rel=1e-7)
    np.testing.assert_array_equal(fit.index[:, 0], ref["opt"][2:].astype(int))
    assert fit.index.shape == (2, 1)
    assert fit.name == ref["name"]
    if case["keep"]:
        assert fit.fit_preval.shape == ref["preval"].shape
        # binomial fold fits stop ~1e-5 away from R's in the link at the smallest lambdas
        np.testing.assert_allclose(fit.fit_preval, ref["preval"], rtol=1e-5, atol=3e-5)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c["restats"]])
def test_statistics_match_r_on_same_predictions(results, name):
    """R's cv.<class>/cvstats/getOptcv on our fit_preval give our cvm, cvsd and optima."""
    py, r = results
    fit, ref = py[name], r[name]
    np.testing.assert_allclose(fit.cvm, ref["s_cvm"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fit.cvsd, ref["s_cvsd"], rtol=1e-10, atol=1e-14)
    assert fit.lambda_min == ref["s_opt"][0] and fit.lambda_1se == ref["s_opt"][1]
    np.testing.assert_array_equal(fit.index[:, 0], ref["s_opt"][2:].astype(int))


def test_report_max_discrepancy(results, capsys):
    py, r = results
    worst = {}
    for name, c in CASES.items():
        if c["xfail"] or py[name].cvm.shape != r[name]["cvm"].shape:
            continue
        d = _rel(py[name].cvm, r[name]["cvm"])
        worst[c["family"]] = max(worst.get(c["family"], 0.0), d)
    with capsys.disabled():
        print("\nmax relative cvm discrepancy vs cv.glmnet:",
              {k: f"{v:.2e}" for k, v in worst.items()})
    assert set(worst) == {"gaussian", "binomial", "poisson"}


# ----------------------------------------------------------------------------- pieces
def test_interp_matches_glmnet_rules():
    lam = np.array([1.0, 0.5, 0.25, 0.125])
    a0 = np.array([0.0, 1.0, 2.0, 3.0])
    beta = np.array([[0.0, 10.0, 20.0, 30.0]])
    s = np.array([2.0, 1.0, 0.75, 0.5, 0.2, 0.125, 0.01])
    cf = _interp_coefs(a0, beta, lam, s)
    # clamped above and below, exact at knots, linear in lambda between knots
    np.testing.assert_allclose(cf[0], [0.0, 0.0, 0.5, 1.0, 2.4, 3.0, 3.0])
    np.testing.assert_allclose(cf[1], 10 * cf[0])
    one = _interp_coefs(np.array([4.0]), np.array([[2.0]]), np.array([0.3]), s)
    np.testing.assert_allclose(one, np.tile([[4.0], [2.0]], (1, s.size)))


def test_weighted_auc_bruteforce():
    rng = np.random.default_rng(3)
    prob = np.round(rng.random(40), 1)          # many ties
    y = rng.random(40) < 0.4
    w = rng.uniform(0.1, 2, 40)
    wn, wp = w * ~y, w * y
    num = sum(wn[i] * wp[j] * ((prob[j] > prob[i]) + 0.5 * (prob[j] == prob[i]))
              for i in range(40) for j in range(40))
    assert _weighted_auc(prob, wn, wp) == pytest.approx(num / (wn.sum() * wp.sum()), rel=1e-13)


# ----------------------------------------------------------------------------- behaviour
@pytest.fixture(scope="module")
def small():
    x, y = _data("gaussian", 90, 6, 31)
    return x, y


def test_keep_shapes_and_fields(small):
    x, y = small
    cv = mg.cv_glmnet(x, y, nfolds=5, keep=True, seed=1)
    L = len(cv.lambda_)
    assert cv.fit_preval.shape == (90, L) and cv.foldid.shape == (90,)
    assert sorted(np.unique(cv.foldid)) == [1, 2, 3, 4, 5]
    assert np.bincount(cv.foldid)[1:].tolist() == [18] * 5
    for f in ("cvm", "cvsd", "cvup", "cvlo", "nzero"):
        assert getattr(cv, f).shape == (L,)
    assert cv.index.shape == (2, 1) and cv.index.dtype.kind == "i"
    assert cv.lambda_[cv.index[0, 0] - 1] == cv.lambda_min
    assert cv.lambda_[cv.index[1, 0] - 1] == cv.lambda_1se
    assert cv.lambda_1se >= cv.lambda_min
    assert cv.name == {"mse": "Mean-Squared Error"} and cv.type_measure == "mse"
    np.testing.assert_array_equal(cv.nzero, (cv.glmnet_fit.beta != 0).sum(axis=0))
    np.testing.assert_allclose(cv.cvup - cv.cvlo, 2 * cv.cvsd)
    nokeep = mg.cv_glmnet(x, y, nfolds=5, seed=1)
    assert nokeep.fit_preval is None and nokeep.foldid is None
    np.testing.assert_array_equal(nokeep.cvm, cv.cvm)     # same seed, same folds


def test_seed_changes_folds(small):
    x, y = small
    a = mg.cv_glmnet(x, y, nfolds=4, keep=True, seed=1).foldid
    b = mg.cv_glmnet(x, y, nfolds=4, keep=True, seed=2).foldid
    assert not np.array_equal(a, b)
    assert np.bincount(a)[1:].tolist() == [23, 23, 22, 22]


def test_predict_and_coef_delegate(small):
    x, y = small
    cv = mg.cv_glmnet(x, y, nfolds=5, seed=3)
    g = cv.glmnet_fit
    np.testing.assert_allclose(cv.predict(x[:5]), g.predict(x[:5], s=cv.lambda_1se))
    np.testing.assert_allclose(cv.predict(x[:5], s="lambda_min"), g.predict(x[:5], s=cv.lambda_min))
    np.testing.assert_allclose(cv.predict(x[:5], s="lambda.min"), g.predict(x[:5], s=cv.lambda_min))
    np.testing.assert_allclose(cv.predict(x[:5], s=0.05), g.predict(x[:5], s=0.05))
    np.testing.assert_allclose(cv.coef(), g.coef(s=cv.lambda_1se))
    np.testing.assert_allclose(cv.coef(s="lambda_min"), g.coef(s=cv.lambda_min))
    with pytest.raises(ValueError, match="s must be"):
        cv.predict(x[:5], s="lambda_max")
    assert "Measure: Mean-Squared Error" in cv.summary()


def test_binomial_predict_types():
    x, y = _data("binomial", 120, 5, 41)
    ys = np.where(y > 0, "yes", "no")
    cv = mg.cv_glmnet(x, ys, "binomial", nfolds=4, seed=0, type_measure="class")
    assert cv.name == {"class": "Misclassification Error"}
    cls = cv.predict(x[:10], type="class")
    assert set(np.unique(cls)) <= {"yes", "no"}
    cv01 = mg.cv_glmnet(x, y, "binomial", nfolds=4, seed=0, type_measure="class")
    np.testing.assert_allclose(cv.cvm, cv01.cvm, rtol=1e-6)
    assert np.all((cv.cvm >= 0) & (cv.cvm <= 1))


def test_trace_it_prints_progress(small, capsys):
    x, y = small
    mg.cv_glmnet(x, y, nfolds=3, seed=0, trace_it=1)
    err = capsys.readouterr().err
    assert "Training" in err and "Fold: 3/3" in err


def test_auc_too_few_per_fold_falls_back_to_deviance():
    x, y = _data("binomial", 60, 4, 51)
    with pytest.warns(UserWarning, match="auc"):
        cv = mg.cv_glmnet(x, y, "binomial", nfolds=10, seed=0, type_measure="auc")
    assert cv.name == {"deviance": "Binomial Deviance"}


def test_few_per_fold_ungroups():
    x, y = _data("gaussian", 20, 3, 52)
    with pytest.warns(UserWarning, match="grouped=False"):
        mg.cv_glmnet(x, y, nfolds=10, seed=0)


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kw, match", [
    (dict(nfolds=2), "nfolds"),
    (dict(nfolds=1), "nfolds"),
    (dict(nfolds=500), "nfolds"),
    (dict(foldid=np.resize([1, 2, 3], 50)), "foldid"),
    (dict(foldid=np.resize([1, 2], 90)), "nfolds"),
    (dict(foldid=np.resize([0, 1, 2], 90)), "foldid"),
    (dict(foldid=np.resize([1, 2, 4], 90)), "foldid"),
    (dict(foldid=np.resize([1.5, 2, 3], 90)), "foldid"),
    (dict(type_measure="auc"), "type_measure"),
    (dict(type_measure="class"), "type_measure"),
    (dict(type_measure="bogus"), "type_measure"),
    (dict(lambda_=[0.1]), "lambda_"),
    (dict(weights=-np.ones(90)), "weights"),
    (dict(weights=np.ones(10)), "weights"),
])
def test_invalid_arguments(small, kw, match):
    x, y = small
    with pytest.raises(ValueError, match=match):
        mg.cv_glmnet(x, y, seed=0, **kw)


def test_invalid_measure_for_poisson_and_unknown_option(small):
    x, y = small
    with pytest.raises(ValueError, match="type_measure"):
        mg.cv_glmnet(x, np.abs(np.round(y)), "poisson", type_measure="auc")
    with pytest.raises(TypeError, match="lambda_min"):
        mg.cv_glmnet(x, y, lambda_min=0.1)
    with pytest.raises(ValueError, match="family"):
        mg.cv_glmnet(x, y, "cox")


def test_binomial_fold_without_both_classes_is_an_error():
    x, _ = _data("binomial", 40, 3, 61)
    y = np.zeros(40)
    y[:3] = 1
    foldid = np.resize([1, 2, 3, 4], 40)
    foldid[:3] = 1                        # fold 1 holds every positive: its training rows have none
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="foldid: the training rows of fold 1"):
            mg.cv_glmnet(x, y, "binomial", foldid=foldid)


def test_repr_and_summary(small):
    x, y = small
    cv = mg.cv_glmnet(x, y, nfolds=3, seed=0, type_measure="mae")
    assert "Mean Absolute Error" in repr(cv) and "lambda_1se" in repr(cv)
    lines = cv.summary().splitlines()
    assert lines[0] == "Measure: Mean Absolute Error" and lines[3].split()[0] == "min"


def test_full_fit_is_glmnet_and_pandas_inputs(small):
    pd = pytest.importorskip("pandas")
    x, y = small
    cv = mg.cv_glmnet(x, y, nfolds=5, seed=4, thresh=1e-12, alpha=0.7)
    g = mg.glmnet(x, y, thresh=1e-12, alpha=0.7)
    np.testing.assert_allclose(cv.glmnet_fit.lambda_, g.lambda_, rtol=1e-12)
    np.testing.assert_allclose(cv.glmnet_fit.beta, g.beta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cv.glmnet_fit.a0, g.a0, rtol=1e-9, atol=1e-12)
    df = pd.DataFrame(x, columns=[f"v{j}" for j in range(x.shape[1])])
    cvp = mg.cv_glmnet(df, pd.Series(y), nfolds=5, seed=4, thresh=1e-12, alpha=0.7)
    np.testing.assert_allclose(cvp.cvm, cv.cvm, rtol=1e-12)


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_glmnet_batch_foldid_is_the_weights_batch_of_its_folds(family):
    """foldid (cv_glmnet's call) gives exactly the fits of the weights_batch batch it stands for:
    problem 0 every row, problem k the rows outside fold k; weights multiply both; each problem's
    nobs counts its rows."""
    rng = np.random.default_rng(12)
    n, p = 240, 9
    x = rng.standard_normal((n, p))
    eta = x[:, :3] @ np.array([0.8, -0.6, 0.4])
    y = {"gaussian": eta + rng.standard_normal(n),
         "binomial": (eta + rng.logistic(size=n) > 0).astype(float),
         "poisson": rng.poisson(np.exp(0.3 * eta)).astype(float)}[family]
    foldid = rng.permutation(np.resize(np.arange(1, 5), n))
    w = rng.uniform(0.5, 2.0, n)
    masks = np.stack([np.ones(n)] + [(foldid != k).astype(float) for k in range(1, 5)])
    a = mg.glmnet_batch(x, y, family, foldid=foldid, weights=w, device="cpu")
    b = mg.glmnet_batch(x, y, family, weights_batch=masks, weights=w, device="cpu")
    for fa, fb in zip(a, b):
        np.testing.assert_array_equal(fa.beta, fb.beta)
        np.testing.assert_array_equal(fa.lambda_, fb.lambda_)
        assert fa.nobs == fb.nobs and fa.nulldev == pytest.approx(fb.nulldev, rel=1e-12)
    assert [f.nobs for f in a] == [n] + [n - int((foldid == k).sum()) for k in range(1, 5)]


def test_glmnet_batch_foldid_bad_input():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 4))
    y = x[:, 0] + rng.standard_normal(60)
    good = np.resize(np.arange(1, 4), 60)
    with pytest.raises(ValueError, match="foldid must be a vector of length 60"):
        mg.glmnet_batch(x, y, foldid=good[:50])
    with pytest.raises(ValueError, match="foldid must hold integer fold numbers"):
        mg.glmnet_batch(x, y, foldid=good + 0.5)
    with pytest.raises(ValueError, match=r"1-based fold numbers \(>= 1\), got 0"):
        mg.glmnet_batch(x, y, foldid=good - 1)
    with pytest.raises(ValueError, match=r"1-based fold numbers \(>= 1\), got -1"):
        mg.glmnet_batch(x, y, foldid=good - 2)
    with pytest.raises(ValueError, match="fold 2 has no observations"):
        mg.glmnet_batch(x, y, foldid=np.where(good == 2, 3, good))
    with pytest.raises(ValueError, match="either foldid or weights_batch"):
        mg.glmnet_batch(x, y, foldid=good, weights_batch=np.ones((2, 60)))
    with pytest.raises(ValueError, match="either foldid or weights_batch"):
        mg.glmnet_batch(x, np.stack([y, -y], axis=1), foldid=good)
    yb = (y > 0).astype(float)
    yb[good != 1] = 1.0                       # fold 1 holds every 0: its complement is one class
    with pytest.raises(ValueError, match="problem 1 has observations of one class only"):
        mg.glmnet_batch(x, yb, "binomial", foldid=good)


def test_cv_checks_foldid_once(monkeypatch):
    """cv_glmnet validates the n fold numbers once and hands them on as checked (glmnet_batch
    does not pass over them again); a generated foldid is valid by construction."""
    from mlxs_glmnet import api
    real = api.fold_numbers
    checked = []

    def spy(foldid, n, *a, **k):
        if not isinstance(foldid, api._Folds):
            checked.append(n)
        return real(foldid, n, *a, **k)

    monkeypatch.setattr(api, "fold_numbers", spy)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((90, 6))
    y = x[:, 0] + rng.standard_normal(90)
    f = np.resize(np.arange(1, 4), 90)
    a = mg.cv_glmnet(x, y, foldid=f)
    assert checked == [90]
    b = mg.cv_glmnet(x, y, nfolds=3, seed=1)
    assert checked == [90]
    ref = mg.glmnet_batch(x, y, foldid=f)                  # the public path still checks
    assert checked == [90, 90]
    np.testing.assert_allclose(a.glmnet_fit.beta, ref[0].beta)
    assert len(b.lambda_) > 0


def test_cv_checks_data_once(monkeypatch):
    """cv_glmnet checks x, y and the weights once (glmnet_batch's checks, whose results it then
    uses), not once for itself and again inside the fit; the fit is glmnet_batch's, warnings
    about y come once and point at the caller's line, and bad input still names the argument."""
    import warnings
    from mlxs_glmnet import api
    calls = {"x": 0, "y": 0}
    real_x, real_y = api._as_matrix, api._response

    def spy_x(x, name):
        calls["x"] += 1
        return real_x(x, name)

    def spy_y(y, family, n, **kw):
        calls["y"] += 1
        return real_y(y, family, n, **kw)

    monkeypatch.setattr(api, "_as_matrix", spy_x)
    monkeypatch.setattr(api, "_response", spy_y)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((120, 5))
    yb = (x[:, 0] + rng.logistic(size=120) > 0).astype(float)
    w = rng.uniform(0.5, 2.0, 120)
    f = np.resize(np.arange(1, 5), 120)
    a = mg.cv_glmnet(x, yb, "binomial", foldid=f, weights=w)
    assert calls == {"x": 1, "y": 1}
    ref = mg.glmnet_batch(x, yb, "binomial", foldid=f, weights=w)
    np.testing.assert_allclose(a.glmnet_fit.beta, ref[0].beta)
    few = np.zeros(120)
    few[:7] = 1.0                                  # 7 of one class: glmnet's warning, once
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        mg.cv_glmnet(x, few, "binomial", nfolds=3, seed=0)
    msgs = [r for r in rec if "fewer than 8" in str(r.message)]
    assert len(msgs) == 1 and msgs[0].filename == __file__
    with pytest.raises(ValueError, match="weights"):
        mg.cv_glmnet(x, yb, "binomial", weights=-w)
    with pytest.raises(ValueError, match="y must be a vector"):
        mg.cv_glmnet(x, np.stack([yb, yb], axis=1), "binomial")


def test_cv_relax_arguments_and_methods():
    """relax=True's arguments are checked; without relax gamma is refused by the methods;
    predict / coef default to the gamma chosen with s; gamma 1's statistics are the plain CV's."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((120, 8))
    y = x[:, :3] @ np.array([1.0, -0.8, 0.5]) + rng.standard_normal(120)
    foldid = np.resize(np.arange(1, 5), 120)
    with pytest.raises(TypeError, match="relax"):
        mg.cv_glmnet(x, y, relax=1)
    with pytest.raises(ValueError, match="gamma"):
        mg.cv_glmnet(x, y, relax=True, gamma=[0.5, 1.5])
    with pytest.raises(TypeError, match="maxp"):
        mg.cv_glmnet(x, y, maxp=3)
    plain = mg.cv_glmnet(x, y, foldid=foldid)
    with pytest.raises(ValueError, match="relaxed"):
        plain.predict(x[:2], gamma=0.5)
    cv = mg.cv_glmnet(x, y, foldid=foldid, relax=True, gamma=[0.0, 0.5])
    np.testing.assert_array_equal(cv.relaxed["gamma"], [0.0, 0.5])
    np.testing.assert_allclose(cv.cvm, plain.cvm, rtol=1e-12)
    r = cv.relaxed
    np.testing.assert_allclose(cv.coef(s="lambda_min"),
                               cv.glmnet_fit.coef(s=r["lambda_min"], gamma=r["gamma_min"]))
    np.testing.assert_allclose(cv.predict(x[:3], s="lambda_1se", gamma="gamma_min"),
                               cv.glmnet_fit.predict(x[:3], s=r["lambda_1se"], gamma=r["gamma_min"]))
    assert "Gamma" in cv.summary()
    with pytest.raises(ValueError, match="gamma"):
        cv.coef(gamma="best")
    small = mg.cv_glmnet(x, y, foldid=foldid, relax=True, maxp=2)       # refits of <= 2 variables
    assert len(small.glmnet_fit.relaxed.lambda_) < len(small.glmnet_fit.lambda_)


_MEASURE_CASES = [("gaussian", m) for m in ("mse", "mae")] + \
    [("binomial", m) for m in ("deviance", "mse", "mae", "class")] + \
    [("poisson", m) for m in ("deviance", "mse", "mae")]


def _fold_case(family, seed, n, p, K, zeros=0):
    """A weighted CV problem fitted as a batch on the CPU: (n, K, x, y, foldid, w, offset, fits,
    the full data's lambdas, the folds' rows, the folds' weight sums)."""
    from mlxs_glmnet import cv as cvm_
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p))
    eta = x[:, :3] @ np.array([0.8, -0.6, 0.4])
    y = {"gaussian": eta + rng.standard_normal(n),
         "binomial": (eta + rng.logistic(size=n) > 0).astype(float),
         "poisson": rng.poisson(np.exp(0.5 * eta)).astype(float)}[family]
    foldid = rng.permutation(np.resize(np.arange(1, K + 1), n))
    w = rng.uniform(0.5, 2.0, n)
    w[:zeros] = 0.0
    off = 0.1 * rng.standard_normal(n) if family == "poisson" else None
    kw = dict(weights=w) if off is None else dict(weights=w, offset=off)
    fits = mg.glmnet_batch(x, y, family, foldid=foldid, device="cpu", **kw)
    rows = cvm_._FoldRows(foldid, K, np.bincount(foldid)[1:])
    cw = np.bincount(foldid, weights=w, minlength=K + 1)[1:]
    return n, K, x, y, foldid, w, off, fits, np.asarray(fits[0].lambda_), rows, cw


@pytest.mark.parametrize("family,measure", _MEASURE_CASES)
def test_fold_losses_without_the_predictions_matrix(family, measure):
    """cv_glmnet's grouped measures are averaged fold by fold (no (n, L) matrix): the same numbers
    as glmnet's cvcompute over the whole predictions matrix (keep=True takes that road), and, with
    x on a device, the losses computed there (float32) agree with the host's to float32 precision.
    Poisson losses that overflow float32 send the statistics back to the host."""
    import mlx.core as mx
    from mlxs_glmnet import cv as cvm_
    n, K, x, y, foldid, w, off, fits, lam, rows, cw = _fold_case(family, 3, 400, 12, 5)
    say = lambda m: None                                             # noqa: E731
    host = cvm_._grouped_cvraw(fits[1:], x, rows, lam, "lambda", off, family, measure, y, w, say)
    pm = cvm_._predmat(fits[1:], x, rows, n, lam, "lambda", off, say)
    nz = np.zeros(lam.size, dtype=np.int64)
    whole = cvm_._cv_stats(pm, family, measure, True, y, w, rows, cw, n, lam, nz)
    split = cvm_._cv_summary(host, cw, np.full(lam.size, float(K)), lam, nz)
    for a, b in zip(whole, split):
        np.testing.assert_array_equal(a, b)
    tol = dict(rtol=2e-4, atol=0.01) if measure == "class" else dict(rtol=2e-5, atol=1e-6)
    coefs = [cvm_._fold_coefs(ff, k, lam, "lambda") for k, ff in enumerate(fits[1:])]
    xd = mx.array(x.astype(np.float32))

    def device(X, w_, cw_, unit):
        got = cvm_._device_stats(coefs, X, rows, n, lam, off, family, measure, True, False, y,
                                 w_, cw_, unit)
        return None if got is None else got[1]
    np.testing.assert_allclose(device(xd, w, cw, False), host, **tol)
    # unit weights: the device sums without a weight vector
    ones, c1 = np.ones(n), np.bincount(foldid)[1:].astype(float)
    host1 = cvm_._grouped_cvraw(fits[1:], x, rows, lam, "lambda", off, family, measure, y, ones,
                                say)
    np.testing.assert_allclose(device(xd, ones, c1, True), host1, **tol)
    if family == "poisson" and measure == "deviance":
        # exp(eta) overflows float32 on the device: None, and the host's float64 losses (from
        # the device's predictions) instead
        big = x * 200.0
        bigd = mx.array(big.astype(np.float32))
        assert device(bigd, w, cw, False) is None
        dev = cvm_._grouped_cvraw(fits[1:], bigd, rows, lam, "lambda", off, family, measure, y,
                                  w, say)
        ref = cvm_._grouped_cvraw(fits[1:], big, rows, lam, "lambda", off, family, measure, y, w,
                                  say)
        assert np.isfinite(ref).all() and np.isfinite(dev).all()
        np.testing.assert_allclose(dev, ref, rtol=1e-3)


@pytest.mark.parametrize("family,measure", _MEASURE_CASES + [("binomial", "auc")])
@pytest.mark.parametrize("grouped", [True, False])
def test_device_statistics_for_keep_auc_and_ungrouped(family, measure, grouped):
    """With x on a device, keep=True, auc and grouped=False keep the held-out predictions there:
    the folds' measures (AUC sorted there, ties shared as on the host) or the per-observation
    losses' moments come back, and with keep the predictions matrix once, in the rows' order.
    They equal the host's float64 statistics over the whole predictions matrix to float32
    accuracy; a float32 overflow gives None (the host path)."""
    import mlx.core as mx
    from mlxs_glmnet import cv as cvm_
    if measure == "auc" and not grouped:
        pytest.skip("auc is always grouped (glmnet)")
    # (zero weights on 7 rows: no say in any measure)
    n, K, x, y, foldid, w, off, fits, lam, rows, cw = _fold_case(family, 5, 300, 8, 4, zeros=7)
    nz = np.zeros(lam.size, dtype=np.int64)
    say = lambda m: None                                             # noqa: E731
    pm = cvm_._predmat(fits[1:], x, rows, n, lam, "lambda", off, say)
    want = cvm_._cv_stats(pm, family, measure, grouped, y, w, rows, cw, n, lam, nz)
    coefs = [cvm_._fold_coefs(ff, k, lam, "lambda") for k, ff in enumerate(fits[1:])]
    xd = mx.array(x.astype(np.float32))
    for keep in (False, True):
        pmd, cvraw, moments = cvm_._device_stats(coefs, xd, rows, n, lam, off, family, measure,
                                                 grouped, keep, y, w, cw, False)
        got = (cvm_._cv_summary(cvraw, cw, np.full(lam.size, float(K)), lam, nz)
               if cvraw is not None else cvm_._moments_summary(*moments, float(n), lam, nz))
        tol = dict(rtol=2e-4, atol=0.01) if measure == "class" else dict(rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(got[0], want[0])
        for a, b in zip(got[1:3], want[1:3]):
            np.testing.assert_allclose(a, b, **tol)
        if keep:
            assert pmd.dtype == np.float64 and pmd.shape == pm.shape
            np.testing.assert_allclose(pmd, pm, rtol=1e-5, atol=1e-5)
        else:
            assert pmd is None
    if measure == "auc":
        # ties: every prediction of a fold the same (an intercept-only coefficient column)
        flat = [c.copy() for c in coefs]
        for c in flat:
            c[1:] = 0.0
        _, cvraw, _ = cvm_._device_stats(flat, xd, rows, n, lam, off, family, measure, True,
                                         False, y, w, cw, False)
        np.testing.assert_allclose(cvraw, 0.5, rtol=1e-6)
    if family == "poisson" and measure == "deviance":
        assert cvm_._device_stats(coefs, mx.array((x * 200).astype(np.float32)), rows, n, lam,
                                  off, family, measure, grouped, False, y, w, cw, False) is None


def test_auc_of_many_rows_on_threads():
    """The AUC statistics of folds with many rows (every lambda on a thread) equal a
    searchsorted reference's (ties in the predictions included)."""
    from mlxs_glmnet import cv as cvm_
    rng = np.random.default_rng(11)
    n, L, K = 12000, 24, 2
    pm = np.round(rng.standard_normal((n, L)), 1)              # many tied predictions
    y = (rng.random(n) < 0.3).astype(float)
    w = rng.uniform(0.2, 3.0, n)
    foldid = rng.permutation(np.resize(np.arange(1, K + 1), n))
    rows = cvm_._FoldRows(foldid, K, np.bincount(foldid)[1:])
    cw = np.bincount(foldid, weights=w, minlength=K + 1)[1:]
    lam = np.geomspace(1, 0.01, L)
    got = cvm_._cv_stats(pm, "binomial", "auc", True, y, w, rows, cw, n, lam, np.zeros(L))

    def ref(prob, wneg, wpos):
        order = np.argsort(prob, kind="mergesort")
        ps = prob[order]
        c = np.concatenate([[0.0], np.cumsum(wneg[order])])
        lo, hi = np.searchsorted(ps, prob, "left"), np.searchsorted(ps, prob, "right")
        return wpos @ (c[lo] + 0.5 * (c[hi] - c[lo])) / (wneg.sum() * wpos.sum())
    prob = 1 / (1 + np.exp(-pm))
    raw = np.array([[ref(prob[rows.host(k), j], (w * (1 - y))[rows.host(k)], (w * y)[rows.host(k)])
                     for j in range(L)] for k in range(K)])
    want = cvm_._cv_summary(raw, cw, np.full(L, float(K)), lam, np.zeros(L))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12)
