"""pandas in and out: DataFrame x, Series y, labelled coefficients and predictions, make_x().

pandas is optional: nothing here imports it unless a pandas object is passed in (or make_x /
coef_frame is called).

- A DataFrame ``x`` keeps its column names: they become the fit's ``feature_names`` and the row
  labels of ``coef_frame()``. Its columns must be numeric (bool counts as 0/1); a column of strings,
  categories or objects is refused with an error that points to one-hot encoding and to
  :func:`make_x`.
- The observation index (of ``y`` when it is a Series, else of ``x``) is kept as the fit's
  ``obs_index``; cross-validation labels ``fit_preval`` and ``foldid`` with it.
- ``predict`` on a DataFrame returns a Series (one lambda) or a DataFrame (several) indexed like
  the input; the columns of ``newx`` are matched to the fit's features by name.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np

__all__ = ["make_x", "coef_frame", "is_frame"]

_ONE_HOT_HINT = ("glmnet needs a numeric matrix: one-hot encode factor columns first, e.g. "
                 "x = mlxs_glmnet.make_x(df) (as glmnet's makeX), or pandas.get_dummies(df)")


def _pd():
    import pandas as pd
    return pd


def is_frame(obj) -> bool:
    """True for a pandas DataFrame (or subclass); never imports pandas (an object cannot be a
    DataFrame unless pandas is already imported)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.DataFrame)


def is_series(obj) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, pd.Series)


def _numeric_kind(dtype) -> bool:
    return getattr(dtype, "kind", "O") in "biuf"


def frame_to_matrix(x, name: str) -> np.ndarray:
    """A numeric DataFrame as a float64 matrix (no copy when x is one float64 block)."""
    bad = [(c, str(t)) for c, t in x.dtypes.items() if not _numeric_kind(t)
           and not str(t) in ("boolean", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16",
                              "UInt32", "UInt64", "Float32", "Float64")]
    if bad:
        shown = ", ".join(f"{c!r} ({t})" for c, t in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise TypeError(f"{name} has non-numeric column(s) {shown}{more}; {_ONE_HOT_HINT}")
    try:
        return x.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must contain only numeric columns ({e}); {_ONE_HOT_HINT}") from None


def obs_index(x, y):
    """The observation labels to keep: y's index (a Series), else x's (a DataFrame), else None.
    Refuses x and y whose indexes disagree (pandas would align them; glmnet pairs rows by
    position, so a mismatch is almost always a bug)."""
    xi = x.index if is_frame(x) else None
    yi = y.index if is_series(y) or is_frame(y) else None
    if xi is not None and yi is not None and not xi.equals(yi):
        raise ValueError("y: its index does not match the index of x; rows are paired by "
                         "position, so align them first (e.g. y = y.loc[x.index]) or pass "
                         "y.to_numpy()")
    return yi if yi is not None else xi


def feature_labels(fit) -> list:
    names = getattr(fit, "feature_names", None)
    if names is not None:
        return list(names)
    return [f"V{j + 1}" for j in range(fit.beta.shape[0])]   # glmnet's names for a bare matrix


def coef_frame(fit, s=None):
    """Coefficients as a DataFrame: rows "(Intercept)" and the features, one column per lambda
    (the fit's path when s is None, else the values s, interpolated as glmnet does)."""
    pd = _pd()
    cf, lam = fit._coefs_at(s)
    cols = pd.Index(np.asarray(lam, dtype=np.float64), name="lambda")
    return pd.DataFrame(cf, index=["(Intercept)"] + feature_labels(fit), columns=cols)


def align_newx(fit, newx):
    """newx's columns in the order of the fit's features (by name) when both are named."""
    names = getattr(fit, "feature_names", None)
    if names is None:
        return newx
    cols = [str(c) for c in newx.columns]
    if cols == list(names):
        return newx
    missing = [c for c in names if c not in set(cols)]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:5])
        raise ValueError(f"newx lacks column(s) {shown} that the model was fitted on")
    if len(set(cols)) != len(cols):
        raise ValueError("newx has duplicated column names")
    pos = {c: i for i, c in enumerate(cols)}
    return newx.iloc[:, [pos[c] for c in names]]


def wrap_predictions(out, newx, s, lam):
    """Label link/response/class predictions (n, k) with newx's index: a Series when s is a
    scalar, else a DataFrame with one column per lambda."""
    pd = _pd()
    out = np.asarray(out)
    if s is not None and np.ndim(s) == 0:
        return pd.Series(out[:, 0], index=newx.index, name=float(lam[0]))
    return pd.DataFrame(out, index=newx.index,
                        columns=pd.Index(np.asarray(lam, dtype=np.float64), name="lambda"))


def label_obs(values, index, lam=None):
    """Per-observation CV output (foldid or fit_preval) labelled with the training index."""
    if index is None or values is None:
        return values
    pd = _pd()
    values = np.asarray(values)
    if values.ndim == 1:
        return pd.Series(values, index=index, name="foldid")
    cols = None if lam is None else pd.Index(np.asarray(lam)[:values.shape[1]], name="lambda")
    return pd.DataFrame(values, index=index, columns=cols)


# ----------------------------------------------------------------------------- make_x
def _is_categorical(col) -> bool:
    return str(col.dtype) == "category"


def _is_text(col) -> bool:
    return col.dtype == object or str(col.dtype).startswith("string")


def _levels(col):
    if _is_categorical(col):
        return [c for c in col.cat.categories]
    vals = col.dropna().unique()
    return sorted(vals, key=lambda v: str(v))       # R's factor(): sorted unique values


def make_x(train, test=None, *, na_impute: bool = False):
    """A numeric model matrix from a DataFrame, as glmnet's ``makeX``.

    Numeric columns are kept (as float64); categorical and string columns are one-hot encoded
    with one column per level (all levels, none dropped), named column name + level
    (``"colour" + "red"`` -> ``"colourred"``), as ``model.matrix`` with ``contrasts = FALSE``;
    the levels of a string column are its sorted distinct values, those of a categorical column
    its categories (unused ones included). A bool column becomes ``name + "TRUE"`` (0/1), and
    also ``name + "FALSE"`` when it is the first non-numeric column (R's ``model.matrix`` gives
    the first factor-like term all its levels). A missing value in a categorical column gives
    NaN in all of its indicator columns.

    With ``test``, both frames are encoded with the same columns (levels taken from both), and
    ``(x, xtest)`` is returned. With ``na_impute=True`` missing values are replaced by the
    column means of the (encoded) training rows, which are kept in ``x.attrs["means"]``.
    """
    pd = _pd()
    if not is_frame(train):
        raise TypeError(f"train must be a pandas DataFrame, got {type(train).__name__}")
    if test is not None:
        if not is_frame(test):
            raise TypeError(f"test must be a pandas DataFrame, got {type(test).__name__}")
        if [str(c) for c in test.columns] != [str(c) for c in train.columns]:
            raise ValueError("test must have the same columns as train, in the same order")
    if not isinstance(na_impute, (bool, np.bool_)):
        raise TypeError("na_impute must be True or False")
    ntr = len(train)
    df = train if test is None else pd.concat([train, test.set_axis(train.columns, axis=1)],
                                              axis=0, ignore_index=True)
    blocks, names = [], []
    first_factor = True
    for c in df.columns:
        col = df[c]
        name = str(c)
        kind = getattr(col.dtype, "kind", "O")
        if str(col.dtype) in ("boolean",) or kind == "b":
            vals = col.astype("float64") if kind == "b" else col.astype("Float64").to_numpy(
                dtype=np.float64, na_value=np.nan)
            vals = np.asarray(vals, dtype=np.float64)
            if first_factor:
                blocks.append(np.where(np.isnan(vals), np.nan, 1.0 - vals))
                names.append(name + "FALSE")
            blocks.append(vals)
            names.append(name + "TRUE")
            first_factor = False
        elif _is_categorical(col) or _is_text(col):
            levels = _levels(col)
            if len(levels) == 1:
                warnings.warn(f"column {name + str(levels[0])!r} is all 1, due to a factor with a "
                              "single level", stacklevel=2)
            miss = col.isna().to_numpy()
            arr = col.astype(object).to_numpy()
            for lev in levels:
                ind = (arr == lev).astype(np.float64)
                ind[miss] = np.nan
                blocks.append(ind)
                names.append(name + str(lev))
            if len(levels) != 1:      # R turns a one-level factor into a numeric column of 1s
                first_factor = False
        elif kind in "iuf" or str(col.dtype) in ("Int8", "Int16", "Int32", "Int64", "UInt8",
                                                 "UInt16", "UInt32", "UInt64", "Float32",
                                                 "Float64"):
            blocks.append(col.to_numpy(dtype=np.float64, na_value=np.nan))
            names.append(name)
        else:
            raise TypeError(f"make_x: column {name!r} has dtype {col.dtype}, which is neither "
                            "numeric, bool, categorical nor text")
    m = np.column_stack(blocks) if blocks else np.empty((len(df), 0))
    means = None
    if na_impute:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # an all-NA column stays NaN
            means = np.nanmean(m[:ntr], axis=0) if ntr else np.full(m.shape[1], np.nan)
        holes = np.isnan(m)
        if holes.any():
            m = np.where(holes, means[None, :], m)
    index_tr = train.index
    x = pd.DataFrame(np.asfortranarray(m[:ntr]), index=index_tr, columns=names)
    if means is not None:
        x.attrs["means"] = pd.Series(means, index=names)
    if test is None:
        return x
    xt = pd.DataFrame(np.asfortranarray(m[ntr:]), index=test.index, columns=names)
    return x, xt
