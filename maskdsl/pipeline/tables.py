"""Parquet and CSV through pyarrow: what a file's columns are, and its rows batch by batch.

Parquet is read with `ParquetFile.iter_batches` and no pre-buffering, which decodes
one row group at a time, so memory holds a row group and a batch however large the
file; CSV with
pyarrow's streaming reader, in blocks, with each needed column converted straight to
its input's declared type (`ConvertOptions.column_types`) and every other column
skipped. Each batch becomes a `Chunk` (maskdsl.pipeline.columns, which turns chunks
into inputs); TFRecord files become chunks in maskdsl.pipeline.tfrecord.

Problems the schema shows (a missing column, a text column for a float input, nulls
an integer input cannot take) are found before any row is read (`check_columns`) and
point at the input's declaration in the pipeline file, all at once. A CSV problem
pyarrow finds while reading is located at its line by maskdsl.pipeline.csv_lines.

Writing: `ParquetSink` and `CsvSink` append batches of columns to one file (a
row-aligned output of shape [rows, k] is a fixed-size list column in Parquet,
`name_0 ... name_k-1` in CSV). No TensorFlow; pyarrow is imported when a file is opened.
"""

from __future__ import annotations

import difflib
import numpy as np

from maskdsl.errors import DataError
from maskdsl.ir.dtypes import DTYPES
from maskdsl.pipeline.data_files import reason
from maskdsl.pipeline.formats import CsvOptions, DataSource
from maskdsl.pipeline.columns import (Chunk, ColumnInfo, RaggedColumn, column_node, float_kind, output_columns,
                                      table_columns)
from maskdsl.pipeline.csv_lines import csv_error
from maskdsl.pipeline.inputs import InputSpec
from maskdsl.values import UNSUPPORTED_DTYPE, dtype_misfit

CSV_BLOCK_BYTES = 1 << 20     # pyarrow reads CSV in blocks of this many bytes


# ---- schemas ----

_ARROW_NAMES = {"halffloat": "float16", "float": "float32", "double": "float64", "bool": "bool"}  # ints: int8 is int8


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
        dtype = _ARROW_NAMES.get(str(inner), str(inner))   # (to_pandas_dtype needs pandas before pyarrow 26)
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
    return list(_open_csv(path, options, None, CSV_BLOCK_BYTES).schema.names)


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
    if info.nulls and spec.fill is None and not float_kind(want.dtype):
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
            # pre_buffer (pyarrow's default) reads ahead every row group still to come: memory would
            # grow with the file (134 MB held for a 134 MB file), where without it one row group is
            file = pq.ParquetFile(path, pre_buffer=False)
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


# ---- writing ----

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
            # (dictionary pages pay off for repeated values, rarely for computed floats; 5x slower to write)
            self.writer = pq.ParquetWriter(self.path, table.schema, use_dictionary=False)
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
