"""Simplify boolean (mask) algebra with a table of rewrite rules.

Each rule is (name, applies, rewrite): applies(node) says whether the pattern matches,
rewrite(node) returns the replacement. Rules only fire on boolean nodes whose
replacement has the same shape, so NumPy broadcasting is never changed. Comparisons
are negated (`~(a < b)` -> `a >= b`) only for integers: with nan the two differ.

>>> from maskdsl.language import prepare
>>> from maskdsl.passes import infer_types
>>> print(format_program(simplify_masks(infer_types(prepare("y = x[~~(x > 1) & True & (x > 1)]", x="int32[4]")))))
y1 = select(x0, gt(x0, 1), index=[m])
return y=y1
"""

from __future__ import annotations

from maskdsl.ir.nodes import Node, Program, const, format_program, keep_args, rewrite
from maskdsl.ir.ops import COMPARISONS, LOGICAL_NOTS, OPS


def _is_bool(n: Node) -> bool:
    return n.dtype == "bool"


def _literal(n: Node, value: bool) -> bool:
    return n.op == "const" and n.weak and n.attr("value") is value


def _other(node: Node, value: bool) -> Node | None:
    """For a binary node with one literal `value` operand, the other operand."""
    a, b = node.args
    if _literal(b, value):
        return a
    if _literal(a, value):
        return b
    return None


def _keeps_shape(node: Node, replacement: Node | None) -> bool:
    return replacement is not None and replacement.shape == node.shape and _is_bool(replacement)


def _fill(node: Node, value: bool) -> Node | None:
    if None in node.shape:
        return None
    return Node("fill", (const(value),), (("shape", node.shape),), "bool", node.shape, False, node.span)


def _negated_comparison(node: Node) -> Node:
    inner = node.args[0]
    negated = inner.replace(op=OPS[inner.op].negation)
    constant = inner.attr("constant")  # infer_types' answer for an out-of-range literal flips too
    return negated if constant is None else negated.with_attrs(constant=not constant)


RULES = (
    ("double negation", lambda n: n.op in LOGICAL_NOTS and n.args[0].op in LOGICAL_NOTS
     and _is_bool(n.args[0].args[0]) and n.args[0].args[0].shape == n.shape,
     lambda n: n.args[0].args[0]),
    ("x & True, x | False, x ^ False", lambda n: n.op in ("and", "or", "xor") and _is_bool(n)
     and _keeps_shape(n, _other(n, n.op == "and")),
     lambda n: _other(n, n.op == "and")),
    ("x & x, x | x", lambda n: n.op in ("and", "or") and n.args[0] is n.args[1] and _is_bool(n),
     lambda n: n.args[0]),
    ("x & False, x & ~x", lambda n: n.op == "and" and _is_bool(n) and (
        _other(n, False) is not None or _complementary(*n.args)) and _fill(n, False) is not None,
     lambda n: _fill(n, False)),
    ("x | True, x | ~x", lambda n: n.op == "or" and _is_bool(n) and (
        _other(n, True) is not None or _complementary(*n.args)) and _fill(n, True) is not None,
     lambda n: _fill(n, True)),
    ("m == True, m != False", lambda n: n.op in ("eq", "ne") and _is_bool(n)
     and _keeps_shape(n, _other(n, n.op == "eq")) and _is_bool(_other(n, n.op == "eq")),
     lambda n: _other(n, n.op == "eq")),
    ("~(a < b) on integers", lambda n: n.op in LOGICAL_NOTS and n.args[0].op in COMPARISONS
     and n.args[0].attr("compute", "float64")[0] in "iub",
     _negated_comparison),
    ("where(m, True, False)", lambda n: n.op == "where" and _literal(n.args[1], True) and _literal(n.args[2], False)
     and _is_bool(n.args[0]) and n.args[0].shape == n.shape,
     lambda n: n.args[0]),
)


def _complementary(a: Node, b: Node) -> bool:
    """m and ~m, or an integer comparison and its negation (a > b, a <= b)."""
    if (b.op in LOGICAL_NOTS and b.args[0] is a and _is_bool(a)) or (
            a.op in LOGICAL_NOTS and a.args[0] is b and _is_bool(b)):
        return True
    return (a.op in COMPARISONS and OPS[a.op].negation == b.op and a.args[0] is b.args[0] and a.args[1] is b.args[1]
            and a.attr("compute", "float64")[0] in "iub")


def _simplify(node: Node, args) -> Node:
    node = keep_args(node, args)
    for _ in range(8):  # a rule's result may match another rule
        for _name, applies, replace in RULES:
            if applies(node):
                node = replace(node)
                break
        else:
            return node
    return node


def simplify_masks(program: Program) -> Program:
    """Apply the mask-algebra rules bottom-up until none matches."""
    return rewrite(program, _simplify)
