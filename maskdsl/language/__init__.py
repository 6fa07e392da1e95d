"""The language: text -> syntax tree -> IR.

`parser` turns text into a syntax tree (`syntax`) using the grammar in the top-level
`grammar/` folder; `lower` turns the tree into SSA IR using the function table
(`functions`); `highlight` is the Pygments lexer that colours it. `prepare` does all
three and binds input types: the starting point of
every pass fixture. Nothing here imports TensorFlow.

>>> from maskdsl.ir.nodes import format_program
>>> print(format_program(prepare("x[x > 4] *= 2", x="int32[5]")))
x1 = update(x0, gt(x0, 4), mul(select(x0, gt(x0, 4), index=[x]), 2), casting=same_kind, index=[x])
return x=x1
"""

from __future__ import annotations


def prepare(source: str, outputs=None, **types):
    """Parse, lower and bind `types` (name -> spec string or Type)."""
    from maskdsl.ir.bind import bind
    from maskdsl.ir.dtypes import Type
    from maskdsl.language.lower import lower
    from maskdsl.language.parser import parse
    program = lower(parse(source), outputs)
    return bind(program, {k: Type.parse(v) if isinstance(v, str) else v for k, v in types.items()})
