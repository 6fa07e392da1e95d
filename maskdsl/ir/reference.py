"""A NumPy interpreter of the typed, unoptimised IR: the oracle of differential tests.

It runs each op with NumPy's own function (ops.py), indexing with NumPy's own
indexing, so it shares no lowering code with the TensorFlow path.

>>> import numpy as np
>>> from maskdsl.language import prepare
>>> from maskdsl.passes import infer_types
>>> program = infer_types(prepare("x[x > 2] *= 10", x="int32[5]"))
>>> evaluate(program, {"x": np.arange(5, dtype=np.int32)})["x"]
array([ 0,  1,  2, 30, 40], dtype=int32)
"""

from __future__ import annotations

import warnings

import numpy as np

from maskdsl.errors import DTypeError, IndexOutOfRangeError, MaskDSLError, ShapeError, ValueDSLError
from maskdsl.ir.indexing import IndexKind, is_slice, slice_bounds
from maskdsl.ir.nodes import Node, Program
from maskdsl.ir.ops import ELEMENTWISE, OPS, REDUCTIONS


def index_tuple(pattern, operands) -> tuple:
    """The NumPy index for a (resolved) pattern and its operand values."""
    out, k = [], 0
    for p in pattern:
        if is_slice(p):
            parts = []
            for given in slice_bounds(p):
                if given:
                    parts.append(int(operands[k]))
                    k += 1
                else:
                    parts.append(None)
            out.append(slice(*parts))
        elif p == IndexKind.NEW_AXIS:
            out.append(None)
        elif p == IndexKind.ELLIPSIS:
            out.append(Ellipsis)
        else:
            out.append(operands[k])
            k += 1
    return tuple(out)


def _strong(value, dtype):
    return np.asarray(value, dtype=dtype)


def _run(node: Node, args: list):
    op = node.op
    if op == "const":
        value = node.attr("value")
        return value if node.weak else _strong(value, node.dtype)
    if op == "cast":
        return np.asarray(args[0]).astype(node.dtype)
    if op in ELEMENTWISE:
        out = OPS[op].numpy(*args)
        return out if node.weak else _strong(out, node.dtype)
    if op == "reduce":
        x = np.asarray(args[0])
        axis = node.attr("axes") if node.attr("axis") is not None else None
        kind = node.attr("kind")
        if kind == "count":
            out = np.count_nonzero(x, axis=axis, keepdims=node.attr("keepdims"))
        else:
            out = REDUCTIONS[kind](x, axis=axis, keepdims=node.attr("keepdims"))
        return _strong(out, node.dtype)
    if op == "select":
        x = np.asarray(args[0])
        return np.array(x[index_tuple(node.attr("index"), args[1:])], dtype=node.dtype)
    if op == "update":
        x = np.array(args[0], copy=True)
        index = index_tuple(node.attr("index"), args[1:-1]) if node.attr("index") else (Ellipsis,)
        x[index] = args[-1]
        return x
    if op == "arange":
        return np.arange(*args, dtype=node.dtype)
    if op == "fill":
        return np.full(node.attr("shape"), args[0], dtype=node.dtype)
    if op == "shape":
        return np.array(np.shape(args[0]), dtype=np.int64)
    if op == "size":
        return int(np.size(args[0]))
    raise MaskDSLError(f"the reference evaluator has no rule for {op}", node.span)


_NUMPY_ERRORS = (
    ("out of bounds", IndexOutOfRangeError), ("boolean index did not match", ShapeError),
    ("could not be broadcast", ShapeError), ("cannot assign", ShapeError), ("broadcast", ShapeError),
    ("Integers to negative", ValueDSLError), ("zero-size array", ValueDSLError),
)


def evaluate_node(node: Node, args: list):
    """Run one node with NumPy; NumPy's errors become MaskDSLErrors with the node's span."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return _run(node, args)
    except (IndexError, ValueError, TypeError, OverflowError) as e:
        message = str(e).split("\n")[0]
        cls = next((c for text, c in _NUMPY_ERRORS if text in message), DTypeError)
        raise cls(message, node.span) from None


def evaluate(program: Program, inputs: dict) -> dict:
    """Evaluate every output of a typed program on NumPy inputs; returns name -> ndarray."""
    values: dict[int, object] = {}
    for n in program.inputs:
        values[id(n)] = np.asarray(inputs[n.attr("name")], dtype=n.dtype)
    try:
        for node in program.nodes():
            if id(node) not in values:
                values[id(node)] = evaluate_node(node, [values[id(a)] for a in node.args])
    except MaskDSLError as e:
        raise e.with_source(program.source) from None
    return {name: np.asarray(values[id(n)]) for name, n in program.outputs}
