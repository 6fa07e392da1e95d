"""NumPy's indexing rules as a plan: which dims each index item consumes, and the result shape.

Shared by type inference (shapes and compile-time checks), strategy selection, the
reference evaluator, code generation and the runtime. An index is a *pattern* (one
`IndexKind` per item, kept in the node's `index` attribute) plus the node's index
operands (the arrays and scalars the items read). A plan works on the array after new
axes are inserted, so None is just a full slice over an inserted axis of size 1.

>>> K = IndexKind
>>> p = plan_index((5, 3), (K.VALUE, K.FULL_SLICE), [((5,), "bool", None)])
>>> p.result_shape, [it.kind for it in p.items], p.advanced
((None, 3), ['m', 'f'], True)
>>> plan_index((4, 5, 6), (K.INTEGER, K.FULL_SLICE, K.INT_ARRAY), [((), "int64", 0), ((2,), "int64", (1, 2))]).result_shape
(2, 5)
"""

from __future__ import annotations

from dataclasses import dataclass

from maskdsl.ir.dtypes import broadcast_shapes, dtype_kind
from maskdsl.ir.ops import OPS
from maskdsl.errors import DTypeError, IndexOutOfRangeError, ShapeError


class IndexKind:
    """What an index item is. The values are the short forms the printed IR shows
    (`index=[m, f]`) and the generated code passes to the runtime; compare with these names.
    A slice with bounds is written SLICE plus one flag per bound (`s110`: `a:b`), see
    `slice_pattern`."""

    VALUE = "x"        # a value not typed yet; infer_types resolves it to one of the next four
    MASK = "m"         # a boolean array: the elements where it is true (consumes one dim per mask dim)
    BOOL_SCALAR = "z"  # a 0-d boolean: a new axis of length 1 (true) or 0 (false)
    INTEGER = "i"      # an integer scalar (negative wraps)
    INT_ARRAY = "a"    # an integer array (a gather)
    SLICE = "s"        # lower:upper:step with at least one bound given
    FULL_SLICE = "f"   # `:`, or a dim the index leaves implicit
    NEW_AXIS = "n"     # None
    ELLIPSIS = "e"     # `...`; only in patterns: a plan replaces it by full slices


K = IndexKind
MASKS = frozenset((K.MASK, K.BOOL_SCALAR))                   # select by the true elements of a boolean
ADVANCED = frozenset((K.MASK, K.BOOL_SCALAR, K.INT_ARRAY))   # NumPy's advanced indexing
_ONE_OPERAND = frozenset((K.VALUE, K.MASK, K.BOOL_SCALAR, K.INTEGER, K.INT_ARRAY))
_ONE_DIM = frozenset((K.INTEGER, K.INT_ARRAY, K.SLICE, K.FULL_SLICE))   # consume one dim of x
_INSERTS_AXIS = frozenset((K.NEW_AXIS, K.BOOL_SCALAR))


def slice_pattern(lower: bool, upper: bool, step: bool) -> str:
    """The pattern item of a slice, from which of its bounds are given: `a:b` is `s110`."""
    return K.SLICE + "".join("1" if given else "0" for given in (lower, upper, step))


def is_slice(item: str) -> bool:
    """A slice with bounds (`s110`) or a full slice (`f`)."""
    return item[0] == K.SLICE or item == K.FULL_SLICE


def slice_bounds(item: str) -> tuple[bool, bool, bool]:
    """Which of (lower, upper, step) a slice item reads from operands."""
    if item == K.FULL_SLICE:
        return (False, False, False)
    return tuple(flag == "1" for flag in item[1:])


_OPERAND_COUNTS: dict[tuple, int] = {}


def operand_count(pattern) -> int:
    """How many index operands a pattern reads (a node's arity depends on it)."""
    count = _OPERAND_COUNTS.get(pattern)
    if count is None:
        count = sum(1 if p in _ONE_OPERAND else sum(slice_bounds(p)) if is_slice(p) else 0 for p in pattern)
        if len(_OPERAND_COUNTS) < 4096:
            _OPERAND_COUNTS[pattern] = count
    return count


def index_operands(node) -> tuple:
    """The arguments of an indexed node (select, update, ...) that its index items read:
    those between the indexed array (first) and the op's trailing arguments (ops.Op.arity)."""
    args = node.args
    return args[1:len(args) - OPS[node.op].arity + 1]


def operand_facts(operands) -> list[tuple]:
    """(shape, dtype, constant value or None) per operand: what plan_index reads of them."""
    return [(a.shape, a.dtype, a.attr("value") if a.op == "const" else None) for a in operands]


def node_plan(node) -> IndexPlan:
    """The plan of a typed indexed node."""
    return plan_index(node.args[0].shape, node.attr("index"), operand_facts(index_operands(node)))


def same_index(a, b) -> bool:
    """a and b index through the same pattern and the same operand nodes."""
    if a.attr("index") != b.attr("index"):
        return False
    left, right = index_operands(a), index_operands(b)
    return len(left) == len(right) and all(p is q for p, q in zip(left, right))


def has_mask(node) -> bool:
    """The node selects by the true elements of a boolean: a mask in its index, or a mask argument."""
    return bool(OPS[node.op].masks) or any(p in MASKS for p in node.attr("index") or ())


def operand_problem(pattern, operands) -> str | None:
    """Why typed operands do not fit a resolved pattern (a mask that is not bool...), or None."""
    k = 0
    for p in pattern:
        if is_slice(p):
            for given in slice_bounds(p):
                if given:
                    a = operands[k]
                    if a.shape != () or dtype_kind(a.dtype) not in "iub":
                        return f"slice bound {k} is {a.dtype}{list(a.shape)}, not an integer scalar"
                    k += 1
        elif p in _ONE_OPERAND:
            a = operands[k]
            want = {K.MASK: "b", K.BOOL_SCALAR: "b", K.INTEGER: "iu", K.INT_ARRAY: "iu"}.get(p)
            if want is not None and dtype_kind(a.dtype) not in want:
                return f"index operand {k} is {a.dtype} for an item of kind {p!r}"
            if p in (K.BOOL_SCALAR, K.INTEGER) and a.shape != ():
                return f"index operand {k} of kind {p!r} is not a scalar"
            k += 1
    return None


@dataclass(frozen=True)
class Item:
    kind: str                # an IndexKind (never VALUE, ELLIPSIS or a slice pattern: SLICE itself)
    operands: tuple          # operand positions (for SLICE: lower, upper, step; None when absent)
    dims: tuple[int, ...]    # dims of the expanded array this item consumes


@dataclass(frozen=True)
class IndexPlan:
    items: tuple[Item, ...]
    newaxes: tuple[int, ...]          # positions in the expanded array that are inserted axes
    expanded_shape: tuple
    advanced: bool
    adjacent: bool                    # advanced items form one contiguous run
    result_shape: tuple
    resolved: tuple[str, ...]         # the pattern with VALUE items resolved (MASK, INTEGER, ...)

    @property
    def only_masks(self) -> bool:
        """One mask (any rank), preceded and followed only by full slices."""
        kinds = [it.kind for it in self.items]
        return kinds.count(K.MASK) == 1 and set(kinds) <= {K.MASK, K.FULL_SLICE} and not self.newaxes

    @property
    def mask_item(self) -> Item | None:
        return next((it for it in self.items if it.kind == K.MASK), None)

    @property
    def basic(self) -> bool:
        return not self.advanced

    @property
    def trailing_full(self) -> int:
        n = 0
        for it in reversed(self.items):
            if it.kind != K.FULL_SLICE:
                break
            n += 1
        return n


def _slice_length(n, lower, upper, step):
    if n is None or any(v is _UNKNOWN for v in (lower, upper, step)):
        return None
    return len(range(n)[slice(lower, upper, step)])


_UNKNOWN = object()


# Plans by (shape, pattern, operands). A plan depends on nothing else (spans only shape error
# messages, and a failed plan is never stored); type inference and strategy choice both ask.
_PLANS: dict[tuple, IndexPlan] = {}
_MAX_PLANS = 4096


def plan_index(shape: tuple, pattern: tuple, operands: list, spans=None) -> IndexPlan:
    """Plan `x[pattern]` for x of `shape`.

    operands: one (shape, dtype, const_value_or_None) per operand, in pattern order.
    spans: optional operand spans for error messages (index into the same order).
    """
    key = (tuple(shape), tuple(pattern), tuple(operands))
    try:
        plan = _PLANS.get(key)
    except TypeError:  # an operand value that cannot be a key: plan without the cache
        return _plan(shape, pattern, operands, spans)
    if plan is None:
        plan = _plan(shape, pattern, operands, spans)
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


def _plan(shape: tuple, pattern: tuple, operands: list, spans=None) -> IndexPlan:
    spans = spans or [None] * len(operands)
    items, resolved, k = [], [], 0
    for p in pattern:
        if p in _ONE_OPERAND:  # resolved (again) from the operand's type
            op_shape, dtype, value = operands[k]
            kind = dtype_kind(dtype)
            if kind == "b":
                p = K.BOOL_SCALAR if op_shape == () else K.MASK
            elif kind in "iu":
                p = K.INTEGER if op_shape == () else K.INT_ARRAY
            else:
                raise DTypeError("only integers, slices (':'), ellipsis ('...'), None and integer or "
                                 f"boolean arrays are valid indices; got {dtype}", spans[k])
            items.append([p, (k,)])
            k += 1
        elif is_slice(p):
            ops = []
            for given in slice_bounds(p):
                if given:
                    op_shape, dtype, value = operands[k]
                    if op_shape != () or dtype_kind(dtype) not in "iub":
                        shape_text = list(op_shape) if op_shape else ""
                        raise DTypeError(f"slice bounds must be integer scalars, got {dtype}{shape_text}",
                                         spans[k])
                    ops.append(k)
                    k += 1
                else:
                    ops.append(None)
            if ops[2] is not None and operands[ops[2]][2] == 0:
                raise ShapeError("slice step cannot be zero", spans[ops[2]])
            items.append([K.SLICE, tuple(ops)] if any(o is not None for o in ops) else [K.FULL_SLICE, ()])
        else:
            items.append([p, ()])
        resolved.append(K.FULL_SLICE if items[-1][0] == K.FULL_SLICE else p)

    rank = len(shape)
    consumed = sum(len(operands[it[1][0]][0]) if it[0] == K.MASK else 1 if it[0] in _ONE_DIM else 0 for it in items)
    if consumed > rank:
        raise ShapeError(f"too many indices for array: array is {rank}-dimensional, but {consumed} were indexed",
                         spans[0] if spans else None)
    fill = [[K.FULL_SLICE, ()] for _ in range(rank - consumed)]
    if any(it[0] == K.ELLIPSIS for it in items):
        at = next(i for i, it in enumerate(items) if it[0] == K.ELLIPSIS)
        items[at:at + 1] = fill
    else:
        items.extend(fill)

    # walk the items, assigning dims of the expanded array
    out_items, expanded, newaxes, xdim = [], [], [], 0
    for kind, ops in items:
        pos = len(expanded)
        if kind in _INSERTS_AXIS:
            expanded.append(1)
            newaxes.append(pos)
            out_items.append(Item(kind, ops, (pos,)))
            continue
        width = len(operands[ops[0]][0]) if kind == K.MASK else 1
        dims = shape[xdim:xdim + width]
        if kind == K.MASK:
            mshape = operands[ops[0]][0]
            for axis, (d, md) in enumerate(zip(dims, mshape)):
                if d is not None and md is not None and d != md:
                    raise ShapeError(f"boolean index did not match indexed array along axis {xdim + axis}; "
                                     f"size of axis is {d} but size of corresponding boolean axis is {md}",
                                     spans[ops[0]])
        if kind == K.INTEGER:
            value = operands[ops[0]][2]
            if value is not None and dims[0] is not None and not -dims[0] <= value < dims[0]:
                raise IndexOutOfRangeError(f"index {value} is out of bounds for axis {xdim} with size {dims[0]}",
                                           spans[ops[0]])
        if kind == K.INT_ARRAY:
            value = operands[ops[0]][2]
            if value is not None and dims[0] is not None:
                for v in flatten(value):
                    if not -dims[0] <= v < dims[0]:
                        raise IndexOutOfRangeError(f"index {v} is out of bounds for axis {xdim} with size {dims[0]}",
                                                   spans[ops[0]])
        expanded.extend(dims)
        out_items.append(Item(kind, ops, tuple(range(pos, pos + width))))
        xdim += width

    advanced = any(it.kind in ADVANCED for it in out_items)
    adv = [i for i, it in enumerate(out_items) if it.kind in ADVANCED or (advanced and it.kind == K.INTEGER)]
    adjacent = bool(adv) and adv == list(range(adv[0], adv[-1] + 1))

    def item_dims(it):
        if it.kind in (K.FULL_SLICE, K.NEW_AXIS):
            return (expanded[it.dims[0]],)
        if it.kind == K.SLICE:
            vals = [None if o is None else _UNKNOWN if operands[o][2] is None else operands[o][2]
                    for o in it.operands]
            return (_slice_length(expanded[it.dims[0]], *vals),)
        return ()

    if not advanced:
        result = tuple(d for it in out_items for d in item_dims(it))
    else:
        index_shapes = []
        for it in out_items:
            if it.kind in MASKS:
                value = operands[it.operands[0]][2]
                index_shapes.append((_count(value),))
            elif it.kind == K.INT_ARRAY:
                index_shapes.append(operands[it.operands[0]][0])
            elif it.kind == K.INTEGER:
                index_shapes.append(())
        broadcast = broadcast_shapes(*index_shapes)
        if broadcast is None:
            shown = " ".join(str(tuple(s)) for s in index_shapes)
            raise ShapeError(f"shape mismatch: indexing arrays could not be broadcast together with shapes {shown}",
                             spans[0])
        rest_before = [d for i, it in enumerate(out_items) if i < adv[0] and i not in adv for d in item_dims(it)]
        rest_after = [d for i, it in enumerate(out_items) if i > adv[0] and i not in adv for d in item_dims(it)]
        if adjacent:
            result = tuple(rest_before) + tuple(broadcast) + tuple(rest_after)
        else:
            result = tuple(broadcast) + tuple(rest_before) + tuple(rest_after)
    return IndexPlan(tuple(out_items), tuple(newaxes), tuple(expanded), advanced, adjacent, result,
                     tuple(resolved))


def flatten(value):
    if isinstance(value, tuple):
        for v in value:
            yield from flatten(v)
    else:
        yield value


def _count(value):
    if value is None:
        return None
    return sum(1 for v in flatten(value) if v)
