"""The Python API: compile(), evaluate() and the compiled program object.

A program is parsed and lowered once. Each distinct input signature (dtypes and
shapes) is a specialisation: passes, code generation and one tf.function. With a
`signature`, that one specialisation is built at compile time (so type and shape
errors surface then) and its tf.function has an input signature, so new shapes of
the same rank never retrace.
"""

from __future__ import annotations

import copy
import inspect
import keyword
import re
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from maskdsl.tf import codegen  # runtime first: it quiets TensorFlow's start-up logging
from maskdsl.tf import runtime as rt
from maskdsl.tf.runtime import tf
from maskdsl.tf.convert import to_tensor
from maskdsl.ir.dtypes import DTYPES, Type
from maskdsl.errors import DTypeError, IndexOutOfRangeError, InputError, LimitError, MaskDSLError, ShapeError
from maskdsl.ir.nodes import Node, Program, format_program, postorder
from maskdsl.ir.ops import REDUCE_OPS, UPDATES
from maskdsl.language.lower import lower
from maskdsl.language.parser import parse
from maskdsl import tiers as tiering
from maskdsl.passes.strategies import FORCEABLE
from maskdsl.specialize import did_you_mean, input_names, signature_types, specialize
from maskdsl.tf.runtime import INDEX_CHECK, TAG
from maskdsl.tf.messages import reason_class, unwrapped
from maskdsl.values import VALUE_LOST, dtype_misfit, find_lost, shape_misfit

_TAG_RE = re.compile(re.escape(TAG) + r"\d+")
_LINE_RE = re.compile(r'File "<maskdsl>", line (\d+)')


@dataclass
class Specialization:
    types: dict
    typed: Program          # after infer_types only (what the reference evaluator runs)
    optimized: Program
    generated: codegen.Generated
    function: object        # the tf.function (plain, or XLA for jit_compile=True)
    jit: bool               # jit_compile=True: every call runs under XLA
    call: object = None     # function's traced concrete function: the cheapest way to call it
    xla_refusal: str | None = None   # "auto": why XLA is never used, or None
    tiers: tiering.Tiers | None = None   # "auto", when XLA may be used: which form runs each shape
    xla_calls: dict = field(default_factory=dict)  # "auto": shapes -> the XLA concrete function for them
    last_xla: bool = False   # the latest call ran under XLA
    xla_generated: codegen.Generated | None = None  # "auto": the code XLA runs, when not `generated`
    kept_plain: list | None = None  # "auto", partly under XLA: (node, why) of what stays on the plain graph

    def xla(self, shapes: tuple) -> object:
        """The XLA form's concrete function for these input shapes: (the program's result, its
        checks' conditions). XLA compiles each shape anyway; traced for it, the runtime's helpers
        see static sizes (a chunked reduction unrolls instead of looping). A program partly under
        XLA is a plain graph calling XLA clusters (xla_generated)."""
        call = self.xla_calls.get(shapes)
        if call is None:
            specs = [tf.TensorSpec(shape, s.dtype, name=s.name)
                     for shape, s in zip(shapes, self.call.structured_input_signature[0])]
            generated = self.xla_generated or self.generated
            named = self.function.python_function
            function = _ByName(generated.function, named.inputs, named.outputs)
            call = tf.function(rt.flagging(function)[0], input_signature=specs, jit_compile=self.kept_plain is None,
                               autograph=False).get_concrete_function()
            self.xla_calls[shapes] = call
        return call


_DTYPE_NAMES = {np.dtype(name): name for name in DTYPES}


def _input_type(name: str, value) -> tuple[object, Type]:
    """Convert one call argument; returns (tensor-or-array, its Type)."""
    if type(value) is not np.ndarray:  # a plain array skips these checks (~40 us: tf.is_tensor tests protocols)
        tensor = _tensor_input(name, value)
        if tensor is not None:
            return tensor
        try:
            value = np.asarray(value)
        except (ValueError, TypeError) as e:
            raise InputError(f"input '{name}' cannot be converted to an array: {e}") from None
    dtype = _DTYPE_NAMES.get(value.dtype) or value.dtype.name  # .name is a slow Python property
    if dtype not in DTYPES:
        raise InputError(f"input '{name}' has unsupported dtype {value.dtype} "
                         f"(supported: {', '.join(DTYPES)})")
    return value, Type(dtype, value.shape)


def _tensor_input(name: str, value) -> tuple[object, Type] | None:
    """(tensor, Type) for a dense tensor; None for anything NumPy should convert; an
    InputError for what neither should (sparse, ragged, masked, text, None, ...)."""
    if isinstance(value, (tf.SparseTensor, tf.RaggedTensor)):
        raise InputError(f"input '{name}' is a {type(value).__name__}; maskdsl takes dense arrays "
                         f"(use tf.sparse.to_dense or .to_tensor())")
    if isinstance(value, np.ma.MaskedArray):  # np.asarray would silently drop the mask
        raise InputError(f"input '{name}' is a masked array; pass np.ma.filled(x, fill) and the mask separately")
    if isinstance(value, (tf.Tensor, tf.Variable)) or tf.is_tensor(value):
        dtype = value.dtype.name
        if dtype not in DTYPES:
            raise InputError(f"input '{name}' has unsupported dtype {dtype}")
        shape = tuple(value.shape.as_list()) if value.shape.rank is not None else None
        if shape is None:
            raise InputError(f"input '{name}' has unknown rank")
        return value, Type(dtype, shape)
    if isinstance(value, (str, bytes, dict, set)) or value is None or callable(value):
        raise InputError(f"input '{name}' must be an array, a list or a number, not {type(value).__name__}")
    return None


def signature_spec(name: str, value):
    """A `signature=` value as a type spec: strings (and Types) as they are; a tf.TensorSpec as
    its dtype and shape; a bare dtype (tf.float32, np.float32, np.dtype("float32")) as a scalar
    of it, like the string "float32"."""
    if isinstance(value, (str, Type)):
        return value
    if isinstance(value, tf.TensorSpec):
        if value.shape.rank is None:
            raise InputError(f"signature for '{name}': {value} has unknown rank; give its dimensions "
                             f"(None for a dimension of any size)", name=name, option="signature")
        return Type(_signature_dtype(name, value.dtype.name), tuple(value.shape.as_list()))
    if isinstance(value, tf.DType):
        return Type(_signature_dtype(name, value.name), ())
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return Type(_signature_dtype(name, np.dtype(value).name), ())
    raise InputError(f"signature for '{name}': expected a type spec such as 'float32[None, 3]', a tf.TensorSpec "
                     f"or a NumPy or TensorFlow dtype (a scalar), not {value!r}", name=name, option="signature")


def _signature_dtype(name: str, dtype: str) -> str:
    if dtype not in DTYPES:
        raise InputError(f"signature for '{name}': maskdsl does not support dtype {dtype} "
                         f"(supported: {', '.join(DTYPES)})", name=name, option="signature")
    return dtype


def bind_arguments(what: str, names: tuple, args, kwargs) -> dict:
    """Match positional and keyword arguments to input names (missing ones are the caller's to report)."""
    if len(args) > len(names):
        raise InputError(f"the {what} takes {len(names)} input{'s' if len(names) != 1 else ''} "
                         f"({', '.join(names) or 'none'}), got {len(args)} positional")
    values = dict(zip(names, args))
    for name, value in kwargs.items():
        if name in values:
            raise InputError(f"input '{name}' given twice")
        if name not in names:
            raise InputError(f"unexpected input '{name}'; the {what}'s inputs are: {', '.join(names) or 'none'}")
        values[name] = value
    return values


class CompiledProgram:
    """A compiled maskdsl program; call it with arrays to run its tf.function."""

    def __init__(self, source: str, *, outputs=None, signature=None, strategy: str = "auto",
                 jit_compile="auto"):
        if strategy not in FORCEABLE:
            raise MaskDSLError(f"unknown strategy {strategy!r}; choose one of {', '.join(FORCEABLE)}",
                               option="strategy")
        if jit_compile not in ("auto", True, False):
            raise MaskDSLError(f"jit_compile must be 'auto', True or False, not {jit_compile!r}",
                               option="jit_compile")
        self.source_text = source
        self.strategy = strategy
        self.jit_compile = jit_compile
        self._program = lower(parse(source), outputs)
        self.inputs = input_names(self._program)
        self.outputs = tuple(name for name, _ in self._program.outputs)
        self._specs: OrderedDict = OrderedDict()
        self._last: Specialization | None = None
        self._lock = threading.Lock()
        self.signature = None
        if signature is not None:
            self._fix_signature(signature)

    def with_signature(self, signature) -> CompiledProgram:
        """This program, parsed and lowered once, compiled for `signature` as if it had been given
        to compile(): a front end learns `inputs` first, then fixes their types."""
        program = copy.copy(self)
        program._specs, program._last, program._lock = OrderedDict(), None, threading.Lock()
        program._fix_signature(signature)
        return program

    # ---- specialisation ----
    def _fix_signature(self, signature) -> None:
        if isinstance(signature, dict):
            signature = {name: signature_spec(name, value) for name, value in signature.items()}
        self.signature = signature_types(self._program, signature)
        self._last = self._specialize(self.signature)

    def _specialize(self, types: dict) -> Specialization:
        key = tuple((name, types[name].dtype, types[name].shape) for name in self.inputs)
        spec = self._specs.get(key)
        if spec is not None:
            return spec
        with self._lock:
            typed, optimized = specialize(self._program, types, strategy=self.strategy,
                                          jit_compile=self.jit_compile)
            generated = codegen.generate(optimized)
            jit, refusal, xla_generated, kept_plain = self._xla_form(optimized, types)
            specs = [tf.TensorSpec(types[n].shape, types[n].dtype, name=n) for n in self.inputs]
            body = rt.xla_cluster(generated.function) if jit else generated.function  # checks asserted outside XLA
            function = tf.function(_ByName(body, self.inputs, self.outputs), input_signature=specs,
                                   autograph=False)
            tiers = tiering.Tiers() if self.jit_compile == "auto" and refusal is None else None
            spec = Specialization(types, typed, optimized, generated, function, jit, None, refusal, tiers,
                                  xla_generated=xla_generated, kept_plain=kept_plain)
            self._specs[key] = spec
            if len(self._specs) > 64:
                self._specs.popitem(last=False)
        return spec

    def _xla_form(self, optimized: Program, types: dict) -> tuple:
        """(every call under XLA, why "auto" never uses XLA, the code "auto"'s XLA form runs when
        it is not the plain graph's, what that form keeps on the plain graph and why)."""
        for_xla = self._for_xla(optimized, types)
        program = optimized if for_xla is None else for_xla
        jit, refusal = self._decide_jit(program)
        if self.jit_compile != "auto":
            return jit, refusal, None, None
        if refusal is None:
            return jit, None, None if for_xla is None else codegen.generate(for_xla), None
        if tiering.data_dependent_shape(program) is None:  # XLA for the parts that keep their bits
            plain = tiering.plain_nodes(program)
            partly = codegen.generate(program, set(plain))
            if partly.clusters:
                return jit, None, partly, list(plain.values())
        return jit, refusal, None, None

    def _for_xla(self, optimized: Program, types: dict) -> Program | None:
        """For "auto": the program optimised for XLA, where that differs from `optimized` (a run-time
        choice between a sparse and a dense form becomes the dense form, whose shapes are static);
        None where it is the same."""
        if self.jit_compile != "auto" or not tiering.chooses_at_run_time(optimized):
            return None
        return specialize(self._program, types, strategy=self.strategy, jit_compile=True)[1]

    def _decide_jit(self, program: Program) -> tuple[bool, str | None]:
        """(every call under XLA, why "auto" never uses XLA). "auto" is tiered (maskdsl/tiers.py):
        the plain graph first, XLA for a shape once its calls have paid for the compile; `program`
        is what XLA would run."""
        if self.jit_compile is True:
            node = tiering.data_dependent_shape(program)
            if node is not None:
                raise MaskDSLError(f"jit_compile=True needs static shapes (shapes that follow from the input "
                                   f"shapes), but {_statement_text(program, node)} makes an array whose size "
                                   f"depends on the data (a selection such as x[m], nonzero, unique)", node.span,
                                   source=self.source_text, option="jit_compile", code="needs-static-shapes",
                                   hint="use jit_compile='auto', or reduce the selection (sum(x[m]) keeps "
                                        "static shapes)")
            return True, None
        if self.jit_compile is False:
            return False, "jit_compile=False"
        return False, tiering.xla_refusal(program)

    @property
    def static_shapes(self) -> bool:
        """Every value's shape follows from the input shapes (XLA can compile it for each input shape)."""
        return tiering.data_dependent_shape(self._current().optimized) is None

    # ---- calling ----
    def _bind_args(self, args, kwargs) -> dict:
        values = bind_arguments("program", self.inputs, args, kwargs)
        missing = [n for n in self.inputs if n not in values]
        if missing:
            node = next(n for n in self._program.inputs if n.attr("name") == missing[0])
            raise InputError(f"missing input{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}: "
                             f"read before it is assigned, so it must be passed in", node.span,
                             source=self.source_text, hint=did_you_mean(self._program, missing[0], node.span))
        return values

    def _convert(self, values: dict) -> tuple[list, dict, tuple]:
        converted, types, shapes = [], {}, []
        for node in self._program.inputs:
            name = node.attr("name")
            try:
                value, t = _input_type(name, values[name])
                shapes.append(t.shape)
                if self.signature is not None:
                    want = self.signature[name]
                    value, t = self._conform(name, value, t, want)
            except InputError as e:  # point at the input's first use in the program
                if e.span is None:
                    e = e.relocated(span=node.span)
                raise e.with_source(self.source_text) from None
            converted.append(value)
            types[name] = t
        return converted, types, tuple(shapes)

    def _conform(self, name, value, t: Type, want: Type):
        if shape_misfit(t.shape, want) is not None:
            raise InputError(f"input '{name}' has shape {list(t.shape)}, the signature says {want}", name=name)
        if t.dtype != want.dtype:
            if not isinstance(value, np.ndarray) or dtype_misfit(t.dtype, want) is not None:
                raise InputError(f"input '{name}' has dtype {t.dtype}, the signature says {want.dtype}", name=name)
            value, lost = find_lost(value, want.dtype)
            if lost is not None:
                raise InputError(f"input '{name}' holds {lost.value!r}{lost.where}, which {want.dtype} cannot "
                                 f"represent (the signature says {want.dtype}; the array is {t.dtype})", name=name,
                                 code=VALUE_LOST)
        return value, want

    @tf.autograph.experimental.do_not_convert  # plain Python: inside a user's @tf.function, AutoGraph
    def __call__(self, /, *args, **kwargs):     # must not try to convert the compiler (and warn about it)
        """Run the program: inputs by position (in the order of `inputs`) or by name, as NumPy
        arrays, lists, scalars or tf.Tensors. Returns a tf.Tensor for one output, a dict
        name -> tf.Tensor for several.

        Without a signature, each new combination of input dtypes and shapes is compiled
        on first use (a specialisation with its own tf.function; kept, up to 64). With
        one, inputs are converted to the declared dtypes where no value changes (an
        InputError otherwise). Errors found while running (an index out of range, a mask
        of the wrong shape) are MaskDSLErrors pointing into the program. Also works inside
        a tf.function, tf.data's map or a GradientTape.
        """
        values = self._bind_args(args, kwargs)
        converted, types, shapes = self._convert(values)
        spec = self._last if self.signature is not None else self._specialize(types)
        self._last = spec
        try:
            result = self._run(spec, converted, shapes)
        except tf.errors.OpError as e:  # InvalidArgument from our checks; OOM, ... from TensorFlow itself
            raise self._runtime_error(spec, e) from None
        except (TypeError, ValueError) as e:
            traced = self._tracing_error(spec, e)  # a TensorFlow op refused its dtypes while tracing
            if traced is None:
                raise
            raise traced from None
        return result

    @staticmethod
    def _run(spec: Specialization, converted: list, shapes: tuple):
        """Call the specialisation's concrete function (plain or XLA, per shape, for "auto")."""
        if spec.call is None:
            spec.call = spec.function.get_concrete_function()
        converted = [v if type(v) is not np.ndarray else to_tensor(v) for v in converted]
        if not tf.executing_eagerly() or any(type(v) is not _EAGER for v in converted):
            return spec.call(*converted)  # in someone's graph, or variables: the checked call, plain
        tiers = spec.tiers
        if tiers is None:
            return _call_flat(spec.call, converted)
        form = tiers.choose(shapes)
        start = time.perf_counter()
        if form == tiering.XLA:
            try:
                result, checks = _call_flat(spec.xla(shapes), converted)
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
                tiers.give_up(shapes)  # XLA could not compile it: the plain graph from now on
                form, result = tiering.PLAIN, _call_flat(spec.call, converted)
            else:
                if not checks.numpy().all():  # a check failed: the plain graph raises its error, with its detail
                    return _call_flat(spec.call, converted)
        else:
            result = _call_flat(spec.call, converted)
        tiers.record(shapes, form, time.perf_counter() - start)
        spec.last_xla = form == tiering.XLA
        return result

    def translate_error(self, error) -> MaskDSLError:
        """The MaskDSLError for a TensorFlow error raised while this program ran inside a
        graph of someone else's (dataset.map, a SavedModel, a Keras model)."""
        return self._runtime_error(self._current(), error)

    def _tracing_error(self, spec: Specialization, error: Exception) -> MaskDSLError | None:
        """A DTypeError for an exception raised by TensorFlow while tracing generated code (an op
        without a kernel for a dtype NumPy supports), pointing at the line's statement; None if the
        exception did not come from the generated code."""
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == "<maskdsl>"]
        if not frames:
            return None
        span = spec.generated.line_spans.get(frames[-1].lineno)
        reason = str(error).strip().split("\n")[0]
        return DTypeError(f"TensorFlow cannot compute this for these dtypes: {reason}", span,
                          source=self.source_text)

    def _runtime_error(self, spec: Specialization, error) -> MaskDSLError:
        message = getattr(error, "message", None) or str(error)
        match = _TAG_RE.search(message)
        if match and match.group(0) in spec.generated.checks:
            check = spec.generated.checks[match.group(0)]
            detail = index_error_detail(message, match.group(0))
            if detail is not None:  # an index out of range, with the index, axis and size
                return IndexOutOfRangeError(detail, check.span, source=self.source_text)
            return check.error(check.message, check.span, source=self.source_text)
        # No check of ours fired: point at the statement whose generated line failed (TensorFlow's
        # traceback names `<maskdsl>`, line N) and quote TensorFlow's own reason.
        lines = [int(n) for n in _LINE_RE.findall(message)]
        span = next((spec.generated.line_spans[n] for n in reversed(lines) if n in spec.generated.line_spans), None)
        reason = next((ln.strip() for ln in message.splitlines()
                       if ln.strip() and not ln.startswith((" ", "\t", "Graph execution", "Detected at", "File "))
                       and "[[{{node" not in ln), message.strip().split("\n")[0])
        reason = unwrapped(reason)   # (inside dataset.map, tf.data's words come first)
        if isinstance(error, tf.errors.ResourceExhaustedError):
            return LimitError(f"the arrays this program makes do not fit in memory (TensorFlow: {reason})", span,
                              source=self.source_text, hint="a size computed from the inputs may be far too large")
        cls = reason_class(reason, default=ShapeError)
        return cls(f"TensorFlow rejected the inputs: {reason}", span, source=self.source_text)

    # ---- introspection ----
    def _current(self) -> Specialization:
        if self._last is None:
            raise MaskDSLError("this program has no signature and has not been called yet, so its types "
                               "are unknown: pass signature=... to compile() or call it once")
        return self._last

    @property
    def source(self) -> str:
        """The TensorFlow Python source that runs (for the latest specialisation)."""
        return self._current().generated.source

    @property
    def tf_function(self):
        """The underlying tf.function of the latest specialisation (for SavedModel export,
        tf.data, tf.distribute). Its arguments are the program's inputs, by position or by
        name (`f.tf_function(x=t)`; an input named `self` or a Python keyword gets a trailing
        `_`: `self_`, `class_`), typed by TensorSpecs; it takes tensors only and returns what
        calling the program returns: a tensor for one output (so `dataset.map(f.tf_function)`
        yields tensors), a dict name -> tensor for several. As a SavedModel signature, TensorFlow
        names a lone output `output_0`."""
        return self._current().function

    @property
    def typed_program(self) -> Program:
        """The IR of the latest specialisation after type inference alone (explain()'s "before")."""
        return self._current().typed

    @property
    def jit(self) -> bool:
        """Whether the latest call ran under XLA: always with jit_compile=True; with "auto", once
        calls of that input shape have repaid XLA's compile and XLA measured faster (tiered
        compilation, docs/performance.md)."""
        spec = self._current()
        return spec.jit or spec.last_xla

    def get_concrete_function(self):
        """The traced graph (tf.types.experimental.ConcreteFunction) of the latest
        specialisation's tf.function, as `tf_function.get_concrete_function()` gives it: for a
        SavedModel signature or to inspect the graph."""
        return self._current().function.get_concrete_function()

    def explain(self) -> ExplainText:
        """How the latest specialisation is compiled: its input types, the typed IR before and
        after the passes, each chosen strategy with its reason and estimated costs, and the
        TensorFlow source. A str; at an interactive prompt it shows as the text itself.
        docs/internals.md, "Reading explain() output", walks through one."""
        spec = self._current()
        lines = ["== inputs =="]
        lines += [f"{name}: {spec.types[name]}" for name in self.inputs] or ["(none)"]
        lines += ["", "== IR before optimisation ==", format_program(spec.typed, types=True)]
        lines += ["", "== IR after optimisation ==", format_program(spec.optimized, types=True)]
        lines += ["", "== strategies =="]
        for line in describe_strategies(spec.optimized):
            lines.append(line)
        lines += ["", "== XLA =="] + _describe_xla(spec)
        lines += ["", f"== TensorFlow source (jit_compile={spec.jit}) ==", spec.generated.source.rstrip()]
        return ExplainText("\n".join(lines))

    def __repr__(self):
        return f"<maskdsl program inputs={self.inputs} outputs={self.outputs}>"

    def _repr_html_(self) -> str:
        """Jupyter's display: the program, highlighted, and the TensorFlow source it runs (once typed)."""
        import html
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
        from maskdsl.language.highlight import MaskDSLLexer

        formatter = HtmlFormatter(noclasses=True)  # inline styles: a notebook has no stylesheet of ours
        parts = [f"<b>maskdsl program</b>: inputs {html.escape(', '.join(self.inputs) or '(none)')}; "
                 f"outputs {html.escape(', '.join(self.outputs) or '(none)')}",
                 highlight(self.source_text, MaskDSLLexer(), formatter)]
        if self._last is None:
            parts.append("<i>No types yet: call it, or compile it with a signature, to see its TensorFlow source.</i>")
        else:
            types = ", ".join(f"{name}: {self._last.types[name]}" for name in self.inputs) or "no inputs"
            parts += [f"TensorFlow source for {html.escape(types)} (jit_compile={self._last.jit}):",
                      highlight(self._last.generated.source, PythonLexer(), formatter)]
        return "<div>" + "\n".join(parts) + "</div>"


class ExplainText(str):
    """explain()'s text: a str that an interactive prompt shows as the text, not as its repr.

    >>> ExplainText("== inputs ==\\nx: int64[3]")
    == inputs ==
    x: int64[3]
    """

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython's display
        printer.text(str(self))


class _ByName:
    """The generated function with the program's input names as its arguments, returning a
    tensor for one output and a dict name -> tensor for several (as calling the program does).

    tf.function binds calls by this signature, so `f.tf_function(x=t)` works although the
    generated code names its parameters `x_0`. It is a callable object, not a function, on
    purpose: tf.function counts tracings per code object, and the specialisations of a
    program share one code, so after the fifth shape TensorFlow warned of retracing "in a
    loop" although each specialisation's tf.function traces once.
    """

    def __init__(self, function, inputs: tuple, outputs: tuple):
        self._function = function
        self.inputs, self.outputs = inputs, outputs
        self._single = outputs[0] if len(outputs) == 1 else None
        self.__name__ = function.__name__
        self.__signature__ = inspect.Signature(
            [inspect.Parameter(parameter_name(n), inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in inputs])

    def __call__(self, *args, **kwargs):
        result = self._function(*self.__signature__.bind(*args, **kwargs).args)
        return result if self._single is None else result[self._single]


def parameter_name(name: str) -> str:
    """The Python parameter for an input: its name, or `name_` for a Python keyword and for
    `self` (which tf.function takes for a method's own argument and leaves out).

    >>> parameter_name("x"), parameter_name("class"), parameter_name("self")
    ('x', 'class_', 'self_')
    """
    return f"{name}_" if keyword.iskeyword(name) or name == "self" else name


def index_error_detail(message: str, tag: str) -> str | None:
    """NumPy's message for a failed run-time index check (runtime.wrap_index), from the data the
    check printed after its tag; None for any other check.

    >>> index_error_detail("assertion failed: [maskdsl-check-2] [index] [7] [axis] [1] [size] [3]", "maskdsl-check-2")
    'index 7 is out of bounds for axis 1 with size 3'
    """
    match = re.search(rf"\[{re.escape(tag)}\] \[{INDEX_CHECK}\] \[(-?\d+)\] \[axis\] \[(\d+)\] \[size\] \[(\d+)\]",
                      message)
    if match is None:
        return None
    value, axis, size = match.groups()
    return f"index {value} is out of bounds for axis {axis} with size {size}"  # as at compile time (ir/indexing.py)


_EAGER = type(tf.constant(0))


def _call_flat(concrete, tensors: list):
    """Call a concrete function with tensors its signature is known to accept (the program's
    dtypes, checked by _convert; shapes of the specialisation's rank), skipping the
    re-binding of arguments that ConcreteFunction.__call__ does on every call."""
    return concrete._call_flat(tensors, concrete.captured_inputs)


def _statement_text(program: Program, node: Node) -> str:
    """`text` of a node, for messages that name a statement (the error's caret says where; a
    pipeline moves the error to its option, and the text still names the step)."""
    if node.span is None or program.source is None:
        return "a statement"
    text = program.source[node.span.start:node.span.end]
    return f"`{text if len(text) <= 40 else text[:37] + '...'}`"


def _describe_xla(spec: Specialization) -> list[str]:
    if spec.jit:
        return ["every call runs under XLA (jit_compile=True)"]
    if spec.tiers is None:
        return [f"not used: {spec.xla_refusal}"]
    lines = ["tiered: the plain graph first; a shape switches to XLA once its calls have repaid XLA's compile "
             "and stays there if XLA measures faster"]
    if spec.kept_plain:
        lines.append(f"partly: {spec.xla_generated.clusters} XLA cluster(s) inside the plain graph; kept on the "
                     f"plain graph, where XLA would change bits:")
        lines += [f"  line {n.span.line if n.span else '?'}: {why}" for n, why in spec.kept_plain[:5]]
    return lines + spec.tiers.describe()


def _written_as(node: Node) -> str:
    """What the program wrote, for a node choose_strategy may have turned into another op
    (an update into dense_update or adaptive_update, a reduction into masked_reduce)."""
    return "update" if node.op in UPDATES else "reduce" if node.op in REDUCE_OPS else node.op


def describe_strategies(program: Program) -> list[str]:
    """One line per annotated node: statement, what was written, strategy, source line, reason; then costs."""
    out = []
    names = {}
    for s in program.statements:
        label = f"{s.target}{s.version}" if s.target else "result"
        names[id(s.value)] = label
    for s in program.statements:
        label = names[id(s.value)]
        for node in postorder([s.value]):
            if node.attr("strategy") is None or (node is not s.value and id(node) in names):
                continue
            where = f"line {node.span.line}" if node.span else "?"
            out.append(f"{label}: {_written_as(node)} -> {node.attr('strategy')} ({where}): {node.attr('reason')}")
            for name, value in node.attr("costs") or ():
                out.append(f"    estimated cost {name}: {value}")
    return out or ["(no selections, updates or reductions)"]


def compile(source: str, *, outputs=None, signature=None, strategy: str = "auto",
            jit_compile="auto") -> CompiledProgram:
    """Compile a maskdsl program into a callable backed by a tf.function."""
    return CompiledProgram(source, outputs=outputs, signature=signature, strategy=strategy,
                           jit_compile=jit_compile)


_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 256


def evaluate(source: str, /, **arrays):  # positional-only: an input may be called `source`
    """Compile (cached by source) and run once: `maskdsl.evaluate("x[x > 4]", x=arr)`."""
    program = _CACHE.get(source)
    if program is None:
        program = compile(source)
        _CACHE[source] = program
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return program(**arrays)
