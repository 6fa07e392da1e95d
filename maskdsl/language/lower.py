"""Syntax tree -> IR program in SSA form (untyped; infer_types adds dtypes and shapes).

Every assignment makes a new version of its name; `x[m] *= 2` becomes
`x1 = update(x0, m, mul(select(x0, m), 2))`. Names read before any assignment are
the program's inputs.

>>> from maskdsl.ir.nodes import format_program
>>> print(format_program(lower(parse("x[x > 4] *= 2"))))
x1 = update(x0, gt(x0, 4), mul(select(x0, gt(x0, 4), index=[x]), 2), casting=same_kind, index=[x])
return x=x1
"""

from __future__ import annotations

import difflib
import math

import numpy as np

from maskdsl.language import syntax
from maskdsl import limits
from maskdsl.language.functions import DTYPE_ALIASES, FUNCTIONS, METHODS, NAMESPACES, NUMPY_CONSTANTS
from maskdsl.ir.dtypes import DTYPES
from maskdsl.errors import (DTypeError, LimitError, MaskDSLError, ParseError, ShapeError, Span, UnknownNameError,
                            ValueDSLError)
from maskdsl.gcpause import paused
from maskdsl.ir.indexing import IndexKind, slice_pattern
from maskdsl.ir.nodes import Node, Program, Statement, const, input_node, postorder, scope
from maskdsl.ir.ops import OPS, REDUCTIONS, python_value
from maskdsl.language.names import FUNCTION_NAMES
from maskdsl.language.parser import parse  # noqa: F401  (re-exported for the doctest and callers)


class _Marker:
    """What an index-only item (None, ..., a:b) lowers to; only Index accepts it.
    kind: IndexKind.NEW_AXIS, ELLIPSIS or SLICE."""

    def __init__(self, kind, node, parts=()):
        self.kind, self.node, self.parts = kind, node, parts


_MARKER_TEXT = {IndexKind.NEW_AXIS: "None", IndexKind.ELLIPSIS: "'...'", IndexKind.SLICE: "a slice"}


class _DType:
    """A dtype written where a value is read (`float32`, `np.float32`, `float`): the argument of
    astype or `dtype=`; anywhere else the built-in function error, or for `float`/`int` (which
    are dtypes only there) the name read as usual."""

    def __init__(self, dtype, node, alias=None):
        self.dtype, self.node, self.alias = dtype, node, alias


class _Indices:
    """`nonzero(m)`, `where(m)`: NumPy's tuple of index arrays, one per dimension of m. It is
    usable as a whole index (`x[where(m)]`, which is `x[m != 0]`) or indexed by a constant
    (`where(m)[0]`); it is never a value (docs/language.md, "Selections and order statistics")."""

    def __init__(self, source: Node, node):
        self.source, self.node = source, node


class _List:
    """A list literal of arrays (`[x > 0, x < -1]`): the condition and choice lists of select()."""

    def __init__(self, items: list, node):
        self.items, self.node = items, node


_INDICES_HINT = ("use it as an index (x[where(m)]) or take one array (where(m)[0]); argwhere(m) gives the "
                 "indices as the columns of one array")


def _not_a_value(item):
    if isinstance(item, _Indices):
        raise ShapeError("a tuple of index arrays (nonzero, or where with one argument) is not an array",
                         item.node.span, hint=_INDICES_HINT)
    if isinstance(item, _List):
        bad = next(c for c, k in zip(item.node.items, item.items) if not (isinstance(k, Node) and k.op == "const"))
        raise ParseError("list literals may only hold numbers (or lists of numbers)", bad.span,
                         hint="use where(...) or arithmetic to combine arrays (select() takes lists of arrays)")
    if isinstance(item, _DType):
        name = item.node.name if isinstance(item.node, syntax.Qualified) else item.node.id
        raise UnknownNameError(f"'{name}' is a dtype: convert with {name}(x) or x.astype({name})", item.node.span)
    what = _MARKER_TEXT[item.kind]
    raise ParseError(f"{what} can only be used inside an index", item.node.span)


# Python words a NumPy user reaches for, and what to write instead.
_PYTHON_HINTS = {
    "print": "a program's last expression is its result (the REPL prints it): write the expression alone",
    "range": "write arange(...)",
    "array": "write a list literal such as [1, 2, 3]",
    "asarray": "write a list literal such as [1, 2, 3], or the name itself",
    "float": "write float64(x) or x.astype(float)",
    "int": "write int64(x) or x.astype(int)",
}


# NumPy's methods that change the array in place and return None: a value-semantics language
# has no such thing, and the function of the same name gives the new array.
_REFUSED_METHODS = {
    "sort": "NumPy's x.sort() sorts x in place and returns None; sort(x) returns the sorted array",
}


def _namespace_assigned(name: str, span) -> ParseError:
    return ParseError(f"cannot assign to '{name}': {name} is the NumPy prefix ({name}.sum(x), {name}.nan, "
                      f"{name}.float32), not a name", span, hint="choose another name for the variable")


def _close(name: str, names, shown: dict | None = None) -> str | None:
    """'did you mean ...?' with the close names only (never the whole list): at most three, and
    only those about as close as the closest (`summ` suggests sum, not also nansum and cumsum)."""
    close = difflib.get_close_matches(name, sorted(names), n=3)
    if close:
        best = difflib.SequenceMatcher(None, name, close[0]).ratio()
        close = [c for c in close if difflib.SequenceMatcher(None, name, c).ratio() >= best - 0.1]
    return f"did you mean {' or '.join(shown[c] if shown else c for c in close)}?" if close else None


class Lowering:
    def __init__(self, source: str):
        self.source = source
        self.env: dict[str, Node] = {}
        self.versions: dict[str, int] = {}
        self.inputs: dict[str, Node] = {}
        self.statements: list[Statement] = []
        self.assigned_order: list[str] = []

    # ---- names ----
    def read(self, name: str, span: Span | None) -> Node:
        if name in self.env:
            return self.env[name]
        if name in FUNCTION_NAMES:
            raise UnknownNameError(f"'{name}' is a built-in function; call it as {name}(...)", span)
        if name in NAMESPACES:
            raise UnknownNameError(f"'{name}' is NumPy's namespace, not a value: write {name}.<function>(...), "
                                   f"{name}.<dtype> or {name}.nan", span)
        node = input_node(name, span)
        self.inputs[name] = node
        self.env[name] = node
        self.versions[name] = 0
        return node

    def write(self, name: str, node: Node, span: Span | None, name_span: Span | None) -> None:
        if name in NAMESPACES:
            raise _namespace_assigned(name, name_span)
        if name in FUNCTION_NAMES:
            raise ParseError(f"cannot assign to '{name}': it is a built-in function", name_span,
                             hint="choose another name")
        version = self.versions.get(name, 0) + 1
        self.versions[name] = version
        self.env[name] = node
        if name not in self.assigned_order:
            self.assigned_order.append(name)
        self.statements.append(Statement(name, version, node, span))

    # ---- expressions (iterative post-order: deep programs cannot overflow the stack) ----
    def expr(self, root: syntax.Node):
        done: dict[int, object] = {}
        stack = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if ready:
                done[id(node)] = self.build(node, [done[id(c)] for c in node.children()])
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.children()))
        return done[id(root)]

    def value(self, root: syntax.Node) -> Node:
        out = self.expr(root)
        if isinstance(out, (_Marker, _Indices, _List)):
            _not_a_value(out)
        return out

    def build(self, node: syntax.Node, kids: list):
        for i, k in enumerate(kids):
            if isinstance(k, _DType) and not isinstance(node, syntax.Call):
                if k.alias is None:
                    _not_a_value(k)
                kids[i] = k = self.read(k.alias, k.node.span)  # `float` as a name (an input)
            # None is a new axis inside an index, and `axis=None` in a reduction (checked there)
            if isinstance(k, _Marker) and not isinstance(node, syntax.Index) and not (
                    isinstance(node, syntax.Call) and k.kind == IndexKind.NEW_AXIS):
                _not_a_value(k)
            # a tuple of index arrays indexes or is indexed; a list of arrays is select()'s argument
            if isinstance(k, _Indices) and not isinstance(node, syntax.Index) or \
                    isinstance(k, _List) and not isinstance(node, syntax.Call):
                _not_a_value(k)
        span = node.span
        if isinstance(node, syntax.Name):
            if node.id not in self.env and (node.id in DTYPES or node.id in DTYPE_ALIASES):
                dtype = DTYPE_ALIASES.get(node.id, node.id)
                return _DType(dtype, node, alias=None if node.id in DTYPES else node.id)
            return self.read(node.id, span)
        if isinstance(node, syntax.Qualified):
            return self.qualified(node)
        if isinstance(node, syntax.Attribute):
            return self.attribute(node, kids[0])
        if isinstance(node, syntax.Const):
            return const(node.value, span=span)
        if isinstance(node, syntax.NoneLit):
            return _Marker(IndexKind.NEW_AXIS, node)
        if isinstance(node, syntax.EllipsisLit):
            return _Marker(IndexKind.ELLIPSIS, node)
        if isinstance(node, syntax.Slice):
            return _Marker(IndexKind.SLICE, node, tuple(kids))
        if isinstance(node, syntax.Sequence):
            return self.sequence(node, kids)
        if isinstance(node, syntax.Unary):
            operand = kids[0]
            if node.op in ("neg", "pos") and operand.op == "const" and operand.weak \
                    and not isinstance(operand.attr("value"), bool):
                # `-1` is a literal (so `[-1, 2]` and `axis=-1` are constants), as in Python
                value = operand.attr("value")
                return const(-value if node.op == "neg" else value, span=span)
            return Node(node.op, (operand,), span=span)
        if isinstance(node, syntax.Binary):
            return Node(node.op, tuple(kids), span=span)
        if isinstance(node, syntax.Compare):
            result = None
            for i, op in enumerate(node.ops):
                left, right = node.operands[i], node.operands[i + 1]
                cmp = Node(op, (kids[i], kids[i + 1]), span=left.span.cover(right.span) if left.span else span)
                result = cmp if result is None else Node("and", (result, cmp), span=span)
            return result
        if isinstance(node, syntax.Call):
            n_pos = len(node.args)
            return self.call(node, kids[:n_pos], dict(zip((k for k, _ in node.kwargs), kids[n_pos:])),
                             node.kwarg_spans)
        if isinstance(node, syntax.Index):
            if isinstance(kids[0], _Marker):  # `None[0]`: index items are not values
                _not_a_value(kids[0])
            if isinstance(kids[0], _Indices):
                return self.index_array_of(kids[0], node.items, kids[1:], span)
            pattern, operands = self.index_items(node.items, kids[1:])
            return Node("select", (kids[0], *operands), (("index", pattern),), span=span)
        raise ParseError(f"unsupported syntax {type(node).__name__}", span)

    def sequence(self, node: syntax.Sequence, kids: list) -> Node:
        kids = [_literal_arithmetic(k) if isinstance(k, Node) else k for k in kids]  # `[2 * 3, 4]`, as Python does
        if not all(isinstance(k, Node) and k.op == "const" for k in kids):
            for k in kids:
                if not isinstance(k, Node):
                    _not_a_value(k)
            return _List(kids, node)   # select()'s lists of arrays; an error anywhere else
        depth = 1 + max((len(k.shape) for k in kids), default=0)
        if depth > limits.MAX_LIST_DEPTH:
            raise LimitError(f"list literal nested deeper than {limits.MAX_LIST_DEPTH} levels", node.span)
        values = [k.attr("value") for k in kids]
        try:
            array = np.asarray([_to_list(v) for v in values])
        except ValueError:
            raise ShapeError("nested lists must be rectangular (every row the same length)", node.span) from None
        if array.dtype == object or array.dtype.name not in DTYPES:
            raise DTypeError(f"list literal of unsupported element type {array.dtype}", node.span)
        if array.size > limits.MAX_LITERAL_ELEMENTS:
            raise LimitError(f"list literal has more than {limits.MAX_LITERAL_ELEMENTS} elements", node.span)
        return const(array.tolist(), dtype=array.dtype.name, weak=False, span=node.span)

    def index_items(self, items, lowered):
        if any(isinstance(low, (_Indices, _List)) for low in lowered):
            low = next(low for low in lowered if isinstance(low, (_Indices, _List)))
            if len(lowered) == 1 and isinstance(low, _Indices):
                # x[where(m)] is x[m != 0] (NumPy's coordinates of m's non-zero elements, in order)
                return (IndexKind.VALUE,), [Node("nonzero_mask", (low.source,), span=low.node.span)]
            if isinstance(low, _Indices):
                raise ShapeError("a tuple of index arrays (nonzero, or where with one argument) must be the "
                                 "whole index", low.node.span, hint="index with where(m)[0] etc. beside other items")
            _not_a_value(low)
        pattern, operands = [], []
        for item, low in zip(items, lowered):
            if isinstance(low, _Marker):
                if low.kind == IndexKind.SLICE:
                    pattern.append(slice_pattern(item.lower is not None, item.upper is not None,
                                                 item.step is not None))
                    operands.extend(low.parts)
                else:
                    pattern.append(low.kind)
            else:
                pattern.append(IndexKind.VALUE)  # mask, integer or integer array: decided by infer_types
                if low.op == "const" and low.dtype == "float64" and 0 in low.shape:
                    # an empty list indexes as integers in NumPy (`x[[]]` selects nothing), not as float64
                    low = const(low.attr("value"), dtype="int64", weak=False, span=low.span)
                operands.append(low)
        if pattern.count(IndexKind.ELLIPSIS) > 1:
            raise ShapeError("an index can only have a single ellipsis ('...')",
                             [i for i, p in zip(items, pattern) if p == IndexKind.ELLIPSIS][1].span)
        return tuple(pattern), operands

    def index_array_of(self, indices: _Indices, items, lowered, span) -> Node:
        """`where(m)[k]`: the k-th array of the tuple (k a constant integer)."""
        value = lowered[0] if len(lowered) == 1 and isinstance(lowered[0], Node) else None
        k = value.attr("value") if value is not None and value.op == "const" else None
        if not isinstance(k, int) or isinstance(k, bool):
            raise ShapeError("a tuple of index arrays is indexed by one integer constant", items[0].span
                             if items else span, hint=_INDICES_HINT)
        return Node("nonzero", (indices.source,), (("axis", k),), span=span)

    def qualified(self, node: syntax.Qualified):
        """`np.nan`, `np.newaxis`, `np.float32` (a dtype where one is expected)."""
        name, prefix = node.name, node.namespace
        if name in NUMPY_CONSTANTS:
            value = NUMPY_CONSTANTS[name]
            return _Marker(IndexKind.NEW_AXIS, node) if value is None else const(value, span=node.span)
        if name in DTYPES or (name in DTYPE_ALIASES and name not in ("float", "int")):
            return _DType(DTYPE_ALIASES.get(name, name), node)
        if name in FUNCTIONS and FUNCTIONS[name].numpy:
            raise UnknownNameError(f"{prefix}.{name} is a function; call it as {prefix}.{name}(...)", node.span)
        raise UnknownNameError(f"{prefix}.{name} is not supported", node.name_span,
                               hint=_close(name, self._numpy_names()) or
                               f"maskdsl has {prefix}.<function> for the functions of docs/language.md, "
                               f"{prefix}.<dtype>, and {', '.join(prefix + '.' + c for c in NUMPY_CONSTANTS)}")

    @staticmethod
    def _numpy_names():
        return [n for n, f in FUNCTIONS.items() if f.numpy] + list(NUMPY_CONSTANTS) + list(DTYPE_ALIASES)

    def attribute(self, node: syntax.Attribute, receiver):
        """`x.T`, `x.shape`: the attribute's function applied to x."""
        method = METHODS.get(node.name)
        if method is None or not method.attribute:
            hint = (f"call it: x.{node.name}()" if method is not None else
                    _close(node.name, [m.name for m in METHODS.values() if m.attribute]) or
                    _close(node.name, METHODS))
            raise UnknownNameError(f"arrays have no attribute '{node.name}' in maskdsl" if method is None else
                                   f"'{node.name}' is a method", node.name_span, hint=hint)
        call = syntax.Call(method.function, node.name_span, (node.value,), span=node.span)
        return self.call(call, [receiver], {}, ())

    def method(self, node: syntax.Call, args: list[Node], kwargs: dict[str, Node], kw_nodes):
        """`x.sum(axis=0)`: the method's function with x first."""
        method = METHODS.get(node.func)
        if node.func in _REFUSED_METHODS:
            raise UnknownNameError(f"x.{node.func}() is refused: {_REFUSED_METHODS[node.func]}", node.func_span,
                                   hint=f"write {node.func}(x, ...)")
        if method is None or method.attribute:
            if method is not None:
                hint = f"read it without parentheses: x.{node.func}"
            elif node.func in FUNCTIONS:
                hint = f"call it as a function: {node.func}(x, ...)"
            else:   # the closest methods, or functions (x.sot() -> sort(x)), whichever are closer
                shown = {f: f"{f}(x)" for f in FUNCTIONS}
                shown.update({m.name: m.name for m in METHODS.values() if not m.attribute})
                hint = _close(node.func, shown, shown) or "see the methods in docs/language.md"
            raise UnknownNameError(f"arrays have no method '{node.func}' in maskdsl" if method is None else
                                   f"'{node.func}' is an attribute, not a method", node.func_span, hint=hint)
        if method.packs_arguments and len(args) > 2:  # x.reshape(2, 3)
            packed = [a.attr("value") if isinstance(a, Node) and a.op == "const" else None for a in args[1:]]
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= -1 for v in packed) \
                    or packed.count(-1) > 1:
                raise ShapeError("a shape must be non-negative integers, with at most one -1", node.span)
            return Node("reshape", (args[0],), (("shape", tuple(packed)),), span=node.span)
        call = syntax.Call(method.function, node.func_span, node.args, node.kwargs, node.kwarg_spans,
                           span=node.span)
        return self.call(call, args, kwargs, kw_nodes)

    def call(self, node: syntax.Call, args: list[Node], kwargs: dict[str, Node], kw_nodes) -> Node:
        if node.method:
            return self.method(node, args, kwargs, kw_nodes)
        fn = FUNCTIONS.get(node.func)
        span = node.span
        if node.namespace is not None and fn is not None and not fn.numpy:
            fn = None
        if fn is None or not (fn.op == "cast" and fn.variant is None):
            for i, arg in enumerate(args):
                if isinstance(arg, _DType) and arg.alias is not None:  # float/int as names
                    args[i] = self.read(arg.alias, arg.node.span)
        for key, arg in kwargs.items():
            if isinstance(arg, _DType) and key != "dtype":
                _not_a_value(arg)
        for i, arg in enumerate(args):
            if isinstance(arg, _DType) and not (fn is not None and fn.op == "cast" and fn.variant is None and i == 1):
                _not_a_value(arg)
        axis_at = _axis_position(fn)
        for i, arg in enumerate([*args, *kwargs.values()]):
            if isinstance(arg, _Marker) and not (axis_at is not None and (
                    (i == axis_at and len(args) > axis_at) or
                    (i >= len(args) and list(kwargs)[i - len(args)] == "axis"))):
                _not_a_value(arg)
            if isinstance(arg, _List) and not (fn is not None and fn.op == "select_case" and i < 2):
                _not_a_value(arg)
        if fn is None:
            if node.namespace is not None:
                raise UnknownNameError(f"{node.namespace}.{node.func} is not supported", node.func_span,
                                       hint=_close(node.func, self._numpy_names()) or
                                       "see the function table in docs/language.md")
            if node.func in _PYTHON_HINTS:
                raise UnknownNameError(f"{node.func}() is Python's, not maskdsl's: {_PYTHON_HINTS[node.func]}",
                                       node.func_span)
            hint = _close(node.func, FUNCTIONS) or "see the function table in docs/language.md"
            raise UnknownNameError(f"unknown function '{node.func}'", node.func_span, hint=hint)
        if not fn.min_args <= len(args) <= fn.max_args:
            want = str(fn.min_args) if fn.min_args == fn.max_args else f"{fn.min_args} to {fn.max_args}"
            raise ParseError(f"{fn.name}() takes {want} positional argument{'s' if fn.max_args != 1 else ''}, "
                             f"got {len(args)}", span)
        for (key, _), kw_span in zip(kwargs.items(), kw_nodes):
            if key not in fn.keywords:
                allowed = ", ".join(fn.keywords) or "none"
                raise ParseError(f"{fn.name}() got an unexpected keyword '{key}' (allowed: {allowed})", kw_span)
        build = CALLS.get(fn.op)
        if build is None:  # the op of the same arguments (element-wise functions, shape, size)
            return Node(fn.op, tuple(args), span=span)
        return build(self, fn, args, kwargs, span)

    # ---- selections and order statistics ----
    def where(self, fn, args, kwargs, span):
        if len(args) == 2:
            raise ParseError("where() takes 1 or 3 positional arguments, got 2", span,
                             hint="where(c, a, b) chooses between a and b; where(c) is nonzero(c)")
        if len(args) == 3:
            return Node("where", tuple(args), span=span)
        return self.nonzero(fn, args, kwargs, span)

    def nonzero(self, fn, args, kwargs, span):
        if fn.variant == "flat":  # flatnonzero(x): nonzero(x.ravel())[0]
            flat = Node("reshape", (args[0],), (("shape", (-1,)),), span=span)
            return Node("nonzero", (flat,), (("axis", 0),), span=span)
        return _Indices(args[0], _Spanned(span))

    def isin(self, fn, args, kwargs, span):
        return Node("isin", (args[0], args[1]), span=span)

    def select(self, fn, args, kwargs, span):
        """select([c1, c2], [a1, a2], default): where(c1, a1, where(c2, a2, default)), typed as one."""
        default = kwargs.get("default", args[2] if len(args) > 2 else None)
        if len(args) > 2 and "default" in kwargs:
            raise ParseError("select() got default twice", span)
        conditions, choices = (_listed(a) for a in args[:2])
        if len(conditions) != len(choices):
            raise ValueDSLError("list of cases must be same length as list of conditions", span)
        if not conditions:
            raise ValueDSLError("select with an empty condition list is not possible", span)
        rest = const(0, span=span) if default is None else default
        for entry in reversed(range(len(conditions))):
            rest = Node("select_case", (conditions[entry], choices[entry], rest), (("entry", entry),), span=span)
        return rest

    def sort(self, fn, args, kwargs, span):
        axis = self.axis_argument(fn, args, kwargs, 1, span, default=-1)
        x = args[0]
        if axis is None:
            x, axis = Node("reshape", (x,), (("shape", (-1,)),), span=span), -1
        elif len(axis) != 1:
            raise DTypeError("sort() takes one axis (an integer) or None", span)
        else:
            axis = axis[0]
        return Node("sort", (x,), (("axis", axis),), span=span)

    def unique(self, fn, args, kwargs, span):
        return Node("unique", (args[0],), span=span)

    def quantile(self, fn, args, kwargs, span):
        q = None
        if fn.variant != "median":
            q_node = _literal_arithmetic(args[1])
            q = _const_value(q_node, f"{fn.name}() takes q as a number or a list of numbers")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in _flat(q)):
                raise DTypeError(f"{fn.name}() takes q as a number or a list of numbers", q_node.span or span)
            if isinstance(q, tuple) and any(isinstance(v, tuple) for v in q):
                raise ShapeError("q must be a scalar or 1d", q_node.span or span)
            top = 100 if fn.variant == "percentile" else 1
            if not all(0 <= v <= top for v in _flat(q)):
                raise ValueDSLError(f"{'Percentiles' if top == 100 else 'Quantiles'} must be in the range "
                                    f"[0, {top}]", q_node.span or span)
        axis = self.axis_argument(fn, args, kwargs, 1 if fn.variant == "median" else 2, span)
        keepdims = self.keepdims_argument(kwargs)
        return Node("quantile", (args[0],), (("axis", axis), ("keepdims", keepdims), ("kind", fn.variant),
                                             ("q", q)), span=span)

    def axis_argument(self, fn, args, kwargs, position, span, default=None):
        """`axis=` (or the argument at position): None, or a tuple of integer constants."""
        axis_node = kwargs.get("axis", args[position] if len(args) > position else None)
        if len(args) > position and "axis" in kwargs:
            raise ParseError(f"{fn.name}() got axis twice", span)
        if axis_node is None:
            return None if default is None else (default,)
        if isinstance(axis_node, _Marker):  # axis=None
            return None
        axis = _const_value(axis_node, "axis must be an integer or a tuple of integers")
        axis = None if axis is None else tuple(axis) if isinstance(axis, tuple) else (axis,)
        if axis is not None and not all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
            raise DTypeError("axis must be an integer or a tuple of integers", axis_node.span)
        return axis

    @staticmethod
    def keepdims_argument(kwargs) -> bool:
        keep = kwargs.get("keepdims")
        keepdims = False if keep is None else _const_value(keep, "keepdims must be True or False")
        if not isinstance(keepdims, bool):
            raise DTypeError("keepdims must be True or False", keep.span)
        return keepdims

    def cast(self, fn, args, kwargs, span):
        dtype = fn.variant
        if dtype is None:  # astype(x, dtype)
            if not isinstance(args[1], _DType):
                raise DTypeError(f"{fn.name}() takes a dtype such as float32 or np.int64", args[1].span or span)
            dtype = args[1].dtype
        return Node("cast", (args[0],), (("dtype", dtype),), span=span)

    def copy(self, fn, args, kwargs, span):
        return args[0]

    def reshape(self, fn, args, kwargs, span):
        shape = fn.variant
        if shape is None:
            value = _const_value(args[1], "a shape must be an integer or a tuple of integers")
            shape = value if isinstance(value, tuple) else (value,)
            if not all(isinstance(d, int) and not isinstance(d, bool) and d >= -1 for d in shape) \
                    or list(shape).count(-1) > 1:
                raise ShapeError("a shape must be non-negative integers, with at most one -1", args[1].span)
        return Node("reshape", (args[0],), (("shape", tuple(shape)),), span=span)

    def arange(self, fn, args, kwargs, span):
        if len(args) == 1:
            args = [const(0, span=span), args[0]]
        if len(args) == 2:
            args = [*args, const(1, span=span)]
        return Node("arange", tuple(args), span=span)

    def fill(self, fn, args, kwargs, span):
        value = args[1] if fn.variant is None else const(fn.variant, "float64")
        return Node("fill", (value,), (("shape", _static_shape(args[0])),), span=span)

    def reduction(self, fn, args, kwargs, span):
        axis_node = kwargs.get("axis", args[1] if len(args) > 1 else None)
        if len(args) > 1 and "axis" in kwargs:
            raise ParseError(f"{fn.name}() got axis twice", span)
        axis = None
        if axis_node is not None and not isinstance(axis_node, _Marker):  # axis=None: every element
            axis = _const_value(axis_node, "axis must be an integer or a tuple of integers")
            axis = None if axis is None else tuple(axis) if isinstance(axis, tuple) else (axis,)
            if axis is not None and not all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
                raise DTypeError("axis must be an integer or a tuple of integers", axis_node.span)
        keep = kwargs.get("keepdims")
        keepdims = False if keep is None else _const_value(keep, "keepdims must be True or False")
        if not isinstance(keepdims, bool):
            raise DTypeError("keepdims must be True or False", keep.span)
        x = args[0]
        kind = fn.variant
        statistic = REDUCTIONS[kind]
        if statistic.single_axis and axis is not None and (len(axis) != 1 or isinstance(
                _const_value(axis_node, ""), tuple)):
            raise DTypeError(f"{fn.name}() takes one axis (an integer) or None, not a tuple", axis_node.span)
        extra = (("ddof", _ddof(kwargs.get("ddof"), span)),) if statistic.ddof else ()
        dtype = kwargs.get("dtype")
        if dtype is not None:  # NumPy accumulates in dtype: the same as reducing x.astype(dtype), as dtype
            if not isinstance(dtype, _DType):
                raise DTypeError(f"{fn.name}(dtype=...) takes a dtype such as float64", dtype.span or span)
            if kind in _FLOAT_DTYPE_ONLY and not dtype.dtype.startswith("float"):
                raise DTypeError(f"{fn.name}(dtype=...) takes a float dtype (float16, float32 or float64)",
                                 dtype.node.span or span)
            if kind in _NAN_FILL:  # NumPy replaces nan before the cast (a cast of nan to int is not 0)
                x, kind = _nan_replaced(x, _NAN_FILL[kind], span), kind.removeprefix("nan")
            x = Node("cast", (x,), (("dtype", dtype.dtype),), span=span)
        out = Node("reduce", (x,), (("axis", axis), ("keepdims", keepdims), ("kind", kind), *extra), span=span)
        return out if dtype is None else Node("cast", (out,), (("dtype", dtype.dtype),), span=span)

    # ---- statistics (issue 14) ----
    def cumulative(self, fn, args, kwargs, span):
        """cumsum(x, axis=None, dtype=None): axis None runs over the flattened x."""
        axis_node = kwargs.get("axis", args[1] if len(args) > 1 else None)
        if len(args) > 1 and "axis" in kwargs:
            raise ParseError(f"{fn.name}() got axis twice", span)
        axis = None
        if axis_node is not None and not isinstance(axis_node, _Marker):
            axis = _const_value(axis_node, "axis must be an integer")
            if not isinstance(axis, int) or isinstance(axis, bool):
                raise DTypeError(f"{fn.name}() takes one axis (an integer) or None", axis_node.span)
        x = args[0]
        dtype = kwargs.get("dtype")
        if dtype is not None:
            if not isinstance(dtype, _DType):
                raise DTypeError(f"{fn.name}(dtype=...) takes a dtype such as float64", dtype.span or span)
            x = Node("cast", (x,), (("dtype", dtype.dtype),), span=span)
        out = Node("cumulative", (x,), (("axis", axis), ("kind", fn.variant)), span=span)
        return out if dtype is None else Node("cast", (out,), (("dtype", dtype.dtype),), span=span)

    def nan_to_num(self, fn, args, kwargs, span):
        values = {}
        for key, default in (("nan", 0.0), ("posinf", None), ("neginf", None)):
            node = kwargs.get(key)
            if node is None:
                values[key] = default
                continue
            node = _literal_arithmetic(node)
            value = node.attr("value") if node.op == "const" else None
            if not isinstance(value, (int, float)):
                raise DTypeError(f"nan_to_num({key}=...) takes a number (a constant)", node.span or span)
            values[key] = value
        return Node("nan_to_num", (args[0],), tuple(values.items()), span=span)

    def isclose(self, fn, args, kwargs, span):
        """NumPy's formula, as NumPy computes it (numpy/_core/numeric.py): b becomes float (b * 1.0 is
        np.result_type(b, 1.0)), then `abs(a - b) <= atol + rtol * abs(b) & isfinite(b) | (a == b)`,
        `| isnan(a) & isnan(b)` with equal_nan. rtol and atol may be arrays."""
        names = ("a", "b", "rtol", "atol", "equal_nan")
        given = dict(zip(names, args))
        for key, value in kwargs.items():
            if key in given:
                raise ParseError(f"isclose() got {key} twice", span)
            given[key] = value
        a, b = given["a"], given["b"]
        rtol, atol = given.get("rtol", const(1e-05, span=span)), given.get("atol", const(1e-08, span=span))
        equal_nan = given.get("equal_nan")
        flag = False if equal_nan is None else equal_nan.attr("value") if equal_nan.op == "const" else None
        if not isinstance(flag, bool):
            raise DTypeError("isclose(equal_nan=...) takes True or False", equal_nan.span or span)

        def node(op, *operands):
            return Node(op, operands, span=span)

        y = _literal_arithmetic(node("mul", b, const(1.0, span=span)))
        # a Python number stays one (NumPy's isclose calls Python's abs on it, not np.abs)
        size = const(abs(y.attr("value")), span=span) if y.op == "const" and y.weak else node("abs", y)
        close = node("le", node("abs", node("sub", a, y)), node("add", atol, node("mul", rtol, size)))
        result = node("or", node("and", close, node("isfinite", y)), node("eq", a, y))
        return node("or", result, node("and", node("isnan", a), node("isnan", y))) if flag else result

    # ---- statements ----
    def statement(self, stmt) -> None:
        if isinstance(stmt, syntax.ExprStmt):
            self.statements.append(Statement(None, 0, self.value(stmt.expr), stmt.span))
            return
        if stmt.index is None and stmt.op is None:
            self.write(stmt.name, self.value(stmt.value), stmt.span, stmt.name_span)
            return
        # `where[m] = 1`, `abs += 1`, `np += 1`: the same error as `where = 1`
        if stmt.name in NAMESPACES:
            raise _namespace_assigned(stmt.name, stmt.name_span)
        if stmt.name in FUNCTION_NAMES:
            raise ParseError(f"cannot assign to '{stmt.name}': it is a built-in function", stmt.name_span,
                             hint="choose another name")
        # read left to right (target, index, value): inputs are numbered in reading order
        current = self.read(stmt.name, stmt.name_span)
        if stmt.index is None:
            pattern, operands = (), []
        else:
            lowered = [self.expr(i) for i in stmt.index]
            pattern, operands = self.index_items(stmt.index, lowered)
        value = self.value(stmt.value)
        if stmt.op is not None:
            selected = current if not pattern else Node(
                "select", (current, *operands), (("index", pattern),), span=stmt.span)
            value = Node(stmt.op, (selected, value), span=stmt.span)
        casting = "same_kind" if stmt.op is not None else "unsafe"
        node = Node("update", (current, *operands, value),
                    (("casting", casting), ("index", pattern)), span=stmt.span)
        self.write(stmt.name, node, stmt.span, stmt.name_span)

    def program(self, module: syntax.Module, outputs=None) -> Program:
        for stmt in module.statements:
            self.statement(stmt)
        return Program(tuple(self.inputs.values()), tuple(self.statements),
                       self.choose_outputs(module, outputs), module.source)

    def choose_outputs(self, module, outputs) -> tuple:
        if outputs is not None:
            if isinstance(outputs, str):
                outputs = [outputs]
            result = []
            for name in outputs:
                if name not in self.env:
                    raise UnknownNameError(f"output '{name}' is never assigned or read by the program")
                result.append((name, self.env[name]))
            return tuple(result)
        if self.statements and self.statements[-1].target is None:
            return (("result", self.statements[-1].value),)
        return tuple((name, self.env[name]) for name in self.assigned_order if not name.startswith("_"))


# How a call becomes IR, by the op its function lowers to (other ops take the arguments as they are).
CALLS = {"cast": Lowering.cast, "arange": Lowering.arange, "fill": Lowering.fill, "reduce": Lowering.reduction,
         "copy": Lowering.copy, "reshape": Lowering.reshape,
         # statistics
         "cumulative": Lowering.cumulative, "nan_to_num": Lowering.nan_to_num, "isclose": Lowering.isclose,
         # selections and order statistics
         "where": Lowering.where, "nonzero": Lowering.nonzero, "isin": Lowering.isin, "select_case": Lowering.select,
         "sort": Lowering.sort, "unique": Lowering.unique, "quantile": Lowering.quantile}
_FLOAT_DTYPE_ONLY = ("nanmean", "std", "var", "nanstd", "nanvar")  # NumPy's integer dtype= here is not a mean
_NAN_FILL = {"nansum": 0.0, "nanprod": 1.0}


def _ddof(node: Node | None, span) -> float | int:
    """ddof=: a constant number (0 when not given)."""
    if node is None:
        return 0
    node = _literal_arithmetic(node)
    value = node.attr("value") if node.op == "const" else None
    if not isinstance(value, (int, float)):
        raise DTypeError("ddof must be a number (a constant)", node.span or span)
    return int(value) if isinstance(value, bool) else value


def _nan_replaced(x: Node, value: float, span) -> Node:
    """x with nan replaced by value (NumPy's nan-functions do this first; infinities stay)."""
    return Node("nan_to_num", (x,), (("nan", value), ("posinf", math.inf), ("neginf", -math.inf)), span=span)


_AXIS_POSITIONS = {"reduce": 1, "cumulative": 1, "sort": 1, "quantile": 2}
"""Where a function takes `axis` positionally (a None there means every axis, not a new one)."""


def _axis_position(fn) -> int | None:
    if fn is None:
        return None
    if fn.op == "quantile" and fn.variant == "median":
        return 1
    return _AXIS_POSITIONS.get(fn.op)


class _Spanned:
    """Something with a span (a call's), where a marker wants a syntax node."""

    def __init__(self, span):
        self.span = span


def _listed(arg) -> list[Node]:
    """select()'s list argument: a list of arrays, or a list literal of numbers (one choice each)."""
    if isinstance(arg, _List):
        return list(arg.items)
    if isinstance(arg, Node) and arg.op == "const" and isinstance(arg.attr("value"), tuple):
        return [const(v, span=arg.span) if not isinstance(v, tuple) else
                const(v, dtype=arg.dtype, weak=False, span=arg.span) for v in arg.attr("value")]
    raise DTypeError("select() takes lists: select([c1, c2], [a1, a2])", arg.span)


def _flat(value):
    return [w for v in value for w in _flat(v)] if isinstance(value, tuple) else [value]


def _to_list(v):
    return [_to_list(x) for x in v] if isinstance(v, tuple) else v


def _const_value(node: Node, message: str):
    if node.op != "const":
        raise DTypeError(message + " (a constant)", node.span)
    return node.attr("value")


def _literal_arithmetic(node: Node) -> Node:
    """`node` as a constant if it is Python arithmetic on number literals (`2 * 3`, `10 ** 3`,
    `-(4 // 2)`), computed as Python computes it before NumPy sees the value; else `node`. Shapes
    and list literals need constants, and NumPy's users write them this way."""
    if node.op == "const" or OPS.get(node.op) is None or OPS[node.op].python is None:
        return node
    values: dict[int, object] = {}
    for n in postorder([node]):   # iterative: `1 + 1 + ... + 1` is a deep tree
        if n.op == "const":
            value = n.attr("value")
            if not n.weak or isinstance(value, tuple):
                return node
            values[id(n)] = value
            continue
        info = OPS.get(n.op)
        if info is None or info.python is None:
            return node
        try:
            value = python_value(n.op, [values[id(a)] for a in n.args], n.span)
        except (TypeError, ValueError, OverflowError):
            return node
        if isinstance(value, complex):
            return node
        values[id(n)] = value
    return const(values[id(node)], span=node.span)


def _static_shape(node: Node) -> tuple:
    node = _literal_arithmetic(node)
    value = _const_value(node, "a shape must be an integer or a list of integers")
    dims = value if isinstance(value, tuple) else (value,)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise ShapeError("a shape must be non-negative integers", node.span)
    total = 1
    for d in dims:
        total *= d
        if total > limits.MAX_CONSTRUCTED_ELEMENTS:
            raise LimitError(f"array of more than {limits.MAX_CONSTRUCTED_ELEMENTS} elements requested", node.span)
    return tuple(dims)


@paused
def lower(module: syntax.Module, outputs=None) -> Program:
    """Lower a parsed module to an (untyped) IR program."""
    try:
        with scope() as table:
            program = Lowering(module.source).program(module, outputs)
        return Program(program.inputs, program.statements, program.outputs, program.source, table)
    except MaskDSLError as e:
        raise e.with_source(module.source) from None
