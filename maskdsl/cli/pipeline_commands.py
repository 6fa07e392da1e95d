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
import sys
import time
import warnings

import numpy as np

from maskdsl.cli.progress import Progress
from maskdsl.cli.startup import start_tensorflow
from maskdsl.errors import DataError, InputError, MaskDSLError, escape_text, listing
from maskdsl.ir.dtypes import Type
from maskdsl.pipeline.batching import plan_batches, stream
from maskdsl.pipeline.config import PipelineWarning
from maskdsl.pipeline.constants import number_from_text
from maskdsl.pipeline.data_files import read_inputs
from maskdsl.pipeline.export import export_saved_model
from maskdsl.pipeline.output import OutputSpool, OutputTarget
from maskdsl.values import cast_exactly


def run_command(args) -> int:
    """`maskdsl run`: returns the exit status (0, or 1 after printing the error)."""
    try:
        return _run(args)
    except MaskDSLError as e:
        print(e, file=sys.stderr)
        return 1
    except OSError as e:  # a disk that fills up, a file that vanished: a DataError, never a traceback
        print(_os_error(e), file=sys.stderr)
        return 1


def export_command(args) -> int:
    """`maskdsl export`: returns the exit status (0, or 1 after printing the error)."""
    try:
        return _export(args)
    except MaskDSLError as e:
        print(e, file=sys.stderr)
        return 1
    except OSError as e:
        print(_os_error(e), file=sys.stderr)
        return 1


def _os_error(e: OSError) -> DataError:
    where = f"{escape_text(e.filename)}: " if isinstance(e.filename, str) else ""
    return DataError(f"{where}{e.strerror or e}")


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
            raise InputError(f"--set {name}={text}: out of range for {want} ({info.min} to {info.max})", name=name)
        return np.asarray(value, dtype=want.dtype)[()]
    converted, lost = cast_exactly(np.asarray(value), want.dtype)  # e.g. 1e6 is inf as float16
    if lost is not None:
        raise InputError(f"--set {name}={text}: out of range for {want}", name=name)
    return converted[()]


# ---- running ----

def _start_tensorflow() -> None:
    if "tensorflow" not in sys.modules:  # (already loaded when called from Python: nothing to hide)
        start_tensorflow()


def _run(args) -> int:
    _start_tensorflow()
    started = time.monotonic()
    pipeline = load_pipeline(args.pipeline)
    pipeline, scalars = apply_settings(pipeline, getattr(args, "set", None))
    target = OutputTarget(args.output, pipeline.outputs, getattr(args, "force", False))
    data = read_inputs(args.input, pipeline, scalars)
    if data.unused:
        print(f"note: {escape_text(data.description)} also has {listing(data.unused)}, which the pipeline does "
              f"not use", file=sys.stderr)
    plan = plan_batches(pipeline, data, getattr(args, "batch_size", None))
    service = getattr(args, "tf_data_service", None)
    label = escape_text(pipeline.name or os.path.basename(os.fspath(args.pipeline)))  # a name may hold ESC
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
    where = f" on the tf.data service {escape_text(service)}" if service else ""
    print(f"{label}: {rows} -> {escape_text(target.path)} ({shapes})")
    why = ""
    if data.rows is not None and not plan.streamed:
        ignored = ", --batch-size ignored" if getattr(args, "batch_size", None) else ""
        why = f" (not row-wise{ignored}: {pipeline.row_wise_reason})"
    print(f"  {how}{where}, {elapsed:.2f} s{why}")
    return 0


# ---- export ----

def _export(args) -> int:
    _start_tensorflow()
    pipeline = load_pipeline(args.pipeline)
    out_dir = export_saved_model(pipeline, args.out_dir, force=bool(getattr(args, "force", False)))
    inputs = ", ".join(f"{n}: {t}" for n, t in pipeline.input_types.items())
    label = escape_text(pipeline.name or os.path.basename(os.fspath(args.pipeline)))
    print(f"{label}: exported to {escape_text(out_dir)}")
    print(f"  serving_default({inputs}) -> {', '.join(pipeline.outputs)}")
    return 0
