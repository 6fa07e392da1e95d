"""Text -> syntax tree, with errors that point at the problem and say what was expected.

>>> module = parse("x[x > 4 & x % 2 == 0] *= 2")
>>> stmt = module.statements[0]
>>> stmt.name, stmt.op, type(stmt.index[0]).__name__, stmt.index[0].op
('x', 'mul', 'Binary', 'and')
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

import lark
from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from maskdsl.language import syntax
from maskdsl import limits
from maskdsl.errors import LimitError, MaskDSLError, ParseError, Span, describe_char
from maskdsl.gcpause import paused
from maskdsl.language.names import KEYWORDS, NAMESPACES, NUMPY_CONSTANTS

AUGMENTED_OPS = {
    "+=": "add", "-=": "sub", "*=": "mul", "/=": "truediv", "//=": "floordiv", "%=": "mod",
    "**=": "pow", "&=": "and", "|=": "or", "^=": "xor",
}
COMPARISON_OPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
OPENERS = {"(": ")", "[": "]"}
CLOSERS = {")": "(", "]": "["}
# Tokens after which an expression must follow (used to explain a missing operand).
OPERATOR_TOKENS = {"+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "~", "and", "or", "not",
                   "<", "<=", ">", ">=", "==", "!=", "=", *AUGMENTED_OPS, ","}
TERMINAL_WORDS = {"NAME": "a name", "INT": "a number", "FLOAT": "a number", "_NL": "a newline",
                  "$END": "the end of the program", "COMPOP": "a comparison", "AUGOP": "an augmented assignment"}


def grammar_text() -> str:
    """The grammar, from inside the installed package or, in a checkout, from grammar/."""
    packaged = resources.files("maskdsl.language") / "maskdsl.lark"
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "maskdsl.lark").read_text(encoding="utf-8")


class _BracketTracker:
    """Post-lexer: drops newlines inside brackets and remembers what is still open."""

    always_accept = ("_NL",)

    def __init__(self):
        self.local = threading.local()

    @property
    def open(self) -> list[Token]:
        return self.local.__dict__.setdefault("open", [])

    @property
    def last(self) -> Token | None:
        return self.local.__dict__.get("last")

    def process(self, stream):
        self.local.open = []
        self.local.last = None
        for count, tok in enumerate(stream, 1):
            if count > limits.MAX_TOKENS:  # bounds the work of every later phase, before it starts
                raise LimitError(f"program has more than {limits.MAX_TOKENS} tokens", _token_span(tok))
            if tok.type == "NAME":
                _check_name(tok)  # here, in reading order, so the first bad name is the one reported
            if tok.type == "_NL" and self.local.open:
                continue
            if tok.value in OPENERS and tok.type != "_NL":
                if len(self.local.open) >= limits.MAX_DEPTH:
                    raise LimitError(f"brackets nested deeper than {limits.MAX_DEPTH} levels",
                                     _token_span(tok))
                self.local.open.append(tok)
            elif tok.value in CLOSERS and self.local.open and self.local.open[-1].value == CLOSERS[tok.value]:
                self.local.open.pop()
            yield tok
            self.local.last = tok


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _BracketTracker]:
    tracker = _BracketTracker()
    return Lark(grammar_text(), parser="lalr", lexer="contextual", keep_all_tokens=True,
                maybe_placeholders=True, postlex=tracker, transformer=_Build()), tracker


def _token_span(tok: Token) -> Span:
    return Span(tok.start_pos, tok.end_pos if tok.end_pos is not None else tok.start_pos + 1,
                tok.line, tok.column)


def _check_name(tok: Token) -> str:
    name = str(tok)
    if name in KEYWORDS:
        raise ParseError(f"'{name}' is a keyword, not a name", _token_span(tok))
    if name.startswith("__"):
        raise ParseError(f"names starting with '__' are reserved: {name!r}", _token_span(tok))
    return name


def _number_text(tok: Token) -> str:
    text = str(tok)
    digits = text.split(".")[0].split("e")[0].split("E")[0].replace("_", "")
    if len(digits) > 1 and digits[0] == "0" and set(digits) != {"0"}:
        raise ParseError(f"leading zeros are not allowed in numbers: {text!r}", _token_span(tok),
                         hint=f"write {digits.lstrip('0')}")
    return text.replace("_", "")


class _Paren:
    """`( expr )`: the expression, and the span with its brackets, which the enclosing node starts
    or ends at (`(a + b) * c` starts at the `(`), while the expression's own span stays inside."""

    __slots__ = ("node", "span")

    def __init__(self, node, span: Span):
        self.node = node
        self.span = span


def _bare(child):
    return child.node if type(child) is _Paren else child


def _cover(first, last) -> Span:
    """The span from the start of `first` to the end of `last` (tokens, nodes or brackets)."""
    a = _token_span(first) if type(first) is Token else first.span
    end = last.end_pos if type(last) is Token else last.span.end
    return Span(a.start, end, a.line, a.column)


def _items(children) -> list:
    """The nodes among a rule's children: tokens (commas, brackets) and absent options dropped."""
    return [_bare(c) for c in children if c is not None and type(c) is not Token]


def _namespace(receiver) -> str | None:
    """'np' for the receiver `np` or `numpy`; a located error for `np.linalg` and other sub-namespaces."""
    if isinstance(receiver, syntax.Name) and receiver.id in NAMESPACES:
        return receiver.id
    if isinstance(receiver, syntax.Qualified):
        raise ParseError(f"{receiver.namespace}.{receiver.name} is not supported: maskdsl has "
                         f"{receiver.namespace}.<function>, {receiver.namespace}.<dtype> and the constants "
                         f"{', '.join(receiver.namespace + '.' + c for c in NUMPY_CONSTANTS)}",
                         receiver.span, hint="see the function table in docs/language.md")
    return None


class _Build:
    """Lark calls one method per grammar rule while it parses (bottom-up), with the rule's
    children: tokens (all kept, for spans), nodes built by earlier calls, None for an absent
    optional part. Building here, instead of walking a parse tree afterwards, makes no tree
    and needs none of Lark's position bookkeeping: spans come from the tokens at each edge."""

    def start(self, children):
        return [c for c in children if isinstance(c, syntax.Node)]

    # statements
    def assign(self, children):
        target, _, value = children
        return self._assignment(children, target, None, value)

    def augassign(self, children):
        target, op, value = children
        return self._assignment(children, target, AUGMENTED_OPS[str(op)], value)

    def _assignment(self, children, target, op, value):
        span = _cover(children[0], children[-1])
        target, value = _bare(target), _bare(value)
        if isinstance(target, syntax.Name):
            return syntax.Assign(target.id, target.span, None, op, value, span=span)
        if isinstance(target, syntax.Index) and isinstance(target.value, syntax.Name):
            return syntax.Assign(target.value.id, target.value.span, target.items, op, value, span=span)
        raise ParseError("can only assign to a name or to name[index]", target.span,
                         hint="write `y = ...` or `y[mask] = ...`")

    def expr_stmt(self, children):
        (expr,) = children
        return syntax.ExprStmt(_bare(expr), span=expr.span)

    def expr(self, children):
        """A flat chain `[not...] operand (operator [not...] operand)*`, grouped by precedence."""
        return _Chain(children).parse(0)

    def pow(self, children):
        left, _, right = children
        return syntax.Binary("pow", _bare(left), _bare(right), span=_cover(left, right))

    # prefix operators: [operator token, operand]
    def _unary(op):
        def build(self, children):
            sign, operand = children
            return syntax.Unary(op, _bare(operand), span=_cover(sign, operand))
        return build

    neg = _unary("neg")
    pos = _unary("pos")
    invert = _unary("invert")

    # postfix
    def call(self, children):
        name_tok, _, arguments, close = children
        args, kwargs, spans = [], [], []
        for arg in arguments or ():
            if isinstance(arg, tuple):
                kwargs.append(arg[:2])
                spans.append(arg[2])
            elif kwargs:
                raise ParseError("positional argument after a keyword argument", arg.span,
                                 hint="did you mean '==' instead of '='?")
            else:
                args.append(arg)
        return syntax.Call(_check_name(name_tok), _token_span(name_tok), tuple(args), tuple(kwargs), tuple(spans),
                        span=_cover(name_tok, close))

    def method(self, children):
        receiver, _, name_tok, _, arguments, close = children
        receiver = _bare(receiver)
        call = self.call([name_tok, None, arguments, close])
        name, span = call.func, _cover(receiver, close)
        namespace = _namespace(receiver)
        if namespace is not None:  # `np.where(...)`: the function where
            return syntax.Call(name, call.func_span, call.args, call.kwargs, call.kwarg_spans,
                               namespace=namespace, span=span)
        return syntax.Call(name, call.func_span, (receiver, *call.args), call.kwargs, call.kwarg_spans,
                           method=True, span=span)

    def attribute(self, children):
        receiver, _, name_tok = children
        receiver = _bare(receiver)
        name = str(name_tok) if str(name_tok) in ("nan", "inf") else _check_name(name_tok)  # np.nan
        span = _cover(receiver, name_tok)
        namespace = _namespace(receiver)
        if namespace is not None:
            return syntax.Qualified(namespace, name, _token_span(name_tok), span=span)
        return syntax.Attribute(receiver, name, _token_span(name_tok), span=span)

    arguments = staticmethod(_items)
    subscripts = staticmethod(_items)

    def kwarg(self, children):
        name_tok, _, value = children
        name = "nan" if str(name_tok) == "nan" else _check_name(name_tok)  # nan_to_num(x, nan=0.0)
        return (name, _bare(value), _cover(name_tok, value))

    def getitem(self, children):
        value, _, items, close = children
        return syntax.Index(_bare(value), tuple(items), span=_cover(value, close))

    def slice2(self, children):
        lower, _, upper = children
        return syntax.Slice(_bare(lower), _bare(upper), None, span=_cover_present(children))

    def slice3(self, children):
        lower, _, upper, _, step = children
        return syntax.Slice(_bare(lower), _bare(upper), _bare(step), span=_cover_present(children))

    def ellipsis(self, children):
        return syntax.EllipsisLit(span=_token_span(children[0]))

    # atoms: [token] or [open, ..., close]
    def atom(self, children):
        open_, expr, close = children  # `( expr )`
        return _Paren(_bare(expr), _cover(open_, close))

    def name(self, children):
        (tok,) = children
        return syntax.Name(_check_name(tok), span=_token_span(tok))

    def int_lit(self, children):
        (tok,) = children
        text = _number_text(tok).lstrip("0") or "0"
        # compare digit counts before int(): Python refuses to convert more than 4300 digits
        if len(text) > len(str(limits.MAX_INT_LITERAL)) or int(text) > limits.MAX_INT_LITERAL:
            raise LimitError(f"integer literal larger than the int64 limit {limits.MAX_INT_LITERAL}",
                             _token_span(tok))
        return syntax.Const(int(text), span=_token_span(tok))

    def float_lit(self, children):
        (tok,) = children
        value = float(_number_text(tok))
        if value == float("inf"):
            raise ParseError(f"float literal {str(tok)!r} is out of range (larger than float64)",
                             _token_span(tok), hint="write `inf` for infinity")
        return syntax.Const(value, span=_token_span(tok))

    def _constant(value):
        def build(self, children):
            return syntax.Const(value, span=_token_span(children[0]))
        return build

    true_lit = _constant(True)
    false_lit = _constant(False)
    nan_lit = _constant(float("nan"))
    inf_lit = _constant(float("inf"))

    def none_lit(self, children):
        return syntax.NoneLit(span=_token_span(children[0]))

    def tuple_lit(self, children):
        return syntax.Sequence(tuple(_items(children)), "tuple", span=_cover(children[0], children[-1]))

    def list_lit(self, children):
        items = tuple(_items(children))
        span = _cover(children[0], children[-1])
        if len(items) > limits.MAX_LITERAL_ELEMENTS:
            raise LimitError(f"list literal has more than {limits.MAX_LITERAL_ELEMENTS} elements", span)
        return syntax.Sequence(items, "list", span=span)


# Binary operators by precedence (higher binds tighter) and their ast names; `not` is a
# prefix operator between `and` and the comparisons, which chain (`a < b <= c`).
_BINARY = {"|": (1, "or"), "or": (1, "or"), "^": (2, "xor"), "&": (3, "and"), "and": (3, "and"),
           "+": (6, "add"), "-": (6, "sub"), "*": (7, "mul"), "/": (7, "truediv"), "//": (7, "floordiv"),
           "%": (7, "mod"), **{op: (5, None) for op in COMPARISON_OPS}}
_NOT_LEVEL = 4
_COMPARE_LEVEL = 5


class _Chain:
    """Precedence climbing over one chain's children (tokens and operands, left to right).

    Each recursive call raises the precedence level, so recursion is at most a few levels
    deep; a run of `not`s is read in a loop (its depth is _check_depth's to bound).
    """

    __slots__ = ("items", "at")

    def __init__(self, items):
        self.items = items
        self.at = 0

    def parse(self, level: int):
        items = self.items
        nots = []
        while type(items[self.at]) is Token and items[self.at].type == "NOT":
            nots.append(items[self.at])
            self.at += 1
        if nots:
            if level > _NOT_LEVEL:  # `a == not b`, `a + not b`: Python refuses these too
                before = items[self.at - len(nots) - 1]
                raise ParseError(f"'not' cannot follow '{before}' without brackets", _token_span(nots[0]),
                                 hint=f"write '{before} (not ...)'")
            left = self.parse(_NOT_LEVEL)
            for tok in reversed(nots):
                left = syntax.Unary("not", _bare(left), span=_cover(tok, left))
        else:
            left = items[self.at]
            self.at += 1
        while self.at < len(items):
            op = items[self.at]
            precedence, name = _BINARY[op.value]
            if precedence < level:
                break
            if name is None:  # a comparison chain: operands are sums
                operands, ops = [_bare(left)], []
                while self.at < len(items) and items[self.at].value in COMPARISON_OPS:
                    ops.append(COMPARISON_OPS[items[self.at].value])
                    self.at += 1
                    right = self.parse(_COMPARE_LEVEL + 1)
                    operands.append(_bare(right))
                left = syntax.Compare(tuple(ops), tuple(operands), span=_cover(left, right))
            else:
                self.at += 1
                right = self.parse(precedence + 1)  # left-associative
                left = syntax.Binary(name, _bare(left), _bare(right), span=_cover(left, right))
        return left


def _cover_present(children) -> Span:
    present = [c for c in children if c is not None]
    return _cover(present[0], present[-1])


# Left-associative chains (`a + b - c`, `x[0][1]`) grow the tree on the left; a long flat
# chain is not nesting, so its left spine does not count towards MAX_DEPTH.
_CHAINS = {"add": "sum", "sub": "sum", "mul": "term", "truediv": "term", "floordiv": "term", "mod": "term",
           "or": "or", "xor": "xor", "and": "and"}


def _chain(node) -> str | None:
    if type(node) is syntax.Binary:
        return _CHAINS.get(node.op)
    return "postfix" if type(node) is syntax.Index else None


def _nested(node) -> tuple:
    """A node's children as the grammar nests them; a list is a bracketed group (a call's
    arguments, an index's items), one level further down than a plain child."""
    if type(node) is syntax.Call:
        return ([*node.args, *(v for _, v in node.kwargs)],)
    if type(node) is syntax.Index:
        return (node.value, list(node.items))
    if type(node) is syntax.Assign:
        return (node.value,) if node.index is None else (node.value, list(node.index))
    return node.children()


def _check_depth(statements) -> None:
    """Reject expressions nested deeper than MAX_DEPTH before anything else walks them."""
    stack = [(s, 1) for s in statements]
    while stack:
        node, depth = stack.pop()
        if depth > limits.MAX_DEPTH:
            raise LimitError(f"expression nested deeper than {limits.MAX_DEPTH} levels", node.span)
        chain = _chain(node)
        for i, child in enumerate(_nested(node)):
            if type(child) is list:  # a bracketed group
                stack.extend((c, depth + 2) for c in child)
            else:
                flat = i == 0 and chain is not None and _chain(child) == chain
                stack.append((child, depth if flat else depth + 1))


@paused
def parse(source: str) -> syntax.Module:
    """Parse program text into an syntax.Module; every failure is a MaskDSLError."""
    if not isinstance(source, str):
        raise ParseError(f"a program must be text (str), not {type(source).__name__}")
    if len(source) > limits.MAX_SOURCE_CHARS:
        raise LimitError(f"program text longer than {limits.MAX_SOURCE_CHARS} characters",
                         Span.at(source, limits.MAX_SOURCE_CHARS))
    nul = source.find("\0")
    if nul >= 0:
        raise ParseError("NUL character (U+0000) in program text", Span.at(source, nul), source=source)
    parser, tracker = _parser()
    try:
        statements = parser.parse(source)
        _check_depth(statements)
    except MaskDSLError as e:
        raise e.with_source(source) from None
    except UnexpectedInput as e:
        raise _explain(e, source, tracker).with_source(source) from None
    if len(statements) > limits.MAX_STATEMENTS:
        raise LimitError(f"program has more than {limits.MAX_STATEMENTS} statements",
                         statements[limits.MAX_STATEMENTS].span, source=source)
    return syntax.Module(tuple(statements), source, span=Span.at(source, 0, len(source)))


# ---- turning Lark's exceptions into messages a person can act on ----

def _display(parser: Lark, terminal: str) -> str:
    if terminal in TERMINAL_WORDS:
        return TERMINAL_WORDS[terminal]
    try:
        pattern = parser.get_terminal(terminal).pattern
    except KeyError:
        return terminal
    return f"'{pattern.value}'" if isinstance(pattern, lark.lexer.PatternStr) else terminal.lower()


# Terminals that can each start an expression: when all are acceptable, say "an expression".
_EXPRESSION_START = frozenset({"NAME", "INT", "FLOAT", "LPAR", "LSQB", "MINUS", "PLUS", "TILDE"})


def _wanted(parser: Lark, expected: list[str]) -> str:
    """What the parser would have accepted, in words: each at most once, joined with 'or'."""
    words = []
    if _EXPRESSION_START <= set(expected):
        words.append("an expression")
        expected = [t for t in expected if t not in _EXPRESSION_START and _display(parser, t) != "'not'"]
    words += dict.fromkeys(_display(parser, t) for t in expected)
    words = words[:12]
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else "".join(words)


def _end_span(source: str) -> Span:
    end = len(source.rstrip())
    return Span.at(source, end, end + 1)


def _explain(e: UnexpectedInput, source: str, tracker: _BracketTracker) -> ParseError:
    parser, _ = _parser()
    if isinstance(e, UnexpectedCharacters):
        ch = source[e.pos_in_stream]
        span = Span.at(source, e.pos_in_stream)
        hint = None
        if not ch.isascii() and ch.isalpha():
            hint = "names must be written with ASCII letters, digits and '_'"
        elif ch in "\u00a0\u200b\ufeff":
            hint = "replace the invisible character with a plain space"
        elif ch in "'\"":
            hint = "maskdsl has no strings"
        elif ch in "@$`!?{}\\":
            hint = ("maskdsl has no strings or decorators: "
                    "only names, numbers, operators, calls, indexing, methods and attributes")
        return ParseError(f"unexpected character {describe_char(ch)}", span, hint=hint)

    token = getattr(e, "token", None)
    expected = sorted(getattr(e, "expected", None) or getattr(e, "accepts", None) or ())
    at_end = isinstance(e, UnexpectedEOF) or token is None or token.type == "$END"
    span = _end_span(source) if at_end else _token_span(token)
    found = "the end of the program" if at_end else (
        "a newline" if token.type == "_NL" else f"'{token.value}'")
    previous = tracker.last
    still_open = list(tracker.open)
    wanted = _wanted(parser, expected)

    if at_end and still_open:
        opener = still_open[-1]
        return ParseError(f"'{opener.value}' opened at {{opened}} was never closed", span,
                          hint=f"add '{OPENERS[opener.value]}'", places={"opened": _token_span(opener)})
    if not at_end and token.value in CLOSERS and (not still_open or still_open[-1].value != CLOSERS[token.value]):
        if previous is not None and previous.value in OPERATOR_TOKENS:
            return ParseError(f"expected an expression after '{previous.value}', found {found}", span)
        return ParseError(f"unmatched '{token.value}'", span)
    if not at_end and token.value == "=":
        if still_open:
            return ParseError("'=' assigns; to compare use '=='", span, hint="write '=='")
        return ParseError("unexpected '=': one assignment per statement", span,
                          hint="to compare use '=='")
    if previous is not None and previous.value in OPERATOR_TOKENS and previous.type != "COMMA":
        return ParseError(f"expected an expression after '{previous.value}', found {found}", span)
    if still_open and not at_end and token.type in ("_NL", "SEMICOLON", "AUGOP"):
        opener = still_open[-1]
        return ParseError(f"missing '{OPENERS[opener.value]}' to close '{opener.value}' opened at {{opened}}",
                          span, places={"opened": _token_span(opener)})
    if not at_end and previous is not None and previous.type in ("INT", "FLOAT") \
            and token.type in ("NAME", "INT", "FLOAT") and previous.end_pos == token.start_pos:
        # a number glued to a name or another number: `1__0`, `1_`, `1e`, `0x10`, `1j`, `1.5.3`, `2x`
        text = source[previous.start_pos:token.end_pos]
        if text[:2].lower() in ("0x", "0b", "0o"):
            hint = "maskdsl numbers are decimal"
        elif text[-1] in "jJ":
            hint = "complex numbers are not supported"
        elif token.type == "NAME" and token.value[0] not in "eE_":
            hint = f"did you mean {previous.value} * {token.value}?"
        else:
            hint = "write digits with single '_' between them, and an exponent with digits: 1_000, 2.5e3"
        return ParseError(f"invalid number {text!r}", Span.at(source, previous.start_pos, token.end_pos), hint=hint)
    if not at_end and previous is not None and previous.value == "." and token.type in ("INT", "FLOAT") \
            and previous.end_pos == token.start_pos:
        # `1.5.3`: a number, a '.' read as an attribute's, and digits
        start = previous.start_pos
        while start > 0 and (source[start - 1].isdigit() or source[start - 1] in "._"):
            start -= 1
        text = source[start:token.end_pos]
        return ParseError(f"invalid number {text!r}", Span.at(source, start, token.end_pos),
                          hint="write digits with single '_' between them, and an exponent with digits: 1_000, 2.5e3")
    if not at_end and token.type in ("NAME", "INT", "FLOAT", "LPAR", "LSQB") and "_NL" in expected:
        return ParseError(f"unexpected {found}: statements must be separated by ';' or a newline",
                          span, hint="did you forget an operator or a ';'?")
    return ParseError(f"unexpected {found}; expected {wanted}" if wanted else f"unexpected {found}", span)
