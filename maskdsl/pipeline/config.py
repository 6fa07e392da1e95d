"""Pipeline files: YAML (or a dict) -> a validated PipelineConfig whose errors point into the file.

Everything here is plain Python (no TensorFlow). The file is read by `yaml_source`
(each value keeps its position), each section is checked by a function of its own,
constants are read by `constants` and substituted into the steps as literals, and the
steps are parsed one by one and joined into one program, with a `source_map.SourceMap`
that takes any position in that program back to the file. Every problem is a
ConfigError (or the DSL error of a step) at FILE:LINE:COLUMN with a caret under it, and
every independent problem is reported in one pass (`problems`): a bad input does not
hide a bad step. `type_program` then types the joined program with the declared inputs,
as the compiler does before code generation, still without TensorFlow.
docs/pipelines.md describes the format and the rules.

>>> config = load_config('''
... inputs: {x: "float32[None]"}
... constants: {floor: 0.0}
... steps:
...   - x[x < floor] = floor
... outputs: [x]
... ''')
>>> config.program_text
'x[x < 0.0] = 0.0'
>>> config.inputs["x"]
Type(dtype='float32', shape=(None,), weak=False)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from maskdsl.errors import ConfigError, MaskDSLError, UnknownNameError, listing
from maskdsl.ir.dtypes import Type
from maskdsl.ir.nodes import Program
from maskdsl.language import syntax
from maskdsl.language.functions import FUNCTIONS
from maskdsl.language.lower import lower
from maskdsl.language.parser import parse
from maskdsl.language.names import IDENTIFIER, KEYWORDS
from maskdsl.passes.strategies import FORCEABLE
from maskdsl.pipeline.constants import literal_text, parse_number
from maskdsl.pipeline.formats import CsvOptions, read_csv_options
from maskdsl.pipeline.inputs import InputSpec, read_input, row_inputs
from maskdsl.pipeline.problems import Problems
from maskdsl.pipeline.source_map import SourceMap, StepSource, align
from maskdsl.pipeline.yaml_source import Document, YamlNode, describe, load_yaml, read_document, wrap_python
from maskdsl.specialize import NOT_IN_SIGNATURE, input_names, signature_types, specialize

KEYS = ("name", "inputs", "constants", "steps", "outputs", "options", "csv")
REQUIRED = ("inputs", "steps", "outputs")
OPTIONS = {"strategy": FORCEABLE, "jit_compile": ("auto", True, False)}
_REQUIRED_HINTS = {
    "inputs": "declare each input with its type, e.g. 'x: float32[rows, 3]' (or 'inputs: {}')",
    "steps": "list the program lines under 'steps:'",
    "outputs": "list the names to return, e.g. 'outputs: [x]'",
}


class PipelineWarning(UserWarning):
    """A pipeline that works but probably not as meant (an input or constant it never uses)."""


class PerBatchWarning(PipelineWarning):
    """A pipeline that is not row-wise, run by dataset.map on each element: its reductions are per
    batch (or per row), not over the whole dataset."""


@dataclass
class PipelineConfig:
    doc: Document
    name: str | None
    inputs: dict[str, Type]
    constants: dict[str, int | float]
    steps: tuple[str, ...]
    outputs: tuple[str, ...]
    options: dict
    program_text: str
    source_map: SourceMap
    sections: dict                  # top-level key -> YamlNode, for positions of later errors
    warnings: list = field(default_factory=list)   # (message, YamlNode) to report once compiled
    input_specs: dict = field(default_factory=dict)   # name -> InputSpec (rows, columns, fill)
    csv: CsvOptions = field(default_factory=CsvOptions)

    @property
    def row_inputs(self) -> tuple[str, ...]:
        """The inputs that hold the rows (maskdsl.pipeline.inputs: `rows`, or the None shorthand)."""
        return row_inputs(self.input_specs)

    def to_dict(self) -> dict:
        """The config as plain data, as from_dict takes it (what Keras and SavedModels store)."""
        out = {}
        if self.name is not None:
            out["name"] = self.name
        out["inputs"] = {n: self.input_specs[n].to_data() if n in self.input_specs else str(t)
                         for n, t in self.inputs.items()}
        if self.constants:
            out["constants"] = dict(self.constants)
        out["steps"] = list(self.steps)
        out["outputs"] = list(self.outputs)
        if self.options:
            out["options"] = dict(self.options)
        if self.csv.given:
            out["csv"] = dict(self.csv.given)
        return out

    def input_node(self, name: str) -> YamlNode | None:
        section = self.sections.get("inputs")
        return section.value.get(name) if section is not None else None

    def option_node(self, name: str) -> YamlNode | None:
        section = self.sections.get("options")
        return section.value.get(name) if section is not None and isinstance(section.value, dict) else None

    def error(self, message, node=None, hint=None, cls=ConfigError, at_key=False, **fields) -> MaskDSLError:
        return self.doc.error(message, node, hint=hint, cls=cls, at_key=at_key, **fields)

    def reloaded(self, constants: dict) -> PipelineConfig:
        """The same pipeline read again with other constant values."""
        root = read_root(self.doc) if self.doc.text is not None else wrap_python(self.to_dict())
        return validate(self.doc, root, constants)


def load_config(path_or_text, constants: dict | None = None) -> PipelineConfig:
    """Read and validate a pipeline file or YAML text; `constants` overrides constant values."""
    doc = read_document(path_or_text)
    return validate(doc, read_root(doc), constants)


def config_from_dict(data, constants: dict | None = None) -> PipelineConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"a pipeline dict must be a dict, not {type(data).__name__}")
    return validate(Document(None, None), wrap_python(data), constants)


def read_root(doc: Document) -> YamlNode:
    """The document's top node; an empty document is an error that says what a pipeline needs."""
    root = load_yaml(doc)
    if root is None:
        raise doc.error("the pipeline file is empty; it needs at least " + ", ".join(f"'{k}'" for k in REQUIRED),
                        YamlNode(None, 0, 1))
    return root


def validate(doc: Document, root: YamlNode, constant_overrides: dict | None = None) -> PipelineConfig:
    """Check every section, in the order a reader meets them, and join the steps into one program.

    A problem in one section (or one input, constant, step or output) does not stop the
    checks that do not depend on it; all of them are raised together at the end.
    """
    problems = Problems()
    top = _check_keys(doc, root, problems)
    name = None
    with problems.collecting():
        name = _read_name(doc, top)
    specs = _read_inputs(doc, top, problems)
    inputs = {n: s.type for n, s in specs.items()}
    constants, constant_nodes = _read_constants(doc, top, inputs, constant_overrides, problems)
    steps = _read_steps(doc, top, constants, problems)
    outputs: tuple = ()
    if "outputs" in top:
        outputs = _read_outputs(doc, top, inputs, constants, steps, problems)
    options: dict = {}
    with problems.collecting():
        options = _read_options(doc, top, problems)
    csv = CsvOptions()
    with problems.collecting():
        csv = read_csv_options(doc, top.get("csv"), problems)
    problems.sort_by_position()
    problems.check()
    source_map, _, used_constants = steps
    warnings = unused_warnings("constant", [k for k in constants if k not in used_constants and k in constant_nodes],
                               constant_nodes.get)
    return PipelineConfig(doc, name, inputs, constants, tuple(s.text for s in source_map.steps), outputs, options,
                          source_map.program_text, source_map, dict(top), warnings, specs, csv)


def type_program(config: PipelineConfig) -> Program:
    """The joined program typed with the declared inputs and run through every pass: what
    maskdsl.compile does before code generation, so without TensorFlow. Errors point into
    the file, as the compiled pipeline's do."""
    try:
        program = lower(parse(config.program_text), list(config.outputs))
        types = signature_types(program, {n: config.inputs[n] for n in input_names(program) if n in config.inputs})
        typed, _ = specialize(program, types, strategy=config.options.get("strategy", "auto"),
                              jit_compile=config.options.get("jit_compile", "auto"))
        return typed
    except MaskDSLError as e:
        raise program_error(config, e) from None


def program_error(config: PipelineConfig, e: MaskDSLError) -> MaskDSLError:
    """An error of the joined program in the pipeline's words, moved into the file."""
    if e.option == "jit_compile":  # the option is what to change (the message names the statement)
        return config.error(e.message, config.option_node("jit_compile"), cls=ConfigError, option=e.option,
                            code=e.code, hint=e.hint)
    if e.code == NOT_IN_SIGNATURE:
        e = UnknownNameError(f"unknown name '{e.name}': it is read before it is assigned and is not an "
                             f"input or a constant of the pipeline", e.span, source=e.source,
                             hint="declare it under 'inputs:' or assign it in an earlier step",
                             name=e.name, code=e.code)
    return config.source_map.relocate(e)


def unused_warnings(what: str, names: list, node_of, each: int = 5) -> list:
    """(message, YamlNode) warnings for names the steps never use: one per name, or for more
    than `each`, one that lists a few and counts the rest (60,000 unused constants are one line)."""
    if len(names) <= each:
        return [(f"{what} '{name}' is never used by the steps", node_of(name)) for name in names]
    return [(f"{len(names):,} {what}s are never used by the steps: {listing(names, quote=True)}",
             node_of(names[0]))]


# ---- one check per section ----

def _check_keys(doc: Document, root: YamlNode, problems: Problems) -> dict:
    """The top-level mapping; unknown and missing keys are collected (and left out)."""
    if not isinstance(root.value, dict):
        raise doc.error(f"a pipeline must be a mapping with keys {', '.join(KEYS)}, "
                        f"but it is {describe(root)}", root)
    top, misspelt = {}, set()
    for key, node in root.value.items():
        if key not in KEYS:
            misspelt.update(difflib.get_close_matches(str(key), KEYS, n=1))
            problems.add(doc.error(f"unknown key {key!r}; a pipeline has {', '.join(KEYS)}", node, at_key=True,
                                   hint=_did_you_mean(key, KEYS), name=str(key), code="unknown-key"))
        else:
            top[key] = node
    for key in REQUIRED:
        if key not in root.value and key not in misspelt:   # (a misspelt key already says "did you mean")
            at = YamlNode(None, root.start, root.start + 1 if root.start is not None else None)
            problems.add(doc.error(f"missing key '{key}'", at, hint=_REQUIRED_HINTS[key], name=key,
                                   code="missing-key"))
    return top


def _read_name(doc: Document, top: dict) -> str | None:
    if "name" not in top:
        return None
    name = top["name"].value
    if not isinstance(name, str) or not name.strip():
        raise doc.error(f"'name' must be text, but it is {describe(top['name'])}", top["name"])
    return name


def _read_inputs(doc: Document, top: dict, problems: Problems) -> dict[str, InputSpec]:
    specs: dict[str, InputSpec] = {}
    if "inputs" not in top:
        return specs
    section = top["inputs"]
    with problems.collecting():
        for key, node in _mapping(doc, section, "inputs").items():
            with problems.collecting():
                key = _check_name(doc, key, section.keys[key], node, "input", allow_builtin=False)
                specs[key] = read_input(doc, key, node)
    return specs


def _read_constants(doc: Document, top: dict, inputs: dict, overrides: dict | None,
                    problems: Problems) -> tuple[dict, dict]:
    """(name -> value, name -> YamlNode of the value) of the constants, after `overrides`."""
    constants: dict[str, int | float] = {}
    nodes: dict[str, YamlNode] = {}
    if "constants" in top and top["constants"].value is not None:
        section = top["constants"]
        with problems.collecting():
            for key, node in _mapping(doc, section, "constants").items():
                with problems.collecting():
                    key = _check_name(doc, key, section.keys[key], node, "constant", allow_builtin=True)
                    nodes[key] = node
                    if key in inputs:
                        where = doc.where(top["inputs"].value[key].key_start)
                        raise doc.error(f"'{key}' is both an input{f' (at {where})' if where else ''} and a "
                                        f"constant", node, at_key=True, name=key)
                    constants[key] = parse_number(doc, node, f"constant '{key}'")
    for key, value in (overrides or {}).items():
        if key not in constants:
            raise ConfigError(f"no constant named {key!r} to override "
                              f"(constants: {', '.join(constants) or 'none'})", name=key)
        constants[key] = parse_number(Document(None, None), YamlNode(value), f"constant '{key}'")
    return constants, nodes


def _read_steps(doc: Document, top: dict, constants: dict, problems: Problems):
    """The steps parsed one by one, constants substituted, joined into one program.

    Returns (the source map, which holds the joined text; name -> first step assigning
    it; the constants the steps use), or None when 'steps' is missing or any step has a
    problem (each one collected).
    """
    if "steps" not in top:
        return None
    section = top["steps"]
    nodes = _nonempty_sequence(doc, section, "steps", "'steps' is empty; a pipeline needs at least one step",
                               problems)
    if nodes is None:
        return None
    source_map = SourceMap(doc, [])
    assigned: dict[str, int] = {}
    used_constants: set[str] = set()
    offset, failed = 0, False
    for i, node in enumerate(nodes):
        try:
            text = _step_text(doc, node, i)
        except MaskDSLError as e:
            problems.add(e)
            failed = True
            continue
        positions = align(text, doc.text, node.start, node.end) if doc.text is not None else None
        step = StepSource(i, text, text, offset, [], positions, node)
        source_map.steps.append(step)
        try:
            module = parse(text)
        except MaskDSLError as e:
            problems.add(source_map.relocate(e, step=step))
            failed = True
            continue
        replacements = []
        for stmt in module.statements:
            for ast_node in _walk(stmt):
                if isinstance(ast_node, syntax.Assign) and ast_node.name in constants:
                    problems.add(source_map.relocate(ConfigError(
                        f"cannot assign to '{ast_node.name}': it is a constant of the pipeline",
                        ast_node.name_span, hint="constants are read-only; assign a new name instead",
                        name=ast_node.name), step=step))
                    failed = True
                if isinstance(ast_node, syntax.Name) and ast_node.id in constants and ast_node.span is not None:
                    replacements.append((ast_node.span.start, ast_node.span.end,
                                         literal_text(constants[ast_node.id])))
                    used_constants.add(ast_node.id)
            if isinstance(stmt, syntax.Assign):
                assigned.setdefault(stmt.name, i)
        step.rewritten, step.substitutions = _substitute(text, replacements)
        offset += len(step.rewritten) + 1
    if failed:
        return None
    source_map.program_text = "\n".join(s.rewritten for s in source_map.steps)
    return source_map, assigned, used_constants


def _step_text(doc: Document, node: YamlNode, i: int) -> str:
    text = node.value
    if not isinstance(text, str):
        hint = "quote the step: - '...'"
        if isinstance(text, dict):
            hint = "YAML read ': ' in this step as a key: value pair; quote the whole step"
        elif text is None:
            hint = "remove the empty '-' entry or write the step after it"
        raise doc.error(f"step {i + 1} must be text, but it is {describe(node)}", node, hint=hint)
    if not text.strip():
        raise doc.error(f"step {i + 1} is empty", node)
    return text


def _substitute(text: str, replacements: list) -> tuple[str, list]:
    """text with each (start, end, literal) replaced, and the substitutions as
    (new_start, new_end, old_start, old_end) for the source map."""
    rewritten, substitutions, cursor, new_pos = [], [], 0, 0
    for old_start, old_end, literal in sorted(replacements):
        rewritten.append(text[cursor:old_start])
        new_pos += old_start - cursor
        substitutions.append((new_pos, new_pos + len(literal), old_start, old_end))
        rewritten.append(literal)
        new_pos += len(literal)
        cursor = old_end
    rewritten.append(text[cursor:])
    return "".join(rewritten), substitutions


def _nonempty_sequence(doc: Document, section, key: str, empty: str, problems: Problems):
    """The items of a section that must be a non-empty list, or None (the problem, `empty` for
    an empty list, collected)."""
    try:
        nodes = _sequence(doc, section, key)
        if not nodes:
            raise doc.error(empty, section)
    except MaskDSLError as e:
        problems.add(e)
        return None
    return nodes


def _read_outputs(doc: Document, top: dict, inputs: dict, constants: dict, steps,
                  problems: Problems) -> tuple[str, ...]:
    """The outputs; whether each is assigned is only asked when every step was read."""
    section = top["outputs"]
    nodes = _nonempty_sequence(doc, section, "outputs", "'outputs' is empty; name at least one value to return",
                               problems)
    if nodes is None:
        return ()
    assigned = steps[1] if steps is not None else None
    outputs: list[str] = []
    for node in nodes:
        with problems.collecting():
            out = node.value
            if not isinstance(out, str):
                raise doc.error(f"an output must be a name, but it is {describe(node)}", node)
            if out in outputs:
                raise doc.error(f"output '{out}' is listed twice", node, name=out)
            if assigned is not None and out not in assigned:
                if out in constants:
                    why = "it is a constant"
                elif out in inputs:
                    why = "it is an input that no step assigns"
                else:
                    why = "no step assigns it"
                close = difflib.get_close_matches(out, list(assigned), n=1)
                raise doc.error(f"output '{out}' is never assigned: {why}", node, name=out,
                                hint=f"did you mean '{close[0]}'?" if close else
                                (f"add a step such as '{out} = {out}'" if out in inputs else None))
            outputs.append(out)
    return tuple(outputs)


def _read_options(doc: Document, top: dict, problems: Problems) -> dict:
    options: dict = {}
    if "options" not in top or top["options"].value is None:
        return options
    for key, node in _mapping(doc, top["options"], "options").items():
        with problems.collecting():
            if key not in OPTIONS:
                raise doc.error(f"unknown option {key!r}; options are {', '.join(OPTIONS)}", node, at_key=True,
                                hint=_did_you_mean(key, OPTIONS), option=str(key), code="unknown-option")
            allowed = OPTIONS[key]
            value = node.value
            if isinstance(value, str) and value.lower() in ("true", "false") and key == "jit_compile":
                value = value.lower() == "true"
            if not any(value is a or (isinstance(a, str) and value == a) for a in allowed):
                shown = ", ".join(str(a).lower() if isinstance(a, bool) else a for a in allowed)
                raise doc.error(f"option '{key}' must be one of {shown}, not {node.raw or value!r}", node,
                                option=key)
            options[key] = value
    return options


# ---- shared checks ----

def _did_you_mean(word, choices) -> str | None:
    close = difflib.get_close_matches(str(word), choices, n=1)
    return f"did you mean '{close[0]}'?" if close else None


def _check_name(doc: Document, key, key_node: YamlNode, value_node: YamlNode, what: str,
                allow_builtin: bool) -> str:
    if not isinstance(key, str):
        raise doc.error(f"{what} name must be text, but it is {describe(key_node)}", value_node, at_key=True,
                        hint="quote the name")
    if not IDENTIFIER.match(key) or key.startswith("__"):
        raise doc.error(f"{what} name {key!r} is not a valid name (letters, digits and '_', not starting "
                        f"with a digit or '__')", value_node, at_key=True, name=key)
    if key in KEYWORDS:
        raise doc.error(f"{what} name {key!r} is a reserved word of the language", value_node, at_key=True,
                        name=key)
    if not allow_builtin and key in FUNCTIONS:
        raise doc.error(f"{what} name {key!r} is a built-in function", value_node, at_key=True,
                        hint="choose another name", name=key)
    return key


def _mapping(doc: Document, node: YamlNode, what: str) -> dict:
    if not isinstance(node.value, dict):
        raise doc.error(f"'{what}' must be a mapping of name: value, but it is {describe(node)}", node)
    return node.value


def _sequence(doc: Document, node: YamlNode, what: str) -> list:
    if not isinstance(node.value, list):
        raise doc.error(f"'{what}' must be a list, but it is {describe(node)}", node,
                        hint="write one entry per line, each starting with '- '")
    return node.value


def _walk(node):
    """Every syntax node of a statement or expression (iterative)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, syntax.Assign):
            stack.append(n.value)
            stack.extend(n.index or ())
        elif isinstance(n, syntax.ExprStmt):
            stack.append(n.expr)
        else:
            stack.extend(n.children())
