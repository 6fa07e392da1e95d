"""A pipeline split into passes over the rows that each run batch by batch, for runners that never
hold every row in one place (maskdsl.beam).

`maskdsl run` streams a pipeline whose only obstacle is an output that is itself a reduction over
the rows (maskdsl.pipeline.reductions); anything else loads every row. A distributed runner cannot
load every row, so `plan_stages` goes one step further: a reduction over the rows that a later step
*uses* (`y = x - mean(x)`) is computed first, in a pass of its own, and the rest of the pipeline then
runs batch by batch with that value as an input:

- pass 1 (`broadcasts`): each batch returns the arguments of those reductions (`x` of
  `mean(x)`), which are combined across batches with `Accumulator` — the same partial results
  (sums in float64, a mean as a sum and a count, ...) as a streamed reduction;
- pass 2 (`stream`): the program with each such reduction replaced by an input holding its value,
  planned like any pipeline by `plan_stream`: row outputs batch by batch, whole-output reductions
  combined, outputs that do not depend on the rows computed once.

The replacement is textual and keeps every position: `mean(x)` becomes `r_0    ` (a name padded to
the call's width), so every error of pass 2 is still at its place in the pipeline file. Each
argument of pass 1 is evaluated where the reduction stood: its program is the pipeline's text up
to the statement holding the reduction, plus a line `_maskdsl_part_0 = (x)`.

What still depends on other rows (picking rows by position, `shape(x)`, a reduction of a value
that needs a reduction itself) cannot run this way: `plan_stages` raises a ConfigError at its place
in the file, saying why. Plain Python: no TensorFlow, no Beam.

>>> from maskdsl.pipeline.config import config_from_dict, type_program
>>> config = config_from_dict({"inputs": {"x": "float32[rows]"}, "steps": ["y = x - mean(x)"], "outputs": ["y"]})
>>> stages = plan_stages(config, type_program(config))
>>> stages.program_text
'y = x - r_0    '
>>> [(b.name, b.kind, b.part) for b in stages.broadcasts], stages.passes[0].program_text
([('r_0', 'mean', '_maskdsl_part_0')], '\\n_maskdsl_part_0 = (x)')
"""

from __future__ import annotations

import string
from dataclasses import dataclass, replace

from maskdsl.errors import ConfigError, MaskDSLError, Span
from maskdsl.ir.dtypes import Type
from maskdsl.language import syntax
from maskdsl.language.parser import parse
from maskdsl.pipeline.config import PipelineConfig, type_program
from maskdsl.pipeline.reductions import DECOMPOSABLE, StreamPlan, _part_prefix, _walk, plan_stream
from maskdsl.pipeline.rowwise import Kind, classify_values

WHY = ("a distributed run sees one batch of rows at a time; it combines reductions over the rows "
       "(sum, prod, mean, min, max, any, all, count and their nan forms) across the batches, and nothing else")


@dataclass(frozen=True)
class Broadcast:
    """A reduction over the rows that later steps use: computed in pass 1, an input of pass 2."""

    name: str            # the input of pass 2 that holds its value
    kind: str
    axes: tuple | None
    keepdims: bool
    dtype: str
    shape: tuple
    part: str            # the pass-1 output holding each batch's argument
    span: Span | None    # the reduction, in the joined program


@dataclass(frozen=True)
class ArgumentPass:
    """One program of pass 1: the text up to a statement, then the arguments of its reductions."""

    program_text: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Stages:
    program_text: str                  # pass 2: the reductions in `broadcasts` replaced by their names
    broadcasts: tuple[Broadcast, ...]  # empty: the pipeline streams as it is
    passes: tuple[ArgumentPass, ...]   # pass 1
    stream: StreamPlan                 # how pass 2 runs

    def argument_config(self, config: PipelineConfig, index: int) -> PipelineConfig:
        """The pipeline of pass 1's program `index` (its outputs: the reductions' arguments)."""
        argument = self.passes[index]
        return replace(config, program_text=argument.program_text, outputs=argument.parts, warnings=[])

    def batch_config(self, config: PipelineConfig) -> PipelineConfig:
        """The pipeline each batch of pass 2 runs: the stream plan's batch program, with an input
        per broadcast reduction (not a row input: the same for every batch)."""
        inputs = {**config.inputs, **{b.name: Type(b.dtype, tuple(b.shape)) for b in self.broadcasts}}
        return replace(config, program_text=self.stream.batch_text, outputs=self.stream.batch_outputs,
                       inputs=inputs, warnings=[])


def plan_stages(config: PipelineConfig, typed) -> Stages:
    """How the pipeline runs in passes over batches of rows; a located ConfigError if it cannot."""
    rows = config.row_inputs
    first = plan_stream(config.program_text, config.outputs, typed, rows)
    if first.streams:
        return Stages(config.program_text, (), (), first)
    text = config.program_text
    statements = parse(text).statements
    prefix = _name_prefix(text)
    part_prefix = _part_prefix(text)
    broadcasts: list[Broadcast] = []
    arguments: dict[int, list[tuple[str, str]]] = {}     # statement index -> (part, argument text)
    substituted, current = text, typed
    while True:
        found = _next_broadcast(current, rows, prefix)
        if found is None:
            break
        node = found
        name = f"{prefix}{len(broadcasts)}"
        span = node.span
        if span is None or len(name) > span.end - span.start:
            raise _refused(config, f"{_shown(text, span)} reduces over the rows in a place this runner cannot "
                                   f"rewrite", span)
        index, argument = _argument(statements, text, span)
        if argument is None:
            raise _refused(config, f"{_shown(text, span)} reduces over the rows, but its argument could not be "
                                   f"found in the program", span)
        part = f"{part_prefix}{len(broadcasts)}"
        arguments.setdefault(index, []).append((part, argument))
        axes = node.attr("axes")
        broadcasts.append(Broadcast(name, node.attr("kind"), tuple(axes) if axes is not None else None,
                                    bool(node.attr("keepdims")), node.dtype, tuple(node.shape), part, span))
        substituted = substituted[:span.start] + name.ljust(span.end - span.start) + substituted[span.end:]
        current = _typed(config, substituted, broadcasts)
    stream = plan_stream(substituted, config.outputs, current, rows) if broadcasts else first
    if not stream.streams:
        where = stream.span
        reason = stream.reason or "the pipeline does not run batch by batch"
        for b in broadcasts:   # the reason quotes the program of pass 2: show the reductions as written
            reason = reason.replace(b.name.ljust(b.span.end - b.span.start), text[b.span.start:b.span.end])
        if broadcasts and "reduces over the rows" in reason:
            reason += " (a reduction over the rows of a value that itself needs one would take a third pass)"
        raise _refused(config, reason, where)
    passes = tuple(ArgumentPass(_text_before(text, statements, index) + "".join(f"\n{p} = {a}" for p, a in parts),
                                tuple(p for p, _ in parts))
                   for index, parts in sorted(arguments.items()))
    return Stages(substituted, tuple(broadcasts), passes, stream)


def _refused(config: PipelineConfig, reason: str, span: Span | None) -> MaskDSLError:
    error = ConfigError(f"cannot run on Beam: {reason}", span, source=config.program_text, hint=WHY,
                        option="--runner", code="cross-row")
    return config.source_map.relocate(error)


def _shown(text: str, span: Span | None) -> str:
    return f"`{text[span.start:span.end]}`" if span is not None else "a reduction"


def _name_prefix(text: str) -> str:
    """`r_` (or another `<letter>_`) found nowhere in the program, so no name of it starts so: short,
    for the name to fit in the place of the shortest call (`sum(x)`), and without a leading `_`,
    which TensorFlow refuses in the name of an input."""
    for letter in "r" + string.ascii_lowercase:
        if f"{letter}_" not in text:
            return f"{letter}_"
    raise ConfigError("the program uses every name prefix `a_` ... `z_`; rename one to run it on Beam")


def _typed(config: PipelineConfig, text: str, broadcasts) -> object:
    inputs = {**config.inputs, **{b.name: Type(b.dtype, tuple(b.shape)) for b in broadcasts}}
    return type_program(replace(config, program_text=text, inputs=inputs))


def _next_broadcast(typed, rows, prefix: str):
    """The first reduction over the rows of a row value (one that no earlier reduction feeds), or None."""
    states = classify_values(typed, rows)
    fed: dict[int, bool] = {}     # id(node) -> reads a broadcast input
    for node in typed.nodes():
        fed[id(node)] = (node.op == "input" and str(node.attr("name")).startswith(prefix)
                         and str(node.attr("name"))[len(prefix):].isdigit()) or any(fed[id(a)] for a in node.args)
        if node.op != "reduce" or node.attr("kind") not in DECOMPOSABLE or len(node.args) != 1:
            continue
        axes = node.attr("axes")
        if axes is not None and 0 not in axes:
            continue
        if states[id(node.args[0])].kind is Kind.ROWS and not fed[id(node.args[0])]:
            return node
    return None


def _argument(statements, text: str, span: Span) -> tuple[int | None, str | None]:
    """(index of the statement holding the call at `span`, '(<its argument>)')."""
    for index, statement in enumerate(statements):
        if statement.span is None or not statement.span.start <= span.start < statement.span.end + 1:
            continue
        roots = (statement.value, *(statement.index or ())) if isinstance(statement, syntax.Assign) \
            else (statement.expr,)
        for node in (n for root in roots for n in _walk(root)):
            if isinstance(node, syntax.Call) and node.span is not None and node.args \
                    and (node.span.start, node.span.end) == (span.start, span.end):
                argument = node.args[0]
                if argument.span is None:
                    return index, None
                return index, "(" + text[argument.span.start:argument.span.end] + ")"
    return None, None


def _text_before(text: str, statements, index: int) -> str:
    """The program up to (not including) statement `index`: every name as that statement reads it."""
    if index == 0:
        return ""
    return text[:statements[index - 1].span.end]
