"""XLA with unknown dimensions, tiered compilation for jit_compile="auto", and the rule that
keeps XLA away from programs whose bits it would change (maskdsl/tiers.py)."""

import numpy as np
import pytest

import maskdsl
from conftest import assert_same, compiled
from maskdsl import tiers
from maskdsl.passes import cost

RNG = np.random.default_rng(15)


def _floats(n, dtype):
    """Random floats of every magnitude, with the values where paths disagree most often."""
    x = (RNG.standard_normal(n) * 10.0 ** RNG.integers(-3, 4, n)).astype(dtype)
    specials = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.5, -2.5, 4.0, 6.0,
                         np.finfo(dtype).max, np.finfo(dtype).tiny], dtype)
    x[:len(specials)] = specials
    return x


def _bits(a):
    a = np.asarray(a).reshape(-1)
    return a.view(np.uint8) if a.dtype.kind == "f" else a


# ---- jit_compile=True with None dimensions ----

def test_jit_true_takes_unknown_dimensions():
    f = compiled("y = x * 2", signature={"x": "int64[None]"}, jit_compile=True)
    assert f.jit is True and f.static_shapes
    for n in (3, 17):  # XLA compiles each concrete shape
        x = RNG.integers(-100, 100, n)
        assert_same(f(x=x).numpy(), x * 2)


def test_jit_true_with_unknown_dimensions_in_several_inputs():
    f = compiled("z = x + w; z[z > 4 & z % 2 == 0] *= 2; z[z < 0] = 0; mean(z)",
                 signature={"x": "float32[None, 3]", "w": "float32[3]"}, jit_compile=True)
    x, w = np.arange(-6, 12, dtype=np.float32).reshape(6, 3), np.float32([1, -40, 3])
    z = x + w
    z[(z > 4) & (z % 2 == 0)] *= 2
    z[z < 0] = 0
    assert f.jit
    assert_same(f(x=x, w=w).numpy(), np.mean(z), rtol=1e-6)


def test_jit_true_takes_a_length_computed_from_shapes():
    f = compiled("y = arange(len(x)) * x", signature={"x": "int64[None]"}, jit_compile=True)
    x = RNG.integers(-9, 9, 7)
    assert_same(f(x=x).numpy(), np.arange(7) * x)


def test_jit_true_refusal_names_the_statement():
    source = "y = x + 1\nz = y[y > 0] * 2"
    with pytest.raises(maskdsl.MaskDSLError) as info:
        maskdsl.compile(source, signature={"x": "float32[None]"}, jit_compile=True)
    err = info.value
    assert (err.option, err.code, err.span.line, err.span.column) == ("jit_compile", "needs-static-shapes", 2, 5)
    assert "but `y[y > 0]` makes an array" in err.message and "^^^^^^^^" in str(err)


def test_jit_true_refuses_an_arange_of_a_value():
    with pytest.raises(maskdsl.MaskDSLError, match="`arange"):
        maskdsl.compile("y = arange(n)", signature={"n": "int64"}, jit_compile=True)


# ---- "auto": tiered ----

@pytest.fixture
def instant_compile(monkeypatch):
    """Tiers that switch a shape to XLA on its second call and never settle (no timing involved)."""
    model = dict(cost.model(), tiers={"xla_compile_s": 0.0, "xla_gain": 0.25, "probe_calls": 10 ** 6})
    monkeypatch.setattr(cost, "model", lambda: model)


@pytest.mark.parametrize("signature", [{"x": "float32[None]"}, {"x": "float32[40]"}, None])
def test_auto_switches_a_shape_to_xla_with_or_without_a_signature(instant_compile, signature):
    f = maskdsl.compile("x[x > 4 & x % 2 == 0] *= 2", signature=signature)
    x = _floats(40, np.float32)
    with np.errstate(all="ignore"):
        expected = np.where((x > 4) & (x % 2 == 0), x * 2, x)
    forms = []
    for _ in range(3):
        got = f(x=x).numpy()
        forms.append(f.jit)
        np.testing.assert_array_equal(_bits(got), _bits(expected))
    assert forms == [False, True, True]
    assert "((40,),): probing, XLA against the plain graph" in f.explain()


def test_auto_counts_each_shape_on_its_own(instant_compile):
    f = maskdsl.compile("x[x > 0] *= 2", signature={"x": "int32[None]"})
    small, large = np.arange(-3, 5, dtype=np.int32), np.arange(-50, 50, dtype=np.int32)
    f(x=small)
    f(x=large)
    assert f.jit is False    # first call of this shape
    f(x=small)
    assert f.jit is True     # second call of the first shape
    assert_same(f(x=large).numpy(), np.where(large > 0, large * 2, large))


def test_auto_keeps_the_plain_graph_until_calls_repay_the_compile():
    f = maskdsl.compile("x[x > 0] *= 2", signature={"x": "float32[None]"})
    x = np.float32([1, -1, 2])
    for _ in range(5):  # microseconds per call: far from repaying a quarter of a second
        f(x=x)
    assert f.jit is False and "XLA would have saved" in f.explain()


def test_auto_settles_on_the_faster_form():
    t = tiers.Tiers({"xla_compile_s": 0.0, "xla_gain": 1.0, "probe_calls": 3})
    t.record("k", "plain", 1.0)  # traces: not timed
    forms = []
    for _ in range(8):
        form = t.choose("k")
        forms.append(form)
        t.record("k", form, {"plain": 0.001, "xla": 0.005}[form] if len(forms) > 1 else 1.0)
    assert forms == ["xla", "xla", "plain", "xla", "plain", "xla", "plain", "plain"]
    assert t.settled("k") and t.choose("k") == "plain" and "plain (median 1 ms plain, 5 ms XLA)" in t.describe()[0]


@pytest.mark.parametrize("source, signature, why", [
    ("y = a * b + c", {"a": "float32[None]", "b": "float32[None]", "c": "float32[None]"}, "fused multiply-add"),
    ("y = x - (-(x * 3))", {"x": "float64[8]"}, "fused multiply-add"),
    ("y = x * 2 + 3e31", {"x": "float32[None]"}, "fused multiply-add"),  # above half float32's top ulp
    ("y = x * 0.5 + 1", {"x": "float32[None]"}, "fused multiply-add"),
    ("y = sin(x)", {"x": "float32[None]"}, "sin in floating point"),
    ("y = exp(x)", {"x": "float64[None]"}, "exp in floating point"),
    ("sum(x)", {"x": "float32[None]"}, "float sum"),
    ("y = x * 2", {"x": "float16[None]"}, "float16"),
    ("y = x ** y", {"x": "int32[None]", "y": "int32[None]"}, "integer pow"),
    ("y = x[x > 0]", {"x": "int32[None]"}, "depends on the data"),
    ("y = x / (x / 3)", {"x": "float32[None]"}, "division of or by"),
])
def test_auto_never_uses_xla_where_it_changes_bits_or_cannot_compile(source, signature, why):
    f = maskdsl.compile(source, signature=signature)
    assert f._current().tiers is None
    assert why in f.explain().split("== XLA ==")[1]


# ---- the rule: what auto sends to XLA gives the plain graph's bits ----

EXACT_PROGRAMS = [
    ("x[x > 4 & x % 2 == 0] *= 2", ("x",)),
    ("x[m] *= 2", ("x", "m")),
    ("x[100:5000] = 0; x[-3] = t", ("x", "t")),
    ("x[x < t] *= 2", ("x", "t")),
    ("y = x * 3; y[y > 2] = -y[y > 2]; y[isnan(y)] = 0", ("x",)),
    ("y = (x - t) / (t + 1); y[y < 0] = floor(y[y < 0]); y // 3", ("x", "t")),
    ("y = abs(x) - ceil(x) + trunc(x); y[m] = x[m] / 7", ("x", "m")),
    ("count(x[m]) + count(x > 1)", ("x", "m")),
    ("y = x % t; y[not m] = 0.5", ("x", "t", "m")),
    ("y = float32(x > 3) ; y - x", ("x",)),
    ("y = sqrt(abs(x)); y[m] = -y[m]", ("x", "m")),
    ("y = x * 2 + 1; y[m] = 0.5 - 4 * y[m]", ("x", "m")),
    ("max(x[m])", ("x", "m")),
    ("y = x; y[m] = min(x) - max(x[m])", ("x", "m")),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("source, names", EXACT_PROGRAMS)
def test_programs_auto_sends_to_xla_keep_their_bits(source, names, dtype):
    n = 6000
    values = {"x": _floats(n, dtype), "t": np.asarray(RNG.standard_normal() * 3, dtype),
              "m": RNG.random(n) < 0.4}
    signature = {k: f"{values[k].dtype.name}[{n}]" if values[k].ndim else values[k].dtype.name for k in names}
    inputs = {k: values[k] for k in names}
    plain = compiled(source, signature=signature, jit_compile=False)
    assert tiers.xla_refusal(plain._current().optimized) is None
    xla = compiled(source, signature=signature, jit_compile=True)
    got, want = xla(**inputs), plain(**inputs)
    np.testing.assert_array_equal(_bits(got.numpy()), _bits(want.numpy()), err_msg=source)


def test_xla_does_change_a_multiply_add():
    """Why the rule exists: XLA:CPU contracts a * b + c into one fused multiply-add."""
    a, b, c = (_floats(4000, np.float32)[20:] for _ in range(3))
    signature = {k: "float32[3980]" for k in "abc"}
    plain = compiled("a * b + c", signature=signature, jit_compile=False)(a=a, b=b, c=c).numpy()
    xla = compiled("a * b + c", signature=signature, jit_compile=True)(a=a, b=b, c=c).numpy()
    np.testing.assert_array_equal(_bits(plain), _bits(a * b + c))
    assert (_bits(plain) != _bits(xla)).any()


def test_a_mask_shape_check_does_not_keep_a_shape_from_xla(instant_compile):
    """The check of a mask's shape depends on shapes alone: a shape reaches XLA only after its
    plain calls passed it, and a mismatched mask still gets maskdsl's error."""
    f = maskdsl.compile("x[m] *= 2", signature={"x": "float32[None]", "m": "bool[None]"})
    assert f._current().tiers is not None
    x, m = _floats(30, np.float32), RNG.random(30) < 0.5
    with np.errstate(over="ignore"):
        expected = np.where(m, x * 2, x)
    for _ in range(2):
        got = f(x=x, m=m).numpy()
    assert f.jit
    np.testing.assert_array_equal(_bits(got), _bits(expected))
    for _ in range(2):
        with pytest.raises(maskdsl.ShapeError, match="boolean index did not match"):
            f(x=x, m=m[:29])


# ---- checks of values under XLA (which compiles an Assert to nothing) ----

CHECKED = [  # (source, signature, inputs that pass, inputs that fail, the error NumPy's raise becomes)
    ("y = x[i]", {"x": "int32[None]", "i": "int64[None]"},
     {"x": np.arange(5, dtype=np.int32), "i": np.array([1, -1])},
     {"x": np.arange(5, dtype=np.int32), "i": np.array([1, 7])}, maskdsl.IndexOutOfRangeError),
    ("max(x[m])", {"x": "int32[None]", "m": "bool[None]"},
     {"x": np.arange(5, dtype=np.int32), "m": np.arange(5) > 2},
     {"x": np.arange(5, dtype=np.int32), "m": np.zeros(5, bool)}, maskdsl.ValueDSLError),
    ("y = x; y[m] = v", {"x": "float32[None]", "m": "bool[None]", "v": "float32[None]"},
     {"x": np.float32([1, 2, 3]), "m": np.array([True, False, True]), "v": np.float32([7, 8])},
     {"x": np.float32([1, 2, 3]), "m": np.array([True, False, True]), "v": np.float32([7, 8, 9])},
     maskdsl.ShapeError),
]


def _numpy_value(source, inputs):
    x = inputs["x"]
    if source == "y = x[i]":
        return x[inputs["i"]]
    if source == "max(x[m])":
        return np.max(x[inputs["m"]])
    y = x.copy()
    y[inputs["m"]] = inputs["v"]
    return y


@pytest.mark.parametrize("source, signature, good, bad, error", CHECKED)
def test_auto_on_xla_still_raises_what_numpy_raises(instant_compile, source, signature, good, bad, error):
    """Under XLA the checks are flags the call tests; a failed one reruns the plain graph, which
    raises the located error with its detail."""
    f = maskdsl.compile(source, signature=signature)
    assert f._current().xla_refusal is None
    for _ in range(2):
        assert_same(f(**good).numpy(), _numpy_value(source, good))
    assert f.jit
    with pytest.raises(error) as caught:
        f(**bad)
    assert caught.value.span is not None
    assert_same(f(**good).numpy(), _numpy_value(source, good))  # and the next call is fine


@pytest.mark.parametrize("source, signature, good, bad, error", CHECKED)
def test_jit_true_raises_what_numpy_raises(source, signature, good, bad, error):
    """jit_compile=True runs the program as one XLA cluster inside a graph that asserts its checks."""
    f = maskdsl.compile(source, signature=signature, jit_compile=True)
    assert_same(f(**good).numpy(), _numpy_value(source, good))
    with pytest.raises(error) as caught:
        f(**bad)
    assert caught.value.span is not None


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("source, fold", [("max(x[m])", np.maximum), ("min(x[m])", np.minimum),
                                          ("max(x)", np.maximum), ("min(-x)", np.minimum)])
def test_a_zero_max_has_the_sign_numpys_loop_gives_on_both_paths(source, fold, dtype):
    """0.0 and -0.0 tie: the result is the zero NumPy's left-to-right loop keeps (the last tied
    one; the first in float16), whatever order a kernel visits them in, with or without XLA."""
    n = 3000
    signature = {"x": f"{dtype}[{n}]", "m": f"bool[{n}]"} if "[m]" in source else {"x": f"{dtype}[{n}]"}
    plain = compiled(source, signature=signature, jit_compile=False)
    xla = compiled(source, signature=signature, jit_compile=True)
    for trial in range(6):
        x = -np.abs(_floats(n, dtype)) - 1
        x[np.isnan(x)] = -1
        if source == "min(-x)":
            x = -x
        zeros = RNG.choice(n, 1 + trial * 3, replace=False)
        x[zeros] = np.where(RNG.random(len(zeros)) < 0.5, 0.0, -0.0).astype(dtype)
        if source == "min(-x)":
            x[zeros] = -x[zeros]
        m = RNG.random(n) < 0.7
        m[zeros] = True
        inputs = {"x": x, "m": m} if "[m]" in source else {"x": x}
        selected = x[m] if "[m]" in source else x
        selected = -selected if source == "min(-x)" else selected
        want = _left_fold(fold, selected)
        for f in (plain, xla):
            got = f(**inputs).numpy()
            np.testing.assert_array_equal(_bits(got), _bits(want), err_msg=f"{source} {dtype} trial {trial}")


def _left_fold(pick, values):
    """NumPy's pairwise maximum/minimum applied left to right, element by element."""
    out = values[0]
    for v in values[1:]:
        out = pick(out, v)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_power_of_two_times_x_plus_a_constant_rounds_the_same_fused(dtype):
    """Why `x * 2 + 1` may go to XLA: fused or not, x * 2**k + c rounds alike, overflow included,
    while |c| is at most half the spacing below the dtype's largest value."""
    info = np.finfo(dtype)
    c = 2.0 ** (info.maxexp - info.nmant - 2)
    top = 2.0 ** (info.maxexp - 1)  # x * 2 is the first power of two beyond the largest value
    x = np.concatenate([_floats(2000, dtype), np.array([info.max, -info.max, top, -top, top / 2], dtype)])
    for source in (f"y = x * 2 + {c!r}", f"y = x * 2 - {c!r}", f"y = x * 4 - {c!r}", "y = 1 - x * 2"):
        signature = {"x": f"{dtype}[{len(x)}]"}
        plain = compiled(source, signature=signature, jit_compile=False)(x=x).numpy()
        xla = compiled(source, signature=signature, jit_compile=True)(x=x).numpy()
        np.testing.assert_array_equal(_bits(plain), _bits(xla), err_msg=source)


# ---- programs partly under XLA: clusters of the nodes that keep their bits ----

PIPELINE = """_y = x * 2 + 1
_y[m] = sqrt(abs(_y[m]))
_y[_y > 10] = 10
z = _y - mean(_y[m])
z[not m] *= 0.5"""


def _pipeline_numpy(x, m):
    y = x * np.float32(2) + np.float32(1)
    y[m] = np.sqrt(np.abs(y[m]))
    y[y > 10] = 10
    z = y - np.mean(y[m], dtype=np.float64).astype(np.float32)
    z[~m] *= np.float32(0.5)
    return z


@pytest.mark.parametrize("signature", [{"x": "float32[None]", "m": "bool[None]"}, None])
def test_a_program_with_a_float_mean_runs_its_other_statements_in_xla_clusters(instant_compile, signature):
    f = maskdsl.compile(PIPELINE, signature=signature)
    x, m = (RNG.standard_normal(500) * 10).astype(np.float32), RNG.random(500) < 0.5
    results = []
    for _ in range(3):
        results.append(f(x=x, m=m).numpy())
    assert f.jit
    explained = f.explain().split("== XLA ==")[1]
    assert "partly: 2 XLA cluster(s)" in explained and "line 4: a float mean" in explained
    assert "rt.xla_cluster" in f._current().xla_generated.source
    for got in results:
        np.testing.assert_array_equal(_bits(got), _bits(results[0]))  # plain, then XLA: the same bits
    assert_same(results[0], _pipeline_numpy(x, m))


def test_a_check_inside_a_cluster_still_raises_its_located_error(instant_compile):
    f = maskdsl.compile("y = x[i] * 2 + 1\ns = sum(y)", signature={"x": "float32[None]", "i": "int64[None]"})
    x, i = np.arange(5, dtype=np.float32), np.array([0, 4, -1])
    for _ in range(2):
        got = f(x=x, i=i)
    assert f.jit and "rt.xla_cluster" in f._current().xla_generated.source
    assert_same(got["y"].numpy(), x[i] * 2 + 1)
    with pytest.raises(maskdsl.IndexOutOfRangeError, match="index 5 is out of bounds for axis 0 with size 5"):
        f(x=x, i=np.array([5]))


def test_gradients_flow_through_xla_clusters(instant_compile):
    import tensorflow as tf
    f = maskdsl.compile("y = x * 2 + 1\nz = y - mean(y) + sqrt(abs(y))", signature={"x": "float64[None]"})
    x = tf.constant(RNG.standard_normal(50) + 3)
    for _ in range(2):
        f(x=x)
    assert f.jit
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(f(x=x)["z"])
    grad = tape.gradient(loss, x).numpy()
    y = x.numpy() * 2 + 1
    np.testing.assert_allclose(grad, 2 * (1 - 1) + 2 * np.sign(y) / (2 * np.sqrt(np.abs(y))), rtol=1e-12)


PARTLY_PROGRAMS = [  # each with something XLA would change (a float sum or mean, exp, sin, a multiply-add)
    "y = x * 3 + w\nz = y - mean(y)\nq = sin(z) * 2 + 1",
    "a = x + 1\nb = a * a\nc = sum(b[m])\nd = b / c\nd[m] = -d[m]",
    "y = x\ny[m] = y[m] * 2 + 1\ns = max(y)\nt = y - s\nu = exp(t)\nv = u / sum(u)",
    "y = abs(x) + 1\nz = sqrt(y) * 2\nk = mean(z[m])\nz[z > k] = k\nw = z * 0.5 - k",
    "y = x * w + 1\ny = y * 2 + 3\nr = y[5:20] * 2\nn = count(y > 0)",
    "y = x ** 2 + w ** 2\nr = sqrt(y)\nr[r > 1] = 1 / r[r > 1]\nt = prod(r[m])",
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("source", PARTLY_PROGRAMS)
def test_programs_partly_under_xla_keep_their_bits(instant_compile, source, dtype):
    n = 300
    with np.errstate(invalid="ignore"):  # inf % 50 is nan
        values = {"x": _floats(n, dtype) % 50, "w": _floats(n, dtype) % 3, "m": RNG.random(n) < 0.5}
    plain = maskdsl.compile(source, jit_compile=False)
    inputs = {k: values[k] for k in plain.inputs}
    f = maskdsl.compile(source, signature={k: f"{v.dtype.name}[None]" for k, v in inputs.items()})
    with np.errstate(all="ignore"):
        want = plain(**inputs)
        got = [f(**inputs) for _ in range(3)]
    assert f.jit and f._current().kept_plain
    for result in got:
        for name in want:
            np.testing.assert_array_equal(_bits(result[name].numpy()), _bits(want[name].numpy()), err_msg=name)


def test_a_jit_true_saved_model_keeps_its_checks(tmp_path):
    import tensorflow as tf
    f = maskdsl.compile("y = x[i] * 2", signature={"x": "float32[None]", "i": "int64[None]"}, jit_compile=True)
    module = tf.Module()
    module.f = f.tf_function
    tf.saved_model.save(module, str(tmp_path), signatures=f.get_concrete_function())
    serve = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    x = np.float32([1, -2, 3])
    assert_same(serve(x=tf.constant(x), i=tf.constant([0, 2], tf.int64))["output_0"].numpy(), x[[0, 2]] * 2)
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        serve(x=tf.constant(x), i=tf.constant([7], tf.int64))
    error = f.translate_error(caught.value)
    assert isinstance(error, maskdsl.IndexOutOfRangeError) and (error.line, error.column) == (1, 5)
