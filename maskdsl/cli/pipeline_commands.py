"""`maskdsl run` and `maskdsl export`: pipelines on .npz/.npy files, and as SavedModels.

    maskdsl run PIPELINE --input data.npz --output out.npz [--set NAME=VALUE ...]
                [--batch-size N] [--force] [--tf-data-service grpc://HOST:PORT]
    maskdsl export PIPELINE OUT_DIR [--force]

`run` reads the inputs (a .npy is memory-mapped), and when the pipeline is row-wise
streams them through tf.data in batches of --batch-size rows, appending each output's
batches to a spool file, so memory stays proportional to one batch. The output is
written to a temporary file next to it and renamed into place: it never exists half
written, and an existing file is only replaced with --force. With --tf-data-service
the map runs on a tf.data service cluster; batches carry their index and are put back
in order, so the output is the same as a local run.

Both commands print a MaskDSLError (pointing into the pipeline file where it can) to
stderr and return 1.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import tempfile
import time
import uuid
import warnings
import zipfile
from dataclasses import dataclass

import numpy as np

from maskdsl.ir.dtypes import DTYPES, Type
from maskdsl.errors import DataError, InputError, MaskDSLError
from maskdsl.pipeline.config import PipelineWarning, number_from_text

DEFAULT_BATCH_ROWS = 65_536
MAX_SERVICE_BYTES = 1 << 30        # inputs sent to a tf.data service travel inside the dataset graph
_SERVICE = re.compile(r"(grpc://)?(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})\Z")


def run_command(args) -> int:
    """`maskdsl run`: returns the exit status (0, or 1 after printing the error)."""
    try:
        return _run(args)
    except MaskDSLError as e:
        print(e, file=sys.stderr)
        return 1


def export_command(args) -> int:
    """`maskdsl export`: returns the exit status (0, or 1 after printing the error)."""
    try:
        return _export(args)
    except MaskDSLError as e:
        print(e, file=sys.stderr)
        return 1


# ---- loading the pipeline and the --set values ----

def load_pipeline(path):
    """The pipeline, with its warnings printed as `warning: FILE:LINE:COL: ...` on stderr."""
    from maskdsl.pipeline.pipeline import Pipeline
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PipelineWarning)
        pipeline = Pipeline.from_yaml(os.fspath(path))
    for w in caught:
        if issubclass(w.category, PipelineWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return pipeline


def apply_settings(pipeline, settings) -> tuple[object, dict]:
    """--set NAME=VALUE: a scalar input's value, or a new value for a constant.

    Returns the (possibly recompiled) pipeline and the scalar inputs as NumPy scalars.
    """
    values, constants = {}, {}
    for setting in settings or ():
        name, equals, text = str(setting).partition("=")
        name, text = name.strip(), text.strip()
        if not equals or not name or not text:
            raise InputError(f"--set expects NAME=VALUE, got {setting!r}")
        if name in values or name in constants:
            raise InputError(f"--set {name} is given twice")
        if name in pipeline.constants:
            constants[name] = number_from_text(text, f"--set {name}")
        elif name in pipeline.input_types:
            values[name] = scalar_value(name, text, pipeline.input_types[name])
        else:
            scalars = [n for n, t in pipeline.input_types.items() if not t.shape]
            raise InputError(f"--set {name}: the pipeline has no scalar input or constant named {name!r} "
                             f"(scalar inputs: {', '.join(scalars) or 'none'}; constants: "
                             f"{', '.join(pipeline.constants) or 'none'})")
    if constants:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PipelineWarning)  # already shown for this file
            pipeline = pipeline.with_constants(**constants)
    return pipeline, values


def scalar_value(name: str, text: str, want: Type):
    """The value of `--set NAME=TEXT` for a scalar input of type `want`."""
    if want.shape:
        raise InputError(f"--set {name}: input '{name}' is {want}, not a scalar; give it in the --input file")
    if want.dtype == "bool":
        table = {"true": True, "false": False, "1": True, "0": False}
        if text.lower() not in table:
            raise InputError(f"--set {name}={text}: expected true or false for {name}: {want}")
        return np.bool_(table[text.lower()])
    value = number_from_text(text, f"--set {name}")
    kind = np.dtype(want.dtype).kind
    if kind in "iu":
        if isinstance(value, float):
            if not value.is_integer():
                raise InputError(f"--set {name}={text}: {name} is {want}, which holds whole numbers")
            value = int(value)
        info = np.iinfo(want.dtype)
        if not info.min <= value <= info.max:
            raise InputError(f"--set {name}={text}: out of range for {want} ({info.min} to {info.max})")
    return np.asarray(value, dtype=want.dtype)[()]


# ---- reading the data ----

@dataclass
class InputData:
    arrays: dict          # name -> np.ndarray (possibly a read-only memmap)
    rows: int | None      # rows of the row inputs (None when the pipeline has none in the file)
    description: str      # for messages: the file name


def read_inputs(path: str, pipeline, given: dict) -> InputData:
    """The arrays of the inputs not set with --set, checked against the declared types."""
    needed = [n for n in pipeline.inputs if n not in given]
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"no such input file: {path!r}")
    if os.path.isdir(path):
        raise DataError(f"input {path!r} is a directory, not a .npz or .npy file")
    arrays = {}
    if path.endswith(".npy"):
        if len(needed) != 1:
            raise DataError(f"a .npy file holds one array, but the pipeline needs "
                            f"{len(needed)} inputs from the file ({', '.join(needed) or 'none'}); use a .npz "
                            f"with one array per input" + (" or --set for scalars" if needed else ""))
        arrays[needed[0]] = _load_npy(path, needed[0])
    elif path.endswith(".npz"):
        try:
            archive = np.load(path, allow_pickle=False)
        except Exception as e:
            raise DataError(f"cannot read {path!r} as a .npz file: {_reason(e)}") from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(f"{path!r} is not a .npz archive")
        with archive:
            for name in needed:
                if name not in archive.files:
                    raise DataError(f"{path} has no array '{name}' (it has: {', '.join(archive.files) or 'none'}); "
                                    f"the pipeline needs {name}: {pipeline.input_types[name]}")
                try:
                    arrays[name] = archive[name]
                except Exception as e:
                    raise DataError(f"cannot read array '{name}' from {path!r}: {_reason(e)}") from None
            extra = [n for n in archive.files if n not in pipeline.input_types]
            if extra:
                print(f"note: {path} also has {', '.join(extra)}, which the pipeline does not use",
                      file=sys.stderr)
            for name in archive.files:
                if name in given:
                    raise DataError(f"'{name}' is both in {path} and given with --set")
    else:
        raise DataError(f"unsupported input file {path!r}: use .npz (one array per input) or .npy (one input)")
    for name, array in arrays.items():
        check_array(name, array, pipeline.input_types[name], path)
    rows = {name: arrays[name].shape[0] for name in pipeline.row_inputs if name in arrays}
    if len(set(rows.values())) > 1:
        shown = ", ".join(f"'{n}' has {r}" for n, r in rows.items())
        raise DataError(f"the row inputs of {path} have different numbers of rows: {shown}")
    return InputData(arrays, next(iter(rows.values()), None), path)


def _load_npy(path: str, name: str):
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as e:
        raise DataError(f"cannot read {path!r} as a .npy file for input '{name}': {_reason(e)}") from None


def _reason(error: Exception) -> str:
    text = str(error).strip().split("\n")[0] or type(error).__name__
    return text if len(text) < 200 else text[:197] + "..."


def check_array(name: str, array: np.ndarray, want: Type, source: str) -> None:
    """DataError unless `array` can be the input `name: want` (same rank and fixed dims; a dtype
    that converts under NumPy's same_kind rule, as the Python API converts)."""
    described = f"array '{name}' in {source} has dtype {array.dtype} and shape {tuple(array.shape)}"
    expected = f"the pipeline declares {name}: {want}"
    if array.dtype.name not in DTYPES:
        raise DataError(f"{described}; {expected} (supported dtypes: {', '.join(DTYPES)})")
    if array.ndim != len(want.shape):
        raise DataError(f"{described}, but {expected} (rank {len(want.shape)}, not {array.ndim})")
    for axis, (have, need) in enumerate(zip(array.shape, want.shape)):
        if need is not None and have != need:
            raise DataError(f"{described}, but {expected} (axis {axis} must be {need})")
    if array.dtype.name != want.dtype and not np.can_cast(array.dtype, want.dtype, "same_kind"):
        raise DataError(f"{described}, but {expected}; {array.dtype} does not convert to {want.dtype} "
                        f"(NumPy's same_kind rule)")


# ---- writing the outputs ----

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
                            f"({self.dtype}{list(self.tail or ())} then {array.dtype}{list(array.shape[1:])})")
        self.file.write(array.tobytes())
        self.rows += 0 if self.scalar else array.shape[0]

    @property
    def shape(self) -> tuple:
        return () if self.scalar else (self.rows, *self.tail)

    def write_npy(self, out) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        try:
            np.lib.format.write_array_header_1_0(out, header)
        except ValueError:  # a header longer than 64 KiB
            np.lib.format.write_array_header_2_0(out, header)
        self.file.seek(0)
        shutil.copyfileobj(self.file, out, 1 << 20)

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
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{os.path.basename(self.path)}.",
                                         suffix=".part")
        try:
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; the output should not be
            with os.fdopen(fd, "wb") as out:
                if self.path.endswith(".npy"):
                    spools[0].write_npy(out)
                else:
                    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                        for spool in spools:
                            with archive.open(f"{spool.name}.npy", "w", force_zip64=True) as member:
                                spool.write_npy(member)
                out.flush()
                os.fsync(out.fileno())
            publish(temporary, self.path, self.force)
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


# ---- progress ----

class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int | None, label: str, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.label = total, label
        self.enabled = bool(total) and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done, self.shown_at = 0, 0.0

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if self.enabled and (now - self.shown_at > 0.1 or self.done >= self.total):
            self.shown_at = now
            fraction = min(1.0, self.done / self.total)
            bar = "#" * int(fraction * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {fraction:4.0%} {self.done:,}/{self.total:,} rows")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.shown_at:
            self.stream.write("\n")
            self.stream.flush()


# ---- running ----

@dataclass
class Plan:
    batch_rows: int
    batches: int
    streamed: bool     # row-wise: the row inputs are cut into batches


def plan_batches(pipeline, data: InputData, batch_size: int | None) -> Plan:
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise InputError(f"--batch-size must be a positive integer, not {batch_size!r}")
    rows = data.rows
    if rows is None or not pipeline.row_wise:
        return Plan(rows or 0, 1, False)
    batch = batch_size or DEFAULT_BATCH_ROWS
    return Plan(batch, max(1, -(-rows // batch)), True)


def _start_tensorflow() -> None:
    """Load TensorFlow without its C++ start-up chatter on the terminal (the cli's loader)."""
    if "tensorflow" in sys.modules:
        return
    try:
        from maskdsl.cli.command import start_tensorflow
    except ImportError:
        return
    start_tensorflow()


def _run(args) -> int:
    _start_tensorflow()
    started = time.monotonic()
    pipeline = load_pipeline(args.pipeline)
    pipeline, scalars = apply_settings(pipeline, getattr(args, "set", None))
    target = OutputTarget(args.output, pipeline.outputs, getattr(args, "force", False))
    data = read_inputs(args.input, pipeline, scalars)
    plan = plan_batches(pipeline, data, getattr(args, "batch_size", None))
    service = getattr(args, "tf_data_service", None)
    label = pipeline.name or os.path.basename(os.fspath(args.pipeline))
    spools = [OutputSpool(name, target.directory) for name in pipeline.outputs]
    try:
        progress = Progress(data.rows, label)
        try:
            for outputs, rows in stream(pipeline, data, scalars, plan, service):
                for spool in spools:
                    spool.append(outputs[spool.name])
                progress.advance(rows)
        finally:
            progress.close()
        target.write(spools)
        shapes = ", ".join(f"{s.name} {s.dtype}{list(s.shape)}" for s in spools)
    finally:
        for spool in spools:
            spool.close()
    elapsed = time.monotonic() - started
    rows = f"{data.rows:,} rows" if data.rows is not None else "the inputs"
    how = (f"{plan.batches} batch{'es' if plan.batches != 1 else ''} of up to {plan.batch_rows:,} rows"
           if plan.streamed else "one batch")
    where = f" on the tf.data service {service}" if service else ""
    print(f"{label}: {rows} -> {target.path} ({shapes})")
    why = ""
    if data.rows is not None and not plan.streamed:
        ignored = ", --batch-size ignored" if getattr(args, "batch_size", None) else ""
        why = f" (not row-wise{ignored}: {pipeline.row_wise_reason})"
    print(f"  {how}{where}, {elapsed:.2f} s{why}")
    return 0


def stream(pipeline, data: InputData, scalars: dict, plan: Plan, service: str | None):
    """Yield (outputs as NumPy arrays, rows consumed) per batch, in order.

    Every input travels in the dataset's elements (or, on a service, is sliced from
    constants whose static shapes are hidden), never as a constant TensorFlow could fold:
    a bad index must reach maskdsl's run-time checks, not fail TensorFlow's shape inference.
    """
    from maskdsl.tf.runtime import tf

    types = pipeline.input_types
    rows = plan.batch_rows

    def batch_of(name, index):
        array = data.arrays[name]
        if plan.streamed and name in pipeline.row_inputs:
            array = array[index * rows:(index + 1) * rows]
        return np.asarray(array, dtype=types[name].dtype, order="C")

    def rows_in(index):
        if data.rows is None:
            return 0
        return min(rows, data.rows - index * rows) if plan.streamed else data.rows

    specs = {n: tf.TensorSpec(types[n].shape, types[n].dtype, name=n) for n in pipeline.inputs}
    map_fn = tf.autograph.experimental.do_not_convert(pipeline.map_fn)
    try:
        if service:
            dataset = _service_dataset(pipeline, data, scalars, plan, service, specs, map_fn)
        else:
            def batches():
                for index in range(plan.batches):
                    element = {n: batch_of(n, index) for n in data.arrays}
                    element.update(scalars)
                    yield index, element

            dataset = tf.data.Dataset.from_generator(batches,
                                                     output_signature=(tf.TensorSpec([], tf.int64), specs))
            dataset = dataset.map(tf.autograph.experimental.do_not_convert(lambda i, e: (i, map_fn(e))))
            dataset = dataset.prefetch(2)
    except (ValueError, TypeError) as e:  # TensorFlow refused to build the graph for these inputs
        raise DataError(f"TensorFlow rejected the pipeline for these inputs: {_reason(e)}") from None

    def results():
        iterator = iter(dataset)
        while True:
            try:
                index, outputs = next(iterator)
            except StopIteration:
                return
            except tf.errors.InvalidArgumentError as e:
                raise pipeline.runtime_error(e) from None
            except tf.errors.OpError as e:
                raise MaskDSLError(f"TensorFlow failed while running the pipeline: {_reason(e)}") from None
            yield int(index), {k: v.numpy() for k, v in outputs.items()}

    for index, outputs in in_order(results(), plan.batches):
        yield outputs, rows_in(index)


def in_order(tagged, count: int):
    """(index, item) pairs arriving in any order -> the same pairs in index order 0..count-1.

    Fails if an index is missing or repeated (the tf.data service promises at most once,
    not exactly once, if a worker restarts), so a partial result is never written.
    """
    pending, expected = {}, 0
    for index, item in tagged:
        if index in pending or index < expected or not 0 <= index < count:
            raise MaskDSLError(f"batch {index} arrived twice or out of range; the output was not written")
        pending[index] = item
        while expected in pending:
            yield expected, pending.pop(expected)
            expected += 1
    if expected != count:
        raise MaskDSLError(f"only {expected + len(pending)} of {count} batches arrived (a tf.data service worker "
                           f"may have restarted); the output was not written")


def _service_dataset(pipeline, data, scalars, plan, service, specs, map_fn):
    """Batches cut on the service's workers from constants in the dataset graph (remote workers
    cannot read local files), mapped there, each tagged with its index."""
    from maskdsl.tf.runtime import tf

    match = _SERVICE.match(service)
    if not match:
        raise InputError(f"--tf-data-service expects grpc://HOST:PORT, got {service!r}")
    host, port = match.group("host").strip("[]"), int(match.group("port"))
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as e:
        raise MaskDSLError(f"cannot reach the tf.data service at {service}: {e.strerror or e}") from None
    size = sum(a.nbytes for a in data.arrays.values())
    if size > MAX_SERVICE_BYTES:
        raise DataError(f"{size:,} bytes of input are too many to send to a tf.data service inside the dataset "
                        f"graph (limit {MAX_SERVICE_BYTES:,}); run locally or split the input")
    types = pipeline.input_types
    values = {n: np.asarray(a, dtype=types[n].dtype, order="C") for n, a in data.arrays.items()}
    values.update(scalars)
    rows = plan.batch_rows
    sliced = [n for n in values if plan.streamed and n in pipeline.row_inputs]

    def element(index):
        out = {}
        for name, value in values.items():
            # the declared (unknown) dimensions, so nothing is folded at graph-building time
            t = tf.compat.v1.placeholder_with_default(tf.constant(value), specs[name].shape)
            out[name] = t[index * rows:(index + 1) * rows] if name in sliced else t
        return index, out

    def mapped(i):
        index, inputs = element(i)
        return index, map_fn(inputs)

    dataset = tf.data.Dataset.range(plan.batches).map(tf.autograph.experimental.do_not_convert(mapped))
    # distributed_epoch: each batch is processed once, by whichever worker asks first; no order
    # is promised, so in_order() puts the batches back by their index.
    address = service if service.startswith("grpc://") else f"grpc://{service}"
    return dataset.apply(tf.data.experimental.service.distribute(
        processing_mode="distributed_epoch", service=address, job_name=f"maskdsl-{uuid.uuid4().hex}"))


# ---- export ----

def _export(args) -> int:
    _start_tensorflow()
    from maskdsl.tf.runtime import tf

    pipeline = load_pipeline(args.pipeline)
    out_dir = os.fspath(args.out_dir).rstrip("/\\") or os.fspath(args.out_dir)
    force = bool(getattr(args, "force", False))
    parent = os.path.dirname(os.path.abspath(out_dir))
    if not os.path.isdir(parent):
        raise DataError(f"cannot write {out_dir!r}: the directory {parent!r} does not exist")
    if os.path.exists(out_dir) and not force:
        raise DataError(f"{out_dir} already exists; pass --force to overwrite it")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise DataError(f"{out_dir} exists and is not a directory")
    temporary = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(out_dir)}.")
    old = None
    try:
        module = tf.Module()
        module.pipeline = pipeline.tf_function
        signature = pipeline.tf_function.get_concrete_function()
        tf.saved_model.save(module, temporary, signatures={"serving_default": signature})
        if pipeline.config.doc.text is not None:
            extra = os.path.join(temporary, "assets.extra")
            os.makedirs(extra, exist_ok=True)
            with open(os.path.join(extra, "pipeline.yaml"), "w", encoding="utf-8") as f:
                f.write(pipeline.config.doc.text)
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(out_dir)}.old.")
            os.rmdir(old)
            os.rename(out_dir, old)
        os.rename(temporary, out_dir)
    finally:
        if os.path.exists(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
        if old is not None:
            if os.path.exists(out_dir):
                shutil.rmtree(old, ignore_errors=True)
            else:  # put the previous export back
                os.rename(old, out_dir)
    inputs = ", ".join(f"{n}: {t}" for n, t in pipeline.input_types.items())
    print(f"{pipeline.name or os.path.basename(os.fspath(args.pipeline))}: exported to {out_dir}")
    print(f"  serving_default({inputs}) -> {', '.join(pipeline.outputs)}")
    return 0
