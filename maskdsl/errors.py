"""Every error a user can cause is a MaskDSLError carrying a span into the source.

>>> err = ParseError("expected an expression", Span.at("x[x > ] = 1", 6), source="x[x > ] = 1")
>>> print(err)
line 1, column 7: ParseError: expected an expression
  x[x > ] = 1
        ^
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) of the source, with 1-based line/column."""

    start: int
    end: int
    line: int
    column: int

    @staticmethod
    def at(source: str, start: int, end: int | None = None) -> "Span":
        """The span of source[start:end], computing line and column."""
        end = start + 1 if end is None else end
        line = source.count("\n", 0, start) + 1
        column = start - (source.rfind("\n", 0, start) + 1) + 1
        return Span(start, max(end, start), line, column)

    def cover(self, other: "Span | None") -> "Span":
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


def describe_char(ch: str) -> str:
    """A character as a message can name it: 'x', 'ｘ' (U+FF58), or U+00A0 for invisible ones."""
    code = f"U+{ord(ch):04X}"
    if ch.isascii() and ch.isprintable():
        return repr(ch)
    if ch.isprintable() and not ch.isspace():
        return f"'{ch}' ({code})"
    return code


class MaskDSLError(Exception):
    """Base class: a message, the span it points at and the source it came from."""

    kind = "MaskDSLError"

    def __init__(self, message: str, span: Span | None = None, source: str | None = None,
                 hint: str | None = None, filename: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.source = source
        self.hint = hint
        self.filename = filename

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def with_source(self, source: str, filename: str | None = None) -> "MaskDSLError":
        """Attach the program text (if not yet attached) so str() can draw the caret."""
        if self.source is None:
            self.source = source
        if filename and self.filename is None:
            self.filename = filename
        return self

    def caret_lines(self) -> list[str]:
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
