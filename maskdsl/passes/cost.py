"""The cost model: per-element weights by cost class, read from data (cost_weights.json).

Costs are in units of "one cheap element-wise op on one element". The weights are
calibrated on a machine by benchmarks/calibrate.py, which rewrites the JSON file
together with its provenance.

>>> from maskdsl.ir.nodes import Node, const, input_node
>>> x = input_node("x").replace(dtype="float32", shape=(10,))
>>> value_cost(Node("exp", (x,), dtype="float32", shape=(10,))) > value_cost(Node("neg", (x,), dtype="float32", shape=(10,)))
True
>>> value_cost(Node("select", (x, x), dtype="float32", shape=(None,)))
0.0
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from maskdsl.ir.nodes import Node
from maskdsl.ir.ops import ELEMENTWISE, OPS

DEFAULT_N = 100_000  # elements assumed for an unknown dimension


@lru_cache(maxsize=1)
def model() -> dict:
    return json.loads((resources.files("maskdsl.passes") / "cost_weights.json").read_text(encoding="utf-8"))


def weight(cost_class: str) -> float:
    return float(model()["weights"][cost_class])


def value_cost(value: Node) -> float:
    """Per-element cost of the element-wise work in `value`.

    Only element-wise ops reachable through element-wise ops count: selections,
    reductions and masks are computed once whichever formulation runs.
    """
    total, seen, stack = 0.0, set(), [value]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.op in ELEMENTWISE:
            total += weight(OPS[node.op].cost)
            stack.extend(node.args)
    return total


def elements(shape) -> int:
    n = 1
    for d in shape or ():
        n *= DEFAULT_N if d is None else d
    return n


def dense_update_cost(n: int, per_element: float, selectivity: float | None = None) -> float:
    """Compute the new value on every element and one tf.where: the same at any selectivity."""
    return n * (per_element + weight("select"))


def spread_cost(n: int, per_element: float = 0.0, selectivity: float | None = None) -> float:
    """Assign one value per selected element on the whole array (rt.spread): a running count of
    the mask, a gather and one tf.where per element; the values themselves are computed on the
    selected elements only, as the sparse form computes them (not counted: the same in both)."""
    return n * (weight("reduce") + weight("gather") + weight("select"))


def sparse_update_cost(n: int, per_element: float, selectivity: float) -> float:
    """Find the selected elements (index), copy x (tensor_scatter_nd_update writes a new
    array: one full-size write, priced as a cheap op), and per selected element gather,
    compute, scatter and pay the dynamic shape."""
    k = n * selectivity
    return n * (weight("index") + weight("cheap")) + k * (
        weight("gather") + per_element + weight("scatter") + weight("dynamic"))


def crossover_selectivity(per_element: float, dense=dense_update_cost) -> float:
    """The selectivity below which gather/compute/scatter beats the dense form (in [0, 1])."""
    per_selected = weight("gather") + per_element + weight("scatter") + weight("dynamic")
    s = (dense(1, per_element) - sparse_update_cost(1, per_element, 0.0)) / per_selected
    return min(1.0, max(0.0, s))


def adaptive_pays(n: int, per_element: float, dense=dense_update_cost) -> bool:
    """Whether counting the mask and branching (tf.cond) can pay off.

    The sparse form must be clearly cheaper when few elements are selected (at least
    three times, at selectivity 0), and the array large enough to hide the branch overhead.
    """
    best_gain = dense(1, per_element) / sparse_update_cost(1, per_element, 0.0)
    overhead = float(model().get("cond_overhead_elements", 0))
    return best_gain >= 3.0 and n * dense(1, per_element) >= 10 * overhead
