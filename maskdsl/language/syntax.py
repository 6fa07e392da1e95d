"""The syntax tree the parser produces: small frozen nodes, each with a span.

Spans do not take part in equality. Nodes compare by identity (eq=False) so that
deep trees never recurse in __eq__/__hash__; structural sharing happens in the IR.

>>> Name("x", span=None).id
'x'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from maskdsl.errors import Span


@dataclass(frozen=True, eq=False)
class Node:
    span: Span | None = field(default=None, kw_only=True, repr=False)

    def children(self) -> tuple[Node, ...]:
        return ()


# ---- expressions ----

@dataclass(frozen=True, eq=False)
class Name(Node):
    id: str


@dataclass(frozen=True, eq=False)
class Const(Node):
    """A Python literal: int, float or bool (NumPy treats these as weakly typed)."""
    value: int | float | bool


@dataclass(frozen=True, eq=False)
class NoneLit(Node):
    """`None`: a new axis inside an index; an error anywhere else."""


@dataclass(frozen=True, eq=False)
class EllipsisLit(Node):
    pass


@dataclass(frozen=True, eq=False)
class Sequence(Node):
    """A list `[a, b]` or tuple `(a, b)` literal."""
    items: tuple[Node, ...]
    kind: str = "list"

    def children(self):
        return self.items


@dataclass(frozen=True, eq=False)
class Unary(Node):
    op: str  # neg pos invert not
    operand: Node

    def children(self):
        return (self.operand,)


@dataclass(frozen=True, eq=False)
class Binary(Node):
    op: str  # add sub mul truediv floordiv mod pow and or xor
    left: Node
    right: Node

    def children(self):
        return (self.left, self.right)


@dataclass(frozen=True, eq=False)
class Compare(Node):
    """`a < b <= c`: ops has one entry fewer than operands."""
    ops: tuple[str, ...]
    operands: tuple[Node, ...]

    def children(self):
        return self.operands


@dataclass(frozen=True, eq=False)
class Call(Node):
    """`f(a, k=v)`; `a.f(...)` (method: args[0] is the receiver); `np.f(...)` (namespace 'np')."""
    func: str
    func_span: Span | None
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...] = ()
    kwarg_spans: tuple[Span | None, ...] = ()  # of each `name=value`
    method: bool = False
    namespace: str | None = None

    def children(self):
        return self.args + tuple(v for _, v in self.kwargs)


@dataclass(frozen=True, eq=False)
class Attribute(Node):
    """`value.name` (`x.T`, `x.shape`): looked up in language/functions.ATTRIBUTES."""
    value: Node
    name: str
    name_span: Span | None

    def children(self):
        return (self.value,)


@dataclass(frozen=True, eq=False)
class Qualified(Node):
    """`np.name` read without a call (`np.nan`, `np.float32`): resolved by the lowering."""
    namespace: str
    name: str
    name_span: Span | None


@dataclass(frozen=True, eq=False)
class Slice(Node):
    lower: Node | None
    upper: Node | None
    step: Node | None

    def children(self):
        return tuple(p for p in (self.lower, self.upper, self.step) if p is not None)


@dataclass(frozen=True, eq=False)
class Index(Node):
    value: Node
    items: tuple[Node, ...]

    def children(self):
        return (self.value,) + self.items


# ---- statements ----

@dataclass(frozen=True, eq=False)
class Assign(Node):
    """`name = e`, `name op= e`, `name[i] = e`, `name[i] op= e` (op is None for plain =)."""
    name: str
    name_span: Span | None
    index: tuple[Node, ...] | None
    op: str | None
    value: Node


@dataclass(frozen=True, eq=False)
class ExprStmt(Node):
    expr: Node


@dataclass(frozen=True, eq=False)
class Module(Node):
    statements: tuple[Node, ...]
    source: str
