"""The strategies: every way a selection, update or reduction can become TensorFlow, one entry each.

choose_strategy gives each select, update and reduction node the name of one entry (its
`strategy` attribute), turning the node into the op the entry lowers where the
formulation reads different arguments (`masked_reduce`, `dense_update`,
`adaptive_update`): a strategy never changes what a node's arguments mean. Code
generation finds each entry's lowering by name (maskdsl/tf/strategies.py, checked
complete by a test); the compiler asks `data_dependent_shape` to decide whether XLA can
run a program; the front ends offer `FORCEABLE` as the choices of `strategy=`.

>>> FORCEABLE
('auto', 'where', 'scatter', 'boolean_mask')
>>> [s.name for s in STRATEGIES.values() if s.data_dependent_shape]
['scatter', 'adaptive', 'boolean_mask', 'general']
>>> STRATEGIES["where"].ops
frozenset({'dense_update'})
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

from maskdsl.ir.nodes import IRError, Program
from maskdsl.passes import cost


@dataclass(frozen=True)
class Strategy:
    name: str
    ops: frozenset[str]          # the IR ops it lowers
    data_dependent_shape: bool   # with a mask in its index it works at the coordinates of the mask's true
                                 # elements: a shape that depends on the data (no XLA)
    forceable: bool              # compile(strategy=name) forces it wherever it gives NumPy's answer
    cost: Callable | None        # cost(n, per_element, selectivity) of an update (passes/cost.py); None: not priced
    summary: str


REPLACE = Strategy("replace", frozenset({"update"}), False, False, None,
                   "x op= value on the whole array: the new value broadcast to x's shape")
WHERE = Strategy("where", frozenset({"dense_update"}), False, True, cost.dense_update_cost,
                 "tf.where(mask, value, x) with the new value computed on the whole array")
SCATTER = Strategy("scatter", frozenset({"update"}), True, True, cost.sparse_update_cost,
                   "gather, compute on the selected elements, tf.tensor_scatter_nd_update")
ADAPTIVE = Strategy("adaptive", frozenset({"adaptive_update"}), True, False, None,
                    "tf.cond on the fraction selected, between scatter and where")
BOOLEAN_MASK = Strategy("boolean_mask", frozenset({"select"}), True, True, None, "tf.boolean_mask")
GATHER = Strategy("gather", frozenset({"select"}), False, False, None, "tf.gather, with range checks")
GENERAL = Strategy("general", frozenset({"select"}), True, False, None,
                   "a strided slice, or transpose and tf.gather_nd")
MASKED = Strategy("masked", frozenset({"masked_reduce"}), False, False, None,
                  "reduce(where(mask, x, identity)), chunk by chunk, no dynamic shape")
PLAIN = Strategy("plain", frozenset({"reduce"}), False, False, None, "tf.reduce_*")

STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    REPLACE, WHERE, SCATTER, ADAPTIVE, BOOLEAN_MASK, GATHER, GENERAL, MASKED, PLAIN)}

AUTO = "auto"  # let the cost model choose
FORCEABLE: tuple[str, ...] = (AUTO, *(s.name for s in STRATEGIES.values() if s.forceable))
"""The choices of `maskdsl.compile(strategy=...)`, the CLI's `--strategy`, the REPL's `:strategy`
and a pipeline's `options: strategy`."""

STRATEGIC_OPS = frozenset(op for s in STRATEGIES.values() for op in s.ops)
"""The ops choose_strategy annotates: each has a strategy once it has run."""


def verify_strategies(program: Program) -> Program:
    """Check every annotated node names a strategy that lowers its op, and none is missing."""
    for node in program.nodes():
        name = node.attr("strategy")
        if name is None:
            if node.op in STRATEGIC_OPS:
                raise IRError(f"{node.op} has no strategy")
            continue
        strategy = STRATEGIES.get(name)
        if strategy is None or node.op not in strategy.ops:
            raise IRError(f"strategy {name!r} does not lower {node.op}")
    return program
