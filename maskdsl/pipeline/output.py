"""Where outputs go: spooled batch by batch, then published atomically.

Each output's batches are appended to a spool file (an anonymous temporary file next
to the output), so memory holds one batch however large the result. At the end the
.npy or .npz is written to a temporary file in the output's directory, flushed and
fsynced, and moved into place: with `force` by os.replace, otherwise with a hard link,
which fails if the file appeared in the meantime. A failed run leaves no file and never
touches an existing one.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from maskdsl.errors import DataError
from maskdsl.pipeline.data_files import copy_data, write_npy_header, write_npz


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

    def write(self, spools: list[OutputSpool]) -> None:
        write_file(self.path, spools, self.force)


def write_file(path: str, members: list, force: bool) -> None:
    """Write `members` (objects with .name and .write_npy(file)) to `path`: the only one to a .npy,
    all to a .npz. Written next to `path`, flushed and fsynced, then published."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".part")
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; the output should not be
        with os.fdopen(fd, "wb") as out:
            if path.endswith(".npy"):
                members[0].write_npy(out)
            else:
                write_npz(out, members)
            out.flush()
            os.fsync(out.fileno())
        publish(temporary, path, force)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(temporary: str, path: str, force: bool) -> None:
    """Move a finished file into place: replace only with force; otherwise fail if it exists
    (a hard link is the atomic "create if absent")."""
    if force:
        os.replace(temporary, path)
        return
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise DataError(f"{path} already exists; pass --force to overwrite it") from None
    except OSError:  # no hard links here (some network and FAT file systems)
        if os.path.exists(path):
            raise DataError(f"{path} already exists; pass --force to overwrite it") from None
        os.replace(temporary, path)
    else:
        os.unlink(temporary)
