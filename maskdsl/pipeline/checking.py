"""Everything that can be known about a run before TensorFlow loads, with every problem at once.

`maskdsl check pipeline.yaml [--input FILE ...] [--output FILE]` is this and nothing more;
`maskdsl run` and `maskdsl export` do it first, so a mistake costs a fraction of a second
instead of TensorFlow's start-up, and a file with five mistakes shows five errors:

- the pipeline file: YAML, keys, inputs, constants, steps, outputs, options (config);
- `--set` values against the declared inputs and constants (settings);
- the program typed with the declared inputs: dtypes and shapes of every step (config);
- how it runs: row-wise, streamed with its reductions combined, or loaded (reductions);
- the inputs: the files exist and have a known format; a table's columns are there, with
  types that convert to the declared dtypes (tables, tfrecord); every input comes from
  somewhere (a missing scalar says `--set NAME=VALUE`);
- the output: a known format, a directory that exists, no file to clobber without
  --force, and a layout the outputs fit (formats, tables).

Problems that do not depend on each other are all collected (maskdsl.pipeline.problems);
the checks that need a valid pipeline file run only when it is valid. Plain Python,
NumPy and (for tables) pyarrow: no TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from maskdsl.errors import DataError, InputError
from maskdsl.ir.nodes import Program
from maskdsl.pipeline.config import PipelineConfig, load_config, type_program
from maskdsl.pipeline.formats import DataSource, OutputPlace, resolve_output, resolve_source
from maskdsl.pipeline.problems import Problems
from maskdsl.pipeline.reductions import StreamPlan, plan_stream
from maskdsl.pipeline.rowwise import output_alignment
from maskdsl.pipeline.settings import read_settings


@dataclass
class RunPlan:
    """A checked run: the pipeline, where its inputs come from and where its outputs go."""

    config: PipelineConfig
    typed: Program | None                        # None only while the checks run
    stream: StreamPlan | None
    alignment: dict                              # output -> "rows", "selected" or "other"
    constants: dict = field(default_factory=dict)   # --set constants (already in config)
    scalars: dict = field(default_factory=dict)     # --set scalar inputs
    table: DataSource | None = None              # the table the row inputs come from
    table_inputs: tuple = ()                     # the inputs read from its columns
    column_kinds: dict = field(default_factory=dict)   # TFRecord: feature -> "float" / "int"
    arrays: list = field(default_factory=list)   # (DataSource, [inputs]) of .npz/.npy files
    place: OutputPlace | None = None
    columns: tuple = ()                          # outputs written as table columns
    output_types: dict = field(default_factory=dict)   # output -> (dtype, shape after the rows)
    total_rows: int | None = None                # when the files say (npz, Parquet)
    warnings: list = field(default_factory=list)  # "FILE:LINE:COL: message" (unused inputs and constants)
    unused: list = field(default_factory=list)    # (file, [arrays]) of .npz members the pipeline does not read

    @property
    def row_inputs(self) -> tuple:
        return self.config.row_inputs


def check_run(pipeline, *, inputs=(), input_format: str | None = None, output=None,
              output_format: str | None = None, settings=(), force: bool = False) -> RunPlan:
    """Check a run (or, without inputs and output, just the pipeline); raises every problem found."""
    problems, files = Problems(), Problems()   # the pipeline's problems are shown first, then the files'
    config = None
    with problems.collecting():
        config = load_config(os.fspath(pipeline) if isinstance(pipeline, os.PathLike) else pipeline)
    sources = []
    for path in inputs or ():
        with files.collecting():
            sources.append(resolve_source(path, input_format))
    place = None
    if output is not None:
        with files.collecting():
            place = resolve_output(output, output_format, force)
    if config is None:
        _raise(problems, files)
    constants, scalars, typed = {}, {}, None
    with problems.collecting():
        constants, scalars = read_settings(settings, config.inputs, config.constants)
        if constants:
            config = config.reloaded(constants)
    with problems.collecting():
        typed = type_program(config)
    problems.add_all(files)
    plan = RunPlan(config, typed, None, {}, constants, scalars, place=place)
    # (the columns an input needs are known even when a step is wrong; an input file that is not
    # there is reported once, not again as every input it should have given)
    if inputs and len(sources) == len(inputs):
        _check_inputs(plan, sources, problems)
    if typed is None:
        problems.check()
    plan.stream = plan_stream(config.program_text, config.outputs, typed, config.row_inputs)
    plan.alignment = output_alignment(typed, config.row_inputs)
    plan.output_types = {name: (node.dtype, tuple(node.shape[1:]) if node.shape else ())
                         for name, node in typed.outputs}
    plan.warnings = _warnings(config, typed)
    if place is not None:
        _check_output(plan, problems)
    problems.check()
    return plan


def _warnings(config: PipelineConfig, typed: Program) -> list[str]:
    """What the compiled pipeline would warn about (PipelineWarning), as text."""
    used = {n.attr("name") for n in typed.inputs}
    found = list(config.warnings)
    found += [(f"input '{name}' is never used by the steps", config.input_node(name))
              for name in config.inputs if name not in used]
    out = []
    for message, node in found:
        where = config.doc.where(node.key_start if node is not None and node.key_start is not None
                                 else getattr(node, "start", None))
        out.append(f"{where}: {message}" if where else message)
    return out


def _raise(problems: Problems, files: Problems) -> None:
    problems.add_all(files)
    problems.check()


# ---- inputs ----

def _check_inputs(plan: RunPlan, sources: list[DataSource], problems: Problems) -> None:
    config = plan.config
    tables = [s for s in sources if s.is_table]
    if len(tables) > 1:
        problems.add(DataError(f"only one table (Parquet, CSV or TFRecord) can give the rows; got "
                               f"{', '.join(s.path for s in tables)} (use a directory or a glob for shards)"))
    given: dict[str, str] = {name: "--set" for name in plan.scalars}
    if tables:
        plan.table = tables[0]
        _check_table(plan, problems, given)
    arrays = [s for s in sources if not s.is_table]
    for source in arrays:
        with problems.collecting():
            _check_arrays(plan, source, given, alone=not tables and len(arrays) == 1)
    for name, spec in config.input_specs.items():
        if name in given:
            continue
        if not spec.type.shape:
            problems.add(InputError(f"input '{name}' ({spec.spec_text}) is not given: no input file has it",
                                    hint=f"give it with --set {name}=VALUE", name=name, code="missing-input"))
        elif name in config.row_inputs and plan.table is not None:
            pass   # reported with the table's columns
        else:
            where = "a .npz given with another --input" if plan.table is not None else "the --input file"
            problems.add(InputError(f"input '{name}' ({spec.spec_text}) is not given: put it in {where}",
                                    name=name, code="missing-input"))


def _check_table(plan: RunPlan, problems: Problems, given: dict) -> None:
    from maskdsl.pipeline import tables
    from maskdsl.pipeline.columns import table_columns
    config, source = plan.config, plan.table
    names = tuple(n for n in config.row_inputs if n not in given)
    plan.table_inputs = names
    for name in names:
        given[name] = source.path
    schema = None
    with problems.collecting():
        if source.format == "parquet":
            schema = tables.parquet_schema(source.shards[0])
            plan.total_rows = tables.parquet_rows(source.shards)
        elif source.format == "csv":
            schema = tables.csv_schema(source.shards[0], config.csv)
        else:
            from maskdsl.pipeline.tfrecord import peek_schema
            schema = peek_schema(source.shards[0])
    if schema is None:
        return
    if not names:
        problems.add(DataError(f"{source.path}: the pipeline has no row inputs to read from its columns (declare "
                               f"one with a 'rows' first dimension, e.g. x: float32[rows])", filename=source.path))
        return
    before = len(problems)
    tables.check_columns(source, schema, config.input_specs, names, config, problems)
    if source.format == "tfrecord":
        plan.column_kinds = {c: ("float" if (schema[c].dtype or "").startswith("float") else "int")
                             for n in names for c in table_columns(config.input_specs[n])[0] if c in schema}
    if source.format == "csv" and len(problems) == before:
        with problems.collecting():
            _probe_csv(plan)


def _probe_csv(plan: RunPlan) -> None:
    """Read the first block of a CSV input with the declared types: a value that does not convert
    is found now, at its line, rather than after TensorFlow has loaded."""
    from maskdsl.pipeline import tables
    source = replace(plan.table, shards=plan.table.shards[:1])
    chunks = tables.iter_csv(source, plan.config.csv, csv_types(plan), batch_rows=1 << 16)
    next(chunks, None)


def csv_types(plan: RunPlan) -> dict[str, str]:
    from maskdsl.pipeline.columns import table_columns
    types = {}
    for name in plan.table_inputs:
        spec = plan.config.input_specs[name]
        for column in table_columns(spec)[0]:
            types[column] = spec.type.dtype
    return types


def _check_arrays(plan: RunPlan, source: DataSource, given: dict, alone: bool) -> None:
    """The arrays a .npz/.npy gives. Alone, the file must hold every input not given otherwise
    (data_files says which are missing); beside a table it gives those it has."""
    from maskdsl.pipeline.data_files import read_inputs
    config = plan.config
    wanted = [n for n in config.inputs if n not in given]
    if not alone and source.format == "npz":
        import numpy as np
        try:
            with np.load(source.path, allow_pickle=False) as archive:
                present = set(archive.files)
        except Exception:
            present = set(wanted)   # read_inputs says what is wrong with the file
        wanted = [n for n in wanted if n in present]
        if not wanted:
            return
    if alone:
        for name in wanted:
            given[name] = source.path   # reported by read_inputs if missing
    data = read_inputs(source.path, config, {n: None for n in given if given[n] == "--set"}, needed=wanted)
    for name in data.arrays:
        if given.get(name, source.path) != source.path:
            raise DataError(f"input '{name}' is in both {given[name]} and {source.path}", name=name)
        given[name] = source.path
    if data.unused:
        plan.unused.append((data.description, list(data.unused)))
    if plan.table is None and data.rows is not None:
        plan.total_rows = data.rows
    plan.arrays.append((source, tuple(data.arrays)))


# ---- the output ----

def _check_output(plan: RunPlan, problems: Problems) -> None:
    config, place = plan.config, plan.place
    outputs = config.outputs
    if place.format == "npy" and len(outputs) != 1:
        problems.add(DataError(f"a .npy output holds one array, but the pipeline has {len(outputs)} outputs "
                               f"({', '.join(outputs)}); write a .npz"))
    if not place.is_table:
        return
    plan.columns = tuple(n for n in outputs if plan.alignment.get(n) == "rows")
    if not plan.columns:
        problems.add(DataError(f"no output of the pipeline has one value per input row, so nothing would be a "
                               f"column of {place.path} (outputs: {', '.join(outputs)}); write a .npz instead",
                               code="no-columns"))
    if place.directory and (plan.table is None or not plan.table.sharded):
        problems.add(DataError(f"--output {place.path}/ writes one shard per input shard, but the input is one "
                               f"file: give a directory or glob of shards, or an output file"))
    if place.format == "tfrecord":
        from maskdsl.pipeline.tfrecord import check_writable
        for name in plan.columns:
            why = check_writable(plan.output_types[name][0])
            if why:
                problems.add(DataError(f"output '{name}' is {plan.output_types[name][0]}: {why}",
                                       hint=f"cast it in a step (float32({name})) or write Parquet", name=name))


def summary(plan: RunPlan) -> list[str]:
    """What `maskdsl check` prints after 'ok': how the pipeline runs and where things go."""
    config, stream = plan.config, plan.stream
    lines = []
    rows = ", ".join(config.row_inputs) or "none"
    if stream.streams and not stream.decomposed:
        lines.append(f"row-wise (row inputs: {rows}): streams in batches")
    elif stream.streams:
        parts = [f"{r.output} ({r.kind} over the rows)" for r in stream.reductions]
        parts += [f"{name} (the same for every batch)" for name in stream.constants]
        lines.append(f"streams in batches (row inputs: {rows}); combined over the batches: {', '.join(parts)}")
    else:
        lines.append(f"loads every row at once (row inputs: {rows}): {describe_reason(plan)}")
    if plan.table is not None:
        lines.append(f"input {plan.table.describe()} ({plan.table.format}): "
                     + ", ".join(_feeds(plan, n) for n in plan.table_inputs))
    if plan.place is not None and plan.place.is_table:
        extras = [n for n in config.outputs if n not in plan.columns]
        where = f"{plan.place.path}/ (one {plan.place.format} file per input shard)" if plan.place.directory \
            else plan.place.path
        lines.append(f"output {where}: columns {', '.join(plan.columns) or 'none'}"
                     + (f"; {', '.join(extras)} in {plan.place.extras_path}" if extras else ""))
    return lines


def _feeds(plan: RunPlan, name: str) -> str:
    from maskdsl.pipeline.columns import table_columns
    columns, _ = table_columns(plan.config.input_specs[name])
    return f"{name} <- {', '.join(columns)}"


def describe_reason(plan: RunPlan) -> str:
    stream, config = plan.stream, plan.config
    where = config.source_map.describe(stream.span) if stream.span is not None else ""
    text = f"{stream.reason} at {where}" if where else (stream.reason or "")
    return f"{text}; {stream.hint}" if stream.hint else text

