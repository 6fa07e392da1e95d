"""Compute at compile time what depends only on constants.

Any node whose arguments are all constants, and whose result is small, is replaced by
a constant holding the value NumPy gives (via the reference evaluator, so folding
cannot disagree with it). Errors NumPy would raise surface now, at compile time.

>>> from maskdsl.passes import prepare, infer_types
>>> print(format_program(fold_constants(infer_types(prepare("y = x * sqrt(float32(4))", x="float32[3]")))))
y1 = mul(x0, float32(2.0))
return y=y1
"""

from __future__ import annotations

import numpy as np

from .. import limits
from ..dtypes import numel
from ..ir import Node, Program, const, format_program, keep_args, rewrite
from ..reference import evaluate_node

FOLDABLE_KINDS = ("elementwise", "reduce", "index", "structural")


def _fold(node: Node, args) -> Node:
    node = keep_args(node, args)
    from ..ops import OPS
    if node.op in ("const", "input") or OPS[node.op].kind not in FOLDABLE_KINDS:
        return node
    if not args or not all(a.op == "const" for a in args):
        return node
    size = numel(node.shape)
    if size is None or size > limits.MAX_FOLDED_ELEMENTS:
        return node
    value = evaluate_node(node, [a.attr("value") if a.weak else np.asarray(a.attr("value"), a.dtype)
                                 for a in args])
    if node.weak:
        return const(value, span=node.span)
    array = np.asarray(value, dtype=node.dtype)
    folded = array.tolist()
    return const(_tupled(folded), dtype=node.dtype, weak=False, span=node.span)


def _tupled(v):
    return tuple(_tupled(x) for x in v) if isinstance(v, list) else v


def fold_constants(program: Program) -> Program:
    """Replace constant subexpressions by their values."""
    return rewrite(program, _fold)
