"""Statistics (issue 14): the nan-reductions, std/var, argmax/argmin, cumsum/cumprod, nan_to_num and
isclose, run by maskdsl and by NumPy on the same arrays and compared on dtype, shape and value.

Exact: integer and boolean results, nanmin/nanmax (up to the sign of a zero), argmax/argmin,
nan_to_num and isclose. Sums, means, products and moments of floats are compared within
STAT_RTOL of the result's dtype relative to |NumPy's value| + the scale of the inputs (the sum
of their magnitudes, or its square for var): NumPy adds pairwise, TensorFlow in its own
order (docs/language.md, "Statistics"). Where NumPy raises, maskdsl raises a MaskDSLError.

Each program is compiled once (conftest.compiled) and called on every dtype and shape, so a
case costs a trace, not a compile.
"""

import warnings

import numpy as np
import pytest

from conftest import compiled
from maskdsl import MaskDSLError

DTYPES = ("bool", "int8", "int32", "int64", "uint8", "uint64", "float16", "float32", "float64")
FLOATS = ("float16", "float32", "float64")
SHAPES = ((), (5,), (3, 4), (2, 3, 2))
STAT_RTOL = {"float16": 1e-2, "float32": 1e-5, "float64": 1e-12}

REDUCTIONS = ("nansum", "nanprod", "nanmean", "nanmin", "nanmax", "std", "var", "nanstd", "nanvar", "argmax",
              "argmin")
EXACT = ("nanmin", "nanmax", "argmax", "argmin")          # no rounding: bit for bit but the sign of zero
SQUARED = ("var", "nanvar")                              # the error grows with the square of the inputs
FAILS_ON_EMPTY = ("nanmin", "nanmax", "argmax", "argmin")  # NumPy's ValueError for nothing to reduce
METHODS = ("std", "var", "argmax", "argmin")


def sample(dtype, shape, nan=True, seed=0):
    """Small arrays with repeated values (ties for argmax), nan (an all-nan last row when 2-d),
    signed zeros; integers at their limits. Magnitudes stay small so that products stay finite."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if dtype == "bool":
        return (rng.random(size) < 0.5).reshape(shape)
    if dtype.startswith("float"):
        values = rng.choice(np.array([0.5, 1.5, -2.0, 0.0, -0.0, 1.25, -0.75, 2.0, 1.5]), size)
        if nan:
            values[rng.random(size) < 0.25] = np.nan
        values = values.reshape(shape)
        if nan and len(shape) >= 2:
            values[-1] = np.nan
        return values.astype(dtype)
    info = np.iinfo(dtype)
    values = rng.choice(np.array([0, 1, 3, 7, 3, 2], dtype), size)
    if size > 2:
        values[1], values[2] = info.max, info.min
    return values.reshape(shape)


def numpy_value(fn, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


def numpy_call(kind, select=None, **kwargs):
    """NumPy's function `kind` of x (of x[select]) with these keywords."""
    fn = getattr(np, kind)
    return lambda x: fn(x if select is None else x[select], **kwargs)


def scale(kind, *inputs):
    """The magnitude a rounding error of `kind` over these inputs is relative to."""
    total = 0.0
    for x in inputs:
        x = np.asarray(x)
        if x.dtype.kind in "iuf":  # integers too: their means and moments are float sums
            v = np.abs(x.astype(np.float64))
            total += float(np.sum(v[np.isfinite(v)]))
    return total * total if kind in SQUARED else total


def assert_matches(got, want, kind, label, inputs=()):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{label}: dtype {got.dtype}, NumPy {want.dtype}"
    assert got.shape == want.shape, f"{label}: shape {got.shape}, NumPy {want.shape}"
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=label)
        return
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    if kind not in EXACT and kind not in ("nan_to_num", "isclose"):
        rtol = STAT_RTOL[want.dtype.name]
        with np.errstate(all="ignore"):
            near = np.abs(got.astype(np.float64) - want) <= rtol * (np.abs(want.astype(np.float64))
                                                                      + scale(kind, *inputs))
        same |= near & np.isfinite(got) & np.isfinite(want)
    assert np.all(same), f"{label}: {got!r}, NumPy {want!r}"


def check(src, fn, kind, **inputs):
    """maskdsl's src on the inputs against NumPy's fn (a MaskDSLError where NumPy raises)."""
    try:
        want = numpy_value(fn, *inputs.values())
    except (ValueError, TypeError) as e:
        f = compiled(src)
        with pytest.raises(MaskDSLError):
            f(**{k: v for k, v in inputs.items() if k in f.inputs})
        return e
    f = compiled(src)
    inputs = {k: v for k, v in inputs.items() if k in f.inputs}
    assert_matches(f(**inputs), want, kind, f"{src} on {_described(inputs)}", inputs.values())
    return None


def axes_of(rank):
    """Axis arguments to try at this rank (None, the first and the last, negative included)."""
    return [None] + ([0, -1] if rank else []) + ([1] if rank > 2 else [])


# ---- the reductions over dtypes, shapes and axes ----

def check_outputs(src, fns, kind, **inputs):
    """A program of several outputs (one compile, one trace per input type) against NumPy's fns."""
    got = compiled(src)(**inputs)
    for name, fn in fns.items():
        want = numpy_value(fn, *inputs.values())
        assert_matches(got[name], want, kind, f"{src} [{name}] on {_described(inputs)}", inputs.values())


def _described(inputs):
    return ", ".join(f"{k}: {np.asarray(v).dtype}{np.shape(v)}" for k, v in inputs.items())


@pytest.mark.parametrize("kind", REDUCTIONS)
def test_reduction_matches_numpy_on_every_dtype_shape_and_axis(kind):
    fn = getattr(np, kind)
    src = (f"a = {kind}(x); b = {kind}(x, axis=0); c = {kind}(x, axis=-1, keepdims=True); "
           f"d = {kind}(x, keepdims=True); e = x.{kind}(-1)" if kind in METHODS else
           f"a = {kind}(x); b = {kind}(x, axis=0); c = {kind}(x, axis=-1, keepdims=True); d = {kind}(x, keepdims=True)")
    fns = {"a": fn, "b": lambda x: fn(x, axis=0), "c": lambda x: fn(x, axis=-1, keepdims=True),
           "d": lambda x: fn(x, keepdims=True), "e": lambda x: fn(x, -1)}
    if kind not in METHODS:
        del fns["e"]
    for shape in ((5,), (3, 4), (2, 3, 2)):
        for dtype in DTYPES if shape == (3, 4) else ("bool", "float32"):
            check_outputs(src, fns, kind, x=sample(dtype, shape))
    for dtype in ("int8", "float32"):
        check(f"{kind}(x, axis=1)", lambda x: fn(x, axis=1), kind, x=sample(dtype, (2, 3, 2)))
        check(f"{kind}(x)", fn, kind, x=sample(dtype, ()))


@pytest.mark.parametrize("kind", ("std", "var", "nanstd", "nanvar"))
def test_ddof_as_numpy_including_ddof_at_or_beyond_the_count(kind):
    for ddof in (1, 2.5, 4, -1):
        src = f"{kind}(x, axis=-1, ddof={ddof})"
        for dtype in ("int32", "float32", "float64"):
            for nan in (True, False):  # nanvar: a float slice of ddof >= n numbers is nan, var's is inf
                check(src, numpy_call(kind, axis=-1, ddof=ddof), kind, x=sample(dtype, (3, 4), nan=nan, seed=3))


def test_methods_are_the_functions():
    x = sample("float64", (3, 4), nan=False)
    for src, fn in [("x.std()", lambda x: x.std()), ("x.var(ddof=1)", lambda x: x.var(ddof=1)),
                    ("x.std(axis=0, keepdims=True)", lambda x: x.std(axis=0, keepdims=True)),
                    ("x.argmax()", lambda x: x.argmax()), ("x.argmin(axis=1)", lambda x: x.argmin(axis=1)),
                    ("x.cumsum()", lambda x: x.cumsum()), ("x.cumprod(axis=0)", lambda x: x.cumprod(axis=0)),
                    ("x[x > 0].std()", lambda x: x[x > 0].std()), ("np.nanmean(x, 0)", lambda x: np.nanmean(x, 0)),
                    ("numpy.nanstd(x)", lambda x: np.nanstd(x))]:
        check(src, fn, src.split("(")[0].split(".")[-1], x=x)


def test_dtype_keyword_accumulates_as_numpy():
    cases = [("nansum", "int8", "int16"), ("nansum", "int32", "float32"), ("nanprod", "float64", "int64"),
             ("nanmean", "float32", "int32"), ("std", "float32", "int8"), ("var", "float64", "float32"),
             ("nanvar", "float32", "float64"), ("nanstd", "float64", "float16")]
    for kind, dtype, source in cases:
        x = sample(source, (3, 4))
        check(f"{kind}(x, axis=0, dtype={dtype})", numpy_call(kind, axis=0, dtype=np.dtype(dtype)), kind, x=x)


def test_an_integer_dtype_for_a_mean_or_a_moment_is_refused_where_it_is_written():
    import maskdsl
    for src in ("std(x, dtype=int64)", "nanmean(x, dtype=int32)", "x.var(dtype=bool)"):
        with pytest.raises(MaskDSLError, match="float dtype") as info:
            maskdsl.compile(src, signature={"x": "float32[3]"})
        assert info.value.span is not None and src[info.value.span.start:info.value.span.end] in (
            "int64", "int32", "bool")


# ---- NaN and infinities ----

def test_all_nan_slices_give_numpys_value():
    x = np.array([[np.nan, np.nan, np.nan], [1.0, np.nan, 2.0]], np.float32)
    for kind in ("nansum", "nanprod", "nanmean", "nanmin", "nanmax", "nanstd", "nanvar", "argmax", "argmin"):
        check(f"{kind}(x, axis=1)", numpy_call(kind, axis=1), kind, x=x)
        check(f"{kind}(x[0])", numpy_call(kind, select=0), kind, x=x)
    # spot values, so that the expectation is not only NumPy's word
    assert np.isnan(compiled("nanmin(x, axis=1)")(x=x)[0]) and compiled("nansum(x, axis=1)")(x=x)[0] == 0


def test_infinities_and_signed_zeros():
    x = np.array([[np.inf, -np.inf, np.nan, 1.0], [-0.0, 0.0, -np.inf, np.nan], [np.inf, np.nan, np.inf, 2.0]])
    for kind in REDUCTIONS:
        fn = getattr(np, kind)
        check_outputs(f"a = {kind}(x); b = {kind}(x, axis=0); c = {kind}(x, axis=1)",
                      {"a": fn, "b": numpy_call(kind, axis=0), "c": numpy_call(kind, axis=1)}, kind, x=x)


def test_argmax_and_argmin_take_the_first_occurrence_and_the_first_nan():
    x = np.array([[1.0, 3.0, 3.0, np.nan, np.nan], [2.0, -1.0, 2.0, -1.0, 0.0]], np.float64)
    for kind in ("argmax", "argmin"):
        for axis in (None, 0, 1):
            check(f"{kind}(x, axis={axis})", numpy_call(kind, axis=axis), kind, x=x)
    assert compiled("argmax(x, axis=1)")(x=x).numpy().tolist() == [3, 0]     # first nan; first of the ties
    assert compiled("argmin(x, axis=1)")(x=x).numpy().tolist() == [3, 1]


# ---- selections: the static-shape (masked) formulation against NumPy and against boolean_mask ----

@pytest.mark.parametrize("strategy", ("auto", "boolean_mask"))
@pytest.mark.parametrize("kind", REDUCTIONS)
def test_reductions_of_selections(kind, strategy):
    """x[m] over every element and x[r] (a mask of rows) over its first axis, as NumPy gives them
    with the masked formulation (auto) and with the selection made (boolean_mask)."""
    fn = getattr(np, kind)
    f = compiled(f"a = {kind}(x[m]); b = {kind}(x[r], axis=0); c = x[r].{kind}(0, keepdims=True)"
                 if kind in METHODS else f"a = {kind}(x[m]); b = {kind}(x[r], axis=0)", strategy=strategy)
    m, r = sample("bool", (4, 3), seed=2), np.array([True, False, True, True])
    for dtype in ("bool", "int32", "uint8", "float16", "float64") if strategy == "auto" else ("int32", "float64"):
        x = sample(dtype, (4, 3), seed=1)
        got = f(x=x, m=m, r=r)
        for name, want, selected in (("a", numpy_value(fn, x[m]), x[m]), ("b", numpy_value(fn, x[r], 0), x[r]),
                                     ("c", numpy_value(lambda v: fn(v, 0, keepdims=True), x[r]), x[r])):
            if name in got:
                assert_matches(got[name], want, kind, f"{kind} [{name}] ({strategy}) on {dtype}", (selected,))


def test_selections_keep_the_static_shape_formulation():
    import maskdsl
    for src in ("nanmean(x[m])", "std(x[x > 0])", "var(x[m], ddof=1)", "argmax(x[m])", "nanmin(x[r], axis=0)",
                "nanvar(x[r], axis=0)", "nansum(x[m])", "argmin(x[r], axis=0, keepdims=True)"):
        reads = [name for name in ("m", "r") if f"[{name}]" in src]
        f = maskdsl.compile(src, signature={"x": "float32[None, 3]", **{n: {"m": "bool[None, 3]", "r": "bool[None]"}[n]
                                                                          for n in reads}})
        assert "boolean_mask" not in f.source, src
        assert "masked_reduce(" in f.explain() and "a count on the whole array" in f.explain(), src


def test_an_empty_selection_is_numpys_value_or_numpys_error():
    x = sample("float32", (4, 3))
    nothing, no_rows = np.zeros((4, 3), bool), np.zeros(4, bool)
    for kind in REDUCTIONS:
        for src, call, kwargs in ((f"{kind}(x[m])", numpy_call(kind, select=nothing), {"m": nothing}),
                                  (f"{kind}(x[r], axis=0)", numpy_call(kind, axis=0, select=no_rows), {"r": no_rows})):
            try:
                want = numpy_value(call, x)
            except ValueError:
                assert kind in FAILS_ON_EMPTY
                with pytest.raises(MaskDSLError):
                    compiled(src)(x=x, **kwargs)
                continue
            assert_matches(compiled(src)(x=x, **kwargs), want, kind, src)


@pytest.mark.parametrize("kind", REDUCTIONS)
def test_empty_arrays(kind):
    """Static shapes fail at compile time, unknown ones at run time, where NumPy raises."""
    import maskdsl
    for shape, axis in (((0,), None), ((0, 3), 0), ((0, 3), 1), ((3, 0), 1), ((3, 0), 0)):
        x = np.zeros(shape, np.float32)
        src = f"{kind}(x, axis={axis})"
        error = check(src, numpy_call(kind, axis=axis), kind, x=x)
        reduced = shape if axis is None else shape[axis:axis + 1]
        assert (error is not None) == (kind in FAILS_ON_EMPTY and 0 in reduced)
        if error is not None:
            with pytest.raises(MaskDSLError, match="empty|zero-size"):
                maskdsl.compile(src, signature={"x": f"float32[{', '.join(map(str, shape))}]"})


def test_zero_dimensional_axes_are_numpys():
    for kind in REDUCTIONS:
        for dtype in ("int32", "float64"):
            check(f"{kind}(x, axis=0)", numpy_call(kind, axis=0), kind, x=np.asarray(2, dtype))


def test_argmax_takes_one_axis():
    import maskdsl
    with pytest.raises(MaskDSLError, match="one axis") as info:
        maskdsl.compile("argmax(x, axis=(0, 1))", signature={"x": "float32[2, 2]"})
    assert info.value.column == 16


# ---- cumsum and cumprod ----

@pytest.mark.parametrize("kind", ("cumsum", "cumprod"))
def test_cumulative_matches_numpy(kind):
    fn = getattr(np, kind)
    fns = {"a": fn, "b": lambda x: fn(x, axis=0), "c": lambda x: fn(x, axis=-1), "d": lambda x: fn(x, -1)}
    src = f"a = {kind}(x); b = {kind}(x, axis=0); c = {kind}(x, axis=-1); d = x.{kind}(-1)"
    for shape in ((3, 4), (5,), (2, 3, 2), (0,), (2, 0)):
        for dtype in DTYPES if shape == (3, 4) else ("bool", "int8", "float32"):
            check_outputs(src, fns, kind, x=sample(dtype, shape, nan=shape != (3, 4)))
    for dtype in ("int8", "float64"):
        check(f"{kind}(x)", fn, kind, x=sample(dtype, ()))
        check(f"{kind}(x, axis=-1)", lambda x: fn(x, axis=-1), kind, x=sample(dtype, ()))
        check(f"{kind}(x, axis=1)", lambda x: fn(x, axis=1), kind, x=sample(dtype, (2, 3, 2)))


def test_cumulative_dtype_and_selection():
    x = sample("int8", (3, 4))
    check("cumsum(x, axis=1, dtype=int8)", lambda x: np.cumsum(x, axis=1, dtype=np.int8), "cumsum", x=x)
    check("cumprod(x, dtype=float32)", lambda x: np.cumprod(x, dtype=np.float32), "cumprod", x=x)
    check("x[x > 1].cumsum()", lambda x: x[x > 1].cumsum(), "cumsum", x=x)
    check("cumsum(x, axis=2)", lambda x: np.cumsum(x, axis=2), "cumsum", x=x)   # NumPy's AxisError


# ---- nan_to_num and isclose ----

def test_nan_to_num_matches_numpy():
    for dtype in DTYPES:
        x = sample(dtype, (9,))
        if dtype.startswith("float"):
            x[:3] = [np.inf, -np.inf, np.nan]
        for src, fn in [("nan_to_num(x)", np.nan_to_num),
                        ("np.nan_to_num(x, nan=-1.5, posinf=9, neginf=-9)",
                         lambda x: np.nan_to_num(x, nan=-1.5, posinf=9, neginf=-9)),
                        ("nan_to_num(x, nan=1e10)", lambda x: np.nan_to_num(x, nan=1e10)),   # inf in float16
                        ("nan_to_num(x, posinf=-1)", lambda x: np.nan_to_num(x, posinf=-1))]:
            check(src, fn, "nan_to_num", x=x)


def test_isclose_matches_numpy():
    cases = [("isclose(a, b)", lambda a, b: np.isclose(a, b)),
             ("np.isclose(a, b, rtol=0.1)", lambda a, b: np.isclose(a, b, rtol=0.1)),
             ("isclose(a, b, atol=0.5, equal_nan=True)", lambda a, b: np.isclose(a, b, atol=0.5, equal_nan=True)),
             ("isclose(a, b, 0.0, 0.0)", lambda a, b: np.isclose(a, b, 0.0, 0.0)),
             ("isclose(a, 1.5)", lambda a, b: np.isclose(a, 1.5)),
             ("isclose(2, b)", lambda a, b: np.isclose(2, b)),
             ("isclose(a, b, rtol=b)", lambda a, b: np.isclose(a, b, rtol=b))]
    for dtype_a, dtype_b in (("float32", "float32"), ("float16", "float64"), ("int8", "float16"),
                             ("float64", "int32"), ("bool", "uint8"), ("uint64", "int64"), ("float16", "bool")):
        a = sample(dtype_a, (9,), seed=3)
        b = sample(dtype_b, (9,), seed=4)
        if dtype_a.startswith("float"):
            a[:4] = [np.inf, np.nan, 1.5000001, -np.inf]
        if dtype_b.startswith("float"):
            b[:4] = [np.inf, np.nan, 1.5, np.inf]
        for src, fn in cases:
            check(src, fn, "isclose", a=a, b=b)


def test_isclose_is_asymmetric():
    a, b = np.array([10.0, 0.0]), np.array([10.9, 0.0])
    got = compiled("isclose(a, b, rtol=0.09, atol=0)")
    assert got(a=a, b=b).numpy().tolist() == [True, True] and got(a=b, b=a).numpy().tolist() == [False, True]


# ---- gradients ----

def _gradient(src, x):
    import tensorflow as tf
    f = compiled(src)
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(f(x=v))
    return tape.gradient(y, v).numpy()


def test_gradients_flow_and_stay_finite_around_nan_and_masks():
    x = np.array([1.0, np.nan, 3.0, -2.0, 0.5, np.nan], np.float64)
    numbers = ~np.isnan(x)
    n = numbers.sum()
    mean = np.nanmean(x)
    values = np.where(numbers, x, 0.0)
    cases = {
        "nansum(x)": numbers.astype(float),
        "nanmean(x)": numbers / n,
        "nanvar(x)": np.where(numbers, 2 * (values - mean) / n, 0.0),
        "nanvar(x, ddof=1)": np.where(numbers, 2 * (values - mean) / (n - 1), 0.0),
        "nanstd(x)": np.where(numbers, (values - mean) / (n * np.nanstd(x)), 0.0),
        "nanmax(x)": (x == np.nanmax(x)).astype(float),
        "nan_to_num(x)": numbers.astype(float),
    }
    for src, want in cases.items():
        got = _gradient(src, x)
        assert np.all(np.isfinite(got)), (src, got)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=src)
    y = np.array([1.0, -1.0, 3.0, 0.5, 2.0])
    selected = y > 0
    k, sel = selected.sum(), y[selected]
    for src, want in {"std(x[x > 0])": np.where(selected, (y - sel.mean()) / (k * sel.std()), 0.0),
                      "var(x[x > 0], ddof=1)": np.where(selected, 2 * (y - sel.mean()) / (k - 1), 0.0),
                      "cumsum(x)": np.arange(len(y), 0, -1).astype(float),
                      "cumprod(x)[-1]": np.prod(y) / y}.items():
        np.testing.assert_allclose(_gradient(src, y), want, rtol=1e-12, err_msg=src)


# ---- XLA ----

@pytest.mark.slow
def test_under_jit_compile():
    import maskdsl
    x = sample("float32", (4, 3))
    m = x > 0
    for src, fn in [("argmax(x[m])", lambda x, m: np.argmax(x[m])),
                    ("nanstd(x, axis=0)", lambda x, m: np.nanstd(x, 0)),
                    ("nanmean(x[m])", lambda x, m: np.nanmean(x[m])),
                    ("cumsum(x, axis=1)", lambda x, m: np.cumsum(x, 1)),
                    ("argmin(x, axis=1)", lambda x, m: np.argmin(x, 1))]:
        uses_m = "m]" in src
        f = maskdsl.compile(src, signature={"x": "float32[4, 3]", **({"m": "bool[4, 3]"} if uses_m else {})},
                            jit_compile=True)
        got = f(x=x, m=m) if uses_m else f(x=x)
        assert_matches(got, numpy_value(fn, x, m), src.split("(")[0], src, (x,))
