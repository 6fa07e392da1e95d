"""A pipeline's constants: numbers as a person writes them, read exactly, written back as literals.

YAML 1.1 reads `010` as 8, `0x10` as 16 and `1:30` as 90; a constant is an int or a
float written in decimal (or nan/inf), and anything else is refused with the reason.
From Python (from_dict, with_constants) a constant is what a YAML file can give: an
int or a float, nan/inf as text, or a NumPy integer or float scalar; a Fraction, a
Decimal, a bool or a complex number is refused, never rounded. An integer must fit
what a step can hold (within +-(2**63 - 1), limits.MAX_INT_LITERAL: the literal
-2**63 is beyond it), and its text is checked for length before Python reads it.
A constant is substituted into the steps as a literal the grammar reads back exactly.

>>> number_from_text("1_000", "--set n"), number_from_text("-.5", "--set f")
(1000, -0.5)
>>> literal_text(-2), literal_text(float("inf")), literal_text(0.1)
('(-2)', 'inf', '0.1')
"""

from __future__ import annotations

import math
import re

import numpy as np

from maskdsl import limits
from maskdsl.errors import InputError
from maskdsl.pipeline.yaml_source import Document, LongInteger, YamlNode, describe

_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9_]*)\Z")
_FLOAT = re.compile(r"[-+]?(0|[1-9][0-9_]*)?(\.[0-9_]*)?([eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOATS = {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan, "nan": math.nan,
                   ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "inf": math.inf}


def _special(text: str) -> float | None:
    """nan, inf or -inf for their spellings (YAML's `.nan`, `.inf` and the language's), else None."""
    bare = text.lstrip("+-")
    if bare not in _SPECIAL_FLOATS:
        return None
    return (-1.0 if text.startswith("-") else 1.0) * _SPECIAL_FLOATS[bare]


_INT_DIGITS = len(str(limits.MAX_INT_LITERAL))


def _decimal(text: str) -> int | float | None:
    """The number a decimal int or float spells (underscores allowed), else None. An integer with
    more digits than int64 has is refused before Python reads it (int() refuses 4,300 digits)."""
    if _DECIMAL.match(text):
        digits = text.lstrip("+-").replace("_", "")
        if len(digits) > _INT_DIGITS:
            raise _TooLong(len(digits))
        return int(text.replace("_", ""))
    if _FLOAT.match(text) and any(c.isdigit() for c in text) and any(c in text for c in ".eE"):
        return float(text.replace("_", ""))
    return None


class _TooLong(ValueError):
    """An integer with more digits than any int64 has."""

    def __init__(self, digits: int):
        super().__init__(digits)
        self.digits = digits

    def text(self, where: str) -> str:
        return f"{where} is an integer of {self.digits:,} digits, which does not fit in int64"


def shown_number(text: str) -> str:
    """A number as written, shortened for a message (a constant can be thousands of digits long)."""
    return text if len(text) <= 40 else f"{text[:20]}...{text[-8:]} ({len(text):,} characters)"


def _plain_number(value):
    """A number from Python as a YAML file could give it (int or float; NumPy integer and float
    scalars become theirs), or None for any other type (Fraction, Decimal, bool, complex, ...)."""
    if type(value) in (int, float):
        return value
    if isinstance(value, (np.integer, np.floating)) and value.dtype.kind in "iuf" and value.dtype.itemsize <= 8:
        return value.item()
    return None


def parse_number(doc: Document, node: YamlNode, where: str):
    """A constant's value: an int or float as written in decimal (YAML's octal, hex, sexagesimal,
    booleans and strings are refused), or .nan/.inf."""
    value, raw = node.value, node.raw
    if doc.text is None or raw is None or node.style is not None:
        # from a dict, or quoted in YAML
        if isinstance(value, str):
            special = _special(value.strip())
            if node.style is not None or special is None:
                raise doc.error(f"{where} must be a number, not text {value!r}", node,
                                hint="constants are numbers; remove the quotes" if node.style else None)
            return special
        number = _plain_number(value)
        if number is None and isinstance(value, (bool, np.bool_, type(None), dict, list, LongInteger)):
            raise doc.error(f"{where} must be a number, but it is {describe(node)}", node)
        if number is None:  # a Fraction, a Decimal, a complex number: no YAML file holds one
            raise doc.error(f"{where} must be an int or a float, as a YAML file writes numbers, not "
                            f"{type(value).__name__} {shown_number(str(value))}", node,
                            hint="convert it yourself (float(value) or int(value)): a pipeline does not round")
        return _check_range(doc, node, where, number)
    text = raw.strip()
    special = _special(text)
    if special is not None:
        return special
    try:
        number = _decimal(text)
    except _TooLong as e:
        raise doc.error(e.text(where), node) from None
    if number is not None:
        return _check_range(doc, node, where, number)
    hint = None
    if len(text) <= 40 and re.fullmatch(r"[-+]?0[0-9_]+", text):
        hint = f"write {int(text.replace('_', '')) if text.lstrip('+-0') == '' else text.lstrip('+-').lstrip('0')} " \
               f"(YAML reads a leading 0 as octal)"
    raise doc.error(f"{where} must be a decimal number, but it is {describe(node)}", node, hint=hint)


def number_from_text(text: str, where: str):
    """A number written on a command line (`--set limit=5`): decimal int or float, nan or inf."""
    t = text.strip()
    special = _special(t)
    if special is not None:
        return special
    try:
        number = _decimal(t)
    except _TooLong as e:
        raise InputError(e.text(where)) from None
    if number is None:
        raise InputError(f"{where}: {shown_number(text)!r} is not a decimal number")
    if isinstance(number, float) and math.isinf(number):
        raise InputError(f"{where}: {shown_number(text)!r} is out of range (larger than float64)")
    return number


def _check_range(doc: Document, node: YamlNode, where: str, value):
    if isinstance(value, int) and abs(value) > limits.MAX_INT_LITERAL:
        if value.bit_length() > 4 * _INT_DIGITS:
            raise doc.error(f"{where} is an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits, "
                            f"which does not fit in int64", node)
        hint = "a step cannot hold -2**63 as a literal; use -9223372036854775807" if value == -2**63 else None
        raise doc.error(f"{where} {value} is beyond what a step can hold (integers within "
                        f"+-{limits.MAX_INT_LITERAL})", node, hint=hint)
    if isinstance(value, float) and math.isinf(value) and node.raw and "inf" not in node.raw.lower():
        raise doc.error(f"{where} {shown_number(node.raw)} is out of range (larger than float64)", node,
                        hint="write .inf")
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
