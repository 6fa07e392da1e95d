"""Where outputs go: spooled (or written to a temporary table) batch by batch, then published atomically.

Each output's batches are appended to a spool file (an anonymous temporary file next
to the output), so memory holds one batch however large the result. At the end the
.npy or .npz is written to an unnamed file in the output's directory, flushed and
fsynced, and given its name (maskdsl.pipeline.files.write_atomically): replacing an
existing file only with `force`, failing if the file appeared in the meantime. A failed
or killed run leaves no file and never touches an existing one; an OSError is a DataError.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

from maskdsl.errors import DataError
from maskdsl.pipeline.data_files import copy_data, write_npy_header, write_npz
from maskdsl.pipeline.files import check_writable, current_umask as _umask, publish, write_atomically  # noqa: F401 (publish: re-exported)


class OutputSpool:
    """One output's batches, appended to a temporary file (so memory holds one batch)."""

    def __init__(self, name: str, directory: str):
        self.name = name
        self.file = tempfile.TemporaryFile(dir=directory, prefix=".maskdsl-spool-")
        self.dtype = None
        self.tail = None
        self.rows = 0
        self.scalar = False

    def append(self, array: np.ndarray) -> None:
        array = np.asarray(array, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        if self.dtype is None:
            self.dtype, self.scalar = array.dtype, array.ndim == 0
            self.tail = array.shape[1:]
        elif self.scalar or array.ndim == 0 or array.dtype != self.dtype or array.shape[1:] != self.tail:
            raise DataError(f"output '{self.name}' changed shape between batches "
                            f"({self.dtype}{list(self.tail or ())} then {array.dtype}{list(array.shape[1:])})",
                            name=self.name)
        self.file.write(array.tobytes())
        self.rows += 0 if self.scalar else array.shape[0]

    @property
    def shape(self) -> tuple:
        return () if self.scalar else (self.rows, *self.tail)

    def write_npy(self, out) -> None:
        write_npy_header(out, self.dtype, self.shape)
        copy_data(self.file, out)

    def close(self) -> None:
        self.file.close()


class OutputTarget:
    """Where the outputs go: checked before any work, written at the end, atomically."""

    def __init__(self, path: str, outputs: tuple, force: bool):
        self.path, self.force = os.fspath(path), bool(force)
        self.directory = os.path.dirname(os.path.abspath(self.path))
        if self.path.endswith(".npy"):
            if len(outputs) != 1:
                raise DataError(f"a .npy output holds one array, but the pipeline has {len(outputs)} outputs "
                                f"({', '.join(outputs)}); write a .npz")
        elif not self.path.endswith(".npz"):
            raise DataError(f"unsupported output file {self.path!r}: use .npz (all outputs) or .npy (one output)")
        if not os.path.isdir(self.directory):
            raise DataError(f"cannot write {self.path!r}: the directory {self.directory!r} does not exist")
        if os.path.isdir(self.path):
            raise DataError(f"cannot write {self.path!r}: it is a directory")
        if os.path.exists(self.path) and not self.force:
            raise DataError(f"{self.path} already exists; pass --force to overwrite it")
        check_writable(self.directory, self.path)   # /proc, a read-only file system: before any work

    def write(self, spools: list[OutputSpool]) -> None:
        write_file(self.path, spools, self.force)


def write_file(path: str, members: list, force: bool) -> None:
    """Write `members` (objects with .name and .write_npy(file)) to `path`: the only one to a .npy,
    all to a .npz. Written next to `path`, flushed and fsynced, then published."""
    def write(out):
        if path.endswith(".npy"):
            members[0].write_npy(out)
        else:
            write_npz(out, members)
    write_atomically(path, write, force)


# ---- tables: columns in a file (or one file per input shard), the rest beside them ----

class OutputSet:
    """A run's outputs, written as `place` says (docs/pipelines.md, "Output layout").

    A .npz holds every output (a .npy the only one). A table (Parquet, CSV, TFRecord) holds
    one column per output that has one entry per input row (`columns`); every other output
    (a reduction, the rows a mask selected, a fixed-size array) goes to a .npz beside it
    (`place.extras_path`). A directory gets one table per input shard, named after it, and
    its `_extras.npz`. Everything is written under temporary names next to the target and
    published at the end, so a failed run leaves nothing and never touches what exists.

    `types`: output name -> (dtype, shape after the rows), for tables that receive no rows.
    """

    def __init__(self, place, outputs: tuple, columns: tuple, csv, shards: tuple, types: dict, force: bool):
        self.place, self.outputs, self.force, self.csv = place, tuple(outputs), bool(force), csv
        self.columns = tuple(columns) if place.is_table else ()
        self.extras = tuple(n for n in self.outputs if n not in self.columns)
        self.shards, self.types = tuple(shards), dict(types)
        parent = os.path.dirname(os.path.abspath(place.path))
        self.parent = parent
        check_writable(parent, place.path)   # /proc, a read-only file system: before any spool or work
        self.spools = {name: OutputSpool(name, parent) for name in (self.extras if place.is_table else self.outputs)}
        self.temporary_dir = None
        self.files: dict[int, tuple[str, object]] = {}    # shard (or 0) -> (temporary path, sink)
        if place.directory:
            self.temporary_dir = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(place.path)}.")
        self.shard_rows: dict | None = None    # shard -> rows, when all rows come as one batch
        self.finished = False

    # -- writing --
    def _sink(self, shard: int):
        key = shard if self.place.directory else 0
        if key not in self.files:
            if self.place.directory:
                path = self.place.shard_path(self.shards[key], self.temporary_dir)
            else:
                fd, path = tempfile.mkstemp(dir=self.parent, prefix=f".{os.path.basename(self.place.path)}.",
                                            suffix=".part")
                os.close(fd)
            self.files[key] = (path, _open_sink(self.place.format, path, self.csv))
        return self.files[key][1]

    def write(self, shard: int, outputs: dict) -> None:
        """One batch of the outputs (those it has: per-batch reductions come with `set_value`)."""
        if self.columns and all(name in outputs for name in self.columns):
            rows = {name: np.asarray(outputs[name]) for name in self.columns}
            if self.place.directory and self.shard_rows:   # every row at once: cut it back into the shards
                start = 0
                for index, count in sorted(self.shard_rows.items()):
                    self._sink(index).write({k: v[start:start + count] for k, v in rows.items()})
                    start += count
            else:
                self._sink(shard).write(rows)
        for name, spool in self.spools.items():
            if name in outputs:
                spool.append(outputs[name])

    def set_value(self, name: str, value) -> None:
        """The final value of an output computed over every batch (a reduction)."""
        self.spools[name].append(np.asarray(value))

    def shapes(self) -> str:
        parts = []
        for name in self.outputs:
            if name in self.spools:
                spool = self.spools[name]
                parts.append(f"{name} {spool.dtype}{list(spool.shape)}")
            else:
                parts.append(f"{name} (column)")
        return ", ".join(parts)

    # -- publishing --
    def commit(self) -> None:
        if not self.place.is_table:
            write_file(self.place.path, [self.spools[n] for n in self.outputs], self.force)
            self.finished = True
            return
        # tables that received no rows (an empty input, an empty shard) still exist, with their columns
        keys = range(len(self.shards)) if self.place.directory else (0,)
        for key in keys:
            if key not in self.files and self.columns:
                self._sink(key).write({name: np.zeros((0, *self.types[name][1]), self.types[name][0])
                                       for name in self.columns})
        for path, sink in self.files.values():
            sink.close()
            _fsync(path)
        if self.place.directory:
            if self.extras:
                write_file(os.path.join(self.temporary_dir, "_extras.npz"), [self.spools[n] for n in self.extras],
                           force=False)
            _publish_directory(self.temporary_dir, self.place.path, self.force)
            self.temporary_dir = None
        else:
            extras_published = None
            if self.extras:
                extras_existed = os.path.exists(self.place.extras_path)
                write_file(self.place.extras_path, [self.spools[n] for n in self.extras], self.force)
                extras_published = None if extras_existed else self.place.extras_path
            try:
                path, _ = self.files[0]
                os.chmod(path, 0o666 & ~_umask())
                publish(path, self.place.path, self.force)
            except BaseException:
                if extras_published is not None and os.path.exists(extras_published):
                    os.unlink(extras_published)   # ours, from this run: the run failed, so it goes too
                raise
        self.finished = True

    def close(self) -> None:
        """Remove whatever was not published (after a failure) and the spools."""
        for spool in self.spools.values():
            spool.close()
        for path, sink in self.files.values():
            try:
                sink.close()
            except Exception:   # a sink that failed while writing: the file goes anyway
                pass
            if not self.place.directory and os.path.exists(path):
                os.unlink(path)
        if self.temporary_dir is not None and os.path.exists(self.temporary_dir):
            shutil.rmtree(self.temporary_dir, ignore_errors=True)


def _open_sink(format: str, path: str, csv):
    if format == "parquet":
        from maskdsl.pipeline.tables import ParquetSink
        return ParquetSink(path)
    if format == "csv":
        from maskdsl.pipeline.tables import CsvSink
        return CsvSink(path, csv)
    from maskdsl.pipeline.tfrecord import TFRecordSink
    return TFRecordSink(path)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish_directory(temporary: str, path: str, force: bool) -> None:
    """Rename a finished directory into place; with force the old one is moved aside first and
    removed once the new one is there (put back if the rename fails)."""
    os.chmod(temporary, 0o777 & ~_umask())
    if not os.path.exists(path):
        try:
            os.rename(temporary, path)
        except OSError:
            if os.path.exists(path):
                raise DataError(f"{path} already exists; pass --force to overwrite it") from None
            raise
        return
    if not force:
        raise DataError(f"{path} already exists; pass --force to overwrite it")
    old = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(path)), prefix=f".{os.path.basename(path)}.old.")
    os.rmdir(old)
    os.rename(path, old)
    try:
        os.rename(temporary, path)
    except BaseException:
        os.rename(old, path)
        raise
    if os.path.isdir(old):
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.unlink(old)
