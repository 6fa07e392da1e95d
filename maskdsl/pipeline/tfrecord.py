"""TFRecord files of tf.train.Example: one Example per row, one feature per column.

Reading and writing data goes through TensorFlow (`tf.data.TFRecordDataset` batched and
parsed with `tf.io.parse_example`, `tf.io.TFRecordWriter`), imported inside the
functions that do it: TFRecord is TensorFlow by nature. Checking a pipeline against a
TFRecord file must not load TensorFlow, so the first records are also read here without
it (`peek_schema`): the framing is a length, a checksum, the bytes and a checksum, and an
Example is a small protocol buffer whose wire format is decoded by hand. A feature
present in none of the first records is reported missing; a feature missing from one
record is a null in that row.

Writing encodes each row's Example with the same wire format (a float column is a
`float_list`, integers and bools an `int64_list`, `k` values per row for a [rows, k]
output) and lets TensorFlow frame the records.

>>> example = encode_example([(b"x", "float", np.array([1.5, 2.0], np.float32)), (b"n", "int", np.array([-3]))])
>>> decode_example(example)
{'x': ('float', 2), 'n': ('int', 1)}
"""

from __future__ import annotations

import gzip
import struct

import numpy as np

from maskdsl.errors import DataError
from maskdsl.pipeline.data_files import reason
from maskdsl.pipeline.formats import DataSource, compression_of
from maskdsl.pipeline.columns import Chunk, ColumnInfo, RaggedColumn

PEEK_RECORDS = 100     # a feature absent from all of these is reported missing
_KIND_DTYPE = {"float": "float32", "int": "int64"}
_KIND_DESCRIBED = {"float": "float_list", "int": "int64_list", "bytes": "bytes_list"}


# ---- without TensorFlow: framing and the Example wire format ----

def _open(path: str):
    return gzip.open(path, "rb") if compression_of(path) == ".gz" else open(path, "rb")


def read_records(path: str, limit: int):
    """The first `limit` records' bytes (checksums are not verified here; tf.data verifies them)."""
    with _open(path) as f:
        for index in range(limit):
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise DataError(f"record {index} is truncated (its header has {len(header)} of 12 bytes)",
                                filename=path)
            (length,) = struct.unpack("<Q", header[:8])
            data = f.read(length)
            if len(data) < length or len(f.read(4)) < 4:
                raise DataError(f"record {index} is truncated (the file ends inside it)", filename=path)
            yield data


def _varint(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        byte = data[i]
        result |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return result, i
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) of a message: value is bytes for LEN, an int otherwise."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def decode_example(data: bytes) -> dict[str, tuple[str, int]]:
    """feature name -> (kind: 'float', 'int' or 'bytes', number of values) of one Example."""
    out = {}
    for number, _, features in _fields(data):
        if number != 1:
            continue
        for entry_number, _, entry in _fields(features):
            if entry_number != 1:
                continue
            key, feature = b"", b""
            for n, _, value in _fields(entry):
                if n == 1:
                    key = value
                elif n == 2:
                    feature = value
            kind, count = "bytes", 0
            for n, _, values in _fields(feature):
                kind = {1: "bytes", 2: "float", 3: "int"}.get(n, "bytes")
                for _, wire, value in _fields(values):
                    if kind == "float":
                        count += len(value) // 4 if wire == 2 else 1
                    elif kind == "int" and wire == 2:
                        j = 0
                        while j < len(value):
                            _, j = _varint(value, j)
                            count += 1
                    else:
                        count += 1
            out[key.decode("utf-8", "replace")] = (kind, count)
    return out


def peek_schema(path: str, limit: int = PEEK_RECORDS) -> dict[str, ColumnInfo]:
    """The features of the first records: kind, and values per row when every record agrees."""
    seen: dict[str, tuple[str, set]] = {}
    try:
        for index, record in enumerate(read_records(path, limit)):
            try:
                features = decode_example(record)
            except (ValueError, IndexError) as e:
                raise DataError(f"record {index} is not a tf.train.Example ({e})", filename=path) from None
            for name, (kind, count) in features.items():
                kinds, counts = seen.setdefault(name, (kind, set()))
                counts.add(count)
    except OSError as e:
        raise DataError(f"cannot read {path}: {reason(e)}", filename=path) from None
    out = {}
    for name, (kind, counts) in seen.items():
        counts.discard(0)
        width = next(iter(counts)) if len(counts) == 1 else (None if counts else 1)
        out[name] = ColumnInfo(name, _KIND_DTYPE.get(kind), width, _KIND_DESCRIBED[kind])
    return out


def _key(number: int, wire: int) -> bytes:
    return _encode_varint((number << 3) | wire)


def _encode_varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF    # negative int64 as two's complement: ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _encode_varint(len(payload)) + payload


def encode_example(features) -> bytes:
    """The serialized tf.train.Example of one row: features are (name bytes, kind, values)."""
    entries = []
    for name, kind, values in features:
        if kind == "float":
            packed = np.asarray(values, "<f4").tobytes()
            feature = _length_delimited(2, _length_delimited(1, packed))
        else:
            packed = b"".join(_encode_varint(int(v)) for v in np.asarray(values).reshape(-1))
            feature = _length_delimited(3, _length_delimited(1, packed))
        entries.append(_length_delimited(1, _length_delimited(1, name) + _length_delimited(2, feature)))
    return _length_delimited(1, b"".join(entries))


# ---- with TensorFlow: reading and writing ----

def iter_tfrecord(source: DataSource, kinds: dict[str, str], batch_rows: int):
    """Chunks of rows: column -> RaggedColumn (a row without the feature is a null)."""
    from maskdsl.tf.runtime import tf

    features = {name: tf.io.RaggedFeature(tf.float32 if kind == "float" else tf.int64) for name, kind in kinds.items()}
    for index, path in enumerate(source.shards):
        compression = "GZIP" if compression_of(path) == ".gz" else ""
        dataset = tf.data.TFRecordDataset(path, compression_type=compression).batch(batch_rows)
        dataset = dataset.map(lambda records: tf.io.parse_example(records, features))
        iterator, first = iter(dataset), 0
        while True:
            try:
                parsed = next(iterator)
            except StopIteration:
                break
            except tf.errors.DataLossError as e:
                raise DataError(f"cannot read {path} after record {first:,}: {_tf_reason(e)} (the file is "
                                f"truncated or corrupt); nothing was written", filename=path) from None
            except tf.errors.InvalidArgumentError as e:
                raise DataError(f"cannot read records {first:,} to {first + batch_rows - 1:,} of {path} as "
                                f"tf.train.Example: {_tf_reason(e)}; nothing was written", filename=path) from None
            columns, rows = {}, None
            for name, ragged in parsed.items():
                lengths = ragged.row_lengths().numpy().astype(np.int64)
                rows = len(lengths)
                values = ragged.flat_values.numpy()
                columns[name] = (RaggedColumn(values, None, lengths, lengths == 0), None)
            if rows is None:
                break
            yield Chunk(index, path, first, rows, columns)
            first += rows


def _tf_reason(error) -> str:
    text = str(getattr(error, "message", error))
    for marker in ("truncated record", "corrupted record", "Data types don't match", "Key: "):
        if marker in text:
            return text[text.index(marker):].split(" [Op:")[0].split("\n")[0].split("' failed")[0].rstrip()
    return reason(error)


class TFRecordSink:
    """Batches of output columns appended to one TFRecord file, an Example per row."""

    def __init__(self, path: str):
        self.path, self.writer = path, None

    def write(self, columns: dict[str, np.ndarray]) -> None:
        from maskdsl.tf.runtime import tf
        if self.writer is None:
            self.writer = tf.io.TFRecordWriter(self.path)
        rows = next(iter(columns.values())).shape[0] if columns else 0
        encoders = [_column_encoder(name, array) for name, array in columns.items()]
        write = self.writer.write
        for row in range(rows):
            features = b"".join(encode(row) for encode in encoders)
            write(b"\x0a" + _encode_varint(len(features)) + features)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


_SMALL_VARINTS = [_encode_varint(v) for v in range(128)]


def _column_encoder(name: str, array: np.ndarray):
    """row -> the bytes of one `feature` map entry of that row (what encode_example writes for it),
    with everything that is the same for every row computed once."""
    flat = array.reshape(array.shape[0], int(np.prod(array.shape[1:], dtype=np.int64)))
    key = _length_delimited(1, name.encode("utf-8"))
    if array.dtype.kind == "f":
        width = 4 * flat.shape[1]
        data = np.ascontiguousarray(flat, "<f4").tobytes()
        float_list = b"\x0a" + _encode_varint(width)                       # FloatList.value, packed
        feature = b"\x12" + _encode_varint(len(float_list) + width) + float_list   # Feature.float_list
        entry = key + b"\x12" + _encode_varint(len(feature) + width) + feature
        prefix = b"\x0a" + _encode_varint(len(entry) + width) + entry
        return lambda row: prefix + data[row * width:(row + 1) * width]
    values = flat.astype(np.int64).tolist()
    small = _SMALL_VARINTS

    def encode(row: int) -> bytes:
        packed = b"".join(small[v] if 0 <= v < 128 else _encode_varint(v) for v in values[row])
        int_list = b"\x0a" + _encode_varint(len(packed)) + packed          # Int64List.value, packed
        feature = b"\x1a" + _encode_varint(len(int_list)) + int_list        # Feature.int64_list
        entry = key + b"\x12" + _encode_varint(len(feature)) + feature
        return b"\x0a" + _encode_varint(len(entry)) + entry

    return encode


def check_writable(dtype: str) -> str | None:
    """Why an output of this dtype cannot be a TFRecord feature without changing values (None if it can)."""
    if dtype == "float64":
        return "TFRecord's float_list holds float32, so a float64 output would lose precision"
    if dtype == "uint64":
        return "TFRecord's int64_list holds int64, so uint64 values above 2**63 - 1 would wrap"
    return None
