"""A program typed for one input signature: everything maskdsl.compile does before code generation.

`signature_types` checks a `signature=` against the program's inputs, `specialize`
binds the types and runs the passes. The compiler then generates TensorFlow code from
the result; `maskdsl check --signature` stops here. Plain Python: no TensorFlow.

>>> from maskdsl.language.lower import lower
>>> from maskdsl.language.parser import parse
>>> program = lower(parse("x[x > 4] *= 2"))
>>> types = signature_types(program, {"x": "int32[None]"})
>>> typed, optimized = specialize(program, types)
>>> optimized.statements[0].value.attr("strategy")
'where'
>>> signature_types(program, {"x": "int32[None]", "y": "int8"})
Traceback (most recent call last):
...
maskdsl.errors.UnknownNameError: UnknownNameError: signature names 'y', which the program never reads (inputs: x)
"""

from __future__ import annotations

import difflib

import numpy as np

from maskdsl import limits
from maskdsl.errors import InputError, LimitError, MaskDSLError, Span, UnknownNameError
from maskdsl.ir.bind import bind
from maskdsl.ir.dtypes import Type, numel
from maskdsl.ir.nodes import Program
from maskdsl.passes import PASSES, optimize
from maskdsl.passes.infer_types import infer_types

NEVER_READ, NOT_IN_SIGNATURE = "never-read", "not-in-signature"   # UnknownNameError.code


def input_names(program: Program) -> tuple[str, ...]:
    """The names a lowered program reads before assigning them, in order of first use."""
    return tuple(n.attr("name") for n in program.inputs)


def did_you_mean(program: Program, name: str, span=None, known=()) -> str | None:
    """A hint naming the closest to `name` of the names the program assigns before `span` (where
    it reads `name`, which nothing assigned) and of `known` ones; None when none is close.

    >>> from maskdsl.language.lower import lower
    >>> from maskdsl.language.parser import parse
    >>> program = lower(parse("lognmae_var = 1; y = lognmae_vr; value2 = value1"))
    >>> [did_you_mean(program, n.attr("name"), n.span) for n in program.inputs]
    ["did you mean 'lognmae_var'?", None]
    """
    assigned = (s.target for s in program.statements
                if s.target and (span is None or s.span is None or s.span.end <= span.start))
    names = dict.fromkeys([*assigned, *known])
    names.pop(name, None)
    close = difflib.get_close_matches(name, list(names), n=1)
    return f"did you mean '{close[0]}'?" if close else None


def signature_types(program: Program, signature) -> dict[str, Type]:
    """name -> Type for a `signature=` (name -> type spec) of a lowered program.

    Every name must be an input of the program (UnknownNameError, code NEVER_READ) and
    every input must have a type (UnknownNameError at the input's first use, code
    NOT_IN_SIGNATURE); a bad spec is an InputError. Each error names the input (`name`).
    """
    if not isinstance(signature, dict):
        raise InputError("signature must be a dict of name -> type spec, e.g. {'x': 'float32[None]'}",
                         option="signature")
    inputs = input_names(program)
    types = {}
    for name, spec in signature.items():
        if name not in inputs:
            raise UnknownNameError(f"signature names '{name}', which the program never reads "
                                   f"(inputs: {', '.join(inputs) or 'none'})", name=name, code=NEVER_READ)
        try:
            types[name] = Type.parse(spec)
        except MaskDSLError as e:
            raise InputError(f"signature for '{name}': {e.message}", name=name, option="signature") from None
    missing = [n for n in program.inputs if n.attr("name") not in types]
    if missing:
        name = missing[0].attr("name")
        raise UnknownNameError(f"unknown name '{name}': it is read before it is assigned and is not in the "
                               f"signature", missing[0].span, source=program.source, name=name,
                               code=NOT_IN_SIGNATURE, hint=did_you_mean(program, name, missing[0].span, types))
    return types


def specialize(program: Program, types: dict[str, Type], *, strategy: str = "auto",
               jit_compile="auto") -> tuple[Program, Program]:
    """(typed, optimized): the program with typed inputs after type inference alone (what the
    reference evaluator and explain() show as "before"), and after every pass."""
    typed = optimize(bind(program, types), (infer_types,))
    # xla_branch stays off: XLA's transcendental functions differ from TensorFlow's in the last bit,
    # so a dense branch under XLA would make the result depend on the branch taken (maskdsl/tiers.py)
    options = {"strategy": strategy, "xla": jit_compile is True, "xla_branch": False}
    optimized = optimize(typed, PASSES[1:], options=options)
    try:
        check_size(optimized, program.source)
    except MaskDSLError as e:
        raise e.with_source(program.source) from None
    return typed, optimized


CONSTRUCTORS = ("arange", "fill")   # ops that make an array of a size the program chose


def check_size(program: Program, source: str | None = None) -> None:
    """LimitError before TensorFlow is asked, if the program makes more than
    limits.MAX_CONSTRUCTED_BYTES from constant shapes (all constructors together: an allocation
    that fails inside TensorFlow can end the process), or has more than limits.MAX_OPERATIONS
    operations (TensorFlow takes about a millisecond to build each one when the program is first
    called). The error points at the node that crosses the limit."""
    made, operations = 0, 0
    for node in program.nodes():
        if node.op in ("const", "input"):
            continue
        operations += 1
        if operations > limits.MAX_OPERATIONS:
            # at the end of the operation that crosses the limit (its span can be a whole long chain)
            span = node.span if node.span is None or source is None else Span.at(source, node.span.end - 1)
            raise LimitError(f"the program has more than {limits.MAX_OPERATIONS:,} operations after optimisation "
                             f"(limits.MAX_OPERATIONS: TensorFlow takes about a millisecond to build each one "
                             f"on the first call)", span, hint="split it into several programs")
        if node.op in CONSTRUCTORS and node.shape is not None and None not in node.shape:
            made += numel(node.shape) * np.dtype(node.dtype).itemsize
            if made > limits.MAX_CONSTRUCTED_BYTES:
                raise LimitError(f"arange/zeros/ones/full would make {made:,} bytes in this program, more than "
                                 f"{limits.MAX_CONSTRUCTED_BYTES:,} (limits.MAX_CONSTRUCTED_BYTES)", node.span,
                                 hint="make the arrays smaller, or pass large arrays in as inputs")
