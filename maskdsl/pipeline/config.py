"""Pipeline files: YAML (or a dict) -> a validated PipelineConfig whose errors point into the file.

Everything here is plain Python (no TensorFlow): the file is read with a safe loader
that refuses aliases, each value keeps its position in the file, and every problem is
a ConfigError (or the DSL error of a step) at FILE:LINE:COLUMN with a caret under it.
The steps are parsed one by one, constants are substituted as literals, and the steps
are joined into one program; a SourceMap takes any position in that program back to
the file. docs/pipelines.md describes the format and the rules.

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

import copy
import difflib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from maskdsl.language import syntax
from maskdsl.language.functions import FUNCTIONS
from maskdsl.ir.dtypes import Type
from maskdsl.errors import ConfigError, InputError, MaskDSLError, Span
from maskdsl.language.parser import parse

MAX_FILE_CHARS = 1_000_000       # a pipeline is a page of text, not a data file
MAX_NESTING = 64                 # YAML nesting depth accepted before anything recursive runs
KEYS = ("name", "inputs", "constants", "steps", "outputs", "options")
REQUIRED = ("inputs", "steps", "outputs")
OPTIONS = {"strategy": ("auto", "where", "scatter", "boolean_mask"), "jit_compile": ("auto", True, False)}
KEYWORDS = frozenset(("True", "False", "None", "nan", "inf", "and", "or", "not"))
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_STANDARD_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}
# Numbers as a person writes them; YAML 1.1 would also read 010 (octal 8), 0x10, 1:30 (90).
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9_]*)\Z")
_FLOAT = re.compile(r"[-+]?(0|[1-9][0-9_]*)?(\.[0-9_]*)?([eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOATS = {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan, "nan": math.nan,
                   ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "inf": math.inf}
_YAML_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", type(None): "empty (null)",
                    dict: "a mapping", list: "a list"}


class PipelineWarning(UserWarning):
    """A pipeline that works but probably not as meant (an input or constant it never uses)."""


# ---- the document and its values, with positions ----

@dataclass
class Document:
    """The text a pipeline came from (None for a dict) and the name errors use for it."""

    text: str | None
    filename: str | None

    def span(self, start: int | None, end: int | None = None) -> Span | None:
        if self.text is None or start is None:
            return None
        end = start + 1 if end is None or end <= start else end
        return Span.at(self.text, start, end)

    def error(self, message: str, item: "Item | None" = None, hint: str | None = None,
              cls=ConfigError, at_key: bool = False) -> MaskDSLError:
        start, end = (None, None)
        if item is not None:
            start, end = (item.key_start, item.key_end) if at_key and item.key_start is not None \
                else (item.start, item.end)
        return cls(message, self.span(start, _first_line_end(self.text, start, end)), source=self.text,
                   hint=hint, filename=self.filename)

    def where(self, start: int | None) -> str:
        """'file:line:col' (or '' for a dict) for a position, used inside messages."""
        span = self.span(start)
        if span is None:
            return ""
        return f"{self.filename}:{span.line}:{span.column}" if self.filename else \
            f"line {span.line}, column {span.column}"


def _first_line_end(text, start, end):
    """Carets stay on one line: a multi-line value is marked up to the end of its first line."""
    if text is None or start is None or end is None:
        return end
    newline = text.find("\n", start, end)
    return end if newline < 0 else max(newline, start + 1)


@dataclass
class Item:
    """A value of the file: `value` is a dict of Items, a list of Items or a scalar.

    start/end are character offsets of the value in the document (None for dicts from
    Python); key_start/key_end those of the key it is the value of; raw and tag the
    scalar as written and the type YAML gave it.
    """

    value: Any
    start: int | None = None
    end: int | None = None
    raw: str | None = None
    tag: str | None = None
    style: str | None = None
    key_start: int | None = None
    key_end: int | None = None
    keys: dict = field(default_factory=dict)   # for mappings: key -> Item of the key itself


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader that refuses aliases: a pipeline never needs one, and `*a` repeated is
    how a few hundred bytes of YAML become gigabytes ("billion laughs")."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"YAML aliases (*{event.anchor}) are not allowed in pipeline files; "
                            f"write the value out", event.start_mark)
        if self._depth >= MAX_NESTING:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_NESTING} levels",
                                              self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_document(path_or_text) -> Document:
    """The text of a pipeline: a path (str or Path) to a file, or the YAML text itself.

    A str with a newline is text; otherwise it is a path if such a file exists or it ends
    in .yaml/.yml, and text if not.
    """
    if isinstance(path_or_text, os.PathLike) or (
            isinstance(path_or_text, str) and "\n" not in path_or_text
            and (os.path.exists(path_or_text) or path_or_text.endswith((".yaml", ".yml")))):
        path = os.fspath(path_or_text)
        try:
            size = os.path.getsize(path)
            if size > MAX_FILE_CHARS * 4:
                raise ConfigError(f"pipeline file {path!r} is {size} bytes; a pipeline must be under "
                                  f"{MAX_FILE_CHARS} characters", filename=path)
            text = Path(path).read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ConfigError(f"no such pipeline file: {path!r}") from None
        except IsADirectoryError:
            raise ConfigError(f"{path!r} is a directory, not a pipeline file") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"pipeline file {path!r} is not UTF-8 text ({e.reason} at byte {e.start})",
                              filename=path) from None
        except OSError as e:
            raise ConfigError(f"cannot read pipeline file {path!r}: {e.strerror or e}") from None
        return Document(text, path)
    if not isinstance(path_or_text, str):
        raise ConfigError(f"a pipeline is a path or YAML text, not {type(path_or_text).__name__}")
    return Document(path_or_text.removeprefix("\ufeff"), "<string>")


def load_yaml(doc: Document) -> Item:
    """Parse the document into Items (positions kept), with a safe loader and no aliases."""
    if len(doc.text) > MAX_FILE_CHARS:
        raise ConfigError(f"pipeline text is longer than {MAX_FILE_CHARS} characters", filename=doc.filename)
    loader = None
    try:
        loader = _NoAliasLoader(doc.text)   # (the reader already refuses control characters here)
        node = loader.get_single_node()
        if node is None:
            raise doc.error("the pipeline file is empty; it needs at least "
                            + ", ".join(f"'{k}'" for k in REQUIRED), Item(None, 0, 1))
        return _to_item(doc, loader, node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        message = " ".join(p for p in (e.context, e.problem) if p) or "not valid YAML"
        start = mark.index if mark is not None else None
        hint = ("inside [...] or {...}, quote values that contain brackets or commas, e.g. "
                "{x: 'float32[None, 3]'}") if "flow" in message else None
        raise doc.error(f"invalid YAML: {message}", Item(None, start, start), hint=hint) from None
    except yaml.reader.ReaderError as e:
        raise doc.error(f"invalid YAML: character #x{e.character:04x} is not allowed ({e.reason})",
                        Item(None, e.position, e.position + 1)) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", filename=doc.filename) from None
    except RecursionError:
        raise ConfigError(f"YAML nested too deeply (more than {MAX_NESTING} levels)", filename=doc.filename) from None
    finally:
        if loader is not None:
            loader.dispose()


def _to_item(doc: Document, loader, node) -> Item:
    start, end = node.start_mark.index, node.end_mark.index
    if node.tag not in _STANDARD_TAGS:
        raise doc.error(f"unsupported YAML tag {node.tag!r}", Item(None, start, end))
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_object(node)
        return Item(value, start, end, raw=node.value, tag=node.tag.rsplit(":", 1)[-1], style=node.style)
    if isinstance(node, yaml.SequenceNode):
        return Item([_to_item(doc, loader, n) for n in node.value], start, end, tag="seq")
    mapping, keys = {}, {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise doc.error("mapping keys must be plain names", Item(None, key_node.start_mark.index,
                                                                     key_node.end_mark.index))
        key = _to_item(doc, loader, key_node)
        if _hashable(key.value) in mapping:
            first = keys[_hashable(key.value)]
            raise doc.error(f"duplicate key {key.raw!r} (first defined at {doc.where(first.start)})", key)
        item = _to_item(doc, loader, value_node)
        item.key_start, item.key_end = key.start, key.end
        mapping[_hashable(key.value)] = item
        keys[_hashable(key.value)] = key
    return Item(mapping, start, end, tag="map", keys=keys)


def _hashable(value):
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def wrap_python(value, depth: int = 0) -> Item:
    """Items for a plain Python config (from_dict): no positions."""
    if depth > MAX_NESTING:
        raise ConfigError(f"pipeline dict nested deeper than {MAX_NESTING} levels")
    if isinstance(value, dict):
        items = {k: wrap_python(v, depth + 1) for k, v in value.items()}
        return Item(items, tag="map", keys={k: Item(k, raw=str(k)) for k in value})
    if isinstance(value, (list, tuple)):
        return Item([wrap_python(v, depth + 1) for v in value], tag="seq")
    return Item(value, raw=None if not isinstance(value, str) else value)


# ---- mapping positions in the joined program back to the file ----

@dataclass
class StepSource:
    index: int                      # 0-based step number
    text: str                       # the step as written (the YAML value)
    rewritten: str                  # with constants substituted
    offset: int                     # where `rewritten` starts in the joined program
    substitutions: list             # (new_start, new_end, old_start, old_end), in order
    positions: list | None          # document offset of each character of `text` (+ one past the end)
    item: Item

    def original_offset(self, new: int, is_end: bool = False) -> int:
        """Offset in `text` of offset `new` in `rewritten` (inside a literal: the constant's name)."""
        delta = 0
        for new_start, new_end, old_start, old_end in self.substitutions:
            if new < new_start:
                break
            if new < new_end or (is_end and new == new_end):
                return old_end if is_end else old_start
            delta = new_end - old_end
        return max(0, min(len(self.text), new - delta))

    def document_offset(self, offset: int) -> int | None:
        if self.positions is None:
            return None
        offset = max(0, min(offset, len(self.text)))
        return self.positions[offset] if self.positions[offset] is not None else self.item.start


@dataclass
class SourceMap:
    doc: Document
    steps: list[StepSource]
    program_text: str = ""

    def step_at(self, offset: int) -> StepSource:
        found = self.steps[0]
        for step in self.steps:
            if step.offset <= offset:
                found = step
        return found

    def locate(self, offset: int, is_end: bool = False) -> tuple[StepSource, int]:
        """(step, offset in the step's own text) of an offset of the joined program."""
        step = self.step_at(offset)
        return step, step.original_offset(offset - step.offset, is_end)

    def repoint(self, error: MaskDSLError, step: StepSource | None = None) -> MaskDSLError:
        """The same error with its span moved into the document and its message naming the step.

        The span is in the joined program, or, when `step` is given, in that step's own text
        (errors from parsing one step).
        """
        if getattr(error, "_pipeline_repointed", False):
            return error
        out = copy.copy(error)
        out._pipeline_repointed = True
        if error.span is None:
            out.filename = out.filename or self.doc.filename
            if out.source is not None and out.source != self.doc.text:
                out.source = None
            return out
        last = max(error.span.end, error.span.start + 1)
        if step is not None:
            start, end = error.span.start, last
            in_text = lambda offset: (step, offset)  # noqa: E731
            text = step.text
        else:
            step, start = self.locate(error.span.start)
            _, end = self.locate(last, is_end=True)
            in_text, text = self.locate, self.program_text
        start = max(0, min(start, len(step.text)))
        end = max(start + 1, min(end, len(step.text) + 1))
        out.message = f"step {step.index + 1}: {self._rewrite_positions(error.message, text, in_text)}"
        out.args = (out.message,)
        out.hint = error.hint
        if self.doc.text is None:
            out.span = Span.at(step.text, start, end)
            out.source, out.filename = step.text, None
            return out
        doc_start = step.document_offset(start)
        doc_end = step.document_offset(end - 1)
        doc_end = doc_start + 1 if doc_end is None or doc_end < doc_start else doc_end + 1
        out.span = self.doc.span(doc_start, _first_line_end(self.doc.text, doc_start, doc_end))
        out.source, out.filename = self.doc.text, self.doc.filename
        return out

    def describe(self, span: Span | None) -> str:
        """Where a span of the joined program is in the document: 'file:line:col' (for messages)."""
        if span is None:
            return ""
        step, start = self.locate(span.start)
        if self.doc.text is None:
            return f"step {step.index + 1}, column {start + 1}"
        return self.doc.where(step.document_offset(start))

    _POSITION = re.compile(r"line (\d+), column (\d+)")

    def _rewrite_positions(self, message: str, text: str, in_text) -> str:
        """Messages such as "'[' opened at line 1, column 3" name positions in the program text."""
        if not self._POSITION.search(message):
            return message
        lines = text.split("\n")

        def replace(m):
            line, column = int(m.group(1)), int(m.group(2))
            if not 1 <= line <= len(lines):
                return m.group(0)
            step, local = in_text(sum(len(s) + 1 for s in lines[:line - 1]) + column - 1)
            if self.doc.text is None:
                return f"column {local + 1} of step {step.index + 1}"
            where = self.doc.span(step.document_offset(local))
            return f"line {where.line}, column {where.column}" if where else m.group(0)

        return self._POSITION.sub(replace, message)


def align(value: str, doc: str, start: int, end: int) -> list:
    """Document offset of each character of a YAML scalar's value (None where unknown), + the end.

    The value is found in order inside the scalar's text, skipping what YAML removes:
    indentation, quotes, folded line breaks and a block scalar's header. If something
    else differs (an escape sequence), the rest is unknown and errors there point at the
    start of the step.
    """
    positions, p, started = [], start, False
    for ch in value:
        q = p
        while q < end and not (doc[q] == ch or (ch == " " and doc[q] == "\n")):
            if not (doc[q] in " \t\r\n'\"" or (not started and doc[q] in "|>+-0123456789")):
                q = end
                break
            q += 1
        if q >= end:
            positions.extend([None] * (len(value) - len(positions)))
            break
        positions.append(q)
        p, started = q + 1, True
    positions.append(p if positions and positions[-1] is not None else None)
    return positions


# ---- the validated config ----

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
    items: dict                     # section name -> Item, for positions of later errors
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """The config as plain data, as from_dict takes it (what Keras and SavedModels store)."""
        out = {}
        if self.name is not None:
            out["name"] = self.name
        out["inputs"] = {n: str(t) for n, t in self.inputs.items()}
        if self.constants:
            out["constants"] = dict(self.constants)
        out["steps"] = list(self.steps)
        out["outputs"] = list(self.outputs)
        if self.options:
            out["options"] = dict(self.options)
        return out

    def input_item(self, name: str) -> Item | None:
        section = self.items.get("inputs")
        return section.value.get(name) if section is not None else None

    def error(self, message, item=None, hint=None, cls=ConfigError, at_key=False) -> MaskDSLError:
        return self.doc.error(message, item, hint=hint, cls=cls, at_key=at_key)


def load_config(path_or_text, constants: dict | None = None) -> PipelineConfig:
    """Read and validate a pipeline file or YAML text; `constants` overrides constant values."""
    doc = read_document(path_or_text)
    return validate(doc, load_yaml(doc), constants)


def config_from_dict(data, constants: dict | None = None) -> PipelineConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"a pipeline dict must be a dict, not {type(data).__name__}")
    return validate(Document(None, None), wrap_python(data), constants)


def _describe(item: Item) -> str:
    """What YAML made of a scalar, to explain why it is not what was expected."""
    kind = _YAML_TYPE_NAMES.get(type(item.value), type(item.value).__name__)
    if item.raw is not None and item.tag in ("int", "float", "bool", "null") and item.raw != str(item.value):
        return f"{kind}: YAML reads {item.raw!r} as {item.value!r}"
    return kind


def _check_name(doc: Document, key, key_item: Item, value_item: Item, what: str, allow_builtin: bool) -> str:
    if not isinstance(key, str):
        raise doc.error(f"{what} name must be text, but it is {_describe(key_item)}", value_item, at_key=True,
                        hint="quote the name")
    if not IDENTIFIER.match(key) or key.startswith("__"):
        raise doc.error(f"{what} name {key!r} is not a valid name (letters, digits and '_', not starting "
                        f"with a digit or '__')", value_item, at_key=True)
    if key in KEYWORDS:
        raise doc.error(f"{what} name {key!r} is a reserved word of the language", value_item, at_key=True)
    if not allow_builtin and key in FUNCTIONS:
        raise doc.error(f"{what} name {key!r} is a built-in function", value_item, at_key=True,
                        hint="choose another name")
    return key


def _mapping(doc: Document, item: Item, what: str) -> dict:
    if not isinstance(item.value, dict):
        raise doc.error(f"'{what}' must be a mapping of name: value, but it is {_describe(item)}", item)
    return item.value


def _sequence(doc: Document, item: Item, what: str) -> list:
    if not isinstance(item.value, list):
        raise doc.error(f"'{what}' must be a list, but it is {_describe(item)}", item,
                        hint=f"write one entry per line, each starting with '- '")
    return item.value


def parse_number(doc: Document, item: Item, where: str):
    """A constant's value: an int or float as written in decimal (YAML's octal, hex, sexagesimal,
    booleans and strings are refused), or .nan/.inf."""
    value, raw = item.value, item.raw
    if doc.text is None or raw is None or item.style is not None:
        # from a dict, or quoted in YAML
        if isinstance(value, str):
            text = value.strip()
            if item.style is not None or text not in _SPECIAL_FLOATS and text.lstrip("+-") not in _SPECIAL_FLOATS:
                raise doc.error(f"{where} must be a number, not text {value!r}", item,
                                hint="constants are numbers; remove the quotes" if item.style else None)
            sign = -1.0 if text.startswith("-") else 1.0
            return sign * _SPECIAL_FLOATS[text.lstrip("+-")]
        if isinstance(value, bool) or not _is_number(value):
            raise doc.error(f"{where} must be a number, but it is {_describe(item)}", item)
        value = value.item() if hasattr(value, "item") else value
        return _check_range(doc, item, where, value)
    text = raw.strip()
    bare = text.lstrip("+-")
    if bare in _SPECIAL_FLOATS:
        return (-1.0 if text.startswith("-") else 1.0) * _SPECIAL_FLOATS[bare]
    if _DECIMAL.match(text):
        return _check_range(doc, item, where, int(text.replace("_", "")))
    if _FLOAT.match(text) and any(c.isdigit() for c in text) and any(c in text for c in ".eE"):
        return _check_range(doc, item, where, float(text.replace("_", "")))
    hint = None
    if re.fullmatch(r"[-+]?0[0-9_]+", text):
        hint = f"write {int(text.replace('_', '')) if text.lstrip('+-0') == '' else text.lstrip('+-').lstrip('0')} " \
               f"(YAML reads a leading 0 as octal)"
    return _refuse_number(doc, item, where, hint)


def number_from_text(text: str, where: str):
    """A number written on a command line (`--set limit=5`): decimal int or float, nan or inf."""
    t = text.strip()
    bare = t.lstrip("+-")
    sign = -1 if t.startswith("-") else 1
    if bare in _SPECIAL_FLOATS:
        return sign * _SPECIAL_FLOATS[bare]
    if _DECIMAL.match(t):
        return int(t.replace("_", ""))
    if _FLOAT.match(t) and any(c.isdigit() for c in t) and any(c in t for c in ".eE"):
        value = float(t.replace("_", ""))
        if math.isinf(value):
            raise InputError(f"{where}: {text!r} is out of range (larger than float64)")
        return value
    raise InputError(f"{where}: {text!r} is not a decimal number")


def _refuse_number(doc, item, where, hint=None):
    raise doc.error(f"{where} must be a decimal number, but it is {_describe(item)}", item, hint=hint)


def _is_number(value) -> bool:
    import numbers
    return isinstance(value, numbers.Real)


def _check_range(doc, item, where, value):
    if isinstance(value, int) and not -2**63 <= value < 2**63:
        raise doc.error(f"{where} {value} does not fit in int64", item)
    if isinstance(value, float) and math.isinf(value) and item.raw and "inf" not in item.raw.lower():
        raise doc.error(f"{where} {item.raw} is out of range (larger than float64)", item, hint="write .inf")
    return value


def literal_text(value) -> str:
    """How a constant is written into a step: a literal the grammar reads back exactly."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "(-inf)"
        text = repr(value)
    else:
        text = str(int(value))
    return f"({text})" if text.startswith("-") else text


def _walk(node):
    """Every ast node of a statement or expression (iterative)."""
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


def validate(doc: Document, root: Item, constant_overrides: dict | None = None) -> PipelineConfig:
    if not isinstance(root.value, dict):
        raise doc.error(f"a pipeline must be a mapping with keys {', '.join(KEYS)}, "
                        f"but it is {_describe(root)}", root)
    top = root.value
    for key, item in top.items():
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            raise doc.error(f"unknown key {key!r}; a pipeline has {', '.join(KEYS)}", item, at_key=True,
                            hint=f"did you mean '{close[0]}'?" if close else None)
    for key in REQUIRED:
        if key not in top:
            raise doc.error(f"missing key '{key}'", Item(None, root.start, root.start + 1 if root.start is not None
                                                          else None),
                            hint={"inputs": "declare each input with its type, e.g. 'x: float32[None, 3]' "
                                            "(or 'inputs: {}')",
                                  "steps": "list the program lines under 'steps:'",
                                  "outputs": "list the names to return, e.g. 'outputs: [x]'"}[key])

    name = None
    if "name" in top:
        name = top["name"].value
        if not isinstance(name, str) or not name.strip():
            raise doc.error(f"'name' must be text, but it is {_describe(top['name'])}", top["name"])

    # inputs
    inputs: dict[str, Type] = {}
    for key, item in _mapping(doc, top["inputs"], "inputs").items():
        key = _check_name(doc, key, top["inputs"].keys[key], item, "input", allow_builtin=False)
        spec = item.value
        if isinstance(spec, Type):
            spec = str(spec)
        if not isinstance(spec, str):
            raise doc.error(f"the type of input '{key}' must be a spec like 'float32[None, 3]', "
                            f"but it is {_describe(item)}", item)
        try:
            inputs[key] = Type.parse(spec)
        except MaskDSLError as e:
            raise doc.error(f"input '{key}': {e.message}", item) from None

    # constants
    constants: dict[str, int | float] = {}
    const_items: dict[str, Item] = {}
    if "constants" in top and top["constants"].value is not None:
        for key, item in _mapping(doc, top["constants"], "constants").items():
            key = _check_name(doc, key, top["constants"].keys[key], item, "constant", allow_builtin=True)
            if key in inputs:
                where = doc.where(top["inputs"].value[key].key_start)
                raise doc.error(f"'{key}' is both an input{f' (at {where})' if where else ''} and a constant",
                                item, at_key=True)
            constants[key] = parse_number(doc, item, f"constant '{key}'")
            const_items[key] = item
    for key, value in (constant_overrides or {}).items():
        if key not in constants:
            raise ConfigError(f"no constant named {key!r} to override "
                              f"(constants: {', '.join(constants) or 'none'})")
        constants[key] = parse_number(Document(None, None), Item(value), f"constant '{key}'")

    # steps
    steps_item = top["steps"]
    step_items = _sequence(doc, steps_item, "steps")
    if not step_items:
        raise doc.error("'steps' is empty; a pipeline needs at least one step", steps_item)
    sources: list[StepSource] = []
    assigned: dict[str, int] = {}
    used_constants: set[str] = set()
    offset = 0
    smap = SourceMap(doc, sources)
    for i, item in enumerate(step_items):
        text = item.value
        if not isinstance(text, str):
            hint = "quote the step: - '...'"
            if isinstance(text, dict):
                hint = "YAML read ': ' in this step as a key: value pair; quote the whole step"
            elif text is None:
                hint = "remove the empty '-' entry or write the step after it"
            raise doc.error(f"step {i + 1} must be text, but it is {_describe(item)}", item, hint=hint)
        if not text.strip():
            raise doc.error(f"step {i + 1} is empty", item)
        positions = align(text, doc.text, item.start, item.end) if doc.text is not None else None
        step = StepSource(i, text, text, offset, [], positions, item)
        sources.append(step)
        try:
            module = parse(text)
        except MaskDSLError as e:
            raise smap.repoint(e, step=step) from None
        replacements = []
        for stmt in module.statements:
            for node in _walk(stmt):
                if isinstance(node, syntax.Assign) and node.name in constants:
                    span = node.name_span
                    raise smap.repoint(ConfigError(
                        f"cannot assign to '{node.name}': it is a constant of the pipeline",
                        span, hint="constants are read-only; assign a new name instead"), step=step)
                if isinstance(node, syntax.Name) and node.id in constants and node.span is not None:
                    replacements.append((node.span.start, node.span.end, literal_text(constants[node.id])))
                    used_constants.add(node.id)
            if isinstance(stmt, syntax.Assign):
                assigned.setdefault(stmt.name, i)
        rewritten, subs, cursor = [], [], 0
        new_pos = 0
        for old_start, old_end, literal in sorted(replacements):
            rewritten.append(text[cursor:old_start])
            new_pos += old_start - cursor
            subs.append((new_pos, new_pos + len(literal), old_start, old_end))
            rewritten.append(literal)
            new_pos += len(literal)
            cursor = old_end
        rewritten.append(text[cursor:])
        step.rewritten, step.substitutions = "".join(rewritten), subs
        offset += len(step.rewritten) + 1
    program_text = "\n".join(s.rewritten for s in sources)
    smap.program_text = program_text

    # outputs
    outputs_item = top["outputs"]
    output_items = _sequence(doc, outputs_item, "outputs")
    if not output_items:
        raise doc.error("'outputs' is empty; name at least one value to return", outputs_item)
    outputs: list[str] = []
    for item in output_items:
        out = item.value
        if not isinstance(out, str):
            raise doc.error(f"an output must be a name, but it is {_describe(item)}", item)
        if out in outputs:
            raise doc.error(f"output '{out}' is listed twice", item)
        if out not in assigned:
            if out in constants:
                why = "it is a constant"
            elif out in inputs:
                why = "it is an input that no step assigns"
            else:
                why = "no step assigns it"
            close = difflib.get_close_matches(out, list(assigned), n=1)
            raise doc.error(f"output '{out}' is never assigned: {why}", item,
                            hint=f"did you mean '{close[0]}'?" if close else
                            (f"add a step such as '{out} = {out}'" if out in inputs else None))
        outputs.append(out)

    # options
    options: dict = {}
    if "options" in top and top["options"].value is not None:
        for key, item in _mapping(doc, top["options"], "options").items():
            if key not in OPTIONS:
                close = difflib.get_close_matches(str(key), OPTIONS, n=1)
                raise doc.error(f"unknown option {key!r}; options are {', '.join(OPTIONS)}", item, at_key=True,
                                hint=f"did you mean '{close[0]}'?" if close else None)
            allowed = OPTIONS[key]
            value = item.value
            if isinstance(value, str) and value.lower() in ("true", "false") and key == "jit_compile":
                value = value.lower() == "true"
            if not any(value is a or (isinstance(a, str) and value == a) for a in allowed):
                shown = ", ".join(str(a).lower() if isinstance(a, bool) else a for a in allowed)
                raise doc.error(f"option '{key}' must be one of {shown}, not {item.raw or value!r}", item)
            options[key] = value

    warnings = [(f"constant '{k}' is never used by the steps", const_items[k])
                for k in constants if k not in used_constants and k in const_items]
    items = {k: v for k, v in top.items()}
    return PipelineConfig(doc, name, inputs, constants, tuple(s.text for s in sources), tuple(outputs), options,
                          program_text, smap, items, warnings)
