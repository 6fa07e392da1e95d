"""The IR: immutable, hash-consed nodes in SSA form, a printer and a checker.

A node is (op, args, attrs, dtype, shape, weak) plus a span that does not take part in
identity. Building the same structure twice returns the same object, so common
subexpressions are shared for free and identity is structural equality.

>>> a = Node("input", attrs=(("name", "x"),))
>>> b = Node("input", attrs=(("name", "x"),))
>>> a is b
True
>>> print(format_node(Node("add", (a, const(1)))))
add(x0, 1)
"""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from _weakref import _remove_dead_weakref
from dataclasses import dataclass, field

from maskdsl.errors import Span
from maskdsl.ir.dtypes import literal_type
from maskdsl.ir.indexing import index_operands, operand_count, operand_problem
from maskdsl.ir.ops import ELEMENTWISE, OPS, PREDICATES, DtypeRule


class InternTable:
    """Structure key -> node, holding nodes weakly: a node nothing else uses is dropped.

    WeakValueDictionary does the same, but its get and set are Python code on the hottest
    path of a compile (every node built); this keeps only what interning needs.

    >>> with scope() as table:
    ...     a = Node("input", attrs=(("name", "x"),))
    ...     same = Node("input", attrs=(("name", "x"),)) is a
    >>> same, len(table)
    (True, 1)
    >>> del a
    >>> len(table)
    0
    """

    __slots__ = ("_refs", "_remove", "__weakref__")

    def __init__(self):
        self._refs: dict[tuple, weakref.KeyedRef] = {}
        refs = self._refs

        # the node died: forget it, unless the key was reused (bound now: at interpreter
        # exit module globals are gone before the last nodes)
        def remove(ref, refs=refs, remove_dead=_remove_dead_weakref):
            remove_dead(refs, ref.key)

        self._remove = remove

    def get(self, key):
        ref = self._refs.get(key)
        return None if ref is None else ref()

    def __setitem__(self, key, node):
        self._refs[key] = weakref.KeyedRef(node, self._remove, key)

    def __len__(self):
        return len(self._refs)


# Nodes are interned per program: equal structure within one program is one node, but
# two programs never share nodes (each keeps the spans of its own source).
_GLOBAL_TABLE = InternTable()
_TABLE_VAR: contextvars.ContextVar = contextvars.ContextVar("maskdsl_ir_table", default=_GLOBAL_TABLE)


@contextlib.contextmanager
def scope(table=None):
    """Intern the nodes built inside in `table` (a fresh one by default); yields the table."""
    table = InternTable() if table is None else table
    token = _TABLE_VAR.set(table)
    try:
        yield table
    finally:
        _TABLE_VAR.reset(token)


_set = object.__setattr__


class Node:
    """One IR value. Create with Node(...); never mutate (the attributes are read-only)."""

    __slots__ = ("op", "args", "attrs", "dtype", "shape", "weak", "span", "__weakref__")

    def __new__(cls, op: str, args: tuple = (), attrs: tuple = (), dtype: str | None = None,
                shape: tuple | None = None, weak: bool = False, span: Span | None = None):
        args = tuple(args)
        key = (op, tuple(map(id, args)), attrs, dtype, shape, weak)
        table = _TABLE_VAR.get()
        node = table.get(key)
        if node is not None:
            return node
        node = object.__new__(cls)
        _set(node, "op", op)  # unrolled: the hottest function of a compile
        _set(node, "args", args)
        _set(node, "attrs", attrs)
        _set(node, "dtype", dtype)
        _set(node, "shape", shape)
        _set(node, "weak", weak)
        _set(node, "span", span)
        table[key] = node
        return node

    def __setattr__(self, name, value):
        raise AttributeError("IR nodes are immutable; use replace()")

    def __reduce__(self):
        raise TypeError("IR nodes are not picklable")

    def attr(self, name: str, default=None):
        for k, v in self.attrs:
            if k == name:
                return v
        return default

    def replace(self, **changes) -> Node:
        get = changes.get
        return Node(get("op", self.op), get("args", self.args), get("attrs", self.attrs),
                    get("dtype", self.dtype), get("shape", self.shape), get("weak", self.weak),
                    get("span", self.span))

    def attrs_with(self, **updates) -> tuple:
        """This node's attrs with `updates` applied, in canonical (sorted) order."""
        attrs = dict(self.attrs)
        attrs.update(updates)
        return tuple(sorted(attrs.items()))

    def with_attrs(self, **updates) -> Node:
        return self.replace(attrs=self.attrs_with(**updates))

    @property
    def typed(self) -> bool:
        return self.dtype is not None and self.shape is not None

    def __repr__(self):
        return f"<Node {format_node(self)}>"


def const(value, dtype: str | None = None, weak: bool | None = None, span: Span | None = None) -> Node:
    """A constant node. Python scalars are weak unless a dtype is given; an array's value is
    nested tuples (nested lists, as ndarray.tolist() gives, are turned into them).

    >>> const([[1, 2], [3, 4]], dtype="int64").attr("value")
    ((1, 2), (3, 4))
    """
    if isinstance(value, list):
        value = nested_tuple(value)
    if dtype is None:
        t = literal_type(value)
        dtype, shape, weak = t.dtype, (), True if weak is None else weak
    else:
        shape = _nested_shape(value)
        weak = bool(weak)
    # repr keeps 1, 1.0, True and 0.0, -0.0 apart (they compare and hash equal in Python).
    return Node("const", (), (("repr", _const_repr(value)), ("value", value)), dtype, shape, weak, span)


def nested_tuple(value):
    """Nested lists as nested tuples (hashable, as node attributes must be); other values unchanged."""
    return tuple(nested_tuple(v) for v in value) if isinstance(value, list) else value


def _const_repr(value) -> str:
    return repr(value) if not isinstance(value, tuple) else "(" + ",".join(map(_const_repr, value)) + ")"


def _nested_shape(value) -> tuple:
    shape = []
    while isinstance(value, tuple):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def input_node(name: str, span: Span | None = None) -> Node:
    return Node("input", (), (("name", name),), span=span)


def postorder(roots, children=None) -> list[Node]:
    """All nodes reachable from roots, children before parents; iterative (no recursion).

    `children(node)` chooses which arguments to descend into (default: all)."""
    order, seen = [], set()
    stack = [(r, False) for r in reversed(list(roots))]
    pop, push, visit, add = stack.pop, stack.append, order.append, seen.add
    while stack:
        node, expanded = pop()
        if expanded:
            visit(node)
            continue
        key = id(node)
        if key in seen:
            continue
        add(key)
        push((node, True))
        kids = node.args if children is None else children(node)
        for a in reversed(kids):
            if id(a) not in seen:
                push((a, False))
    return order


@dataclass(frozen=True)
class Statement:
    """One source statement: `target` (None for an expression) gets version `version`."""

    target: str | None
    version: int
    value: Node
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Program:
    inputs: tuple[Node, ...]
    statements: tuple[Statement, ...]
    outputs: tuple[tuple[str, Node], ...]
    source: str = field(default="", compare=False)
    table: object = field(default=None, compare=False, repr=False)  # the program's intern table

    def roots(self) -> list[Node]:
        return [s.value for s in self.statements] + [n for _, n in self.outputs]

    def nodes(self) -> tuple[Node, ...]:
        """Every node, children before parents (computed once: a Program never changes)."""
        cached = self.__dict__.get("_nodes")
        if cached is None:
            cached = tuple(postorder(self.roots()))
            object.__setattr__(self, "_nodes", cached)
        return cached


def rewrite(program: Program, fn) -> Program:
    """Rebuild every node bottom-up: fn(node, new_args) -> node. Iterative and memoised.

    fn sees each distinct node once, with its arguments already rewritten; returning
    node.replace(args=new_args) (or the node itself when nothing changed) keeps it.
    """
    new: dict[int, Node] = {}
    keep = []  # keeps rewritten nodes alive while their ids are memo keys
    changed = False
    with scope(program.table) as table:
        for node in program.nodes():
            args = tuple([new[id(a)] for a in node.args]) if node.args else ()
            out = fn(node, args)
            new[id(node)] = out
            if out is not node:
                changed = True
                keep.append(out)
    if not changed:  # the same program, with its node order already computed
        return program
    return Program(
        tuple(new.get(id(n), n) for n in program.inputs),
        tuple(Statement(s.target, s.version, new[id(s.value)], s.span) for s in program.statements),
        tuple((name, new[id(n)]) for name, n in program.outputs),
        program.source,
        table,
    )


def keep_args(node: Node, args: tuple) -> Node:
    """The identity rewrite: the node with its (possibly rewritten) arguments."""
    # nodes compare by identity (no __eq__), so tuple equality is element identity
    return node if args == node.args else node.replace(args=args)


def shape_root(node: Node, memo: dict | None = None) -> Node:
    """The node whose shape `node` provably has: element-wise ops of one array (and scalars)
    keep that array's shape, even where dimensions are unknown. Iterative; pass one `memo`
    dict across calls on the same program to keep it linear."""
    roots = {} if memo is None else memo
    if id(node) in roots:
        return roots[id(node)]
    stack = [(node, False)]
    while stack:
        n, expanded = stack.pop()
        if id(n) in roots:
            continue
        elementwise = n.op in ELEMENTWISE
        arrays = [a for a in n.args if a.shape != ()] if elementwise else []
        pending = [a for a in arrays if id(a) not in roots]
        if pending and not expanded:
            stack.append((n, True))
            stack.extend((a, False) for a in pending)
            continue
        if arrays:
            found = {id(roots[id(a)]) for a in arrays}
            roots[id(n)] = roots[id(arrays[0])] if len(found) == 1 else n
        else:
            roots[id(n)] = n
    return roots[id(node)]


def same_shape(a: Node, b: Node, memo: dict | None = None) -> bool:
    """True when a and b certainly have the same shape (static, or derived from one array)."""
    if a.shape is not None and a.shape == b.shape and None not in a.shape:
        return True
    return shape_root(a, memo) is shape_root(b, memo)


# ---- printing ----

def format_value(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return value if isinstance(value, str) else repr(value)


# Derived or bulky attributes the text form leaves out (explain() shows reasons and costs).
HIDDEN_ATTRS = frozenset(("repr", "value", "name", "reason", "costs", "compute", "axes"))


def _format_attrs(node: Node) -> str:
    shown = [f"{k}={format_value(v) if not isinstance(v, str) else v}" for k, v in node.attrs
             if k not in HIDDEN_ATTRS]
    return ", ".join(shown)


def format_node(node: Node, names: dict[int, str] | None = None, types: bool = False) -> str:
    """A node as nested text; nodes named in `names` (statement values) print by name."""
    names = names or {}
    text: dict[int, str] = {}
    for n in postorder([node]):
        if id(n) in names and n is not node:
            text[id(n)] = names[id(n)]
            continue
        if n.op == "const":
            s = format_value(n.attr("value"))
            if not n.weak and n.dtype is not None:
                s = f"{n.dtype}({s})"
        elif n.op == "input":
            s = names.get(id(n), f"{n.attr('name')}0")
        else:
            parts = [text[id(a)] for a in n.args]
            extra = _format_attrs(n)
            if extra:
                parts.append(extra)
            s = f"{n.op}({', '.join(parts)})"
        if types and n.dtype is not None and n.op != "const":
            s = f"{s}:{type_text(n)}"
        text[id(n)] = s
    return text[id(node)]


def type_text(node: Node) -> str:
    if node.shape is None:
        return node.dtype or "?"
    from maskdsl.ir.dtypes import shape_text
    return f"{node.dtype}{shape_text(node.shape, 'ir')}" if node.shape else node.dtype


def format_program(program: Program, types: bool = False) -> str:
    """SSA text: one line per statement, `x1 = update(x0, ...)`; outputs last."""
    names: dict[int, str] = {}
    for n in program.inputs:
        names[id(n)] = f"{n.attr('name')}0"
    lines = []
    for i, s in enumerate(program.statements):
        label = f"{s.target}{s.version}" if s.target else f"_{i}"
        body = format_node(s.value, names, types)
        if id(s.value) in names and s.value.op != "input":
            body = names[id(s.value)]
        lines.append(f"{label} = {body}")
        names.setdefault(id(s.value), label)
    outs = ", ".join(f"{name}={names.get(id(n), format_node(n, names))}" for name, n in program.outputs)
    lines.append(f"return {outs}")
    return "\n".join(lines)


# ---- checking ----

class IRError(AssertionError):
    """The IR is malformed: a bug in maskdsl, never a user error."""


def verify(program: Program, typed: bool = True) -> Program:
    """Check the program is well formed; returns it unchanged so calls can chain.

    Every op is in the op table with its number of arguments (for an indexed op, the ones
    its `index` pattern reads), inputs are the program's; in a typed program every node
    has a type, only scalars are weak, masks are boolean, index operands fit their items,
    and the result dtype follows the op's rule where that rule is a simple one.
    """
    input_ids = {id(n) for n in program.inputs}
    for node in program.nodes():
        info = OPS.get(node.op)
        if info is None:
            raise IRError(f"unknown op {node.op!r}")
        args = node.args
        if not all(isinstance(a, Node) for a in args):
            raise IRError(f"{node.op} has a non-node argument")
        if not isinstance(node.attrs, tuple):
            raise IRError(f"{node.op} attrs must be a tuple")
        pattern = node.attr("index") if info.indexed else ()
        if pattern is None:
            raise IRError(f"{node.op} has no index pattern")
        arity = info.arity + operand_count(pattern) if pattern else info.arity
        if len(args) != arity:
            raise IRError(f"{node.op} with {len(args)} arguments; it takes {arity}")
        if node.op == "input" and id(node) not in input_ids:
            raise IRError(f"input {node.attr('name')!r} is not among the program inputs")
        if typed:
            if node.dtype is None or node.shape is None:
                raise IRError(f"{format_node(node)} has no type")
            if node.weak and node.shape != ():
                raise IRError(f"{format_node(node)} is weak but not a scalar")
            problem = _type_problem(node, info, pattern)
            if problem is not None:
                raise IRError(f"{node.op}: {problem}")
    for name, _ in program.outputs:
        if not isinstance(name, str):
            raise IRError(f"output name {name!r}")
    return program


def _type_problem(node: Node, info, pattern) -> str | None:
    """What is wrong with a typed node's argument and result types, or None."""
    for position in info.masks:
        if node.args[position].dtype != "bool":
            return f"argument {position} is a mask but {node.args[position].dtype}"
    if pattern:
        problem = operand_problem(pattern, index_operands(node))
        if problem is not None:
            return problem
    rule = info.dtype
    if rule == DtypeRule.PROMOTE:  # NumPy decides; only a predicate's answer is known here
        want = "bool" if node.op in PREDICATES else None
    else:
        want = _SIMPLE_DTYPE_RULES.get(rule, _unchecked)(node)
    if want is not None and node.dtype != want:
        return f"result dtype {node.dtype}, but its rule ({rule}) gives {want}"
    return None


def _unchecked(node: Node):
    return None


_SIMPLE_DTYPE_RULES = {
    DtypeRule.OF_FIRST: lambda node: node.args[0].dtype,
    DtypeRule.INT64: lambda node: "int64",
    DtypeRule.FROM_ATTR: lambda node: node.attr("dtype"),
}
