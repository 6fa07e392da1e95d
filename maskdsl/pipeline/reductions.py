"""Reductions over the rows, computed in one streaming pass instead of loading every row.

A pipeline that is not row-wise may still stream when what stops it is an output that
*is* a reduction over the rows of a row-wise value: `total = sum(x[_ok])`. Each batch
then returns the value being reduced (`x[_ok]` of that batch) instead of the output, and
the batches' partial results are combined: sums add, minima take the minimum, a mean
keeps a sum and a count, and so on (`sum prod mean min max any all count` and
`nansum nanprod nanmean nanmin nanmax`; `std`, `var`, `argmax`, ... load every row). An
output that is the same for every batch (it does not depend on the rows) is taken from
the first batch.

`plan_stream` decides, on the typed program and without TensorFlow, whether a pipeline
streams and, if not, says why it must load every row. The *batch program* is the
pipeline's program with one line appended per streamed reduction,
`_maskdsl_part_0 = (x[_ok])`, the reduction's argument as written: appended at the
end so every position in the program (and so every error) stays where it was, which is
only correct when no name the argument reads is assigned again after the reduction (the
plan checks). Plain Python and NumPy: no TensorFlow.

>>> acc = Accumulator("sum", axes=None, keepdims=False, dtype="float32", shape=())
>>> for part in (np.array([1.5, 2.0], np.float32), np.array([], np.float32), np.array([4.0], np.float32)):
...     acc.add(part)
>>> acc.result()
array(7.5, dtype=float32)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from maskdsl.errors import Span, ValueDSLError
from maskdsl.ir.nodes import Program
from maskdsl.language import syntax
from maskdsl.language.parser import parse
from maskdsl.pipeline.rowwise import Kind, classify_values, find_row_layout

PART_PREFIX = "_maskdsl_part_"   # `__` names are reserved by the language; see _part_prefix
DECOMPOSABLE = ("sum", "prod", "mean", "min", "max", "any", "all", "count",
                "nansum", "nanprod", "nanmean", "nanmin", "nanmax")


@dataclass(frozen=True)
class StreamedReduction:
    output: str
    kind: str
    axes: tuple | None          # of the reduced value (None: all), always including the row axis
    keepdims: bool
    dtype: str                  # the output's dtype and shape
    shape: tuple
    part: str                   # the batch program's name for the reduced value
    argument: str               # its text
    span: Span | None           # the reduction, in the joined program (for errors)


@dataclass(frozen=True)
class StreamPlan:
    """How a pipeline runs on a file: streamed batch by batch, or on all rows at once (`reason`)."""

    streams: bool
    reason: str | None = None                     # why every row must be loaded
    span: Span | None = None                      # where (in the joined program)
    reductions: tuple[StreamedReduction, ...] = ()
    constants: tuple[str, ...] = ()               # outputs the same for every batch (taken from the first)
    batch_outputs: tuple[str, ...] = ()           # what each batch returns
    batch_text: str = ""                          # the batch program
    hint: str | None = None                       # how it could stream

    @property
    def decomposed(self) -> bool:
        return bool(self.reductions or self.constants)


def plan_stream(program_text: str, outputs: tuple, typed: Program, row_inputs) -> StreamPlan:
    """Whether the typed program can stream over these row inputs, and how."""
    layout = find_row_layout(typed, row_inputs)
    if layout.row_wise:
        return StreamPlan(True, batch_outputs=tuple(outputs), batch_text=program_text)
    if not any(n.attr("name") in set(row_inputs) for n in typed.inputs):
        return StreamPlan(False, layout.reason, layout.span)
    states = classify_values(typed, row_inputs)
    statements = None
    reductions, constants, streamed = [], [], []
    for name, node in typed.outputs:
        state = states[id(node)]
        if state.kind is Kind.ROWS and node.shape:
            streamed.append(name)
            continue
        if state.kind is Kind.CONSTANT:
            constants.append(name)
            continue
        if node.op != "reduce" or node.attr("kind") not in DECOMPOSABLE or len(node.args) != 1:
            if state.kind is Kind.NOT_ROW_WISE:
                hint = "a reduction over the rows streams when it is a whole output (`total = sum(...)`)" \
                    if state.reason.endswith("reduces over the rows") and node.op != "reduce" else None
                return StreamPlan(False, f"{state.reason} (needed for output '{name}')", state.span, hint=hint)
            return StreamPlan(False, f"output '{name}' does not have one entry per row", node.span)
        argument = states[id(node.args[0])]
        if argument.kind is not Kind.ROWS:
            why = argument.reason if argument.kind is Kind.NOT_ROW_WISE else "reduces a value without rows"
            return StreamPlan(False, f"{why} (needed for output '{name}')", argument.span or node.span)
        if statements is None:
            statements = parse(program_text).statements
        found = _argument_text(program_text, statements, name, node.span)
        if not found.startswith("("):
            return StreamPlan(False, f"{found} (needed for output '{name}')", node.span)
        axes = node.attr("axes")
        reductions.append(StreamedReduction(name, node.attr("kind"), tuple(axes) if axes is not None else None,
                                            bool(node.attr("keepdims")), node.dtype, tuple(node.shape),
                                            f"{_part_prefix(program_text)}{len(reductions)}", found, node.span))
    if not streamed and not reductions:
        return StreamPlan(False, layout.reason, layout.span)
    text = program_text + "".join(f"\n{r.part} = {r.argument}" for r in reductions)
    batch_outputs = tuple(streamed) + tuple(constants) + tuple(r.part for r in reductions)
    return StreamPlan(True, None, None, tuple(reductions), tuple(constants), batch_outputs, text)


def _part_prefix(program_text: str) -> str:
    """A prefix for the batch program's extra names that no name of the program starts with."""
    prefix = PART_PREFIX
    while prefix in program_text:
        prefix = "_" + prefix.lstrip("_") + "x_"
    return prefix


def _argument_text(program_text: str, statements, output: str, span: Span | None):
    """'(<argument text>)' of the reduction that is the last assignment of `output`, or why not."""
    if span is None:
        return "the reduction has no position in the program"
    assign_index = None
    for i, stmt in enumerate(statements):
        if isinstance(stmt, syntax.Assign) and stmt.name == output:
            assign_index = i
    if assign_index is None:
        return f"'{output}' is not assigned by a statement"
    stmt = statements[assign_index]
    call = stmt.value
    if stmt.index is not None or stmt.op is not None or not isinstance(call, syntax.Call) or call.span is None \
            or (call.span.start, call.span.end) != (span.start, span.end) or not call.args:
        return f"'{output}' is not a reduction of its own (`{output} = sum(...)` streams; more around it does not)"
    argument = call.args[0]
    if argument.span is None:
        return "the reduction's argument has no position in the program"
    names = {n.id for n in _walk(argument) if isinstance(n, syntax.Name)}
    for later in statements[assign_index + 1:]:
        if isinstance(later, syntax.Assign) and later.name in names:
            return f"'{later.name}' is assigned again after the reduction of '{output}'"
    return "(" + program_text[argument.span.start:argument.span.end] + ")"


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children())


# ---- combining the batches ----

_COMBINE = {"min": np.minimum, "max": np.maximum, "nanmin": np.fmin, "nanmax": np.fmax,
            "any": np.logical_or, "all": np.logical_and, "prod": np.multiply, "nanprod": np.multiply}
_EMPTY_ERROR = "zero-size array to reduction operation {kind}imum which has no identity"


@dataclass
class Accumulator:
    """The partial result of one reduction over the batches seen so far."""

    kind: str
    axes: tuple | None
    keepdims: bool
    dtype: str
    shape: tuple
    value: object = None
    low: object = None          # float sums: what `value` (the high part) leaves out
    count: object = None
    seen: bool = False
    _float: bool = field(default=False, init=False)

    def __post_init__(self):
        self._float = np.dtype(self.dtype).kind == "f"

    def add(self, part: np.ndarray) -> None:
        part = np.asarray(part)
        axes = tuple(range(part.ndim)) if self.axes is None else tuple(a % max(part.ndim, 1) for a in self.axes)
        kind = self.kind
        reduced = int(np.prod([part.shape[a] for a in axes], dtype=np.int64)) if part.ndim else 1
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if kind in ("min", "max", "nanmin", "nanmax"):
                if reduced == 0:
                    return
                value = (np.min if kind == "min" else np.max if kind == "max" else
                         np.nanmin if kind == "nanmin" else np.nanmax)(part, axis=axes, keepdims=True)
                self._combine(value, None)
                return
            if kind in ("sum", "nansum", "mean", "nanmean"):
                source = np.where(np.isnan(part), 0, part) if kind in ("nansum", "nanmean") and \
                    part.dtype.kind == "f" else part
                if self._float or kind in ("mean", "nanmean"):
                    value, low = accurate_sum(source, axes)
                    self.low = low if self.low is None else self.low + low
                else:
                    value = np.sum(source, axis=axes, keepdims=True, dtype=self.dtype)
                if kind in ("mean", "nanmean"):
                    count = (np.sum(~np.isnan(part), axis=axes, keepdims=True, dtype=np.int64)
                             if kind == "nanmean" and part.dtype.kind == "f" else np.int64(reduced))
            elif kind in ("prod", "nanprod"):
                source = np.where(np.isnan(part), 1, part) if kind == "nanprod" and part.dtype.kind == "f" else part
                value = np.prod(source, axis=axes, keepdims=True, dtype=np.float64 if self._float else self.dtype)
            elif kind == "any":
                value = np.any(part, axis=axes, keepdims=True)
            elif kind == "all":
                value = np.all(part, axis=axes, keepdims=True)
            elif kind == "count":
                value = np.count_nonzero(part, axis=axes, keepdims=True).astype(np.int64)
            else:  # pragma: no cover - DECOMPOSABLE lists what is handled
                raise ValueError(kind)
            self._combine(value, count if kind in ("mean", "nanmean") else None)

    def merge(self, other: Accumulator) -> None:
        """Take in another accumulator's batches (partial results computed elsewhere, as a Beam
        combiner's are): the same as having added its batches here."""
        if other.value is not None:
            with np.errstate(all="ignore"):
                if other.low is not None:
                    self.low = other.low if self.low is None else self.low + other.low
                self._combine(other.value, other.count)

    def _combine(self, value, count) -> None:
        kind = self.kind
        if count is not None:
            self.count = count if self.count is None else self.count + count
        if self.value is None:
            self.value = value
        elif kind in _COMBINE:
            self.value = _COMBINE[kind](self.value, value)
        elif self.low is not None:  # a float sum: the high parts' rounding error joins the low part
            self.value, error = _two_sum(self.value, value)
            self.low = self.low + np.where(np.isfinite(error), error, 0)
        else:
            self.value = self.value + value
        self.seen = True

    def result(self, span=None) -> np.ndarray:
        """The reduction over every batch, as the output's dtype and shape."""
        kind = self.kind
        if self.value is None:
            if kind in ("min", "max", "nanmin", "nanmax"):
                raise ValueDSLError(_EMPTY_ERROR.format(kind=kind.removeprefix("nan")), span)
            empty = {"sum": 0, "nansum": 0, "prod": 1, "nanprod": 1, "any": False, "all": True, "count": 0,
                     "mean": np.nan, "nanmean": np.nan}[kind]
            return np.full(self.shape, empty).astype(self.dtype)
        value = self.value
        if self.low is not None:
            with np.errstate(all="ignore"):
                value = np.where(np.isfinite(value), value + self.low, value)
        if kind in ("mean", "nanmean"):
            with np.errstate(all="ignore"):
                value = value / self.count
        with np.errstate(all="ignore"):
            value = np.asarray(value).astype(self.dtype)
        return value.reshape(self.shape)


def accurate_sum(values: np.ndarray, axes: tuple) -> tuple[np.ndarray, np.ndarray]:
    """A float sum over axes (keepdims) as float64 (high, low), by maskdsl's rule for float
    sums (docs/language.md, "What gives NumPy's bits"; rt.float_sum computes the same in
    TensorFlow): float16/float32 summed in float64; float64 (and integers, for means) by
    two levels of error-free extraction (AccSum), then a plain sum of the rest.

    >>> high, low = accurate_sum(np.array([1e16] + [1.0] * 20 + [-1e16]), (0,))
    >>> float(high[0] + low[0])
    20.0
    """
    values = np.asarray(values)
    if values.dtype.kind == "f" and values.dtype != np.float64:
        return np.sum(values, axis=axes, keepdims=True, dtype=np.float64), np.zeros((1,) * values.ndim)
    x = values.astype(np.float64)
    with np.errstate(all="ignore"):
        plain = np.sum(x, axis=axes, keepdims=True)
        if x.size == 0:
            return plain, np.zeros_like(plain)
        largest = np.max(np.abs(x), axis=axes, keepdims=True)
        n = x.size // max(plain.size, 1)
        spread = _power_of_two_above(np.float64(n + 2))
        rest, high, errors = x, np.zeros_like(plain), np.zeros_like(plain)
        for _ in range(2):
            sigma = _power_of_two_above(np.max(np.abs(rest), axis=axes, keepdims=True)) * spread
            q = (sigma + rest) - sigma
            rest = rest - q
            high, error = _two_sum(high, np.sum(q, axis=axes, keepdims=True))  # the sum of q is exact
            errors = errors + error
        low = np.sum(rest, axis=axes, keepdims=True) + errors
        usable = np.isfinite(largest) & (largest < 2.0 ** 960) & (largest > 0)
    return np.where(usable, high, plain), np.where(usable, low, 0.0)


def _power_of_two_above(v):
    """A power of two > v for finite v >= 0 (twice the power of two at or below it), as rt's."""
    bits = np.asarray(v, np.float64).view(np.int64) & np.int64(0x7FF0000000000000)
    return bits.view(np.float64) * 2


def _two_sum(a, b):
    with np.errstate(all="ignore"):
        s = a + b
        b_part = s - a
        return s, (a - (s - b_part)) + (b - b_part)


def accumulators(plan: StreamPlan) -> dict[str, Accumulator]:
    return {r.part: Accumulator(r.kind, r.axes, r.keepdims, r.dtype, r.shape) for r in plan.reductions}
