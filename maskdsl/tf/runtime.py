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
        return tf.pow(a, b)


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

def maximum(a, b):
    out = tf.maximum(a, b)
    return tf.where(tf.math.is_nan(a) | tf.math.is_nan(b), a + b, out) if out.dtype.is_floating else out


def minimum(a, b):
    out = tf.minimum(a, b)
    return tf.where(tf.math.is_nan(a) | tf.math.is_nan(b), a + b, out) if out.dtype.is_floating else out


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
    return (tf.reduce_sum(cast(tf.where(ms, xs, tf.zeros([], xs.dtype)), acc)),)


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
    "sum": (_sum_parts, _added),
    "mean": (lambda xs, ms, acc: _sum_parts(xs, ms, acc) + (_count(ms),), _added),  # (total, count)
    "prod": (lambda xs, ms, acc: (tf.reduce_prod(cast(tf.where(ms, xs, tf.ones([], xs.dtype)), acc)),),
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

    `acc` is the accumulator dtype (NumPy's result dtype; float32 for float16 means).
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
    "mean": lambda parts, acc, tag: parts[0] / tf.cast(parts[1], acc),
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
