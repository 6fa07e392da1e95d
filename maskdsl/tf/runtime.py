"""TensorFlow helpers that generated code calls where TensorFlow and NumPy disagree.

Every check raises inside the graph with a tag `maskdsl-check-<n>`; the compiled
program maps the tag back to a MaskDSLError with the span of the DSL expression.
XLA drops Assert ops, so a function traced for XLA inside `checks_as_flags()` records
each check's condition instead, and its caller tests them (maskdsl/compiler.py).
"""

from __future__ import annotations

import contextlib
import math
import threading

from maskdsl.tf.quiet import quiet_start

# TensorFlow's start-up log is not for our users: hidden unless TF_CPP_MIN_LOG_LEVEL is 0 or 1
# (maskdsl/tf/quiet.py). Listing the devices now, inside the same quiet start, is what prints
# "failed call to cuInit" on a machine without a GPU; it leaves them configurable (memory
# growth, visible devices), which only the first operation fixes.
with quiet_start():
    import tensorflow as tf
    tf.config.list_physical_devices()

from maskdsl.ir.indexing import ADVANCED, MASKS, IndexKind as K  # noqa: E402  (the kinds in index plans)

nan = float("nan")
inf = float("inf")

TAG = "maskdsl-check-"


# ---- checks under XLA ----

_tracing = threading.local()


@contextlib.contextmanager
def checks_as_flags():
    """While a function is traced for XLA: every check appends (condition, tag) to the list this
    yields instead of asserting, since XLA compiles an Assert to nothing. The caller returns the
    conditions as an output and fails the call when one is false (maskdsl/compiler.py)."""
    previous = getattr(_tracing, "flags", None)
    _tracing.flags = []
    try:
        yield _tracing.flags
    finally:
        _tracing.flags = previous


def _flagged(ok, tag) -> bool:
    """Whether the check `ok` (a bool tensor) became a flag: True while tracing for XLA."""
    flags = getattr(_tracing, "flags", None)
    if flags is None:
        return False
    flags.append((tf.reshape(tf.reduce_all(ok), []), tag))
    return True


def flagging(function) -> tuple[object, list]:
    """(a function returning (function's result, a bool vector of its checks' conditions), the
    checks' tags, filled in when it is traced): how a function traced for XLA reports its checks."""
    tags: list = []

    def flagged(*args):
        with checks_as_flags() as flags:
            result = function(*args)
        tags[:] = [tag for _, tag in flags]
        return result, (tf.stack([ok for ok, _ in flags]) if flags else tf.ones([0], tf.bool))
    return flagged, tags


def xla_cluster(function):
    """`function` compiled by XLA as one cluster called from a plain graph (a cluster of a
    program partly under XLA; a whole program under jit_compile=True). Its checks come out as
    conditions beside its results and are asserted here, outside XLA (or, while the caller is
    itself traced for XLA, recorded as flags)."""
    flagged, tags = flagging(function)
    compiled = tf.function(flagged, jit_compile=True, autograph=False)

    def call(*args):
        results, oks = compiled(*args)
        checks = [c for i, tag in enumerate(tags) for c in _asserted(oks[i], [tag], tag)]
        if not checks:
            return results
        with tf.control_dependencies(checks):
            return tf.nest.map_structure(tf.identity, results)
    return call


def _asserted(ok, data, tag, summarize=None) -> list:
    """The control dependencies that fail the graph with `data` when `ok` is false (none under XLA,
    where `ok` becomes a flag)."""
    if _flagged(ok, tag):
        return []
    return [tf.debugging.Assert(ok, data, summarize=summarize)]


# ---- integer and float division with NumPy's semantics ----

def floordiv_int(a, b):
    """a // b as NumPy: x // 0 == 0, INT_MIN // -1 wraps to INT_MIN (TensorFlow raises / traps)."""
    zero = tf.equal(b, 0)
    safe = tf.where(zero, tf.ones_like(b), b)
    if a.dtype.is_unsigned or a.dtype == tf.bool:
        return tf.where(zero, tf.zeros_like(a), tf.math.floordiv(a, safe))
    overflow = tf.logical_and(tf.equal(a, a.dtype.min), tf.equal(safe, -1))
    safe = tf.where(overflow, tf.ones_like(safe), safe)
    return tf.where(zero, tf.zeros_like(a), tf.math.floordiv(a, safe))


def mod_int(a, b):
    """a % b as NumPy: x % 0 == 0, sign of the divisor."""
    zero = tf.equal(b, 0)
    safe = tf.where(zero, tf.ones_like(b), b)
    if not (a.dtype.is_unsigned or a.dtype == tf.bool):
        safe = tf.where(tf.logical_and(tf.equal(a, a.dtype.min), tf.equal(safe, -1)), tf.ones_like(safe), safe)
    return tf.where(zero, tf.zeros_like(a), tf.math.floormod(a, safe))


def _divmod_float(a, b, divisor=None):
    """NumPy's npy_divmod: floor division and modulo that agree with Python for floats.

    `divisor`: b as an opaque constant (see `opaque`), when b is a literal other than 0, for
    the division step: XLA would otherwise multiply by its reciprocal."""
    if a.dtype == tf.float16:  # no float16 TruncateMod kernel; NumPy's half loop computes in float32 too
        wide = None if divisor is None else tf.cast(divisor, tf.float32)
        floor, mod = _divmod_float(tf.cast(a, tf.float32), tf.cast(b, tf.float32), wide)
        return tf.cast(floor, tf.float16), tf.cast(mod, tf.float16)
    shape = tf.broadcast_dynamic_shape(tf.shape(a), tf.shape(b))
    a, b = tf.broadcast_to(a, shape), tf.broadcast_to(b, shape)
    mod = tf.truncatemod(a, b)  # C fmod
    zero_b = tf.equal(b, 0)
    if divisor is not None:
        div = tf.math.truediv(a - mod, divisor)
    else:
        # DivNoNan (the divisor is never 0 here), not Div: the graph optimiser rewrites a Div by a
        # constant into a multiplication by Reciprocal(b), whose float32 kernel is inexact on vectors
        div = tf.math.divide_no_nan(a - mod, tf.where(zero_b, tf.ones_like(b), b))
    fix = tf.logical_and(tf.not_equal(mod, 0), tf.not_equal(b < 0, mod < 0))
    mod = tf.where(fix, mod + b, mod)
    div = tf.where(fix, div - 1, div)
    mod = tf.where(tf.equal(mod, 0), _copysign(tf.zeros_like(mod), b), mod)
    floor = tf.floor(div)
    floor = tf.where(div - floor > 0.5, floor + 1, floor)
    floor = tf.where(tf.equal(div, 0), _copysign(tf.zeros_like(div), a / tf.where(zero_b, tf.ones_like(b), b)), floor)
    floor = tf.where(zero_b, a / b, floor)
    mod = tf.where(zero_b, tf.fill(tf.shape(mod), tf.constant(nan, mod.dtype)), mod)
    return floor, mod


def _copysign(x, sign):
    """|x| with the sign of `sign`, where -0.0 counts as negative (C copysign)."""
    negative = tf.logical_or(sign < 0, tf.logical_and(tf.equal(sign, 0), 1 / sign < 0))
    return tf.where(negative, -tf.abs(x), tf.abs(x))


def floordiv_float(a, b, divisor=None):
    return _divmod_float(a, b, divisor)[0]


def mod_float(a, b, divisor=None):
    return _divmod_float(a, b, divisor)[1]


def opaque(value, dtype):
    """A constant the graph optimisers cannot see: it reaches the graph as a captured input,
    not a Const node.

    Grappler's constant folding (ReduceDivToReciprocalMul) and XLA's algebraic simplifier
    (HandleDivide: A / Const => A * (1 / Const)) turn x / c into x * (1 / c), which is not
    NumPy's correctly rounded x / c; neither rewrites a division by a function's input. Built
    from a NumPy value: TensorFlow's eager scalar cache hands back +0.0 for -0.0."""
    import numpy as np
    with tf.init_scope(), np.errstate(over="ignore"):  # (a literal beyond float16 is inf, as NumPy makes it)
        return tf.constant(np.asarray(value, dtype.as_numpy_dtype))


def pow_int(a, b, tag):
    """a ** b for integers; a negative exponent is an error, as in NumPy (for the elements computed:
    none when the result is empty)."""
    negative = tf.logical_and(tf.less(b, tf.zeros([], b.dtype)), tf.ones_like(a, tf.bool))
    with tf.control_dependencies(_asserted(tf.logical_not(tf.reduce_any(negative)), [tag], tag)):
        # max(b, 0): a negative b reaches here only for an empty result, and Pow(x, -1) would
        # become Reciprocal, which has no integer kernel (graph optimiser)
        b = tf.maximum(b, tf.zeros([], b.dtype))
        if a.dtype == tf.bool:
            return tf.pow(a, b)
        return _int_pow(a, b)


def _int_pow(a, b):
    """a ** b for integers and b >= 0. XLA's integer power stops after 64 squarings (x ** 64
    would be 1), so exponents from 64 on are computed by repeated squaring."""
    return tf.cond(tf.reduce_any(b >= 64), lambda: pow_by_squaring(a, b), lambda: tf.pow(a, b))


def pow_by_squaring(a, b):
    """a ** b for integers and b >= 0, wrapping as NumPy's (and TensorFlow's) multiplication does."""
    shape = tf.broadcast_dynamic_shape(tf.shape(a), tf.shape(b))
    base, e = tf.broadcast_to(a, shape), tf.broadcast_to(b, shape)
    one = tf.ones_like(base)
    result = one
    for _ in range(e.dtype.size * 8 - (0 if e.dtype.is_unsigned else 1)):
        result = tf.where(tf.equal(tf.bitwise.bitwise_and(e, tf.ones_like(e)), 1), result * base, result)
        base = base * base
        e = tf.bitwise.right_shift(e, tf.ones_like(e))
    return result


def power_half(x):
    """x ** 0.5 as NumPy: sqrt for float32 and float64; its float16 loop is C's powf, for
    which (-0.0) ** 0.5 is 0.0 and (-inf) ** 0.5 is inf (elsewhere the same as sqrt)."""
    if x.dtype != tf.float16:
        return tf.sqrt(x)
    return tf.where(tf.equal(x, 0) | tf.math.is_inf(x), tf.abs(x), tf.sqrt(x))


def pow_float(x, e):
    """x ** e for floats and a 0-d exponent e known only at run time: NumPy's loop computes
    the exponents 2, 0.5, -1, 1 and 0 exactly (x * x, sqrt, 1 / x, x, 1), others by pow."""
    out = tf.pow(x, e)
    for value, exact in ((2, lambda: x * x), (0.5, lambda: power_half(x)),
                         (-1, lambda: tf.math.truediv(opaque(1, x.dtype), x)), (1, lambda: x),
                         (0, lambda: tf.ones_like(x))):
        out = tf.where(tf.equal(e, value), exact(), out)
    return out


def logical_not(x):
    """not x, spelled Equal(x, False): Grappler rewrites LogicalNot(Less(a, b)) (and
    LogicalXor(Less(a, b), True)) into GreaterEqual(a, b), which is wrong when a or b is nan."""
    return tf.equal(x, False)


def isnan_any(x):
    return tf.math.is_nan(x) if x.dtype.is_floating else tf.zeros_like(x, dtype=tf.bool)


def isinf_any(x):
    return tf.math.is_inf(x) if x.dtype.is_floating else tf.zeros_like(x, dtype=tf.bool)


def isfinite_any(x):
    return tf.math.is_finite(x) if x.dtype.is_floating else tf.ones_like(x, dtype=tf.bool)


# NaN wins in NumPy's maximum/minimum and max/min; XLA's kernels let the number win.
# Equal operands (0.0 and -0.0) give the sign of one of them, and NumPy's choice is fixed:
# its float16 loop returns the first operand, its float32/float64 loops (SIMD min/max
# instructions) the second; clip returns x. TensorFlow's kernels (and XLA's) pick either.

def _numpy_extreme(pick, a, b, first_on_tie):
    out = pick(a, b)
    if not out.dtype.is_floating:
        return out
    out = tf.where(tf.equal(a, b), a if first_on_tie else b, out)
    return tf.where(tf.math.is_nan(a) | tf.math.is_nan(b), a + b, out)


def maximum(a, b):
    return _numpy_extreme(tf.maximum, a, b, a.dtype == tf.float16)


def minimum(a, b):
    return _numpy_extreme(tf.minimum, a, b, a.dtype == tf.float16)


def clip(x, lo, hi, scalar_bounds):
    """np.clip, nan if any operand is nan. On equal operands NumPy's loop for 0-d bounds (and
    every float16 loop) returns x: clip(-0.0, 0.0, 1.0) is -0.0; with array bounds its
    float32/float64 loop is maximum then minimum: 0.0."""
    first = scalar_bounds or x.dtype == tf.float16
    return _numpy_extreme(tf.minimum, _numpy_extreme(tf.maximum, x, lo, first), hi, first)


def sign_float(x):
    """np.sign on floats: sign(-0.0) is 0.0 (XLA's sign keeps the zero's sign)."""
    return tf.where(tf.equal(x, 0), tf.zeros_like(x), tf.sign(x))


def reduce_max(x, axis=None, keepdims=False):
    if x.dtype == tf.bool:  # TensorFlow has no bool Max kernel; NumPy's max of booleans is any
        return tf.reduce_any(x, axis=axis, keepdims=keepdims)
    return _float_extreme(tf.reduce_max, x, axis, keepdims)


def reduce_min(x, axis=None, keepdims=False):
    if x.dtype == tf.bool:  # no bool Min kernel either; NumPy's min of booleans is all
        return tf.reduce_all(x, axis=axis, keepdims=keepdims)
    return _float_extreme(tf.reduce_min, x, axis, keepdims)


def _float_extreme(reducer, x, axis, keepdims):
    """max or min with nan winning and, over the whole array, a zero result of a defined sign.

    0.0 and -0.0 compare equal, so which of them a reduction returns depends on the order
    it visits them in: TensorFlow's kernels and XLA's differ. Over the whole array the
    result is the tied zero NumPy's left-to-right loop keeps, the last for float32 and
    float64 and the first for float16 (as rt.maximum's ties), found only when the result
    is zero; so the plain graph and XLA give the same bits."""
    out = reducer(x, axis=axis, keepdims=keepdims)
    if not x.dtype.is_floating:
        return out
    if axis is None or sorted(a % x.shape.rank for a in axis) == list(range(x.shape.rank)):
        shape = tf.shape(out)
        out = tf.reshape(out, [])
        out = tf.reshape(tf.cond(tf.equal(out, 0), lambda: _tied_zero(x, x.dtype == tf.float16),
                                 lambda: tf.identity(out)), shape)
    return tf.where(tf.reduce_any(tf.math.is_nan(x), axis=axis, keepdims=keepdims), tf.constant(nan, x.dtype), out)


def _tied_zero(x, first: bool):
    """The first (or last) zero of x, which has one, with its sign."""
    flat = tf.reshape(x, [-1])
    n = tf.size(flat, out_type=tf.int64)
    at = tf.range(n)
    zero = tf.equal(flat, 0)
    at = tf.reduce_min(tf.where(zero, at, n)) if first else tf.reduce_max(tf.where(zero, at, -1))
    return tf.gather(flat, at)


def lowest(dtype: tf.DType):
    if dtype == tf.bool:
        return False
    return -inf if dtype.is_floating else dtype.min


def highest(dtype: tf.DType):
    if dtype == tf.bool:
        return True
    return inf if dtype.is_floating else dtype.max


def nonempty(x, count, tag):
    """Pass x through, failing (ValueError in NumPy) when `count` is zero."""
    if _flagged(count > 0, tag):
        return x
    check = tf.debugging.assert_greater(count, tf.zeros_like(count), message=tag)
    with tf.control_dependencies([check]):
        return tf.identity(x)


def cast(x, dtype):
    if x.dtype == dtype:
        return x
    if x.dtype.is_floating and dtype.is_integer:
        return float_to_int(x, dtype)
    return tf.cast(x, dtype)


def float_to_int(x, dtype):
    """tf.cast(x, dtype) for float x and an integer dtype, with NumPy's results on every path.

    Values that fit truncate toward zero. For the others (nan and +-inf included) C leaves the
    conversion undefined, and NumPy gives what x86-64's truncating conversion gives: INT_MIN of
    the int32 conversion for int32 and narrower types (wrapped: 0 for 8 and 16 bits), of the
    int64 conversion for int64 and uint32 (wrapped: 0 for uint32), and for uint64 the exact
    value in [2**63, 2**64), else 0 (NumPy's own loops for uint32 disagree on some of these;
    docs/language.md). Eigen's vectorised casts saturate (arrays of 16 elements or more), and
    XLA's convert saturates with nan -> 0; this uses only conversions of values in range."""
    if x.dtype == tf.float16:
        x = tf.cast(x, tf.float32)  # exact; float16 cannot hold the bounds 2**31 and 2**63
    zero = tf.zeros([], x.dtype)
    if dtype.size <= 4 and dtype != tf.uint32:
        fits = tf.logical_and(x >= tf.constant(-2.0 ** 31, x.dtype), x < tf.constant(2.0 ** 31, x.dtype))
        t = tf.cast(tf.where(fits, x, zero), tf.int32)
        if dtype == tf.int32:
            return tf.where(fits, t, tf.constant(-2 ** 31, tf.int32))
        return tf.cast(t, dtype)  # int32 -> narrower wraps on every path; INT_MIN wraps to 0
    big = tf.constant(2.0 ** 63, x.dtype)
    fits = tf.logical_and(x >= -big, x < big)  # false for nan
    t = tf.where(fits, tf.cast(tf.where(fits, x, zero), tf.int64), tf.constant(-2 ** 63, tf.int64))
    if dtype == tf.int64:
        return t
    if dtype == tf.uint32:
        return tf.cast(tf.bitwise.bitwise_and(t, 0xFFFFFFFF), tf.uint32)
    high = x >= big
    exact = tf.logical_and(high, x < 2 * big)
    top = tf.bitcast(tf.cast(tf.where(exact, x - big, zero), tf.int64), tf.uint64) + tf.constant(2 ** 63, tf.uint64)
    return tf.where(high, tf.where(exact, top, tf.zeros([], tf.uint64)), tf.bitcast(t, tf.uint64))


# ---- booleans and unsigned integers where TensorFlow has no kernel (NumPy computes them) ----
# Booleans order as False < True, so their comparisons, min and max are those of uint8.
# Unsigned negation and subtraction wrap modulo 2**bits in NumPy; the signed type of the
# same width holds the same bits and wraps the same way (two's complement).

_SIGNED = {tf.uint8: tf.int8, tf.uint16: tf.int16, tf.uint32: tf.int32, tf.uint64: tf.int64}


def _as_uint8(compare):
    def run(a, b):
        return compare(tf.cast(a, tf.uint8), tf.cast(b, tf.uint8))
    return run


less_bool = _as_uint8(tf.less)
less_equal_bool = _as_uint8(tf.less_equal)
greater_bool = _as_uint8(tf.greater)
greater_equal_bool = _as_uint8(tf.greater_equal)


def clip_bool(x, lo, hi):
    """np.clip of booleans: min(max(x, lo), hi), with max as or and min as and."""
    return tf.logical_and(tf.logical_or(x, lo), hi)


def negative_unsigned(x):
    """-x modulo 2**bits (TensorFlow's Neg has no unsigned kernel)."""
    signed = _SIGNED[x.dtype]
    return tf.bitcast(tf.negative(tf.bitcast(x, signed)), x.dtype)


def subtract_unsigned(a, b):
    """a - b modulo 2**bits, computed on the same bits as signed integers: the graph optimiser
    turns Sub(0, x) into Neg(x), which has no unsigned kernel."""
    signed = _SIGNED[a.dtype]
    return tf.bitcast(tf.subtract(tf.bitcast(a, signed), tf.bitcast(b, signed)), a.dtype)


def sign_unsigned(x):
    """np.sign of unsigned integers: 1 where x is not 0 (no unsigned Sign kernel)."""
    return tf.cast(tf.not_equal(x, 0), x.dtype)


def pow_unsigned(a, b):
    """a ** b for unsigned integers, wrapping modulo 2**bits as NumPy's repeated squaring does:
    computed in int64 (uint64: on the same bits), which wraps modulo 2**64 and so agrees in
    the low bits, then converted back (TensorFlow's Pow has no unsigned kernel)."""
    if a.dtype == tf.uint64:
        # an exponent of 2**63 or more is negative as int64: reduce it to one below 2**63 with the
        # same power modulo 2**64 (odd bases: their order divides 2**62; even bases: 0 from 64 on)
        e = tf.bitcast(b, tf.int64)
        e = tf.where(e < 0, tf.bitwise.bitwise_or(tf.bitwise.bitwise_and(e, 2**62 - 1), 2**62), e)
        return tf.bitcast(_int_pow(tf.bitcast(a, tf.int64), e), tf.uint64)
    return tf.cast(_int_pow(tf.cast(a, tf.int64), tf.cast(b, tf.int64)), a.dtype)


def _larger(a, b):
    return tf.logical_or(a, b) if a.dtype == tf.bool else maximum(a, b)


def _smaller(a, b):
    return tf.logical_and(a, b) if a.dtype == tf.bool else minimum(a, b)


# ---- indexing ----

INDEX_CHECK = "index"  # what wrap_index prints when it fails: [tag] [index] [value] [axis] [a] [size] [n]


def wrap_index(i, n, tag, axis=0):
    """Negative indices wrap; out-of-range ones fail (TensorFlow on CPU would raise its own error).

    The failure carries the first index out of range, NumPy's axis and its size, so the
    message can be NumPy's (`index_error_detail` in maskdsl/compiler.py reads them); they
    are computed only when the check fails. (Under XLA the assertion is dropped.)"""
    i = tf.cast(i, tf.int64)
    n = tf.cast(n, tf.int64)
    outside = tf.logical_or(i < -n, i >= n)
    if _flagged(tf.logical_not(tf.reduce_any(outside)), tag):
        return tf.where(i < 0, i + n, i)

    def fail():
        flat, bad = tf.reshape(i, [-1]), tf.reshape(outside, [-1])
        size = tf.size(flat, out_type=tf.int64)
        first = tf.reduce_min(tf.where(bad, tf.range(size), size))
        value = tf.gather(tf.concat([flat, tf.zeros([1], tf.int64)], 0), first)
        return tf.debugging.Assert(False, [tag, INDEX_CHECK, value, "axis", tf.constant(axis, tf.int64),
                                           "size", n], summarize=1)

    check = tf.cond(tf.reduce_any(outside), fail, tf.no_op)
    with tf.control_dependencies([check]):
        return tf.where(i < 0, i + n, i)


def _numpy_axis(items, dims) -> int:
    """NumPy's number for the axis an index item reads: its position among x's own axes
    (`dims` count the new axes that `None` items insert)."""
    return dims[0] - sum(1 for kind, _, d in items if kind in "nz" and d[0] < dims[0])


def check_mask(mask, x, start, tag):
    """The mask's shape must equal x's shape at dims [start, start + rank(mask))."""
    rank = mask.shape.rank
    want = tf.shape(x, out_type=tf.int64)[start:start + rank]
    got = tf.shape(mask, out_type=tf.int64)
    if _flagged(tf.equal(got, want), tag):
        return mask
    check = tf.debugging.assert_equal(got, want, message=tag)
    with tf.control_dependencies([check]):
        return tf.identity(mask)


def grad_guard(v, mask):
    """v itself, with a gradient of zero where mask (which broadcasts to v's shape) is false.

    Wraps the arrays a dense update's value reads: at masked-out elements its risky ops may
    overflow (exp) or leave the domain (log of a negative); the update discards those
    results, but gradients there are 0 * inf = nan, which this selection keeps from the
    inputs. Free in the forward pass, unlike where(mask, v, 1)."""
    if not v.dtype.is_floating and not v.dtype.is_complex:
        return v  # no gradient flows to integers or booleans

    return _guarded(v, mask)


@tf.custom_gradient
def _guarded(v, mask):
    """grad_guard's custom gradient. The mask is an input, not a closure: inside a tf.cond branch
    the backward function must read a tensor of the branch's own graph."""
    mask = tf.identity(mask)

    def backward(dy):
        return tf.where(mask, dy, tf.zeros_like(dy)), None
    return tf.identity(v), backward


def expand_mask(mask, trailing: int):
    """Reshape a mask so it broadcasts against an array with `trailing` more dims."""
    return tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([trailing], tf.int32)], 0)) if trailing else mask


def _insert_axes(x, newaxes):
    for pos in newaxes:
        x = tf.expand_dims(x, pos)
    return x


def select_general(x, items, newaxes, operands, tag):
    """x[index] for any mix of masks, integers, integer arrays, slices and new axes (NumPy rules).

    items: ((kind, operand positions, dims), ...) from indexing.plan_index.
    """
    x = _insert_axes(x, newaxes)
    shape = tf.shape(x, out_type=tf.int64)
    advanced = any(kind in ADVANCED for kind, _, _ in items)
    if not advanced:
        key = []
        for kind, ops, dims in items:
            if kind == K.INTEGER:
                n = shape[dims[0]]
                key.append(wrap_index(operands[ops[0]], n, tag, _numpy_axis(items, dims)))
            elif kind == K.SLICE:
                key.append(slice(*(None if o is None else operands[o] for o in ops)))
            else:
                key.append(slice(None))
        return x[tuple(key)]
    # 1. slices first (they keep their dims), advanced dims untouched
    key = []
    for kind, ops, dims in items:
        if kind == K.SLICE:
            key.append(slice(*(None if o is None else operands[o] for o in ops)))
        else:
            key.extend([slice(None)] * len(dims))
    x = x[tuple(key)]
    shape = tf.shape(x, out_type=tf.int64)
    # 2. index arrays, one per advanced dim
    adv_items = [it for it in items if it[0] in ADVANCED or it[0] == K.INTEGER]
    columns, adv_dims = [], []
    for kind, ops, dims in adv_items:
        if kind in MASKS:
            mask = operands[ops[0]]
            mask = tf.reshape(mask, [1]) if kind == K.BOOL_SCALAR else check_mask(mask, x, dims[0], tag)
            coords = tf.where(mask)
            columns.extend(coords[:, j] for j in range(len(dims)))
        else:
            columns.append(wrap_index(operands[ops[0]], shape[dims[0]], tag, _numpy_axis(items, dims)))
        adv_dims.extend(dims)
    bshape = tf.shape(columns[0], out_type=tf.int64)
    for c in columns[1:]:
        bshape = tf.broadcast_dynamic_shape(bshape, tf.shape(c, out_type=tf.int64))
    columns = [tf.broadcast_to(c, bshape) for c in columns]
    rank = len(x.shape)
    rest = [d for d in range(rank) if d not in adv_dims]
    moved = tf.transpose(x, adv_dims + rest)
    out = gather_nd(moved, tf.stack(columns, axis=-1))
    # 3. NumPy puts the broadcast dims where the advanced items were, when they are adjacent
    positions = [i for i, it in enumerate(items) if it in adv_items]
    adjacent = positions == list(range(positions[0], positions[-1] + 1))
    before = sum(1 for d in rest if d < adv_dims[0]) if adjacent else 0
    if before:
        nb = len(out.shape) - len(rest)
        perm = list(range(nb, nb + before)) + list(range(nb)) + list(range(nb + before, len(out.shape)))
        out = tf.transpose(out, perm)
    return out


def gather_nd(params, indices):
    """tf.gather_nd, also of an empty array: TensorFlow refuses any index into params with no
    elements ("params is empty"), even where every slice it takes is empty (x[True, :0],
    x[[0, 1]] of shape (2, 0)). The indices are in range (checked before), so the result is
    then empty too: zeros of the result's shape."""
    depth = indices.shape[-1]
    shape = tf.concat([tf.shape(indices, out_type=tf.int64)[:-1], tf.shape(params, out_type=tf.int64)[depth:]], 0)
    return tf.cond(tf.size(params) > 0, lambda: tf.gather_nd(params, indices), lambda: tf.zeros(shape, params.dtype))


def scatter_rows(x, indices, updates, name=None):
    """tf.tensor_scatter_nd_update, also into an array with no elements (whose rows are empty):
    TensorFlow refuses any index into an empty output, even with nothing to write."""
    return tf.cond(tf.size(x) > 0, lambda: tf.tensor_scatter_nd_update(x, indices, updates, name=name),
                   lambda: tf.identity(x))


def scatter_general(x, items, newaxes, operands, values, tag, fit_tag=None):
    """x with x[index] = values, for any index: positions come from indexing an iota. The values
    must fit the selection as NumPy's assignment requires (failing with `fit_tag`)."""
    size = tf.size(x, out_type=tf.int64)
    iota = tf.reshape(tf.range(size, dtype=tf.int64), tf.shape(x))
    positions = select_general(iota, items, newaxes, operands, tag)
    values = fit_values(cast(values, x.dtype), tf.shape(positions, out_type=tf.int64), fit_tag or tag)
    flat = tf.tensor_scatter_nd_update(tf.reshape(x, [-1]), tf.reshape(positions, [-1, 1]), tf.reshape(values, [-1]))
    return tf.reshape(flat, tf.shape(x))


def index_mask(x, items, operands, tag):
    """A boolean array of x's shape, true on the elements a basic index (slices, integers) selects."""
    shape = tf.shape(x, out_type=tf.int64)
    rank = len(x.shape)
    mask = tf.ones([], tf.bool)
    for kind, ops, dims in items:
        d = dims[0]
        n = shape[d]
        r = tf.range(n)
        if kind == K.INTEGER:
            axis_mask = tf.equal(r, wrap_index(operands[ops[0]], n, tag, _numpy_axis(items, dims)))
        elif kind == K.SLICE:
            axis_mask = _slice_mask(r, [None if o is None else operands[o] for o in ops])
        else:
            continue
        mask = tf.logical_and(mask, tf.reshape(axis_mask, [-1] + [1] * (rank - d - 1)))
    return mask


def _slice_mask(r, bounds):
    """Whether each index of r = range(n) is one that slice(*bounds) picks, by comparisons with
    the first and last index it picks (TensorFlow's strided slice works out NumPy's
    normalisation): XLA fuses them into the update's where, where a scatter of the picked
    indices (or the constant Grappler folds it into) is an array read from memory."""
    picked = r[slice(*bounds)]
    low, high = tf.reduce_min(picked), tf.reduce_max(picked)   # nothing picked: low > high
    step = tf.ones([], tf.int64) if len(bounds) < 3 or bounds[2] is None else tf.abs(tf.cast(bounds[2], tf.int64))
    on_step = tf.equal(tf.math.floormod(r - low, step), 0)
    return tf.logical_and(tf.logical_and(r >= low, r <= high), on_step)


def selected_values(values, x, coords, tag):
    """`values` broadcast to the selection x[mask] (count, *rest), as NumPy's x[mask] = values."""
    rest = tf.shape(x, out_type=tf.int64)[coords.shape[-1]:]
    want = tf.concat([tf.shape(coords, out_type=tf.int64)[:1], rest], 0)
    return fit_values(cast(values, x.dtype), want, tag)


def fit_values(values, want, tag):
    """`values` broadcast to the shape `want` as NumPy's `x[index] = values` broadcasts them to
    the selection: leading dimensions of size 1 beyond the selection's rank are dropped, and
    every other dimension must be 1 or the selection's (a value may not widen the result).
    Fails with `tag` otherwise; the shapes need not be known when the graph is built."""
    rank, wanted = values.shape.rank, want.shape[0]
    have, checks = _fitting(values, want, tag)
    with tf.control_dependencies(checks):
        if rank > wanted:
            values = tf.reshape(values, have)
        if rank < wanted:
            return _gathered_to(values, want, tag)
        # one value per selected element, the common case, needs no broadcast
        return tf.cond(tf.reduce_all(tf.equal(have, want)), lambda: tf.identity(values),
                       lambda: _gathered_to(values, want, tag))


def _fitting(values, want, tag):
    """(values' shape without the leading 1s beyond the rank of the shape `want`, the checks that
    the values broadcast to `want` as NumPy's `x[index] = values` broadcasts them)."""
    rank, have = values.shape.rank, tf.shape(values, out_type=tf.int64)
    wanted = want.shape[0]
    ok = tf.constant(True)
    if rank > wanted:
        ok = tf.reduce_all(tf.equal(have[:rank - wanted], 1))
        have = have[rank - wanted:]
    tail = want[wanted - min(rank, wanted):]
    ok = tf.logical_and(ok, tf.reduce_all(tf.logical_or(tf.equal(have, 1), tf.equal(have, tail))))
    return have, _asserted(ok, [tag, "values", tf.shape(values), "selection", want], tag, 8)


def fits_into(values, x, tag):
    """values, after checking that they broadcast to x's shape without widening it (NumPy's
    assignment of a value computed on the whole array); fails with `tag` otherwise."""
    rank, have = values.shape.rank, tf.shape(values, out_type=tf.int64)
    tail = tf.shape(x, out_type=tf.int64)[len(x.shape) - rank:]
    ok = tf.reduce_all(tf.logical_or(tf.equal(have, 1), tf.equal(have, tail)))
    with tf.control_dependencies(_asserted(ok, [tag, "values", have, "array", tf.shape(x)], tag, 8)):
        return tf.identity(values)


def _gathered_to(values, want, tag):
    """values broadcast to the shape `want` (which they fit), by a gather whose indices have the
    shape `want`. Not BroadcastTo(values, want), nor anything whose shape the graph optimiser
    relates to the values' own (a Reshape, a Select, a scatter of them): its shape inference
    takes such an op as proof that the shapes agree, concludes that the selection has as many
    elements as the values, folds that size (computed from data) into a constant, and so
    changes the selection itself, and the check above never fails."""
    rank, have = values.shape.rank, tf.shape(values, out_type=tf.int64)
    wanted = want.shape[0]
    flat = tf.zeros(want, tf.int64)
    stride = tf.constant(1, tf.int64)
    for k in range(rank - 1, -1, -1):   # the values' dims, aligned with the last of `want`
        j = wanted - rank + k
        coord = tf.reshape(tf.range(want[j]), [-1] + [1] * (wanted - j - 1))
        flat = flat + tf.where(tf.equal(have[k], 1), tf.zeros_like(coord), coord) * stride
        stride = stride * have[k]
    return tf.gather(tf.reshape(values, [-1]), flat, name=tag)


def spread(x, mask, values, tag):
    """x with x[mask] = values, for a mask over x's leading dims, with static shapes (XLA can
    compile it): each selected element takes the value at its rank among the selected elements,
    a running count of the mask, `where(mask, gather(values, cumsum(mask) - 1), x)`. The values
    broadcast to the selection as NumPy broadcasts them (fails with `tag` where they do not).

    >>> spread(tf.constant([1, 2, 3, 4]), tf.constant([True, False, True, True]), tf.constant([7, 8, 9]), "t").numpy()
    array([7, 2, 8, 9], dtype=int32)
    """
    flat = tf.reshape(mask, [-1])
    index = tf.int32 if flat.shape[0] is not None and flat.shape[0] < 2 ** 31 else tf.int64
    rank = tf.cumsum(tf.cast(flat, index))      # 1 + the rank of each selected element
    count = tf.reduce_sum(rank[-1:])            # 0 for an empty mask
    rest = tf.shape(x, out_type=tf.int64)[mask.shape.rank:]
    want = tf.concat([tf.reshape(tf.cast(count, tf.int64), [1]), rest], 0)
    values, wanted = cast(values, x.dtype), 1 + len(x.shape) - mask.shape.rank
    have, checks = _fitting(values, want, tag)
    if values.shape.rank < wanted:   # the selection's leading dims the values leave out are 1s
        have = tf.concat([tf.ones([wanted - values.shape.rank], tf.int64), have], 0)
    with tf.control_dependencies(checks):
        values = tf.reshape(values, have)

    def spread_values():
        # a single value (have[0] == 1) goes to every selected element
        at = tf.minimum(tf.maximum(rank - 1, 0), tf.cast(have[0], index) - 1)
        taken = tf.gather(values, tf.reshape(at, tf.shape(mask)))
        return tf.where(expand_mask(mask, len(x.shape) - mask.shape.rank), taken, x)
    return tf.cond(count > 0, spread_values, lambda: tf.identity(x))


def gather(x, idx, axis, tag):
    n = tf.shape(x, out_type=tf.int64)[axis]
    return tf.gather(x, wrap_index(idx, n, tag, axis), axis=axis)


# ---- whole-array masked reductions, in chunks ----
#
# At 1e7 float32 elements a full-size temporary such as where(m, x, 0) costs more than
# the reduction: glibc serves blocks above its mmap threshold (at most 32 MiB) with fresh
# pages, which fault on first touch. Reducing chunk by chunk keeps every temporary small
# (recycled from the heap) and in cache: sum(x[m]) at 1e7 takes a third of the one-shot
# where (benchmarks/results, docs/performance.md).

CHUNK = 1 << 20  # elements per chunk
MAX_UNROLLED = 64  # static shapes: at most this many chunks are unrolled into the graph


def _count(bools):
    """The true elements of one chunk, as int64 (an int32 sum: a chunk is far below 2**31)."""
    return tf.cast(tf.reduce_sum(tf.cast(bools, tf.int32)), tf.int64)


# Per reduction kind: one chunk's partial results (a tuple) over xs[ms], in accumulator
# dtype acc, and how two chunks' partial results combine. Kind "true" counts the true
# elements of ms (xs is not read).

def _sum_parts(xs, ms, acc):  # select before widening (int32 -> int64): half the bytes written
    chosen = tf.where(ms, xs, tf.zeros([], xs.dtype))
    if not acc.is_floating:
        return (tf.reduce_sum(cast(chosen, acc)),)
    return _float_sum_parts(chosen if xs.dtype.is_floating or _exact_in_int64(xs.dtype)
                            else tf.cast(chosen, tf.float64))


def _exact_in_int64(dtype) -> bool:
    """Whether a chunk of this dtype (at most 2 * CHUNK = 2**21 elements) sums exactly in int64,
    and that sum is exact in float64: values below 2**32 (bool and integers of 32 bits or less)."""
    return dtype == tf.bool or (dtype.is_integer and dtype.size <= 4)


def _float_sum_parts(v):
    """A float chunk's sum as float64 (high, low), as float_sum computes it. Small integers (a
    mean of int32) add exactly in int64, the cheapest exact sum."""
    if _exact_in_int64(v.dtype):
        return tf.cast(tf.reduce_sum(tf.cast(v, tf.int64)), tf.float64), tf.zeros([], tf.float64)
    if v.dtype != tf.float64:
        return tf.reduce_sum(tf.cast(v, tf.float64)), tf.zeros([], tf.float64)
    largest = tf.reduce_max(tf.abs(v))
    return tf.cond(_usable(largest), lambda: _extracted_sum(v, None, False, largest),
                   lambda: (tf.reduce_sum(v), tf.zeros([], tf.float64)))


def _two_sum(a, b):
    """a + b rounded, and its rounding error (Knuth's TwoSum, exact for finite a and b)."""
    s = a + b
    b_part = s - a
    return s, (a - (s - b_part)) + (b - b_part)


def _sums_added(a, b):
    """Two chunks' sums combined: (total,) for integers; (high, low[, count]) for floats."""
    if len(a) == 1:
        return (a[0] + b[0],)
    high, error = _two_sum(a[0], b[0])
    return (high, a[1] + b[1] + error) + tuple(p + q for p, q in zip(a[2:], b[2:]))


def _joined(high, low):
    """high + low, where high alone where it is not finite (low is then nan)."""
    return tf.where(tf.math.is_finite(high), high + low, high)


def _extreme_parts(reducer, fill):
    """min/max: the extreme of the selected elements, and whether any was selected."""
    def parts(xs, ms, acc):
        return reducer(tf.where(ms, cast(xs, acc), tf.constant(fill(acc), acc))), tf.reduce_any(ms)
    return parts


def _added(a, b):
    return tuple(p + q for p, q in zip(a, b))


def _extreme_combined(pick):
    def combine(a, b):
        return pick(a[0], b[0]), tf.logical_or(a[1], b[1])
    return combine


CHUNK_PARTS = {
    "true": (lambda xs, ms, acc: (_count(ms),), _added),
    "sum": (_sum_parts, _sums_added),
    "float_total": (lambda xs, ms, acc: _float_sum_parts(xs), _sums_added),  # float_sum of a whole array
    "mean": (lambda xs, ms, acc: _sum_parts(xs, ms, tf.float64) + (_count(ms),), _sums_added),  # (high, low, count)
    "prod": (lambda xs, ms, acc: (tf.reduce_prod(cast(tf.where(ms, xs, tf.ones([], xs.dtype)),
                                                      tf.float64 if acc.is_floating else acc)),),
             lambda a, b: (a[0] * b[0],)),
    "count": (lambda xs, ms, acc: (_count(tf.logical_and(ms, tf.not_equal(xs, tf.zeros([], xs.dtype)))),), _added),
    "any": (lambda xs, ms, acc: (tf.reduce_any(tf.logical_and(ms, cast(xs, tf.bool))),),
            lambda a, b: (tf.logical_or(a[0], b[0]),)),
    "all": (lambda xs, ms, acc: (tf.reduce_all(tf.logical_or(logical_not(ms), cast(xs, tf.bool))),),
            lambda a, b: (tf.logical_and(a[0], b[0]),)),
    "max": (_extreme_parts(reduce_max, lowest), _extreme_combined(_larger)),
    "min": (_extreme_parts(reduce_min, highest), _extreme_combined(_smaller)),
}


def _chunk_parts(kind, xs, ms, acc):
    return CHUNK_PARTS[kind][0](xs, ms, acc)


def _combine_parts(kind, a, b):
    return CHUNK_PARTS[kind][1](a, b)


def _chunked(kind, x, m, acc):
    """The partial results over all of x[m]: unrolled chunks for a static size, a loop otherwise."""
    x, m = tf.reshape(x, [-1]), tf.reshape(m, [-1])
    n = x.shape[0]
    if n is not None:
        if n <= 2 * CHUNK:
            return _chunk_parts(kind, x, m, acc)
        step = max(CHUNK, -(-n // MAX_UNROLLED))
        parts = _chunk_parts(kind, x[:step], m[:step], acc)
        for i in range(step, n, step):
            parts = _combine_parts(kind, parts, _chunk_parts(kind, x[i:i + step], m[i:i + step], acc))
        return parts
    first = _chunk_parts(kind, x[:CHUNK], m[:CHUNK], acc)

    def body(i, *parts):
        more = _chunk_parts(kind, x[i:i + CHUNK], m[i:i + CHUNK], acc)
        return (i + CHUNK, *_combine_parts(kind, parts, more))

    size = tf.size(x, out_type=tf.int64)  # int64: arrays may exceed 2**31 elements
    return tf.while_loop(lambda i, *_: i < size, body, (tf.constant(CHUNK, tf.int64), *first))[1:]


def masked_reduce(kind, x, m, acc, tag=None):
    """reduce_kind(x[m]) over the whole array (x and m of one shape), NumPy's semantics.

    `acc` is the result dtype (NumPy's); float sums and means accumulate as rt.float_sum.
    min / max fail with `tag` when nothing is selected, as NumPy raises.

    >>> float(masked_reduce("mean", tf.constant([1., 2., 6.]), tf.constant([True, False, True]), tf.float32))
    3.5
    """
    return CHUNK_RESULT.get(kind, _first)(_chunked(kind, x, m, acc), acc, tag)


def _first(parts, acc, tag):
    return parts[0]


def _nonempty_extreme(parts, acc, tag):
    return nonempty(parts[0], tf.cast(parts[1], tf.int32), tag)


# The result from the combined partial results, where it is not the first of them.
CHUNK_RESULT = {
    "sum": lambda parts, acc, tag: parts[0] if len(parts) == 1 else tf.cast(_joined(*parts), acc),
    "mean": lambda parts, acc, tag: tf.cast(_joined(parts[0], parts[1]) / tf.cast(parts[2], tf.float64), acc),
    "prod": lambda parts, acc, tag: tf.cast(parts[0], acc),
    "max": _nonempty_extreme,
    "min": _nonempty_extreme,
}


def count_true(m):
    """The number of true elements of a bool array (int64), chunked like masked_reduce.

    tf.math.count_nonzero casts the whole mask to int64 first: 80 MB of fresh pages at 1e7.

    >>> int(count_true(tf.constant([[True, False], [True, True]])))
    3
    """
    return _chunked("true", m, m, tf.int64)[0]


SAMPLE = 1 << 14  # mask elements read to estimate a selectivity


def true_fraction(m, sample: int | None = None):
    """The fraction of true elements of a bool array, estimated from at most about 2 * sample
    evenly spaced elements (exact up to `sample` elements); 0 for an empty array.

    It only chooses between formulations that give the same result, so an estimate will
    do: counting a 1e6-element mask exactly cost about a quarter of the sparse update it
    was choosing (0.5 ms of 2.2 ms). The standard error is below 0.4 % for a random mask; a mask whose
    pattern repeats with the sampling step is misjudged, which costs speed, not results.

    >>> float(true_fraction(tf.constant([True, False, True, True])))
    0.75
    >>> round(float(true_fraction(tf.range(10**6) % 10 < 3)), 2)
    0.3
    """
    flat = tf.reshape(m, [-1])
    step = tf.maximum(tf.size(flat) // (SAMPLE if sample is None else sample), 1)
    picked = tf.cast(flat[::step], tf.int32)
    return tf.cast(tf.reduce_sum(picked), tf.float32) / tf.cast(tf.maximum(tf.size(picked), 1), tf.float32)


# ---- the NumPy vocabulary beyond the seed's: element-wise functions TensorFlow lacks or spells otherwise ----

def fmod_int(a, b):
    """np.fmod on integers: the sign of the dividend, x fmod 0 == 0 (TensorFlow raises / traps)."""
    zero = tf.equal(b, 0)
    safe = tf.where(zero, tf.ones_like(b), b)
    if not (a.dtype.is_unsigned or a.dtype == tf.bool):
        safe = tf.where(tf.logical_and(tf.equal(a, a.dtype.min), tf.equal(safe, -1)), tf.ones_like(safe), safe)
    return tf.where(zero, tf.zeros_like(a), a - tf.truncatediv(a, safe) * safe)


def fmod_float(a, b):
    """np.fmod on floats: C fmod (exact, so float16 may be computed in float32)."""
    if a.dtype == tf.float16:
        return tf.cast(tf.truncatemod(tf.cast(a, tf.float32), tf.cast(b, tf.float32)), tf.float16)
    return tf.truncatemod(a, b)


def reciprocal_int(x):
    """np.reciprocal on integers (C integer division 1 / x); 1 / 0 is 0, as maskdsl's x // 0."""
    one = tf.ones_like(x)
    if x.dtype.is_unsigned:
        return tf.where(tf.equal(x, 1), one, tf.zeros_like(x))
    return tf.where(tf.equal(x, 1), one, tf.where(tf.equal(x, -1), -one, tf.zeros_like(x)))


def trunc(x):
    """np.trunc: toward zero, -0.5 -> -0.0 (ceil keeps the sign)."""
    return tf.where(x < 0, tf.math.ceil(x), tf.floor(x))


def _scaled(x, numerator, denominator):
    """x * (numerator / denominator) as NumPy's float loops: the factor rounded in the loop's
    dtype (float16 computes in float32)."""
    import numpy as np
    work = tf.float32 if x.dtype == tf.float16 else x.dtype
    factor = np.asarray(numerator, work.as_numpy_dtype) / np.asarray(denominator, work.as_numpy_dtype)
    return tf.cast(tf.cast(x, work) * tf.constant(factor, work), x.dtype)


def deg2rad(x):
    import math
    return _scaled(x, math.pi, 180)


def rad2deg(x):
    import math
    return _scaled(x, 180, math.pi)


def exp2(x):
    return tf.pow(tf.constant(2, x.dtype), x)


def log2(x):
    return tf.math.log(x) / tf.math.log(tf.constant(2, x.dtype))


def log10(x):
    return tf.math.log(x) / tf.math.log(tf.constant(10, x.dtype))


def hypot(a, b):
    """sqrt(a*a + b*b) without overflow or underflow in between; inf wins over nan, as C hypot."""
    a, b = tf.abs(a), tf.abs(b)
    big, small = tf.maximum(a, b), tf.minimum(a, b)
    safe = tf.where(tf.equal(big, 0), tf.ones_like(big), big)
    ratio = small / safe
    out = big * tf.sqrt(1 + ratio * ratio)
    out = tf.where(tf.equal(big, 0), tf.zeros_like(out), out)
    infinite = tf.logical_or(tf.math.is_inf(a), tf.math.is_inf(b))
    return tf.where(infinite, tf.fill(tf.shape(out), tf.constant(inf, out.dtype)), out)


def reciprocal_float(x):
    """np.reciprocal on floats: an exact division (tf.math.reciprocal is an approximation on float32)."""
    return tf.math.truediv(tf.ones_like(x), x)


# ---- statistics (issue 14): nan-reductions, moments, arg-reductions, cumulative sums ----
#
# One helper per family of reduction kinds, plain and masked alike: `mask` is None (every
# element of x takes part) or a bool array that broadcasts against x (a selection x[m] reduced
# without its dynamic shape: the elements outside it are filled with the reduction's identity
# and left out of the counts). `axis` is a list of axes or None (all).

def _taking_part(x, mask, skip_nan):
    """The elements of x a reduction reads: mask broadcast to x's shape, without the nans when
    skip_nan (a float x); None when that is every element."""
    valid = None if mask is None else tf.broadcast_to(mask, tf.shape(x))
    if skip_nan and x.dtype.is_floating:
        number = logical_not(tf.math.is_nan(x))
        valid = number if valid is None else tf.logical_and(valid, number)
    return valid


def _reduced_size(x, axis, dtype):
    """The number of elements of x each result element reduces, as dtype."""
    shape = tf.shape(x, out_type=tf.int64)
    size = tf.reduce_prod(shape if axis is None else tf.gather(shape, axis))
    return tf.cast(size, dtype)


def _filled(x, valid, fill):
    return x if valid is None else tf.where(valid, x, tf.constant(fill, x.dtype))


def nan_sum(x, mask, axis, keepdims, dtype, kind="sum"):
    """nansum / nanprod (kind "prod") of x[mask] in dtype: nan counts as the identity."""
    valid = _taking_part(x, mask, True)
    identity = 0 if kind == "sum" else 1
    reducer = tf.reduce_sum if kind == "sum" else tf.reduce_prod
    return reducer(_filled(cast(x, dtype), valid, identity), axis=axis, keepdims=keepdims)


def _rounder(acc, dtype):
    """Rounding to dtype where NumPy rounds (and overflows): float16 statistics are accumulated in
    float32 here, and NumPy's float16 loops round every intermediate array (a sum, the squares) to
    float16: np.var of [300, -300] in float16 is inf."""
    if dtype is None or dtype == acc:
        return lambda v: v
    return lambda v: tf.cast(tf.cast(v, dtype), acc)


def nan_mean(x, mask, axis, keepdims, acc, skip_nan=True, dtype=None):
    """nanmean (the mean of the numbers; 0 / 0 = nan for none) of x[mask], accumulated in acc
    and rounded to dtype where NumPy rounds."""
    rounded = _rounder(acc, dtype)
    valid = _taking_part(x, mask, skip_nan)
    total = rounded(tf.reduce_sum(_filled(cast(x, acc), valid, 0), axis=axis, keepdims=keepdims))
    count = _reduced_size(x, axis, acc) if valid is None else \
        tf.reduce_sum(tf.cast(valid, acc), axis=axis, keepdims=keepdims)
    return total / count


def moment(x, mask, axis, keepdims, acc, ddof, skip_nan=False, root=False, dtype=None):
    """var (std with root) of x[mask] as NumPy computes it: the mean first, then the mean square
    deviation over max(n - ddof, 0), rounded to dtype where NumPy rounds. With skip_nan (nanvar)
    the nans take no part, and, as in NumPy, a float slice of ddof >= n numbers is nan."""
    rounded = _rounder(acc, dtype)
    xa = cast(x, acc)
    valid = _taking_part(x, mask, skip_nan)
    if valid is None:
        count = _reduced_size(x, axis, acc)
        mean = rounded(rounded(tf.reduce_sum(xa, axis=axis, keepdims=True)) / count)
        deviation = rounded(xa - mean)
        n = count
    else:
        ones = tf.cast(valid, acc)
        count = tf.reduce_sum(ones, axis=axis, keepdims=True)
        mean = rounded(rounded(tf.reduce_sum(tf.where(valid, xa, tf.zeros([], acc)), axis=axis, keepdims=True))
                       / count)
        deviation = tf.where(valid, rounded(xa - mean), tf.zeros([], acc))
        n = tf.reduce_sum(ones, axis=axis, keepdims=keepdims)
    dof = n - tf.constant(ddof, acc)
    total = rounded(tf.reduce_sum(rounded(deviation * deviation), axis=axis, keepdims=keepdims))
    out = total / tf.maximum(dof, tf.zeros([], acc))
    if skip_nan and x.dtype.is_floating:  # np.nanvar's slice of ddof >= n numbers (not np.var's inf)
        out = tf.where(dof <= 0, tf.constant(nan, acc), out)
    return tf.sqrt(rounded(out)) if root else out


def nan_extreme(kind, x, mask, axis, keepdims):
    """nanmin / nanmax of x[mask]: the extreme of the numbers, nan for a slice without any."""
    valid = _taking_part(x, mask, True)
    if x.dtype == tf.bool:
        if kind == "min":
            return tf.reduce_all(_filled(x, valid, True), axis=axis, keepdims=keepdims)
        return tf.reduce_any(_filled(x, valid, False), axis=axis, keepdims=keepdims)
    reducer, fill = (tf.reduce_min, highest) if kind == "min" else (tf.reduce_max, lowest)
    out = reducer(_filled(x, valid, fill(x.dtype)), axis=axis, keepdims=keepdims)
    if not x.dtype.is_floating:
        return out
    found = tf.reduce_any(valid, axis=axis, keepdims=keepdims)
    return tf.where(found, out, tf.constant(nan, x.dtype))


def arg_extreme(kind, x, mask, axis, keepdims):
    """argmax / argmin (kind "max" / "min") of x[mask] over one axis (None: the flattened x[mask]),
    NumPy's answer: the first occurrence, and the first nan if there is one.

    With a mask (over x's leading dims, flattened to one) the index counts the selected
    elements before the one found: its position in x[m]. The extreme is found and then the
    first position holding it, by a min over the positions (tf.argmax does not promise the
    first of equal values under XLA, nor NumPy's nan rule)."""
    rank = len(x.shape)
    if mask is not None:
        rows = tf.reshape(mask, [-1])
        x = tf.reshape(x, tf.concat([tf.shape(rows), tf.shape(x)[len(mask.shape):]], 0))
        rank = rank - len(mask.shape) + 1
        valid = tf.broadcast_to(tf.reshape(rows, [-1] + [1] * (rank - 1)), tf.shape(x))
    else:
        valid = None
    if axis is None:
        x = tf.reshape(x, [-1])
        valid = None if valid is None else tf.reshape(valid, [-1])
        axis_ = 0
    else:
        axis_ = axis
    n = tf.shape(x, out_type=tf.int64)[axis_]
    position = tf.reshape(tf.range(n), [-1] + [1] * (len(x.shape) - axis_ - 1))
    if x.dtype == tf.bool:
        extreme = (tf.reduce_any(_filled(x, valid, False), axis=axis_, keepdims=True) if kind == "max" else
                   tf.reduce_all(_filled(x, valid, True), axis=axis_, keepdims=True))
        hit = tf.equal(x, extreme)
    else:
        fill = lowest if kind == "max" else highest
        reducer = tf.reduce_max if kind == "max" else tf.reduce_min
        numbers = valid
        if x.dtype.is_floating:
            missing = tf.math.is_nan(x) if valid is None else tf.logical_and(valid, tf.math.is_nan(x))
            numbers = logical_not(missing) if valid is None else tf.logical_and(valid, logical_not(missing))
        extreme = reducer(_filled(x, numbers, fill(x.dtype)), axis=axis_, keepdims=True)
        hit = tf.equal(x, extreme)
        if x.dtype.is_floating:
            hit = tf.where(tf.reduce_any(missing, axis=axis_, keepdims=True), missing, hit)
    if valid is not None:
        hit = tf.logical_and(valid, hit)
    first = tf.reduce_min(tf.where(hit, position, n), axis=axis_, keepdims=True)
    if valid is None:
        out = first
    else:
        out = tf.reduce_sum(tf.cast(tf.logical_and(valid, position < first), tf.int64), axis=axis_, keepdims=True)
    if keepdims:
        return tf.reshape(out, [1] * rank) if axis is None else out
    return tf.reshape(out, []) if axis is None else tf.squeeze(out, axis_)


def cumulative(kind, x, axis, dtype):
    """cumsum / cumprod in dtype along axis (None: of the flattened x; a 0-d x is 1-d)."""
    x = cast(x, dtype)
    if axis is None or len(x.shape) == 0:
        x, axis = tf.reshape(x, [-1]), 0
    if x.dtype == tf.bool:  # (a cumsum of booleans is an integer dtype: never reached)
        x = tf.cast(x, tf.int64)
    return (tf.cumsum if kind == "cumsum" else tf.math.cumprod)(x, axis=axis)


def nan_to_num(x, nan_value, posinf, neginf):
    """np.nan_to_num: nan, inf and -inf replaced (the values given as x's dtype); other dtypes unchanged."""
    if not x.dtype.is_floating:
        return x
    import numpy as np
    info = np.finfo(x.dtype.as_numpy_dtype)
    with np.errstate(over="ignore"):
        values = [tf.constant(np.asarray(v, np.float64).astype(x.dtype.as_numpy_dtype), x.dtype)
                  for v in (nan_value, info.max if posinf is None else posinf, info.min if neginf is None else neginf)]
    positive, negative = tf.equal(x, tf.constant(inf, x.dtype)), tf.equal(x, tf.constant(-inf, x.dtype))
    x = tf.where(tf.math.is_nan(x), values[0], x)
    x = tf.where(positive, values[1], x)
    return tf.where(negative, values[2], x)


# ---- selections and order statistics (NumPy's nonzero, sort, unique, isin, median, quantile) ----

def truth(x):
    """x != 0 as a mask (nan is true, as in NumPy's nonzero)."""
    return x if x.dtype == tf.bool else tf.not_equal(x, tf.zeros([], x.dtype))


def argwhere(x):
    """np.argwhere: the coordinates of the non-zero elements, int64[n, ndim] (tf.where refuses 0-d)."""
    t = truth(x)
    if t.shape.rank == 0:
        return tf.where(tf.reshape(t, [1]))[:, :0]
    return tf.where(t)


def nonzero(x, axis: int):
    """np.nonzero(x)[axis]: one array of the tuple (row-major order, as NumPy)."""
    return tf.where(truth(x))[:, axis]


def _along(n, axis: int, rank: int):
    """0, 1, ..., n-1 shaped to broadcast along `axis` of an array of `rank` dims."""
    shape = [1] * rank
    shape[axis] = -1
    return tf.reshape(tf.range(n), shape)


_SORTED_AS = {tf.bool: tf.int8, tf.uint16: tf.int32}


def sort(x, axis: int):
    """np.sort along axis: nan last (tf.sort places nan anywhere), booleans as int8. -0.0 and 0.0
    are equal, so their order among themselves is unspecified, as in NumPy."""
    if x.dtype in _SORTED_AS:   # no sort kernel (bool), or none under XLA (uint16): an order-keeping cast
        return tf.cast(tf.sort(tf.cast(x, _SORTED_AS[x.dtype]), axis=axis), x.dtype)
    if not x.dtype.is_floating:
        return tf.sort(x, axis=axis)
    is_nan = tf.math.is_nan(x)
    ordered = tf.sort(tf.where(is_nan, tf.constant(inf, x.dtype), x), axis=axis)
    n = tf.shape(x)[axis]
    nans = tf.reduce_sum(tf.cast(is_nan, tf.int32), axis=axis, keepdims=True)
    last = tf.greater_equal(_along(n, axis, x.shape.rank), n - nans)   # the last `nans` places hold nan
    return tf.where(last, tf.constant(nan, x.dtype), ordered)


def unique(x):
    """np.unique: sorted distinct values of the flattened x; every nan collapses to one, last (NumPy 2)."""
    s = sort(tf.reshape(x, [-1]), 0)
    later, earlier = s[1:], s[:-1]
    if s.dtype == tf.bool:
        new = tf.not_equal(later, earlier)
    else:
        new = tf.not_equal(later, earlier)
        if s.dtype.is_floating:
            new = tf.logical_and(new, tf.logical_not(tf.logical_and(tf.math.is_nan(later), tf.math.is_nan(earlier))))
    first = tf.ones([tf.minimum(tf.size(s), 1)], tf.bool)
    return tf.boolean_mask(s, tf.concat([first, new], 0))


def isin(x, values):
    """np.isin: x and values already in the dtype NumPy compares them in. A binary search in the
    sorted values, so large value arrays cost O((n + k) log k), not n * k."""
    if x.dtype == tf.bool:
        x, values = tf.cast(x, tf.int8), tf.cast(values, tf.int8)
    v = sort(tf.reshape(values, [-1]), 0)
    flat = tf.reshape(x, [-1])
    place = tf.searchsorted(v, flat, side="left", out_type=tf.int64)
    padded = tf.concat([v, tf.zeros([1], v.dtype)], 0)          # place may be len(v): read a stand-in
    found = tf.logical_and(tf.less(place, tf.size(v, out_type=tf.int64)), tf.equal(tf.gather(padded, place), flat))
    return tf.reshape(found, tf.shape(x))


def _last_axis(x, axes):
    """x with `axes` flattened into one last axis, the others kept in order; and the kept shape."""
    rank = x.shape.rank
    kept = [a for a in range(rank) if a not in axes]
    if kept + list(axes) != list(range(rank)):
        x = tf.transpose(x, kept + list(axes))
    kept_shape = tf.gather(tf.shape(x), list(range(len(kept)))) if kept else tf.zeros([0], tf.int32)
    return tf.reshape(x, tf.concat([kept_shape, [-1]], 0)), kept_shape


def quantile(x, axes, q, mode: str, keepdims: bool, dtype, tag):
    """np.median / np.quantile / np.percentile (method "linear") of x over axes, following NumPy's own
    arithmetic so the results agree: median is the mean of the middle one or two elements (in mean's
    accumulator), quantile interpolates with NumPy's _lerp from index (n - 1) * q; a slice holding nan
    gives nan. q: None (median), a number, or a tuple (a leading axis). tag: the check that the axis
    is not empty (NumPy's IndexError), None when it cannot be."""
    shape = tf.shape(x)
    flat, kept_shape = _last_axis(x, axes)
    s = sort(flat, -1)
    static_n = s.shape[-1] if s.shape.rank and s.shape[-1] else None
    out = _statistic(s, tf.shape(s)[-1], kept_shape, q, mode, dtype, tag, static_n)
    if keepdims:
        rank = x.shape.rank
        dims = tf.where(tf.constant([a in axes for a in range(rank)], tf.bool), tf.ones([rank], tf.int32), shape)
        lead = [len(q)] if isinstance(q, tuple) else []
        out = tf.reshape(out, tf.concat([tf.constant(lead, tf.int32), dims], 0))
    return out


def masked_quantile(x, m, q, mode: str, dtype, tag):
    """quantile(x[m]) (every element, m over all of x's dims) with no dynamic shape: the elements
    masked out sort last (as nan, or the dtype's largest value, which the first count(m) sorted
    elements equal where they reach it), and only the first count(m) places are read."""
    flat, keep = tf.reshape(x, [-1]), tf.reshape(m, [-1])
    filler = tf.constant(nan, x.dtype) if x.dtype.is_floating else tf.ones([], x.dtype) if x.dtype == tf.bool \
        else tf.constant(x.dtype.max, x.dtype)
    s = sort(tf.where(keep, flat, filler), 0)
    n = tf.reduce_sum(tf.cast(keep, tf.int32))
    return _statistic(s, n, tf.zeros([0], tf.int32), q, mode, dtype, tag, None)


def _statistic(s, n, kept_shape, q, mode: str, dtype, tag, static_n):
    """The median or quantiles of the first n elements of each row of s (sorted, nan last)."""
    padded = tf.concat([s, tf.zeros(tf.concat([kept_shape, [1]], 0), s.dtype)], -1)  # n == 0 reads padding

    def at(i):
        return tf.gather(padded, tf.clip_by_value(i, 0, n), axis=-1)

    has_nan = tf.math.is_nan(at(n - 1)) if s.dtype.is_floating else None
    if mode == "median":
        acc = tf.float32 if s.dtype == tf.float16 else dtype   # np.mean's accumulator
        lo, hi = tf.cast(at((n - 1) // 2), acc), tf.cast(at(n // 2), acc)
        value = tf.cast(tf.where(tf.equal(n % 2, 1), lo, (lo + hi) / tf.constant(2, acc)), dtype)
        empty = tf.equal(n, 0)
        bad = empty if has_nan is None else tf.logical_or(empty, has_nan)
        results, qs = [tf.where(bad, tf.constant(nan, dtype), value)], None
    else:
        checks = [] if tag is None or _flagged(n > 0, tag) else [tf.debugging.assert_greater(n, 0, message=tag)]
        with tf.control_dependencies(checks):
            n = tf.identity(n)
        qs = q if isinstance(q, tuple) else (q,)
        results = [_quantile_one(at, n, value, mode, dtype, static_n) for value in qs]
        if has_nan is not None:
            results = [tf.where(has_nan, tf.constant(nan, dtype), r) for r in results]
    return tf.stack(results, 0) if isinstance(q, tuple) else results[0]


def _quantile_one(at, n, q, mode: str, dtype, static_n=None):
    if mode == "take":           # an integer q (0 or 1): NumPy takes the element, in x's dtype
        return at((n - 1) * int(q))
    if static_n:                 # the weights in Python, as NumPy computes them (no fused multiply-add)
        virtual = (static_n - 1) * float(q)
        above = virtual >= static_n - 1
        previous = -1.0 if above else math.floor(virtual)
        gamma = virtual - previous
        last = static_n - 1
        i, j = (last, last) if above else (int(previous), int(previous) + 1)
        a, b = at(tf.constant(i)), at(tf.constant(j))
        diff = tf.cast(b - a, dtype)
        t, u = tf.constant(gamma, tf.float64), tf.constant(1 - gamma, tf.float64)
        return _lerp(a, b, diff, tf.cast(t, dtype), tf.cast(u, dtype), gamma >= 0.5, dtype)
    n64 = tf.cast(n, tf.float64)
    virtual = (n64 - 1) * tf.constant(float(q), tf.float64)
    previous = tf.floor(virtual)
    above = tf.greater_equal(virtual, n64 - 1)               # NumPy reads index -1 (the last) for both
    previous = tf.where(above, tf.constant(-1.0, tf.float64), previous)
    nxt = tf.where(above, tf.constant(-1.0, tf.float64), previous + 1)
    gamma = virtual - previous
    last = n - 1
    a = at(tf.where(above, last, tf.cast(previous, tf.int32)))
    b = at(tf.where(above, last, tf.cast(nxt, tf.int32)))
    diff = tf.cast(b - a, dtype)                             # in x's dtype first, as NumPy's b - a
    return _lerp(a, b, diff, tf.cast(gamma, dtype), tf.cast(1 - gamma, dtype), gamma >= 0.5, dtype)


def _lerp(a, b, diff, t, u, upper, dtype):
    """NumPy's _lerp: a + (b - a) * t, or b - (b - a) * (1 - t) where t >= 0.5."""
    low = tf.cast(a, dtype) + diff * t
    high = tf.cast(b, dtype) - diff * u
    return tf.where(upper, high, low)
# ---- float sums with a stated accuracy (docs/language.md, "What gives NumPy's bits") ----
#
# NumPy adds pairwise (blocks of 8), TensorFlow and XLA in their own blocked orders, and
# TensorFlow accumulates float16 in float16: the orders cannot be made the same, so
# maskdsl's sums are at least as accurate as NumPy's instead. float16 and float32 are
# summed in float64 and rounded once. float64, which has no wider type, is summed by
# error-free extraction (Rump, Ogita and Oishi's AccSum): with sigma a power of two of at
# least (n + 2) * max|x|, q = (sigma + x) - sigma is x rounded to a multiple of
# ulp(sigma) / 2, and both sum(q) and x - q are exact; two such levels, then a plain sum
# of what is left, make the error at most half an ulp of the result plus 2 n^2 u^2 max|x|
# (u = 2^-53), against NumPy's log2(n) u sum|x|.

EXTRACTION_LEVELS = 2


def _power_of_two_above(v):
    """A power of two > v, for finite float64 v >= 0 (twice the power of two at or below it)."""
    bits = tf.bitwise.bitwise_and(tf.bitcast(v, tf.int64), tf.constant(0x7FF0000000000000, tf.int64))
    return tf.bitcast(bits, tf.float64) * 2


def _extracted_sum(x, axis, keepdims, largest):
    """sum(x) over axis for float64 x, as (high, low): high + low is the sum within the bound
    above (high is the extracted parts' sum, low the rest and their rounding errors).
    `largest`: max|x| over axis (keepdims)."""
    n = tf.cast(tf.size(x), tf.float64) / tf.cast(tf.maximum(tf.size(largest), 1), tf.float64)
    spread = _power_of_two_above(n + 2)
    rest, high, errors = x, None, None
    for level in range(EXTRACTION_LEVELS):
        top = largest if level == 0 else tf.reduce_max(tf.abs(rest), axis, keepdims=True)
        sigma = _power_of_two_above(top) * spread
        q = (sigma + rest) - sigma
        rest = rest - q
        part = tf.reduce_sum(q, axis, keepdims=keepdims)  # exact
        if high is None:
            high = part
        else:
            high, errors = _two_sum(high, part)
    low = tf.reduce_sum(rest, axis, keepdims=keepdims)
    return high, low if errors is None else low + errors


def _usable(largest):
    """Extraction applies: not inf or nan, sigma cannot overflow, not all zeros (whose sum's
    sign is the plain sum's)."""
    return tf.math.is_finite(largest) & (largest < 2.0 ** 960) & (largest > 0)


def float_sum(x, axis=None, keepdims=False, dtype=None):
    """sum(x) over axis, as `dtype` (default x's), at least as accurate as NumPy's pairwise sum.
    A whole array is summed in chunks (rt._chunked): full-size float64 temporaries would
    cost more than the arithmetic."""
    dtype = dtype or x.dtype
    if axis is None:
        total = _joined(*_chunked("float_total", x, x, tf.float64))
        return tf.cast(tf.reshape(total, [1] * x.shape.rank) if keepdims else total, dtype)
    if _exact_in_int64(x.dtype):
        return tf.cast(tf.reduce_sum(tf.cast(x, tf.int64), axis, keepdims=keepdims), dtype)
    if x.dtype != tf.float64:
        return tf.cast(tf.reduce_sum(tf.cast(x, tf.float64), axis, keepdims=keepdims), dtype)
    largest = tf.reduce_max(tf.abs(x), axis, keepdims=True)
    high, low = _extracted_sum(x, axis, keepdims, largest)
    usable = _usable(largest if keepdims else tf.reduce_max(largest, axis))
    return tf.cast(tf.where(usable, high + low, tf.reduce_sum(x, axis, keepdims=keepdims)), dtype)


def float_prod(x, axis=None, keepdims=False):
    """prod(x) over axis: float16 and float32 multiplied in float64 and rounded once."""
    if x.dtype == tf.float64:
        return tf.reduce_prod(x, axis, keepdims=keepdims)
    return tf.cast(tf.reduce_prod(tf.cast(x, tf.float64), axis, keepdims=keepdims), x.dtype)


def float_mean(x, axis=None, keepdims=False, dtype=tf.float64, count=None):
    """mean(x) over axis as `dtype`: float_sum in float64 divided by the count in float64.

    `count`: how many elements each result averages (default: all the axis holds). A count
    known when the program is traced is an opaque constant: XLA would otherwise multiply
    by its reciprocal. Integers of 32 bits or less are added exactly in int64; wider ones as
    float64."""
    if not x.dtype.is_floating and not _exact_in_int64(x.dtype):
        x = tf.cast(x, tf.float64)
    total = float_sum(x, axis, keepdims, tf.float64)
    if count is None:
        reduced = [d for i, d in enumerate(x.shape) if axis is None or i in _axes(axis, x.shape.rank)]
        if None not in reduced:
            count = opaque(float(_product(reduced)), tf.float64)
        else:
            count = tf.cast(tf.size(x), tf.float64) / tf.cast(tf.maximum(tf.size(total), 1), tf.float64)
    return tf.cast(total / tf.cast(count, tf.float64), dtype)


def _axes(axis, rank):
    return {a % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])}


def _product(dims):
    out = 1
    for d in dims:
        out *= d
    return out
