"""Give every node its dtype and shape, with NumPy 2's promotion, and reject what NumPy rejects.

Result dtypes are asked of NumPy (dtypes.result_dtype); Python literals are weak
(NEP 50). Arithmetic between two literals is done here, as Python would do it before
NumPy sees the value. Errors carry the span of the offending sub-expression.

>>> from maskdsl.language import prepare
>>> print(format_program(infer_types(prepare("y = x[x > 4] * 2.5", x="int8[10]")), types=True))
y1 = mul(select(x0, gt(x0, 4):bool[10], index=[m]):int8[?], 2.5):float64[?]
return y=y1
"""

from __future__ import annotations

import math
import operator
from functools import lru_cache

import numpy as np

from maskdsl import limits
from maskdsl.ir.dtypes import (WEAK_SAMPLE, Type, broadcast_or_raise, broadcast_shapes, can_cast, check_literal_fits,
                      dtype_kind, result_dtype, shape_text)
from maskdsl.errors import DTypeError, IndexOutOfRangeError, LimitError, MaskDSLError, ShapeError, ValueDSLError
from maskdsl.ir.indexing import IndexKind, operand_facts, plan_index
from maskdsl.ir.nodes import IRError, Node, Program, const, format_program, rewrite
from maskdsl.ir.ops import COMPARISONS, OPS, PREDICATES, REDUCTIONS, SCANS, DtypeRule, python_value


def _type(node: Node) -> Type:
    return Type(node.dtype, node.shape, node.weak)


def _typed(node: Node, args, dtype: str, shape: tuple, weak: bool = False, **attrs) -> Node:
    """The node with its arguments, type and extra attributes, built once (nodes are interned)."""
    return node.replace(args=tuple(args), dtype=dtype, shape=tuple(shape), weak=weak,
                        attrs=node.attrs_with(**attrs) if attrs else node.attrs)


def _const_value(node: Node):
    return node.attr("value") if node.op == "const" else None


def fold_literals(node: Node, args) -> Node | None:
    """`2 ** -1`, `1 + 2`: Python arithmetic on two literals gives a literal."""
    info = OPS[node.op]
    if info.python is None or not all(a.op == "const" and a.weak for a in args):
        return None
    try:
        value = python_value(node.op, [a.attr("value") for a in args], node.span)
    except OverflowError:
        raise ValueDSLError("float overflow between two literals", node.span) from None
    except TypeError as e:
        raise DTypeError(f"{node.op} is not defined for these literals ({e})", node.span) from None
    if isinstance(value, complex):
        raise DTypeError("complex results are not supported", node.span)
    return const(value, span=node.span)


def _elementwise(node: Node, args) -> Node:
    folded = fold_literals(node, args)
    if folded is not None:
        return folded
    types = [_type(a) for a in args]
    try:
        dtype, weak = result_dtype(node.op, types)
    except DTypeError as e:
        raise DTypeError(e.message, node.span) from None
    shape = broadcast_or_raise([a.shape for a in args], node.span)
    if node.op == "pow" and args[0].dtype == "bool" and not args[0].weak and args[1].weak \
            and type(_const_value(args[1])) is int and _const_value(args[1]) == 2:
        dtype = "int8"  # NumPy's `**` computes x ** 2 as square(x): int8 for booleans (np.power: int64)
    # A weak literal must fit the dtype the operation runs in (NumPy 2 raises OverflowError);
    # comparisons are exempt: NumPy 2 compares out-of-range literals exactly.
    strong = [a.dtype for a in args if not a.weak]
    compute = dtype
    if node.op in PREDICATES:  # a bool computed in the operands' dtype (a comparison's: NumPy's choice)
        compute = _comparison_dtype(tuple((a.dtype, a.weak) for a in args)) \
            if node.op in COMPARISONS else args[0].dtype
        if node.op in COMPARISONS and strong:
            constant = _out_of_range_comparison(node.op, args)
            if constant is not None:
                return _typed(node, args, dtype, shape, weak, compute=compute, constant=constant)
            for a in args:
                if a.op == "const" and a.weak and check_literal_fits(a.attr("value"), compute):
                    compute = "float64" if isinstance(a.attr("value"), float) or dtype_kind(compute) == "f" \
                        else "int64"
    elif strong and not weak and node.op != "where":  # where() converts its literals unsafely, as NumPy's
        for a in args:
            if a.op == "const" and a.weak:
                problem = check_literal_fits(a.attr("value"), dtype)
                if problem:
                    raise DTypeError(problem, a.span or node.span)
    if node.op == "pow" and dtype_kind(dtype) in "iu":
        exponent = args[1]
        nonempty = None not in shape and math.prod(shape) > 0  # NumPy raises per element: never when empty
        if exponent.op == "const" and not isinstance(exponent.attr("value"), tuple) and exponent.attr("value") < 0 \
                and nonempty:
            raise ValueDSLError("integers to negative integer powers are not allowed", exponent.span or node.span)
    return _typed(node, args, dtype, shape, weak, compute=compute)


def _clip(node: Node, args) -> Node:
    """clip(x, lo, hi) as NumPy's: for an integer x, a Python int bound at or beyond the end of
    x's range clips nothing and is dropped (NumPy 2 then computes maximum(x, lo), minimum(x, hi)
    or +x); a bound on the wrong side still does not fit and is refused."""
    x = args[0]
    if x.weak or dtype_kind(x.dtype) not in "iu":
        return _elementwise(node, args)
    info = np.iinfo(x.dtype)

    def beyond(bound, end, outside) -> bool:
        value = _const_value(bound)
        return bound.weak and type(value) is int and outside(value, end)

    keep_lo = not beyond(args[1], int(info.min), operator.le)
    keep_hi = not beyond(args[2], int(info.max), operator.ge)
    if keep_lo and keep_hi:
        return _elementwise(node, args)
    op, kept = {(True, False): ("maximum", (x, args[1])), (False, True): ("minimum", (x, args[2])),
                (False, False): ("pos", (x,))}[(keep_lo, keep_hi)]
    return _elementwise(Node(op, kept, span=node.span), kept)


def _out_of_range_comparison(op: str, args) -> bool | None:
    """`uint64_array > -1`, `int8_array == 300`: an integer array against a Python int outside
    its dtype's range has one answer for every element (NumPy 2 compares exactly), known now;
    that answer, or None. (Comparing in int64 is wrong for uint64: 2**64-1 becomes -1.)"""
    if len(args) != 2:
        return None
    literal = next((a for a in args if a.op == "const" and a.weak), None)
    array = next((a for a in args if a is not literal), None)
    if literal is None or array is None or array.weak or dtype_kind(array.dtype) not in "iu":
        return None
    value = literal.attr("value")
    if isinstance(value, bool) or not isinstance(value, int) or not check_literal_fits(value, array.dtype):
        return None
    info = np.iinfo(array.dtype)
    stand_in = int(info.min) if value < info.min else int(info.max)  # every element compares as it does
    return bool(OPS[op].python(*(value if a is literal else stand_in for a in args)))


@lru_cache(maxsize=256)
def _comparison_dtype(operands: tuple) -> str:
    """The dtype NumPy compares (dtype, weak) operands in: a weak literal counts by its kind."""
    return np.result_type(*(WEAK_SAMPLE[dtype] if weak else dtype for dtype, weak in operands)).name


def _input(node: Node, args) -> Node:
    if not node.typed:
        raise MaskDSLError(f"input '{node.attr('name')}' has no type", node.span)
    return node


def _const(node: Node, args) -> Node:
    return node


def _cast(node: Node, args) -> Node:
    x = args[0]
    dtype = node.attr("dtype")
    if x.op == "const" and x.weak:
        problem = check_literal_fits(x.attr("value"), dtype)
        if problem and dtype_kind(dtype) in "iu" and isinstance(x.attr("value"), int):
            raise DTypeError(problem, x.span or node.span)
    return _typed(node, args, dtype, x.shape)


def _reduce(node: Node, args) -> Node:
    x = args[0]
    kind = node.attr("kind")
    dtype, _ = result_dtype(kind, [Type(x.dtype, (), False)])
    axis = node.attr("axis")
    rank = len(x.shape)
    if axis is None:
        axes = tuple(range(rank))
    else:
        axes = []
        for a in axis:
            # NumPy lets a 0-d array be reduced over axis 0 or -1 (a no-op), except by mean (and std, var)
            if (rank == 0 and (a not in (0, -1) or not _has_0d_axis(kind, x))) or (rank and not -rank <= a < rank):
                raise ShapeError(f"axis {a} is out of bounds for array of dimension {rank}", node.span)
            if rank:
                axes.append(a % rank)
        if len(set(axes)) != len(axes):
            raise ShapeError("duplicate value in 'axis'", node.span)
        axes = tuple(sorted(axes))
    keepdims = node.attr("keepdims")
    shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keepdims else \
        tuple(d for i, d in enumerate(x.shape) if i not in axes)
    if REDUCTIONS[kind].fails_on_empty:
        reduced = [x.shape[i] for i in axes]
        if 0 in reduced:
            raise ValueDSLError(REDUCTIONS[kind].empty_message or
                                f"zero-size array to reduction operation {kind}imum which has no identity",
                                node.span)
    return _typed(node, args, dtype, shape, axes=axes if rank else ())


def _plan(node: Node, shape: tuple, operands):
    plan = plan_index(shape, node.attr("index"), operand_facts(operands), [a.span for a in operands])
    if len(plan.items) > limits.MAX_RANK:
        raise LimitError(f"an index of {len(plan.items)} items (with the dimensions it leaves implicit); "
                         f"at most {limits.MAX_RANK} are allowed", node.span)
    return plan


def _select(node: Node, args) -> Node:
    x, operands = args[0], args[1:]
    if x.shape == () and x.weak:
        raise DTypeError("a literal cannot be indexed", node.span)
    plan = _plan(node, x.shape, operands)
    return _typed(node, args, x.dtype, plan.result_shape, index=plan.resolved)


def _update(node: Node, args) -> Node:
    x, operands, value = args[0], args[1:-1], args[-1]
    pattern = node.attr("index")
    if pattern:
        plan = _plan(node, x.shape, operands)
        target, resolved = plan.result_shape, plan.resolved
    else:
        target, resolved = x.shape, ()
    casting = node.attr("casting")
    if casting == "same_kind" and _picks_one_element(pattern and resolved, x.shape):
        # NumPy's `x[0] += v` reads x[0] as a scalar, adds v to it (not in place) and assigns the
        # sum: no same_kind check, an unsafe cast as in `x[0] = sum` (`x[0] += 1.5` on [1, 2] is [2, 2])
        casting = "unsafe"
    span = value.span or node.span
    if casting == "same_kind" and not can_cast(value.dtype, x.dtype, "same_kind"):
        raise DTypeError(f"cannot cast the result of an augmented assignment from {value.dtype} to {x.dtype} "
                         f"with casting rule 'same_kind'", node.span,
                         hint=f"assign instead: x[...] = {x.dtype}(...)")
    if value.op == "const" and value.weak:
        problem = check_literal_fits(value.attr("value"), x.dtype)
        if problem:
            raise DTypeError(problem, span)
    if dtype_kind(x.dtype) == "b" and dtype_kind(value.dtype) != "b" and casting == "same_kind":
        raise DTypeError(f"cannot cast {value.dtype} to bool with casting rule 'same_kind'", node.span)
    if pattern and plan.only_masks:
        _check_value_count(plan, operands, value, target, span)
    shape = value.shape
    if pattern and len(shape) > len(target) and all(d in (1, None) for d in shape[:len(shape) - len(target)]):
        shape = shape[len(shape) - len(target):]  # NumPy drops an assigned value's leading 1s (checked at run time)
    fits = broadcast_shapes(shape, target)
    if fits is None or len(fits) > len(target) or any(
            f is not None and t is not None and f != t for f, t in zip(fits, target)):
        raise ShapeError(f"could not broadcast input array from shape {shape_text(value.shape, 'numpy')} into shape "
                         f"{shape_text(target, 'numpy')}", span)
    return _typed(node, args, x.dtype, x.shape, index=resolved)


def _picks_one_element(resolved, shape) -> bool:
    """An index of one integer per dimension and nothing else: NumPy's x[index] is then a scalar
    (with `...` or a mask it is an array, even of one element)."""
    return bool(resolved) and len(resolved) == len(shape) and all(p == IndexKind.INTEGER for p in resolved)


def _check_value_count(plan, operands, value, target, span) -> None:
    """`x[m] = values` with more values than the mask has elements can never fit."""
    item = plan.mask_item
    mask_shape = operands[item.operands[0]].shape
    if len(plan.items) == 1 and len(target) == 1 and len(value.shape) > 1:
        # one mask over every dim of x: NumPy's boolean assignment takes a flat list of values
        raise ShapeError(f"NumPy boolean array indexing assignment requires a 0 or 1-dimensional input, input "
                         f"has {len(value.shape)} dimensions", span)
    if None in mask_shape:
        return
    bound = 1
    for d in mask_shape:
        bound *= d
    position = len(value.shape) - (len(target) - item.dims[0])
    if 0 <= position < len(value.shape):
        count = value.shape[position]
        if count is not None and count != 1 and count > bound:
            raise ShapeError(f"{count} values cannot fill a selection of at most {bound} elements", span)


def _arange(node: Node, args) -> Node:
    for a in args:
        if a.shape != () or dtype_kind(a.dtype) not in "iuf":
            raise DTypeError("arange arguments must be numeric scalars", a.span or node.span)
    dtype = np.result_type(*(a.attr("value") if a.weak and a.op == "const" else np.dtype(a.dtype) for a in args))
    if dtype_kind(dtype.name) in "iu" and all(a.weak for a in args):
        dtype = np.dtype("int64")
    values = [_const_value(a) for a in args]
    length = None
    if all(v is not None for v in values):
        start, stop, step = values
        if step == 0:
            raise ValueDSLError("arange step cannot be zero", args[2].span or node.span)
        length = max(0, math.ceil((stop - start) / step)) if math.isfinite((stop - start) / step) else None
        if length is None or length > limits.MAX_CONSTRUCTED_ELEMENTS:
            raise LimitError(f"arange would make more than {limits.MAX_CONSTRUCTED_ELEMENTS} elements", node.span)
    return _typed(node, args, dtype.name, (length,))


def _fill(node: Node, args) -> Node:
    value = args[0]
    if value.shape != ():
        raise ShapeError("the fill value must be a scalar", value.span or node.span)
    return _typed(node, args, value.dtype, node.attr("shape"))  # a literal takes its default dtype


def _shape(node: Node, args) -> Node:
    return _typed(node, args, "int64", (len(args[0].shape),))


def _size(node: Node, args) -> Node:
    return _typed(node, args, "int64", (), weak=True)  # np.size is a Python int


def _ndim(node: Node, args) -> Node:
    return _typed(node, args, "int64", (), weak=True)  # np.ndim is a Python int


def _len(node: Node, args) -> Node:
    if args[0].shape == ():
        raise DTypeError("len() of unsized object (a 0-d array has no first dimension)", node.span)
    return _typed(node, args, "int64", (), weak=True)  # len is a Python int


def _transpose(node: Node, args) -> Node:
    return _typed(node, args, args[0].dtype, tuple(reversed(args[0].shape)))


def _reshape(node: Node, args) -> Node:
    x, want = args[0], node.attr("shape")
    total = 1
    for d in x.shape:
        total = None if d is None or total is None else total * d
    known = 1
    for d in want:
        known *= d if d != -1 else 1
    if -1 in want:
        dim = None if total is None else total // known if known and total % known == 0 else -1
        if dim == -1 or (known == 0 and total is not None):
            raise ShapeError(f"cannot reshape array of size {total} into shape {shape_text(want, 'numpy')}", node.span)
        shape = tuple(dim if d == -1 else d for d in want)
    else:
        if total is not None and total != known:
            raise ShapeError(f"cannot reshape array of size {total} into shape {shape_text(want, 'numpy')}", node.span)
        shape = tuple(want)
    return _typed(node, args, x.dtype, shape)


# ---- statistics (issue 14) ----

def _has_0d_axis(kind: str, x: Node) -> bool:
    """Whether NumPy's reduction `kind` takes axis 0 of a 0-d array (np.mean does not; np.nanmean does
    for floats only, as it hands other dtypes to np.mean)."""
    allowed = REDUCTIONS[kind].axis_on_0d
    return allowed == "any" or (allowed == "float" and dtype_kind(x.dtype) == "f")


@lru_cache(maxsize=256)
def _scan_dtype(kind: str, dtype: str) -> str:
    return SCANS[kind](np.zeros(1, dtype)).dtype.name


def _cumulative(node: Node, args) -> Node:
    """cumsum(x, axis): x's shape (a 0-d x counts as 1-d), or the flattened x's for axis None."""
    x = args[0]
    axis, rank = node.attr("axis"), len(x.shape)
    if axis is None:
        size = 1
        for d in x.shape:
            size = None if d is None or size is None else size * d
        shape = (size,)
    else:
        if not -max(rank, 1) <= axis < max(rank, 1):
            raise ShapeError(f"axis {axis} is out of bounds for array of dimension {max(rank, 1)}", node.span)
        shape = x.shape if rank else (1,)
    return _typed(node, args, _scan_dtype(node.attr("kind"), x.dtype), shape)


def _nan_to_num(node: Node, args) -> Node:
    x = args[0]
    return _typed(node, args, x.dtype, x.shape)


# ---- selections and order statistics ----

def _nonzero_mask(node: Node, args) -> Node:
    if args[0].shape == ():
        raise ValueDSLError("Calling nonzero on 0d arrays is not allowed", node.span,
                            hint="index with a mask of at least one dimension")
    return _elementwise(node, args)


def _argwhere(node: Node, args) -> Node:
    return _typed(node, args, "int64", (None, len(args[0].shape)))


def _nonzero(node: Node, args) -> Node:
    rank, k = len(args[0].shape), node.attr("axis")
    if rank == 0:
        raise ValueDSLError("Calling nonzero on 0d arrays is not allowed", node.span,
                            hint="nonzero of a 0-d value has no indices to give; compare it instead")
    if not -rank <= k < rank:
        raise IndexOutOfRangeError(f"tuple index {k} out of range: nonzero of a {rank}-d array gives {rank} "
                                   f"array{'s' if rank > 1 else ''}", node.span)
    return _typed(node, args, "int64", (None,), axis=k % rank)


def _isin(node: Node, args) -> Node:
    x, values = args
    for a in args:
        if dtype_kind(a.dtype) not in "biuf":
            raise DTypeError(f"isin is not defined for {a.dtype}", a.span or node.span)
    compute = np.result_type(np.dtype(x.dtype), np.dtype(values.dtype)).name  # both as NumPy arrays
    return _typed(node, args, "bool", x.shape, compute=compute)


def _weak_sample(dtype: str, weak: bool):
    return WEAK_SAMPLE[dtype] if weak else np.dtype(dtype)


def _select_case(node: Node, args) -> Node:
    cond, choice, rest = args
    if cond.dtype != "bool":
        raise DTypeError(f"invalid entry {node.attr('entry')} in condlist: should be boolean ndarray",
                         cond.span or node.span)
    # leaves: (dtype, weak, the choice's entry or None for the default), the whole chain's from entry 0
    leaves = ((choice.dtype, choice.weak, node.attr("entry")),) + (
        rest.attr("leaves") if rest.op == "select_case" else ((rest.dtype, rest.weak, None),))
    try:
        dtype = np.result_type(*(_weak_sample(d, w) for d, w, _ in leaves)).name
    except TypeError as e:
        raise DTypeError(f"Choicelist and default value do not have a common dtype: {e}", node.span) from None
    # NumPy fills the result with the default (an unsafe cast, as assignment) and copies each choice
    # in with casting='same_kind', a Python number as its default dtype (int64, float64, bool)
    for d, _, entry in leaves if node.attr("entry") == 0 else ():
        if entry is not None and not can_cast(d, dtype, "same_kind"):
            raise DTypeError(f"Cannot cast array data from dtype('{d}') to dtype('{dtype}') according to "
                             f"the rule 'same_kind'", node.span,
                             hint=f"choice {entry} does not fit the result's {dtype}: convert it first")
    shape = broadcast_or_raise([cond.shape, choice.shape, rest.shape], node.span)
    return _typed(node, args, dtype, shape, leaves=leaves)


def _axes(node: Node, axis, rank: int) -> tuple:
    """axis (None: every axis) as sorted non-negative axes; NumPy's AxisError as a ShapeError."""
    if axis is None:
        return tuple(range(rank))
    axes = []
    for a in axis:
        if not -rank <= a < rank:
            raise ShapeError(f"axis {a} is out of bounds for array of dimension {rank}", node.span)
        axes.append(a % rank)
    if len(set(axes)) != len(axes):
        raise ShapeError("duplicate value in 'axis'", node.span)
    return tuple(sorted(axes))


def _sort(node: Node, args) -> Node:
    x = args[0]
    if x.shape == () and x.weak:
        x = x.replace(weak=False)
    (axis,) = _axes(node, (node.attr("axis"),), len(x.shape))
    return _typed(node, args, args[0].dtype, x.shape, axis=axis)


def _unique(node: Node, args) -> Node:
    return _typed(node, args, args[0].dtype, (None,))


def _quantile(node: Node, args) -> Node:
    x, kind, q = args[0], node.attr("kind"), node.attr("q")
    axes = _axes(node, node.attr("axis"), len(x.shape))
    if kind == "median":
        mode, dtype = "median", result_dtype("mean", [Type(x.dtype, (), False)])[0]
    elif kind == "quantile" and all(isinstance(v, int) for v in (q if isinstance(q, tuple) else (q,))):
        mode, dtype = "take", x.dtype           # integer q (0 or 1): NumPy takes the element
    else:
        if x.dtype == "bool":
            raise DTypeError("numpy boolean subtract, the `-` operator, is not supported: "
                             f"{kind} interpolates between elements", node.span, hint=f"{kind}(int8(x), ...)")
        weak_q = not isinstance(q, tuple)       # NumPy: a Python number q keeps float32 float32
        mode = "lerp"
        dtype = np.result_type(np.dtype(x.dtype), 0.0 if weak_q else np.dtype("float64")).name
    reduced = [x.shape[a] for a in axes]
    if 0 in reduced and mode != "median":       # NumPy indexes the empty sorted axis at -1
        raise IndexOutOfRangeError("index -1 is out of bounds for axis 0 with size 0", node.span,
                                   hint=f"{kind} of nothing has no value")
    keepdims = node.attr("keepdims")
    kept = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keepdims else \
        tuple(d for i, d in enumerate(x.shape) if i not in axes)
    q_shape = (len(q),) if isinstance(q, tuple) else ()
    return _typed(node, args, dtype, q_shape + kept, axes=axes, mode=mode)


RULES = {
    **{op: _elementwise for op, info in OPS.items() if info.dtype == DtypeRule.PROMOTE},
    "clip": _clip,
    "input": _input, "const": _const, "cast": _cast, "reduce": _reduce, "select": _select,
    "update": _update, "arange": _arange, "fill": _fill, "shape": _shape, "size": _size,
    "ndim": _ndim, "len": _len, "transpose": _transpose, "reshape": _reshape,
    "cumulative": _cumulative, "nan_to_num": _nan_to_num,  # statistics
    # selections and order statistics
    "nonzero_mask": _nonzero_mask, "argwhere": _argwhere, "nonzero": _nonzero, "isin": _isin,
    "select_case": _select_case, "sort": _sort, "unique": _unique, "quantile": _quantile,
}
"""Type rules by op. The ops choose_strategy makes (masked_reduce, dense_update, ...) have none:
they are typed when made, after this pass."""


def _infer(node: Node, args) -> Node:
    rule = RULES.get(node.op)
    if rule is None:
        raise IRError(f"no type rule for {node.op} (ops that choose_strategy makes come typed)")
    try:
        typed = rule(node, args)
    except MaskDSLError as e:
        if e.span is None:
            e.span = node.span
        raise
    if typed.shape is not None and len(typed.shape) > limits.MAX_RANK:
        # TensorFlow aborts the whole process on arrays of more than 254 dimensions
        what = f"input '{node.attr('name')}'" if node.op == "input" else "an array"
        raise LimitError(f"{what} of {len(typed.shape)} dimensions; at most {limits.MAX_RANK} are allowed",
                         node.span)
    return typed


def infer_types(program: Program) -> Program:
    """Type every node of a program whose inputs are typed (see ir.bind)."""
    return rewrite(program, _infer)
