"""NumPy's bits at the edges (issue 13, "Bits"): signed zeros, nan in minimum/maximum,
float reductions' accuracy, `**`, each compared with NumPy computed here, on the graph
path and under XLA (jit_compile=True). docs/language.md states the guarantees."""

from __future__ import annotations


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
