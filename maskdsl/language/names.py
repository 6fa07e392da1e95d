"""The names of the language: what an identifier is, and the words a program cannot bind.

The one definition the parser, lowering, code generation (which re-validates every name
it writes into Python source), pipeline files, the REPL and the highlighter share. Plain
Python: importing it loads neither Lark nor Pygments.

>>> [is_identifier(text) for text in ("x_1", "1x", "__class__", "x-y")]
[True, False, False, False]
>>> "and" in KEYWORDS, "sum" in RESERVED, "x" in RESERVED
(True, True, False)
"""

from __future__ import annotations

import re

from maskdsl.language.functions import FUNCTIONS, NAMESPACES, NUMPY_CONSTANTS  # noqa: F401  (re-exported)

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
"""An identifier, as the grammar's NAME token reads one (use .match: the pattern anchors the end)."""

OPERATOR_WORDS = ("and", "or", "not")
"""Element-wise spellings of & | ~ (highlighted and completed as operators)."""

CONSTANTS = ("True", "False", "None", "nan", "inf")
"""Literals spelt as words."""

KEYWORDS = frozenset(OPERATOR_WORDS + CONSTANTS)
"""Words of the grammar; never names. (Where an operator cannot follow, the contextual lexer
would read `and`/`or` as a NAME: `and = 1`, `x[: or]`.)"""

FUNCTION_NAMES = frozenset(FUNCTIONS)
"""The built-in functions: called, never assigned or read as values."""

RESERVED = KEYWORDS | FUNCTION_NAMES | frozenset(NAMESPACES)
"""Every word a program cannot use as a variable."""


def is_identifier(text: str) -> bool:
    """An identifier not starting with '__' (such names are Python's, and refused everywhere)."""
    return IDENTIFIER.match(text) is not None and not text.startswith("__")
