"""`maskdsl run` and `maskdsl export`: pipelines on data files, and as SavedModels.

    maskdsl run PIPELINE --input DATA [--input EXTRA.npz] --output OUT [--format F] [--output-format F]
                [--set NAME=VALUE ...] [--batch-size N] [--force] [--tf-data-service grpc://HOST:PORT]
    maskdsl export PIPELINE OUT_DIR [--force]

Both commands first check everything they can without TensorFlow (maskdsl.pipeline.
checking: the pipeline file, --set, the program's types, the input files' columns, the
output), report every problem found at once, and only then load TensorFlow. `run` then
streams the inputs through tf.data in batches of --batch-size rows when the pipeline
allows (maskdsl.pipeline.batching), writing the outputs under temporary names that are
published at the end (maskdsl.pipeline.output): a failed run writes nothing, and an
existing output is only replaced with --force.

Both commands print a MaskDSLError (pointing into the pipeline file or the data file
where it can) to stderr and return 1.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

from maskdsl.cli.progress import Progress
from maskdsl.cli.startup import start_tensorflow
from maskdsl.errors import DataError, MaskDSLError, escape_text, listing
from maskdsl.pipeline.config import PipelineWarning
from maskdsl.pipeline.settings import scalar_value  # noqa: F401  (where --set values were made before)


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


# ---- loading the pipeline ----

def load_pipeline(path_or_config):
    """The compiled pipeline, with its warnings printed as `warning: FILE:LINE:COL: ...` on stderr."""
    from maskdsl.pipeline.config import PipelineConfig
    from maskdsl.pipeline.pipeline import Pipeline
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PipelineWarning)
        if isinstance(path_or_config, PipelineConfig):
            pipeline = Pipeline(path_or_config)
        else:
            pipeline = Pipeline.from_yaml(os.fspath(path_or_config))
    for w in caught:
        if issubclass(w.category, PipelineWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return pipeline


# ---- running ----

def _start_tensorflow() -> None:
    if "tensorflow" not in sys.modules:  # (already loaded when called from Python: nothing to hide)
        start_tensorflow()


def _inputs(args) -> list:
    given = getattr(args, "input", None)
    return [given] if isinstance(given, (str, os.PathLike)) else list(given or [])


def _run(args) -> int:
    from maskdsl.pipeline.checking import check_run, describe_reason
    started = time.monotonic()
    plan = check_run(args.pipeline, inputs=_inputs(args), input_format=getattr(args, "format", None),
                     output=args.output, output_format=getattr(args, "output_format", None),
                     settings=getattr(args, "set", None), force=getattr(args, "force", False))
    service = getattr(args, "tf_data_service", None)
    if service and plan.place.directory:
        raise MaskDSLError("--tf-data-service writes one output file, not a directory of shards",
                           option="--tf-data-service")
    _start_tensorflow()
    from maskdsl.pipeline.batching import run_plan
    from maskdsl.pipeline.output import OutputSet
    pipeline = load_pipeline(plan.config)
    for description, unused in plan.unused:
        print(f"note: {escape_text(description)} also has {listing(unused)}, which the pipeline does not use",
              file=sys.stderr)
    shards = plan.table.shards if plan.table is not None else ()
    output = OutputSet(plan.place, pipeline.outputs, plan.columns, plan.config.csv, shards, plan.output_types,
                       getattr(args, "force", False))
    label = escape_text(pipeline.name or os.path.basename(os.fspath(args.pipeline)))  # a name may hold ESC
    try:
        progress = Progress(plan.total_rows, label, count_only=plan.total_rows is None)
        try:
            result = run_plan(plan, pipeline, output, batch_size=getattr(args, "batch_size", None),
                              service=service, progress=progress)
        finally:
            progress.close()
        output.commit()
        shapes = output.shapes()
    finally:
        output.close()
    elapsed = time.monotonic() - started
    rows = f"{result.rows:,} rows" if result.rows is not None else "the inputs"
    source = f" from {plan.table.describe()}" if plan.table is not None and plan.table.sharded else ""
    how = (f"{result.batches} batch{'es' if result.batches != 1 else ''} of up to {result.batch_rows:,} rows"
           if result.streamed else "one batch")
    where = f" on the tf.data service {escape_text(service)}" if service else ""
    target = plan.place.path + ("/" if plan.place.directory else "")
    print(f"{label}: {rows}{source} -> {escape_text(target)} ({shapes})")
    why = ""
    if result.rows is not None and not result.streamed and getattr(args, "batch_size", None):
        # (said only when asked for batches: one batch is the normal way to run such a pipeline)
        why = f" (--batch-size ignored, not row-wise: {describe_reason(plan)})"
    elif plan.stream.reductions and result.streamed:
        why = f" ({', '.join(r.output for r in plan.stream.reductions)} combined over the batches)"
    extras = [n for n in pipeline.outputs if n not in plan.columns] if plan.place.is_table else []
    print(f"  {how}{where}, {elapsed:.2f} s{why}")
    if extras:
        print(f"  {', '.join(extras)} (not one value per row) -> {plan.place.extras_path}")
    return 0


# ---- export ----

def _export(args) -> int:
    from maskdsl.pipeline.checking import check_run
    from maskdsl.pipeline.export import check_export_target
    from maskdsl.pipeline.problems import Problems
    problems = Problems()
    plan = None
    with problems.collecting():
        plan = check_run(args.pipeline)
    with problems.collecting():
        check_export_target(args.out_dir, force=bool(getattr(args, "force", False)))
    problems.check()
    _start_tensorflow()
    from maskdsl.pipeline.export import export_saved_model
    pipeline = load_pipeline(plan.config)
    out_dir = export_saved_model(pipeline, args.out_dir, force=bool(getattr(args, "force", False)))
    inputs = ", ".join(f"{n}: {t}" for n, t in pipeline.input_types.items())
    label = escape_text(pipeline.name or os.path.basename(os.fspath(args.pipeline)))
    print(f"{label}: exported to {escape_text(out_dir)}")
    print(f"  serving_default({inputs}) -> {', '.join(pipeline.outputs)}")
    return 0
