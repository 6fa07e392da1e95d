"""Row-wise programs: those that may run on a batch of rows at a time.

A program is *row-wise* for a set of row inputs (arrays whose first dimension is the
row axis) when running it on consecutive batches of rows and concatenating each
output's batches along axis 0 gives exactly the output of one run on all the rows.
Element-wise arithmetic, masks computed from the same rows, reductions along other
axes and selections `x[m]` by such masks are row-wise; anything that looks across rows
(a reduction over axis 0, `shape(x)`, picking rows by position) is not, and neither is
an output that does not depend on the rows at all.

`find_row_layout` proves it on the typed IR: every value is *constant* (the same for
every batch), a *row value* with a named row space (axis 0 runs over the input rows,
or over the elements a particular mask selects from them), or *not row-wise* (with
the reason and the span of the first such value). The analysis is conservative: what
it cannot prove is reported as not row-wise, which only means the program is run on
all rows at once.

>>> from maskdsl.language import prepare
>>> from maskdsl.passes import infer_types
>>> def layout(src, **types):
...     return find_row_layout(infer_types(prepare(src, **types)), row_inputs={"x"})
>>> layout("x[isnan(x)] = 0; rows = x[all(x > 0, axis=1)]", x="float32[None, 3]").row_wise
True
>>> layout("y = x - mean(x)", x="float32[None]").reason
"`mean(x)` reduces over the rows (needed for output 'y')"
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from maskdsl.errors import Span
from maskdsl.ir.indexing import plan_index
from maskdsl.ir.nodes import Node, Program
from maskdsl.ir.ops import OPS

CONSTANT = ("constant",)
ROWS = ("rows",)


@dataclass(frozen=True)
class RowLayout:
    row_wise: bool
    reason: str | None = None      # why not, for messages
    span: Span | None = None       # where in the program it stops being row-wise


class Kind(Enum):
    """What a value is, batch by batch."""

    CONSTANT = "constant"          # the same for every batch
    ROWS = "rows"                  # axis 0 runs over rows (see _State.space)
    NOT_ROW_WISE = "not row-wise"  # cannot be computed batch by batch (see _State.reason)


@dataclass(frozen=True)
class _State:
    kind: Kind
    space: tuple = CONSTANT         # for ROWS: which rows axis 0 runs over
    reason: str | None = None
    span: Span | None = None


_CONSTANT = _State(Kind.CONSTANT)


def _rows(space) -> _State:
    return _State(Kind.ROWS, space)


def find_row_layout(program: Program, row_inputs) -> RowLayout:
    """Whether the typed program is row-wise for these row inputs (see the module docstring)."""
    if not any(n.attr("name") in set(row_inputs) for n in program.inputs):
        return RowLayout(False, "no input has rows (a first dimension of None)")
    states = classify_outputs(program, row_inputs)
    for name, node in program.outputs:
        state = states[name]
        if state.kind is Kind.NOT_ROW_WISE:
            return RowLayout(False, f"{state.reason} (needed for output '{name}')", state.span)
        if state.kind is Kind.CONSTANT or not node.shape:
            return RowLayout(False, f"output '{name}' does not have one entry per row", node.span)
    return RowLayout(True)


def classify_outputs(program: Program, row_inputs, reductions_known: bool = False) -> dict[str, _State]:
    """Output name -> what it is batch by batch (Kind, and for ROWS which rows axis 0 runs over).

    With `reductions_known`, a reduction over the rows (and `shape`/`size` of row data) counts
    as a constant, as if it had been computed over all rows beforehand: what is left says
    which outputs have one entry per input row whatever the reductions are.
    """
    states = classify_values(program, row_inputs, reductions_known)
    return {name: states[id(node)] for name, node in program.outputs}


def classify_values(program: Program, row_inputs, reductions_known: bool = False) -> dict[int, _State]:
    """id(node) -> its _State, for every value of the program (classify_outputs)."""
    row_inputs = set(row_inputs)
    source = program.source or ""
    states: dict[int, _State] = {}
    for node in program.nodes():
        states[id(node)] = _classify(node, [states[id(a)] for a in node.args], row_inputs, source,
                                     reductions_known)
    return states


def output_alignment(program: Program, row_inputs) -> dict[str, str]:
    """Output name -> "rows" (one entry per input row, in order), "selected" (one entry per row or
    element a mask selects) or "other" (anything else: reductions, fixed-size arrays, ...).

    >>> from maskdsl.language import prepare
    >>> from maskdsl.passes import infer_types
    >>> program = infer_types(prepare("y = x - mean(x); s = x[x > 0]; t = sum(x)", x="float32[None]"))
    >>> output_alignment(program, {"x"})
    {'y': 'rows', 's': 'selected', 't': 'other'}
    """
    out = {}
    states = classify_outputs(program, row_inputs, reductions_known=True)
    shapes = dict(program.outputs)
    for name, state in states.items():
        if state.kind is not Kind.ROWS or not shapes[name].shape:
            out[name] = "other"
        else:
            out[name] = "rows" if state.space == ROWS else "selected"
    return out


def _text(node: Node, source: str) -> str:
    span = node.span
    if span is None or not source:
        return node.op
    text = source[span.start:span.end]
    return "`" + (text if len(text) <= 40 else text[:37] + "...") + "`"


def _classify(node: Node, args: list[_State], row_inputs: set, source: str, reductions_known: bool = False) -> _State:
    op = node.op
    if op == "input":
        name = node.attr("name")
        is_rows = name in row_inputs and node.shape and node.shape[0] is None
        return _rows(ROWS) if is_rows else _CONSTANT
    for state in args:
        if state.kind is Kind.NOT_ROW_WISE:
            return state
    if all(state.kind is Kind.CONSTANT for state in args):
        return _CONSTANT

    def no(reason: str) -> _State:
        return _State(Kind.NOT_ROW_WISE, reason=f"{_text(node, source)} {reason}", span=node.span)

    info = OPS.get(op)
    if info is not None and info.kind == "elementwise":
        return _elementwise(node, args, no)
    if op == "reduce":
        axes = node.attr("axes")
        if axes is None:
            axis = node.attr("axis")
            axes = tuple(range(len(node.args[0].shape))) if axis is None else axis
        if 0 in axes or any(a < 0 and len(node.args[0].shape) + a == 0 for a in axes):
            return _CONSTANT if reductions_known and args[0].kind is Kind.ROWS else no("reduces over the rows")
        return args[0]
    if op in ("select", "update"):
        return _index(node, args, no)
    if op in ("shape", "size"):
        return _CONSTANT if reductions_known else no("depends on the number of rows")
    return no("mixes the rows in a way that cannot be split into batches")


def _elementwise(node: Node, args: list[_State], no) -> _State:
    rank = len(node.shape)
    spaces = {state.space for state in args if state.kind is Kind.ROWS}
    if len(spaces) > 1:
        return no("combines arrays whose rows were selected differently")
    for arg, state in zip(node.args, args):
        if state.kind is Kind.ROWS and len(arg.shape) != rank:
            return no("broadcasts an array with rows against one of higher rank (its rows would not line up)")
        if state.kind is Kind.CONSTANT and rank and len(arg.shape) == rank and arg.shape[0] != 1:
            return no("combines the rows with a fixed-size array along the row axis")
    return _rows(spaces.pop())


def _index(node: Node, args: list[_State], no) -> _State:
    x, x_state = node.args[0], args[0]
    operands = node.args[1:-1] if node.op == "update" else node.args[1:]
    operand_states = args[1:-1] if node.op == "update" else args[1:]
    if x_state.kind is not Kind.ROWS:
        return no("indexes a fixed array with values that have rows")
    infos = [(a.shape, a.dtype, a.attr("value") if a.op == "const" else None) for a in operands]
    plan = plan_index(x.shape, node.attr("index") or (), infos)
    items = list(plan.items)
    first = next((i for i, it in enumerate(items) if it.kind not in ("n", "z")), None)
    if first is None or first > 0:
        return no("inserts an axis before the rows")
    row_item = items[first]
    others = [k for it in items[first + 1:] for k in it.operands if k is not None]
    if any(operand_states[k].kind is not Kind.CONSTANT for k in others):
        return no("indexes a non-row axis with values that have rows")
    if row_item.kind == "f":
        if plan.advanced and not plan.adjacent:
            return no("moves the row axis (separated advanced indices go first, as in NumPy)")
        space = x_state.space
    elif row_item.kind == "m":
        mask_state = operand_states[row_item.operands[0]]
        if mask_state.kind is not Kind.ROWS or mask_state.space != x_state.space:
            return no("selects with a mask that is not computed from the same rows")
        if not plan.only_masks:
            return no("combines a mask over the rows with other indices")
        space = ("selected", operands[row_item.operands[0]])
    else:
        return no("picks rows by position (an integer, slice or index array on the row axis)")
    if node.op == "select":
        return _rows(space)
    value, value_state = node.args[-1], args[-1]
    selected_rank = len(plan.result_shape)
    if value_state.kind is Kind.ROWS and (value_state.space != space or len(value.shape) != selected_rank):
        return no("assigns values whose rows do not line up with the selected rows")
    if (value_state.kind is Kind.CONSTANT and selected_rank and len(value.shape) == selected_rank
            and value.shape[0] != 1):
        return no("assigns a fixed-size array to a number of rows that depends on the data")
    return x_state
