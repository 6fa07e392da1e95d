"""The Python API of design.md section 2: compile, call, outputs, explain, source, evaluate."""

import numpy as np
import pytest
import tensorflow as tf

import maskdsl
from conftest import assert_same, compiled


def test_positional_keyword_list_scalar_and_tensor_inputs():
    f = compiled("y = x * k")
    x = np.arange(4, dtype=np.int32)
    assert f.inputs == ("x", "k") and f.outputs == ("y",)
    for args, kwargs in [((x, 3), {}), ((), {"x": x, "k": 3}), ((x,), {"k": np.int32(3)})]:
        assert_same(f(*args, **kwargs).numpy(), x * np.asarray(args[1] if len(args) > 1 else kwargs["k"]))
    assert_same(f(x=[1, 2], k=2).numpy(), np.array([2, 4]))
    assert_same(f(x=tf.constant([1.5, 2.0]), k=tf.constant(2.0)).numpy(), np.array([3.0, 4.0], np.float32))


def test_one_output_is_a_tensor_several_are_a_dict():
    one = compiled("x[x > 1] = 0")(x=np.array([1, 2, 3]))
    assert isinstance(one, tf.Tensor)
    several = compiled("y = x + 1; z = x * 2; _hidden = x")(x=np.array([1, 2]))
    assert set(several) == {"y", "z"}
    assert_same(several["z"].numpy(), np.array([2, 4]))


def test_outputs_argument_selects_names():
    f = maskdsl.compile("y = x + 1; z = y * 2", outputs=["z", "x"])
    out = f(x=np.array([1, 2]))
    assert f.outputs == ("z", "x")
    assert_same(out["z"].numpy(), np.array([4, 6]))
    assert_same(out["x"].numpy(), np.array([1, 2]))


def test_last_expression_statement_is_the_result():
    f = compiled("y = x * 2\ny[y > 2] = 0\ny + 1")
    assert f.outputs == ("result",)
    assert_same(f(x=np.array([1, 2, 3])).numpy(), np.array([3, 1, 1]))


def test_signature_types_compile_time_and_unknown_dims_do_not_retrace():
    f = maskdsl.compile("x[x > limit] = limit", signature={"x": "float32[None]", "limit": "float32"})
    assert "tf.where" in f.source
    a = f(x=np.array([1.0, 5.0], np.float32), limit=np.float32(2))
    b = f(x=np.array([1.0, 5.0, 7.0], np.float32), limit=np.float32(6))
    assert_same(a.numpy(), np.array([1.0, 2.0], np.float32))
    assert_same(b.numpy(), np.array([1.0, 5.0, 6.0], np.float32))
    assert f.tf_function.experimental_get_tracing_count() == 1


def test_signature_errors():
    with pytest.raises(maskdsl.UnknownNameError) as info:
        maskdsl.compile("y = x + z", signature={"x": "int32[3]"})
    assert "'z'" in str(info.value) and "^" in str(info.value)
    with pytest.raises(maskdsl.UnknownNameError):
        maskdsl.compile("y = x + 1", signature={"x": "int32[3]", "w": "int32"})
    with pytest.raises(maskdsl.InputError):
        maskdsl.compile("y = x + 1", signature={"x": "int33[3]"})
    with pytest.raises(maskdsl.ShapeError) as info:
        maskdsl.compile("y = x[m]", signature={"x": "int32[3]", "m": "bool[4]"})
    assert "boolean index did not match" in str(info.value)


def test_call_errors_name_the_input():
    f = compiled("y = x + k")
    with pytest.raises(maskdsl.InputError, match="missing input 'k'"):
        f(x=np.arange(3))
    with pytest.raises(maskdsl.InputError, match="unexpected input 'w'"):
        f(x=1, k=2, w=3)
    with pytest.raises(maskdsl.InputError, match="must be an array"):
        f(x="text", k=1)
    with pytest.raises(maskdsl.InputError, match="unsupported dtype"):
        f(x=np.array([1 + 2j]), k=1)
    g = maskdsl.compile("y = x * 2", signature={"x": "int32[None]"})
    with pytest.raises(maskdsl.InputError, match="shape"):
        g(x=np.zeros((2, 2), np.int32))
    with pytest.raises(maskdsl.InputError, match="dtype"):
        g(x=np.zeros(2, np.float32))


def test_evaluate_is_cached_and_correct():
    src = "x[x > 4 & x % 2 == 0] *= 2; x"
    x = np.arange(10)
    expected = x.copy()
    expected[(x > 4) & (x % 2 == 0)] *= 2
    assert_same(maskdsl.evaluate(src, x=x).numpy(), expected)
    from maskdsl.compiler import _CACHE
    program = _CACHE[src]
    maskdsl.evaluate(src, x=x)
    assert _CACHE[src] is program and len(program._specs) == 1


def test_explain_shows_ir_strategies_costs_and_source():
    f = maskdsl.compile("x[x > 4 & x % 2 == 0] *= 2", signature={"x": "int32[None]"})
    text = f.explain()
    for part in ("IR before optimisation", "select(x0", "IR after optimisation", "strategy=where",
                 "estimated cost where", "estimated cost scatter", "def program(x_0):", "tf.where("):
        assert part in text, part
    assert f.source.rstrip() in text


def test_source_is_what_runs():
    f = maskdsl.compile("y = x[x > 0] * 2", signature={"x": "float32[None]"})
    namespace = {"tf": tf, "rt": __import__("maskdsl.tf.runtime", fromlist=["x"])}
    exec(f.source, namespace)  # the shown source, run by hand, gives the same answer
    x = np.array([-1.0, 2.0, 3.0], np.float32)
    assert_same(namespace["program"](tf.constant(x))["y"].numpy(), f(x=x).numpy())


def test_source_before_any_call_without_signature_is_a_clear_error():
    with pytest.raises(maskdsl.MaskDSLError, match="signature"):
        maskdsl.compile("y = x + 1").source  # noqa: B018 (the property raises)


def test_works_inside_tf_data_map():
    f = maskdsl.compile("x[x < 0] = 0; x", signature={"x": "float32[None]"})
    ds = tf.data.Dataset.from_tensor_slices(np.array([[-1.0, 2.0], [3.0, -4.0]], np.float32))
    rows = [r.numpy() for r in ds.map(lambda row: f(x=row))]
    assert_same(np.stack(rows), np.array([[0.0, 2.0], [3.0, 0.0]], np.float32))


def test_saved_model_round_trip(tmp_path):
    f = maskdsl.compile("x[x > 1] *= 10; x", signature={"x": "float32[None]"})
    module = tf.Module()
    module.f = f.tf_function
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    assert_same(loaded.f(tf.constant([1.0, 2.0]))["result"].numpy(), np.array([1.0, 20.0], np.float32))


def test_jit_compile_auto_and_forced():
    small = maskdsl.compile("x[x > 0] *= 2", signature={"x": "float32[16]"})
    assert small.jit is False  # too small to repay XLA's compile time
    forced = maskdsl.compile("x[x > 0] *= 2", signature={"x": "float32[16]"}, jit_compile=True)
    assert forced.jit is True
    x = np.linspace(-1, 1, 16).astype(np.float32)
    assert_same(forced(x=x).numpy(), np.where(x > 0, x * 2, x))
    with pytest.raises(maskdsl.MaskDSLError, match="static shapes"):
        maskdsl.compile("y = x[x > 0]", signature={"x": "float32[16]"}, jit_compile=True)


def test_jit_compile_auto_follows_the_size_of_what_the_program_writes():
    from maskdsl.passes import cost
    big = f"float32[{int(cost.model()['jit_min_elements'])}]"
    assert maskdsl.compile("x[x > 0] *= 2", signature={"x": big}).jit is True
    # the same large input, reduced to a scalar: chunked reductions beat XLA's (measured)
    assert maskdsl.compile("sum(x[x > 0])", signature={"x": big}).jit is False


def test_bad_options():
    with pytest.raises(maskdsl.MaskDSLError, match="strategy"):
        maskdsl.compile("x", strategy="fastest")
    with pytest.raises(maskdsl.MaskDSLError, match="jit_compile"):
        maskdsl.compile("x", jit_compile="yes")
