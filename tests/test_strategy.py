"""Strategy selection: the cost model's choices, the run-time (adaptive) choice, and
that every formulation gives NumPy's answer."""

import numpy as np
import pytest
import tensorflow as tf

import maskdsl
from conftest import assert_same, compiled
from maskdsl.ir.ops import UPDATES
from maskdsl.passes import cost

EXPENSIVE = "x[x > t] = log1p(exp(sin(x[x > t]) * cos(x[x > t]))) ** 2"
SIG = {"x": "float32[None]", "t": "float32"}


def numpy_expensive(x, t):
    x = x.copy()
    m = x > t
    x[m] = np.log1p(np.exp(np.sin(x[m]) * np.cos(x[m]))) ** 2
    return x


def strategy_of(f):
    """The strategies of the program's updates (update, dense_update or adaptive_update after the passes)."""
    return [n.attr("strategy") for n in f._current().optimized.nodes() if n.op in UPDATES]


def test_expensive_update_with_unknown_selectivity_branches_at_run_time():
    f = compiled(EXPENSIVE, signature=SIG)
    assert strategy_of(f) == ["adaptive"]
    assert "tf.cond(" in f.source and "tf.tensor_scatter_nd_update" in f.source and "tf.where(" in f.source
    text = f.explain()
    assert "crossover selectivity" in text and "scatter at selectivity 0.01" in text
    x = np.linspace(-3, 3, 2001).astype(np.float32)
    for t in (2.99, 2.5, 0.0, -2.9):  # from a handful of elements selected to nearly all
        assert_same(f(x=x, t=np.float32(t)).numpy(), numpy_expensive(x, np.float32(t)), rtol=1e-5)


def test_a_cheap_risky_value_stays_dense_and_keeps_xla():
    """sqrt(abs(.)) once earned a run-time branch (the model forgot the scatter's copy of x);
    its sparse branch was 4-8x slower at every selectivity and cost the program XLA."""
    big = f"float32[{int(cost.model()['jit_min_elements'])}]"
    f = maskdsl.compile("y = x * 2 + 1; y[m] = sqrt(abs(y[m])); y[y > 10] = 10",
                        signature={"x": big, "m": big.replace("float32", "bool")})
    assert strategy_of(f) == ["where", "where"] and f.static_shapes  # XLA can compile it
    assert cost.sparse_update_cost(1, 1.0, 0.0) == cost.weight("index") + cost.weight("cheap")


def test_adaptive_gradient_is_finite_and_matches_dense():
    f = compiled(EXPENSIVE, signature=SIG)
    dense = compiled(EXPENSIVE, signature=SIG, strategy="where")
    x = tf.Variable(np.linspace(-1, 1, 11).astype(np.float32))
    grads = []
    for g in (f, dense):
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(g(x=x, t=np.float32(0.8)))
        grads.append(tape.gradient(y, x).numpy())
    assert np.all(np.isfinite(grads[0]))
    assert_same(grads[0], grads[1], rtol=1e-5)


F64 = {"x": "float64[40000]", "t": "float64"}


def test_the_dense_branch_of_float64_math_stays_plain_and_both_branches_agree_bit_for_bit():
    """XLA's float64 exp, log1p and tanh differ from TensorFlow's in the last bit (about half of
    random values for the program below, measured), so a dense branch under XLA would make an
    element's bits depend on how many others the mask selects. Both branches run the plain graph."""
    src = "x[x > t] = log1p(exp(sin(x[x > t]) * cos(x[x > t]))) * 100"
    f = compiled(src, signature={"x": "float64[40000]", "t": "float64"})
    dense = compiled(src, signature={"x": "float64[40000]", "t": "float64"}, strategy="where")
    assert strategy_of(f) == ["adaptive"] and "jit_compile=True" not in f.source
    x = np.linspace(-3, 3, 40000)
    for t in (2.99, -2.9):  # the sparse branch, then the dense one
        got, want = f(x=x, t=t).numpy(), dense(x=x, t=t).numpy()
        np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))
        m = x > t
        expected = x.copy()
        expected[m] = np.log1p(np.exp(np.sin(x[m]) * np.cos(x[m]))) * 100
        assert_same(got, expected, rtol=1e-12)


@pytest.mark.parametrize("signature, jit", [
    (SIG, "auto"),                                       # unknown size: XLA would compile per shape
    ({"x": "float32[40000]", "t": "float32"}, "auto"),  # float32 math: TensorFlow's kernels are faster
    (F64, False),                                        # the caller turned XLA off
    (F64, "auto"),                                       # XLA's float64 math has other bits
])
def test_dense_branch_stays_plain_otherwise(signature, jit):
    f = compiled(EXPENSIVE, signature=signature, jit_compile=jit)
    assert strategy_of(f) == ["adaptive"] and "jit_compile=True" not in f.source


@pytest.mark.parametrize("shape", [(0,), (10,), (16384,), (1000, 1000), (3_000_001,)])
def test_run_time_fraction_is_exact_for_small_masks_and_close_for_large(shape):
    from maskdsl.tf import runtime as rt
    rng = np.random.default_rng(sum(shape))
    for p in (0.001, 0.12, 0.5, 1.0):
        m = rng.random(shape) < p
        estimate = float(rt.true_fraction(tf.constant(m)))
        exact = m.mean() if m.size else 0.0
        if m.size <= rt.SAMPLE:
            assert estimate == pytest.approx(exact, abs=1e-6)
        else:  # >= 16,384 samples: standard error < 0.004
            assert abs(estimate - exact) < 0.02, (p, estimate, exact)


def test_cheap_update_stays_dense():
    f = compiled("x[x > t] *= 2", signature=SIG)
    assert strategy_of(f) == ["where"]
    assert "tf.cond" not in f.source


def test_xla_never_branches():
    f = compiled(EXPENSIVE, signature={"x": "float32[64]", "t": "float32"}, jit_compile=True)
    assert strategy_of(f) == ["where"] and f.jit
    x = np.linspace(-3, 3, 64).astype(np.float32)
    assert_same(f(x=x, t=np.float32(1.0)).numpy(), numpy_expensive(x, np.float32(1.0)), rtol=1e-5)


def test_small_static_arrays_skip_the_branch():
    f = compiled(EXPENSIVE, signature={"x": "float32[16]", "t": "float32"})
    assert strategy_of(f) == ["where"]


def test_constant_sparse_mask_chooses_scatter():
    mask = [True] + [False] * 999
    src = f"x[{mask}] = exp(sin(x[{mask}]))"
    f = maskdsl.compile(src, signature={"x": "float32[1000]"})
    assert strategy_of(f) == ["scatter"]
    x = np.linspace(0, 1, 1000).astype(np.float32)
    expected = x.copy()
    expected[0] = np.exp(np.sin(expected[0]))
    assert_same(f(x=x).numpy(), expected, rtol=1e-6)


def test_crossover_follows_the_weights(monkeypatch):
    base = cost.model()
    cheap_scatter = dict(base, weights=dict(base["weights"], scatter=0.1, gather=0.1, dynamic=0.1, index=0.1))
    monkeypatch.setattr(cost, "model", lambda: cheap_scatter)
    assert cost.crossover_selectivity(5.0) > 0.9
    dear_scatter = dict(base, weights=dict(base["weights"], scatter=1000.0))
    monkeypatch.setattr(cost, "model", lambda: dear_scatter)
    assert cost.crossover_selectivity(5.0) < 0.01


NEGATIVE_POWERS = [  # (source, inputs): NumPy computes the power on the selected elements only
    ("x[x > 100] **= -2", {"x": np.array([[-9], [1]], np.int32)}),
    ("x[x > 100] **= e", {"x": np.array([[-9], [1]], np.int32), "e": np.int32(-1)}),
    ("x[-2:3:1, :-1:2] **= -2", {"x": np.array([[-9], [1]], np.int32)}),
    ("y = x; y[0:1] **= w[0:1]", {"x": np.array([-9, 1], np.int32), "w": np.array([1, -1], np.int32)}),
    ("x[x < 0] **= w[x < 0]", {"x": np.array([-9, 1, -2], np.int32), "w": np.array([2, -1, 3], np.int32)}),
]


def _numpy_run(source, inputs):
    scope = {k: np.copy(v) for k, v in inputs.items()}
    for statement in source.split("; "):
        exec(statement.replace("y = x", "y = x.copy()"), {}, scope)  # noqa: S102 - the test's own literals
    return scope["y" if "y" in scope else "x"]


@pytest.mark.parametrize("strategy", ["auto", "where", "scatter"])
@pytest.mark.parametrize("source, inputs", NEGATIVE_POWERS)
def test_a_negative_integer_power_is_checked_on_the_selected_elements_only(source, inputs, strategy):
    """A dense update computes on every element: an integer power's exponent is masked (a
    scalar one too), and a slice's update, whose elements cannot be masked, is computed on
    the selection. An empty selection raises nothing, as in NumPy."""
    want = _numpy_run(source, inputs)
    assert_same(compiled(source, strategy=strategy)(**inputs).numpy(), want)
