"""Which files a pipeline reads and writes: formats by extension or by name, shards, CSV options.

    parquet   .parquet .pq            (pyarrow)
    csv       .csv .tsv .csv.gz ...   (pyarrow's CSV reader and writer)
    tfrecord  .tfrecord .tfrecords .tfrec, and .gz of these  (tf.train.Example, through tf.data)
    npz, npy  .npz .npy               (NumPy, as before)

An input is a file, a directory (every file in it whose name starts with neither `.` nor
`_`, which is where tools keep metadata such as `_SUCCESS`) or a glob pattern; the files
of a directory or glob are *shards*, read in sorted order. `--format` names the format
when the extension does not. Plain Python: no TensorFlow, and no pyarrow until a file
is opened.

>>> format_of("data/part-0001.parquet"), format_of("readings.tsv"), format_of("x.tfrecord.gz")
('parquet', 'csv', 'tfrecord')
>>> stem_of("part-0001.csv.gz")
'part-0001'
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from maskdsl.errors import DataError, InputError
from maskdsl.pipeline.yaml_source import Document, YamlNode, describe

EXTENSIONS = {
    "parquet": (".parquet", ".pq"),
    "csv": (".csv", ".tsv"),
    "tfrecord": (".tfrecord", ".tfrecords", ".tfrec"),
    "npz": (".npz",),
    "npy": (".npy",),
}
FORMATS = tuple(EXTENSIONS)
TABLE_FORMATS = ("parquet", "csv", "tfrecord")
COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")   # CSV reads all of these; TFRecord only .gz
_SHOWN = "use .parquet, .csv, .tfrecord, .npz or .npy, or name the format with --format"


def _split_compression(path: str) -> tuple[str, str]:
    lower = path.lower()
    for ext in COMPRESSED:
        if lower.endswith(ext):
            return path[:-len(ext)], ext
    return path, ""


def format_of(path: str) -> str | None:
    """The format an extension names (None when it names none)."""
    base, _ = _split_compression(os.fspath(path))
    lower = base.lower()
    for name, extensions in EXTENSIONS.items():
        if lower.endswith(extensions):
            return name
    return None


def compression_of(path: str) -> str:
    return _split_compression(os.fspath(path))[1]


def stem_of(path: str) -> str:
    """A file's name without its format and compression extensions."""
    base, _ = _split_compression(os.path.basename(os.fspath(path)))
    root, ext = os.path.splitext(base)
    return root if format_of(base) is not None else base


def check_format_name(name: str | None, option: str) -> str | None:
    if name is None:
        return None
    if name not in FORMATS:
        raise InputError(f"{option} {name!r}: the formats are {', '.join(FORMATS)}", option=option)
    return name


# ---- inputs ----

@dataclass(frozen=True)
class DataSource:
    """An input: its format and the files (shards) to read, in order."""

    path: str                       # as given
    format: str
    shards: tuple[str, ...]
    sharded: bool = False           # a directory or glob (even of one file)

    @property
    def is_table(self) -> bool:
        return self.format in TABLE_FORMATS

    def describe(self) -> str:
        return self.path if not self.sharded else f"{self.path} ({len(self.shards)} shard" \
                                                  f"{'s' if len(self.shards) != 1 else ''})"


def resolve_source(path, format: str | None = None) -> DataSource:
    """The DataSource of an --input: a file, a directory or a glob of shards."""
    path = os.fspath(path)
    format = check_format_name(format, "--format")
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if not n.startswith((".", "_")))
        files = [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
        return _shards(path, files, format, f"the directory {path!r}")
    if os.path.exists(path):
        found = format or format_of(path)
        if found is None:
            raise DataError(f"unsupported input file {path!r}: {_SHOWN}")
        if compression_of(path) and found not in ("csv", "tfrecord"):
            raise DataError(f"input {path!r}: a compressed {found} file is not supported; only CSV and TFRecord "
                            f"files may be compressed")
        return DataSource(path, found, (path,))
    if glob.has_magic(path):
        files = sorted(f for f in glob.glob(path) if os.path.isfile(f))
        return _shards(path, files, format, f"the pattern {path!r}")
    raise DataError(f"no such input file: {path!r}")


def _shards(path: str, files: list[str], format: str | None, what: str) -> DataSource:
    if format is not None:
        chosen = [f for f in files if format_of(f) in (format, None)]
    else:
        by_format: dict[str, list[str]] = {}
        for f in files:
            if format_of(f) is not None:
                by_format.setdefault(format_of(f), []).append(f)
        if len(by_format) > 1:
            kinds = ", ".join(f"{len(v)} {k}" for k, v in by_format.items())
            raise DataError(f"{what} holds files of several formats ({kinds}); keep one format per input or "
                            f"choose one with --format")
        format, chosen = next(iter(by_format.items()), (None, []))
    if not chosen:
        raise DataError(f"{what} holds no data files ({_SHOWN})")
    if format in ("npz", "npy"):
        raise DataError(f"{what}: shards of .{format} files are not supported; give one .{format} file, or write "
                        f"the shards as Parquet, CSV or TFRecord")
    return DataSource(path, format, tuple(chosen), sharded=True)


# ---- outputs ----

@dataclass(frozen=True)
class OutputPlace:
    """Where outputs go: one file, or a directory with one shard per input shard."""

    path: str
    format: str
    directory: bool = False

    @property
    def is_table(self) -> bool:
        return self.format in TABLE_FORMATS

    def shard_path(self, input_shard: str, root: str | None = None) -> str:
        """The output shard for one input shard: the same name with this format's extension."""
        extension = EXTENSIONS[self.format][0]
        return os.path.join(root or self.path, stem_of(input_shard) + extension)

    @property
    def extras_path(self) -> str:
        """Where outputs that are not columns go beside a table (docs/pipelines.md, "Output layout")."""
        if self.directory:
            return os.path.join(self.path, "_extras.npz")
        directory, name = os.path.split(self.path)
        return os.path.join(directory, stem_of(name) + ".extras.npz")


def resolve_output(path, format: str | None, force: bool) -> OutputPlace:
    """The OutputPlace of an --output (checked before any work; the layout is checked once the
    pipeline's outputs are known)."""
    path = os.fspath(path)
    format = check_format_name(format, "--output-format")
    directory = path.endswith(("/", os.sep)) or os.path.isdir(path)
    clean = path.rstrip("/" + os.sep) or path
    if directory:
        if format is None:
            raise InputError(f"--output {path!r} is a directory: name the format of its shards with --output-format",
                             option="--output-format")
        if format in ("npz", "npy"):
            raise DataError(f"--output {path!r}: a directory of shards is written as parquet, csv or tfrecord, "
                            f"not {format}")
    else:
        format = format or format_of(clean)
        if format is None:
            raise DataError(f"unsupported output file {clean!r}: {_SHOWN.replace('--format', '--output-format')}")
        if compression_of(clean):
            raise DataError(f"output {clean!r}: compressed output is not supported")
    parent = os.path.dirname(os.path.abspath(clean))
    if not os.path.isdir(parent):
        raise DataError(f"cannot write {clean!r}: the directory {parent!r} does not exist")
    if not directory and os.path.isdir(clean):
        raise DataError(f"cannot write {clean!r}: it is a directory")
    if os.path.exists(clean) and not force:
        raise DataError(f"{clean} already exists; pass --force to overwrite it")
    return OutputPlace(clean, format, directory)


# ---- the `csv:` section of a pipeline ----

CSV_KEYS = ("delimiter", "quote", "header", "column_names", "nulls")


@dataclass(frozen=True)
class CsvOptions:
    """How CSV files are read and written. delimiter None: ',' (a tab for .tsv); quote None: no
    quoting; column_names: the names when the file has no header (default f0, f1, ...);
    nulls: the texts read as null (default: pyarrow's list, which includes '' and 'NA')."""

    delimiter: str | None = None
    quote: str | None = '"'
    header: bool = True
    column_names: tuple[str, ...] | None = None
    nulls: tuple[str, ...] | None = None
    given: dict = field(default_factory=dict, compare=False)   # as written, for to_dict()

    def delimiter_for(self, path: str) -> str:
        if self.delimiter is not None:
            return self.delimiter
        return "\t" if _split_compression(os.fspath(path))[0].lower().endswith(".tsv") else ","


def read_csv_options(doc: Document, node: YamlNode | None, problems) -> CsvOptions:
    """The `csv:` section (every problem in it collected)."""
    if node is None or node.value is None:
        return CsvOptions()
    if not isinstance(node.value, dict):
        raise doc.error(f"'csv' must be a mapping of options ({', '.join(CSV_KEYS)}), but it is {describe(node)}",
                        node)
    values: dict = {}
    for key, item in node.value.items():
        with problems.collecting():
            values[key] = _csv_option(doc, key, item)
    given = {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()}
    if "quote" in values and values["quote"] is False:
        values["quote"] = None
    return CsvOptions(**values, given=given)


def _csv_option(doc: Document, key, item: YamlNode):
    if key not in CSV_KEYS:
        import difflib
        close = difflib.get_close_matches(str(key), CSV_KEYS, n=1)
        raise doc.error(f"unknown csv option {key!r}; the options are {', '.join(CSV_KEYS)}", item, at_key=True,
                        option=str(key), code="unknown-option", hint=f"did you mean '{close[0]}'?" if close else None)
    value = item.value
    if key == "delimiter":
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n\"":
            raise doc.error(f"csv delimiter must be one character, such as ',' or '\\t', not {item.raw or value!r}",
                            item, option=key, hint="quote it: delimiter: ';'")
        return value
    if key == "quote":
        if value is False or value is None:
            return False
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
            raise doc.error(f"csv quote must be one character (or false for none), not {item.raw or value!r}", item,
                            option=key)
        return value
    if key == "header":
        if not isinstance(value, bool):
            raise doc.error(f"csv header must be true or false, but it is {describe(item)}", item, option=key)
        return value
    if not isinstance(value, list) or not all(isinstance(v.value, str) for v in value):
        raise doc.error(f"csv {key} must be a list of texts, but it is {describe(item)}", item, option=key,
                        hint="quote each entry: ['', 'NA']")
    return tuple(v.value for v in value)
