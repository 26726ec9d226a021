"""The rpy2 bridge against embedded R: converted objects through R glmnet's own methods, the
zero-copy handoff of R matrices, the round-trip overhead, bad input."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import mlxs_glmnet as mg

pytest.importorskip("rpy2")
import rpy2.rinterface as ri  # noqa: E402
import rpy2.robjects as ro  # noqa: E402
from rpy2.rinterface_lib import openrlib  # noqa: E402
from rpy2.rinterface_lib.embedded import RRuntimeError  # noqa: E402

from mlxs_glmnet import engine  # noqa: E402
from mlxs_glmnet.rpy2 import cv_fit_r, fit_r, from_r, last_timing, r_matrix, to_r  # noqa: E402

THRESH = 1e-10


@pytest.fixture(scope="module")
def rdata():
    ro.r("""
      suppressMessages(library(glmnet))
      set.seed(11)
      x <- matrix(rnorm(300 * 15), 300, 15, dimnames = list(NULL, paste0("v", 1:15)))
      eta <- drop(x[, 1:4] %*% c(1.5, -1, 0.7, 0.4))
      y <- eta + rnorm(300)
      yb <- factor(ifelse(eta + rlogis(300) > 0, "up", "down"), levels = c("up", "down"))
      yp <- rpois(300, exp(0.3 * x[, 1]))
      off <- runif(300, -0.2, 0.2)
      newx <- matrix(rnorm(7 * 15), 7, 15)
    """)
    return {k: ro.r(k) for k in ("x", "y", "yb", "yp", "off", "newx")}


def _r(expr, **env):
    for k, v in env.items():
        ro.globalenv[k] = v
    return ro.r(expr)


def _np(v):
    return np.array(v, dtype=np.float64)


def _predict_r(obj, newx_r, s, type="link", newoffset=None):
    env = dict(obj=obj, newx=newx_r, s=ri.FloatSexpVector(list(np.atleast_1d(s))))
    off = ""
    if newoffset is not None:
        env["noff"] = newoffset
        off = ", newoffset = noff"
    out = _r(f'predict(obj, newx = newx, s = s, type = "{type}"{off})', **env)
    if type == "class":
        return np.array(out, dtype=object).reshape(len(newx_r.rx(True, 1)), -1, order="F")
    return _np(out).reshape(-1, len(np.atleast_1d(s)), order="F")


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_to_r_objects_work_with_glmnet_methods(rdata, family):
    """A Python fit converted with to_r(): R glmnet's predict/coef give the Python numbers."""
    x = r_matrix(rdata["x"])
    newx = _np(rdata["newx"]).reshape(7, 15, order="F")
    kw = {}
    if family == "gaussian":
        y = _np(rdata["y"])
    elif family == "binomial":
        y = np.where(np.array(rdata["yb"]) == 2, "down", "up")
    else:
        y, kw = _np(rdata["yp"]), dict(offset=_np(rdata["off"]))
    fit = mg.glmnet(x, y, family, **kw)
    robj = to_r(fit)
    cls = list(_r("class(obj)", obj=robj))
    assert cls == [{"gaussian": "elnet", "binomial": "lognet", "poisson": "fishnet"}[family], "glmnet"]
    assert list(robj.names)[:10] == ["a0", "beta", "df", "dim", "lambda", "dev.ratio", "nulldev",
                                     "npasses", "jerr", "offset"]
    s = np.array([fit.lambda_[3], 0.05, 0.011, fit.lambda_[-1] / 2])
    noff = ri.FloatSexpVector([0.1] * 7) if family == "poisson" else None
    types = {"gaussian": ["link", "response"], "binomial": ["link", "response", "class"],
             "poisson": ["link", "response"]}[family]
    for t in types:
        pr = _predict_r(robj, rdata["newx"], s, t, noff)
        py = fit.predict(newx, s=s, type=t, newoffset=None if noff is None else np.full(7, 0.1))
        if t == "class":
            np.testing.assert_array_equal(pr, py)
        else:
            np.testing.assert_allclose(pr, py, rtol=1e-12, atol=1e-12)
    cr = _np(_r("as.matrix(coef(obj, s = s))", obj=robj,
                s=ri.FloatSexpVector(list(s)))).reshape(-1, len(s), order="F")
    np.testing.assert_allclose(cr, fit.coef(s=s), rtol=1e-12, atol=1e-14)
    # print(), deviance() and plot() dispatch to glmnet's methods without error
    _r("invisible(capture.output(print(obj))); deviance(obj); "
       "pdf(NULL); plot(obj, xvar = 'lambda'); invisible(dev.off())", obj=robj)
    np.testing.assert_allclose(_np(_r("deviance(obj)", obj=robj)),
                               (1 - fit.dev_ratio) * fit.nulldev, rtol=1e-12)
    # and back: from_r(to_r(fit)) is the same fit
    back = from_r(robj)
    for k in ("a0", "beta", "lambda_", "df", "dev_ratio"):
        np.testing.assert_array_equal(getattr(back, k), getattr(fit, k))
    assert (back.family, back.nobs, back.classnames, back.offset) == \
        (fit.family, fit.nobs, fit.classnames, fit.offset)


def test_fit_r_matches_r_glmnet(rdata):
    """fit_r on R data: glmnet's predict on our R object vs R glmnet's own fit."""
    for fam, y in (("gaussian", "y"), ("binomial", "yb")):
        ours = fit_r(rdata["x"], rdata[y], family=fam, thresh=THRESH, alpha=0.7)
        ref = _r(f'glmnet(x, {y}, family = "{fam}", thresh = {THRESH}, alpha = 0.7)')
        assert list(ours.rx2("beta").do_slot("Dimnames")[0]) == [f"v{j}" for j in range(1, 16)]
        s = np.array([0.2, 0.05, 0.01])
        for t in ("link", "response"):
            np.testing.assert_allclose(_predict_r(ours, rdata["newx"], s, t),
                                       _predict_r(ref, rdata["newx"], s, t), rtol=1e-5, atol=1e-6)
        if fam == "binomial":      # R's factor level order decides the classes
            assert list(ours.rx2("classnames")) == list(ref.rx2("classnames")) == ["up", "down"]
            np.testing.assert_array_equal(_predict_r(ours, rdata["newx"], s, "class"),
                                          _predict_r(ref, rdata["newx"], s, "class"))
    # R spellings and R values for the arguments
    a = fit_r(rdata["x"], rdata["yp"], family=ro.r("poisson()"), offset=rdata["off"],
              **{"penalty.factor": ro.r("c(0, rep(1, 14))"), "lambda.min.ratio": 0.05,
                 "exclude": ro.r("c(2L, 3L)"), "nlambda": ro.r("30")})
    b = mg.glmnet(r_matrix(rdata["x"]), _np(rdata["yp"]), "poisson", offset=_np(rdata["off"]),
                  penalty_factor=np.r_[0, np.ones(14)], lambda_min_ratio=0.05, exclude=[1, 2],
                  nlambda=30)
    np.testing.assert_array_equal(_np(a.rx2("lambda")), b.lambda_)
    np.testing.assert_array_equal(_np(_r("as.matrix(obj$beta)", obj=a)).reshape(15, -1, order="F"),
                                  b.beta)


def test_cv_round_trip(rdata):
    """cv_fit_r draws cv.glmnet's folds from R's RNG; the R cv.glmnet methods work on it and on
    to_r(python cv); predictions at lambda.min / lambda.1se match Python."""
    ro.r("set.seed(5)")
    ours = cv_fit_r(rdata["x"], rdata["y"], nfolds=5, keep=True, thresh=THRESH)
    ref = _r(f"set.seed(5); cv.glmnet(x, y, nfolds = 5, keep = TRUE, thresh = {THRESH})")
    np.testing.assert_array_equal(np.array(ours.rx2("foldid")), np.array(ref.rx2("foldid")))
    np.testing.assert_allclose(_np(ours.rx2("cvm")), _np(ref.rx2("cvm")), rtol=1e-4)
    assert list(_r("class(obj)", obj=ours)) == ["cv.glmnet"]
    assert list(ours.names) == list(ref.names)
    py = from_r(ours)
    assert isinstance(py, mg.CVGlmnet)
    newx = _np(rdata["newx"]).reshape(7, 15, order="F")
    for s in ("lambda.min", "lambda.1se"):
        pr = _np(_r(f'predict(obj, newx = newx, s = "{s}")', obj=ours, newx=rdata["newx"]))
        np.testing.assert_allclose(pr.reshape(-1), py.predict(newx, s=s)[:, 0], rtol=1e-12,
                                   atol=1e-12)
    # a Python cv object through R's methods
    cv = mg.cv_glmnet(r_matrix(rdata["x"]), np.array(rdata["yb"]) == 2, "binomial",
                      type_measure="auc", nfolds=5, seed=3, keep=True)
    robj = to_r(cv)
    _r("invisible(capture.output(print(obj))); pdf(NULL); plot(obj); invisible(dev.off())",
       obj=robj)
    assert float(_r("obj$lambda.min", obj=robj)[0]) == cv.lambda_min
    assert dict(zip(_r("names(obj$name)", obj=robj), _r("obj$name", obj=robj))) == \
        {"auc": "AUC"}
    for s in ("lambda.min", "lambda.1se"):
        pr = _np(_r(f'predict(obj, newx = newx, s = "{s}", type = "response")', obj=robj,
                    newx=rdata["newx"]))
        np.testing.assert_allclose(pr.reshape(-1), cv.predict(newx, s=s, type="response")[:, 0],
                                   rtol=1e-12)
    assert _np(_r("obj$fit.preval", obj=robj)).size == cv.fit_preval.size


def _real_address(sexp):
    ptr = openrlib.rlib.REAL(sexp.__sexp__._cdata)
    return int(openrlib.ffi.cast("uintptr_t", ptr))


def test_no_copy_of_x_on_the_way_in(rdata, monkeypatch):
    """The engine receives a read-only numpy view whose data pointer is R's REAL(x)."""
    seen = {}
    orig = engine.run_paths

    def spy(X, *a, **k):
        seen["X"] = X
        return orig(X, *a, **k)

    monkeypatch.setattr(engine, "run_paths", spy)
    fit_r(rdata["x"], rdata["y"])
    X = seen["X"]
    assert X.ctypes.data == _real_address(rdata["x"])
    assert not X.flags.writeable and not X.flags.owndata and X.flags.f_contiguous
    assert X.shape == (300, 15)
    cv_fit_r(rdata["x"], rdata["y"], nfolds=3)
    assert seen["X"].ctypes.data == _real_address(rdata["x"])
    v = r_matrix(rdata["x"])
    with pytest.raises(ValueError):
        v[0, 0] = 1.0                        # R's memory cannot be written through the view


def test_round_trip_overhead_5000x200():
    """R matrix -> engine -> R glmnet object adds <= 5 ms to the fit (median of 9)."""
    ro.r("set.seed(2); X5 <- matrix(rnorm(5000 * 200), 5000); "
         "Y5 <- drop(X5[, 1:10] %*% rnorm(10)) + rnorm(5000)")
    x_r, y_r = ro.r("X5"), ro.r("Y5")
    fit_r(x_r, y_r)                                      # warm-up (R closures, engine)
    extra, eng, wall = [], [], []
    for _ in range(9):
        t0 = time.perf_counter()
        fit_r(x_r, y_r)
        wall.append(time.perf_counter() - t0)
        t = last_timing()
        extra.append(t["total_s"] - t["engine_s"])
        eng.append(t["engine_s"])
    med = float(np.median(extra)) * 1e3
    print(f"\nrpy2 round trip 5000x200: overhead {med:.2f} ms (median), engine fit "
          f"{np.median(eng) * 1e3:.1f} ms, call {np.median(wall) * 1e3:.1f} ms")
    assert med <= 5.0


@pytest.mark.parametrize("call,exc,match", [
    (lambda d: fit_r(ro.r("as.data.frame(x)"), d["y"]), TypeError, "^x must be a numeric R matrix"),
    (lambda d: fit_r(d["y"], d["y"]), ValueError, "^x must be an R matrix"),
    (lambda d: fit_r(ro.r("Matrix::Matrix(x, sparse = FALSE)"), d["y"]), TypeError,
     "^x: a dense Matrix-package matrix"),
    (lambda d: fit_r(np.ones((5, 2)), d["y"]), TypeError, "^x must be an R matrix"),
    (lambda d: fit_r(ro.r('matrix(letters[1:6], 3)'), d["y"]), TypeError, "^x must be a numeric"),
    (lambda d: fit_r(ro.r("x2 <- x; x2[3, 2] <- NA; x2"), d["y"]), ValueError, "^x contains NaN"),
    (lambda d: fit_r(d["x"], ro.r("c(NA, y[-1])")), ValueError, "^y contains missing"),
    (lambda d: fit_r(d["x"], ro.r("factor(rep(1:3, 100))"), family="binomial"), ValueError,
     "^y: a factor with 3 levels"),
    (lambda d: fit_r(d["x"], ro.r("y[-1]")), ValueError, "^y must have length 300"),
    (lambda d: fit_r(d["x"], d["y"], family="cox"), ValueError, "^family must be one of"),
    (lambda d: fit_r(d["x"], d["y"], family=ro.r('binomial(link = "probit")')), ValueError,
     "^family: binomial"),
    (lambda d: fit_r(d["x"], d["y"], weights=ro.r("rep(-1, 300)")), ValueError, "^weights"),
    (lambda d: fit_r(d["x"], d["y"], exclude=ro.r("0L")), ValueError, "^exclude"),
    (lambda d: fit_r(d["x"], d["y"], nlambda=ro.r("NA_integer_")), ValueError, "^nlambda"),
    (lambda d: fit_r(d["x"], d["y"], **{"lambda.min.ratio": 2}), ValueError, "^lambda_min_ratio"),
    (lambda d: fit_r(d["x"], d["y"], bogus=1), TypeError, "bogus"),
    (lambda d: cv_fit_r(d["x"], d["y"], nfolds=2), ValueError, "^nfolds"),
    (lambda d: cv_fit_r(d["x"], d["y"], foldid=ro.r("rep(0:2, 100)")), ValueError, "^foldid"),
    (lambda d: to_r("fit"), TypeError, "^obj must be a GlmnetFit"),
    (lambda d: from_r(d["x"]), TypeError, "^obj must be an R glmnet object"),
])
def test_bad_input_names_the_argument(rdata, call, exc, match):
    with pytest.raises(exc, match=match):
        call(rdata)


def test_r_package_errors_reach_python_as_r_errors():
    """Through rpy2, the R package's argument checks arrive as R errors naming the argument.
    Run in a child process: once reticulate starts Python inside an rpy2-embedded R, the
    interpreter's shutdown is not safe (reticulate's warning about rpy2), so keep it apart."""
    code = textwrap.dedent("""
        import rpy2.robjects as ro
        from rpy2.rinterface_lib.embedded import RRuntimeError
        ro.r('set.seed(1); x <- matrix(rnorm(200), 50); y <- rnorm(50)')
        for expr, arg in (('mlxsglmnet::mlxs_glmnet(x, y, nlambda = -1)', 'nlambda'),
                          ('mlxsglmnet::mlxs_glmnet(x, y[-1])', 'y'),
                          ('mlxsglmnet::mlxs_glmnet(x, y, weights = rep(-1, 50))', 'weights'),
                          ('mlxsglmnet::mlxs_cv_glmnet(x, y, nfolds = 2)', 'nfolds')):
            try:
                ro.r(expr)
            except RRuntimeError as e:
                assert arg in str(e), (expr, str(e))
                print('ok', arg)
            else:
                raise SystemExit('no error: ' + expr)
    """)
    if not ro.r('nzchar(system.file(package = "mlxsglmnet"))')[0]:   # (no namespace load here)
        pytest.fail("the R package mlxsglmnet is not installed (make install)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MLXSGLMNET_PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("ok") == 4


def test_r_errors_in_r_methods_surface_as_rruntimeerror(rdata):
    fit = to_r(mg.glmnet(r_matrix(rdata["x"]), _np(rdata["y"])))
    with pytest.raises(RRuntimeError):
        _r("predict(obj, newx = newx[, 1:3], s = 0.1)", obj=fit, newx=rdata["newx"])


@pytest.mark.parametrize("fam,y,extra", [
    ("gaussian", "y", ""), ("binomial", "yb", ", alpha = 0.5"),
    ("poisson", "yp", ", offset = off, lower.limits = -0.2")])
def test_relax_matches_r_glmnet_and_round_trips(rdata, fam, y, extra):
    """glmnet(relax=True) in Python against R glmnet's relax.glmnet on the same data: the relaxed
    fit at every lambda, glmnet's gamma blend through R's predict on our converted object, and
    back through from_r."""
    ref = _r(f'glmnet(x, {y}, family = "{fam}", relax = TRUE, maxp = 6, thresh = 1e-12{extra})')
    kw = dict(alpha=0.5) if fam == "binomial" else \
        dict(offset=_np(rdata["off"]), lower_limits=-0.2) if fam == "poisson" else {}
    yv = _np(_r(f"as.numeric({y}) - {1 if fam == 'binomial' else 0}"))
    fit = mg.glmnet(r_matrix(rdata["x"]), yv, fam, relax=True, maxp=6, thresh=1e-12, **kw)
    rr = _r("obj$relaxed", obj=ref)
    rlam = _np(rr.rx2("lambda"))
    assert fit.relaxed.lambda_.shape == rlam.shape and len(rlam) < len(fit.lambda_)
    np.testing.assert_allclose(fit.relaxed.lambda_, rlam, rtol=1e-10)
    rb = _np(_r("as.matrix(obj$relaxed$beta)", obj=ref)).reshape(15, -1, order="F")
    np.testing.assert_allclose(fit.relaxed.beta, rb, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fit.relaxed.a0, _np(rr.rx2("a0")), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fit.relaxed.dev_ratio, _np(rr.rx2("dev.ratio")), rtol=1e-7, atol=1e-10)
    ours = to_r(fit)
    assert list(ro.r["class"](ours))[0] == "relaxed"
    off = ", newoffset = off[1:7]" if fam == "poisson" else ""
    for gamma in (0.0, 0.4, 1.0):
        expr = f'predict(obj, newx, s = c(0.2, 0.05, 0.005), gamma = {gamma}{off})'
        a = _np(_r(expr, obj=ours))
        b = _np(_r(expr, obj=ref))
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
        p = fit.predict(_np(rdata["newx"]), s=[0.2, 0.05, 0.005], gamma=gamma,
                        newoffset=_np(rdata["off"])[:7] if fam == "poisson" else None)
        np.testing.assert_allclose(p, b, rtol=1e-6, atol=1e-8)
    back = from_r(ref)
    np.testing.assert_allclose(back.relaxed.beta, rb)
    assert from_r(ours).relaxed.beta.shape == fit.relaxed.beta.shape


@pytest.mark.parametrize("fam,y,measure", [("gaussian", "y", "default"), ("binomial", "yb", "auc"),
                                           ("binomial", "yb", "class"), ("poisson", "yp", "deviance")])
def test_cv_relax_matches_r_cv_glmnet(rdata, fam, y, measure):
    """cv_glmnet(relax=True) against R's cv.glmnet(relax = TRUE) with the same folds: every
    gamma's statistics, glmnet's choice of (gamma, lambda), predictions at it, and the object
    through to_r / from_r (R's cv.relaxed methods on ours)."""
    _r("foldid <- rep_len(1:5, 300)")
    ref = _r(f'cv.glmnet(x, {y}, family = "{fam}", relax = TRUE, foldid = foldid, '
             f'gamma = c(0, 0.3, 0.8), type.measure = "{measure}")')
    yv = _np(_r(f"as.numeric({y}) - {1 if fam == 'binomial' else 0}"))
    cv = mg.cv_glmnet(r_matrix(rdata["x"]), yv, fam, foldid=np.resize(np.arange(1, 6), 300),
                      relax=True, gamma=[0.8, 0.0, 0.3], type_measure=measure)
    r = cv.relaxed
    np.testing.assert_array_equal(r["gamma"], [0.0, 0.3, 0.8])
    rr = _r("obj$relaxed", obj=ref)
    for i, st in enumerate(r["statlist"]):
        rs = _r(f"obj$relaxed$statlist[[{i + 1}]]", obj=ref)
        np.testing.assert_allclose(st["lambda_"], _np(rs.rx2("lambda")), rtol=1e-10)
        np.testing.assert_allclose(st["cvm"], _np(rs.rx2("cvm")), rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(st["cvsd"], _np(rs.rx2("cvsd")), rtol=1e-6, atol=1e-10)
        np.testing.assert_array_equal(st["nzero"], _np(rs.rx2("nzero")))
    for k in ("lambda.min", "lambda.1se", "gamma.min", "gamma.1se"):
        assert r[k.replace(".", "_")] == pytest.approx(float(rr.rx2(k)[0]), rel=1e-10)
    np.testing.assert_array_equal(r["index"], _np(rr.rx2("index")).reshape(2, 2))
    np.testing.assert_allclose(cv.cvm, _np(ref.rx2("cvm")), rtol=1e-7, atol=1e-10)
    for s in ("lambda.min", "lambda.1se"):
        want = _np(_r(f'predict(obj, newx, s = "{s}")', obj=ref))
        np.testing.assert_allclose(cv.predict(_np(rdata["newx"]), s=s).ravel(), want.ravel(),
                                   rtol=1e-6, atol=1e-8)
    ours = to_r(cv)
    assert list(ro.r["class"](ours)) == ["cv.relaxed", "cv.glmnet"]
    np.testing.assert_allclose(_np(_r('predict(obj, newx, s = "lambda.1se")', obj=ours)),
                               _np(_r('predict(obj, newx, s = "lambda.1se")', obj=ref)),
                               rtol=1e-6, atol=1e-8)
    back = from_r(ref)
    assert back.relaxed["gamma_min"] == r["gamma_min"]
    np.testing.assert_array_equal(back.relaxed["index"], r["index"])


@pytest.mark.parametrize("ctl", [dict(fdev=0), dict(devmax=0.8), dict(mnlam=20, fdev=1e-3),
                                 dict(eps=1e-3), dict(pmin=1e-4)], ids=str)
def test_glmnet_control_matches_r(rdata, ctl):
    """mg.glmnet_control(...) against R's glmnet.control(...) with the same values: the same
    paths, gaussian and binomial; factory=True restores the defaults on both sides."""
    args = ", ".join(f"{k} = {v}" for k, v in ctl.items())
    try:
        _r(f"glmnet.control({args})")
        mg.glmnet_control(**ctl)
        for fam, y in (("gaussian", "y"), ("binomial", "yb")):
            ref = _r(f'glmnet(x, {y}, family = "{fam}", lambda.min.ratio = 0, thresh = 1e-12)')
            yv = _np(_r(f"as.numeric({y}) - {1 if fam == 'binomial' else 0}"))
            fit = mg.glmnet(r_matrix(rdata["x"]), yv, fam, lambda_min_ratio=0, thresh=1e-12)
            np.testing.assert_allclose(fit.lambda_, _np(ref.rx2("lambda")), rtol=1e-10)
            rb = _np(_r("as.matrix(obj$beta)", obj=ref)).reshape(15, -1, order="F")
            np.testing.assert_allclose(fit.beta, rb, rtol=1e-7, atol=1e-9)
    finally:
        _r("glmnet.control(factory = TRUE)")
        mg.glmnet_control(factory=True)


def test_fit_r_sparse_matches_r_glmnet():
    """A dgCMatrix from R reaches the engine as a scipy.sparse view of its slots (no copy) and
    gives R glmnet's sparse fit; another sparse class is converted once."""
    _r("set.seed(5); xs <- Matrix::rsparsematrix(200, 25, density = 0.2); "
       "ys <- drop(as.matrix(xs[, 1:3]) %*% c(1, -1, 0.5)) + rnorm(200)")
    xs = _r("xs")
    m = r_matrix(xs)
    assert m.format == "csc" and not m.data.flags.writeable
    assert m.data.ctypes.data == np.asarray(xs.do_slot("x").memoryview()).ctypes.data
    ours = fit_r(xs, _r("ys"), thresh=1e-12)
    ref = _r("glmnet(xs, ys, thresh = 1e-12)")
    np.testing.assert_allclose(_np(_r("as.matrix(obj$beta)", obj=ours)),
                               _np(_r("as.matrix(obj$beta)", obj=ref)), rtol=1e-7, atol=1e-9)
    t = fit_r(_r("methods::as(xs, 'TsparseMatrix')"), _r("ys"), thresh=1e-12)
    np.testing.assert_allclose(_np(_r("as.matrix(obj$beta)", obj=t)),
                               _np(_r("as.matrix(obj$beta)", obj=ours)), rtol=1e-12, atol=1e-14)
