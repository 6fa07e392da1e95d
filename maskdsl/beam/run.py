"""`maskdsl run --runner beam`: a checked run (maskdsl.pipeline.checking) as a Beam job.

The job: the input shards (`Create`, which Beam spreads over the workers) -> each shard read in
batches of --batch-size rows on a worker (the readers of `maskdsl run`: batching.table_batches,
rebatch) -> `Apply` -> each batch's outputs written to a part file under a temporary directory
(Beam's FileSystems: `temp_location` when given, else next to the output) -> the reductions and
errors beside them. The launching process then reads the parts in input order and writes them with
the single-machine writer (maskdsl.pipeline.output.OutputSet), so the files are those `maskdsl run`
writes: same formats, same names, published atomically, nothing written when any batch failed.

Runner options go to Beam unchanged (`--beam-option runner=FlinkRunner` -> `--runner=FlinkRunner`);
without a runner, the embedded one: Beam's DirectRunner in `multi_processing` mode with one worker
process per CPU (`direct_num_workers`).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import tempfile
import uuid
from dataclasses import dataclass, replace

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics, MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from maskdsl.beam.transform import ERRORS, Apply
from maskdsl.errors import ConfigError, MaskDSLError
from maskdsl.pipeline.batching import DEFAULT_BATCH_ROWS, RunResult, array_batches, rebatch, table_batches
from maskdsl.pipeline.data_files import ArrayMember, convert, read_inputs, write_npz

EMBEDDED = ("--direct_running_mode=multi_processing", "--default_sdk_harness_log_level=WARNING")
ROWS = Metrics.counter("maskdsl", "rows")
REDUCED = "reduced.npz"


@dataclass
class BeamRun:
    result: RunResult
    runner: str
    workers: int | None


def beam_arguments(options, workers: int | None = None) -> list[str]:
    """`--beam-option KEY=VALUE` texts as Beam's command-line arguments, the embedded runner's
    defaults first (a later argument wins, so every one of them can be overridden)."""
    out = list(EMBEDDED) + [f"--direct_num_workers={workers or os.cpu_count() or 1}"]
    for text in options or ():
        key, sep, value = str(text).partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise ConfigError(f"--beam-option {text!r}: expected KEY=VALUE (a Beam pipeline option, e.g. "
                              f"runner=FlinkRunner)", option="--beam-option")
        out.append(f"--{key}={value}")
    return out


def _option(arguments: list[str], name: str) -> str | None:
    found = None
    for argument in arguments:
        key, _, value = argument.partition("=")
        if key == f"--{name}":
            found = value
    return found


class _ReadShard(beam.DoFn):
    """One shard of the table, batch by batch: ((shard, batch), row inputs)."""

    def __init__(self, plan, batch_rows: int, count: bool = True):
        self.plan = replace(plan, typed=None)   # (IR nodes do not pickle)
        self.batch_rows, self.count = batch_rows, count

    def process(self, shard):
        plan = self.plan
        one = replace(plan, table=replace(plan.table, shards=(plan.table.shards[shard],)))
        try:
            for number, (_, arrays) in enumerate(rebatch(table_batches(one, self.batch_rows), self.batch_rows)):
                if self.count:
                    ROWS.inc(len(next(iter(arrays.values()))) if arrays else 0)
                yield (shard, number), arrays
        except MaskDSLError as e:
            yield beam.pvalue.TaggedOutput(ERRORS, _in_shard(e, plan.table.shards[shard]))


def _in_shard(error: MaskDSLError, path: str) -> MaskDSLError:
    return error if error.filename or error.span is not None else error.relocated(filename=path)


class _WriteParts(beam.DoFn):
    """Each batch's outputs to `DIR/SHARD-BATCH.npz`."""

    def __init__(self, directory: str):
        self.directory = directory

    def process(self, element):
        (shard, number), outputs = element
        buffer = io.BytesIO()
        _npz(buffer, outputs)
        name = f"{shard:06d}-{number:09d}.npz"
        with FileSystems.create(FileSystems.join(self.directory, name)) as out:
            out.write(buffer.getvalue())


def _npz(out, arrays: dict) -> None:
    """(not np.savez: an output may be called `file` or `allow_pickle`)"""
    write_npz(out, [ArrayMember(name, array) for name, array in arrays.items()])


def _write_reduced(directory: str):
    def write(values: dict):
        buffer = io.BytesIO()
        _npz(buffer, values)
        with FileSystems.create(FileSystems.join(directory, REDUCED)) as out:
            out.write(buffer.getvalue())
    return write


def _write_error(directory: str):
    def write(error: MaskDSLError):
        with FileSystems.create(FileSystems.join(directory, f"error-{uuid.uuid4().hex}.pickle")) as out:
            out.write(pickle.dumps(error))
    return write


def run_on_beam(plan, output, *, batch_size: int | None, options=(), workers: int | None = None) -> BeamRun:
    """Run a checked plan as a Beam job and write its outputs into `output` (an OutputSet, committed by
    the caller). Raises the first MaskDSLError any worker met, at its place."""
    arguments = beam_arguments(options, workers)
    apply = Apply(plan.config, fixed=_fixed(plan), on_error="collect")   # refuses what cannot be split, first
    batch_rows = batch_size or DEFAULT_BATCH_ROWS
    temporary = _option(arguments, "temp_location")
    local = temporary is None
    if local:
        temporary = tempfile.mkdtemp(dir=output.parent, prefix=".maskdsl-beam-")
    else:
        temporary = FileSystems.join(temporary, f"maskdsl-{uuid.uuid4().hex}")
    try:
        job = beam.Pipeline(options=PipelineOptions(arguments))
        batches, read_errors, rows = _batches(job, plan, batch_rows)
        if apply.stages.broadcasts and plan.table is not None:   # two passes: the shards are read twice
            first, first_errors, _ = _batches(job, plan, batch_rows, "First")
            batches, read_errors = (first, batches), (*read_errors, *first_errors)
        out = batches | "Run" >> apply
        _ = out["rows"] | "Write" >> beam.ParDo(_WriteParts(temporary))
        _ = out["reduced"] | "WriteReduced" >> beam.Map(_write_reduced(temporary))
        errors = (out[ERRORS], *read_errors) | "AllErrors" >> beam.Flatten()
        _ = errors | "WriteErrors" >> beam.Map(_write_error(temporary))
        with _importable_by_workers():
            try:
                result = job.run()
                result.wait_until_finish()
            except MaskDSLError:
                raise
            except Exception as e:   # a worker that died, a runner that could not start: Beam's own words
                raise MaskDSLError(f"the Beam job failed: {_first_line(e)}", option="--runner") from None
        count = _assemble(temporary, output)
        if rows is None:
            counters = result.metrics().query(MetricsFilter().with_namespace("maskdsl").with_name("rows"))["counters"]
            rows = sum((c.committed if c.committed is not None else c.attempted) or 0 for c in counters)
    finally:
        if local:
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            _remove(temporary)
    runner = _option(arguments, "runner") or "DirectRunner"
    embedded = runner in ("DirectRunner", "direct")
    return BeamRun(RunResult(rows, count, batch_rows, True), runner,
                   int(_option(arguments, "direct_num_workers")) if embedded else None)


@contextlib.contextmanager
def _importable_by_workers():
    """The embedded runner's workers are Python processes started here: they import the maskdsl this
    process runs (a checkout, say) rather than whichever one their own sys.path finds first."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # holds maskdsl/
    before = {name: os.environ.get(name) for name in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL")}
    os.environ["PYTHONPATH"] = os.pathsep.join([root, *([before["PYTHONPATH"]] if before["PYTHONPATH"] else [])])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # (TensorFlow's start-up chatter, once per worker)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _first_line(error: Exception) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__


def _fixed(plan) -> dict:
    """The inputs that are not rows: --set scalars and the arrays of a .npz given beside a table."""
    config = plan.config
    fixed = dict(plan.scalars)
    for source, names in plan.arrays:
        data = read_inputs(source.path, config, fixed, needed=list(names))
        for name in names:
            if name not in config.row_inputs or plan.table is not None:
                fixed[name] = convert(name, data.arrays[name], config.inputs[name], data.description)
    return {name: np.asarray(value, config.inputs[name].dtype) if name in plan.scalars else value
            for name, value in fixed.items()}


def _batches(job, plan, batch_rows: int, label: str = ""):
    """The PCollection of ((shard, batch), row inputs), and the PCollections of read errors."""
    config = plan.config
    if plan.table is not None:
        read = (job | f"{label}Shards" >> beam.Create(list(range(len(plan.table.shards))))
                | f"{label}Read" >> beam.ParDo(_ReadShard(plan, batch_rows, count=not label))
                .with_outputs(ERRORS, main="batches"))
        return read["batches"], (read[ERRORS],), None
    # row inputs from a .npz/.npy: cut here (the file is on this machine), handed to the workers
    elements, rows = [], 0
    for source, names in plan.arrays:
        names = [n for n in names if n in config.row_inputs]
        if names:
            data = read_inputs(source.path, config, dict(plan.scalars), needed=names)
            elements = [((0, i), arrays) for i, (_, arrays) in
                        enumerate(array_batches(data, names, config.inputs, batch_rows))]
            rows = data.rows or 0
    return job | "Batches" >> beam.Create(elements), (), rows


def _assemble(directory: str, output) -> int:
    """Read the parts back in input order into the output set; raise the first error found."""
    names = [m.path.rsplit("/", 1)[-1] for m in FileSystems.match([FileSystems.join(directory, "*")])[0].metadata_list]
    errors = sorted(n for n in names if n.startswith("error-"))
    if errors:
        found = [_load_error(FileSystems.join(directory, n)) for n in errors]
        raise min(found, key=lambda e: (e.filename or "", e.line or 0))
    parts = sorted(n for n in names if n[0].isdigit())
    for name in parts:
        with FileSystems.open(FileSystems.join(directory, name)) as f, np.load(io.BytesIO(f.read())) as arrays:
            values = {k: arrays[k] for k in arrays.files}
        output.write(int(name.split("-")[0]), values)
    if REDUCED in names:
        with FileSystems.open(FileSystems.join(directory, REDUCED)) as f, np.load(io.BytesIO(f.read())) as arrays:
            for name in arrays.files:
                output.set_value(name, arrays[name])
    return len(parts)


def _load_error(path: str) -> MaskDSLError:
    with FileSystems.open(path) as f:
        return pickle.loads(f.read())


def _remove(directory: str) -> None:
    try:
        FileSystems.delete([directory])
    except Exception:   # (a remote temporary directory left behind is the user's temp_location's to expire)
        pass
