"""TensorFlow helpers that generated code calls where TensorFlow and NumPy disagree.

Every check raises inside the graph with a tag `maskdsl-check-<n>`; the compiled
program maps the tag back to a MaskDSLError with the span of the DSL expression.
"""

from __future__ import annotations

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
    with tf.init_scope():
        return tf.constant(np.asarray(value, dtype.as_numpy_dtype))


def pow_int(a, b, tag):
    """a ** b for integers; a negative exponent is an error, as in NumPy."""
    check = tf.debugging.assert_greater_equal(b, tf.zeros_like(b), message=tag)
    with tf.control_dependencies([check]):
        if a.dtype == tf.bool:
            return tf.pow(a, b)
        # XLA's integer power stops after 64 squarings: x ** 64 would be 1
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
    out = tf.reduce_max(x, axis=axis, keepdims=keepdims)
    if not x.dtype.is_floating:
        return out
    return tf.where(tf.reduce_any(tf.math.is_nan(x), axis=axis, keepdims=keepdims), tf.constant(nan, x.dtype), out)


def reduce_min(x, axis=None, keepdims=False):
    out = tf.reduce_min(x, axis=axis, keepdims=keepdims)
    if not x.dtype.is_floating:
        return out
    return tf.where(tf.reduce_any(tf.math.is_nan(x), axis=axis, keepdims=keepdims), tf.constant(nan, x.dtype), out)


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
    check = tf.debugging.assert_equal(got, want, message=tag)
    with tf.control_dependencies([check]):
        return tf.identity(mask)


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
    out = tf.gather_nd(moved, tf.stack(columns, axis=-1))
    # 3. NumPy puts the broadcast dims where the advanced items were, when they are adjacent
    positions = [i for i, it in enumerate(items) if it in adv_items]
    adjacent = positions == list(range(positions[0], positions[-1] + 1))
    before = sum(1 for d in rest if d < adv_dims[0]) if adjacent else 0
    if before:
        nb = len(out.shape) - len(rest)
        perm = list(range(nb, nb + before)) + list(range(nb)) + list(range(nb + before, len(out.shape)))
        out = tf.transpose(out, perm)
    return out


def scatter_general(x, items, newaxes, operands, values, tag):
    """x with x[index] = values, for any index: positions come from indexing an iota."""
    size = tf.size(x, out_type=tf.int64)
    iota = tf.reshape(tf.range(size, dtype=tf.int64), tf.shape(x))
    positions = select_general(iota, items, newaxes, operands, tag)
    values = tf.broadcast_to(cast(values, x.dtype), tf.shape(positions))
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
            picked = r[slice(*(None if o is None else operands[o] for o in ops))]
            axis_mask = tf.scatter_nd(tf.reshape(picked, [-1, 1]), tf.ones_like(picked, tf.bool), [n])
        else:
            continue
        mask = tf.logical_and(mask, tf.reshape(axis_mask, [-1] + [1] * (rank - d - 1)))
    return mask


def selected_values(values, x, coords, tag):
    """`values` broadcast to the selection x[mask] (count, *rest), as NumPy's x[mask] = values."""
    rest = tf.shape(x, out_type=tf.int64)[coords.shape[-1]:]
    want = tf.concat([tf.shape(coords, out_type=tf.int64)[:1], rest], 0)
    return broadcast_checked(cast(values, x.dtype), want, tag)


def broadcast_checked(values, want, tag):
    """broadcast_to(values, want), failing with `tag` when NumPy would refuse to broadcast.

    The op itself carries the tag as its name: TensorFlow names the failing node in its
    error. (An assert beside it is not enough: Grappler may drop a BroadcastTo whose
    shapes do not fit, so that the consumer fails first, untagged.)"""
    return tf.broadcast_to(values, want, name=tag)


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
    return _float_sum_parts(chosen if xs.dtype.is_floating else tf.cast(chosen, tf.float64))


def _float_sum_parts(v):
    """A float chunk's sum as float64 (high, low), as float_sum computes it."""
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
    "max": (_extreme_parts(reduce_max, lowest), _extreme_combined(maximum)),
    "min": (_extreme_parts(reduce_min, highest), _extreme_combined(minimum)),
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
    by its reciprocal."""
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
