"""Every error a user can cause is a MaskDSLError carrying a span into the source.

>>> err = ParseError("expected an expression", Span.at("x[x > ] = 1", 6), source="x[x > ] = 1")
>>> print(err)
line 1, column 7: ParseError: expected an expression
  x[x > ] = 1
        ^

Callers decide what to do from an error's fields, never from its message: `name` (the
input, variable or function concerned), `option` (the option concerned) and `code` (what
went wrong, a short stable word such as "not-in-signature"). Positions a message names
besides its span (where a bracket was opened) are `places`, spans the message is rendered
from. An error is moved to other coordinates (a line inside a file, a step inside a
pipeline) by `relocated()`, which returns a copy: errors are never edited in place.

>>> moved = err.relocated(source="y = 1\\nx[x > ] = 1", offset=6, filename="prog.mdsl")
>>> print(moved.location(), err.location())
prog.mdsl:2:7 line 1, column 7
"""

from __future__ import annotations

import copy
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) of the source, with 1-based line/column."""

    start: int
    end: int
    line: int
    column: int

    @staticmethod
    def at(source: str, start: int, end: int | None = None) -> Span:
        """The span of source[start:end], computing line and column."""
        end = start + 1 if end is None else end
        line = source.count("\n", 0, start) + 1
        column = start - (source.rfind("\n", 0, start) + 1) + 1
        return Span(start, max(end, start), line, column)

    def cover(self, other: Span | None) -> Span:
        """The smallest span containing both."""
        if other is None:
            return self
        first = self if self.start <= other.start else other
        return Span(first.start, max(self.end, other.end), first.line, first.column)


def escape_text(text: str) -> str:
    """Show control and invisible characters as escapes, so messages are safe to print."""
    out = []
    for ch in text:
        if ch == "\t":
            out.append(" ")  # keep the caret column aligned
        elif ch.isprintable() and ch not in "\u00a0\u200b\ufeff":
            out.append(ch)
        else:
            out.append(f"U+{ord(ch):04X}")
    return "".join(out)


def escape_message(text: str) -> str:
    """A message with control characters shown as escapes (a name or a file name can hold any
    character; printing it raw could move the cursor or recolour a terminal). Newlines stay."""
    if text.isprintable():
        return text
    return "\n".join(line if line.isprintable() else escape_text(line) for line in text.split("\n"))


LISTED = 10   # names a message lists before it says how many more there are


def listing(names, limit: int = LISTED, quote: bool = False) -> str:
    """Names for a message, at most `limit` of them (an archive can hold 20,000 arrays, and one
    error line should not). The names are escaped; "none" for none.

    >>> listing(["a", "b"]), listing([f"x{i}" for i in range(12)], 3), listing([])
    ('a, b', 'x0, x1, x2 and 9 more', 'none')
    """
    names = list(names)
    if not names:
        return "none"
    shown = [escape_text(str(n)) for n in names[:limit]]
    if quote:
        shown = [f"'{n}'" for n in shown]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more else "")


def describe_char(ch: str) -> str:
    """A character as a message can name it: 'x', 'ｘ' (U+FF58), or U+00A0 for invisible ones."""
    code = f"U+{ord(ch):04X}"
    if ch.isascii() and ch.isprintable():
        return repr(ch)
    if ch.isprintable() and not ch.isspace():
        return f"'{ch}' ({code})"
    return code


class _Keep:
    """relocated(): leave this field as it is."""

    def __repr__(self) -> str:
        return "KEEP"


_KEEP = _Keep()


def _render(template: str, places: dict) -> str:
    """A message from its template: each place a position ("line 1, column 5") or text."""
    if not places:
        return template
    return template.format(**{key: f"line {p.line}, column {p.column}" if isinstance(p, Span) else p
                              for key, p in places.items()})


class MaskDSLError(Exception):
    """Base class: a message, the span it points at and the source it came from."""

    kind = "MaskDSLError"

    def __init__(self, message: str, span: Span | None = None, source: str | None = None,
                 hint: str | None = None, filename: str | None = None, *, name: str | None = None,
                 option: str | None = None, code: str | None = None, places: dict | None = None):
        self.template = message
        self.places = dict(places) if places else {}
        self.message = _render(message, self.places)
        super().__init__(self.message)
        self.span = span
        self.source = source
        self.hint = hint
        self.filename = filename
        self.name = name
        self.option = option
        self.code = code

    @property
    def line(self) -> int | None:
        """The 1-based line of the span in `source`, or None when the error points nowhere."""
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        """The 1-based column of the span's start in its line, or None."""
        return self.span.column if self.span else None

    def relocated(self, *, span=_KEEP, source=_KEEP, filename=_KEEP, hint=_KEEP, offset: int | None = None,
                  template=_KEEP, places=_KEEP) -> MaskDSLError:
        """A copy of this error pointing elsewhere; what is not given is kept.

        `offset`: the error's span (and places) point into a text that starts at `offset`
        in the new `source`; they are moved there, with line and column recomputed.
        `template` and `places` give a new message: `template` may name places as
        `{opened}`, each a Span (shown as "line L, column C") or text shown as it is.
        """
        out = copy.copy(self)
        if offset is not None:
            text = self.source if source is _KEEP else source
            if self.span is not None and span is _KEEP:
                span = Span.at(text, offset + self.span.start, offset + self.span.end)
            if places is _KEEP:
                places = {k: Span.at(text, offset + p.start, offset + p.end) if isinstance(p, Span) else p
                          for k, p in self.places.items()}
        for field_name, value in (("span", span), ("source", source), ("filename", filename), ("hint", hint),
                                  ("template", template)):
            if value is not _KEEP:
                setattr(out, field_name, value)
        if places is not _KEEP:
            out.places = dict(places)
        out.message = _render(out.template, out.places)
        out.args = (out.message,)
        return out

    def with_source(self, source: str, filename: str | None = None) -> MaskDSLError:
        """This error with the program text (and file name) filled in where it has none, so
        str() can draw the caret (a copy when anything is filled in)."""
        fill_source = self.source is None and source is not None
        fill_filename = bool(filename) and self.filename is None
        if not (fill_source or fill_filename):
            return self
        return self.relocated(source=source if fill_source else _KEEP, filename=filename if fill_filename else _KEEP)

    def caret_lines(self) -> list[str]:
        """The two lines str() shows under the message: the source line (indented, control
        characters escaped) and `^` under the span; [] without a span or source."""
        if self.span is None or self.source is None:
            return []
        lines = self.source.split("\n")
        if not 1 <= self.span.line <= len(lines):
            return []
        text = lines[self.span.line - 1].rstrip("\r")
        col = self.span.column - 1
        shown = escape_text(text)
        # Escapes widen the line; move the caret by the same amount.
        prefix = escape_text(text[:col])
        width = max(1, min(self.span.end - self.span.start, len(text) - col))
        marked = escape_text(text[col:col + width]) if col < len(text) else " "
        return ["  " + shown, "  " + " " * len(prefix) + "^" * max(1, len(marked))]

    def location(self) -> str:
        """Where the error points: `FILE:LINE:COLUMN` with a filename, else `line L, column C`
        (`FILE` alone without a span, '' with neither)."""
        where = []
        if self.filename:
            where.append(self.filename)
        if self.span is not None:
            if self.filename:
                where.append(f"{self.span.line}:{self.span.column}")
            else:
                where.append(f"line {self.span.line}, column {self.span.column}")
        return ":".join(where) if self.filename else ", ".join(where)

    def __str__(self) -> str:
        loc = escape_message(self.location())
        message = escape_message(self.message)
        head = f"{loc}: {self.kind}: {message}" if loc else f"{self.kind}: {message}"
        parts = [head, *self.caret_lines()]
        if self.hint:
            parts.append(f"hint: {escape_message(self.hint)}")
        return "\n".join(parts)


class ParseError(MaskDSLError):
    """The text is not a maskdsl program."""
    kind = "ParseError"


class UnknownNameError(MaskDSLError):
    """A variable or function that does not exist."""
    kind = "UnknownNameError"


class DTypeError(MaskDSLError):
    """An operation NumPy would reject for these dtypes (or a value that does not fit)."""
    kind = "DTypeError"


class ShapeError(MaskDSLError):
    """Shapes that do not broadcast, masks of the wrong shape, wrong value counts."""
    kind = "ShapeError"


class IndexOutOfRangeError(MaskDSLError):
    """An integer index outside the dimension it indexes."""
    kind = "IndexOutOfRangeError"


class ValueDSLError(MaskDSLError):
    """A value NumPy would reject at run time (max of an empty selection, int ** -1)."""
    kind = "ValueError"


class LimitError(MaskDSLError):
    """The program exceeds one of maskdsl's size limits."""
    kind = "LimitError"


class InputError(MaskDSLError):
    """A call passed missing, extra or ill-typed inputs."""
    kind = "InputError"


class ConfigError(MaskDSLError):
    """A pipeline file that is not valid."""
    kind = "ConfigError"


class DataError(MaskDSLError):
    """A data file that cannot be read or does not match the declared inputs."""
    kind = "DataError"


ERROR_CLASSES = (ParseError, UnknownNameError, DTypeError, ShapeError, IndexOutOfRangeError,
                 ValueDSLError, LimitError, InputError, ConfigError, DataError)
