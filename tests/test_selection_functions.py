"""Selections and order statistics (issue 14): nonzero and where(c), flatnonzero, argwhere, isin,
select, sort, unique, median, quantile and percentile, run by maskdsl and by NumPy on the same
arrays over dtypes, shapes 0-d to 3-d, axes, masks, empty inputs and nan, compared on value,
dtype and shape.

Everything here is exact: indices, sorting and selection move values, and median and quantile
follow NumPy's own arithmetic (the mean of the middle pair; _lerp from (n - 1) * q), so they are
compared bit for bit too. The one latitude is the order of -0.0 and 0.0 after a sort, which NumPy
leaves to its sorting algorithm (docs/language.md). Where NumPy raises, maskdsl raises a located
MaskDSLError.
"""

import warnings

import numpy as np
import pytest

from conftest import compiled
from maskdsl import MaskDSLError

DTYPES = ("bool", "int8", "int32", "int64", "uint8", "float16", "float32", "float64")
SHAPES = ((), (9,), (3, 4), (2, 3, 2), (0,), (0, 3))


def sample(dtype: str, shape=(9,), seed=0):
    """Small arrays with each dtype's edge values (nan, +-inf, +-0.0; integer limits) and repeats."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if dtype == "bool":
        return rng.random(size).reshape(shape) < 0.5
    if dtype.startswith("float"):
        pool = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -2.5, 3.0, 0.25, 3.0, -1.0, 7.5], dtype)
    else:
        info = np.iinfo(dtype)
        pool = np.array([0, 1, 2, 5, 7, int(info.max), int(info.min), 3, 1, 2], dtype)
    return rng.choice(pool, size=size).reshape(shape)


def finite_sample(dtype: str, shape=(9,), seed=0):
    x = sample(dtype, shape, seed)
    if x.dtype.kind == "f":
        x = np.where(np.isfinite(x), x, np.array(1.5, dtype))
    return x


def numpy_result(fn, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(fn(*args))


def check(src, fn, **inputs):
    """maskdsl's src equals NumPy's fn on the same inputs (value bit for bit, dtype, shape); where
    NumPy raises, maskdsl raises a MaskDSLError with a line and column."""
    try:
        expected = numpy_result(fn, *inputs.values())
    except (TypeError, ValueError, IndexError, OverflowError):
        with pytest.raises(MaskDSLError) as info:
            compiled(src)(**inputs)
        assert info.value.line is not None, str(info.value)
        return
    actual = np.asarray(compiled(src)(**inputs))
    assert actual.dtype == expected.dtype, f"{src}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{src}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_array_equal(actual, expected, err_msg=src)  # nan == nan, -0.0 == 0.0


# ---- nonzero, where(c), flatnonzero, argwhere ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_indices_of_non_zero_elements(dtype, shape):
    x = sample(dtype, shape)
    check("argwhere(x)", np.argwhere, x=x)
    check("np.flatnonzero(x)", np.flatnonzero, x=x)
    for k in range(len(shape)):
        check(f"nonzero(x)[{k}]", lambda a, k=k: np.nonzero(a)[k], x=x)
    check("x.nonzero()[-1]", lambda a: a.nonzero()[-1], x=x)       # NumPy raises for 0-d


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
def test_indexing_with_where_is_the_selection(shape):
    x = sample("float32", shape)
    check("x[where(x > 0)]", lambda a: a[np.where(a > 0)], x=x)
    check("x[np.nonzero(x)] * 2", lambda a: a[np.nonzero(a)] * 2, x=x)
    check("y = x; y[where(x < 1)] = 0; y", lambda a: np.where(a < 1, np.float32(0), a), x=x)


def test_where_of_one_argument_keeps_numpy_idioms():
    x = sample("int32", (9,))
    check("np.where(x > 2)[0]", lambda a: np.where(a > 2)[0], x=x)
    check("x[np.where(x > 2)[0]]", lambda a: a[np.where(a > 2)[0]], x=x)
    check("len(where(x > 2)[0])", lambda a: len(np.where(a > 2)[0]), x=x)
    check("where(x > 2, x, 0)", lambda a: np.where(a > 2, a, 0), x=x)     # three arguments: unchanged
    m = sample("bool", (3, 4))
    y = sample("float64", (3, 4), seed=1)
    check("y[nonzero(m)[0], nonzero(m)[1]]", lambda a, b: b[np.nonzero(a)], m=m, y=y)


def test_indices_of_a_selection_are_data_dependent_too():
    x = sample("float64", (9,))
    check("argwhere(x[x > 0] < 3)", lambda a: np.argwhere(a[a > 0] < 3), x=x)


# ---- isin ----

@pytest.mark.parametrize("dtype", DTYPES)
def test_isin_against_a_list_and_an_array(dtype):
    x = sample(dtype, (3, 4))
    values = sample(dtype, (5,), seed=3)
    check("isin(x, [0, 1, 7])", lambda a: np.isin(a, [0, 1, 7]), x=x)
    check("np.isin(x, v)", np.isin, x=x, v=values)
    check("isin(x, v)", np.isin, x=x, v=values[:0])                  # nothing to find
    check("isin(x[x > 0], [3])", lambda a: np.isin(a[a > 0], [3]), x=x)
    check("isin(x, 2.5)", lambda a: np.isin(a, 2.5), x=x)


def test_isin_compares_in_numpys_common_dtype_and_nan_is_never_found():
    x = np.array([1, 2, -3, 127], np.int8)
    check("isin(x, [1.5, 2, 300])", lambda a: np.isin(a, [1.5, 2, 300]), x=x)
    f = np.array([np.nan, 1.0, -0.0], np.float32)
    check("isin(f, [nan, 0.0])", lambda a: np.isin(a, [np.nan, 0.0]), f=f)


# ---- select ----

@pytest.mark.parametrize("dtype", DTYPES)
def test_select_first_true_wins_with_numpys_dtype(dtype):
    x = sample(dtype, (3, 4))
    y = sample(dtype, (4,), seed=2)
    cases = [
        ("select([x > 0, x < 1], [x, y])", lambda a, b: np.select([a > 0, a < 1], [a, b]), dict(x=x, y=y)),
        ("np.select([x > 0, x == 0], [x, 2], default=-1)",
         lambda a: np.select([a > 0, a == 0], [a, 2], default=-1), dict(x=x)),
        ("select([x > 0], [1.5], 0)", lambda a: np.select([a > 0], [1.5], 0), dict(x=x)),
        ("select([x > 0, x > 1], [1, 2])", lambda a: np.select([a > 0, a > 1], [1, 2]), dict(x=x)),
    ]
    for src, fn, inputs in cases:
        check(src, fn, **inputs)


def test_select_refuses_what_numpy_refuses():
    x = sample("int32", (4,))
    for src in ("select([x], [x])", "select([x > 0], [x, x])", "select([], [])",
                "select([x > 0, x > 1], [uint8(x), 2], -1)"):
        with pytest.raises(MaskDSLError) as info:
            compiled(src)(x=x)
        assert info.value.line == 1, src


# ---- sort and unique ----

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_sort_along_each_axis_nan_last(dtype, shape):
    x = sample(dtype, shape)
    check("sort(x)", np.sort, x=x)
    check("np.sort(x, axis=None)", lambda a: np.sort(a, axis=None), x=x)
    for axis in range(-len(shape), len(shape)):
        check(f"sort(x, {axis})", lambda a, axis=axis: np.sort(a, axis=axis), x=x)
    check("unique(x)", np.unique, x=x)


def test_sort_and_unique_of_selections():
    x = sample("float64", (4, 5))
    check("sort(x[x > 0])", lambda a: np.sort(a[a > 0]), x=x)
    check("unique(x[x < 3])", lambda a: np.unique(a[a < 3]), x=x)
    check("unique(x[x > 100])", lambda a: np.unique(a[a > 100]), x=x)   # empty


def test_unique_collapses_every_nan_into_one_as_numpy_2():
    x = np.array([np.nan, 2.0, np.nan, -np.inf, 2.0, np.nan], np.float32)
    check("unique(x)", np.unique, x=x)
    assert np.isnan(np.asarray(compiled("unique(x)")(x=x))).sum() == 1


def test_sort_method_is_refused_with_a_hint():
    with pytest.raises(MaskDSLError) as info:
        compiled("y = x.sort()")
    assert info.value.column == 7 and "sort(x)" in str(info.value) and "in place" in str(info.value)


# ---- median, quantile, percentile ----

STATISTICS = [
    ("median(x{axis})", lambda a, axis, kd: np.median(a, axis=axis, keepdims=kd)),
    ("quantile(x, 0.3{axis})", lambda a, axis, kd: np.quantile(a, 0.3, axis=axis, keepdims=kd)),
    ("np.quantile(x, [0, 0.25, 0.5, 1.0]{axis})",
     lambda a, axis, kd: np.quantile(a, [0, 0.25, 0.5, 1.0], axis=axis, keepdims=kd)),
    ("percentile(x, 90{axis})", lambda a, axis, kd: np.percentile(a, 90, axis=axis, keepdims=kd)),
    ("percentile(x, [10, 50]{axis})", lambda a, axis, kd: np.percentile(a, [10, 50], axis=axis, keepdims=kd)),
    ("quantile(x, 1{axis})", lambda a, axis, kd: np.quantile(a, 1, axis=axis, keepdims=kd)),
]


def _axes(shape):
    yield None
    yield from range(len(shape))
    if len(shape) >= 2:
        yield (0, len(shape) - 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_order_statistics_over_axes(dtype, shape):
    for form, fn in STATISTICS:
        for axis in _axes(shape):
            for keepdims in (False, True):
                if keepdims and axis not in (None, 0):
                    continue
                suffix = (f", axis={axis}" if axis is not None else "") + (", keepdims=True" if keepdims else "")
                src = form.format(axis=suffix)
                x = sample(dtype, shape)
                check(src, lambda a, axis=axis, kd=keepdims, fn=fn: fn(a, axis, kd), x=x)
                check(src, lambda a, axis=axis, kd=keepdims, fn=fn: fn(a, axis, kd), x=finite_sample(dtype, shape))


def test_median_of_a_selection_and_of_nothing():
    x = finite_sample("float32", (9,))
    check("median(x[x > 0])", lambda a: np.median(a[a > 0]), x=x)
    check("median(x[x > 1000])", lambda a: np.median(a[a > 1000]), x=x)            # nan, as NumPy
    check("percentile(x[x > 0], [25, 75])", lambda a: np.percentile(a[a > 0], [25, 75]), x=x)
    with pytest.raises(MaskDSLError) as info:                                         # NumPy: IndexError
        compiled("q = quantile(x[x > 1000], 0.5)")(x=x)
    assert info.value.column == 5 and "out of bounds" in str(info.value)


@pytest.mark.parametrize("dtype", DTYPES)
def test_statistics_of_a_selection_keep_static_shapes(dtype):
    """median(x[m]) reads x and m where they are (masked_quantile): it runs under XLA and gives
    NumPy's value for every dtype, nan, and an empty or full selection."""
    x = sample(dtype, (3, 4))
    for src, fn in [("median(x[x > 0])", lambda a: np.median(a[a > 0])),
                    ("median(x[x == x])", lambda a: np.median(a[a == a])),
                    ("quantile(x[x != 1], [0.2, 0.9])", lambda a: np.quantile(a[a != 1], [0.2, 0.9])),
                    ("percentile(x[x < 3], 50)", lambda a: np.percentile(a[a < 3], 50)),
                    ("median(x[x > 1000])", lambda a: np.median(a[a > 1000]))]:
        check(src, fn, x=x)
        if dtype != "bool" or src.startswith("median"):
            program = compiled(src, signature={"x": f"{dtype}[3, 4]"}, jit_compile=True)
            ops = {n.op for n in program._current().optimized.nodes()}
            assert "masked_quantile" in ops and "select" not in ops, src
            if "1000" not in src or src.startswith("median"):
                expected = numpy_result(fn, x)
                np.testing.assert_array_equal(np.asarray(program(x=x)), expected, err_msg=f"{src} XLA")


def test_quantile_arguments_are_checked_where_written():
    for src, column in (("quantile(x, 1.5)", 13), ("percentile(x, [50, -1])", 15), ("quantile(x, y)", 13),
                        ("median(x, axis=2)", 1), ("quantile(x > 0, 0.5)", 1)):
        signature = {"x": "float64[4]", "y": "float64[]"} if "y" in src else {"x": "float64[4]"}
        with pytest.raises(MaskDSLError) as info:
            compiled(src, signature=signature)
        assert (info.value.line, info.value.column) == (1, column), (src, str(info.value))


def test_interpolation_keeps_numpys_rounding():
    x = np.array([1e8, 1e8 + 1, -3.0, 16777217.0, 0.1], np.float32)
    for q in ("0.1", "0.7", "[0.33, 0.5, 0.999]"):
        qv = eval(q)  # a literal of this test
        check(f"quantile(x, {q})", lambda a, qv=qv: np.quantile(a, qv), x=x)
    big = np.array([-128, 127, 5], np.int8)                     # NumPy's b - a wraps in int8
    check("quantile(x, 0.4)", lambda a: np.quantile(a, 0.4), x=big)


# ---- tuples of index arrays are not values ----

@pytest.mark.parametrize("src, column, words", [
    ("y = where(x > 0)", 5, "tuple of index arrays"),
    ("nonzero(x)", 1, "tuple of index arrays"),
    ("sum(where(x > 0))", 5, "tuple of index arrays"),
    ("where(x > 0)[x]", 14, "one integer constant"),
    ("x[where(x > 0), 0]", 3, "whole index"),
    ("nonzero(x)[1]", 1, "out of range"),
    ("where(x, 1)", 1, "1 or 3"),
])
def test_tuples_of_index_arrays_say_how_to_use_them(src, column, words):
    with pytest.raises(MaskDSLError) as info:
        compiled(src, signature={"x": "int32[None]"})
    assert (info.value.line, info.value.column) == (1, column), str(info.value)
    assert words in str(info.value)


def test_a_list_of_arrays_is_only_for_select():
    with pytest.raises(MaskDSLError) as info:
        compiled("y = [x, x]")
    assert info.value.column == 6 and "list literals may only hold numbers" in str(info.value)


# ---- data-dependent shapes follow the rules of x[m] ----

@pytest.mark.parametrize("src", ["y = x * 2\nz = argwhere(x)", "y = x * 2\nz = where(x > 0)[0]",
                                 "y = x * 2\nz = unique(x)", "y = x * 2\nz = x[x > 0]"])
def test_data_dependent_shapes_are_refused_under_jit_compile_true_at_the_statement(src):
    with pytest.raises(MaskDSLError) as info:
        compiled(src, jit_compile=True, signature={"x": "float32[5]"})
    assert (info.value.option, info.value.code) == ("jit_compile", "needs-static-shapes")
    assert info.value.line == 2 and "jit_compile=True" in str(info.value)


def test_static_order_statistics_run_under_xla():
    x = finite_sample("float32", (3, 4))
    f = compiled("s = sort(x, 0); m = median(x, axis=1); q = quantile(x, [0.1, 0.9]); k = isin(x, [1.5])",
                 jit_compile=True)
    out = {k: np.asarray(v) for k, v in f(x=x).items()}
    np.testing.assert_array_equal(out["s"], np.sort(x, 0))
    np.testing.assert_array_equal(out["m"], np.median(x, axis=1))
    np.testing.assert_array_equal(out["q"], np.quantile(x, [0.1, 0.9]))
    np.testing.assert_array_equal(out["k"], np.isin(x, [1.5]))


# ---- Python numbers are weak in function calls too (NEP 50) ----

X_INT8 = np.array([1, -2, 3], np.int8)
X_UINT8 = np.array([1, 2, 250], np.uint8)
X_FLOAT32 = np.array([1.5, -2.0, 3.0], np.float32)


@pytest.mark.parametrize("src, fn, inputs", [
    ("np.add(1, 2)", lambda: np.add(1, 2), {}),
    ("np.add(1, 2.5)", lambda: np.add(1, 2.5), {}),
    ("np.multiply(True, 2)", lambda: np.multiply(True, 2), {}),
    ("np.add(x, 1)", lambda x: np.add(x, 1), {"x": X_INT8}),
    ("np.add(x, 1.5)", lambda x: np.add(x, 1.5), {"x": X_INT8}),
    ("np.add(x, 300)", lambda x: np.add(x, 300), {"x": X_INT8}),                  # NumPy: OverflowError
    ("np.float32(1) + 1", lambda: np.float32(1) + 1, {}),
    ("np.float32(1) + 1.5", lambda: np.float32(1) + 1.5, {}),
    ("np.float16(1) + 70000.0", lambda: np.float16(1) + 70000.0, {}),
    ("np.int8(1) + 1", lambda: np.int8(1) + 1, {}),
    ("np.sqrt(4)", lambda: np.sqrt(4), {}),
    ("np.maximum(x, 1)", lambda x: np.maximum(x, 1), {"x": X_INT8}),
    ("np.minimum(x, 2**40)", lambda x: np.minimum(x, 2**40), {"x": X_INT8}),
    ("np.power(x, 2)", lambda x: np.power(x, 2), {"x": X_INT8}),
    ("np.subtract(x, 1)", lambda x: np.subtract(x, 1), {"x": X_UINT8}),
    ("np.where(x > 0, 1, 0)", lambda x: np.where(x > 0, 1, 0), {"x": X_INT8}),
    ("np.where(x > 0, x, 0)", lambda x: np.where(x > 0, x, 0), {"x": X_INT8}),
    ("np.where(x > 0, 1.5, x)", lambda x: np.where(x > 0, 1.5, x), {"x": X_FLOAT32}),
    ("np.clip(x, 0, 2.5)", lambda x: np.clip(x, 0, 2.5), {"x": X_INT8}),
    ("np.true_divide(1, 2)", lambda: np.true_divide(1, 2), {}),
    ("np.floor_divide(7, 2)", lambda: np.floor_divide(7, 2), {}),
    ("np.logical_and(1, 0)", lambda: np.logical_and(1, 0), {}),
    ("np.isin(3, [1, 3])", lambda: np.isin(3, [1, 3]), {}),
    ("np.select([x > 0], [1], 0)", lambda x: np.select([x > 0], [1], 0), {"x": X_INT8}),
    ("np.select([x > 0], [x], 0)", lambda x: np.select([x > 0], [x], 0), {"x": X_INT8}),
    ("np.select([x > 0], [x], 300)", lambda x: np.select([x > 0], [x], 300), {"x": X_INT8}),     # wraps, as np.full
])
def test_literal_arguments_promote_as_in_numpy_2(src, fn, inputs):
    check(src, fn, **inputs)


# ---- gradients: sort and the order statistics pass them to the elements they pick ----

def _gradient(src, x, **constants):
    f = compiled(src, signature={"x": "float64[None]", **{n: f"float64[{len(v)}]" for n, v in constants.items()}})
    import tensorflow as tf  # (after maskdsl has loaded it quietly)
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = f(x=v, **constants)
    return tape.gradient(y, v).numpy()


def _lerp_weights(x, q):
    """d quantile(x, q) / dx for NumPy's linear method: (1 - g) on the element of sorted rank
    floor(q (n - 1)), g on the next one."""
    order = np.argsort(x, kind="stable")
    position = q * (len(x) - 1)
    low = int(np.floor(position))
    g = position - low
    weights = np.zeros_like(x)
    weights[order[low]] += 1 - g
    if g:
        weights[order[low + 1]] += g
    return weights


def test_gradients_of_sort_median_and_quantile():
    x = np.array([3.0, -1.0, 7.5, 0.25, 2.0, -4.0, 9.0])
    ranks = np.argsort(np.argsort(x, kind="stable"), kind="stable")
    w = np.arange(1.0, 8.0)          # sum(sort(x) * w): each element gets the weight of its rank
    np.testing.assert_array_equal(_gradient("sum(sort(x) * w)", x, w=w), w[ranks])
    np.testing.assert_array_equal(_gradient("median(x)", x), _lerp_weights(x, 0.5))
    np.testing.assert_allclose(_gradient("quantile(x, 0.3)", x), _lerp_weights(x, 0.3), rtol=1e-12)
    np.testing.assert_allclose(_gradient("percentile(x, 90)", x), _lerp_weights(x, 0.9), rtol=1e-12)
    even = x[:6]                     # median of an even count: half to each middle element
    np.testing.assert_array_equal(_gradient("median(x)", even), _lerp_weights(even, 0.5))


def test_gradient_of_a_selections_median_reaches_only_the_selected_elements():
    x = np.array([3.0, -1.0, 7.5, 0.25, 2.0, -4.0, 9.0])
    picked = x > 0
    want = np.zeros_like(x)
    want[picked] = _lerp_weights(x[picked], 0.5)
    got = _gradient("median(x[x > 0])", x)
    assert np.all(np.isfinite(got))
    np.testing.assert_array_equal(got, want)
