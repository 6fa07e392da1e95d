"""`x[m] = values`, one value per selected element, in its dense form: `spread` (each selected
element gathers the value at its rank among the selected ones), which has static shapes and so
runs under XLA. Checked against NumPy for every dtype, the broadcasts NumPy allows, empty
selections, and the values-vs-selection error on every path."""

import numpy as np
import pytest
import tensorflow as tf

import maskdsl
from conftest import assert_same

RNG = np.random.default_rng(6)
PATHS = [{"strategy": "where", "jit_compile": False}, {"strategy": "where", "jit_compile": True},
         {"strategy": "auto", "jit_compile": "auto"}, {"strategy": "scatter", "jit_compile": False}]
_FUNCTIONS: dict = {}


def _compiled(source, signature, **options):
    key = (source, tuple(sorted(signature.items())), tuple(sorted(options.items())))
    if key not in _FUNCTIONS:
        _FUNCTIONS[key] = maskdsl.compile(source, signature=signature, **options)
    return _FUNCTIONS[key]


def _numpy(x, m, v):
    y = x.copy()
    y[m] = v
    return y


def _values(dtype, n):
    if dtype == "bool":
        return RNG.random(n) < 0.5
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else np.finfo(dtype)
    v = RNG.integers(-100, 100, n).astype(dtype) if np.dtype(dtype).kind in "iu" else \
        (RNG.standard_normal(n) * 100).astype(dtype)
    v[:2] = [info.max, info.min] if n >= 2 else v[:2]
    return v


@pytest.mark.parametrize("options", PATHS, ids=lambda o: f"{o['strategy']}-jit{o['jit_compile']}")
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int32", "int64", "float16", "float32", "float64"])
def test_values_land_on_the_selected_elements_in_order(dtype, options):
    f = _compiled("x[m] = v", {"x": f"{dtype}[None]", "m": "bool[None]", "v": f"{dtype}[None]"}, **options)
    for n, selected in ((40, 0.5), (40, 0.0), (40, 1.0), (0, 0.0), (1, 1.0)):
        x, m = _values(dtype, n), RNG.random(n) < selected
        if selected == 1.0:
            m[:] = True
        v = _values(dtype, int(m.sum()))
        assert_same(f(x=x, m=m, v=v).numpy(), _numpy(x, m, v), label=f"{dtype} n={n} k={m.sum()}")


CASES = [  # (x, m, v): the broadcasts NumPy's x[m] = v allows
    (np.arange(12.0).reshape(4, 3), np.array([True, False, True, True]), np.arange(9.0).reshape(3, 3) + 100),
    (np.arange(12.0).reshape(4, 3), np.array([True, False, True, True]), np.array([7.0, 8.0, 9.0])),
    (np.arange(12.0).reshape(4, 3), np.array([True, False, True, True]), np.array([[1.0], [2.0], [3.0]])),
    (np.arange(12.0).reshape(4, 3), np.array([True, False, True, True]), np.array([[5.0]])),
    (np.arange(6.0), np.array([True, False, True, True, False, True]), np.array([4.0])),
    (np.arange(12.0).reshape(3, 4), np.arange(12).reshape(3, 4) % 5 == 0, np.array([-1.0, -2.0, -3.0])),
]


@pytest.mark.parametrize("options", PATHS[:3], ids=lambda o: f"{o['strategy']}-jit{o['jit_compile']}")
@pytest.mark.parametrize("x, m, v", CASES)
def test_values_broadcast_as_numpy_broadcasts_them(x, m, v, options):
    signature = {"x": f"float64{list(x.shape)}", "m": f"bool{list(m.shape)}", "v": f"float64{list(v.shape)}"}
    f = maskdsl.compile("x[m] = v", signature=signature, **options)
    assert_same(f(x=x, m=m, v=v).numpy(), _numpy(x, m, v))


def test_a_mask_over_every_dim_takes_a_flat_list_of_values():
    x, m, v = np.arange(6.0), np.arange(6) % 2 == 0, np.array([[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="0 or 1-dimensional input"):
        _numpy(x, m, v)
    with pytest.raises(maskdsl.ShapeError, match="0 or 1-dimensional input, input has 2 dimensions"):
        maskdsl.compile("x[m] = v")(x=x, m=m, v=v)


@pytest.mark.parametrize("options", PATHS[:2], ids=lambda o: f"{o['strategy']}-jit{o['jit_compile']}")
@pytest.mark.parametrize("count", [0, 2, 4])
def test_values_that_do_not_fit_are_a_located_shape_error(options, count):
    f = _compiled("x[m] = v", {"x": "float32[None]", "m": "bool[None]", "v": "float32[None]"}, **options)
    x, m = np.arange(5, dtype=np.float32), np.array([True, False, True, True, False])
    with pytest.raises(ValueError):  # NumPy's own refusal
        _numpy(x, m, np.ones(count, np.float32))
    with pytest.raises(maskdsl.ShapeError, match="do not match the number of selected elements") as caught:
        f(x=x, m=m, v=np.ones(count, np.float32))
    assert (caught.value.line, caught.value.column) == (1, 8)


def test_auto_measures_the_fraction_and_xla_takes_the_dense_form():
    f = maskdsl.compile("x[m] = v", signature={"x": "float32[None]", "m": "bool[None]", "v": "float32[None]"})
    explained = f.explain()
    assert "adaptive" in explained and "spread(" in explained
    assert "rt.spread" in f._current().xla_generated.source
    assert "tf.cond" not in f._current().xla_generated.source.split("rt.spread")[0]
    forced = maskdsl.compile("x[m] = v", signature={"x": "float32[8]", "m": "bool[8]", "v": "float32[None]"},
                             strategy="where")
    assert "running count" in forced.explain()


def test_gradients_flow_to_the_values_and_to_the_unselected_elements():
    f = maskdsl.compile("x[m] = v * 3", signature={"x": "float32[5]", "m": "bool[5]", "v": "float32[3]"},
                        strategy="where")
    x, v = tf.constant(np.arange(5, dtype=np.float32)), tf.constant(np.float32([1, 2, 3]))
    m = tf.constant([True, False, True, False, True])
    weights = tf.constant(np.float32([1, 10, 100, 1000, 10000]))
    with tf.GradientTape() as tape:
        tape.watch([x, v])
        loss = tf.reduce_sum(f(x=x, m=m, v=v) * weights)
    dx, dv = tape.gradient(loss, [x, v])
    assert_same(tf.convert_to_tensor(dx).numpy(), np.float32([0, 10, 0, 1000, 0]))
    assert_same(tf.convert_to_tensor(dv).numpy(), np.float32([3, 300, 30000]))
