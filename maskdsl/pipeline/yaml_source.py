"""Pipeline text -> a tree of YamlNodes that remember where in the file each value was.

PyYAML's safe loader, with aliases refused while the document is composed (so nothing
is ever expanded) and nesting bounded before anything recursive runs. Each value keeps
its character offsets, and its key's, so that later checks can point into the file.
A pipeline given as a Python dict becomes the same tree without positions.

>>> doc = Document("inputs: {x: 'float32[None]'}\\n", "<string>")
>>> root = load_yaml(doc)
>>> spec = root.value["inputs"].value["x"]
>>> spec.value, doc.text[spec.start:spec.end], doc.where(spec.key_start)
('float32[None]', "'float32[None]'", '<string>:1:10')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from maskdsl import limits
from maskdsl.errors import ConfigError, MaskDSLError, Span, escape_text
from maskdsl.pipeline.files import open_regular, read_limited

MAX_FILE_CHARS = limits.MAX_PIPELINE_CHARS   # a pipeline is a page of text, not a data file
MAX_NESTING = 64                 # YAML nesting depth accepted before anything recursive runs
_STANDARD_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}
MAX_INT_DIGITS = 4000            # Python refuses to read integers of more than 4,300 digits


class LongInteger:
    """An integer of the file too long to read as one (`raw` is its text): no pipeline value can
    be one, and each check that meets it says so in its own words."""

    def __init__(self, raw: str):
        self.raw = raw

    def __repr__(self) -> str:
        return f"<an integer of {len(self.raw):,} characters>"


_YAML_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", type(None): "empty (null)",
                    dict: "a mapping", list: "a list"}
_LONG_DIGITS = re.compile(rf"[-+]?[0-9_]{{{MAX_INT_DIGITS},}}\Z")


@dataclass
class YamlNode:
    """A value of the file: `value` is a dict of YamlNodes, a list of YamlNodes or a scalar.

    start/end are character offsets of the value in the document (None for dicts from
    Python); key_start/key_end those of the key it is the value of; raw and tag the
    scalar as written and the type YAML gave it; style its quoting (None when plain).
    """

    value: Any
    start: int | None = None
    end: int | None = None
    raw: str | None = None
    tag: str | None = None
    style: str | None = None
    key_start: int | None = None
    key_end: int | None = None
    keys: dict = field(default_factory=dict)   # for mappings: key -> YamlNode of the key itself


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

    def caret_span(self, start: int | None, end: int | None) -> Span | None:
        """The span of [start, end), cut at the end of its first line (carets stay on one line)."""
        return self.span(start, first_line_end(self.text, start, end))

    def error(self, message: str, node: YamlNode | None = None, hint: str | None = None,
              cls=ConfigError, at_key: bool = False, **fields) -> MaskDSLError:
        """An error pointing at `node` (at its key with at_key); `fields` are the error's
        structured fields (name=, option=, code=)."""
        start, end = (None, None)
        if node is not None:
            start, end = (node.key_start, node.key_end) if at_key and node.key_start is not None \
                else (node.start, node.end)
        return cls(message, self.caret_span(start, end), source=self.text, hint=hint, filename=self.filename,
                   **fields)

    def where(self, start: int | None) -> str:
        """'file:line:col' (or '' for a dict) for a position, used inside messages."""
        span = self.span(start)
        if span is None:
            return ""
        return f"{self.filename}:{span.line}:{span.column}" if self.filename else \
            f"line {span.line}, column {span.column}"


def first_line_end(text: str | None, start: int | None, end: int | None) -> int | None:
    """Carets stay on one line: a multi-line value is marked up to the end of its first line."""
    if text is None or start is None or end is None:
        return end
    newline = text.find("\n", start, end)
    return end if newline < 0 else max(newline, start + 1)


def describe(node: YamlNode) -> str:
    """What YAML made of a scalar, to explain why it is not what was expected.

    >>> describe(YamlNode(8, raw="010", tag="int"))
    "an integer: YAML reads '010' as 8"
    """
    kind = _YAML_TYPE_NAMES.get(type(node.value), type(node.value).__name__)
    if isinstance(node.value, LongInteger):
        return f"an integer of {len(node.value.raw):,} characters, too long to use"
    if node.raw is not None and node.tag in ("int", "float", "bool", "null") and node.raw != str(node.value):
        return f"{kind}: YAML reads {node.raw!r} as {node.value!r}"
    return kind


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
        shown = escape_text(path)
        limit = MAX_FILE_CHARS * 4   # bytes: UTF-8 takes up to four per character
        try:
            with open_regular(path) as f:   # never /dev/zero, a FIFO or a device: they never end
                data = read_limited(f, limit + 1)
            if len(data) > limit:
                raise ConfigError(f"pipeline file '{shown}' is more than {limit:,} bytes; a pipeline must be "
                                  f"under {MAX_FILE_CHARS:,} characters", filename=path)
            text = data.decode("utf-8-sig")
        except FileNotFoundError:
            raise ConfigError(f"no such pipeline file: '{shown}'") from None
        except IsADirectoryError:
            raise ConfigError(f"'{shown}' is a directory, not a pipeline file") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"pipeline file '{shown}' is not UTF-8 text ({e.reason} at byte {e.start})",
                              filename=path) from None
        except OSError as e:
            raise ConfigError(f"cannot read pipeline file '{shown}': {e.strerror or e}") from None
        return Document(text, path)
    if not isinstance(path_or_text, str):
        raise ConfigError(f"a pipeline is a path or YAML text, not {type(path_or_text).__name__}")
    return Document(path_or_text.removeprefix("\ufeff"), "<string>")


def load_yaml(doc: Document) -> YamlNode | None:
    """Parse the document into YamlNodes (positions kept), with a safe loader and no aliases;
    None for a document with no content."""
    if len(doc.text) > MAX_FILE_CHARS:
        raise ConfigError(f"pipeline text is longer than {MAX_FILE_CHARS} characters", filename=doc.filename)
    loader = None
    try:
        loader = _NoAliasLoader(doc.text)   # (the reader already refuses control characters here)
        node = loader.get_single_node()
        return None if node is None else _to_node(doc, loader, node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        message = " ".join(p for p in (e.context, e.problem) if p) or "not valid YAML"
        start = mark.index if mark is not None else None
        hint = ("inside [...] or {...}, quote values that contain brackets or commas, e.g. "
                "{x: 'float32[None, 3]'}") if "flow" in message else None
        raise doc.error(f"invalid YAML: {message}", YamlNode(None, start, start), hint=hint) from None
    except yaml.reader.ReaderError as e:
        raise doc.error(f"invalid YAML: character #x{e.character:04x} is not allowed ({e.reason})",
                        YamlNode(None, e.position, e.position + 1)) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", filename=doc.filename) from None
    except RecursionError:
        raise ConfigError(f"YAML nested too deeply (more than {MAX_NESTING} levels)", filename=doc.filename) from None
    finally:
        if loader is not None:
            loader.dispose()


def _to_node(doc: Document, loader, node) -> YamlNode:
    start, end = node.start_mark.index, node.end_mark.index
    if node.tag not in _STANDARD_TAGS:
        raise doc.error(f"unsupported YAML tag {node.tag!r}", YamlNode(None, start, end))
    if isinstance(node, yaml.ScalarNode):
        if node.tag.endswith(":int") and node.style is None and _LONG_DIGITS.match(node.value):
            value = LongInteger(node.value)   # Python's int() refuses it (more than 4,300 digits)
        else:
            value = loader.construct_object(node)
        return YamlNode(value, start, end, raw=node.value, tag=node.tag.rsplit(":", 1)[-1], style=node.style)
    if isinstance(node, yaml.SequenceNode):
        return YamlNode([_to_node(doc, loader, n) for n in node.value], start, end, tag="seq")
    mapping, keys = {}, {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise doc.error("mapping keys must be plain names", YamlNode(None, key_node.start_mark.index,
                                                                         key_node.end_mark.index))
        key = _to_node(doc, loader, key_node)
        if _hashable(key.value) in mapping:
            first = keys[_hashable(key.value)]
            raise doc.error(f"duplicate key {key.raw!r} (first defined at {doc.where(first.start)})", key)
        item = _to_node(doc, loader, value_node)
        item.key_start, item.key_end = key.start, key.end
        mapping[_hashable(key.value)] = item
        keys[_hashable(key.value)] = key
    return YamlNode(mapping, start, end, tag="map", keys=keys)


def _hashable(value):
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def wrap_python(value, depth: int = 0) -> YamlNode:
    """YamlNodes for a plain Python config (from_dict): no positions."""
    if depth > MAX_NESTING:
        raise ConfigError(f"pipeline dict nested deeper than {MAX_NESTING} levels")
    if isinstance(value, dict):
        items = {k: wrap_python(v, depth + 1) for k, v in value.items()}
        return YamlNode(items, tag="map", keys={k: YamlNode(k, raw=str(k)) for k in value})
    if isinstance(value, (list, tuple)):
        return YamlNode([wrap_python(v, depth + 1) for v in value], tag="seq")
    return YamlNode(value, raw=None if not isinstance(value, str) else value)
