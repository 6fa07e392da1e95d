"""Whole-array masked reductions run chunk by chunk (runtime.masked_reduce).

Chunks are 2**20 elements in production; here the chunk size is shrunk so that small
arrays take every path: one chunk, unrolled static chunks (with a short last one), and
the while loop used when the size is unknown. Values are checked against NumPy.
"""

import warnings

import numpy as np
import pytest

import maskdsl
from conftest import assert_same
from maskdsl.tf import runtime
from maskdsl.errors import ValueDSLError

RNG = np.random.default_rng(7)
F = RNG.standard_normal(50).astype(np.float32)
F[[3, 30]] = np.nan  # nan wins in max/min when selected
I32 = RNG.integers(-20, 20, 50).astype(np.int32)
M = RNG.random(50) < 0.4
M[3] = False  # keep one nan outside the selection
M[30] = True

KINDS = ("sum", "prod", "mean", "count", "any", "all", "min", "max")
NUMPY = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "count": np.count_nonzero, "any": np.any,
         "all": np.all, "min": np.min, "max": np.max}


@pytest.fixture(params=["one chunk", "unrolled", "loop"])
def shape_kind(request, monkeypatch):
    if request.param == "one chunk":
        monkeypatch.setattr(runtime, "CHUNK", 64)  # 50 <= 2 * 64: a single chunk
    else:
        monkeypatch.setattr(runtime, "CHUNK", 4)
        monkeypatch.setattr(runtime, "MAX_UNROLLED", 3)  # 50 static elements: chunks of 17, 17, 16
    return request.param


def run(src, shape_kind, **arrays):
    dims = "None" if shape_kind == "loop" else None
    signature = {k: f"{v.dtype}[{dims or v.shape[0]}]" for k, v in arrays.items()}
    f = maskdsl.compile(src, signature=signature)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f, np.asarray(f(**arrays))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("data", [F, I32], ids=["float32", "int32"])
def test_matches_numpy(kind, data, shape_kind):
    small = data if kind != "prod" else np.clip(data, -2, 2)  # keep int products small
    f, got = run(f"{kind}(x[m])", shape_kind, x=small, m=M)
    assert "rt.masked_reduce" in f.source or "rt.count_true" in f.source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = NUMPY[kind](small[M])
    assert_same(got, np.asarray(want), rtol=1e-5, label=f"{kind} {shape_kind}")


@pytest.mark.parametrize("mask", [M, np.ones(50, bool), np.zeros(50, bool)], ids=["some", "all", "none"])
def test_count_and_mean_of_masks(mask, shape_kind):
    _, n = run("count(m)", shape_kind, m=mask)
    assert_same(n, np.asarray(np.count_nonzero(mask), np.int64))
    _, mean = run("mean(x[m])", shape_kind, x=F.copy(), m=mask & ~np.isnan(F))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the mean of nothing is nan, with a warning, in NumPy
        assert_same(mean, np.asarray(F[mask & ~np.isnan(F)].mean()), rtol=1e-5)


@pytest.mark.parametrize("kind", ["min", "max"])
def test_empty_selection_raises_as_numpy(kind, shape_kind):
    with pytest.raises(ValueError):
        getattr(np, kind)(F[np.zeros(50, bool)])
    with pytest.raises(ValueDSLError, match="zero-size array"):
        run(f"{kind}(x[m])", shape_kind, x=F, m=np.zeros(50, bool))


def test_adaptive_update_samples_the_mask(monkeypatch):
    monkeypatch.setattr(runtime, "SAMPLE", 4)  # 50 elements: every 12th is read
    x = np.linspace(0.1, 3.0, 50, dtype=np.float32)
    f = maskdsl.compile("x[m] = log1p(exp(sin(x[m]) * cos(x[m])) ** 2)",
                        signature={"x": "float32[None]", "m": "bool[None]"})
    assert "rt.true_fraction" in f.source and "tf.cond" in f.source
    for mask in (x > 2.95, x > 0.5):  # one branch each side of the threshold (sampled: 0 and 0.8)
        want = x.copy()
        want[mask] = np.log1p(np.exp(np.sin(x[mask]) * np.cos(x[mask])) ** 2)
        assert_same(np.asarray(f(x=x, m=mask)), want, rtol=1e-5)
