"""The bad-input catalogue (rpkg/tests/testthat/bad_inputs.txt), Python side.

Every case of the shared table is run through the Python API (glmnet / cv_glmnet /
GlmnetFit.predict); the R package runs the same table in rpkg/tests/testthat/test-bad-inputs.R
(and re-checks there what glmnet 4.1-6 does with each input -- the table's ``glmnet`` column;
where we differ from glmnet the table's last column says why). For every case:

* ``error``: a ValueError/TypeError (MemoryError never) whose message matches ``names`` (it names
  the argument); ``warning``: the fit completes with a warning matching ``names``; ``ok``: no
  error and no warning, and the result is finite;
* the caller's objects are unchanged afterwards (bytes equal), the arrays handed in being
  read-only where numpy allows it, so that a write would raise instead of passing silently.

The compiled kernel's own argument checks (no out-of-bounds access whatever it is handed) are
tested at the end with inconsistent direct calls of ``_core.glmnet_path``.
"""
from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest

import mlxs_glmnet as mg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLE = os.path.join(ROOT, "rpkg", "tests", "testthat", "bad_inputs.txt")
FIELDS = ("id", "entry", "family", "expect", "names", "glmnet", "python", "r", "decision")


def load_table(path=TABLE):
    cases = []
    with open(path) as fh:
        for line in fh:
            if not line.strip() or line.startswith("#"):
                continue
            parts = [f.strip() for f in line.rstrip("\n").split(" | ")]
            assert len(parts) == len(FIELDS), f"bad catalogue line: {line!r}"
            cases.append(dict(zip(FIELDS, parts)))
    return cases


CASES = load_table()
N, P = 40, 5


def base_data(family):
    rng = np.random.default_rng(20261129)
    x = rng.standard_normal((N, P))
    if family == "gaussian":
        y = x @ np.array([1.0, -1.0, 0.5, 0.0, 0.0]) + rng.standard_normal(N)
    elif family == "binomial":
        y = (np.arange(N) % 2).astype(np.float64)
    else:
        y = rng.poisson(2.0, N).astype(np.float64)
    return x, y


def put(a, idx, v):
    a = np.array(a, dtype=np.float64, copy=True)
    a[idx] = v
    return a


def _env(x, y):
    import pandas as pd
    return dict(np=np, pd=pd, nan=np.nan, inf=np.inf, x=x, y=y, n=N, p=P, w=np.ones(N),
                z=np.zeros(N), put=put)


def _snapshot(v):
    if isinstance(v, np.ndarray):
        return ("nd", v.dtype.str, v.shape, v.tobytes(order="A"))
    if hasattr(v, "to_numpy") and hasattr(v, "columns"):
        return ("df", tuple(map(str, v.columns)), tuple(str(t) for t in v.dtypes),
                v.to_numpy().astype(str).tobytes())
    if isinstance(v, list):
        return ("list", repr(v))
    return ("val", repr(v))


def _freeze(v):
    if isinstance(v, np.ndarray):
        v.setflags(write=False)
    return v


def run_case(case):
    """Run one catalogue case; returns (exception or None, warning messages, result)."""
    x, y = base_data(case["family"])
    env = _env(x, y)
    over = eval(case["python"], env)  # noqa: S307 - the catalogue is part of the test suite
    args = dict(x=x, y=y, family=case["family"])
    args.update(over)
    for v in args.values():
        _freeze(v)
    before = {k: _snapshot(v) for k, v in args.items()}
    base_before = (x.tobytes(), y.tobytes())
    err, res = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if case["entry"] == "fit":
                res = mg.glmnet(args.pop("x"), args.pop("y"), args.pop("family"), **args)
            elif case["entry"] == "cv":
                res = mg.cv_glmnet(args.pop("x"), args.pop("y"), args.pop("family"), seed=1,
                                   nfolds=args.pop("nfolds", 5), **args)
            elif case["entry"] == "predict":
                fit = mg.glmnet(x, y, case["family"])
                pargs = dict(newx=x, s=0.1)
                pargs.update(over)
                res = fit.predict(**pargs)
            else:
                raise AssertionError(f"unknown entry {case['entry']!r}")
        except Exception as e:  # noqa: BLE001 - judged below
            err = e
    msgs = [str(w.message) for w in caught]
    args = dict(x=x, y=y, family=case["family"])
    args.update(over)
    after = {k: _snapshot(v) for k, v in args.items()}
    assert after == before, f"[{case['id']}] an argument was modified by the call"
    assert (x.tobytes(), y.tobytes()) == base_before, f"[{case['id']}] the base data changed"
    return err, msgs, res


def _finite(res):
    if isinstance(res, np.ndarray):
        return np.isfinite(res).all()
    if hasattr(res, "beta"):
        return np.isfinite(res.beta).all() and np.isfinite(res.a0).all() and len(res.lambda_) > 0
    if hasattr(res, "cvm"):
        return np.isfinite(res.cvm).all()
    return True


def test_catalogue_size_and_ids():
    ids = [c["id"] for c in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids), "duplicate ids in the catalogue"
    for c in CASES:
        assert c["entry"] in ("fit", "cv", "predict"), c
        assert c["expect"] in ("error", "warning", "ok"), c
        assert c["glmnet"] in ("error", "warning", "ok", "n/a"), c
        assert c["decision"], f"[{c['id']}] the decision column is empty"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(case):
    err, msgs, res = run_case(case)
    cid, expect, pat = case["id"], case["expect"], case["names"]
    if expect == "error":
        assert err is not None, f"[{cid}] expected an error, the call returned (warnings: {msgs})"
        assert isinstance(err, (ValueError, TypeError)), \
            f"[{cid}] expected ValueError/TypeError, got {type(err).__name__}: {err}"
        assert re.search(pat, str(err)), f"[{cid}] error does not match {pat!r}: {err}"
        return
    assert err is None, f"[{cid}] unexpected {type(err).__name__}: {err}"
    assert _finite(res), f"[{cid}] non-finite result"
    if expect == "warning":
        assert any(re.search(pat, m) for m in msgs), f"[{cid}] no warning matching {pat!r}: {msgs}"
    else:
        assert not msgs, f"[{cid}] unexpected warnings: {msgs}"


# ----------------------------------------------------------------- behaviour behind some cases
def test_alpha_clamped_as_glmnet():
    x, y = base_data("gaussian")
    with pytest.warns(UserWarning, match=r"^alpha >1; set to 1$"):
        hi = mg.glmnet(x, y, alpha=3.0)
    with pytest.warns(UserWarning, match=r"^alpha<0; set to 0$"):
        lo = mg.glmnet(x, y, alpha=-1.0)
    ref1, ref0 = mg.glmnet(x, y, alpha=1.0), mg.glmnet(x, y, alpha=0.0)
    np.testing.assert_array_equal(hi.beta, ref1.beta)
    np.testing.assert_array_equal(lo.beta, ref0.beta)


def test_constant_column_and_duplicate_lambda():
    x, y = base_data("gaussian")
    xc = put(x, np.s_[:, 2], 2.5)
    fit = mg.glmnet(xc, y)
    assert not fit.beta[2].any()
    lam = np.array([0.5, 0.2, 0.2, 0.1])
    fd = mg.glmnet(x, y, lambda_=lam, thresh=1e-12)
    np.testing.assert_allclose(fd.beta[:, 1], fd.beta[:, 2], atol=1e-10)


def test_single_column_x_matches_exclusion():
    """glmnet refuses p = 1; we fit it, and the path equals a two-column fit whose second column
    is excluded (same lambda sequence: lambda_max comes from the one usable column)."""
    x, y = base_data("gaussian")
    one = mg.glmnet(x[:, :1], y, thresh=1e-12)
    two = mg.glmnet(x[:, :2], y, exclude=[1], thresh=1e-12)
    k = min(len(one.lambda_), len(two.lambda_))
    np.testing.assert_allclose(one.lambda_[:k], two.lambda_[:k], rtol=1e-12)
    np.testing.assert_allclose(one.beta[0, :k], two.beta[0, :k], rtol=1e-8, atol=1e-12)


# ----------------------------------------------------------------- the compiled kernel's checks
def _core_inputs(n=30, p=4, B=1, L=5, mode=0):
    import mlx.core as mx
    from mlxs_glmnet import engine
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, p))
    y = rng.standard_normal(n)
    W, O = np.ones((B, n)), np.zeros((B, n))
    ul, ip, dp, cl = engine.kernel_params(
        n=n, p=p, B=B, fam=0, mode=mode, nlam=L, ulam=None, intercept=True, standardize=True,
        maxit=1000, dfmax=p + 1, pmax=p, alpha=1.0, flmin=np.full(B, 1e-4), thresh=1e-7,
        fdev=1e-5, lower=np.full(p, -np.inf), upper=np.full(p, np.inf))

    def f(a):
        return mx.array(np.ascontiguousarray(a, dtype=np.float64), dtype=mx.float64)
    if mode == 1:
        g, st = engine.gram_stats(x, y, W)
        xin, gin, gs = mx.zeros((1,), dtype=mx.float64), f(g), f(st)
    else:
        xin, gin, gs = f(x.T), mx.zeros((1,), dtype=mx.float64), mx.zeros((1,), dtype=mx.float64)
    return [xin, f(np.broadcast_to(y, (B, n))), f(W), f(O), gin, gs, f(np.ones(p)), f(cl),
            mx.array(np.zeros(p, np.int32)), f(ul), ip, f(dp), mx.array(np.arange(p, dtype=np.int32)),
            mx.zeros((1,), dtype=mx.float64), mx.zeros((1,), dtype=mx.int32),
            mx.zeros((1,), dtype=mx.float64), mx.zeros((1,), dtype=mx.float64)], L


def _ip(ins, k, v):
    import mlx.core as mx
    ip = np.array(ins[10], dtype=np.int32)
    ip[k] = v
    ins[10] = mx.array(ip)
    return ins


def _bad_core_calls():
    import mlx.core as mx
    z = lambda *s: mx.zeros(s, dtype=mx.float64)  # noqa: E731
    yield "n in ip too large", lambda ins: _ip(ins, 0, 1000)
    yield "p in ip too large", lambda ins: _ip(ins, 1, 50)
    yield "nlam in ip differs", lambda ins: _ip(ins, 2, 50)
    yield "covariance mode without a gram", lambda ins: _ip(ins, 4, 1)
    yield "unknown family code", lambda ins: _ip(ins, 3, 7)
    yield "user lambdas flagged, none given", lambda ins: _ip(ins, 5, 1)
    yield "x too small", lambda ins: ins.__setitem__(0, z(2, 3)) or ins
    yield "y too short", lambda ins: ins.__setitem__(1, z(1, 3)) or ins
    yield "int params too short", lambda ins: ins.__setitem__(10, mx.array(np.array([30, 4], np.int32))) or ins
    yield "real params too short", lambda ins: ins.__setitem__(11, z(1, 1)) or ins
    yield "no problems", lambda ins: [ins.__setitem__(k, z(0, 30)) for k in (1, 2, 3)] and ins
    yield "wrong dtype", lambda ins: ins.__setitem__(6, mx.ones((4,), dtype=mx.float32)) or ins
    yield "wrong number of inputs", lambda ins: ins[:5]
    yield "resume asked for in naive mode", lambda ins: _ip(ins, 13, 1)
    yield "warm start asked for in naive mode", lambda ins: _ip(ins, 14, 1)
    yield "warm start with several lambdas", lambda ins: _ip(_cov(ins), 14, 1)
    yield "warm flag out of range", lambda ins: _ip(ins, 14, 2)
    yield "Gram column count disagrees with the gram", lambda ins: _ip(_cov(ins), 11, 2)
    yield "Gram slot map too short", lambda ins: _cov(ins).__setitem__(12, mx.zeros((2,), dtype=mx.int32)) or ins


def _cov(ins):
    """The naive call's arguments turned into a consistent covariance-mode call."""
    import mlx.core as mx
    c, _ = _core_inputs(mode=1)
    c[10] = mx.array(np.asarray(c[10], dtype=np.int32))
    ins[:] = c
    return ins


@pytest.mark.parametrize("what,mutate", list(_bad_core_calls()), ids=[w for w, _ in _bad_core_calls()])
def test_core_rejects_inconsistent_arguments(what, mutate):
    """Direct calls of the compiled primitive with arguments that disagree with each other raise
    ValueError before anything runs (under AddressSanitizer these calls read and wrote out of
    bounds before the checks existed; tests/SANITIZER.md)."""
    import mlx.core as mx
    from mlxs_glmnet import _core
    ins, L = _core_inputs()
    ins[10] = mx.array(np.asarray(ins[10], dtype=np.int32))
    ins = mutate(ins)
    with pytest.raises(ValueError, match="glmnet_path"):
        outs = _core.glmnet_path(ins, L, nthreads=1, block_threads=1, stream=mx.cpu)
        mx.eval(*outs)


def test_core_valid_call_still_runs():
    import mlx.core as mx
    from mlxs_glmnet import _core
    for mode in (0, 1):
        ins, L = _core_inputs(mode=mode)
        ins[10] = mx.array(np.asarray(ins[10], dtype=np.int32))
        outs = _core.glmnet_path(ins, L, nthreads=1, block_threads=1, stream=mx.cpu)
        mx.eval(*outs)
        info = np.array(outs[5])
        assert info[0, 0] == L and info[0, 2] == 0


def _host_outputs(B=1, L=5, p=4, dt=np.float64):
    return [np.zeros((B, L, p), dt), np.zeros((B, L), dt), np.zeros((B, L), dt),
            np.zeros((B, L), dt), np.zeros(B, dt), np.zeros((B, 4), np.int32)]


@pytest.mark.parametrize("what,mutate", list(_bad_core_calls()), ids=[w for w, _ in _bad_core_calls()])
def test_host_call_rejects_inconsistent_arguments(what, mutate):
    """The same inconsistent calls through the direct host entry (numpy buffers, no MLX graph):
    ValueError before the kernel runs."""
    import mlx.core as mx
    from mlxs_glmnet import _core
    ins, L = _core_inputs()
    ins[10] = mx.array(np.asarray(ins[10], dtype=np.int32))
    ins = [np.array(a) for a in mutate(ins)]
    with pytest.raises(ValueError, match="glmnet_path"):
        _core.glmnet_path_host(ins, _host_outputs(L=L), L, nthreads=1, block_threads=1)


def _host_bad_buffers():
    yield "strided input", lambda ins, outs: ins.__setitem__(6, np.ones(8)[::2])
    yield "input of the wrong dtype", lambda ins, outs: ins.__setitem__(6, np.ones(4, np.float32))
    yield "int input as float", lambda ins, outs: ins.__setitem__(8, np.zeros(4))
    yield "input not an array", lambda ins, outs: ins.__setitem__(6, [1.0, 1.0, 1.0, 1.0])
    yield "read-only output", lambda ins, outs: setattr(outs[0].flags, "writeable", False)
    yield "output too small", lambda ins, outs: outs.__setitem__(1, np.zeros((1, 4)))
    yield "output of the wrong dtype", lambda ins, outs: outs.__setitem__(5, np.zeros((1, 4)))
    yield "strided output", lambda ins, outs: outs.__setitem__(2, np.zeros((1, 10))[:, ::2])
    yield "too few outputs", lambda ins, outs: outs.pop()


@pytest.mark.parametrize("what,mutate", list(_host_bad_buffers()), ids=[w for w, _ in _host_bad_buffers()])
def test_host_call_rejects_bad_buffers(what, mutate):
    """The host entry converts nothing: an input or output that is not a C-contiguous array of
    the kernel's dtype (outputs: writable, of the right size) is a ValueError, and no output is
    written."""
    import mlx.core as mx
    from mlxs_glmnet import _core
    ins, L = _core_inputs()
    ins[10] = mx.array(np.asarray(ins[10], dtype=np.int32))
    ins = [np.array(a) for a in ins]
    outs = _host_outputs(L=L)
    mutate(ins, outs)
    with pytest.raises(ValueError, match="glmnet_path_host"):
        _core.glmnet_path_host(ins, outs, L, nthreads=1, block_threads=1)
    assert all(not np.asarray(o).any() for o in outs)


def test_host_call_matches_the_primitive():
    """A valid direct call gives the primitive's outputs bit for bit, in both modes, for paths
    that stop early (glmnet's rules; dfmax 0 stops after 5 solutions): what follows the stop is
    zero whatever the output arrays held, and the (read-only) inputs are left untouched."""
    import mlx.core as mx
    from mlxs_glmnet import _core
    for mode in (0, 1):
        for dfmax in (5, 0):
            ins, L = _core_inputs(mode=mode, L=12)
            ins[10] = mx.array(np.asarray(ins[10], dtype=np.int32))
            ins = _ip(ins, 9, dfmax)
            outs = _core.glmnet_path(ins, L, nthreads=1, block_threads=1, stream=mx.cpu)
            mx.eval(*outs)
            hin = [np.array(a) for a in ins]
            kept = [a.copy() for a in hin]
            for a in hin:
                a.flags.writeable = False
            houts = [np.full_like(o, 7) for o in _host_outputs(L=L)]      # (garbage before)
            _core.glmnet_path_host(hin, houts, L, nthreads=1, block_threads=1)
            for a, b in zip(outs[:6], houts):
                assert np.array_equal(np.array(a), b)
            assert all(np.array_equal(a, b) for a, b in zip(hin, kept))
            lmu = houts[5][0, 0]
            assert 1 <= lmu <= L and (dfmax > 0 or lmu == 5), (mode, dfmax, lmu)
            assert not houts[1][0, lmu:].any() and not houts[0][0, lmu:].any()


def test_several_responses_constant_column():
    """glmnet_batch with an (n, B) y: a constant response is named (the check looks in full only
    at responses whose first two values agree); one whose first values agree is not constant."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 5))
    Y = rng.standard_normal((40, 4))
    Y[1, 1] = Y[0, 1]                                  # first two equal, the rest not
    fits = mg.glmnet_batch(x, Y, device="cpu")
    assert len(fits) == 4
    bad = Y.copy()
    bad[:, 3] = 2.5
    with pytest.raises(ValueError, match="response column 3 is constant"):
        mg.glmnet_batch(x, bad, device="cpu")
    bad[5, 3] = 2.0                                    # differs after the first two: not constant
    assert len(mg.glmnet_batch(x, bad, device="cpu")) == 4
    # with weights: constant over the rows of positive weight is constant
    w = np.ones(40)
    w[[0, 5]] = 0.0
    with pytest.raises(ValueError, match="response column 3 is constant"):
        mg.glmnet_batch(x, bad, weights=w, device="cpu")
    Yw = Y.copy()
    Yw[2, 0] = Yw[1, 0]                                # the first two positive rows agree
    assert len(mg.glmnet_batch(x, Yw, weights=w, device="cpu")) == 4
