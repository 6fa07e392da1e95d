"""Grammar: the precedence table, and every syntax error with its exact caret output."""

import pytest

from maskdsl.language import syntax
from maskdsl.errors import LimitError, ParseError
from maskdsl.language.parser import parse

pytestmark = pytest.mark.frontend  # TensorFlow-free: part of `make test-fast`


def sexpr(node) -> str:
    """A parenthesised rendering of an expression, to compare structure."""
    if isinstance(node, syntax.Name):
        return node.id
    if isinstance(node, syntax.Const):
        return repr(node.value)
    if isinstance(node, syntax.Unary):
        return f"({node.op} {sexpr(node.operand)})"
    if isinstance(node, syntax.Binary):
        return f"({node.op} {sexpr(node.left)} {sexpr(node.right)})"
    if isinstance(node, syntax.Compare):
        parts = [sexpr(node.operands[0])]
        for op, operand in zip(node.ops, node.operands[1:]):
            parts += [op, sexpr(operand)]
        return "(cmp " + " ".join(parts) + ")"
    if isinstance(node, syntax.Call):
        args = [sexpr(a) for a in node.args] + [f"{k}={sexpr(v)}" for k, v in node.kwargs]
        return f"{node.func}({', '.join(args)})"
    if isinstance(node, syntax.Index):
        return f"{sexpr(node.value)}[{', '.join(sexpr(i) for i in node.items)}]"
    if isinstance(node, syntax.Slice):
        return ":".join("" if p is None else sexpr(p) for p in (node.lower, node.upper, node.step))
    if isinstance(node, syntax.EllipsisLit):
        return "..."
    if isinstance(node, syntax.NoneLit):
        return "None"
    if isinstance(node, syntax.Sequence):
        return f"{node.kind}({', '.join(sexpr(i) for i in node.items)})"
    raise TypeError(node)


def expr(src):
    stmt = parse(src).statements[0]
    return sexpr(stmt.expr)


PRECEDENCE = [
    ("x > 4 & x % 2 == 0", "(and (cmp x gt 4) (cmp (mod x 2) eq 0))"),
    ("a | b & c", "(or a (and b c))"),
    ("a ^ b | c", "(or (xor a b) c)"),
    ("a & b ^ c", "(xor (and a b) c)"),
    ("a or b and c", "(or a (and b c))"),
    ("not a & b", "(and (not a) b)"),
    ("not a > b", "(not (cmp a gt b))"),
    ("not not a", "(not (not a))"),
    ("0 < x <= 5", "(cmp 0 lt x le 5)"),
    ("a == b != c", "(cmp a eq b ne c)"),
    ("a + b * c", "(add a (mul b c))"),
    ("a - b - c", "(sub (sub a b) c)"),
    ("a / b // c % d", "(mod (floordiv (truediv a b) c) d)"),
    ("-x ** 2", "(neg (pow x 2))"),
    ("2 ** 3 ** 2", "(pow 2 (pow 3 2))"),
    ("2 ** -1", "(pow 2 (neg 1))"),
    ("~a + b", "(add (invert a) b)"),
    ("x - -1", "(sub x (neg 1))"),
    ("-(a + b)", "(neg (add a b))"),
    ("a * -b", "(mul a (neg b))"),
    ("f(x)[0] ** 2", "(pow f(x)[0] 2)"),
    ("x[1:2, ..., None]", "x[1:2:, ..., None]"),
    ("x[::2]", "x[::2]"),
    ("x[m][0]", "x[m][0]"),
    ("sum(x, axis=0, keepdims=True)", "sum(x, axis=0, keepdims=True)"),
    ("[1, 2.5, True]", "list(1, 2.5, True)"),
    ("(1, 2)", "tuple(1, 2)"),
    ("(1,)", "tuple(1)"),
    ("a < b | c > d", "(or (cmp a lt b) (cmp c gt d))"),
    ("a + b < c * d", "(cmp (add a b) lt (mul c d))"),
    ("1_000 + .5 + 5. + 1e3", "(add (add (add 1000 0.5) 5.0) 1000.0)"),
    # every level in one chain, loosest to tightest and back
    ("a | b ^ c & d", "(or a (xor b (and c d)))"),
    ("a & b ^ c | d", "(or (xor (and a b) c) d)"),
    ("a or not b and c", "(or a (and (not b) c))"),
    ("not a == b & c | d", "(or (and (not (cmp a eq b)) c) d)"),
    ("a * b + c < d - e / f", "(cmp (add (mul a b) c) lt (sub d (truediv e f)))"),
    ("a & b == c + d * e ** f", "(and a (cmp b eq (add c (mul d (pow e f)))))"),
    ("a < b + c <= d & e", "(and (cmp a lt (add b c) le d) e)"),
]


@pytest.mark.parametrize("src, expected", PRECEDENCE)
def test_precedence(src, expected):
    assert expr(src) == expected


def test_statements_and_separators():
    module = parse("# header\nx = 1; y = 2\n\nx[x > 0] += y  # trailing\n z = (x\n + 1)\n")
    kinds = [(type(s).__name__, getattr(s, "name", None), getattr(s, "op", None)) for s in module.statements]
    assert kinds == [("Assign", "x", None), ("Assign", "y", None), ("Assign", "x", "add"), ("Assign", "z", None)]


def test_crlf_and_tabs():
    module = parse("x = 1\r\n\ty = x\r\n")
    assert [s.name for s in module.statements] == ["x", "y"]


def test_empty_program():
    assert parse("").statements == ()
    assert parse("  # nothing\n\n").statements == ()


def test_spans_point_into_source():
    src = "y = a + b * c"
    value = parse(src).statements[0].value
    assert src[value.span.start:value.span.end] == "a + b * c"
    assert src[value.right.span.start:value.right.span.end] == "b * c"
    assert (value.right.span.line, value.right.span.column) == (1, 9)



def _text(src, node):
    return src[node.span.start:node.span.end]


def test_spans_with_brackets():
    # a parenthesised expression's own span stays inside its brackets; the node around it
    # starts or ends at the bracket
    src = "y = (a + b) * -(c)"
    value = parse(src).statements[0].value
    assert _text(src, value) == "(a + b) * -(c)"
    assert _text(src, value.left) == "a + b"
    assert _text(src, value.right) == "-(c)"
    assert _text(src, value.right.operand) == "c"
    src = "(x)[m] = f(a, k=(1))[::2]"
    stmt = parse(src).statements[0]
    assert _text(src, stmt) == src
    assert (stmt.name, _text(src, stmt.index[0])) == ("x", "m")
    call = stmt.value.value
    assert _text(src, stmt.value) == "f(a, k=(1))[::2]"
    assert _text(src, call) == "f(a, k=(1))"
    assert [src[s.start:s.end] for s in call.kwarg_spans] == ["k=(1)"]
    assert _text(src, stmt.value.items[0]) == "::2"
    src = "z = [(1), 2,] + ()"
    value = parse(src).statements[0].value
    assert (_text(src, value.left), _text(src, value.right)) == ("[(1), 2,]", "()")
    assert [_text(src, i) for i in value.left.items] == ["1", "2"]


def test_the_first_error_in_reading_order_is_reported():
    # a bad literal on line 1 is reported before a syntax error on line 2
    with pytest.raises(ParseError, match="line 1, column 5: .*leading zeros"):
        parse("y = 08\nz = (")
    with pytest.raises(ParseError, match="line 1, column 1: .*can only assign"):
        parse("x + 1 = 2\ny = 1e400")
    with pytest.raises(ParseError, match="line 1, column 5: .*out of range"):
        parse("y = 1e400\nx + 1 = 2")


SYNTAX_ERRORS = [
    ("x[x > ] = 1",
     "line 1, column 7: ParseError: expected an expression after '>', found ']'\n  x[x > ] = 1\n        ^"),
    ("y = (x + 1",
     "line 1, column 11: ParseError: '(' opened at line 1, column 5 was never closed\n  y = (x + 1\n            ^\n"
     "hint: add ')'"),
    ("y = x[(1,\n  2]",
     "line 2, column 4: ParseError: unmatched ']'\n    2]\n     ^"),
    ("a = [1,\n 2,\n",
     "line 2, column 4: ParseError: '[' opened at line 1, column 5 was never closed\n   2,\n     ^\n"
     "hint: add ']'"),
    ("x[x = 4] = 1",
     "line 1, column 5: ParseError: '=' assigns; to compare use '=='\n  x[x = 4] = 1\n      ^\nhint: write '=='"),
    ("y = x +",
     "line 1, column 8: ParseError: expected an expression after '+', found the end of the program\n"
     "  y = x +\n         ^"),
    ("y = x *\nz = 1",
     "line 1, column 8: ParseError: expected an expression after '*', found a newline\n  y = x *\n         ^"),
    ("x = 1 y = 2",
     "line 1, column 7: ParseError: unexpected 'y': statements must be separated by ';' or a newline\n"
     "  x = 1 y = 2\n        ^\nhint: did you forget an operator or a ';'?"),
    ("x = $1",
     "line 1, column 5: ParseError: unexpected character '$'\n  x = $1\n      ^\n"
     "hint: maskdsl has no strings or decorators: only names, numbers, operators, calls, indexing, methods and attributes"),
    ("x\u00a0= 1",
     "line 1, column 2: ParseError: unexpected character U+00A0\n  xU+00A0= 1\n   ^^^^^^\n"
     "hint: replace the invisible character with a plain space"),
    ("y = 08", "line 1, column 5: ParseError: leading zeros are not allowed in numbers: '08'\n  y = 08\n      ^^\n"
               "hint: write 8"),
    ("y = 1e400", "line 1, column 5: ParseError: float literal '1e400' is out of range (larger than float64)\n"
                  "  y = 1e400\n      ^^^^^\nhint: write `inf` for infinity"),
    ("y=x=3", "line 1, column 4: ParseError: unexpected '=': one assignment per statement\n  y=x=3\n     ^\n"
              "hint: to compare use '=='"),
    ("x + 1 = 2", "line 1, column 1: ParseError: can only assign to a name or to name[index]\n  x + 1 = 2\n  ^^^^^\n"
                  "hint: write `y = ...` or `y[mask] = ...`"),
    ("y = x)", "line 1, column 6: ParseError: unmatched ')'\n  y = x)\n       ^"),
    ("f(a=1, 2)", "line 1, column 8: ParseError: positional argument after a keyword argument\n  f(a=1, 2)\n         ^\n"
                  "hint: did you mean '==' instead of '='?"),
    ("__x = 1", "line 1, column 1: ParseError: names starting with '__' are reserved: '__x'\n  __x = 1\n  ^^^"),
    ("x = 'a'", "line 1, column 5: ParseError: unexpected character \"'\"\n  x = 'a'\n      ^\nhint: maskdsl has no strings"),
    ("x = a@b", "line 1, column 6: ParseError: unexpected character '@'\n  x = a@b\n       ^\n"
                "hint: maskdsl has no strings or decorators: only names, numbers, operators, calls, indexing, methods and attributes"),
    ("ｘ = 1", "line 1, column 1: ParseError: unexpected character 'ｘ' (U+FF58)\n  ｘ = 1\n  ^\n"
              "hint: names must be written with ASCII letters, digits and '_'"),
    ("y = a == not b", "line 1, column 10: ParseError: 'not' cannot follow '==' without brackets\n"
                       "  y = a == not b\n           ^^^\nhint: write '== (not ...)'"),
    ("x = 1\0", "line 1, column 6: ParseError: NUL character (U+0000) in program text\n  x = 1U+0000\n       ^^^^^^"),
]


@pytest.mark.parametrize("src, message", SYNTAX_ERRORS, ids=[s for s, _ in SYNTAX_ERRORS])
def test_syntax_error_messages(src, message):
    with pytest.raises(ParseError) as info:
        parse(src)
    assert str(info.value) == message


def test_deep_nesting_is_a_limit_not_a_crash():
    for src in ["(" * 10_000 + "1" + ")" * 10_000, "y = " + "-" * 10_000 + "x", "y = " + "~" * 10_000 + "x"]:
        with pytest.raises(LimitError):
            parse(src)


def test_long_flat_expression_parses():
    module = parse("y = " + " + ".join(["x"] * 300))
    assert isinstance(module.statements[0].value, syntax.Binary)
