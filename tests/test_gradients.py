"""Gradients through compiled programs equal those of the hand-written TensorFlow,
and a dense masked update does not leak nan/inf gradients from masked-out elements."""

import numpy as np
import pytest
import tensorflow as tf

import maskdsl
from conftest import assert_same

X = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 3.0], np.float32)


def grad(fn, x):
    x = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(fn(x))
    return tape.gradient(y, x).numpy()


CASES = [
    ("x[x > 0] = log(x[x > 0])", lambda x: tf.where(x > 0, tf.math.log(tf.where(x > 0, x, 1.0)), x)),
    ("x[x > 0] = sqrt(x[x > 0])", lambda x: tf.where(x > 0, tf.sqrt(tf.where(x > 0, x, 1.0)), x)),
    ("x[x != 0] = 1 / x[x != 0]", lambda x: tf.where(x != 0, 1 / tf.where(x != 0, x, 1.0), x)),
    ("x[x > 0.7] *= 3", lambda x: tf.where(x > 0.7, x * 3, x)),
    ("x[x < 0] = 0", lambda x: tf.where(x < 0, tf.zeros_like(x), x)),
    ("y = sum(x[x > 0] ** 2)", lambda x: tf.reduce_sum(tf.where(x > 0, x, 0.0) ** 2)),
    ("y = mean(x[x > 0])", lambda x: tf.reduce_sum(tf.where(x > 0, x, 0.0)) / 3.0),
    ("y = x[x > 0] * 2", lambda x: tf.boolean_mask(x, x > 0) * 2),
    ("x[[0, 2]] = x[[0, 2]] * 5", lambda x: tf.tensor_scatter_nd_update(x, [[0], [2]], tf.gather(x, [0, 2]) * 5)),
]


@pytest.mark.parametrize("src, hand", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("strategy", ["auto", "scatter"])
def test_gradient_matches_hand_written(src, hand, strategy):
    f = maskdsl.compile(src, signature={"x": "float32[6]"}, strategy=strategy)
    ours = grad(lambda x: f(x=x), X)
    assert np.all(np.isfinite(ours)), ours
    assert_same(ours, grad(hand, X), rtol=1e-6)


def test_naive_single_where_would_leak_nan():
    # The reason for the double where: the single-where formulation's gradient is nan at x == 0.
    naive = grad(lambda x: tf.where(x > 0, tf.math.log(x), x), X)
    assert np.isnan(naive).any()


def test_row_mask_guards_the_unselected_rows_too():
    f = maskdsl.compile("m = x[:, 0] > 0; x[m] = log(x[m]); x", signature={"x": "float32[None, 2]"})
    x = tf.Variable([[1.0, 0.5], [-1.0, 2.0], [0.0, 3.0]])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(f(x=x))
    g = tape.gradient(y, x).numpy()
    np.testing.assert_array_equal(g, [[1.0, 2.0], [1.0, 1.0], [1.0, 1.0]])  # d log(v) = 1/v; identity elsewhere


# ---- the float guard is free in the forward pass: masked-out elements may overflow or leave the
# domain (their results are discarded), and rt.grad_guard keeps the nan of 0 * inf out of gradients

W = np.array([-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 2.0, 100.0, 1000.0], np.float32)

# program, NumPy value of its selected elements, NumPy derivative there (d/dx, hand-derived);
# every mask leaves out elements whose value is inf or nan
OVERFLOW_CASES = [
    ("x[x < 50] = exp(x[x < 50])", lambda x: x < 50, np.exp, np.exp),                       # exp(1000) = inf
    ("x[x > 0] = log(x[x > 0])", lambda x: x > 0, np.log, lambda x: 1 / x),                 # log(-3) = nan
    ("m = x > 0 & x < 50; x[m] = x[m] ** x[m]", lambda x: (x > 0) & (x < 50), lambda x: x ** x,  # (-1) ** -1
     lambda x: x ** x * (np.log(x) + 1)),
    ("x[x < 50] = log1p(exp(x[x < 50]) * 2)", lambda x: x < 50, lambda x: np.log1p(np.exp(x) * 2),
     lambda x: 2 * np.exp(x) / (1 + 2 * np.exp(x))),
]


def _expected(x, mask, fn, derivative):
    value, slope = x.copy(), np.ones_like(x)
    with np.errstate(all="ignore"):
        value[mask(x)] = fn(x[mask(x)])
        slope[mask(x)] = derivative(x[mask(x)])
    return value, slope


@pytest.mark.parametrize("src, mask, fn, derivative", OVERFLOW_CASES, ids=[c[0] for c in OVERFLOW_CASES])
@pytest.mark.parametrize("strategy, jit", [("where", False), ("auto", False), ("where", True)])
def test_masked_out_overflow_keeps_values_and_gradients(src, mask, fn, derivative, strategy, jit):
    f = maskdsl.compile(src + "; x", signature={"x": "float32[None]"}, strategy=strategy, jit_compile=jit)
    if strategy == "where":
        assert "rt.grad_guard" in f.source and "tf.where(t1, x_0, tf.constant(1" not in f.source
    value, slope = _expected(W, mask, fn, derivative)
    assert_same(f(x=W).numpy(), value, rtol=2e-6)
    ours = grad(lambda x: f(x=x), W)
    assert np.all(np.isfinite(ours)), ours
    np.testing.assert_allclose(ours, slope, rtol=2e-6)


def test_grad_guard_gradients_survive_a_saved_model(tmp_path):
    f = maskdsl.compile("x[x < 50] = exp(x[x < 50]); x", signature={"x": "float32[None]"}, strategy="where")
    module = tf.Module()
    module.f = f.tf_function
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    value, slope = _expected(W, lambda x: x < 50, np.exp, np.exp)
    assert_same(loaded.f(tf.constant(W)).numpy(), value)
    ours = grad(lambda x: loaded.f(x), W)
    assert np.all(np.isfinite(ours)), ours
    np.testing.assert_allclose(ours, slope, rtol=2e-6)


def test_a_scalar_input_of_a_risky_op_keeps_the_double_where():
    # grad_guard zeroes gradients element by element; a scalar exponent's gradient is a sum over
    # all elements, masked-out ones included, so the base is masked by where(m, v, 1) instead
    f = maskdsl.compile("x[x > 0] = x[x > 0] ** p; x", signature={"x": "float32[None]", "p": "float32"},
                        strategy="where")
    assert "rt.grad_guard" not in f.source
    x, p = tf.constant(W), tf.Variable(np.float32(1.5))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(f(x=x, p=p))
    sel = W[W > 0].astype(np.float64)
    np.testing.assert_allclose(tape.gradient(y, p).numpy(), np.sum(sel ** 1.5 * np.log(sel)), rtol=1e-5)


def test_integer_pow_checks_only_the_selected_exponents():
    # integer ** has a run-time check (a negative exponent is an error): the masked-out negative
    # exponents must never reach it, so integer inputs keep where(m, v, 1)
    x = np.array([-3, -1, 0, 2, 5], np.int32)
    f = maskdsl.compile("x[x >= 0] = 2 ** x[x >= 0]; x", signature={"x": "int32[None]"}, strategy="where")
    assert "rt.grad_guard" not in f.source
    want = x.copy()
    want[x >= 0] = 2 ** x[x >= 0]
    assert_same(f(x=x).numpy(), want)


def test_a_scalar_weight_downstream_of_a_risky_op_gets_a_finite_gradient():
    # w * log1p(x): the gradient to w is the sum of log1p(x) over the elements the update keeps;
    # log1p(x) at masked-out elements (-inf, nan) must not reach it
    f = maskdsl.compile("x[x > 0] = w * log1p(x[x > 0]); x", signature={"x": "float32[None]", "w": "float32"})
    x, w = tf.Variable(W), tf.Variable(np.float32(2.5))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(f(x=x, w=w))
    dx, dw = tape.gradient(y, [x, w])
    sel = W > 0
    np.testing.assert_allclose(dw.numpy(), np.sum(np.log1p(W[sel].astype(np.float64))), rtol=1e-6)
    np.testing.assert_allclose(dx.numpy(), np.where(sel, 2.5 / (1 + np.where(sel, W, 0)), 1), rtol=2e-6)


def test_every_array_the_value_reads_is_guarded():
    # y[m] * log(x[m]) on static shapes reads y on the whole array too: y's gradient at the
    # masked-out elements is 0, not 0 * log(negative) = nan
    src = "x[x > 0] = y[x > 0] * log(x[x > 0]); x"
    f = maskdsl.compile(src, signature={"x": "float32[9]", "y": "float32[9]"}, strategy="where")
    assert f.source.count("rt.grad_guard") == 2
    y_np = np.linspace(0.5, 4.5, 9).astype(np.float32)
    x, y = tf.Variable(W), tf.Variable(y_np)
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(f(x=x, y=y))
    dx, dy = tape.gradient(out, [x, y])
    sel = W > 0
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(dy.numpy(), np.where(sel, np.log(W), 0), rtol=2e-6)
        np.testing.assert_allclose(dx.numpy(), np.where(sel, y_np / W, 1), rtol=2e-6)
