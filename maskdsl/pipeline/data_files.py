""".npy and .npz files: reading arrays (never with pickles) and writing them.

One array is a .npy file, several are a .npz archive of .npy members named after
them. `maskdsl run` reads a pipeline's inputs from such a file (`read_inputs`: a .npy
is memory-mapped, members are read when needed, each array is checked against its
declared type) and writes its outputs in the same formats (`write_npz`, the
.npy writers, used by `maskdsl.pipeline.output`); the REPL's `:load` reads with
`read_arrays` and its `:save` writes with the same writers. Plain NumPy: no TensorFlow.

Reads are bounded: only regular files are opened (maskdsl.pipeline.files), and an array
read into memory (an .npz member, a file the REPL loads) is read only after its .npy
header: its dtype and shape are checked first (against the declared input, for `run`),
and it is refused if it declares more than limits.MAX_ARRAY_BYTES or more than the file
holds. A .npz member that expands to gigabytes is never decompressed to find out.

>>> import io
>>> out = io.BytesIO()
>>> write_npz(out, [ArrayMember("x", np.arange(3))])
>>> with np.load(io.BytesIO(out.getvalue())) as archive:
...     archive["x"]
array([0, 1, 2])
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass, field

import numpy as np

from maskdsl import limits
from maskdsl.errors import DataError, escape_text, listing
from maskdsl.ir.dtypes import DTYPES, Type
from maskdsl.pipeline.files import open_regular
from maskdsl.pipeline.npy import read_member, read_npy
from maskdsl.values import DIMENSION, RANK, UNSUPPORTED_DTYPE, VALUE_LOST, dtype_misfit, find_lost, shape_misfit


def load(file, *, mmap: bool = False):
    """np.load without pickles: an ndarray for .npy content (a read-only memory map with mmap,
    when `file` is a path), an NpzFile for .npz content. NumPy's exceptions pass through."""
    return np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)


def reason(error: Exception) -> str:
    """The first line of an exception's message, short enough for one of ours."""
    text = str(error).strip().split("\n")[0] or type(error).__name__
    return text if len(text) < 200 else text[:197] + "..."


def supported(array: np.ndarray) -> bool:
    """A dtype maskdsl computes with (not object, complex, strings, ...)."""
    return array.dtype.name in DTYPES


# ---- a pipeline's inputs ----

@dataclass
class InputData:
    arrays: dict          # name -> np.ndarray (possibly a read-only memmap)
    rows: int | None      # rows of the row inputs (None when the pipeline has none in the file)
    description: str      # for messages: the file name
    unused: list = field(default_factory=list)   # arrays of a .npz that the pipeline does not read


def read_inputs(path: str, pipeline, given: dict, needed=None) -> InputData:
    """The arrays of the inputs not `given` (with --set), checked against the declared types.

    `pipeline` is a Pipeline or a PipelineConfig (its input types and row inputs); `needed`
    the inputs to find in this file (default: every input not given)."""
    types = getattr(pipeline, "input_types", None) or pipeline.inputs
    row_inputs = set(pipeline.row_inputs)
    needed = [n for n in (types if needed is None else needed) if n not in given]
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"no such input file: {path!r}")
    if os.path.isdir(path):
        raise DataError(f"input {path!r} is a directory, not a .npz or .npy file")
    _regular(path, "input file")   # not /dev/zero, a FIFO or a device
    arrays, unused = {}, []
    if path.endswith(".npy"):
        if len(needed) != 1:
            scalars = [n for n in needed if not types[n].shape]
            raise DataError(f"a .npy file holds one array, but the pipeline needs "
                            f"{len(needed)} inputs from the file ({', '.join(needed) or 'none'}); use a .npz "
                            f"with one array per input" + (" or --set for scalars" if needed else ""),
                            hint=f"give scalars with --set, e.g. --set {scalars[0]}=VALUE" if scalars else None)
        try:
            arrays[needed[0]] = load(path, mmap=True)
        except Exception as e:
            raise DataError(f"cannot read {path!r} as a .npy file for input '{needed[0]}': {reason(e)}") from None
    elif path.endswith(".npz"):
        try:
            archive = load(path)
        except Exception as e:
            raise DataError(f"cannot read {path!r} as a .npz file: {reason(e)}") from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(f"{path!r} is not a .npz archive")
        with archive:
            missing = [DataError(f"{path} has no array '{name}' (it has: {listing(archive.files)}); "
                                 f"the pipeline needs {name}: {types[name]}", name=name, code="missing-input",
                                 hint=f"give it with --set {name}=VALUE" if not types[name].shape else None)
                       for name in needed if name not in archive.files]
            if missing:
                from maskdsl.pipeline.problems import combine
                raise combine(missing)
            for name in needed:
                want = types[name]
                try:
                    member = f"{name}.npy" if f"{name}.npy" in archive.zip.namelist() else name
                    arrays[name] = read_member(archive.zip, member, f"array '{name}' in {path}",
                                               lambda declared, name=name, want=want:
                                               check_array(name, declared, want, path))
                except DataError:
                    raise
                except Exception as e:
                    raise DataError(f"cannot read array '{name}' from {path!r}: {reason(e)}", name=name) from None
            unused = [n for n in archive.files if n not in types]
            for name in archive.files:
                if name in given:
                    raise DataError(f"'{name}' is both in {path} and given with --set", name=name)
    else:
        raise DataError(f"unsupported input file {path!r}: use .npz (one array per input) or .npy (one input)")
    for name, array in arrays.items():
        check_array(name, array, types[name], path)
    rows = {name: arrays[name].shape[0] for name in types if name in row_inputs and name in arrays}
    if len(set(rows.values())) > 1:
        shown = ", ".join(f"'{n}' has {r}" for n, r in rows.items())
        hint = None
        if not any(getattr(s, "rows", False) for s in getattr(_config_of(pipeline), "input_specs", {}).values()):
            hint = ("every input whose first dimension is None is taken as one value per row; declare the ones "
                    "that are with 'rows' (e.g. x: float32[rows, 3]) and the others stay any length")
        raise DataError(f"the row inputs of {path} have different numbers of rows: {shown}", hint=hint, code="rows")
    return InputData(arrays, next(iter(rows.values()), None), path, unused)


def _config_of(pipeline):
    return getattr(pipeline, "config", pipeline)


def check_array(name: str, array: np.ndarray, want: Type, source: str) -> None:
    """DataError unless `array` can be the input `name: want` (maskdsl.values: same rank and
    fixed dims; a dtype that converts under NumPy's same_kind rule, as the Python API converts)."""
    described = f"array '{name}' in {source} has dtype {array.dtype} and shape {tuple(array.shape)}"
    expected = f"the pipeline declares {name}: {want}"
    dtype = dtype_misfit(array.dtype.name, want)
    if dtype is not None and dtype.code == UNSUPPORTED_DTYPE:
        raise DataError(f"{described}; {expected} (supported dtypes: {', '.join(DTYPES)})", name=name,
                        code=dtype.code)
    shape = shape_misfit(array.shape, want)
    if shape is not None and shape.code == RANK:
        raise DataError(f"{described}, but {expected} (rank {len(want.shape)}, not {array.ndim})", name=name,
                        code=shape.code)
    if shape is not None and shape.code == DIMENSION:
        raise DataError(f"{described}, but {expected} (axis {shape.axis} must be {want.shape[shape.axis]})",
                        name=name, code=shape.code)
    if dtype is not None:
        raise DataError(f"{described}, but {expected}; {array.dtype} does not convert to {want.dtype} "
                        f"(NumPy's same_kind rule)", name=name, code=dtype.code)


def convert(name: str, array: np.ndarray, want: Type, source: str, first_row: int = 0) -> np.ndarray:
    """A checked array (check_array) as its declared dtype, C-ordered; a DataError if converting
    would change a value (maskdsl.values.find_lost: no wrap-around, no overflow to inf), naming
    the row (`array` starts at row `first_row` of the file's array)."""
    out, lost = find_lost(array, want.dtype)
    if lost is not None:
        where = f" in row {lost.index[0] + first_row}" if lost.index else ""
        raise DataError(f"array '{name}' in {source} holds {lost.value!r}{where}, which {want.dtype} cannot "
                        f"represent (the pipeline declares {name}: {want}; the array is {np.asarray(array).dtype})",
                        name=name, code=VALUE_LOST)
    return np.asarray(out, order="C")


# ---- the REPL's :load ----

def read_arrays(path: str) -> tuple[dict[str, np.ndarray], bool]:
    """(arrays, is_archive) of a .npy file (one array, under the file's stem) or a .npz file
    (under their keys), told apart by their content; `~` is expanded. Each array is read after
    its header, within limits.MAX_ARRAY_BYTES and what the file holds."""
    shown = escape_text(path)
    try:
        with open_regular(os.path.expanduser(path)) as f:
            if f.read(len(np.lib.format.MAGIC_PREFIX)) == np.lib.format.MAGIC_PREFIX:
                f.seek(0)
                array = read_npy(f, os.fstat(f.fileno()).st_size, shown)
                return {os.path.splitext(os.path.basename(path))[0]: array}, False
            f.seek(0)
            with zipfile.ZipFile(f) as archive:
                members = [m for m in archive.namelist() if m.endswith(".npy")]
                if len(members) != len(archive.namelist()):
                    raise ValueError("an .npz archive holds only .npy members")
                arrays, budget = {}, limits.MAX_ARRAY_BYTES   # for the whole archive, not each member
                for m in members:
                    arrays[m[:-4]] = read_member(archive, m, f"'{escape_text(m[:-4])}' in {shown}", limit=budget)
                    budget -= arrays[m[:-4]].nbytes
                return arrays, True
    except OSError as e:
        raise DataError(f"cannot read {shown}: {e.strerror or e}") from None
    except (ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        raise DataError(f"cannot load {shown}: not a .npy or .npz file of numbers ({reason(e)})") from None


def _regular(path: str, what: str) -> None:
    """DataError unless `path` is a regular file (a device or a FIFO never ends)."""
    try:
        open_regular(path).close()
    except OSError as e:
        raise DataError(f"cannot read {what} '{escape_text(path)}': {e.strerror or e}") from None


def check_supported(path: str, name: str, array: np.ndarray) -> np.ndarray:
    """The array in native byte order, or a DataError for a dtype maskdsl does not compute with."""
    if not supported(array):
        raise DataError(f"cannot load {escape_text(path)}: '{name}' has dtype {array.dtype}, which maskdsl "
                        f"does not support ({', '.join(DTYPES)})", name=name, code=UNSUPPORTED_DTYPE)
    return array.astype(array.dtype.name, copy=False)


# ---- writing ----

class ArrayMember:
    """An array in memory, to be written as a .npy file or as a member of a .npz archive."""

    def __init__(self, name: str, array: np.ndarray):
        self.name, self.array = name, np.asarray(array)

    def write_npy(self, out) -> None:
        np.lib.format.write_array(out, self.array, allow_pickle=False)


def write_npy_header(out, dtype: np.dtype, shape: tuple) -> None:
    """The header of a C-ordered .npy of `dtype` and `shape`; the raw data follows it."""
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    try:
        np.lib.format.write_array_header_1_0(out, header)
    except ValueError:  # a header longer than 64 KiB
        np.lib.format.write_array_header_2_0(out, header)


def copy_data(source, out) -> None:
    """Append the raw bytes of an open file (from its start) to `out`."""
    source.seek(0)
    shutil.copyfileobj(source, out, 1 << 20)


def write_npz(out, members) -> None:
    """A .npz archive (uncompressed, as np.savez writes) with one `<name>.npy` per member; each
    member has `.name` and `.write_npy(file)` (ArrayMember, output.OutputSpool)."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for member in members:
            with archive.open(f"{member.name}.npy", "w", force_zip64=True) as file:
                member.write_npy(file)

