"""NumPy's bits at the edges (issue 13, "Bits"): signed zeros, nan in minimum/maximum,
float reductions' accuracy, `**`, each compared with NumPy computed here, on the graph
path and under XLA (jit_compile=True). docs/language.md states the guarantees."""

from __future__ import annotations


import math

import numpy as np
import pytest

import maskdsl
from maskdsl.testing import oracle

FLOATS = ("float16", "float32", "float64")
PATHS = (False, True)  # jit_compile


def _run(source, outputs, inputs, jit):
    signature = {k: f"{v.dtype}[{', '.join(map(str, v.shape))}]" for k, v in inputs.items()}
    f = maskdsl.compile(source, outputs=outputs, signature=signature, jit_compile=True if jit else "auto")
    got = f(**{k: np.copy(v) for k, v in inputs.items()})
    return {k: np.asarray(v) for k, v in got.items()} if isinstance(got, dict) else {outputs[0]: np.asarray(got)}


def _assert_bits(have, want, what):
    assert have.dtype == want.dtype and have.shape == want.shape, f"{what}: {have!r}, NumPy {want!r}"
    bad = oracle.differ(have, want)
    assert not bad.any(), f"{what}: {have!r}, NumPy {want!r}"


# ---- signed zeros and nan ----

ZERO_PROGRAMS = {
    "mn": ("minimum(x, y)", lambda x, y: np.minimum(x, y)),
    "mx": ("maximum(x, y)", lambda x, y: np.maximum(x, y)),
    "mn_lit": ("minimum(x, -0.0)", lambda x, y: np.minimum(x, -0.0)),
    "mx_lit": ("maximum(0.0, x)", lambda x, y: np.maximum(0.0, x)),
    "sg": ("sign(x)", lambda x, y: np.sign(x)),
    "cl": ("clip(x, y, 1.0)", lambda x, y: np.clip(x, y, np.ones_like(y))),
    "cl0": ("clip(x, -0.0, 0.0)", lambda x, y: np.clip(x, -0.0, 0.0)),
}


@pytest.mark.parametrize("dtype", FLOATS)
def test_signed_zeros_and_nan_in_minimum_maximum_sign_clip(dtype):
    """NumPy 2.4 on equal operands: float16's minimum/maximum return the first operand,
    float32/float64's the second; clip returns x; sign(-0.0) is 0.0; nan wins."""
    values = np.array([0.0, -0.0, np.nan, 1.0, -2.0, np.inf, -np.inf], dtype)
    x = np.repeat(values, len(values))  # every pair, in both orders
    y = np.tile(values, len(values))
    programs = ZERO_PROGRAMS
    source = "\n".join(f"{name} = {text}" for name, (text, _) in programs.items())
    for jit in PATHS:
        got = _run(source, list(programs), {"x": x, "y": y}, jit)
        for name, (text, numpy) in programs.items():
            with np.errstate(all="ignore"):
                want = np.asarray(numpy(x, y))
            _assert_bits(got[name], want, f"{dtype} {text} jit={jit}")


@pytest.mark.parametrize("dtype", FLOATS)
def test_minimum_maximum_of_zeros_on_long_arrays(dtype):
    """The tie rule holds on vectorised kernels too (TensorFlow's and NumPy's)."""
    rng = np.random.default_rng(1)
    x = np.where(rng.random(100) < 0.5, -0.0, 0.0).astype(dtype)
    y = np.where(rng.random(100) < 0.5, -0.0, 0.0).astype(dtype)
    for jit in PATHS:
        got = _run("a = minimum(x, y)\nb = maximum(x, y)", ["a", "b"], {"x": x, "y": y}, jit)
        _assert_bits(got["a"], np.minimum(x, y), f"{dtype} minimum jit={jit}")
        _assert_bits(got["b"], np.maximum(x, y), f"{dtype} maximum jit={jit}")


@pytest.mark.parametrize("dtype", FLOATS)
def test_clip_of_zeros_with_scalar_and_array_bounds(dtype):
    """NumPy's clip returns x on ties when both bounds are 0-d, and maximum-then-minimum
    (float32/float64: the bound) with array bounds."""
    zeros = (0.0, -0.0)
    triples = [(x, lo, hi) for x in zeros for lo in zeros for hi in (0.0, -0.0, 1.0)]
    x = np.array([t[0] for t in triples], dtype)
    lo = np.array([t[1] for t in triples], dtype)
    hi = np.array([t[2] for t in triples], dtype)
    for jit in PATHS:
        got = _run("r = clip(x, lo, hi)", ["r"], {"x": x, "lo": lo, "hi": hi}, jit)
        _assert_bits(got["r"], np.clip(x, lo, hi), f"{dtype} clip, array bounds, jit={jit}")
        for a, b in ((0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (-0.0, 1.0)):
            src = f"clip(x, {a!r}, {b!r})"
            got = _run("r = " + src, ["r"], {"x": x}, jit)
            _assert_bits(got["r"], np.clip(x, np.array(a, dtype), np.array(b, dtype)), f"{dtype} {src} jit={jit}")


# ---- float reductions: at least as accurate as NumPy's pairwise sum ----

def _cancelling(rng, dtype, n):
    """Terms of widely spread magnitudes that mostly cancel: where summation order shows."""
    x = rng.standard_normal(n) * np.exp(rng.standard_normal(n) * (2 if dtype == "float16" else 6))
    x = np.concatenate([x, -x[: n * 9 // 10] * (1 + rng.standard_normal(n * 9 // 10) * 1e-3)])
    rng.shuffle(x)
    x = x.astype(dtype)
    info = np.finfo(dtype)
    return x[np.isfinite(x) & ((x == 0) | (np.abs(x) >= info.smallest_normal))]


REDUCTION_FORMS = {
    "whole": ("sum(x)", lambda x, m: np.sum(x)),
    "masked": ("sum(x[m])", lambda x, m: np.sum(x[m])),
    "average": ("mean(x)", lambda x, m: np.mean(x)),
    "masked_mean": ("mean(x[m])", lambda x, m: np.mean(x[m])),
}


def _exact(values) -> float:
    return math.fsum(np.asarray(values, np.float64).ravel())


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_sums_are_at_least_as_accurate_as_numpys(dtype):
    """Against the exact sum (math.fsum): sums and means, whole and masked, plain and XLA."""
    rng = np.random.default_rng(7)
    source = "\n".join(f"{name} = {text}" for name, (text, _) in REDUCTION_FORMS.items())
    for trial in range(6):
        x = _cancelling(rng, dtype, 300)
        m = rng.random(x.shape) < 0.7
        exact = {"whole": _exact(x), "masked": _exact(x[m])}
        exact["average"], exact["masked_mean"] = exact["whole"] / x.size, exact["masked"] / m.sum()
        for jit in PATHS:
            got = _run(source, list(REDUCTION_FORMS), {"x": x, "m": m}, jit)
            for name, (text, numpy) in REDUCTION_FORMS.items():
                want = np.asarray(numpy(x, m))
                have = got[name]
                assert have.dtype == want.dtype, f"{text}: {have.dtype}, NumPy {want.dtype}"
                assert abs(float(have) - exact[name]) <= abs(float(want) - exact[name]), \
                    f"{dtype} {text} jit={jit} trial {trial}: {have!r}, NumPy {want!r}, exact {exact[name]!r}"


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_sums_along_an_axis(dtype):
    """sum/mean/prod with axis=, masked and not: NumPy's dtype and shape, and within the
    stated bound of the exact value."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 30, 3)) * 10).astype(dtype)
    m = rng.random(4) < 0.6
    m[0] = True
    programs = {
        "s1": ("sum(x, axis=1)", lambda: np.sum(x, axis=1), lambda: np.sum(x.astype(np.float64), axis=1)),
        "s02": ("sum(x, axis=(0, 2), keepdims=True)", lambda: np.sum(x, axis=(0, 2), keepdims=True),
                lambda: np.sum(x.astype(np.float64), axis=(0, 2), keepdims=True)),
        "me": ("mean(x, axis=-1)", lambda: np.mean(x, axis=-1), lambda: np.mean(x.astype(np.float64), axis=-1)),
        "ms": ("sum(x[m], axis=0)", lambda: np.sum(x[m], axis=0), lambda: np.sum(x[m].astype(np.float64), axis=0)),
        "mm": ("mean(x[m], axis=0)", lambda: np.mean(x[m], axis=0), lambda: np.mean(x[m].astype(np.float64), axis=0)),
        "pr": ("prod(x[:, :3], axis=1)", lambda: np.prod(x[:, :3], axis=1),
               lambda: np.prod(x[:, :3].astype(np.float64), axis=1)),
    }
    source = "\n".join(f"{name} = {text}" for name, (text, _, _) in programs.items())
    u = {"float16": 2.0 ** -11, "float32": 2.0 ** -24, "float64": 2.0 ** -53}[dtype]
    for jit in PATHS:
        got = _run(source, list(programs), {"x": x, "m": m}, jit)
        for name, (text, numpy, wide) in programs.items():
            want, close = numpy(), wide()
            have = got[name]
            assert (have.dtype, have.shape) == (want.dtype, want.shape), f"{text}: {have!r}, NumPy {want!r}"
            # one rounding to the result's dtype (float64: the float64 sum itself is the reference)
            tolerance = 2 * u * np.abs(close) + (1e-12 * np.abs(close) if dtype == "float64" else 0)
            assert np.all(np.abs(have.astype(np.float64) - close) <= tolerance), f"{dtype} {text} jit={jit}"


def test_the_issues_sums():
    """float16 sum of 1000 x 0.1 is 100.0 (NumPy's); sum([1e16, 1 (x20), -1e16]) is 20.0,
    the exact sum (NumPy 16.0); a float32 version of it too."""
    tenths = np.full(1000, 0.1, np.float16)
    big = np.array([1e16] + [1.0] * 20 + [-1e16])
    big32 = np.array([1e8] + [1.0] * 20 + [-1e8], np.float32)
    for jit in PATHS:
        got = _run("a = sum(t)\nb = sum(y)\nc = sum(z)\nd = mean(y)", ["a", "b", "c", "d"],
                   {"t": tenths, "y": big, "z": big32}, jit)
        assert got["a"] == np.sum(tenths) == np.float16(100.0)
        assert got["b"] == _exact(big) == 20.0
        assert got["c"] == np.float32(_exact(big32))
        assert got["d"] == np.float64(20.0) / 22


# ---- ** ----

POW_EDGES = [0.0, -0.0, 1.0, -1.0, 2.5, -2.0, 7.0, 1e-3, 3e4, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_pow_by_numpys_exact_exponents(dtype):
    """x ** 2, 0.5, -1, 1, 0 (a literal, or a 0-d input) are NumPy's exact x * x, sqrt, 1 / x,
    x and 1, with no graph-optimiser rewrite (x ** -1 as an inexact reciprocal); x ** -0.5
    and 1 / x keep NumPy's values at -inf and -0.0; arrays of 20 or more elements (where
    TensorFlow's vectorised kernels apply)."""
    rng = np.random.default_rng(5)
    x = np.concatenate([POW_EDGES, rng.standard_normal(40) * 30]).astype(dtype)
    exponents = (2, 0.5, -1, 1, 0)
    programs = {f"p{i}": (f"x ** {e!r}", lambda x, e=e: x ** np.asarray(e, x.dtype)) for i, e in enumerate(exponents)}
    programs["inv"] = ("1 / x", lambda x: 1 / x)
    programs["invb"] = ("True / x", lambda x: True / x)
    source = "\n".join(f"{name} = {text}" for name, (text, _) in programs.items())
    for jit in PATHS:
        got = _run(source, list(programs), {"x": x}, jit)
        for name, (text, numpy) in programs.items():
            with np.errstate(all="ignore"):
                want = np.asarray(numpy(x))
            _assert_bits(got[name], want, f"{dtype} {text} jit={jit}")
        f = maskdsl.compile("x ** e", signature={"x": f"{dtype}[{len(x)}]", "e": f"{dtype}[]"},
                            jit_compile=True if jit else "auto")
        for e in exponents:
            with np.errstate(all="ignore"):
                want = x ** np.asarray(e, dtype)
            _assert_bits(np.asarray(f(x=x, e=np.asarray(e, dtype))), want, f"{dtype} x ** e, e = {e} jit={jit}")


def test_float_pow_at_negative_zero_and_infinity():
    """Exponents the graph optimiser rewrote (x ** -0.5 to rsqrt): NumPy's values at the
    edges, where the results are exact (0, inf, nan)."""
    x = np.array([-np.inf, -0.0, 0.0, np.inf, np.nan, 4.0, 0.25])
    for e in (-0.5, -2, 3, -3, 0.25, -1.5):
        for jit in PATHS:
            got = _run(f"r = x ** {e!r}", ["r"], {"x": x}, jit)["r"]
            with np.errstate(all="ignore"):
                want = x ** e
            _assert_bits(got, want, f"x ** {e} jit={jit}")


@pytest.mark.parametrize("dtype", ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"))
def test_integer_powers_of_64_and_more_wrap_as_numpy(dtype):
    """XLA's integer power stopped after 64 squarings (x ** 64 gave 1): literal and array
    exponents, plain and XLA, wrap as NumPy."""
    x = np.array([0, 1, 2, 3, 5, 7, 100, -3, -7], dtype) if dtype[0] == "i" else np.array([0, 1, 2, 3, 5, 7, 100],
                                                                                          dtype)
    info = np.iinfo(dtype)
    e = np.array([64, 65, 100, 127, 1, 0, 63, int(info.max), 99][: len(x)], dtype)
    for jit in PATHS:
        got = _run("a = x ** 64\nb = x ** 101\nc = x ** e", ["a", "b", "c"], {"x": x, "e": e}, jit)
        _assert_bits(got["a"], x ** 64, f"{dtype} x ** 64 jit={jit}")
        _assert_bits(got["b"], x ** 101, f"{dtype} x ** 101 jit={jit}")
        _assert_bits(got["c"], x ** e, f"{dtype} x ** e jit={jit}")


@pytest.mark.parametrize("signature", ("exact", "dynamic"))
def test_chunked_masked_sums_keep_the_accuracy(monkeypatch, signature):
    """Whole-array masked sums and means are reduced chunk by chunk (rt.masked_reduce):
    chunks combine exactly (TwoSum), unrolled (static shapes) or in a loop (None)."""
    from maskdsl.tf import runtime
    monkeypatch.setattr(runtime, "CHUNK", 8)
    rng = np.random.default_rng(11)
    big = np.array([1e16] + [1.0] * 20 + [-1e16] + [3.0] * 17)
    cases = [big, _cancelling(rng, "float64", 20), _cancelling(rng, "float32", 20)]
    for x in cases:
        m = np.ones(x.shape, bool)
        m[-3:] = False
        shape = "None" if signature == "dynamic" else str(len(x))
        for jit in (False, True) if signature == "exact" and x is big else (False,):
            f = maskdsl.compile("a = sum(x[m])\nb = mean(x[m])", signature={"x": f"{x.dtype}[{shape}]",
                                                                          "m": f"bool[{shape}]"},
                                jit_compile=True if jit else "auto")
            got = {k: np.asarray(v) for k, v in f(x=x, m=m).items()}
            exact = _exact(x[m])
            assert abs(float(got["a"]) - exact) <= abs(float(np.sum(x[m])) - exact), (x.dtype, got["a"], exact)
            assert abs(float(got["b"]) - exact / m.sum()) <= abs(float(np.mean(x[m])) - exact / m.sum()) + \
                1e-300, (x.dtype, got["b"], exact / m.sum())


def test_streamed_pipeline_sums_follow_the_same_rule():
    """The pipeline's batch-by-batch reductions (maskdsl/pipeline/reductions.py): float64
    sums by extraction with TwoSum across batches, float16 in float64, products widened."""
    from maskdsl.pipeline.reductions import Accumulator
    rng = np.random.default_rng(2)
    big = np.array([1e16] + [1.0] * 20 + [-1e16])
    for batches in range(1, 8):
        acc = Accumulator("sum", None, False, "float64", ())
        for part in np.array_split(big, batches):
            acc.add(part)
        assert acc.result() == 20.0
    for _ in range(5):
        x = _cancelling(rng, "float64", 500)
        for kind, numpy, exact in (("sum", np.sum, _exact(x)), ("mean", np.mean, _exact(x) / x.size)):
            acc = Accumulator(kind, None, False, "float64", ())
            for part in np.array_split(x, 6):
                acc.add(part)
            assert abs(float(acc.result()) - exact) <= abs(float(numpy(x)) - exact)
    tenths = np.full(1000, 0.1, np.float16)
    acc = Accumulator("sum", None, False, "float16", ())
    for part in np.array_split(tenths, 7):
        acc.add(part)
    assert acc.result() == np.sum(tenths) and acc.result().dtype == np.float16
    tiny = np.array([1e-30, 1e-30, 1e30, 1e30], np.float32)
    acc = Accumulator("prod", None, False, "float32", ())
    acc.add(tiny)
    assert acc.result() == np.float32(np.prod(tiny.astype(np.float64)))  # 1.0; NumPy's float32 product is 0.0


def test_mean_under_xla_divides_by_the_count():
    """XLA multiplied sum(x) by 1/n (a constant divisor); the count is opaque now:
    mean([2, 2, 1]) in float32 is NumPy's 1.6666666, not 1.6666667."""
    rng = np.random.default_rng(4)
    x = rng.integers(-9, 9, (60, 3)).astype(np.float32)
    x[0] = [2, 2, 1]
    for jit in PATHS:
        got = _run("r = mean(x, axis=1)", ["r"], {"x": x}, jit)["r"]
        _assert_bits(got, np.mean(x, axis=1), f"mean(x, axis=1) jit={jit}")


@pytest.mark.parametrize("dtype", ["int32", "uint32", "int8", "bool"])
@pytest.mark.parametrize("signature", ["exact", "dynamic"])
def test_integer_means_are_the_exact_mean_rounded_once(monkeypatch, dtype, signature):
    """The mean of integers of 32 bits or less adds them in int64 (exact, chunk by chunk) and
    divides once in float64: the correctly rounded mean, whole, masked, along an axis."""
    from fractions import Fraction
    from maskdsl.tf import runtime
    monkeypatch.setattr(runtime, "CHUNK", 8)   # several chunks, unrolled and in a loop
    rng = np.random.default_rng(12)
    info = np.iinfo(dtype) if dtype != "bool" else None
    x = (rng.random((7, 9)) < 0.5) if info is None else rng.integers(info.max // 2, info.max, (7, 9), endpoint=True).astype(dtype)
    m = rng.random((7, 9)) < 0.7
    dims = "None, None" if signature == "dynamic" else "7, 9"
    f = maskdsl.compile("a = mean(x)\nb = mean(x[m])\nc = mean(x, axis=0)",
                        signature={"x": f"{dtype}[{dims}]", "m": f"bool[{dims}]"})
    got = {k: np.asarray(v) for k, v in f(x=x, m=m).items()}

    def exact_mean(values):
        values = [int(v) for v in np.ravel(values)]
        return float(Fraction(sum(values), len(values)))
    assert float(got["a"]) == exact_mean(x)
    assert float(got["b"]) == exact_mean(x[m])
    assert got["c"].tolist() == [exact_mean(x[:, j]) for j in range(9)]
    assert got["a"].dtype == np.mean(x).dtype
