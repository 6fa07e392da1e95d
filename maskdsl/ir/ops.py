"""The table of IR operations: arity, reference NumPy semantics and cost class.

Backends are not mentioned here; the TensorFlow lowering of each op is registered in
codegen. The NumPy function of an op is both the reference evaluator's semantics and
the oracle for result dtypes (dtypes.result_dtype asks it).

>>> int(OPS["add"].numpy(2, 3)), OPS["floordiv"].cost
(5, 'cheap')
>>> sorted(op for op, info in OPS.items() if info.risky)[:4]
['exp', 'expm1', 'floordiv', 'log']
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class OpInfo:
    name: str
    min_args: int
    max_args: int
    numpy: Callable | None = None
    kind: str = "elementwise"    # elementwise, structural, reduce, index, source
    cost: str = "cheap"          # cost class; weights live in cost_weights.json
    python: Callable | None = None  # Python operator for two literals (weak stays weak)
    risky: bool = False          # can make inf/nan/errors on masked-out elements

    def arity_ok(self, n: int) -> bool:
        return self.min_args <= n <= self.max_args


def _ew(name, n, fn, cost="cheap", python=None, risky=False):
    return OpInfo(name, n, n, fn, "elementwise", cost, python, risky)


def _not(x):
    return np.logical_not(x)


_ELEMENTWISE = [
    # Python operators: literal-with-literal results stay literals (NEP 50 "weak").
    _ew("add", 2, np.add, python=operator.add),
    _ew("sub", 2, np.subtract, python=operator.sub),
    _ew("mul", 2, np.multiply, python=operator.mul),
    _ew("truediv", 2, np.true_divide, python=operator.truediv, risky=True),
    _ew("floordiv", 2, np.floor_divide, python=operator.floordiv, risky=True),
    _ew("mod", 2, np.remainder, python=operator.mod, risky=True),
    _ew("pow", 2, np.power, "transcendental", python=operator.pow, risky=True),
    _ew("and", 2, np.bitwise_and, "logical", python=operator.and_),
    _ew("or", 2, np.bitwise_or, "logical", python=operator.or_),
    _ew("xor", 2, np.bitwise_xor, "logical", python=operator.xor),
    _ew("eq", 2, np.equal, "compare", python=operator.eq),
    _ew("ne", 2, np.not_equal, "compare", python=operator.ne),
    _ew("lt", 2, np.less, "compare", python=operator.lt),
    _ew("le", 2, np.less_equal, "compare", python=operator.le),
    _ew("gt", 2, np.greater, "compare", python=operator.gt),
    _ew("ge", 2, np.greater_equal, "compare", python=operator.ge),
    _ew("neg", 1, np.negative, python=operator.neg),
    _ew("pos", 1, np.positive, python=operator.pos),
    _ew("invert", 1, np.invert, "logical", python=operator.invert),
    _ew("not", 1, _not, "logical", python=operator.not_),
    # functions: results are NumPy values (strong), even of literals
    _ew("abs", 1, np.abs),
    _ew("sign", 1, np.sign),
    _ew("sqrt", 1, np.sqrt, "transcendental", risky=True),
    _ew("exp", 1, np.exp, "transcendental", risky=True),
    _ew("log", 1, np.log, "transcendental", risky=True),
    _ew("log1p", 1, np.log1p, "transcendental", risky=True),
    _ew("expm1", 1, np.expm1, "transcendental", risky=True),
    _ew("sin", 1, np.sin, "transcendental"),
    _ew("cos", 1, np.cos, "transcendental"),
    _ew("tan", 1, np.tan, "transcendental"),
    _ew("tanh", 1, np.tanh, "transcendental"),
    _ew("floor", 1, np.floor),
    _ew("ceil", 1, np.ceil),
    _ew("round", 1, np.round),
    _ew("isnan", 1, np.isnan, "compare"),
    _ew("isinf", 1, np.isinf, "compare"),
    _ew("isfinite", 1, np.isfinite, "compare"),
    _ew("minimum", 2, np.minimum, "compare"),
    _ew("maximum", 2, np.maximum, "compare"),
    _ew("where", 3, np.where, "select"),
    _ew("clip", 3, np.clip, "compare"),
]

REDUCTIONS = {
    "sum": np.sum, "mean": np.mean, "min": np.min, "max": np.max, "prod": np.prod,
    "any": np.any, "all": np.all, "count": np.count_nonzero,
}

OPS: dict[str, OpInfo] = {op.name: op for op in _ELEMENTWISE}
OPS.update({
    "input": OpInfo("input", 0, 0, kind="source", cost="free"),
    "const": OpInfo("const", 0, 0, kind="source", cost="free"),
    "cast": OpInfo("cast", 1, 1, kind="elementwise", cost="cheap"),
    "reduce": OpInfo("reduce", 1, 2, kind="reduce", cost="reduce"),  # (x) or, masked, (x, mask)
    # select(x, *index operands): x[index]; update(x, *index operands, value): x with x[index] = value
    "select": OpInfo("select", 1, 64, kind="index", cost="gather"),
    "update": OpInfo("update", 2, 65, kind="index", cost="scatter"),
    "arange": OpInfo("arange", 3, 3, kind="source", cost="cheap"),
    "fill": OpInfo("fill", 1, 1, kind="source", cost="cheap"),  # zeros/ones/full
    "shape": OpInfo("shape", 1, 1, kind="structural", cost="free"),
    # expand(m): a mask over leading dims reshaped to broadcast against the whole array
    "expand": OpInfo("expand", 1, 1, kind="structural", cost="free"),
    "size": OpInfo("size", 1, 1, kind="structural", cost="free"),
    "stack": OpInfo("stack", 0, 100_000, kind="structural", cost="cheap"),  # list literals of values
})

ELEMENTWISE = frozenset(name for name, info in OPS.items() if info.kind == "elementwise")
COMPARISONS = frozenset(("eq", "ne", "lt", "le", "gt", "ge"))
