"""Running a pipeline on data files through tf.data, in batches of rows when it is row-wise.

A row-wise pipeline (maskdsl.pipeline.rowwise) gives the same outputs on consecutive
batches of rows as on all rows at once, so its row inputs are cut into batches that
flow through `tf.data` (`from_generator` -> `map(pipeline.map_fn)` -> `prefetch`), and
memory holds about one batch. Any other pipeline runs once on all rows. With a tf.data
service (maskdsl.pipeline.service) the batches are cut and mapped on the workers;
each carries its index and `in_order` puts them back in order.

TensorFlow is imported when a stream starts, not with this module.

>>> list(in_order(iter([(1, "b"), (0, "a"), (2, "c")]), 3))
[(0, 'a'), (1, 'b'), (2, 'c')]
"""

from __future__ import annotations

from dataclasses import dataclass

from maskdsl.errors import DataError, InputError, MaskDSLError
from maskdsl.pipeline.data_files import InputData, convert, reason

DEFAULT_BATCH_ROWS = 65_536


@dataclass
class Plan:
    batch_rows: int
    batches: int
    streamed: bool     # row-wise: the row inputs are cut into batches


def plan_batches(pipeline, data: InputData, batch_size: int | None) -> Plan:
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise InputError(f"--batch-size must be a positive integer, not {batch_size!r}", option="--batch-size")
    rows = data.rows
    if rows is None or not pipeline.row_wise:
        return Plan(rows or 0, 1, False)
    batch = batch_size or DEFAULT_BATCH_ROWS
    return Plan(batch, max(1, -(-rows // batch)), True)


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
        array, first = data.arrays[name], 0
        if plan.streamed and name in pipeline.row_inputs:
            array, first = array[index * rows:(index + 1) * rows], index * rows
        return convert(name, array, types[name], data.description, first)

    def rows_in(index):
        if data.rows is None:
            return 0
        return min(rows, data.rows - index * rows) if plan.streamed else data.rows

    failed: list[DataError] = []   # a batch whose values do not fit their declared dtype
    specs = {n: tf.TensorSpec(types[n].shape, types[n].dtype, name=n) for n in pipeline.inputs}
    map_fn = tf.autograph.experimental.do_not_convert(pipeline.map_fn)
    try:
        if service:
            from maskdsl.pipeline.service import service_dataset
            dataset = service_dataset(pipeline, data, scalars, plan, service, specs, map_fn)
        else:
            def batches():
                for index in range(plan.batches):
                    try:
                        element = {n: batch_of(n, index) for n in data.arrays}
                    except DataError as e:  # raised inside tf.data it would come back as TensorFlow's error
                        failed.append(e)
                        return
                    element.update(scalars)
                    yield index, element

            dataset = tf.data.Dataset.from_generator(batches,
                                                     output_signature=(tf.TensorSpec([], tf.int64), specs))
            dataset = dataset.map(tf.autograph.experimental.do_not_convert(lambda i, e: (i, map_fn(e))))
            dataset = dataset.prefetch(2)
    except (ValueError, TypeError) as e:  # TensorFlow refused to build the graph for these inputs
        raise DataError(f"TensorFlow rejected the pipeline for these inputs: {reason(e)}") from None

    def results():
        iterator = iter(dataset)
        while True:
            try:
                index, outputs = next(iterator)
            except StopIteration:
                if failed:
                    raise failed[0] from None
                return
            except (tf.errors.InvalidArgumentError, tf.errors.ResourceExhaustedError) as e:
                raise pipeline.runtime_error(e) from None   # out of memory: a LimitError, as from the API
            except tf.errors.OpError as e:
                raise MaskDSLError(f"TensorFlow failed while running the pipeline: {reason(e)}") from None
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
