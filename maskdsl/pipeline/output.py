"""Where outputs go: spooled batch by batch, then published atomically.

Each output's batches are appended to a spool file (an anonymous temporary file next
to the output), so memory holds one batch however large the result. At the end the
.npy or .npz is written to an unnamed file in the output's directory, flushed and
fsynced, and given its name (maskdsl.pipeline.files.write_atomically): replacing an
existing file only with `force`, failing if the file appeared in the meantime. A failed
or killed run leaves no file and never touches an existing one; an OSError is a DataError.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from maskdsl.errors import DataError
from maskdsl.pipeline.data_files import copy_data, write_npy_header, write_npz
from maskdsl.pipeline.files import check_writable, publish, write_atomically  # noqa: F401 (publish: re-exported)


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
