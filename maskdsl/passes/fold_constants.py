"""Compute at compile time what depends only on constants.

Any node whose arguments are all constants, and whose result is small, is replaced by
a constant holding the value NumPy gives (via the reference evaluator, so folding
cannot disagree with it); so is `shape(x)` or `size(x)` of an array of static shape.
Arithmetic on Python literals stays Python's (with infer_types' int64 limits). Errors
NumPy would raise surface now, at compile time.

>>> from maskdsl.language import prepare
>>> from maskdsl.passes import infer_types
>>> print(format_program(fold_constants(infer_types(prepare("y = x * sqrt(float32(4))", x="float32[3]")))))
y1 = mul(x0, float32(2.0))
return y=y1
"""

from __future__ import annotations

import numpy as np

from maskdsl import limits
from maskdsl.ir.dtypes import numel
from maskdsl.ir.nodes import Node, Program, const, format_program, keep_args, rewrite
from maskdsl.ir.ops import OPS, SHAPE_QUERIES, SOURCES
from maskdsl.ir.reference import evaluate_node
from maskdsl.passes.infer_types import fold_literals

# The value of a shape query, from a static shape: known at compile time whatever the
# values are, so `size(x) ** 99` then meets fold_literals' limits.
FROM_SHAPE = {
    "size": lambda dims, span: const(numel(dims), span=span),
    "shape": lambda dims, span: const(tuple(dims), dtype="int64", weak=False, span=span),
    "ndim": lambda dims, span: const(len(dims), span=span),
    "len": lambda dims, span: const(dims[0], span=span),
}


def _fold(node: Node, args) -> Node:
    node = keep_args(node, args)
    if node.op in SOURCES:  # inputs, constants, and arrays made from nothing (kept small in the IR)
        return node
    if node.op in SHAPE_QUERIES and args[0].shape is not None and None not in args[0].shape:
        return FROM_SHAPE[node.op](args[0].shape, node.span)
    if not args or not all(a.op == "const" for a in args):
        return node
    size = numel(node.shape)
    if size is None or size > limits.MAX_FOLDED_ELEMENTS:
        return node
    if node.weak and OPS[node.op].python is not None and all(a.weak for a in args):
        return fold_literals(node, args)  # Python's arithmetic, with its limits (`size(x) ** 99`)
    value = evaluate_node(node, [a.attr("value") if a.weak else np.asarray(a.attr("value"), a.dtype)
                                 for a in args])
    if node.weak:  # a Python scalar, never a NumPy one: codegen prints only parsed-value types
        scalar = value if isinstance(value, (bool, int, float)) else np.asarray(value).item()
        return const(scalar, span=node.span)
    array = np.asarray(value, dtype=node.dtype)
    folded = array.tolist()
    return const(folded, dtype=node.dtype, weak=False, span=node.span)


def fold_constants(program: Program) -> Program:
    """Replace constant subexpressions by their values."""
    return rewrite(program, _fold)
