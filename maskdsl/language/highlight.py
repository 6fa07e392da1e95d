"""A Pygments lexer for maskdsl: syntax highlighting in the REPL and in the docs.

It follows grammar/maskdsl.lark: `and or not` are operators, `True False None nan
inf` constants (both lists from maskdsl.language.names), built-in functions are told
apart from variables, and a line that
starts with `:` is a REPL command (`:explain`, `:vars`, ...).

>>> from pygments.token import Name
>>> [(t, v) for t, v in MaskDSLLexer().get_tokens("sum(x)") if t in Name]
[(Token.Name.Builtin, 'sum'), (Token.Name, 'x')]

In Sphinx: `app.add_lexer("maskdsl", MaskDSLLexer)` in conf.py, then
`.. code-block:: maskdsl`.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, Text, Whitespace

from maskdsl.language.functions import FUNCTIONS
from maskdsl.language.names import CONSTANTS, OPERATOR_WORDS

__all__ = ["MaskDSLLexer"]

_DIGITS = r"\d(?:_?\d)*"
_EXPONENT = rf"[eE][+-]?{_DIGITS}"


class MaskDSLLexer(RegexLexer):
    """Tokens of the maskdsl language (and of REPL commands)."""

    name = "maskdsl"
    aliases = ["maskdsl"]
    filenames = ["*.mdsl"]
    mimetypes = ["text/x-maskdsl"]

    tokens = {
        "root": [
            (r"\A[ \t]*:[A-Za-z]+", Keyword.Pseudo),       # a REPL command, e.g. ":explain"
            (r"[ \t\f]+", Whitespace),
            (r"\r?\n", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (words(OPERATOR_WORDS, prefix=r"\b", suffix=r"\b"), Operator.Word),
            (words(CONSTANTS, prefix=r"\b", suffix=r"\b"), Keyword.Constant),
            (words(sorted(FUNCTIONS), prefix=r"\b", suffix=r"\b"), Name.Builtin),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (rf"(?:{_DIGITS})?\.{_DIGITS}(?:{_EXPONENT})?", Number.Float),
            (rf"{_DIGITS}\.(?:{_EXPONENT})?", Number.Float),
            (rf"{_DIGITS}{_EXPONENT}", Number.Float),
            (_DIGITS, Number.Integer),
            (r"\*\*=?|//=?|[-+*/%&|^]=?|<=|>=|==|!=|[<>~=]", Operator),
            (r"\.\.\.", Punctuation),
            (r"[()\[\],;:]", Punctuation),
            (r".", Text),                                    # anything else: the parser will say what is wrong
        ],
    }
