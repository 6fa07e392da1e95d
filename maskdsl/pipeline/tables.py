"""Tables in and out: a file's columns, read batch by batch, as a pipeline's row inputs.

Parquet and CSV go through pyarrow: Parquet is read with `ParquetFile.iter_batches`,
which decodes one row group at a time, so memory holds a row group and a batch however
large the file; CSV with pyarrow's streaming reader, in blocks, with each needed column
converted straight to its input's declared type (`ConvertOptions.column_types`) and
every other column skipped. TFRecord files are read through tf.data (maskdsl.pipeline.
tfrecord) and meet the same rules here.

Each batch is a `Chunk`: per column, the values (one per row, or `width` per row) and
where they are null. `assemble` turns a chunk into the row inputs: columns stacked in the
order `columns:` lists them, nulls made NaN (floats) or the input's `fill`, and every
value checked to fit its declared dtype (maskdsl.values: no wrap-around). A problem with
a value is a DataError naming the file, the column and the row, and for CSV pointing at
the line and field with a caret. Problems the file's schema shows (a missing column, a
text column for a float input) are found before any row is read (`check_columns`) and
point at the input's declaration in the pipeline file.

Writing: `ParquetSink` and `CsvSink` append batches of columns to one file (a row-aligned
output of shape [rows, k] is a fixed-size list column in Parquet, `name_0 ... name_k-1`
in CSV). No TensorFlow.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from maskdsl.errors import DataError, MaskDSLError, Span
from maskdsl.ir.dtypes import DTYPES
from maskdsl.pipeline.data_files import reason
from maskdsl.pipeline.formats import CsvOptions, DataSource
from maskdsl.pipeline.inputs import InputSpec
from maskdsl.values import UNSUPPORTED_DTYPE, VALUE_LOST, cast_exactly, dtype_misfit

CSV_BLOCK_BYTES = 1 << 20     # pyarrow reads CSV in blocks of this many bytes


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


def _float_kind(dtype: str) -> bool:
    return np.dtype(dtype).kind == "f"


# ---- schemas ----

def arrow_column_info(name: str, type_, nulls: int | None = None) -> ColumnInfo:
    import pyarrow as pa
    width = 1
    inner = type_
    while pa.types.is_list(inner) or pa.types.is_large_list(inner) or pa.types.is_fixed_size_list(inner):
        if pa.types.is_fixed_size_list(inner) and width is not None:
            width *= inner.list_size
        else:
            width = None
        inner = inner.value_type
    dtype = None
    if pa.types.is_integer(inner) or pa.types.is_floating(inner) or pa.types.is_boolean(inner):
        dtype = np.dtype(inner.to_pandas_dtype()).name
    return ColumnInfo(name, dtype, width, str(type_), nulls)


def parquet_schema(path: str) -> dict[str, ColumnInfo]:
    import pyarrow.parquet as pq
    try:
        file = pq.ParquetFile(path)
    except Exception as e:
        raise DataError(f"cannot read {path} as a Parquet file: {reason(e)}", filename=path) from None
    metadata = file.metadata
    nulls: dict[str, int] = {}
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for i in range(row_group.num_columns):
            column = row_group.column(i)
            stats = column.statistics
            top = column.path_in_schema.split(".")[0]
            if stats is not None and stats.has_null_count:
                nulls[top] = nulls.get(top, 0) + stats.null_count
    schema = file.schema_arrow
    return {field.name: arrow_column_info(field.name, field.type, nulls.get(field.name)) for field in schema}


def parquet_rows(paths) -> int:
    import pyarrow.parquet as pq
    total = 0
    for path in paths:
        try:
            total += pq.ParquetFile(path).metadata.num_rows
        except Exception as e:
            raise DataError(f"cannot read {path} as a Parquet file: {reason(e)}", filename=path) from None
    return total


def csv_header(path: str, options: CsvOptions) -> list[str]:
    """The column names of a CSV file (its header, or csv.column_names / f0, f1, ...)."""
    try:
        reader = _open_csv(path, options, None, CSV_BLOCK_BYTES)
    except MaskDSLError:
        raise
    return list(reader.schema.names)


def csv_schema(path: str, options: CsvOptions) -> dict[str, ColumnInfo]:
    return {name: ColumnInfo(name, None, 1, "text") for name in csv_header(path, options)}


# ---- checking the columns before reading ----

def check_columns(source: DataSource, schema: dict[str, ColumnInfo], specs: dict[str, InputSpec],
                  names: tuple, config, problems) -> None:
    """Each input in `names` against the first shard's columns: present, a type that converts to
    the declared dtype, the right number of values per row, no nulls the input cannot take.
    Each problem is collected, at the input's declaration in the pipeline file."""
    shown = source.shards[0] if not source.sharded else f"{source.shards[0]} (the first shard of {source.path})"
    for name in names:
        spec = specs[name]
        columns, width = table_columns(spec)
        for column in columns:
            with problems.collecting():
                _check_column(source, schema, spec, column, width, shown, config)


def _check_column(source, schema, spec: InputSpec, column: str, width: int, shown: str, config) -> None:
    node = column_node(spec, column)
    want = spec.type

    def error(message, hint=None, code=None):
        return config.error(message, node, hint=hint, cls=DataError, name=spec.name, code=code)

    if column not in schema:
        close = difflib.get_close_matches(column, list(schema), n=1)
        hint = f"did you mean '{close[0]}'?" if close else None
        if spec.columns is None and width > 1:
            hint = (hint + "; or l" if hint else "l") + f"ist the {width} columns that make a row: " \
                f"{spec.name}: {{dtype: {spec.spec_text}, columns: [...]}}"
        raise error(f"{shown} has no column '{column}' for input '{spec.name}' (it has: "
                    f"{', '.join(list(schema)[:12])}{', ...' if len(schema) > 12 else ''})", hint=hint,
                    code="missing-column")
    info = schema[column]
    if source.format == "csv":
        if width != 1:
            raise error(f"input '{spec.name}' ({spec.spec_text}) takes {width} values per row, but a CSV column "
                        f"holds one", hint=f"list the {width} columns that make a row: columns: [...]")
        return
    if info.dtype is None or info.dtype not in DTYPES:
        raise error(f"column '{column}' of {shown} holds {info.described}, which input '{spec.name}' "
                    f"({spec.spec_text}) cannot take", code=UNSUPPORTED_DTYPE)
    if not _converts(info.dtype, want.dtype, source.format):
        raise error(f"column '{column}' of {shown} is {info.described}, which does not convert to "
                    f"{want.dtype} (input {spec.name}: {spec.spec_text}; NumPy's same_kind rule)",
                    hint=f"declare {spec.name} as {info.dtype} or convert it in a step", code="dtype-kind")
    if info.width is not None and info.width != width:
        raise error(f"column '{column}' of {shown} holds {info.width} value{'s' if info.width != 1 else ''} per "
                    f"row ({info.described}), but input '{spec.name}' ({spec.spec_text}) takes {width}",
                    code="dimension")
    if info.nulls and spec.fill is None and not _float_kind(want.dtype):
        raise error(f"column '{column}' of {shown} holds {info.nulls:,} null{'s' if info.nulls != 1 else ''}, "
                    f"and input '{spec.name}' is {want.dtype}, which has no NaN",
                    hint=f"give the value a null becomes: {spec.name}: {{dtype: {spec.spec_text}, fill: 0}}",
                    code="null")


def _converts(have: str, want: str, format: str) -> bool:
    from maskdsl.ir.dtypes import Type
    if format == "tfrecord" and want == "bool" and have == "int64":
        return True    # TFRecord has no bool: 0/1 in an int64_list (each value is checked)
    return dtype_misfit(have, Type(want, ())) is None


# ---- reading ----

def iter_parquet(source: DataSource, columns: list[str], batch_rows: int):
    import pyarrow.parquet as pq
    for index, path in enumerate(source.shards):
        try:
            file = pq.ParquetFile(path)
        except Exception as e:
            raise DataError(f"cannot read {path} as a Parquet file: {reason(e)}", filename=path) from None
        present = set(file.schema_arrow.names)
        missing = [c for c in columns if c not in present]
        if missing:
            raise DataError(f"{path} has no column '{missing[0]}' (the shards of {source.path} differ)",
                            filename=path, name=missing[0])
        first = 0
        batches = file.iter_batches(batch_size=batch_rows, columns=columns, use_threads=True)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except Exception as e:
                raise DataError(f"cannot read {path} after row {first:,}: {reason(e)} (the file is truncated or "
                                f"corrupt); nothing was written", filename=path) from None
            yield Chunk(index, path, first, batch.num_rows,
                        {name: arrow_values(batch.column(name)) for name in columns})
            first += batch.num_rows


def _open_csv(path: str, options: CsvOptions, types: dict | None, block: int, columns=None):
    import pyarrow as pa
    import pyarrow.csv as pcsv
    read = pcsv.ReadOptions(block_size=block, autogenerate_column_names=not options.header and
                            not options.column_names,
                            column_names=list(options.column_names) if options.column_names else None,
                            skip_rows=1 if options.header and options.column_names else 0)
    parse = pcsv.ParseOptions(delimiter=options.delimiter_for(path), quote_char=options.quote or False)
    convert = pcsv.ConvertOptions(column_types={k: _arrow_type(v) for k, v in (types or {}).items()},
                                  include_columns=list(columns) if columns else None,
                                  strings_can_be_null=True, quoted_strings_can_be_null=True,
                                  **({"null_values": list(options.nulls)} if options.nulls is not None else {}))
    try:
        return pcsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowKeyError) as e:
        raise csv_error(path, options, e, types or {}) from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or reason(e)}", filename=path) from None


def _arrow_type(dtype: str):
    import pyarrow as pa
    if dtype == "float16":
        return pa.float32()   # the CSV reader has no float16; converted (exactly checked) afterwards
    return pa.from_numpy_dtype(np.dtype(dtype))


def iter_csv(source: DataSource, options: CsvOptions, types: dict[str, str], batch_rows: int):
    """Chunks of CSV rows with each column in `types` read as that dtype."""
    import pyarrow as pa
    for index, path in enumerate(source.shards):
        reader = _open_csv(path, options, types, CSV_BLOCK_BYTES, columns=list(types))
        first = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, OSError) as e:
                raise csv_error(path, options, e, types, after=first) from None
            yield Chunk(index, path, first, batch.num_rows,
                        {name: arrow_values(batch.column(name)) for name in types})
            first += batch.num_rows


def csv_error(path: str, options: CsvOptions, error: Exception, types: dict, after: int = 0) -> DataError:
    """pyarrow's CSV error (which names neither the line nor, for a bad value, the row), located:
    the line of the file and a caret under the field."""
    text = str(error)
    message = text.split("\n")[0]
    if "CSV conversion error" in text and "invalid value '" in text:
        column_index = None
        if "In CSV column #" in text:
            column_index = int(text.split("In CSV column #", 1)[1].split(":", 1)[0])
        value = text.split("invalid value '", 1)[1].rsplit("'", 1)[0]
        target = text.split("CSV conversion error to ", 1)[1].split(":", 1)[0]
        names = list(types)
        found = find_csv_value(path, options, value, column_index, names)
        column = found[2] if found else (names[column_index] if column_index is not None and
                                          column_index < len(names) else None)
        want = types.get(column)
        what = f"column '{column}' " if column else ""
        message = f"{what}holds {value!r}, which is not a valid {want or target} value"
        if found:
            return located(path, found[0], found[1], len(value) or 1, message, name=column)
        return DataError(f"{path}: {message}", filename=path, name=column)
    if "Expected" in text and "columns, got" in text:
        line, line_text = find_bad_row(path, options)
        if line is not None:
            return located(path, line, len(line_text.rstrip("\r\n")), 1,
                           f"{message.removeprefix('CSV parse error: ').split(':')[0]} (a truncated or malformed "
                           f"line); nothing was written")
    return DataError(f"cannot read {path} as CSV: {message}", filename=path)


def located(path: str, line: int, column: int, width: int, message: str, **fields) -> DataError:
    """A DataError at LINE:COLUMN (0-based column) of a text data file, showing that line."""
    try:
        line_text = _line_of(path, line)
    except OSError:
        line_text = ""
    source = "\n" * (line - 1) + line_text   # only the line is shown; the others are placeholders
    start = line - 1 + column
    span = Span(start, start + max(1, width), line, column + 1)
    return DataError(message, span, source=source, filename=path, **fields)


def _line_of(path: str, line: int) -> str:
    with _open_text(path) as f:
        for number, text in enumerate(f, 1):
            if number == line:
                return text.rstrip("\r\n")
    return ""


def _open_text(path: str):
    if path.lower().endswith(".gz"):
        import gzip
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    if path.lower().endswith(".bz2"):
        import bz2
        return bz2.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _records(path: str, options: CsvOptions):
    """(line number where the record starts, the line's text, fields, field start columns) per record."""
    delimiter = options.delimiter_for(path)
    quote = options.quote
    with _open_text(path) as f:
        for number, raw in enumerate(f, 1):
            text = raw.rstrip("\r\n")
            yield number, text, *_split_line(text, delimiter, quote)


def _split_line(text: str, delimiter: str, quote: str | None) -> tuple[list[str], list[int]]:
    """The fields of one line and the column where each starts (quotes honoured, as the reader does)."""
    fields, starts, field, start, quoted, i = [], [], [], 0, False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == quote and i + 1 < len(text) and text[i + 1] == quote:
                field.append(quote)
                i += 1
            elif ch == quote:
                quoted = False
            else:
                field.append(ch)
        elif quote is not None and ch == quote:
            quoted = True
        elif ch == delimiter:
            fields.append("".join(field))
            starts.append(start)
            field, start = [], i + 1
        else:
            field.append(ch)
        i += 1
    fields.append("".join(field))
    starts.append(start)
    return fields, starts


def _data_records(path: str, options: CsvOptions):
    """(line, text, fields, starts) of each data record, the header skipped."""
    records = _records(path, options)
    header = None
    if options.header:
        first = next(records, None)
        if first is None:
            return
        header = first[2]
    for record in records:
        yield header, record


def find_csv_value(path: str, options: CsvOptions, value: str, column_index: int | None, names: list):
    """(line, 0-based column, column name) of the first field holding `value` in the column pyarrow
    named by its index among `names` (or, failing that, in any of them)."""
    wanted = [names[column_index]] if column_index is not None and column_index < len(names) else list(names)
    for candidates in (wanted, list(names)):
        for header, (line, _, fields, starts) in _data_records(path, options):
            header = header or list(options.column_names or [f"f{i}" for i in range(len(fields))])
            for i, field in enumerate(fields):
                if i < len(header) and header[i] in candidates and field == value:
                    return line, starts[i], header[i]
    return None


def find_bad_row(path: str, options: CsvOptions):
    """(line, text) of the first record whose number of fields differs from the header's."""
    expected = None
    for header, (line, text, fields, _) in _data_records(path, options):
        expected = expected or (len(header) if header else len(fields))
        if len(fields) != expected:
            return line, text
    return None, ""


def csv_row_location(path: str, options: CsvOptions, row: int, column: str):
    """(line, 0-based column) of data row `row` (0-based) and field `column` of a CSV file."""
    for index, (header, (line, _, fields, starts)) in enumerate(_data_records(path, options)):
        if index == row:
            header = header or list(options.column_names or [f"f{i}" for i in range(len(fields))])
            at = header.index(column) if column in header else 0
            return line, starts[at] if at < len(starts) else 0
    return None


# ---- Arrow arrays as NumPy values ----

def arrow_values(array) -> tuple[np.ndarray, np.ndarray | None]:
    """(values, nulls) of an Arrow column: [rows] for scalars, [rows, width] for fixed-length lists
    (width None in ColumnInfo: each row's length is checked by `assemble`). Nulls are a bool mask
    of the same shape, or None."""
    import pyarrow as pa
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    type_ = array.type
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_):
        return _list_values(array)
    return _scalar_values(array)


def _scalar_values(array) -> tuple[np.ndarray, np.ndarray | None]:
    import pyarrow as pa
    nulls = None
    if array.null_count:
        nulls = array.is_null().to_numpy(zero_copy_only=False)
        if not pa.types.is_floating(array.type):
            array = array.fill_null(pa.scalar(False if pa.types.is_boolean(array.type) else 0, array.type))
    return array.to_numpy(zero_copy_only=False), nulls


class RaggedColumn:
    """A list column whose rows must be checked for their length: flat values and row lengths."""

    def __init__(self, values, value_nulls, lengths, row_nulls):
        self.values, self.value_nulls, self.lengths, self.row_nulls = values, value_nulls, lengths, row_nulls


def _list_values(array):
    import pyarrow as pa
    import pyarrow.compute as pc
    row_nulls = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else None
    lengths = pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = array.flatten()
    while pa.types.is_list(flat.type) or pa.types.is_large_list(flat.type) or pa.types.is_fixed_size_list(flat.type):
        inner = pc.list_value_length(flat).fill_null(0).to_numpy(zero_copy_only=False)
        if len(inner) and (inner != inner[0]).any():
            raise DataError(f"a nested list column has rows of different shapes ({array.type})")
        per = int(inner[0]) if len(inner) else 0
        lengths = lengths * per
        flat = flat.flatten()
    values, value_nulls = _scalar_values(flat)
    return RaggedColumn(values, value_nulls, lengths, row_nulls), None


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
    if fill is None and not _float_kind(spec.type.dtype):
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


def arrow_column(array: np.ndarray):
    """A NumPy output column as Arrow: nested fixed-size lists for trailing dimensions."""
    import pyarrow as pa
    if array.ndim == 1:
        return pa.array(array)
    values = pa.array(array.reshape(-1))
    for size in reversed(array.shape[1:]):
        values = pa.FixedSizeListArray.from_arrays(values, size)
    return values


class ParquetSink:
    """Batches of output columns appended to one Parquet file (a row group per batch)."""

    def __init__(self, path: str):
        self.path, self.writer = path, None

    def write(self, columns: dict[str, np.ndarray]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq
        table = pa.table({name: arrow_column(array) for name, array in columns.items()})
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class CsvSink:
    """Batches of output columns appended to one CSV file (a header first, when options.header)."""

    def __init__(self, path: str, options: CsvOptions):
        self.path, self.options, self.writer = path, options, None

    def write(self, columns: dict[str, np.ndarray]) -> None:
        import pyarrow as pa
        import pyarrow.csv as pcsv
        flat = {}
        for name, array in columns.items():
            for column, values in output_columns(name, array, flat=True):
                if values.dtype == np.float16:
                    values = values.astype(np.float32)   # exact; pyarrow writes no float16 to CSV
                flat[column] = pa.array(values)
        table = pa.table(flat)
        if self.writer is None:
            options = pcsv.WriteOptions(include_header=self.options.header,
                                        delimiter=self.options.delimiter_for(self.path),
                                        quoting_style="needed" if self.options.quote else "none")
            self.writer = pcsv.CSVWriter(self.path, table.schema, write_options=options)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def row_error(chunk: Chunk, row: int, column: str, message: str, source: DataSource, options: CsvOptions,
              **fields) -> DataError:
    """A value problem at `row` of a chunk: for CSV at its line and field (with the line shown and a
    caret); otherwise naming the file and the row (0-based, counted from the shard's start)."""
    absolute = chunk.first_row + row
    if source.format == "csv":
        found = csv_row_location(chunk.path, options, absolute, column)
        if found is not None:
            line, at = found
            return located(chunk.path, line, at, 1, f"row {absolute:,}: {message}; nothing was written",
                           name=fields.pop("name", column), **fields)
    return DataError(f"row {absolute:,} (counting from 0): {message}; nothing was written", filename=chunk.path,
                     name=fields.pop("name", column), **fields)

