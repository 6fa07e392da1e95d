""".npy data read into memory only after its header: the dtype and shape it declares are
checked first (by the caller, against a declared input), then its size against a limit
(limits.MAX_ARRAY_BYTES) and against what the file holds, so a 192-byte file declaring
10**12 elements, or a 2 MB .npz member that expands to gigabytes, costs nothing to refuse.
Arrays holding Python objects are never read (they would be pickles). Plain NumPy.

>>> import io
>>> out = io.BytesIO()
>>> np.save(out, np.arange(3))
>>> _ = out.seek(0)
>>> read_npy(out, len(out.getvalue()), "x")
array([0, 1, 2])
>>> np.lib.format.write_array_header_1_0(out := io.BytesIO(), {"descr": "<f8", "fortran_order": False,
...                                                               "shape": (10**12,)})
>>> _ = out.seek(0)
>>> read_npy(out, len(out.getvalue()), "big")
Traceback (most recent call last):
...
maskdsl.errors.DataError: DataError: big declares float64[1000000000000]: 8,000,000,000,000 bytes, more than the 1,073,741,824 maskdsl reads into memory here (limits.MAX_ARRAY_BYTES: one .npz member for maskdsl run, one :load)
hint: save it as a .npy file: maskdsl run reads those in place
"""

from __future__ import annotations

import zipfile

import numpy as np

from maskdsl import limits
from maskdsl.errors import DataError


class Declared:
    """What a .npy header declares, for checks made before the data is read (check_array)."""

    def __init__(self, dtype: np.dtype, shape: tuple):
        self.dtype, self.shape, self.ndim = dtype, shape, len(shape)


def _header(f) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran_order, dtype) of the .npy at f's position; ValueError if it is not one."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def read_npy(f, available: int, what: str, check=None, limit: int = limits.MAX_ARRAY_BYTES) -> np.ndarray:
    """The array of the .npy at f's position, whose data is at most `available` bytes from the
    start of the .npy. `check(Declared)` runs on the header first; then the size it declares must be
    within `limit` and `available` (DataError), before anything else is read."""
    start = f.tell()
    shape, fortran, dtype = _header(f)
    if dtype.hasobject:
        raise ValueError("it holds Python objects, which are never loaded (pickles)")
    if check is not None:
        check(Declared(dtype, shape))
    count = 1
    for dim in shape:
        count *= dim
    size = count * dtype.itemsize
    if size > limit:
        raise DataError(f"{what} declares {dtype}{list(shape)}: {size:,} bytes, more than the {limit:,} maskdsl "
                        f"reads into memory here (limits.MAX_ARRAY_BYTES: one .npz member for maskdsl run, one "
                        f":load)", hint="save it as a .npy file: maskdsl run reads those in place")
    if f.tell() - start + size > available:
        raise DataError(f"{what} declares {dtype}{list(shape)} ({size:,} bytes), but the file holds only "
                        f"{max(0, available - (f.tell() - start)):,} bytes of data (it is truncated)")
    data = bytearray(size)
    view, done = memoryview(data), 0
    while done < size:
        got = f.readinto(view[done:])
        if not got:
            raise DataError(f"{what} ends after {done:,} of its {size:,} bytes (it is truncated)")
        done += got
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C")


def read_member(archive: zipfile.ZipFile, member: str, what: str, check=None,
                limit: int = limits.MAX_ARRAY_BYTES) -> np.ndarray:
    """The array of one .npy member of an .npz archive, decompressed only as far as its header
    allows (read_npy)."""
    info = archive.getinfo(member)
    with archive.open(info) as f:
        return read_npy(f, info.file_size, what, check, limit)
