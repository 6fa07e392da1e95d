"""The words of the language and what a name may be, declared once.

The parser refuses the keywords as names, pipelines refuse them as input and constant
names, the REPL as variable names, and the highlighter and the REPL's completion list
them. Plain Python: importing this module loads neither Lark nor Pygments.

>>> sorted(KEYWORDS) == sorted(OPERATOR_WORDS + CONSTANTS)
True
>>> bool(IDENTIFIER.match("x_2")), bool(IDENTIFIER.match("2x")), bool(IDENTIFIER.match("x\\n"))
(True, False, False)
"""

from __future__ import annotations

import re

OPERATOR_WORDS = ("and", "or", "not")               # element-wise spellings of & | ~
CONSTANTS = ("True", "False", "None", "nan", "inf")  # literals spelt as words
# Never names: where an operator cannot follow, the contextual lexer would read `and`/`or`
# as a NAME (`and = 1`, `x[: or]`), so the parser refuses them explicitly.
KEYWORDS = frozenset(OPERATOR_WORDS + CONSTANTS)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # what the grammar's NAME token matches
