"""NumPy's indexing rules as a plan: which dims each index item consumes, and the result shape.

Shared by type inference (shapes and compile-time checks), strategy selection and the
runtime. Item kinds: m (boolean mask), z (0-d boolean), i (integer), a (integer array),
s (slice), f (full slice), n (new axis). A plan works on the array after new axes are
inserted, so None is just a full slice over an inserted axis of size 1.

>>> p = plan_index((5, 3), ("x", "f"), [((5,), "bool", None)])
>>> p.result_shape, [it.kind for it in p.items], p.advanced
((None, 3), ['m', 'f'], True)
>>> plan_index((4, 5, 6), ("i", "f", "a"), [((), "int64", 0), ((2,), "int64", (1, 2))]).result_shape
(2, 5)
"""

from __future__ import annotations

from dataclasses import dataclass

from maskdsl.ir.dtypes import broadcast_shapes, dtype_kind
from maskdsl.errors import DTypeError, IndexOutOfRangeError, ShapeError


@dataclass(frozen=True)
class Item:
    kind: str                # m z i a s f n
    operands: tuple          # operand positions (for s: lower, upper, step; None when absent)
    dims: tuple[int, ...]    # dims of the expanded array this item consumes


@dataclass(frozen=True)
class IndexPlan:
    items: tuple[Item, ...]
    newaxes: tuple[int, ...]          # positions in the expanded array that are inserted axes
    expanded_shape: tuple
    advanced: bool
    adjacent: bool                    # advanced items form one contiguous run
    result_shape: tuple
    resolved: tuple[str, ...]         # the pattern with "x" resolved to m/z/i/a

    @property
    def only_masks(self) -> bool:
        """One mask (any rank), preceded and followed only by full slices."""
        kinds = [it.kind for it in self.items]
        return kinds.count("m") == 1 and set(kinds) <= {"m", "f"} and not self.newaxes

    @property
    def mask_item(self) -> Item | None:
        return next((it for it in self.items if it.kind == "m"), None)

    @property
    def basic(self) -> bool:
        return not self.advanced

    @property
    def trailing_full(self) -> int:
        n = 0
        for it in reversed(self.items):
            if it.kind != "f":
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
        if p in ("x", "m", "z", "i", "a"):  # resolved again from the operand type
            op_shape, dtype, value = operands[k]
            kind = dtype_kind(dtype)
            if kind == "b":
                p = "z" if op_shape == () else "m"
            elif kind in "iu":
                p = "i" if op_shape == () else "a"
            else:
                raise DTypeError("only integers, slices (':'), ellipsis ('...'), None and integer or "
                                 f"boolean arrays are valid indices; got {dtype}", spans[k])
            items.append([p, (k,)])
            k += 1
        elif p.startswith("s"):
            ops = []
            for flag in p[1:]:
                if flag == "1":
                    op_shape, dtype, value = operands[k]
                    if op_shape != () or dtype_kind(dtype) not in "iub":
                        raise DTypeError(f"slice bounds must be integer scalars, got {dtype}{list(op_shape) if op_shape else ''}",
                                         spans[k])
                    ops.append(k)
                    k += 1
                else:
                    ops.append(None)
            if ops[2] is not None and operands[ops[2]][2] == 0:
                raise ShapeError("slice step cannot be zero", spans[ops[2]])
            items.append(["s", tuple(ops)] if any(o is not None for o in ops) else ["f", ()])
        else:
            items.append([p, ()])
        resolved.append(items[-1][0] if p.startswith("s") and items[-1][0] == "f" else p)

    rank = len(shape)
    consumed = sum(len(operands[it[1][0]][0]) if it[0] == "m" else 1 if it[0] in "iasf" else 0 for it in items)
    if consumed > rank:
        raise ShapeError(f"too many indices for array: array is {rank}-dimensional, but {consumed} were indexed",
                         spans[0] if spans else None)
    fill = [["f", ()] for _ in range(rank - consumed)]
    if any(it[0] == "e" for it in items):
        at = next(i for i, it in enumerate(items) if it[0] == "e")
        items[at:at + 1] = fill
    else:
        items.extend(fill)

    # walk the items, assigning dims of the expanded array
    out_items, expanded, newaxes, xdim = [], [], [], 0
    for kind, ops in items:
        pos = len(expanded)
        if kind in ("n", "z"):
            expanded.append(1)
            newaxes.append(pos)
            out_items.append(Item(kind, ops, (pos,)))
            continue
        width = len(operands[ops[0]][0]) if kind == "m" else 1
        dims = shape[xdim:xdim + width]
        if kind == "m":
            mshape = operands[ops[0]][0]
            for axis, (d, md) in enumerate(zip(dims, mshape)):
                if d is not None and md is not None and d != md:
                    raise ShapeError(f"boolean index did not match indexed array along axis {xdim + axis}; "
                                     f"size of axis is {d} but size of corresponding boolean axis is {md}",
                                     spans[ops[0]])
        if kind == "i":
            value = operands[ops[0]][2]
            if value is not None and dims[0] is not None and not -dims[0] <= value < dims[0]:
                raise IndexOutOfRangeError(f"index {value} is out of bounds for axis {xdim} with size {dims[0]}",
                                           spans[ops[0]])
        if kind == "a":
            value = operands[ops[0]][2]
            if value is not None and dims[0] is not None:
                for v in flatten(value):
                    if not -dims[0] <= v < dims[0]:
                        raise IndexOutOfRangeError(f"index {v} is out of bounds for axis {xdim} with size {dims[0]}",
                                                   spans[ops[0]])
        expanded.extend(dims)
        out_items.append(Item(kind, ops, tuple(range(pos, pos + width))))
        xdim += width

    advanced_kinds = {"m", "z", "a"}
    advanced = any(it.kind in advanced_kinds for it in out_items)
    adv = [i for i, it in enumerate(out_items) if it.kind in advanced_kinds or (advanced and it.kind == "i")]
    adjacent = bool(adv) and adv == list(range(adv[0], adv[-1] + 1))

    def item_dims(it):
        if it.kind in ("f", "n"):
            return (expanded[it.dims[0]],)
        if it.kind == "s":
            vals = [None if o is None else _UNKNOWN if operands[o][2] is None else operands[o][2]
                    for o in it.operands]
            return (_slice_length(expanded[it.dims[0]], *vals),)
        return ()

    if not advanced:
        result = tuple(d for it in out_items for d in item_dims(it))
    else:
        index_shapes = []
        for it in out_items:
            if it.kind in ("m", "z"):
                value = operands[it.operands[0]][2]
                index_shapes.append((_count(value),))
            elif it.kind == "a":
                index_shapes.append(operands[it.operands[0]][0])
            elif it.kind == "i":
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
