"""A pipeline's constants: numbers as a person writes them, read exactly, written back as literals.

YAML 1.1 reads `010` as 8, `0x10` as 16 and `1:30` as 90; a constant is an int or a
float written in decimal (or nan/inf), and anything else is refused with the reason.
A constant is substituted into the steps as a literal the grammar reads back exactly.

>>> number_from_text("1_000", "--set n"), number_from_text("-.5", "--set f")
(1000, -0.5)
>>> literal_text(-2), literal_text(float("inf")), literal_text(0.1)
('(-2)', 'inf', '0.1')
"""

from __future__ import annotations

import math
import numbers
import re

from maskdsl.errors import InputError
from maskdsl.pipeline.yaml_source import Document, YamlNode, describe

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


def _decimal(text: str) -> int | float | None:
    """The number a decimal int or float spells (underscores allowed), else None."""
    if _DECIMAL.match(text):
        return int(text.replace("_", ""))
    if _FLOAT.match(text) and any(c.isdigit() for c in text) and any(c in text for c in ".eE"):
        return float(text.replace("_", ""))
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
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise doc.error(f"{where} must be a number, but it is {describe(node)}", node)
        value = value.item() if hasattr(value, "item") else value
        return _check_range(doc, node, where, value)
    text = raw.strip()
    special = _special(text)
    if special is not None:
        return special
    number = _decimal(text)
    if number is not None:
        return _check_range(doc, node, where, number)
    hint = None
    if re.fullmatch(r"[-+]?0[0-9_]+", text):
        hint = f"write {int(text.replace('_', '')) if text.lstrip('+-0') == '' else text.lstrip('+-').lstrip('0')} " \
               f"(YAML reads a leading 0 as octal)"
    raise doc.error(f"{where} must be a decimal number, but it is {describe(node)}", node, hint=hint)


def number_from_text(text: str, where: str):
    """A number written on a command line (`--set limit=5`): decimal int or float, nan or inf."""
    t = text.strip()
    special = _special(t)
    if special is not None:
        return special
    number = _decimal(t)
    if number is None:
        raise InputError(f"{where}: {text!r} is not a decimal number")
    if isinstance(number, float) and math.isinf(number):
        raise InputError(f"{where}: {text!r} is out of range (larger than float64)")
    return number


def _check_range(doc: Document, node: YamlNode, where: str, value):
    if isinstance(value, int) and not -2**63 <= value < 2**63:
        raise doc.error(f"{where} {value} does not fit in int64", node)
    if isinstance(value, float) and math.isinf(value) and node.raw and "inf" not in node.raw.lower():
        raise doc.error(f"{where} {node.raw} is out of range (larger than float64)", node, hint="write .inf")
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
