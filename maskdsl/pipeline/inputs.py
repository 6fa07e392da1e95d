"""A pipeline's inputs: their types, which ones hold the rows, and which columns feed them.

An input is declared with a type spec, or with a mapping when it is read from columns
of a table:

    inputs:
      x: {dtype: "float32[rows, 3]", columns: [a, b, c], fill: 0.0}
      idx: int64[None]
      limit: float32

A first dimension named `rows` marks a *row input*: one entry per row of the data, cut
into batches when the pipeline streams, read from a table's columns. When no input
says `rows`, every input whose first dimension is `None` is a row input (the shorthand
of pipelines written before `rows` existed); as soon as one input says `rows`, exactly
those that say it are row inputs, and `None` is an ordinary dimension of any size. The
same rule holds for `maskdsl run`, `Pipeline(...)` and `map_fn`.

`columns` lists the table columns whose values, one per row, make each row of the
input (row-major, so `float32[rows, 2, 2]` takes four); without it, the column named
after the input holds the whole row (a list column for a 2-D input). `fill` is the
value a null becomes; without it a null is NaN in a float input and an error in an
integer or bool input. Plain Python: no TensorFlow.

>>> spec_type("float32[rows, 3]")
(Type(dtype='float32', shape=(None, 3), weak=False), True)
>>> spec_type("int64[None]")
(Type(dtype='int64', shape=(None,), weak=False), False)
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

import numpy as np

from maskdsl.errors import ConfigError, MaskDSLError
from maskdsl.ir.dtypes import Type
from maskdsl.pipeline.constants import parse_number
from maskdsl.pipeline.yaml_source import Document, YamlNode, describe
from maskdsl.values import cast_exactly

ROWS = "rows"
INPUT_KEYS = ("dtype", "columns", "fill")
_SPEC = re.compile(r"^\s*([A-Za-z0-9_]+)\s*\[(.*)\]\s*$")


@dataclass(frozen=True)
class InputSpec:
    """One declared input. `type` has None for the rows dimension; `rows` says whether the
    spec names it; `columns` and `fill` as in the module docstring."""

    name: str
    type: Type
    rows: bool = False
    columns: tuple[str, ...] | None = None
    fill: int | float | bool | None = None
    node: YamlNode | None = None

    @property
    def spec_text(self) -> str:
        """The type spec as written back (`rows` kept)."""
        text = str(self.type)
        if self.rows:
            text = text.replace("[None", f"[{ROWS}", 1)
        return text

    def to_data(self):
        """What to_dict() stores: the spec text, or a mapping when columns or fill are given."""
        if self.columns is None and self.fill is None:
            return self.spec_text
        out = {"dtype": self.spec_text}
        if self.columns is not None:
            out["columns"] = list(self.columns)
        if self.fill is not None:
            out["fill"] = self.fill
        return out

    @property
    def row_width(self) -> int:
        """Values per row (the product of the dimensions after the first); 1 for a 1-D input."""
        return int(np.prod(self.type.shape[1:], dtype=np.int64)) if self.type.shape else 1


def spec_type(spec: str) -> tuple[Type, bool]:
    """(Type, whether the first dimension is `rows`) of a type spec; `rows` becomes None."""
    m = _SPEC.match(spec)
    if m is None:
        return Type.parse(spec), False
    dims = [d.strip() for d in m.group(2).split(",")]
    rows = bool(dims) and dims[0] == ROWS
    if ROWS in dims[1:]:
        raise ConfigError(f"'{ROWS}' can only be the first dimension (in {spec!r}): it names the rows of the data")
    if rows:
        dims[0] = "None"
    rewritten = f"{m.group(1)}[{', '.join(dims)}]"
    try:
        return Type.parse(rewritten), rows
    except MaskDSLError as e:   # say it about the spec as written
        raise ConfigError(e.message.replace(repr(rewritten), repr(spec))) from None


def read_input(doc: Document, name: str, node: YamlNode) -> InputSpec:
    """The InputSpec of `name: <node>` (a spec text or a mapping with dtype/columns/fill)."""
    spec_node, columns, fill = node, None, None
    if isinstance(node.value, dict):
        unknown = [k for k in node.value if k not in INPUT_KEYS]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(str(key), INPUT_KEYS, n=1)
            raise doc.error(f"input '{name}': unknown key {key!r}; an input mapping has {', '.join(INPUT_KEYS)}",
                            node.value[key], at_key=True, name=name, code="unknown-key",
                            hint=f"did you mean '{close[0]}'?" if close else None)
        if "dtype" not in node.value:
            raise doc.error(f"input '{name}' needs a 'dtype' (a type spec such as 'float32[rows, 3]')", node,
                            name=name, code="missing-key")
        spec_node = node.value["dtype"]
    spec = spec_node.value
    if isinstance(spec, Type):
        spec = str(spec)
    if not isinstance(spec, str):
        raise doc.error(f"the type of input '{name}' must be a spec like 'float32[rows, 3]', "
                        f"but it is {describe(spec_node)}", spec_node, name=name)
    try:
        type_, rows = spec_type(spec)
    except MaskDSLError as e:
        raise doc.error(f"input '{name}': {e.message}", spec_node, name=name) from None
    if isinstance(node.value, dict):
        if "columns" in node.value:
            columns = _read_columns(doc, name, node.value["columns"], type_, rows)
        if "fill" in node.value:
            fill = _read_fill(doc, name, node.value["fill"], type_)
    return InputSpec(name, type_, rows, columns, fill, node)


def _read_columns(doc: Document, name: str, node: YamlNode, type_: Type, rows: bool) -> tuple[str, ...]:
    items = node.value if isinstance(node.value, list) else [node]
    if not rows:
        raise doc.error(f"input '{name}' is read from columns, so it has one entry per row: its first dimension "
                        f"must be '{ROWS}'", node, at_key=True, name=name,
                        hint=f"write e.g. '{type_.dtype}[{ROWS}{''.join(f', {d}' for d in type_.shape[1:])}]'")
    if any(d is None for d in type_.shape[1:]):
        raise doc.error(f"input '{name}' is read from columns, so its dimensions after '{ROWS}' must be fixed "
                        f"numbers, not None", node, at_key=True, name=name)
    names = []
    for item in items:
        if not isinstance(item.value, str) or not item.value:
            raise doc.error(f"a column name must be text, but it is {describe(item)}", item, name=name,
                            hint="quote the name")
        if item.value in names:
            raise doc.error(f"column '{item.value}' is listed twice for input '{name}'", item, name=name)
        names.append(item.value)
    width = int(np.prod(type_.shape[1:], dtype=np.int64))
    if len(names) != width:
        shape = ", ".join(str(d) for d in type_.shape[1:])
        shape_text = f" ([{shape}])" if shape else ""
        columns = f"{len(names)} column{'s are' if len(names) != 1 else ' is'}"
        raise doc.error(f"input '{name}' has {width} value{'s' if width != 1 else ''} per row{shape_text}, "
                        f"but {columns} listed", node, name=name)
    return tuple(names)


def _read_fill(doc: Document, name: str, node: YamlNode, type_: Type):
    where = f"the fill of input '{name}'"
    if type_.dtype == "bool":
        if not isinstance(node.value, bool):
            raise doc.error(f"{where} must be true or false for a bool input, but it is {describe(node)}", node,
                            name=name)
        return node.value
    value = parse_number(doc, node, where)
    kind = np.dtype(type_.dtype).kind
    if kind in "iu" and isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise doc.error(f"{where} must be a whole number for {type_.dtype}, not {node.raw or value}", node,
                            name=name)
        value = int(value)
    if kind in "iu":
        info = np.iinfo(type_.dtype)
        if not info.min <= value <= info.max:
            raise doc.error(f"{where} {value} does not fit in {type_.dtype} ({info.min} to {info.max})", node,
                            name=name)
    else:
        _, lost = cast_exactly(np.asarray(value, np.float64), type_.dtype)
        if lost is not None:
            raise doc.error(f"{where} {value} does not fit in {type_.dtype}", node, name=name)
    return value


def row_inputs(specs: dict[str, InputSpec]) -> tuple[str, ...]:
    """The row inputs: those declared with `rows`, or, when none is, every input whose first
    dimension is None (see the module docstring)."""
    if any(s.rows for s in specs.values()):
        return tuple(n for n, s in specs.items() if s.rows)
    return tuple(n for n, s in specs.items() if s.type.shape and s.type.shape[0] is None)
