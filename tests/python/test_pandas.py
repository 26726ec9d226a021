"""pandas in and out: names, indexes, labelled coefficients and predictions, make_x vs makeX."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

import mlxs_glmnet as mg
from rbridge import run_rscript

pd = pytest.importorskip("pandas")


def _frame(n=160, p=6, seed=0, binomial=False):
    rng = np.random.default_rng(seed)
    cols = [f"g{j}" for j in range(p)]
    x = pd.DataFrame(rng.standard_normal((n, p)), columns=cols,
                     index=pd.Index([f"obs{i}" for i in range(n)], name="id"))
    eta = 1.5 * x["g0"] - x["g1"] + 0.5 * x["g2"]
    if binomial:
        y = pd.Series(np.where(eta + rng.logistic(size=n) > 0, "case", "control"), index=x.index)
    else:
        y = pd.Series(eta + rng.standard_normal(n), index=x.index, name="resp")
    return x, y


@pytest.fixture(scope="module")
def gaus():
    x, y = _frame()
    return x, y, mg.glmnet(x, y), mg.glmnet(x.to_numpy(), y.to_numpy())


def test_names_and_index_are_kept(gaus):
    x, y, fit, fitn = gaus
    assert fit.feature_names == list(x.columns)
    assert fit.obs_index.equals(y.index)
    assert fitn.feature_names is None and fitn.obs_index is None
    np.testing.assert_array_equal(fit.beta, fitn.beta)          # same numbers as numpy input
    np.testing.assert_array_equal(fit.lambda_, fitn.lambda_)


def test_coef_frame(gaus):
    x, _, fit, fitn = gaus
    cf = fit.coef_frame()
    assert list(cf.index) == ["(Intercept)"] + list(x.columns)
    np.testing.assert_array_equal(cf.columns.to_numpy(), fit.lambda_)
    assert cf.columns.name == "lambda"
    np.testing.assert_array_equal(cf.to_numpy(), fit.coef())
    s = [0.2, 0.05, 0.01]
    cs = fit.coef_frame(s=s)
    np.testing.assert_array_equal(cs.columns.to_numpy(), s)
    np.testing.assert_allclose(cs.to_numpy(), fit.coef(s=s), rtol=0, atol=0)
    # a bare matrix gets glmnet's names V1..Vp
    assert list(fitn.coef_frame(s=0.1).index) == ["(Intercept)"] + [f"V{j}" for j in range(1, 7)]


def test_predict_on_frames(gaus):
    x, _, fit, fitn = gaus
    newx = x.iloc[10:17]
    one = fit.predict(newx, s=0.05)
    assert isinstance(one, pd.Series) and one.index.equals(newx.index)
    assert one.name == 0.05
    np.testing.assert_allclose(one.to_numpy(), fitn.predict(newx.to_numpy(), s=0.05)[:, 0],
                               rtol=0, atol=1e-14)
    many = fit.predict(newx, s=[0.1, 0.05])
    assert isinstance(many, pd.DataFrame) and many.index.equals(newx.index)
    np.testing.assert_array_equal(many.columns.to_numpy(), [0.1, 0.05])
    path = fit.predict(newx)                          # s=None: every lambda of the path
    assert path.shape == (7, len(fit.lambda_))
    # columns are matched by name, whatever their order
    shuffled = newx[list(reversed(newx.columns))]
    pd.testing.assert_series_equal(fit.predict(shuffled, s=0.05), one)
    with pytest.raises(ValueError, match="newx lacks column"):
        fit.predict(newx.drop(columns="g3"), s=0.05)
    # numpy newx still gives a plain array
    assert isinstance(fit.predict(newx.to_numpy(), s=0.05), np.ndarray)
    # coefficients/nonzero ignore newx as in glmnet
    assert isinstance(fit.predict(type="coefficients", s=0.05), np.ndarray)


def test_binomial_series_labels_and_classes():
    x, y = _frame(binomial=True, seed=3)
    fit = mg.glmnet(x, y, "binomial")
    assert fit.classnames == ["case", "control"]
    cls = fit.predict(x.iloc[:8], s=0.02, type="class")
    assert isinstance(cls, pd.Series) and set(cls) <= {"case", "control"}
    prob = fit.predict(x.iloc[:8], s=0.02, type="response")
    np.testing.assert_array_equal(cls.to_numpy(), np.where(prob > 0.5, "control", "case"))
    # a categorical Series: its categories give the class order, as R factor levels
    yc = pd.Series(pd.Categorical(y, categories=["control", "case"]), index=y.index)
    fc = mg.glmnet(x, yc, "binomial")
    assert fc.classnames == ["control", "case"]
    np.testing.assert_allclose(fc.beta, -fit.beta, atol=1e-6)


def test_mismatched_indexes_are_refused():
    x, y = _frame()
    with pytest.raises(ValueError, match="y: its index does not match"):
        mg.glmnet(x, y.iloc[::-1])
    mg.glmnet(x, y.iloc[::-1].to_numpy())                 # positional pairing is the user's call
    with pytest.raises(ValueError, match="y: its index"):
        mg.cv_glmnet(x, y.reset_index(drop=True), nfolds=3, seed=1)


def test_non_numeric_columns_point_to_make_x():
    x, y = _frame()
    bad = x.assign(colour=np.where(np.arange(len(x)) % 2, "red", "blue"),
                   grade=pd.Categorical(np.arange(len(x)) % 3))
    for call in (lambda: mg.glmnet(bad, y), lambda: mg.cv_glmnet(bad, y, nfolds=3),
                 lambda: mg.glmnet_batch(bad, y, weights_batch=np.ones((2, len(x))))):
        with pytest.raises(TypeError) as ei:
            call()
        msg = str(ei.value)
        assert msg.startswith("x has non-numeric column(s)")
        assert "'colour'" in msg and "'grade'" in msg and "make_x" in msg and "one-hot" in msg
    fit = mg.glmnet(x, y)
    with pytest.raises(TypeError, match="newx has non-numeric column"):
        fit.predict(x.iloc[:3].assign(g0=["a", "b", "c"]), s=0.1)
    # bool and nullable integer columns are numeric
    ok = x.assign(flag=np.arange(len(x)) % 2 == 0, cnt=pd.array(np.arange(len(x)) % 5, "Int64"))
    assert mg.glmnet(ok, y).feature_names[-2:] == ["flag", "cnt"]


def test_make_x_encodes_then_fits():
    x, y = _frame()
    df = x.assign(colour=np.where(np.arange(len(x)) % 3 == 0, "red", "blue"))
    m = mg.make_x(df)
    assert list(m.columns) == list(x.columns) + ["colourblue", "colourred"]
    assert m.index.equals(df.index) and (m.dtypes == np.float64).all()
    fit = mg.glmnet(m, y)
    assert fit.feature_names[-2:] == ["colourblue", "colourred"]
    with pytest.raises(TypeError, match="train must be a pandas DataFrame"):
        mg.make_x(df.to_numpy())
    with pytest.raises(ValueError, match="test must have the same columns"):
        mg.make_x(df, df.iloc[:, :3])


def test_make_x_matches_glmnet_makeX():
    """Same columns, names and values as glmnet::makeX (with NA, a test frame and na.impute)."""
    train = pd.DataFrame({
        "a": [1.0, np.nan, 3.0, 4.0, 5.5],
        "f": pd.Categorical(["u", "v", None, "u", "w"], categories=["u", "v", "w"]),
        "s": ["p", "q", "p", "r", "q"],
        "b": [True, False, True, True, False],
        "k": [1, 2, 3, 4, 5],
    })
    test = pd.DataFrame({"a": [2.0, np.nan], "f": pd.Categorical(["w", "v"], categories=["u", "v", "w"]),
                         "s": ["z", "p"], "b": [False, True], "k": [7, 8]})
    first_bool = pd.DataFrame({"b": [True, False, True], "a": [1, 2, 3],
                               "f": pd.Categorical(["x", "y", "x"])})
    one_level = pd.DataFrame({"a": [1, 2, 3], "g": ["k", "k", "k"], "l": [False, True, True]})
    ours = {"plain": mg.make_x(train), "imp": mg.make_x(train, na_impute=True),
            "fb": mg.make_x(first_bool)}
    with pytest.warns(UserWarning, match="'gk' is all 1"):
        ours["one"] = mg.make_x(one_level)
    ours["tr"], ours["te"] = mg.make_x(train, test)
    ours["trI"], ours["teI"] = mg.make_x(train, test, na_impute=True)
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out")
        run_rscript([
            "suppressMessages(library(glmnet))",
            'tr <- data.frame(a = c(1, NA, 3, 4, 5.5), f = factor(c("u", "v", NA, "u", "w")),',
            '                 s = c("p", "q", "p", "r", "q"), b = c(TRUE, FALSE, TRUE, TRUE, FALSE),',
            '                 k = 1:5)',
            'te <- data.frame(a = c(2, NA), f = factor(c("w", "v"), levels = c("u", "v", "w")),',
            '                 s = c("z", "p"), b = c(FALSE, TRUE), k = 7:8)',
            "w <- function(m, nm) { write.csv(as.matrix(m), file.path(%r, paste0(nm, '.csv')),"
            " row.names = FALSE) }" % d,
            'w(makeX(tr), "plain"); w(makeX(tr, na.impute = TRUE), "imp")',
            'r <- makeX(tr, te); w(r$x, "tr"); w(r$xtest, "te")',
            'r <- makeX(tr, te, na.impute = TRUE); w(r$x, "trI"); w(r$xtest, "teI")',
            'w(makeX(data.frame(b = c(TRUE, FALSE, TRUE), a = 1:3, f = factor(c("x", "y", "x")))), "fb")',
            'w(suppressWarnings(makeX(data.frame(a = 1:3, g = c("k", "k", "k"), l = c(FALSE, TRUE, TRUE)))), "one")',
            f'writeLines("ok", "{out}")',
        ], d)
        for key, mine in ours.items():
            ref = pd.read_csv(os.path.join(d, key + ".csv"))
            assert list(mine.columns) == list(ref.columns), key
            np.testing.assert_allclose(mine.to_numpy(), ref.to_numpy(dtype=float), rtol=1e-12,
                                       err_msg=key)
    np.testing.assert_allclose(ours["imp"].attrs["means"]["a"], np.mean([1, 3, 4, 5.5]))


def test_cv_with_frames():
    x, y = _frame(n=150, seed=5)
    cv = mg.cv_glmnet(x, y, nfolds=5, keep=True, seed=2)
    assert isinstance(cv, mg.CVGlmnet)
    for name in ("lambda_", "cvm", "cvsd", "cvup", "cvlo", "nzero", "lambda_min", "lambda_1se",
                 "index", "glmnet_fit", "foldid", "fit_preval", "name", "predict", "coef", "plot"):
        assert hasattr(cv, name), name
    assert isinstance(cv.foldid, pd.Series) and cv.foldid.index.equals(y.index)
    assert isinstance(cv.fit_preval, pd.DataFrame) and cv.fit_preval.index.equals(y.index)
    np.testing.assert_array_equal(cv.fit_preval.columns.to_numpy(), cv.glmnet_fit.lambda_)
    cn = mg.cv_glmnet(x.to_numpy(), y.to_numpy(), nfolds=5, keep=True, seed=2)
    np.testing.assert_array_equal(cv.foldid.to_numpy(), cn.foldid)
    np.testing.assert_allclose(cv.cvm, cn.cvm, rtol=0, atol=0)
    np.testing.assert_array_equal(cv.fit_preval.to_numpy(), cn.fit_preval)
    cf = cv.coef_frame("lambda_min")
    assert list(cf.columns) == [cv.lambda_min] and list(cf.index)[1:] == list(x.columns)
    pr = cv.predict(x.iloc[:4], s="lambda_1se")
    assert isinstance(pr, pd.Series) and pr.index.equals(x.index[:4])
    pr2 = cv.predict(x.iloc[:4], s=[cv.lambda_min, cv.lambda_1se])
    assert pr2.shape == (4, 2)
