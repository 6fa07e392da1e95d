"""A NumPy interpreter of typed IR, before or after optimisation: the oracle of differential tests.

One rule per op (`RULES`). Element-wise ops run the NumPy function that defines them
(ops.py), indexing uses NumPy's own indexing, so the evaluator shares no lowering code
with the TensorFlow path. The ops choose_strategy introduces (masked_reduce,
dense_update, adaptive_update, expand) have rules too, so the optimised program can be
checked against the program it came from.

>>> import numpy as np
>>> from maskdsl.language import prepare
>>> from maskdsl.passes import infer_types, optimize
>>> program = infer_types(prepare("x[x > 2] *= 10", x="int32[5]"))
>>> evaluate(program, {"x": np.arange(5, dtype=np.int32)})["x"]
array([ 0,  1,  2, 30, 40], dtype=int32)
>>> evaluate(optimize(prepare("s = sum(x[x > 2])", x="int32[5]")), {"x": np.array([1, 2, 3, 4, 0], np.int32)})["s"]
array(7)
"""

from __future__ import annotations

import numpy as np

from maskdsl.errors import DTypeError, MaskDSLError
from maskdsl.ir.indexing import IndexKind, index_operands, is_slice, slice_bounds
from maskdsl.ir.nodes import IRError, Node, Program
from maskdsl.ir.numpy_messages import reason_class
from maskdsl.ir.ops import OPS, REDUCTIONS, SCANS


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


def _index(node: Node, args: list) -> tuple:
    """The NumPy index of an indexed node, from its argument values (the whole array if none)."""
    pattern = node.attr("index")
    if not pattern:
        return (Ellipsis,)
    return index_tuple(pattern, args[1:1 + len(index_operands(node))])


def _elementwise(node: Node, args: list):
    out = OPS[node.op].numpy(*args)
    return out if node.weak else _strong(out, node.dtype)


def _input(node: Node, args: list):
    raise IRError(f"input {node.attr('name')!r} has no value: inputs are given to evaluate()")


def _const(node: Node, args: list):
    value = node.attr("value")
    return value if node.weak else _strong(value, node.dtype)


def _cast(node: Node, args: list):
    return np.asarray(args[0]).astype(node.dtype)


def _reduce(node: Node, args: list):
    return _reduced(node, np.asarray(args[0]))


def _masked_reduce(node: Node, args: list):
    x, mask = np.asarray(args[0]), np.asarray(args[1])
    return _reduced(node, x[mask])


def _reduced(node: Node, x):
    axis = node.attr("axes") if node.attr("axis") is not None else None
    keepdims = node.attr("keepdims")
    if node.attr("kind") == "mean" and 0 in (x.shape if axis is None else [x.shape[a] for a in axis]):
        # NumPy's answer (nan) without NumPy's "Mean of empty slice" warning, which np.errstate does
        # not cover and warnings.catch_warnings() would silence for every thread of the process
        shape = np.sum(x, axis=axis, keepdims=keepdims).shape
        return _strong(np.full(shape, np.nan), node.dtype)
    extra = {"ddof": node.attr("ddof")} if REDUCTIONS[node.attr("kind")].ddof else {}
    out = REDUCTIONS[node.attr("kind")].numpy(x, axis=axis, keepdims=keepdims, **extra)
    return _strong(out, node.dtype)


def _select(node: Node, args: list):
    x = np.asarray(args[0])
    return np.array(x[_index(node, args)], dtype=node.dtype)


def _update(node: Node, args: list):
    x = np.array(args[0], copy=True)
    x[_index(node, args)] = args[-1]
    return x


def _dense_update(node: Node, args: list):
    x = np.array(args[0], copy=True)
    index = _index(node, args)
    x[index] = np.broadcast_to(args[-1], x.shape)[index]
    return x


def _adaptive_update(node: Node, args: list):
    x, mask, _dense, sparse = args
    x = np.array(x, copy=True)
    x[np.asarray(mask)] = sparse
    return x


def _spread(node: Node, args: list):
    x, mask, values = args
    x = np.array(x, copy=True)
    x[np.asarray(mask)] = values
    return x


def _arange(node: Node, args: list):
    return np.arange(*args, dtype=node.dtype)


def _fill(node: Node, args: list):
    return np.full(node.attr("shape"), args[0], dtype=node.dtype)


def _shape(node: Node, args: list):
    return np.array(np.shape(args[0]), dtype=np.int64)


def _size(node: Node, args: list):
    return int(np.size(args[0]))


def _ndim(node: Node, args: list):
    return int(np.ndim(args[0]))


def _len(node: Node, args: list):
    return len(np.asarray(args[0]))  # TypeError on a 0-d array: a located error


def _transpose(node: Node, args: list):
    return np.transpose(args[0])


def _reshape(node: Node, args: list):
    return np.reshape(args[0], node.attr("shape"))


def _expand(node: Node, args: list):
    mask = np.asarray(args[0])
    return mask.reshape(mask.shape + (1,) * node.attr("trailing"))


# ---- statistics (issue 14) ----

def _cumulative(node: Node, args: list):
    x = np.asarray(args[0])
    return _strong(SCANS[node.attr("kind")](x, axis=node.attr("axis")), node.dtype)


def _nan_to_num(node: Node, args: list):
    x = np.asarray(args[0], dtype=node.dtype)
    return np.nan_to_num(x, nan=node.attr("nan"), posinf=node.attr("posinf"), neginf=node.attr("neginf"))


# ---- selections and order statistics: NumPy's own functions ----

def _argwhere(node: Node, args: list):
    return np.argwhere(args[0]).astype(np.int64)


def _nonzero(node: Node, args: list):
    return np.nonzero(args[0])[node.attr("axis")].astype(np.int64)


def _isin(node: Node, args: list):
    return np.isin(args[0], args[1])


def _select_case(node: Node, args: list):
    cond, choice, rest = args
    if node.args[2].op != "select_case":   # the default: NumPy's np.full, an unsafe cast
        rest = np.asarray(rest).astype(node.dtype)
    return np.where(cond, np.asarray(choice).astype(node.dtype), rest).astype(node.dtype)


def _sort(node: Node, args: list):
    return np.sort(args[0], axis=node.attr("axis"))


def _unique(node: Node, args: list):
    return np.unique(args[0])


_QUANTILES = {"median": np.median, "quantile": np.quantile, "percentile": np.percentile}


def _quantile(node: Node, args: list):
    x, kind, q = np.asarray(args[0]), node.attr("kind"), node.attr("q")
    axis = node.attr("axes") if node.attr("axis") is not None else None
    if node.attr("mode") == "median" and 0 in (x.shape if axis is None else [x.shape[a] for a in axis]):
        # NumPy's nan without its "Mean of empty slice" warning (as for mean, above)
        shape = np.sum(x, axis=axis, keepdims=node.attr("keepdims")).shape
        return _strong(np.full(shape, np.nan), node.dtype)
    q_arg = () if kind == "median" else (list(q) if isinstance(q, tuple) else q,)
    return _strong(_QUANTILES[kind](x, *q_arg, axis=axis, keepdims=node.attr("keepdims")), node.dtype)


def _masked_quantile(node: Node, args: list):
    x, mask = np.asarray(args[0]), np.asarray(args[1])
    return _quantile(node, [x[mask]])


RULES = {
    **{op: _elementwise for op, info in OPS.items() if info.numpy is not None},
    "input": _input, "const": _const, "cast": _cast, "reduce": _reduce, "masked_reduce": _masked_reduce,
    "select": _select, "update": _update, "dense_update": _dense_update, "adaptive_update": _adaptive_update,
    "arange": _arange, "fill": _fill, "shape": _shape, "size": _size, "expand": _expand, "spread": _spread,
    "ndim": _ndim, "len": _len, "transpose": _transpose, "reshape": _reshape,
    "cumulative": _cumulative, "nan_to_num": _nan_to_num,  # statistics
    # selections and order statistics
    "argwhere": _argwhere, "nonzero": _nonzero, "isin": _isin, "select_case": _select_case, "sort": _sort,
    "unique": _unique, "quantile": _quantile, "masked_quantile": _masked_quantile,
}


def evaluate_node(node: Node, args: list):
    """Run one node with NumPy; NumPy's errors become MaskDSLErrors with the node's span."""
    rule = RULES.get(node.op)
    if rule is None:
        raise IRError(f"the reference evaluator has no rule for {node.op}")
    try:
        with np.errstate(all="ignore"):   # thread-local; never warnings.catch_warnings() (process-global)
            return rule(node, args)
    except (IndexError, ValueError, TypeError, OverflowError) as e:
        message = str(e).split("\n")[0]
        cls = reason_class(message, default=DTypeError)  # NumPy's text: see numpy_messages
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
