"""Pipelines (issue 5): the YAML format, validation errors at FILE:LINE:COL, constants,
the Python API, tf.data map functions and the row-wise analysis. Values are checked
against the same computation written in NumPy."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import maskdsl
from conftest import assert_same
from maskdsl.pipeline.pipeline import PerBatchWarning, PipelineWarning

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "pipelines" / "clean_sensors.yaml"

BASE = """\
name: clean-sensors
inputs:
  x: float32[None, 3]
  limit: float32
constants:
  floor: 0.0
steps:
  - x[isnan(x)] = floor
  - x[x > limit] = limit
  - _ok = all(x >= floor, axis=1)
  - rows = x[_ok]
  - total = sum(x[_ok])
outputs: [x, rows, total]
options: {jit_compile: auto, strategy: auto}
"""

X = np.array([[1.0, np.nan, 3.0], [-1.0, 2.0, 9.0], [4.0, 5.0, 6.0], [7.5, 0.0, np.nan]], np.float32)


def clean_sensors_numpy(x, limit, floor=0.0):
    x = x.copy()
    x[np.isnan(x)] = floor
    x[x > limit] = limit
    ok = np.all(x >= floor, axis=1)
    return {"x": x, "rows": x[ok], "total": np.sum(x[ok])}


_PIPELINES = {}


def pipeline(text=BASE):
    """Pipelines are compiled once per text for the whole session."""
    if text not in _PIPELINES:
        _PIPELINES[text] = maskdsl.Pipeline.from_yaml(text)
    return _PIPELINES[text]


def error_of(text, **kwargs):
    with pytest.raises(maskdsl.MaskDSLError) as info:
        maskdsl.Pipeline.from_yaml(text, **kwargs)
    return info.value


def assert_points_at(err, line, column, kind, fragment):
    """str(err) is 'FILE:LINE:COL: Kind: message', then the YAML line, then a caret at COL."""
    text = str(err)
    head, shown, caret = text.split("\n")[:3]
    assert head.startswith(f"<string>:{line}:{column}: {kind}: "), text
    assert fragment in head, text
    assert shown == "  " + err.source.split("\n")[line - 1], text
    assert caret.index("^") - 2 == column - 1, text
    assert (err.line, err.column) == (line, column)


# ---- running ----

def test_example_file_runs_and_matches_numpy():
    p = maskdsl.Pipeline.from_yaml(EXAMPLE)
    assert p.name == "clean-sensors"
    assert p.inputs == ("x", "limit") and p.outputs == ("x", "rows", "total")
    out = p(x=X, limit=np.float32(5))
    want = clean_sensors_numpy(X, np.float32(5))
    for name in p.outputs:
        assert_same(out[name].numpy(), want[name], label=name)


def test_positional_inputs_and_dtype_conversion():
    out = pipeline()(X.astype(np.float64), 5.0)   # float64 data converts to float32 (same_kind)
    assert_same(out["x"].numpy(), clean_sensors_numpy(X, np.float32(5))["x"])
    with pytest.raises(maskdsl.InputError, match="missing input 'limit'"):
        pipeline()(x=X)
    with pytest.raises(maskdsl.InputError, match="unexpected input 'y'"):
        pipeline()(x=X, limit=1.0, y=X)


def test_constants_are_weak_literals_and_may_share_a_function_name():
    p = pipeline("""\
inputs: {x: "int8[None]"}
constants: {floor: 2, scale: -3, tiny: 1e-3}
steps:
  - y = x * scale + floor(x) + floor
  - z = scale ** 2
  - w = x > tiny
outputs: [y, z, w]
""")
    x = np.array([1, -2, 5], np.int8)
    out = p(x=x)
    # NEP 50: int8 * -3 stays int8; floor(x) of int8 is int8 in NumPy 2
    assert_same(out["y"].numpy(), x * np.int8(-3) + np.floor(x) + np.int8(2))
    assert out["z"].numpy() == 9          # (-3) ** 2, not -(3 ** 2)
    assert_same(out["w"].numpy(), x > 1e-3)
    assert p.config.program_text.splitlines()[0] == "y = x * (-3) + floor(x) + 2"


def test_with_constants_recompiles_with_new_values():
    p = pipeline().with_constants(floor=1.0)
    out = p(x=X, limit=np.float32(5))
    want = clean_sensors_numpy(X, np.float32(5), floor=1.0)
    for name in p.outputs:
        assert_same(out[name].numpy(), want[name], label=name)
    with pytest.raises(maskdsl.ConfigError, match="no constant named 'ceiling'"):
        pipeline().with_constants(ceiling=1)


def test_multi_statement_and_block_steps():
    p = pipeline("""\
inputs: {x: "float32[None]"}
steps:
  - "a = x + 1; b = a * 2"
  - |
    c = b - 1
    c[c > 4] = 4
outputs: [c]
""")
    x = np.array([0.5, 1.0, 3.0], np.float32)
    c = (x + 1) * 2 - 1
    c[c > 4] = 4
    assert_same(p(x=x)["c"].numpy(), c)


def test_from_dict_and_to_dict_round_trip():
    p = maskdsl.Pipeline.from_dict(pipeline().to_dict())
    assert p.to_dict() == pipeline().to_dict()
    assert_same(p(x=X, limit=3.0)["total"].numpy(), clean_sensors_numpy(X, np.float32(3))["total"])


def test_tf_function_has_the_declared_signature():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PipelineWarning)
        p = maskdsl.Pipeline.from_yaml(BASE.replace("  limit: float32\n", "  limit: float32\n  unused: int32[2]\n"))
    fn = p.tf_function
    specs = fn.input_signature
    assert [s.name for s in specs] == ["x", "limit", "unused"]
    assert [tuple(s.shape.as_list()) if s.shape.rank else () for s in specs] == [(None, 3), (), (2,)]
    out = fn(tf.constant(X), tf.constant(5.0), tf.constant([1, 2], tf.int32))
    assert set(out) == {"x", "rows", "total"}
    assert_same(out["rows"].numpy(), clean_sensors_numpy(X, np.float32(5))["rows"])


# ---- tf.data ----

def test_map_fn_on_batched_dict_dataset():
    p = pipeline()
    xs = np.tile(X, (3, 1))
    with pytest.warns(PerBatchWarning, match="not row-wise"):    # total is per batch: said when traced
        ds = tf.data.Dataset.from_tensor_slices({"x": xs}).batch(4).map(p.make_map_fn(limit=5.0))
    batches = list(ds)
    assert len(batches) == 3
    for i, out in enumerate(batches):          # each batch is cleaned on its own
        want = clean_sensors_numpy(xs[4 * i:4 * i + 4], np.float32(5))
        for name in p.outputs:
            assert_same(out[name].numpy(), want[name], label=name)


def test_map_fn_on_single_rows_is_a_batch_of_one():
    p = pipeline()
    with pytest.warns(PerBatchWarning):
        ds = tf.data.Dataset.from_tensor_slices((X, np.full(len(X), 5.0, np.float32))).map(p.map_fn)
    outs = list(ds)
    for row, out in zip(X, outs):
        want = clean_sensors_numpy(row[None, :], np.float32(5))
        assert out["x"].shape == (1, 3)
        for name in p.outputs:
            assert_same(out[name].numpy(), want[name], label=name)
    rows = np.concatenate([o["x"].numpy() for o in outs])
    assert_same(rows, clean_sensors_numpy(X, np.float32(5))["x"])


def test_map_fn_on_a_tuple_of_whole_arrays():
    with pytest.warns(PerBatchWarning):   # (one element holding every row: per element is per dataset here)
        ds = tf.data.Dataset.from_tensors((X, np.float32(4))).map(pipeline().map_fn)
    (out,) = list(ds)
    assert_same(out["total"].numpy(), clean_sensors_numpy(X, np.float32(4))["total"])


def test_map_fn_rejects_wrong_elements():
    p = pipeline()
    with pytest.raises(maskdsl.InputError, match=r"input 'x' has shape \(None, 4\)"):
        tf.data.Dataset.from_tensor_slices({"x": np.zeros((4, 4), np.float32)}).batch(2).map(
            p.make_map_fn(limit=1.0))
    with pytest.raises(maskdsl.InputError, match="dtype float32, the pipeline declares n: int32"):
        q = pipeline("inputs: {n: 'int32[None]'}\nsteps: [m = n % 3]\noutputs: [m]\n")
        tf.data.Dataset.from_tensor_slices({"n": np.zeros(4, np.float32)}).batch(2).map(q.map_fn)
    with pytest.raises(maskdsl.InputError, match="not an input of the pipeline"):
        tf.data.Dataset.from_tensor_slices({"x": X, "label": np.zeros(4)}).map(p.make_map_fn(limit=1.0))
    with pytest.raises(maskdsl.InputError, match="2 components, the pipeline needs 1"):
        tf.data.Dataset.from_tensor_slices((X, X)).map(p.make_map_fn(limit=1.0))


# ---- row-wise ----

def test_example_is_not_row_wise_because_total_reduces_over_rows():
    p = pipeline()
    assert not p.row_wise
    assert p.row_wise_reason == ("`sum(x[_ok])` reduces over the rows (needed for output 'total') "
                                 "at <string>:12:13")


@pytest.mark.parametrize("steps, outputs, row_wise", [
    (["x[isnan(x)] = 0.0", "rows = x[all(x >= 0.0, axis=1)]"], "[x, rows]", True),
    (["y = x - mean(x, axis=1, keepdims=True)"], "[y]", True),
    (["y = x[x > limit]"], "[y]", True),                       # elements, in row-major order
    (["x[:, 1] = x[:, 0] * limit"], "[x]", True),
    (["y = x - mean(x, axis=0)"], "[y]", False),
    (["y = x[1:]"], "[y]", False),
    (["y = x[0]"], "[y]", False),
    (["a = x[x > 0]", "b = x[x < 0]", "y = a + b"], "[y]", False),
    (["y = x * size(x)"], "[y]", False),
    (["y = limit * 2", "z = x"], "[y, z]", False),             # an output without rows
])
def test_row_wise_analysis(steps, outputs, row_wise):
    text = "inputs:\n  x: float32[None, 3]\n  limit: float32\nsteps:\n" + "".join(
        f"  - {s}\n" for s in steps) + f"outputs: {outputs}\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PipelineWarning)
        p = maskdsl.Pipeline.from_yaml(text)
    assert p.row_wise == row_wise, p.row_wise_reason
    if row_wise:   # and it really is: batches concatenated == one run on all rows
        rng = np.random.default_rng(1)
        x = rng.normal(size=(7, 3)).astype(np.float32)
        whole = p(x=x, limit=0.5)
        parts = [p(x=x[i:i + 3], limit=0.5) for i in range(0, 7, 3)]
        for name in p.outputs:
            assert_same(np.concatenate([part[name].numpy() for part in parts]), whole[name].numpy())


# ---- validation errors, each at FILE:LINE:COLUMN with the YAML line and a caret ----

@pytest.mark.parametrize("old, new, line, column, kind, fragment", [
    ("steps:", "step:", 7, 1, "ConfigError", "unknown key 'step'"),
    ("name: clean-sensors\n", "name: clean-sensors\nname: again\n", 2, 1, "ConfigError",
     "duplicate key 'name' (first defined at <string>:1:1)"),
    ("  limit: float32\n", "  limit: float32\n  x: int8\n", 5, 3, "ConfigError", "duplicate key 'x'"),
    ("float32[None, 3]", "flot32[None, 3]", 3, 6, "ConfigError", "bad type spec 'flot32[None, 3]'"),
    ("float32[None, 3]", "float32[None, three]", 3, 6, "ConfigError", "bad dimension 'three'"),
    ("  limit: float32", "  sum: float32", 4, 3, "ConfigError", "input name 'sum' is a built-in function"),
    ("  limit: float32", "  2x: float32", 4, 3, "ConfigError", "input name '2x' is not a valid name"),
    ("floor: 0.0", "floor: yes", 6, 10, "ConfigError", "YAML reads 'yes' as True"),
    ("floor: 0.0", "floor: 010", 6, 10, "ConfigError", "YAML reads '010' as 8"),
    ("floor: 0.0", "floor: '0'", 6, 10, "ConfigError", "must be a number, not text '0'"),
    ("floor: 0.0", "floor: 0x1F", 6, 10, "ConfigError", "must be a decimal number"),
    ("floor: 0.0", "limit: 0.0", 6, 3, "ConfigError", "'limit' is both an input"),
    ("  - rows = x[_ok]", "  - 010", 11, 5, "ConfigError", "step 4 must be text, but it is an integer: "
                                                          "YAML reads '010' as 8"),
    ("  - rows = x[_ok]", "  - yes", 11, 5, "ConfigError", "YAML reads 'yes' as True"),
    ("  - rows = x[_ok]", "  - rows = x[1: 3]", 11, 5, "ConfigError", "step 4 must be text, but it is a mapping"),
    ("  - rows = x[_ok]", "  -", 11, 4, "ConfigError", "step 4 must be text, but it is empty (null)"),
    ("  - rows = x[_ok]", "  - ' '", 11, 5, "ConfigError", "step 4 is empty"),
    ("  - rows = x[_ok]", "  - rows = x[_ok", 11, 17, "ParseError",
     "step 4: '[' opened at line 11, column 13 was never closed"),
    ("  - rows = x[_ok]", "  - rows = x[_ok] +* 2", 11, 20, "ParseError", "step 4: expected an expression"),
    ("  - rows = x[_ok]", "  - rows = floor + x[_ok] + q", 11, 29, "UnknownNameError",
     "step 4: unknown name 'q'"),                    # column counted in the file, after `floor`
    ("  - rows = x[_ok]", "  - rows = fabs(x)", 11, 12, "UnknownNameError", "unknown function 'fabs'"),
    ("  - rows = x[_ok]", "  - rows = x & 1", 11, 12, "DTypeError", "step 4: and is not defined"),
    ("  - rows = x[_ok]", "  - rows = x + [1.0, 2.0]", 11, 12, "ShapeError", "do not broadcast"),
    ("  - rows = x[_ok]", "  - rows = sum(x, axis=2)", 11, 12, "ShapeError", "axis 2 is out of bounds"),
    ("  - rows = x[_ok]", "  - floor = 1", 11, 5, "ConfigError",
     "step 4: cannot assign to 'floor': it is a constant"),
    ("outputs: [x, rows, total]", "outputs: [x, rows, totl]", 13, 20, "ConfigError",
     "output 'totl' is never assigned"),
    ("outputs: [x, rows, total]", "outputs: [x, rows, x]", 13, 20, "ConfigError", "output 'x' is listed twice"),
    ("outputs: [x, rows, total]", "outputs: [x, rows, limit]", 13, 20, "ConfigError",
     "it is an input that no step assigns"),
    ("outputs: [x, rows, total]", "outputs: x", 13, 10, "ConfigError", "'outputs' must be a list"),
    ("outputs: [x, rows, total]\n", "", 1, 1, "ConfigError", "missing key 'outputs'"),
    ("{jit_compile: auto, strategy: auto}", "{jit: auto}", 14, 11, "ConfigError", "unknown option 'jit'"),
    ("{jit_compile: auto, strategy: auto}", "{strategy: fast}", 14, 21, "ConfigError",
     "option 'strategy' must be one of auto, where, scatter, boolean_mask"),
    ("{jit_compile: auto, strategy: auto}", "{jit_compile: true}", 14, 24, "ConfigError",
     "jit_compile=True needs static shapes"),
    ("name: clean-sensors", "name: &n clean-sensors\ndescription: *n", 2, 14, "ConfigError",
     "YAML aliases (*n) are not allowed"),
    ("steps:\n", "steps: [\n", 8, 3, "ConfigError", "invalid YAML: while parsing a flow node"),
    ("name: clean-sensors", "name: !!python/name:os.system x", 1, 7, "ConfigError", "unsupported YAML tag"),
])
def test_validation_errors_point_into_the_file(old, new, line, column, kind, fragment):
    assert old in BASE
    err = error_of(BASE.replace(old, new, 1))
    assert_points_at(err, line, column, kind, fragment)
    assert err.filename == "<string>"


def test_error_in_a_block_step_points_at_its_line():
    text = BASE.replace("  - x[x > limit] = limit\n", "  - |\n    y = x * 2\n    x[x > limit] = limit +\n")
    err = error_of(text)
    assert str(err).startswith("<string>:11:27: ParseError: step 2: expected an expression after '+'")
    assert str(err).split("\n")[1] == "      x[x > limit] = limit +"


def test_errors_name_the_file_path(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BASE.replace("  - rows = x[_ok]", "  - rows = x[_ok] + q"))
    with pytest.raises(maskdsl.UnknownNameError) as info:
        maskdsl.Pipeline.from_yaml(path)
    assert str(info.value).startswith(f"{path}:11:21: UnknownNameError: step 4: unknown name 'q'")
    with pytest.raises(maskdsl.ConfigError, match="no such pipeline file"):
        maskdsl.Pipeline.from_yaml(tmp_path / "missing.yaml")


def test_a_billion_laughs_is_refused_before_expanding():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi"))
    err = error_of(bomb)
    assert str(err).startswith("<string>:2:8: ConfigError: invalid YAML: YAML aliases (*a) are not allowed")


def test_unused_inputs_and_constants_warn_with_their_position():
    text = BASE.replace("  limit: float32\n", "  limit: float32\n  spare: int32\n").replace(
        "  floor: 0.0\n", "  floor: 0.0\n  unused: 3\n")
    with pytest.warns(PipelineWarning) as record:
        maskdsl.Pipeline.from_yaml(text)
    messages = sorted(str(w.message) for w in record)
    assert messages == ["<string>:5:3: input 'spare' is never used by the steps",
                        "<string>:8:3: constant 'unused' is never used by the steps"]


def test_dict_errors_name_the_step():
    good = pipeline().to_dict()
    with pytest.raises(maskdsl.UnknownNameError) as info:
        maskdsl.Pipeline.from_dict({**good, "steps": good["steps"][:3] + ["rows = x[_ok] + q"] + good["steps"][4:]})
    text = str(info.value)
    assert text.startswith("line 1, column 17: UnknownNameError: step 4: unknown name 'q'")
    assert text.split("\n")[1:3] == ["  rows = x[_ok] + q", "                  ^"]
    with pytest.raises(maskdsl.ConfigError, match="step 2 must be text, but it is an integer"):
        maskdsl.Pipeline.from_dict({**good, "steps": ["x[isnan(x)] = floor", 8]})
    with pytest.raises(maskdsl.ConfigError, match="missing key 'steps'"):
        maskdsl.Pipeline.from_dict({"inputs": {}, "outputs": ["y"]})


def test_run_time_errors_point_into_the_file():
    p = pipeline("inputs:\n  x: float32[None]\n  i: int64\nsteps:\n  - y = x[i] * 2\noutputs: [y]\n")
    assert_same(p(x=np.arange(3, dtype=np.float32), i=-1)["y"].numpy(), np.float32(4))
    with pytest.raises(maskdsl.IndexOutOfRangeError) as info:
        p(x=np.arange(3, dtype=np.float32), i=3)
    assert str(info.value).startswith("<string>:5:9: IndexOutOfRangeError: step 1: ")


def test_control_characters_and_deep_nesting_are_config_errors():
    err = error_of(BASE.replace("  - rows = x[_ok]", "  - rows = x\x07[_ok]"))
    assert str(err).startswith("<string>:11:13: ConfigError: invalid YAML: character #x0007 is not allowed")
    assert str(err).split("\n")[1] == "    - rows = xU+0007[_ok]"     # shown escaped, caret still aligned
    err = error_of("a: " + "[" * 100 + "]" * 100)
    assert "nested deeper than 64 levels" in str(err)


# ---- errors as data, compiled once, one rule for values (issue 12) ----

def test_errors_carry_the_name_option_and_code():
    err = error_of(BASE.replace("x[x > limit] = limit", "x[x > limt] = limit"))
    assert (type(err), err.name, err.code) == (maskdsl.UnknownNameError, "limt", "not-in-signature")
    assert "is not an input or a constant of the pipeline" in err.message
    err = error_of(BASE.replace("{jit_compile: auto, strategy: auto}", "{jit_compile: true}"))
    assert (type(err), err.option, err.code) == (maskdsl.ConfigError, "jit_compile", "needs-static-shapes")
    err = error_of(BASE.replace("{jit_compile: auto, strategy: auto}", "{jit: auto}"))
    assert (err.option, err.code) == ("jit", "unknown-option")
    err = error_of(BASE.replace("name: clean-sensors", "nmae: clean-sensors"))
    assert (err.name, err.code, err.hint) == ("nmae", "unknown-key", "did you mean 'name'?")


def test_positions_named_in_a_message_move_with_the_error():
    """'opened at ...' is a place of the error, not text to search: in a file it becomes the
    file's line and column, in a dict the step's column."""
    err = error_of(BASE.replace("  - rows = x[_ok]", "  - rows = x[_ok"))
    assert err.message == "step 4: '[' opened at line 11, column 13 was never closed"
    assert err.places["opened"].line == 11
    good = pipeline().to_dict()
    with pytest.raises(maskdsl.ParseError) as info:
        maskdsl.Pipeline.from_dict({**good, "steps": good["steps"][:3] + ["rows = x[_ok"] + good["steps"][4:]})
    assert info.value.message == "step 4: '[' opened at column 9 of step 4 was never closed"


def test_a_pipeline_is_parsed_and_lowered_once(monkeypatch):
    from maskdsl import compiler
    calls = []
    lower = compiler.lower
    monkeypatch.setattr(compiler, "lower", lambda *a, **k: calls.append(1) or lower(*a, **k))
    with pytest.warns(PipelineWarning, match="input 'unused' is never used"):
        p = maskdsl.Pipeline.from_yaml(BASE.replace("limit: float32", "limit: float32\n  unused: int8"))
    assert p.program.inputs == ("x", "limit") and not p.row_wise
    assert len(calls) == 1


def test_fixed_values_must_fit_their_declared_dtype():
    p = pipeline("inputs:\n  x: int32[None]\n  k: int8\nsteps:\n  - y = x * k\noutputs: [y]\n")
    ds = tf.data.Dataset.from_tensor_slices({"x": np.arange(4, dtype=np.int32)}).batch(4)
    assert ds.map(p.make_map_fn(k=3)).get_single_element()["y"].numpy().tolist() == [0, 3, 6, 9]
    with pytest.raises(maskdsl.InputError, match=r"value for 'k' holds 300, which int8 cannot represent") as info:
        p.make_map_fn(k=300)                       # not 44
    assert (info.value.name, info.value.code) == ("k", "value-lost")
    with pytest.raises(maskdsl.InputError, match="value for 'k' has dtype float64"):
        p.make_map_fn(k=2.5)
