"""The TensorFlow lowering of each IR op: the table code generation dispatches on.

A lowering is `lowering(emitter, node)`: it writes the line(s) computing the node with
the emitter's helpers (`emit`, `ref`, `as_dtype`, `check`, ...; see codegen.Emitter).
Most element-wise ops are one TensorFlow function chosen by the kind of dtype they are
computed in (NumPy's `+` on booleans is `or`, `//` on integers needs rt.floordiv_int):
one `Elementwise` row each. The ops whose formulation choose_strategy picks (select,
update, reduce and the ops it makes) are lowered by their strategy (tf/strategies.py).
tests/test_op_tables.py checks that every op of ir/ops.py has a row.

>>> from maskdsl.ir.nodes import Node, input_node
>>> x = input_node("x").replace(dtype="bool", shape=(3,))
>>> LOWERINGS["add"].function(Node("add", (x, x), dtype="bool", shape=(3,)), "bool")
'tf.logical_or'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskdsl.errors import DTypeError, IndexOutOfRangeError, ValueDSLError
from maskdsl.ir.dtypes import dtype_kind
from maskdsl.ir.nodes import IRError
from maskdsl.ir.ops import PREDICATES
from maskdsl.passes.strategies import STRATEGIC_OPS
from maskdsl.tf.source import converted, literal, tf_dtype
from maskdsl.tf.strategies import STRATEGY_LOWERINGS, fit_check


@dataclass(frozen=True)
class Elementwise:
    """An element-wise op computed by one TensorFlow function, chosen by the kind of its compute dtype."""

    default: str | None = None       # for any dtype kind without an entry of its own
    on_bool: str | None = None       # NumPy's arithmetic and bitwise ops are logical on booleans
    on_int: str | None = None
    on_unsigned: str | None = None   # on unsigned integers, where TensorFlow has no kernel (before on_int)
    on_float: str | None = None
    on_int_safe_divisor: str | None = None  # on integers, when the divisor is a constant other than 0 and -1
    # on floats, a constant divisor as rt.opaque: "argument" (x / c) or "keyword" (rt.floordiv_float's
    # divisor=, for c other than 0). The graph optimiser and XLA multiply by the reciprocal of a
    # Const divisor, which is not NumPy's correctly rounded division.
    opaque_divisor: str | None = None
    # on floats, a constant dividend as rt.opaque too: the graph optimiser turns 1 / x into
    # Reciprocal(x), whose float32 kernel is not correctly rounded on arrays of 16 or more
    opaque_dividend: bool = False

    def function(self, node, compute: str) -> str:
        kind = dtype_kind(compute)
        if kind == "b" and self.on_bool:
            return self.on_bool
        if kind == "u" and self.on_unsigned:
            return self.on_unsigned
        if kind in "iu" and self.on_int:
            divisor = node.args[1] if len(node.args) > 1 else None
            if self.on_int_safe_divisor and divisor is not None and divisor.op == "const" and divisor.shape == () \
                    and divisor.attr("value") not in (0, -1):
                return self.on_int_safe_divisor
            return self.on_int
        if kind == "f" and self.on_float:
            return self.on_float
        if self.default:
            return self.default
        raise DTypeError(f"{node.op} is not supported for {compute}", node.span)

    def __call__(self, emitter, node) -> None:
        compute = node.attr("compute") or node.dtype
        args = [emitter.as_dtype(a, compute) for a in node.args]
        function = self.function(node, compute)
        divisor = node.args[1] if len(node.args) > 1 else None
        if self.opaque_divisor and dtype_kind(compute) == "f" and divisor.op == "const":
            opaque = f"rt.opaque({literal(converted(divisor.attr('value'), compute))}, {tf_dtype(compute)})"
            if self.opaque_divisor == "argument":
                args[1] = opaque
            elif divisor.attr("value") != 0:
                args.append(f"divisor={opaque}")
        if self.opaque_dividend and dtype_kind(compute) == "f" and node.args[0].op == "const":
            args[0] = f"rt.opaque({literal(converted(node.args[0].attr('value'), compute))}, {tf_dtype(compute)})"
        emitter.emit(node, _result(node, compute, f"{function}({', '.join(args)})"))


@dataclass(frozen=True)
class Comparison(Elementwise):
    """A comparison; infer_types may have answered it already (`constant`: an integer array
    against a Python int outside its dtype, which NumPy compares exactly)."""

    def __call__(self, emitter, node) -> None:
        constant = node.attr("constant")
        if constant is None:
            return super().__call__(emitter, node)
        array = next(a for a in node.args if not (a.op == "const" and a.weak))
        emitter.emit(node, f"tf.fill(tf.shape({emitter.ref(array)}), {bool(constant)!r})")


def _result(node, compute: str, expr: str) -> str:
    """A predicate's bool whatever it computed in; anything else as its result dtype."""
    if node.dtype != compute and node.op not in PREDICATES:
        return f"tf.cast({expr}, {tf_dtype(node.dtype)})"
    return expr


_POW = Elementwise(on_bool="tf.pow", on_int="tf.pow", on_float="tf.pow")

# NumPy's float power with a scalar exponent computes these exactly (its loop's fast
# paths; np.square, np.sqrt, np.reciprocal); any other exponent is its pow.
_FLOAT_POW_FAST = {2: "tf.multiply({x}, {x})", 0.5: "rt.power_half({x})", 1: "tf.identity({x})", 0: "tf.ones_like({x})",
                   -1: "tf.math.truediv(rt.opaque(1, {dtype}), {x})"}


def _pow(emitter, node):
    compute = node.attr("compute") or node.dtype
    base, exponent = node.args
    if dtype_kind(compute) == "u":  # no unsigned Pow kernel: rt.pow_unsigned wraps as NumPy does
        args = [emitter.as_dtype(a, compute) for a in node.args]
        return emitter.emit(node, _result(node, compute, f"rt.pow_unsigned({', '.join(args)})"))
    known = exponent.op == "const" and not isinstance(exponent.attr("value"), tuple) and exponent.attr("value") >= 0
    if dtype_kind(compute) in "iub" and not known:  # a negative exponent fails at run time (if anything is computed)
        args = [emitter.as_dtype(a, compute) for a in node.args]
        tag = emitter.check(ValueDSLError, "integers to negative integer powers are not allowed", node.span)
        return emitter.emit(node, f"rt.pow_int({', '.join(args)}, {tag})")
    if dtype_kind(compute) in "iu" and exponent.op == "const" and exponent.attr("value") >= 64:
        # XLA's integer power stops after 64 squarings (x ** 64 would be 1)
        x, e = (emitter.as_dtype(a, compute) for a in node.args)
        return emitter.emit(node, _result(node, compute, f"rt.pow_by_squaring({x}, {e})"))
    if dtype_kind(compute) == "f" and exponent.shape == ():
        x = emitter.as_dtype(base, compute)
        if exponent.op == "const" and exponent.attr("value") in _FLOAT_POW_FAST:
            fast = _FLOAT_POW_FAST[exponent.attr("value")].format(x=x, dtype=tf_dtype(compute))
            return emitter.emit(node, _result(node, compute, fast))
        # a constant exponent as rt.opaque: the graph optimiser turns pow(x, -0.5) into
        # rsqrt(x) (wrong at -inf and -0.0) and pow(x, -1) into an inexact reciprocal
        e = (f"rt.opaque({literal(converted(exponent.attr('value'), compute))}, {tf_dtype(compute)})"
             if exponent.op == "const" else emitter.as_dtype(exponent, compute))
        function = "tf.pow" if exponent.op == "const" else "rt.pow_float"
        return emitter.emit(node, _result(node, compute, f"{function}({x}, {e})"))
    _POW(emitter, node)


def _as_bool(emitter, node) -> str:
    """A reference to node as a bool tensor (a bool value as it is, anything else converted)."""
    return emitter.ref(node) if node.dtype == "bool" and node.op != "const" else emitter.as_dtype(node, "bool")


def _where(emitter, node):
    c, a, b = node.args
    cond = _as_bool(emitter, c)
    emitter.emit(node, f"tf.where({cond}, {emitter.as_dtype(a, node.dtype)}, {emitter.as_dtype(b, node.dtype)})")


def _clip(emitter, node):
    x, lo, hi = (emitter.as_dtype(a, node.dtype) for a in node.args)
    if node.dtype == "bool":
        return emitter.emit(node, f"rt.clip_bool({x}, {lo}, {hi})")
    scalar_bounds = node.args[1].shape == () and node.args[2].shape == ()  # NumPy's loop depends on it
    emitter.emit(node, f"rt.clip({x}, {lo}, {hi}, {scalar_bounds})")


def _not(emitter, node):
    emitter.emit(node, f"rt.logical_not({_as_bool(emitter, node.args[0])})")


def _input(emitter, node):
    emitter.names[id(node)] = emitter.param(node)


def _const(emitter, node):
    pass  # constants are written where they are used (as_dtype), or on first reference


def _cast(emitter, node):
    emitter.emit(node, emitter.as_dtype(node.args[0], node.dtype))


def _arange(emitter, node):
    start, stop, step = (emitter.as_dtype(a, node.dtype) for a in node.args)
    if node.shape == (0,):  # NumPy's empty arange (arange(-10), arange(5, 2)); tf.range refuses it
        return emitter.emit(node, f"tf.zeros([0], {tf_dtype(node.dtype)})")
    if not _ascending(*node.args):  # a stop on the wrong side of start is an empty range, not an error
        dtype = tf_dtype(node.dtype)
        stop = (f"tf.where(tf.greater({step}, tf.zeros([], {dtype})), tf.maximum({start}, {stop}), "
                f"tf.minimum({start}, {stop}))")
    emitter.emit(node, f"tf.range({start}, {stop}, {step}, dtype={tf_dtype(node.dtype)})")


def _ascending(start, stop, step) -> bool:
    """start <= stop with a positive step, known at compile time (`arange(size(x))`)."""
    constant = [a.attr("value") if a.op == "const" and not isinstance(a.attr("value"), tuple) else None
                for a in (start, stop, step)]
    if constant[0] is None or constant[2] is None or constant[2] <= 0:
        return False
    return (constant[1] is not None and constant[0] <= constant[1]) or (stop.op == "size" and constant[0] <= 0)


def _fill(emitter, node):
    shape = list(node.attr("shape"))
    emitter.emit(node, f"tf.fill({shape!r}, {emitter.as_dtype(node.args[0], node.dtype)})")


def _expand(emitter, node):
    emitter.emit(node, f"rt.expand_mask({emitter.ref(node.args[0])}, {int(node.attr('trailing'))})")


def _grad_guard(emitter, node):
    v, mask = node.args
    emitter.emit(node, f"rt.grad_guard({emitter.ref(v)}, {_as_bool(emitter, mask)})")


def _spread(emitter, node):
    x, mask, values = node.args
    checked = emitter.mask_checked(mask, x, 0, node.span)
    tag = fit_check(emitter, values, node.span)
    emitter.emit(node, f"rt.spread({emitter.ref(x)}, {checked}, {emitter.as_dtype(values, x.dtype)}, {tag})")


def _shape(emitter, node):
    emitter.emit(node, f"tf.shape({emitter.ref(node.args[0])}, out_type=tf.int64)")


def _size(emitter, node):
    emitter.emit(node, f"tf.size({emitter.ref(node.args[0])}, out_type=tf.int64)")


def _ndim(emitter, node):
    emitter.emit(node, f"tf.constant({len(node.args[0].shape)}, tf.int64)")


def _len(emitter, node):
    emitter.emit(node, f"tf.shape({emitter.ref(node.args[0])}, out_type=tf.int64)[0]")


def _transpose(emitter, node):
    emitter.emit(node, f"tf.transpose({emitter.ref(node.args[0])})")


def _reshape(emitter, node):
    emitter.emit(node, f"tf.reshape({emitter.ref(node.args[0])}, {list(node.attr('shape'))!r})")


# ---- statistics (issue 14) ----

def _cumulative(emitter, node):
    axis = node.attr("axis")
    axis = None if axis is None else axis % max(len(node.args[0].shape), 1)
    emitter.emit(node, f"rt.cumulative({node.attr('kind')!r}, {emitter.ref(node.args[0])}, {axis}, "
                       f"{tf_dtype(node.dtype)})")


def _nan_to_num(emitter, node):
    values = ", ".join("None" if node.attr(key) is None else literal(node.attr(key))  # None: NumPy's default
                       for key in ("nan", "posinf", "neginf"))
    emitter.emit(node, f"rt.nan_to_num({emitter.ref(node.args[0])}, {values})")


# ---- selections and order statistics ----

def _argwhere(emitter, node):
    emitter.emit(node, f"rt.argwhere({emitter.ref(node.args[0])})")


def _nonzero(emitter, node):
    emitter.emit(node, f"rt.nonzero({emitter.ref(node.args[0])}, {int(node.attr('axis'))})")


def _isin(emitter, node):
    compute = node.attr("compute")
    x, values = (emitter.as_dtype(a, compute) for a in node.args)
    emitter.emit(node, f"rt.isin({x}, {values})")


def _select_case(emitter, node):
    cond, choice, rest = node.args
    if rest.op == "const" and not isinstance(rest.attr("value"), tuple):  # the default: an unsafe cast
        with np.errstate(all="ignore"):
            value = np.array(rest.attr("value")).astype(node.dtype).item()
        default = f"tf.constant({literal(value)}, {tf_dtype(node.dtype)})"
    else:
        default = emitter.as_dtype(rest, node.dtype)
    emitter.emit(node, f"tf.where({_as_bool(emitter, cond)}, {emitter.as_dtype(choice, node.dtype)}, {default})")


def _sort(emitter, node):
    emitter.emit(node, f"rt.sort({emitter.ref(node.args[0])}, {int(node.attr('axis'))})")


def _unique(emitter, node):
    emitter.emit(node, f"rt.unique({emitter.ref(node.args[0])})")


def _quantile(emitter, node):
    x, mode, q = node.args[0], node.attr("mode"), node.attr("q")
    if node.attr("kind") == "percentile":   # NumPy divides q by 100 in float64 first
        q = tuple(v / 100 for v in q) if isinstance(q, tuple) else q / 100
    axes = tuple(int(a) for a in node.attr("axes"))
    tag = None
    if mode != "median" and any(x.shape[a] is None for a in axes):
        tag = emitter.check(IndexOutOfRangeError, "index -1 is out of bounds for axis 0 with size 0", node.span)
    emitter.emit(node, f"rt.quantile({emitter.ref(x)}, {axes!r}, {_q_text(q, mode)}, {mode!r}, "
                       f"{bool(node.attr('keepdims'))}, {tf_dtype(node.dtype)}, {tag})")


def _masked_quantile(emitter, node):
    x, mask = node.args
    q, mode = node.attr("q"), node.attr("mode")
    if node.attr("kind") == "percentile":
        q = tuple(v / 100 for v in q) if isinstance(q, tuple) else q / 100
    tag = None if mode == "median" else \
        emitter.check(IndexOutOfRangeError, "index -1 is out of bounds for axis 0 with size 0", node.span)
    m = emitter.mask_checked(mask, x, 0, node.span)
    emitter.emit(node, f"rt.masked_quantile({emitter.ref(x)}, {m}, {_q_text(q, mode)}, {mode!r}, "
                       f"{tf_dtype(node.dtype)}, {tag})")


def _q_text(q, mode) -> str:
    """q as a Python literal (numbers only: checked when the program was lowered)."""
    if q is None:
        return "None"
    if isinstance(q, tuple):
        return repr(tuple(int(v) if mode == "take" else float(v) for v in q))
    return repr(int(q) if mode == "take" else float(q))


def _by_strategy(emitter, node):
    """The lowering of the strategy choose_strategy gave the node."""
    lowering = STRATEGY_LOWERINGS.get(node.attr("strategy"))
    if lowering is None:
        raise IRError(f"code generation has no lowering for {node.op} with strategy {node.attr('strategy')!r}")
    lowering(emitter, node)


LOWERINGS = {
    "add": Elementwise("tf.add", on_bool="tf.logical_or"),
    "sub": Elementwise("tf.subtract", on_unsigned="rt.subtract_unsigned"),
    "mul": Elementwise("tf.multiply", on_bool="tf.logical_and"),
    "truediv": Elementwise("tf.math.truediv", opaque_divisor="argument", opaque_dividend=True),
    "floordiv": Elementwise(on_int="rt.floordiv_int", on_int_safe_divisor="tf.math.floordiv",
                            on_float="rt.floordiv_float", opaque_divisor="keyword"),
    "mod": Elementwise(on_int="rt.mod_int", on_int_safe_divisor="tf.math.floormod", on_float="rt.mod_float",
                       opaque_divisor="keyword"),
    "pow": _pow,
    "and": Elementwise("tf.bitwise.bitwise_and", on_bool="tf.logical_and"),
    "or": Elementwise("tf.bitwise.bitwise_or", on_bool="tf.logical_or"),
    # not tf.math.logical_xor: TensorFlow spells it And(Or(a, b), Not(And(a, b))), and once the graph
    # optimiser folds `^ True` that is Not(Greater(x, y)), rewritten to LessEqual(x, y): wrong for nan
    "xor": Elementwise("tf.bitwise.bitwise_xor", on_bool="tf.not_equal"),
    "eq": Comparison("tf.equal"),
    "ne": Comparison("tf.not_equal"),
    "lt": Comparison("tf.less", on_bool="rt.less_bool"),
    "le": Comparison("tf.less_equal", on_bool="rt.less_equal_bool"),
    "gt": Comparison("tf.greater", on_bool="rt.greater_bool"),
    "ge": Comparison("tf.greater_equal", on_bool="rt.greater_equal_bool"),
    "neg": Elementwise("tf.negative", on_unsigned="rt.negative_unsigned"),
    "pos": Elementwise("tf.identity"),
    "invert": Elementwise("tf.bitwise.invert", on_bool="rt.logical_not"),
    "not": _not,
    "abs": Elementwise("tf.abs", on_bool="tf.identity", on_unsigned="tf.identity"),
    "sign": Elementwise("tf.sign", on_unsigned="rt.sign_unsigned", on_float="rt.sign_float"),
    "sqrt": Elementwise("tf.sqrt"),
    "exp": Elementwise("tf.exp"),
    "log": Elementwise("tf.math.log"),
    "log1p": Elementwise("tf.math.log1p"),
    "expm1": Elementwise("tf.math.expm1"),
    "sin": Elementwise("tf.sin"),
    "cos": Elementwise("tf.cos"),
    "tan": Elementwise("tf.tan"),
    "tanh": Elementwise("tf.tanh"),
    "floor": Elementwise(on_int="tf.identity", on_bool="tf.identity", on_float="tf.floor"),
    "ceil": Elementwise(on_int="tf.identity", on_bool="tf.identity", on_float="tf.math.ceil"),
    "round": Elementwise(on_int="tf.identity", on_float="tf.round"),
    "isnan": Elementwise("rt.isnan_any"),
    "isinf": Elementwise("rt.isinf_any"),
    "isfinite": Elementwise("rt.isfinite_any"),
    "minimum": Elementwise("rt.minimum", on_bool="tf.logical_and"),
    "maximum": Elementwise("rt.maximum", on_bool="tf.logical_or"),
    "where": _where,
    "clip": _clip,
    "fmod": Elementwise(on_int="rt.fmod_int", on_bool="rt.fmod_int", on_float="rt.fmod_float"),
    "square": Elementwise("tf.square", on_bool="tf.identity"),
    "reciprocal": Elementwise(on_int="rt.reciprocal_int", on_float="rt.reciprocal_float"),
    "exp2": Elementwise(on_float="rt.exp2"),
    "log2": Elementwise(on_float="rt.log2"),
    "log10": Elementwise(on_float="rt.log10"),
    "sinh": Elementwise(on_float="tf.sinh"),
    "cosh": Elementwise(on_float="tf.cosh"),
    "arcsin": Elementwise(on_float="tf.asin"),
    "arccos": Elementwise(on_float="tf.acos"),
    "arctan": Elementwise(on_float="tf.atan"),
    "arctan2": Elementwise(on_float="tf.atan2"),
    "hypot": Elementwise(on_float="rt.hypot"),
    "deg2rad": Elementwise(on_float="rt.deg2rad"),
    "rad2deg": Elementwise(on_float="rt.rad2deg"),
    "trunc": Elementwise(on_int="tf.identity", on_bool="tf.identity", on_float="rt.trunc"),
    "logical_and": Elementwise("tf.logical_and"),   # computed in bool (its result dtype): x != 0
    "logical_or": Elementwise("tf.logical_or"),
    "logical_xor": Elementwise("tf.not_equal"),  # as xor on bool
    "ndim": _ndim,
    "len": _len,
    "transpose": _transpose,
    "reshape": _reshape,
    "cast": _cast,
    "input": _input,
    "const": _const,
    "arange": _arange,
    "fill": _fill,
    "expand": _expand,
    "grad_guard": _grad_guard,
    "spread": _spread,
    "shape": _shape,
    "size": _size,
    # selections and order statistics
    "nonzero_mask": Elementwise("rt.truth"),
    "argwhere": _argwhere,
    "nonzero": _nonzero,
    "isin": _isin,
    "select_case": _select_case,
    "sort": _sort,
    "unique": _unique,
    "quantile": _quantile,
    "masked_quantile": _masked_quantile,
    **dict.fromkeys(STRATEGIC_OPS, _by_strategy),
    "cumulative": _cumulative, "nan_to_num": _nan_to_num,  # statistics
}
