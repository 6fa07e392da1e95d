"""Pipelines: a YAML file of typed inputs, constants, program steps and outputs, compiled once.

    pipeline = maskdsl.Pipeline.from_yaml("clean_sensors.yaml")
    pipeline(x=rows, limit=5.0)              # dict name -> tf.Tensor
    pipeline.tf_function                     # tf.function with the declared input signature
    dataset.map(pipeline.map_fn)             # dicts or tuples, batched or single rows
    dataset.map(pipeline.make_map_fn(limit=5.0))   # some inputs fixed

The steps are joined into one program and compiled with the declared types, so every
DSL error is found when the pipeline is loaded and reported at its place in the file.
docs/pipelines.md has the format, the validation rules and what "row-wise" means.
"""

from __future__ import annotations

import re
import threading
import warnings
from functools import cached_property

import numpy as np

from maskdsl import compiler
from maskdsl.errors import InputError, MaskDSLError, escape_message
from maskdsl.ir.dtypes import Type
from maskdsl.pipeline.config import (PerBatchWarning, PipelineConfig, PipelineWarning, config_from_dict, load_config,
                                     program_error, unused_warnings)
from maskdsl.pipeline.rowwise import RowLayout, find_row_layout
from maskdsl.tf.runtime import tf
from maskdsl.values import (VALUE_LOST, Guard, cast_exactly, conversion_guard, dtype_misfit, find_lost, shape_misfit,
                            shown_value)

# The in-graph check of a conversion (_checked_cast) fails with TensorFlow's "assertion failed:
# [maskdsl-value-check:NAME:DTYPE] [ROW] [VALUE]"; runtime_error reads them back from that text.
VALUE_CHECK = "maskdsl-value-check:"
_VALUE_CHECK_RE = re.compile(re.escape(VALUE_CHECK) + r"(\w+):(\w+)\]\s*\[(-?\d+)\]\s*\[([^\]]*)\]")

__all__ = ["Pipeline", "PipelineWarning", "PerBatchWarning"]


class Pipeline:
    """A validated, compiled pipeline. Build one with from_yaml() or from_dict()."""

    def __init__(self, config: PipelineConfig):
        self.config = config
        self.name = config.name
        self.input_types: dict[str, Type] = dict(config.inputs)
        self.inputs: tuple[str, ...] = tuple(config.inputs)
        self.constants = dict(config.constants)
        self.steps = config.steps
        self.outputs: tuple[str, ...] = config.outputs
        self.options = dict(config.options)
        self.source_map = config.source_map
        self.program = self._compile()
        self._warn()

    # ---- construction ----
    @classmethod
    def from_yaml(cls, path_or_text, *, constants: dict | None = None) -> Pipeline:
        """Load a pipeline file (a path) or YAML text; `constants` overrides constant values."""
        return cls(load_config(path_or_text, constants))

    @classmethod
    def from_dict(cls, data: dict, *, constants: dict | None = None) -> Pipeline:
        """A pipeline from plain data with the file's keys (inputs, constants, steps, outputs, ...)."""
        return cls(config_from_dict(data, constants))

    def with_constants(self, **values) -> Pipeline:
        """The same pipeline with some constants given other values (recompiled)."""
        return type(self)(self.config.reloaded(values))

    def to_dict(self) -> dict:
        """Plain data that from_dict() turns back into this pipeline."""
        return self.config.to_dict()

    def _compile(self) -> compiler.CompiledProgram:
        config = self.config
        options = {"strategy": self.options.get("strategy", "auto"),
                   "jit_compile": self.options.get("jit_compile", "auto")}
        try:
            program = compiler.compile(config.program_text, outputs=list(self.outputs), **options)
            # parsed and lowered: its inputs are known, so the declared types of those are its signature
            return program.with_signature({name: config.inputs[name] for name in program.inputs
                                           if name in config.inputs})
        except MaskDSLError as e:
            raise program_error(config, e) from None

    def _warn(self) -> None:
        config = self.config
        for message, item in config.warnings:
            self._warning(message, item)
        unused = [name for name in self.inputs if name not in self.program.inputs]
        for message, item in unused_warnings("input", unused, config.input_node):
            self._warning(message, item)

    def _warning(self, message, item) -> None:
        where = self.config.doc.where(item.key_start if item is not None and item.key_start is not None
                                      else getattr(item, "start", None))
        text = f"{where}: {message}" if where else message   # (a file name can hold control characters)
        warnings.warn(PipelineWarning(escape_message(text)), stacklevel=5)

    # ---- running ----
    def __call__(self, *args, **arrays) -> dict:
        """Run on arrays (NumPy, lists, scalars or tensors); returns a dict name -> tf.Tensor."""
        values = self._bind(args, arrays)
        used = {name: values[name] for name in self.program.inputs}
        try:
            result = self.program(**used)
        except MaskDSLError as e:
            raise self.source_map.relocate(e) from None
        if len(self.outputs) == 1:
            return {self.outputs[0]: result}
        return {name: result[name] for name in self.outputs}

    def _bind(self, args, arrays) -> dict:
        values = compiler.bind_arguments("pipeline", self.inputs, args, arrays)
        self._require_all(values)
        self._same_rows({name: (np.shape(values[name]) if not hasattr(values[name], "shape")
                                else tuple(values[name].shape)) for name in self.row_inputs})
        return values

    def _same_rows(self, shapes: dict) -> None:
        """Every row input has the same number of rows (where the shapes say)."""
        rows = {name: shape[0] for name, shape in shapes.items() if shape and shape[0] is not None}
        if len(set(rows.values())) > 1:
            shown = ", ".join(f"'{n}' has {r}" for n, r in rows.items())
            hint = None
            if not any(spec.rows for spec in self.config.input_specs.values()):
                hint = ("every input whose first dimension is None is taken as one value per row; declare the "
                        "ones that are with 'rows' (e.g. x: float32[rows, 3]) and the others stay any length")
            raise InputError(f"the row inputs have different numbers of rows: {shown}", name=next(iter(rows)),
                             hint=hint, code="rows")

    def _require_all(self, values: dict) -> None:
        """Every declared input is given, even one no step reads (it is part of the signature)."""
        missing = [n for n in self.inputs if n not in values]
        if missing:
            raise InputError("missing input" + ("s " if len(missing) > 1 else " ")
                             + ", ".join(f"'{n}' ({self.input_types[n]})" for n in missing), name=missing[0])

    @cached_property
    def tf_function(self):
        """A tf.function taking every declared input (in declared order, with the declared
        TensorSpecs) and returning a dict name -> tensor of the outputs."""
        inner = self.program.tf_function
        names, used, outputs = list(self.inputs), self.program.inputs, self.outputs
        specs = [tf.TensorSpec(self.input_types[n].shape, self.input_types[n].dtype, name=n) for n in names]

        def pipeline(*args):
            if not _QUIET.active:   # (map_fn has warned already)
                self._warn_if_per_batch()
            values = dict(zip(names, args))
            result = inner(*[values[n] for n in used])
            if not isinstance(result, dict):  # the program's one output
                result = {outputs[0]: result}
            # (an op name cannot start with '_', an output name can)
            return {n: tf.identity(result[n], name=n.lstrip("_") or None) for n in outputs}

        return tf.function(pipeline, input_signature=specs, autograph=False)

    def _warn_if_per_batch(self) -> None:
        """Traced inside a tf.data function (dataset.map), a pipeline that is not row-wise computes
        its reductions over each dataset element, not over the dataset: say so (PerBatchWarning)."""
        if self.row_wise or not _inside_dataset_function():
            return
        warnings.warn(PerBatchWarning(
            f"{self.name or 'the pipeline'} is not row-wise ({self.row_wise_reason}), so inside dataset.map it "
            f"computes its outputs over each dataset element (a batch, or one row), not over the whole dataset; "
            f"`maskdsl run` computes them over all rows (streaming the reductions it can). Filter PerBatchWarning if "
            f"per-element values are what you want."), stacklevel=3)

    @property
    def map_fn(self):
        """A function for dataset.map: elements are dicts (name -> tensor) or tuples in the
        order of `inputs`; see make_map_fn."""
        return self.make_map_fn()

    def make_map_fn(self, **fixed):
        """A dataset.map function with some inputs fixed (e.g. scalars such as a limit).

        Each element holds the other inputs, as a dict or a tuple in declared order. An
        element whose row inputs have the declared rank is a batch of rows: the program
        sees the batch as the leading dimension. An element one rank short (one row, as
        from an unbatched `from_tensor_slices`) is run as a batch of one row, so outputs
        keep a leading dimension (use .unbatch() to get rows back). Returns a dict.

        A pipeline that is not row-wise (`row_wise_reason`) computes its reductions over
        each element, not over the dataset: tracing its map function warns
        (PerBatchWarning).
        """
        unknown = [n for n in fixed if n not in self.input_types]
        if unknown:
            raise InputError(f"unexpected input '{unknown[0]}'; the pipeline's inputs are: {', '.join(self.inputs)}")
        constants = {name: self._fixed_tensor(name, value) for name, value in fixed.items()}
        element_names = [n for n in self.inputs if n not in constants]

        def map_fn(*args):
            if len(args) == 1 and isinstance(args[0], dict):
                values = dict(args[0])
            else:
                if len(args) != len(element_names):
                    raise InputError(f"dataset elements have {len(args)} components, the pipeline needs "
                                     f"{len(element_names)} ({', '.join(element_names)}); use dict elements "
                                     f"or make_map_fn(name=value) to fix the others")
                values = dict(zip(element_names, args))
            for name in values:
                if name in constants:
                    raise InputError(f"input '{name}' is both in the dataset elements and fixed by make_map_fn")
                if name not in self.input_types:
                    raise InputError(f"dataset elements have '{name}', which is not an input of the pipeline "
                                     f"(inputs: {', '.join(self.inputs)})")
            values.update(constants)
            _QUIET.active = True
            try:
                result = self.run_tensors(values)
            finally:
                _QUIET.active = False
            self._warn_if_per_batch()
            return result

        return tf.autograph.experimental.do_not_convert(map_fn)  # plain Python: nothing to convert

    def _fixed_tensor(self, name: str, value):
        """A value fixed by make_map_fn as its declared dtype (maskdsl.values: same_kind, no value changed)."""
        want = self.input_types[name]
        array = np.asarray(value)
        if array.dtype.kind == "O":   # Python integers beyond uint64 (no dtype holds them), or not numbers
            huge = next((v for v in array.flat if isinstance(v, int) and not -2**63 <= v < 2**64), None)
            if huge is not None:
                raise InputError(f"value for '{name}' holds {shown_value(huge)}, which {want.dtype} cannot "
                                 f"represent (the pipeline declares {want})", name=name, code=VALUE_LOST)
        if array.dtype != np.dtype(want.dtype):
            if dtype_misfit(array.dtype.name, want) is not None:
                raise InputError(f"value for '{name}' has dtype {array.dtype}; the pipeline declares {want}",
                                 name=name)
            array, lost = cast_exactly(array, want.dtype)
            if lost is not None:
                raise InputError(f"value for '{name}' holds {shown_value(lost)}, which {want.dtype} cannot represent "
                                 f"(the pipeline declares {want})", name=name, code=VALUE_LOST)
        return tf.constant(array)

    def run_tensors(self, values: dict) -> dict:
        """Run on a dict of tensors (inside dataset.map, a Keras layer or another tf.function).

        Converts dtypes NumPy would convert ("same_kind"), checks ranks and fixed dimensions,
        and runs an element one rank short of the declaration as a batch of one row.
        """
        self._require_all(values)
        tensors, single_rows = [], set()
        rows = set(self.row_inputs)
        for name in self.inputs:
            want = self.input_types[name]
            t = tf.convert_to_tensor(values[name])
            rank = t.shape.rank
            if name in rows and rank == len(want.shape) - 1:
                t = tf.expand_dims(t, 0)
                single_rows.add(True)
            elif name in rows and rank == len(want.shape):
                single_rows.add(False)
            elif rank != len(want.shape):
                raise InputError(f"input '{name}' has shape {t.shape}, the pipeline declares {name}: {want}",
                                 name=name)
            if shape_misfit(t.shape.as_list(), want) is not None:
                raise InputError(f"input '{name}' has shape {t.shape}, the pipeline declares {name}: {want}",
                                 name=name)
            if t.dtype.name != want.dtype:
                if dtype_misfit(t.dtype.name, want) is not None:
                    raise InputError(f"input '{name}' has dtype {t.dtype.name}, the pipeline declares "
                                     f"{name}: {want}", name=name)
                t = self._converted(name, t, want)
            tensors.append(t)
        if len(single_rows) > 1:
            raise InputError("some row inputs are single rows and others batches of rows; "
                             "batch them the same way")
        self._same_rows({name: tuple(t.shape.as_list()) for name, t in zip(self.inputs, tensors) if name in rows})
        if not tf.executing_eagerly():
            return self.tf_function(*tensors)
        try:  # called eagerly (a Keras layer on arrays): TensorFlow's errors are ours to translate
            return self.tf_function(*tensors)
        except tf.errors.OpError as e:
            raise self.runtime_error(e) from None

    def _converted(self, name: str, t, want: Type):
        """`t` as the declared dtype; a value the dtype cannot hold is an error, never a wrap
        (maskdsl.values). Eagerly the values are checked here; in a graph (dataset.map, a Keras
        model) by a check in the graph, only where some value of t's dtype could change."""
        guard = conversion_guard(t.dtype.name, want.dtype)
        if guard is None:
            return tf.cast(t, want.dtype)
        if tf.executing_eagerly() and hasattr(t, "numpy"):
            array, lost = find_lost(t.numpy(), want.dtype)
            if lost is not None:
                raise self.value_error(name, repr(lost.value), lost.where, t.dtype.name)
            return tf.constant(array)
        return _checked_cast(t, want.dtype, guard, name)

    def value_error(self, name: str, value: str, where: str, dtype: str) -> InputError:
        """The error for a value of input `name` that its declared dtype cannot hold, pointing at
        the input's declaration in the file."""
        want = self.input_types[name]
        return self.config.error(f"input '{name}' holds {value}{where}, which {want.dtype} cannot represent "
                                 f"(the pipeline declares {name}: {want}; the values are {dtype})",
                                 self.config.input_node(name), cls=InputError, name=name, code=VALUE_LOST)

    def runtime_error(self, error) -> MaskDSLError:
        """A MaskDSLError (pointing into the file) for an error TensorFlow raised while the
        pipeline ran inside a graph (dataset.map, a SavedModel, a Keras model)."""
        found = _VALUE_CHECK_RE.search(getattr(error, "message", None) or str(error))
        if found and found.group(1) in self.input_types:
            name, dtype, row, value = found.groups()
            return self.value_error(name, value.strip(), f" in row {row}" if int(row) >= 0 else "", dtype)
        return self.source_map.relocate(self.program.translate_error(error))

    # ---- row-wise streaming ----
    @property
    def row_inputs(self) -> tuple[str, ...]:
        """The inputs that hold the rows: those declared with a `rows` first dimension, or, when
        none is, every input whose first dimension is None (maskdsl.pipeline.inputs)."""
        return self.config.row_inputs

    @cached_property
    def layout(self) -> RowLayout:
        """Whether the pipeline is row-wise (see maskdsl.pipeline.rowwise), and if not, why."""
        try:
            return find_row_layout(self.program.typed_program, self.row_inputs)
        except Exception as e:  # the analysis is an optimisation: never fail a pipeline over it
            return RowLayout(False, f"the row analysis failed ({type(e).__name__}: {e})")

    @property
    def row_wise(self) -> bool:
        """Whether running the pipeline on consecutive batches of rows and concatenating the
        results gives what one run on all rows gives (docs/pipelines.md, "Row-wise
        pipelines"): then `maskdsl run` streams the files in batches and `map_fn` may run
        per batch. `row_wise_reason` says why not."""
        return self.layout.row_wise

    @property
    def row_wise_reason(self) -> str | None:
        """Why the pipeline is not row-wise, with where in the file (None when it is)."""
        layout = self.layout
        if layout.row_wise:
            return None
        where = self.source_map.describe(layout.span)
        return f"{layout.reason} at {where}" if where else layout.reason

    # ---- introspection ----
    def explain(self) -> str:
        """The compiled program's explanation (CompiledProgram.explain()): the declared input
        types, the IR before and after the passes, each chosen strategy with its reason and
        estimated costs, and the TensorFlow source."""
        return self.program.explain()

    def __repr__(self):
        name = f" {self.name}" if self.name else ""
        return f"<maskdsl pipeline{name} inputs={self.inputs} outputs={self.outputs}>"


class _Quiet(threading.local):
    active = False


_QUIET = _Quiet()   # set while map_fn runs the tf.function, which then need not warn again


def _inside_dataset_function() -> bool:
    """Whether the function being traced is (inside) a tf.data function such as dataset.map's.
    TensorFlow names those graphs `Dataset_...`; an unexpected graph only means no warning."""
    graph = tf.compat.v1.get_default_graph()
    while graph is not None:
        if str(getattr(graph, "name", "")).startswith("Dataset_"):
            return True
        graph = getattr(graph, "outer_graph", None)
    return False


def _checked_cast(t, dtype: str, guard: Guard, name: str):
    """tf.cast(t, dtype) in a graph, failing with "[maskdsl-value-check:NAME:DTYPE] [ROW] [VALUE]" if a
    value does not survive (Pipeline.runtime_error reads it). The check is one comparison and one
    reduction over t; the row and value are found only when it fails."""
    out = tf.cast(t, dtype)
    conditions = []
    if guard.low is not None:
        conditions.append(tf.greater_equal(t, tf.constant(guard.low, t.dtype)))
    if guard.high is not None:
        conditions.append(tf.less_equal(t, tf.constant(guard.high, t.dtype)))
    if guard.finite:
        stays = tf.math.is_finite(out)
        conditions.append(stays if not t.dtype.is_floating else tf.logical_or(stays, tf.logical_not(
            tf.math.is_finite(t))))
    ok = conditions[0] if len(conditions) == 1 else tf.logical_and(*conditions)

    def fail():
        bad = tf.reshape(tf.logical_not(ok), [-1])
        first = tf.argmax(tf.cast(bad, tf.int32), output_type=tf.int64)
        if t.shape.rank:
            per_row = tf.maximum(tf.reduce_prod(tf.shape(t, out_type=tf.int64)[1:]), 1)
            row = first // per_row
        else:
            row = tf.constant(-1, tf.int64)
        value = tf.gather(tf.reshape(t, [-1]), first)
        assertion = tf.debugging.Assert(False, [f"{VALUE_CHECK}{name}:{t.dtype.name}", row, value], summarize=1)
        with tf.control_dependencies([assertion]):
            return tf.identity(out)

    return tf.cond(tf.reduce_all(ok), lambda: out, fail)
