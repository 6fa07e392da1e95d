"""Merge consecutive updates of the same target through the same index.

Two table rules, applied bottom-up:
- reading back what was just written: select(update(x, I, v), I) -> v
  (when v already has the selection's shape and dtype, and I cannot repeat positions);
- writing twice: update(update(x, I, v1), I, v2) -> update(x, I, v2)
  (when v2 no longer reads the inner update).
So `x[m] *= 2; x[m] += 1` becomes one update whose value is `select(x, m) * 2 + 1`:
one tf.where, or one gather and one scatter.

>>> from maskdsl.language import prepare
>>> from maskdsl.passes import infer_types
>>> p = merge_updates(infer_types(prepare("m = x > 0; x[m] *= 2; x[m] += 1", x="float32[None]")))
>>> print(format_program(p).splitlines()[2])
x2 = update(x0, m1, add(mul(select(x0, m1, index=[m]), 2), 1), casting=same_kind, index=[m])
"""

from __future__ import annotations

from maskdsl.ir.indexing import IndexKind, same_index
from maskdsl.ir.nodes import Node, Program, format_program, keep_args, postorder, rewrite


def _no_repeats(node: Node) -> bool:
    """Integer-array indices may name a position twice; masks, slices and integers cannot."""
    return IndexKind.INT_ARRAY not in node.attr("index")


def _read_back(node: Node) -> Node | None:
    if node.op != "select":
        return None
    inner = node.args[0]
    if inner.op != "update" or not inner.attr("index") or not same_index(node, inner):
        return None
    value = inner.args[-1]
    if _no_repeats(node) and value.dtype == node.dtype and value.shape == node.shape and not value.weak:
        return value
    return None


def _overwrite(node: Node) -> Node | None:
    if node.op != "update":
        return None
    inner = node.args[0]
    if inner.op != "update" or not node.attr("index") or not same_index(node, inner):
        return None
    if any(n is inner for n in postorder([node.args[-1]])):
        return None
    merged = node.replace(args=(inner.args[0],) + node.args[1:])
    return merged if merged.span is not None else merged.replace(span=inner.span)


RULES = (_read_back, _overwrite)


def _merge(node: Node, args) -> Node:
    node = keep_args(node, args)
    for rule in RULES:
        out = rule(node)
        if out is not None:
            return out
    return node


def merge_updates(program: Program) -> Program:
    """Fold chains of updates through one index into a single update."""
    return rewrite(program, _merge)
