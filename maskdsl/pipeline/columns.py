"""Columns to inputs and outputs to columns: the rules every table format shares.

A table is read in `Chunk`s: a batch of rows of one shard, and per column the values
(one per row, a `[rows, width]` array, or a `RaggedColumn` of lists whose lengths are
checked here) and where they are null. `assemble` turns a chunk into the row inputs:
the columns an input names stacked in order (`columns: [a, b, c]`), or the one column
named after it holding the whole row; nulls made NaN (float inputs) or the input's
`fill`, else an error; every value checked to fit its declared dtype
(maskdsl.values.cast_exactly: no wrap-around). Errors are made by the caller's
`describe_row(chunk, row, column, message, **fields)`, which knows where a row is in
its format (a CSV line, a Parquet row). Writing, `output_columns` names the columns an
output of shape `[rows, ...]` becomes in a format of flat columns. Plain NumPy.

>>> spec = InputSpec("x", Type("float32", (None, 2)), rows=True, columns=("a", "b"))
>>> chunk = Chunk(0, "t.csv", 0, 2, {"a": (np.array([1.0, 2.0]), None),
...                                   "b": (np.array([3.0, 0.0]), np.array([False, True]))})
>>> assemble(chunk, {"x": spec}, ["x"], None)["x"]
array([[ 1.,  3.],
       [ 2., nan]], dtype=float32)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskdsl.ir.dtypes import Type  # noqa: F401  (the doctest)
from maskdsl.pipeline.inputs import InputSpec
from maskdsl.values import VALUE_LOST, cast_exactly


@dataclass(frozen=True)
class ColumnInfo:
    """What a file says about one column: the NumPy dtype of its values (None for text and
    other types), values per row (1; k for fixed-length lists; None when lists vary), the
    file's own name for its type, and its null count when the file records one."""

    name: str
    dtype: str | None
    width: int | None
    described: str
    nulls: int | None = None


@dataclass
class Chunk:
    """A batch of rows of one shard: column -> (values [rows] or [rows, width], nulls or None)."""

    shard: int
    path: str
    first_row: int                  # of this chunk within its shard (0-based)
    rows: int
    columns: dict


# ---- which columns feed which input ----

def table_columns(spec: InputSpec) -> tuple[tuple[str, ...], int]:
    """(the columns of an input, values each column holds per row)."""
    if spec.columns is not None:
        return spec.columns, 1
    return (spec.name,), spec.row_width


def column_node(spec: InputSpec, column: str):
    """The YAML node that names `column` for this input (a `columns:` entry), or the input's."""
    node = spec.node
    if node is not None and isinstance(node.value, dict) and "columns" in node.value:
        items = node.value["columns"]
        for item in (items.value if isinstance(items.value, list) else [items]):
            if item.value == column:
                return item
    return node


def float_kind(dtype: str) -> bool:
    return np.dtype(dtype).kind == "f"


class RaggedColumn:
    """A list column whose rows must be checked for their length: flat values and row lengths."""

    def __init__(self, values, value_nulls, lengths, row_nulls):
        self.values, self.value_nulls, self.lengths, self.row_nulls = values, value_nulls, lengths, row_nulls



# ---- a chunk as the row inputs ----

def assemble(chunk: Chunk, specs: dict[str, InputSpec], names, describe_row) -> dict[str, np.ndarray]:
    """The row inputs `names` of one chunk, as their declared dtypes and shapes.

    `describe_row(chunk, row, column)` locates a value for an error: a DataError built by
    the caller's format (a CSV line and caret, or the file and row)."""
    out = {}
    for name in names:
        spec = specs[name]
        columns, width = table_columns(spec)
        parts, null_parts = [], []
        for column in columns:
            values, nulls = _column_rows(chunk, column, width, spec, describe_row)
            parts.append(values.reshape(chunk.rows, width))
            null_parts.append(None if nulls is None else nulls.reshape(chunk.rows, width))
        values = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        nulls = None
        if any(n is not None for n in null_parts):
            nulls = np.concatenate([np.zeros((chunk.rows, width), bool) if n is None else n for n in null_parts],
                                   axis=1) if len(null_parts) > 1 else null_parts[0]
        values = _fill_nulls(chunk, spec, columns, width, values, nulls, describe_row)
        out[name] = _as_declared(chunk, spec, columns, width, values, describe_row).reshape(
            (chunk.rows, *spec.type.shape[1:]))
    return out


def _column_rows(chunk: Chunk, column: str, width: int, spec: InputSpec, describe_row):
    values, nulls = chunk.columns[column]
    if isinstance(values, RaggedColumn):
        ragged = values
        lengths = ragged.lengths
        row_nulls = ragged.row_nulls if ragged.row_nulls is not None else np.zeros(chunk.rows, bool)
        wrong = np.flatnonzero((lengths != width) & ~row_nulls)
        if len(wrong):
            row = int(wrong[0])
            raise describe_row(chunk, row, column,
                               f"column '{column}' holds {int(lengths[row])} value"
                               f"{'s' if lengths[row] != 1 else ''} in this row, but input '{spec.name}' "
                               f"({spec.spec_text}) takes {width} per row")
        full = np.zeros((chunk.rows, width), ragged.values.dtype)
        full_nulls = np.zeros((chunk.rows, width), bool)
        valid = ~row_nulls
        full[valid] = ragged.values.reshape(-1, width)
        if ragged.value_nulls is not None:
            full_nulls[valid] = ragged.value_nulls.reshape(-1, width)
        full_nulls[row_nulls] = True
        return full, (full_nulls if full_nulls.any() else None)
    if width != 1:
        raise describe_row(chunk, 0, column, f"column '{column}' holds one value per row, but input '{spec.name}' "
                                             f"({spec.spec_text}) takes {width}")
    return values, nulls


def _fill_nulls(chunk, spec: InputSpec, columns, width, values, nulls, describe_row):
    if nulls is None or not nulls.any():
        return values
    fill = spec.fill
    if fill is None and not float_kind(spec.type.dtype):
        row, position = (int(i) for i in np.argwhere(nulls)[0])
        column = columns[position] if len(columns) > 1 else columns[0]
        raise describe_row(chunk, row, column,
                           f"column '{column}' is null (empty) in this row, and input '{spec.name}' is "
                           f"{spec.type.dtype}, which has no NaN",
                           hint=f"give the value a null becomes: {spec.name}: {{dtype: {spec.spec_text}, "
                                f"fill: 0}}")
    if values.dtype.kind != "f" and fill is None:
        values = values.astype(np.float64)
    values = np.array(values, copy=True)
    values[nulls] = np.nan if fill is None else fill
    return values


def _as_declared(chunk, spec: InputSpec, columns, width, values, describe_row) -> np.ndarray:
    want = spec.type.dtype
    if values.dtype.name == want:
        return np.ascontiguousarray(values)
    if want == "bool" and values.dtype.kind in "iu":   # TFRecord's int64 0/1
        bad = np.argwhere((values != 0) & (values != 1))
        if len(bad):
            row, position = (int(i) for i in bad[0])
            raise describe_row(chunk, row, columns[position if len(columns) > 1 else 0],
                               f"holds {values[row, position]!r}, which is not 0 or 1 for the bool input "
                               f"'{spec.name}'", code=VALUE_LOST)
        return values.astype(bool)
    out, lost = cast_exactly(values, want)
    if lost is not None:
        changed = np.argwhere(out.astype(values.dtype) != values) if values.dtype.kind != "f" else \
            np.argwhere(np.isfinite(values) & ~np.isfinite(out))
        row, position = (int(i) for i in changed[0]) if len(changed) else (0, 0)
        column = columns[position if len(columns) > 1 else 0]
        raise describe_row(chunk, row, column,
                           f"column '{column}' holds {lost!r}, which {want} cannot represent (input "
                           f"{spec.name}: {spec.spec_text})", code=VALUE_LOST)
    return np.ascontiguousarray(out)


# ---- writing ----

def output_columns(name: str, array: np.ndarray, flat: bool) -> list[tuple[str, np.ndarray]]:
    """The columns an output of shape [rows, ...] becomes: itself, or with `flat` (CSV) one column
    per trailing position, `name_0`, `name_1`, ... (`name_1_2` for rank 3), row-major."""
    if array.ndim == 1 or not flat:
        return [(name, array)]
    tail = array.shape[1:]
    flat_values = array.reshape(array.shape[0], int(np.prod(tail, dtype=np.int64)))
    names = ["_".join([name, *map(str, index)]) for index in np.ndindex(*tail)]
    return [(n, flat_values[:, i]) for i, n in enumerate(names)]
