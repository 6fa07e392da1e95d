"""Where a value is in a CSV file: its line, its column, and a caret under it.

pyarrow's CSV reader says what is wrong ("CSV conversion error to float: invalid value
'five'", "Expected 3 columns, got 2") but not where. When it fails, the file is read
again here, line by line with the same delimiter and quoting, to find the line and the
field, and the DataError shows that line with a caret, at FILE:LINE:COLUMN. Only the
error path reads the file this way. Plain Python.

>>> split_line('a;"b; c";d', ";", '"')
(['a', 'b; c', 'd'], [0, 2, 9])
"""

from __future__ import annotations

from maskdsl.errors import DataError, Span
from maskdsl.pipeline.columns import Chunk
from maskdsl.pipeline.formats import CsvOptions, DataSource


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
            yield number, text, *split_line(text, delimiter, quote)


def split_line(text: str, delimiter: str, quote: str | None) -> tuple[list[str], list[int]]:
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
