"""The Python API of design.md section 2: compile, call, outputs, explain, source, evaluate."""

import inspect
import logging
import os
import re
import subprocess
import sys

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
    assert_same(loaded.f(tf.constant([1.0, 2.0])).numpy(), np.array([1.0, 20.0], np.float32))


def test_jit_compile_auto_and_forced():
    small = maskdsl.compile("x[x > 0] *= 2", signature={"x": "float32[16]"})
    assert small.jit is False  # too small to repay XLA's compile time
    forced = maskdsl.compile("x[x > 0] *= 2", signature={"x": "float32[16]"}, jit_compile=True)
    assert forced.jit is True
    x = np.linspace(-1, 1, 16).astype(np.float32)
    assert_same(forced(x=x).numpy(), np.where(x > 0, x * 2, x))
    with pytest.raises(maskdsl.MaskDSLError, match="static shapes"):
        maskdsl.compile("y = x[x > 0]", signature={"x": "float32[16]"}, jit_compile=True)


def test_jit_compile_auto_is_tiered_and_keeps_the_bits():
    f = maskdsl.compile("x[x > 0] *= 2", signature={"x": "float32[None]"})
    assert f.jit is False and "tiered: the plain graph first" in f.explain()  # tests/test_tiers.py: the switch
    # a float sum: XLA adds in another order, so it never runs one (docs/performance.md)
    assert "float sum" in maskdsl.compile("sum(x[x > 0])", signature={"x": "float32[None]"}).explain()


def test_bad_options():
    with pytest.raises(maskdsl.MaskDSLError, match="strategy"):
        maskdsl.compile("x", strategy="fastest")
    with pytest.raises(maskdsl.MaskDSLError, match="jit_compile"):
        maskdsl.compile("x", jit_compile="yes")


# ---- the first hour of a new user (issue 18) ----

FIRST_USE = "import numpy as np, maskdsl; print(maskdsl.evaluate('x[x > 1] *= 2; x', x=np.arange(3)).numpy())"


@pytest.mark.slow
@pytest.mark.parametrize("level", [None, "3"])
def test_first_use_prints_nothing_on_stderr(level):
    """TensorFlow's start-up log (absl's pre-init line, oneDNN, CUDA probing) stays hidden,
    also when the user set TF_CPP_MIN_LOG_LEVEL=3, which TensorFlow applies too late for it."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    done = subprocess.run([sys.executable, "-c", FIRST_USE], env=env, capture_output=True, text=True, timeout=600)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[0 1 4]\n", "")


def test_quiet_start_hides_only_tensorflows_start_up_log(capfd, monkeypatch):
    from maskdsl.tf.quiet import BANNER, quiet_start

    def chatter():
        os.write(2, f"{BANNER}\nI0000 00:00:1796170443.254261    4221 cudart_stub.cc:31] Could not find cuda drivers\n"
                    f"E0000 00:00:1796170448.167493    4221 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n"
                    f"a line of someone else's\n".encode())

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    with quiet_start():
        chatter()
    assert capfd.readouterr().err == "a line of someone else's\n"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user asked for TensorFlow's log: nothing is hidden
    with quiet_start():
        chatter()
    assert "Could not find cuda drivers" in capfd.readouterr().err
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    with pytest.raises(ImportError), quiet_start():  # loading failed: the whole log may say why
        chatter()
        raise ImportError("no TensorFlow")
    assert "Could not find cuda drivers" in capfd.readouterr().err


def tensorflow_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tensorflow" and r.levelno >= logging.WARNING]


def test_many_shapes_without_a_signature_do_not_warn_of_retracing(caplog):
    """Each shape is its own specialisation with its own tf.function, traced once: TensorFlow
    must not take them for one function retraced "in a loop"."""
    f = maskdsl.compile("x[x > 2] *= 3; x")
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for n in range(1, 7):
            assert_same(f(x=np.arange(n)).numpy(), np.where(np.arange(n) > 2, np.arange(n) * 3, np.arange(n)))
            maskdsl.evaluate("y = x * 3 + 1", x=np.arange(n, dtype=np.float32))
    assert len(f._specs) == 6
    assert not [m for m in tensorflow_warnings(caplog) if "retracing" in m]


def test_no_autograph_warning_inside_a_users_tf_function(caplog):
    f = maskdsl.compile("x[x > 2 & ~(x < 0)] *= 3; x")  # specialised inside the user's function

    @tf.function
    def user(t):
        return f(x=t) + 1

    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        assert_same(user(tf.constant([1.0, 5.0])).numpy(), np.array([2.0, 16.0], np.float32))
    assert not [m for m in tensorflow_warnings(caplog) if "AutoGraph" in m]


def test_tf_function_takes_the_input_names_and_returns_what_the_program_returns():
    f = maskdsl.compile("x[x > limit] = limit; x", signature={"x": "float32[None]", "limit": "float32"})
    assert list(inspect.signature(f.tf_function.python_function).parameters) == ["x", "limit"]
    by_name = f.tf_function(x=tf.constant([1.0, 5.0]), limit=tf.constant(2.0))
    by_position = f.tf_function(tf.constant([1.0, 5.0]), tf.constant(2.0))
    for out in (by_name, by_position):  # one output: a tensor, as f(...) returns
        assert_same(out.numpy(), np.array([1.0, 2.0], np.float32))
    rows = tf.data.Dataset.from_tensor_slices(np.array([[1.0, 7.0], [9.0, 2.0]], np.float32))
    mapped = rows.map(lambda row: f.tf_function(x=row, limit=tf.constant(3.0)))
    assert_same(np.stack([r.numpy() for r in mapped]), np.array([[1.0, 3.0], [3.0, 2.0]], np.float32))
    # ds.map(f.tf_function) itself, on (x, limit) pairs
    pairs = tf.data.Dataset.from_tensor_slices((np.array([[1.0, 7.0]], np.float32), np.array([3.0], np.float32)))
    assert_same(next(iter(pairs.map(f.tf_function))).numpy(), np.array([1.0, 3.0], np.float32))
    # names Python cannot take as parameters get a trailing _; several outputs: a dict
    g = maskdsl.compile("y = self + class; z = y * 2; y; z", outputs=["y", "z"],
                        signature={"self": "int64[2]", "class": "int64"})
    out = g.tf_function(self_=tf.constant([1, 2], tf.int64), class_=tf.constant(10, tf.int64))
    assert sorted(out) == ["y", "z"]
    assert_same(out["y"].numpy(), np.array([11, 12]))
    assert_same(out["z"].numpy(), np.array([22, 24]))


NUMPY_INDEXING = [
    ("y = x[i]", {"x": np.arange(3), "i": 7}, "y = x[i]"),
    ("y = x[i]", {"x": np.arange(3), "i": -4}, "y = x[i]"),
    ("y = x[idx]", {"x": np.arange(3), "idx": np.array([0, 5, 9])}, "y = x[idx]"),
    ("y = x[:, i]", {"x": np.zeros((2, 3)), "i": 3}, "y = x[:, i]"),
    ("y = x[None, :, i]", {"x": np.zeros((2, 3)), "i": -5}, "y = x[None, :, i]"),
    ("y = x[m, i]", {"x": np.zeros((2, 3)), "m": np.array([True, False]), "i": 3}, "y = x[m, i]"),
    ("x[i] = 5", {"x": np.arange(3), "i": 3}, "x[i] = 5"),
    ("x[idx] *= 2", {"x": np.arange(3), "idx": np.array([1, -7])}, "x[idx] *= 2"),
]


@pytest.mark.parametrize("src, inputs, numpy_src", NUMPY_INDEXING)
def test_run_time_index_errors_say_which_index_and_the_axis_size(src, inputs, numpy_src):
    """The message is NumPy's, as the compile-time check words it (index, axis and size)."""
    with pytest.raises(IndexError) as numpy_error:
        exec(numpy_src, {}, {k: np.array(v) for k, v in inputs.items()})
    with pytest.raises(maskdsl.IndexOutOfRangeError) as info:
        maskdsl.evaluate(src, **inputs)
    assert info.value.message == str(numpy_error.value)
    assert info.value.span is not None and "^" in str(info.value)


def test_explain_displays_as_text_and_its_reason_agrees_with_its_costs():
    f = maskdsl.compile("x[x > 4] *= 2", signature={"x": "float32[None]"})
    text = f.explain()
    assert isinstance(text, str) and repr(text) == str(text)  # an interactive prompt shows the text
    costs = {what: float(cost) for what, cost in re.findall(r"estimated cost (.+): (\S+)", text)}
    crossover = costs.pop("crossover selectivity")
    where = costs.pop("where")
    assert f"cheaper only below {crossover:.2g} of the elements selected" in text
    for what, cost in costs.items():
        selectivity = float(what.rsplit(" ", 1)[1])
        assert (cost < where) == (selectivity < crossover), what
    constant = maskdsl.compile("x[x > 4] = 0", signature={"x": "float32[None]"}).explain()
    costs = {what: float(cost) for what, cost in re.findall(r"estimated cost (.+): (\S+)", constant)}
    assert costs["crossover selectivity"] == 0 and "cheaper at any selectivity" in constant
    assert all(cost >= costs["where"] for what, cost in costs.items() if what.startswith("scatter"))


def test_every_api_entry_has_a_description():
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "tools"))
    try:
        import gen_api_docs
    finally:
        sys.path.pop(0)
    gen_api_docs.api_markdown()
    assert gen_api_docs.UNDOCUMENTED == []


@pytest.mark.parametrize("spec, expected", [
    ("float32[-1]", ("float32", (None,))),
    ("float32[?, 3]", ("float32", (None, 3))),
    (tf.TensorSpec([None, 3], tf.int32), ("int32", (None, 3))),
    (tf.TensorSpec([], tf.float64), ("float64", ())),
    (np.float32, ("float32", ())),            # a bare dtype is a scalar, as the string "float32" is
    (np.dtype("int16"), ("int16", ())),
    (tf.uint8, ("uint8", ())),
])
def test_signature_values(spec, expected):
    f = maskdsl.compile("y = x * 2", signature={"x": spec})
    assert (f.signature["x"].dtype, f.signature["x"].shape) == expected


@pytest.mark.parametrize("spec, says", [
    ("float32[:]", "bad dimension ':' in type spec 'float32[:]': use a non-negative integer (ASCII digits 0-9), or None "
                   "(also written -1 or ?) for a dimension of any size"),
    ("float32[-2]", "bad dimension '-2'"),
    (tf.TensorSpec(None, tf.float32), "has unknown rank"),
    (np.complex64, "maskdsl does not support dtype complex64"),
    (float, "expected a type spec such as 'float32[None, 3]', a tf.TensorSpec or a NumPy or TensorFlow dtype"),
])
def test_bad_signature_values(spec, says):
    with pytest.raises(maskdsl.InputError) as info:
        maskdsl.compile("y = x * 2", signature={"x": spec})
    assert says in info.value.message and info.value.name == "x" and info.value.option == "signature"
