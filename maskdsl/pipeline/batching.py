"""Running a checked pipeline on its data files through tf.data, in batches of rows when it can.

A pipeline whose outputs can be computed batch by batch (maskdsl.pipeline.reductions:
row-wise, or with its reductions over the rows combined across batches) has its row
inputs cut into batches that flow through `tf.data` (`from_generator` -> `map(map_fn)`
-> `prefetch`), so memory holds about one batch however large the input: a table is read
a batch at a time (Parquet by row group, CSV by block, TFRecord through tf.data), a .npy
is memory-mapped and sliced. Any other pipeline has every row loaded and runs once.
Batches never straddle two shards, so a directory output gets one file per input shard.
With a tf.data service (maskdsl.pipeline.service) the rows are loaded and the batches
cut and mapped on the workers; each carries its index and `in_order` puts them back.

TensorFlow is imported when a run starts, not with this module.

>>> list(in_order(iter([(1, "b"), (0, "a"), (2, "c")]), 3))
[(0, 'a'), (1, 'b'), (2, 'c')]
>>> [(s, len(b["x"])) for s, b in rebatch(iter([(0, {"x": np.arange(5)}), (0, {"x": np.arange(4)}),
...                                               (1, {"x": np.arange(3)})]), 4)]
[(0, 4), (0, 4), (0, 1), (1, 3)]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from maskdsl.errors import DataError, MaskDSLError
from maskdsl.pipeline.config import PipelineWarning
from maskdsl.pipeline.data_files import InputData, convert, read_inputs, reason

DEFAULT_BATCH_ROWS = 65_536


@dataclass
class Plan:
    batch_rows: int
    batches: int
    streamed: bool     # the row inputs are cut into batches


@dataclass
class RunResult:
    rows: int | None
    batches: int
    batch_rows: int
    streamed: bool


def batch_pipeline(pipeline, stream):
    """The pipeline each batch runs: itself, or (reductions streamed) its batch program."""
    if not stream.decomposed:
        return pipeline
    config = replace(pipeline.config, program_text=stream.batch_text, outputs=stream.batch_outputs, warnings=[])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PipelineWarning)   # already shown for the pipeline itself
        return type(pipeline)(config)


# ---- the rows, batch by batch ----

def rebatch(batches, rows: int):
    """(shard, arrays) batches of any size -> batches of `rows` rows (fewer at a shard's end)."""
    pending, count, current = [], 0, None
    for shard, arrays in batches:
        if current is not None and shard != current and pending:
            yield current, _join(pending)
            pending, count = [], 0
        current = shard
        length = len(next(iter(arrays.values()))) if arrays else 0
        start = 0
        while start < length:
            take = min(rows - count, length - start)
            pending.append({k: v[start:start + take] for k, v in arrays.items()})
            count += take
            start += take
            if count == rows:
                yield shard, _join(pending)
                pending, count = [], 0
    if pending and count:
        yield current, _join(pending)


def _at_least_one(batches, empty: dict):
    produced = False
    for item in batches:
        produced = True
        yield item
    if not produced:
        yield 0, empty


def _join(parts: list[dict]) -> dict:
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def table_batches(plan, batch_rows: int):
    """(shard, row inputs) of a table input, as their declared dtypes."""
    from maskdsl.pipeline import tables
    from maskdsl.pipeline.columns import assemble, table_columns
    from maskdsl.pipeline.csv_lines import row_error
    source, config = plan.table, plan.config
    specs = config.input_specs

    def describe_row(chunk, row, column, message, **fields):
        return row_error(chunk, row, column, message, source, config.csv, **fields)

    columns = sorted({c for n in plan.table_inputs for c in table_columns(specs[n])[0]})
    if source.format == "parquet":
        chunks = tables.iter_parquet(source, columns, batch_rows)
    elif source.format == "csv":
        from maskdsl.pipeline.checking import csv_types
        chunks = tables.iter_csv(source, config.csv, csv_types(plan), batch_rows)
    else:
        from maskdsl.pipeline.tfrecord import iter_tfrecord
        chunks = iter_tfrecord(source, {c: plan.column_kinds.get(c, "float") for c in columns}, batch_rows)
    for chunk in chunks:
        yield chunk.shard, assemble(chunk, specs, plan.table_inputs, describe_row)


def array_batches(data: InputData, names, types: dict, batch_rows: int):
    """(0, row inputs) slices of arrays (a .npy is memory-mapped: only the slice is read)."""
    rows = data.rows or 0
    for start in range(0, rows, batch_rows):
        yield 0, {n: convert(n, data.arrays[n][start:start + batch_rows], types[n], data.description,
                             first_row=start)   # a row in the message is the file's row, not the batch's
                  for n in names}


# ---- running ----

def run_plan(plan, pipeline, output, *, batch_size: int | None, service: str | None, progress) -> RunResult:
    """Run a checked plan (maskdsl.pipeline.checking) with the compiled pipeline, writing to `output`
    (an OutputSet). Streams when plan.stream allows, else loads every row and runs once."""
    from maskdsl.tf.runtime import tf

    config, stream = plan.config, plan.stream
    batch_rows = batch_size or DEFAULT_BATCH_ROWS
    fixed = dict(plan.scalars)
    array_rows = None
    for source, names in plan.arrays:
        data = read_inputs(source.path, config, fixed, needed=list(names))
        for name in names:
            if name not in config.row_inputs or plan.table is not None:
                fixed[name] = convert(name, data.arrays[name], config.inputs[name], data.description)
        row_names = [n for n in names if n in config.row_inputs and plan.table is None]
        if row_names:
            array_rows = (data, row_names)
    if plan.table is not None:
        batches = rebatch(table_batches(plan, batch_rows), batch_rows)
    elif array_rows is not None:
        batches = array_batches(array_rows[0], array_rows[1], config.inputs, batch_rows)
    else:
        batches = iter([(0, {})])
    if plan.table is not None or array_rows is not None:   # no rows at all still runs once, on none
        names = plan.table_inputs if plan.table is not None else array_rows[1]
        batches = _at_least_one(batches, {n: np.zeros((0, *config.inputs[n].shape[1:]), config.inputs[n].dtype)
                                          for n in names})
    streams = stream.streams and (plan.table is not None or array_rows is not None)
    runner = batch_pipeline(pipeline, stream) if streams else pipeline
    if service:
        return _run_on_service(plan, runner, output, batches, fixed, streams, batch_rows, service, progress)
    if not streams:
        batches = _load_all(batches, plan, output)
    specs = {n: tf.TensorSpec(t.shape, t.dtype, name=n) for n, t in runner.input_types.items()}
    failed: list[MaskDSLError] = []   # raised inside tf.data it would come back as TensorFlow's error
    rows_in: dict[int, int] = {}       # batch index -> input rows, for the progress bar

    def elements():
        index = 0
        while True:
            try:
                shard, arrays = next(batches)
            except StopIteration:
                return
            except MaskDSLError as e:
                failed.append(e)
                return
            rows_in[index] = len(next(iter(arrays.values()))) if arrays else 0
            yield index, shard, {**arrays, **fixed}
            index += 1

    signature = (tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int64), specs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PipelineWarning)   # maskdsl run knows what it batches
        map_fn = tf.autograph.experimental.do_not_convert(runner.map_fn)
        try:
            dataset = tf.data.Dataset.from_generator(elements, output_signature=signature)
            dataset = dataset.map(tf.autograph.experimental.do_not_convert(lambda i, s, e: (i, s, map_fn(e))))
            dataset = dataset.prefetch(2)
        except (ValueError, TypeError) as e:  # TensorFlow refused to build the graph for these inputs
            raise DataError(f"TensorFlow rejected the pipeline for these inputs: {reason(e)}") from None
    accumulators = _accumulators(stream) if streams else {}
    constants = set(stream.constants) if streams else set()
    count = rows_done = 0
    iterator = iter(dataset)
    while True:
        try:
            index, shard, outputs = next(iterator)
        except StopIteration:
            if failed:
                raise failed[0] from None
            break
        except (tf.errors.InvalidArgumentError, tf.errors.ResourceExhaustedError) as e:
            if failed:
                raise failed[0] from None
            raise runner.runtime_error(e) from None   # out of memory: a LimitError, as from the API
        except tf.errors.OpError as e:
            if failed:
                raise failed[0] from None
            if _out_of_memory(e):
                raise runner.runtime_error(tf.errors.ResourceExhaustedError(e.node_def, e.op, e.message)) from None
            raise MaskDSLError(f"TensorFlow failed while running the pipeline: {reason(e)}") from None
        values = {k: v.numpy() for k, v in outputs.items()}
        rows = rows_in.pop(int(index), 0)
        _deliver(output, int(shard), values, accumulators, constants, first=count == 0)
        count += 1
        rows_done += rows
        progress.advance(rows)
    _finish(output, pipeline, stream, accumulators)
    return RunResult(rows_done if (plan.table is not None or array_rows is not None) else None, count,
                     batch_rows, streams)


def _out_of_memory(error) -> bool:
    """Whether a TensorFlow error of another class says it ran out of memory (tf.data may wrap a
    ResourceExhaustedError raised inside its map into an error of its own, keeping the text)."""
    from maskdsl.tf.messages import unwrapped
    text = unwrapped(getattr(error, "message", None) or str(error))
    return text.startswith(("OOM when allocating", "ResourceExhausted")) or "ResourceExhaustedError" in text


def _accumulators(stream) -> dict:
    from maskdsl.pipeline.reductions import accumulators
    return accumulators(stream)


def _deliver(output, shard: int, values: dict, accumulators: dict, constants: set, first: bool) -> None:
    batch = {}
    for name, value in values.items():
        if name in accumulators:
            accumulators[name].add(value)
        elif name in constants:
            if first:
                output.set_value(name, value)
        else:
            batch[name] = value
    output.write(shard, batch)


def _finish(output, pipeline, stream, accumulators: dict) -> None:
    for reduction in stream.reductions:
        try:
            value = accumulators[reduction.part].result(reduction.span)
        except MaskDSLError as e:
            raise pipeline.source_map.relocate(e.relocated(source=pipeline.config.program_text)) from None
        output.set_value(reduction.output, value)


def _load_all(batches, plan, output):
    """Every row at once (a pipeline that cannot stream): one batch, shard sizes remembered so
    that a directory output can still be cut into one file per input shard."""
    shards: dict[int, int] = {}
    parts = []
    for shard, arrays in batches:
        parts.append(arrays)
        length = len(next(iter(arrays.values()))) if arrays else 0
        shards[shard] = shards.get(shard, 0) + length
    if not parts:
        parts = [{}]
    output.shard_rows = shards
    joined = _join(parts) if len(parts) > 1 else parts[0]
    return iter([(0, joined)])


def _run_on_service(plan, runner, output, batches, fixed, streams, batch_rows, service, progress) -> RunResult:
    from maskdsl.pipeline.service import service_dataset
    from maskdsl.tf.runtime import tf

    parts = [arrays for _, arrays in batches]
    row_arrays = _join(parts) if len(parts) > 1 else (parts[0] if parts else {})
    rows = len(next(iter(row_arrays.values()))) if row_arrays else None
    data = InputData({**row_arrays, **{k: v for k, v in fixed.items() if k not in plan.scalars}}, rows, "the input")
    count = max(1, -(-rows // batch_rows)) if (rows and streams) else 1
    service_plan = Plan(batch_rows if streams else (rows or 0), count, bool(streams and rows))
    specs = {n: tf.TensorSpec(t.shape, t.dtype, name=n) for n, t in runner.input_types.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PipelineWarning)
        map_fn = tf.autograph.experimental.do_not_convert(runner.map_fn)
        dataset = service_dataset(runner, data, dict(plan.scalars), service_plan, service, specs, map_fn)
    accumulators = _accumulators(plan.stream) if streams else {}
    constants = set(plan.stream.constants) if streams else set()

    def results():
        iterator = iter(dataset)
        while True:
            try:
                index, outputs = next(iterator)
            except StopIteration:
                return
            except (tf.errors.InvalidArgumentError, tf.errors.ResourceExhaustedError) as e:
                raise runner.runtime_error(e) from None   # out of memory: a LimitError, as from the API
            except tf.errors.OpError as e:
                if _out_of_memory(e):
                    raise runner.runtime_error(tf.errors.ResourceExhaustedError(e.node_def, e.op, e.message)) from None
                raise MaskDSLError(f"TensorFlow failed while running the pipeline: {reason(e)}") from None
            yield int(index), {k: v.numpy() for k, v in outputs.items()}

    for index, values in in_order(results(), count):
        _deliver(output, 0, values, accumulators, constants, first=index == 0)
        progress.advance(min(service_plan.batch_rows, (rows or 0) - index * service_plan.batch_rows)
                         if service_plan.streamed else (rows or 0))
    _finish(output, runner, plan.stream, accumulators)
    return RunResult(rows, count, service_plan.batch_rows, service_plan.streamed)


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
