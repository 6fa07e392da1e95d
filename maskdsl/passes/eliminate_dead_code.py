"""Drop statements whose values no output needs.

The IR is a graph, so code generation already emits only what outputs reach; this
pass removes the dead statements from the program itself, so `explain()` and the
strategy choice only speak of work that is done.

>>> from maskdsl.language import prepare
>>> from maskdsl.passes import infer_types
>>> print(format_program(eliminate_dead_code(infer_types(prepare("t = x * 2; y = x + 1", outputs=["y"], x="int32[3]")))))
y1 = add(x0, 1)
return y=y1
"""

from __future__ import annotations

from maskdsl.ir.nodes import Program, format_program, postorder


def eliminate_dead_code(program: Program) -> Program:
    """Keep only the statements an output depends on."""
    live = {id(n) for n in postorder([n for _, n in program.outputs])}
    kept = tuple(s for s in program.statements if id(s.value) in live)
    if len(kept) == len(program.statements):
        return program  # unchanged, with its node order already computed
    return Program(program.inputs, kept, program.outputs, program.source, program.table)
