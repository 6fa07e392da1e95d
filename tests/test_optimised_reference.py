"""The reference evaluator on optimised IR gives what it gives on the unoptimised IR.

Every program of the differential suite, with its inputs' exact types and with every
dimension unknown (which is where run-time choices appear), under every forceable
strategy and with and without XLA: the passes, and the ops choose_strategy makes
(dense_update, masked_reduce, adaptive_update, ...), must not change a value. NumPy
computes both sides, so the results are equal bit for bit.
"""

import numpy as np
import pytest

from conftest import assert_same
from maskdsl.errors import MaskDSLError
from maskdsl.ir.nodes import format_program
from maskdsl.ir.reference import evaluate
from maskdsl.language import prepare
from maskdsl.passes import PASSES, optimize
from maskdsl.passes.strategies import AUTO, FORCEABLE
from test_differential import A, CASES, IDS

OPTIONS = [dict(strategy=AUTO, xla=False, xla_branch=True), dict(strategy=AUTO, xla=True, xla_branch=False),
           *(dict(strategy=s, xla=False, xla_branch=True) for s in FORCEABLE if s != AUTO)]


def _types(inputs: dict, unknown: bool) -> dict:
    types = {}
    for name, key in inputs.items():
        a = A[key]
        dims = ", ".join("None" if unknown else str(d) for d in a.shape)
        types[name] = f"{a.dtype.name}[{dims}]" if a.ndim else a.dtype.name
    return types


def _outcome(program, arrays):
    try:
        return evaluate(program, arrays)
    except MaskDSLError as e:
        return type(e)


@pytest.mark.parametrize("dsl, inputs", [(dsl, inputs) for dsl, _, inputs in CASES], ids=IDS)
def test_optimised_ir_means_what_the_program_means(dsl, inputs):
    arrays = {name: A[key].copy() for name, key in inputs.items()}
    for unknown in (False, True):
        try:
            typed = optimize(prepare(dsl, **_types(inputs, unknown)), PASSES[:1])
        except MaskDSLError:
            continue  # rejected at compile time (the differential suite checks which)
        expected = _outcome(typed, arrays)
        for options in OPTIONS:
            optimized = optimize(typed, PASSES[1:], options=options)
            got = _outcome(optimized, arrays)
            label = f"{dsl!r} {options} unknown={unknown}\n{format_program(optimized)}"
            if not isinstance(expected, dict):
                assert got is expected, label
                continue
            assert isinstance(got, dict), f"{label}: {got}"
            for name, value in expected.items():
                assert_same(got[name], value, rtol=0, label=f"{label} -> {name}")


EXPENSIVE = "log1p(exp(sin({0}) * cos({0}))) ** 2"
# Run-time choices (adaptive_update) need an expensive value, and a large or unknown size.
RUN_TIME_CHOICES = [
    ("x[x > t] = " + EXPENSIVE.format("x[x > t]"), {"x": "float32[None]", "t": "float32"}),
    ("x[x[:, 0] > t] = " + EXPENSIVE.format("x[x[:, 0] > t]"), {"x": "float64[None, 3]", "t": "float64"}),
    ("x[m] = " + EXPENSIVE.format("x[m]") + " + v", {"x": "float64[None, 4]", "m": "bool[None]", "v": "float64[4]"}),
    ("x[x > t] = " + EXPENSIVE.format("x[x > t]") + " * 100", {"x": "int32[40000]", "t": "int32"}),
    ("x[m, ...] = tanh(" + EXPENSIVE.format("x[m, ...]") + ") - 3; s = sum(x[m])", {"x": "float32[None, 2]",
                                                                                 "m": "bool[None]"}),
]


@pytest.mark.parametrize("dsl, types", RUN_TIME_CHOICES)
def test_run_time_choices_mean_what_the_program_means(dsl, types):
    rng = np.random.default_rng(7)
    rows = 40000 if "40000" in types["x"] else 50
    arrays = {}
    for name, spec in types.items():
        dtype, _, dims = spec.partition("[")
        shape = tuple(rows if d.strip() in ("None", "40000") else int(d) for d in dims.rstrip("]").split(",")) \
            if dims else ()
        arrays[name] = (rng.random(shape) < 0.3) if dtype == "bool" else (rng.normal(size=shape) * 100).astype(dtype)
    typed = optimize(prepare(dsl, **types), PASSES[:1])
    optimized = optimize(typed, PASSES[1:], options=OPTIONS[0])
    assert "adaptive_update" in {n.op for n in optimized.nodes()}
    expected, got = evaluate(typed, arrays), evaluate(optimized, arrays)
    for name, value in expected.items():
        assert_same(got[name], value, rtol=0, label=f"{dsl!r} -> {name}")


def test_the_masked_sum_of_the_issue():
    x = np.array([1, 2, 3, 4, 0], np.int32)
    optimized = optimize(prepare("s = sum(x[x > 2])", x="int32[5]"))
    assert [n.op for n in optimized.nodes()][-1] == "masked_reduce"
    assert evaluate(optimized, {"x": x})["s"] == 7
