"""`Apply`: a maskdsl pipeline as a Beam PTransform over a PCollection of batches of rows.

An element is a batch: a pyarrow RecordBatch (its columns read as `maskdsl run` reads a table's,
by maskdsl.pipeline.columns) or a dict of NumPy arrays (name -> array, the row inputs and any
others), optionally keyed: `(key, batch)` comes out as `(key, outputs)`. The transform's result is
a dict of PCollections:

- `rows`: per batch, the outputs with one entry per row or per selected row (a dict name -> array);
- `reduced`: one element, a dict of every other output: the reductions over all the rows
  (combined across batches by `ReduceOverRows`, Beam's CombineGlobally) and the outputs that do not
  depend on the rows (computed once, on an empty batch);
- `errors` (only with `on_error="collect"`, as `maskdsl run` uses it): the MaskDSLErrors met,
  for the launching process to report at their place; otherwise an error fails the Beam job.

How each batch runs comes from maskdsl.pipeline.staging: at most two passes over the data, the
first computing the reductions over the rows that later steps use, broadcast to the second as a
side input.
"""

from __future__ import annotations

import os
import warnings

import apache_beam as beam
import numpy as np

from maskdsl.errors import DataError, MaskDSLError
from maskdsl.pipeline.config import PipelineConfig, PipelineWarning, load_config, type_program
from maskdsl.pipeline.reductions import Accumulator
from maskdsl.pipeline.staging import Stages, plan_stages

ERRORS = "errors"
PARTS = "parts"


def pipeline_config(pipeline) -> PipelineConfig:
    """The config of a maskdsl.Pipeline, a PipelineConfig, or a pipeline file / YAML text."""
    if isinstance(pipeline, PipelineConfig):
        return pipeline
    config = getattr(pipeline, "config", None)
    if isinstance(config, PipelineConfig):
        return config
    return load_config(os.fspath(pipeline) if isinstance(pipeline, os.PathLike) else pipeline)


def _compiled(config: PipelineConfig):
    """A maskdsl Pipeline for a config (loads TensorFlow: called in DoFn.setup, on the worker)."""
    from maskdsl.pipeline.pipeline import Pipeline
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PipelineWarning)   # shown where the pipeline was loaded
        return Pipeline(config)


def _keyed(element):
    """(key, batch) -> (key, batch, True); batch -> (None, batch, False)."""
    if isinstance(element, tuple) and len(element) == 2:
        return element[0], element[1], True
    return None, element, False


def _row_inputs(config: PipelineConfig, batch) -> dict:
    """A batch as arrays: a RecordBatch's columns assembled into the row inputs, or the dict itself."""
    if isinstance(batch, dict):
        return batch
    import pyarrow as pa
    if isinstance(batch, (pa.RecordBatch, pa.Table)):
        from maskdsl.pipeline.columns import Chunk, assemble, table_columns
        from maskdsl.pipeline.tables import arrow_values
        specs = config.input_specs
        columns = sorted({c for n in config.row_inputs for c in table_columns(specs[n])[0]})
        missing = [c for c in columns if c not in batch.schema.names]
        if missing:
            raise DataError(f"a record batch has no column '{missing[0]}' (columns: {', '.join(batch.schema.names)})",
                            name=missing[0])
        chunk = Chunk(0, "a record batch", 0, batch.num_rows,
                      {c: arrow_values(batch.column(c)) for c in columns})

        def describe_row(chunk, row, column, message, **fields):
            return DataError(f"{message} (column '{column}', row {row} of a record batch)", **fields)

        return assemble(chunk, specs, config.row_inputs, describe_row)
    raise DataError(f"a batch must be a dict of arrays or a pyarrow RecordBatch, not {type(batch).__name__}")


def _rows_of(values: dict) -> int:
    return len(next(iter(values.values()))) if values else 0


class _PipelineDoFn(beam.DoFn):
    """Shared by the two passes: the compiled programs (built once per worker, in setup) and errors."""

    def __init__(self, config: PipelineConfig, stages: Stages, fixed: dict, on_error: str):
        self.config, self.stages, self.fixed, self.on_error = config, stages, dict(fixed), on_error

    def failed(self, error: MaskDSLError):
        if self.on_error == "collect":
            return [beam.pvalue.TaggedOutput(ERRORS, error)]
        raise error

    @staticmethod
    def run(program, values: dict) -> dict:
        return {name: np.asarray(value) for name, value in program(**values).items()}


class _ArgumentsDoFn(_PipelineDoFn):
    """Pass 1: each batch's arguments of the reductions later steps use."""

    def setup(self):
        self.programs = [_compiled(self.stages.argument_config(self.config, i))
                         for i in range(len(self.stages.passes))]

    def process(self, element):
        _, batch, _ = _keyed(element)
        try:
            values = {**self.fixed, **_row_inputs(self.config, batch)}
            parts = {}
            for program in self.programs:
                parts.update(self.run(program, {n: values[n] for n in program.inputs if n in values}))
        except MaskDSLError as e:
            yield from self.failed(e)
            return
        yield parts


class _BatchDoFn(_PipelineDoFn):
    """Pass 2: each batch's outputs (main output) and its part of each whole-output reduction (PARTS)."""

    def setup(self):
        self.program = _compiled(self.stages.batch_config(self.config))
        stream = self.stages.stream
        self.parts = {r.part for r in stream.reductions}
        self.constants = set(stream.constants)

    def process(self, element, broadcast=None):
        key, batch, keyed = _keyed(element)
        try:
            values = {**self.fixed, **_row_inputs(self.config, batch), **_broadcast_values(broadcast)}
            outputs = self.run(self.program, {n: values[n] for n in self.program.inputs if n in values})
        except MaskDSLError as e:
            yield from self.failed(e)
            return
        if self.parts:
            yield beam.pvalue.TaggedOutput(PARTS, {n: outputs[n] for n in self.parts})
        rows = {n: v for n, v in outputs.items() if n not in self.parts and n not in self.constants}
        yield (key, rows) if keyed else rows


class _ConstantsDoFn(_PipelineDoFn):
    """The outputs that do not depend on the rows, from one run on an empty batch."""

    def setup(self):
        self.program = _compiled(self.stages.batch_config(self.config))

    def process(self, _, broadcast=None):
        config = self.config
        empty = {n: np.zeros((0, *config.inputs[n].shape[1:]), config.inputs[n].dtype) for n in config.row_inputs}
        try:
            values = {**empty, **self.fixed, **_broadcast_values(broadcast)}
            outputs = self.run(self.program, {n: values[n] for n in self.program.inputs if n in values})
        except MaskDSLError as e:
            yield from self.failed(e)
            return
        yield {n: outputs[n] for n in self.stages.stream.constants}


def _broadcast_values(broadcast) -> dict:
    if not broadcast:
        return {}
    for value in broadcast.values():
        if isinstance(value, MaskDSLError):
            raise value
    return broadcast


class ReduceOverRows(beam.CombineFn):
    """Reductions over the rows as one Beam combiner: an accumulator per reduction (maskdsl.pipeline.
    reductions.Accumulator), fed each batch's part (`add_input`) and merged across workers.

    `reductions`: (key of the part in each input, key of the result, kind, axes, keepdims, dtype, shape,
    span). A reduction that has no value (the minimum of no rows) gives its located error as its result.
    """

    def __init__(self, config: PipelineConfig, reductions: tuple):
        self.config, self.reductions = config, tuple(reductions)

    def create_accumulator(self):
        return {part: Accumulator(kind, axes, keepdims, dtype, shape)
                for part, _, kind, axes, keepdims, dtype, shape, _ in self.reductions}

    def add_input(self, accumulators, parts):
        for part, accumulator in accumulators.items():
            if part in parts:
                accumulator.add(parts[part])
        return accumulators

    def merge_accumulators(self, many):
        many = iter(many)
        merged = next(many)
        for other in many:
            for part, accumulator in merged.items():
                accumulator.merge(other[part])
        return merged

    def extract_output(self, accumulators):
        out = {}
        for part, result, *_, span in self.reductions:
            try:
                out[result] = accumulators[part].result(span)
            except MaskDSLError as e:
                source_map = self.config.source_map
                out[result] = source_map.relocate(e.relocated(source=self.config.program_text))
        return out


class _Merge(beam.DoFn):
    """The reductions and the constants, as one dict (errors to ERRORS or raised)."""

    def __init__(self, on_error: str):
        self.on_error = on_error

    def process(self, _, reductions, constants):
        values = {**(reductions or {}), **(constants or {})}
        for value in values.values():
            if isinstance(value, MaskDSLError):
                if self.on_error == "collect":
                    yield beam.pvalue.TaggedOutput(ERRORS, value)
                    return
                raise value
        yield values


class Apply(beam.PTransform):
    """Run a maskdsl pipeline on a PCollection of batches of rows (see the module docstring).

    `pipeline`: a maskdsl.Pipeline, a pipeline file or YAML text. `fixed`: values of inputs that are
    not rows (scalars such as a limit), the same for every batch; a batch may also carry them.
    The input is a PCollection of batches, or a pair of PCollections holding the same batches: a
    pipeline with a first pass (`self.stages.broadcasts`) then reads the first and runs its second
    pass on the other, so that a source can be read twice instead of the runner holding every batch
    between the passes.
    A pipeline that cannot run batch by batch raises a located ConfigError here, before any job runs.
    """

    def __init__(self, pipeline, fixed: dict | None = None, *, on_error: str = "raise", label: str | None = None):
        super().__init__(label)
        if on_error not in ("raise", "collect"):
            raise ValueError(f"on_error must be 'raise' or 'collect', not {on_error!r}")
        self.config = pipeline_config(pipeline)
        self.stages = plan_stages(self.config, type_program(self.config))
        self.fixed = dict(fixed or {})
        self.on_error = on_error

    def expand(self, batches):
        config, stages, fixed, on_error = self.config, self.stages, self.fixed, self.on_error
        first = batches
        if isinstance(batches, tuple):   # the same batches twice: a source read once per pass
            first, batches = batches
        errors = []
        broadcast = None
        if stages.broadcasts:
            arguments = first | "Arguments" >> beam.ParDo(_ArgumentsDoFn(config, stages, fixed, on_error)) \
                .with_outputs(ERRORS, main="parts")
            errors.append(arguments[ERRORS])
            combined = arguments["parts"] | "Broadcast" >> beam.CombineGlobally(ReduceOverRows(config, tuple(
                (b.part, b.name, b.kind, b.axes, b.keepdims, b.dtype, b.shape, b.span) for b in stages.broadcasts)))
            broadcast = beam.pvalue.AsSingleton(combined)
        side = {"broadcast": broadcast} if broadcast is not None else {}
        run = _BatchDoFn(config, stages, fixed, on_error)
        outputs = batches | "Batches" >> beam.ParDo(run, **side).with_outputs(ERRORS, PARTS, main="rows")
        errors.append(outputs[ERRORS])
        stream = stages.stream
        reductions = outputs[PARTS] | "Reduce" >> beam.CombineGlobally(ReduceOverRows(config, tuple(
            (r.part, r.output, r.kind, r.axes, r.keepdims, r.dtype, r.shape, r.span) for r in stream.reductions)))
        once = batches.pipeline | "Once" >> beam.Create([None])
        constants_fn = _ConstantsDoFn(config, stages, fixed, on_error)
        if stream.constants:
            constants = once | "Constants" >> beam.ParDo(constants_fn, **side).with_outputs(ERRORS, main="values")
            errors.append(constants[ERRORS])
            constant_values = beam.pvalue.AsSingleton(constants["values"])
        else:
            constant_values = None
        merged = once | "Reduced" >> beam.ParDo(_Merge(on_error), beam.pvalue.AsSingleton(reductions),
                                                constant_values).with_outputs(ERRORS, main="reduced")
        errors.append(merged[ERRORS])
        result = {"rows": outputs["rows"], "reduced": merged["reduced"]}
        if on_error == "collect":
            result[ERRORS] = tuple(errors) | "Errors" >> beam.Flatten()
        return result
