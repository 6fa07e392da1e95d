"""Binding: give a program's inputs their types (one specialisation of the program).

>>> from maskdsl.language import prepare
>>> [n.dtype for n in prepare("y = x + 1", x="int8[3]").inputs]
['int8']
"""

from __future__ import annotations

from maskdsl.errors import InputError
from maskdsl.gcpause import paused
from maskdsl.ir.dtypes import Type
from maskdsl.ir.nodes import Node, Program, rewrite


@paused
def bind(program: Program, types: dict[str, Type]) -> Program:
    """Give the program's input nodes their types (a specialisation of the program)."""
    missing = [n.attr("name") for n in program.inputs if n.attr("name") not in types]
    if missing:
        raise InputError(f"no type for input{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")

    def set_type(node: Node, args) -> Node:
        if node.op == "input":
            t = types[node.attr("name")]
            return node.replace(dtype=t.dtype, shape=tuple(t.shape), weak=False)
        return node.replace(args=args) if args != node.args else node

    return rewrite(program, set_type)
