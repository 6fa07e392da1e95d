"""What NumPy rejects, maskdsl rejects: at compile time when types and shapes are known,
inside the graph otherwise, always as a MaskDSLError pointing at the expression."""

import numpy as np
import pytest

import maskdsl
from maskdsl import (DTypeError, IndexOutOfRangeError, InputError, ParseError, ShapeError, UnknownNameError,
                     ValueDSLError)

I4 = {"x": "int32[4]"}
F4 = {"x": "float32[4]"}

COMPILE_TIME = [
    # (program, signature, error class, text the caret must cover)
    ("x[x > 0] *= 2.5", I4, DTypeError, "x[x > 0] *= 2.5"),
    ("x[x > 0] = nan", I4, DTypeError, "nan"),
    ("x[x > 0] = inf", I4, DTypeError, "inf"),
    ("y = x + 300", {"x": "int8[4]"}, DTypeError, "300"),
    ("x[x > 0] = 300", {"x": "uint8[4]"}, DTypeError, "300"),
    ("x[x > 0] = -1", {"x": "uint8[4]"}, DTypeError, "-1"),
    ("y = x ** -1", I4, ValueDSLError, "-1"),
    ("y = x[x * 1.0]", I4, DTypeError, "x * 1.0"),
    ("y = x[m]", {"x": "int32[4]", "m": "bool[5]"}, ShapeError, "m"),
    ("y = x[7]", I4, IndexOutOfRangeError, "7"),
    ("y = x[-5]", I4, IndexOutOfRangeError, "-5"),
    ("y = x[[0, 9]]", I4, IndexOutOfRangeError, "[0, 9]"),
    ("y = x[0, 0]", I4, ShapeError, "0"),
    ("y = x - True", {"x": "bool[4]"}, DTypeError, "x - True"),
    ("y = -x", {"x": "bool[4]"}, DTypeError, "-x"),
    ("y = x & 1.5", F4, DTypeError, "x & 1.5"),
    ("y = x + z", {"x": "int32[4]", "z": "int32[3]"}, ShapeError, "x + z"),
    ("x[x > 0] = [1, 2, 3, 4, 5]", I4, ShapeError, "[1, 2, 3, 4, 5]"),
    ("x += [1, 2]", I4, ShapeError, "x += [1, 2]"),
    ("x += 0.5", I4, DTypeError, "x += 0.5"),
    ("y = sum(x, axis=2)", I4, ShapeError, "sum(x, axis=2)"),
    ("y = max(x[0:0])", I4, ValueDSLError, "max(x[0:0])"),
    ("y = frobnicate(x)", I4, UnknownNameError, "frobnicate"),
    ("sum = x", I4, ParseError, "sum"),
    ("y = sum", I4, UnknownNameError, "sum"),
    ("y = x[None]; z = None", I4, ParseError, "None"),
    ("y = x[1:2:0]", I4, ShapeError, "0"),
    ("y = arange(10 ** 12)", {}, maskdsl.LimitError, "arange(10 ** 12)"),
    ("y = 9 ** 9 ** 9", {}, maskdsl.LimitError, "9 ** 9 ** 9"),
    ("y = where(x > 0, x, [1, 2])", I4, ShapeError, "where(x > 0, x, [1, 2])"),
    ("y = x[..., ...]", I4, ShapeError, "..."),
    ("y = zeros(-1)", {}, ShapeError, "-1"),
    ("y = clip(x)", I4, ParseError, "clip(x)"),
    ("y = sum(x, axis=z)", {"x": "int32[4]", "z": "int64"}, DTypeError, "z"),
    ("y = sum(x, keepdims=1)", I4, DTypeError, "1"),
    ("y = sum(x, mode=1)", I4, ParseError, "mode=1"),
]


@pytest.mark.parametrize("src, signature, error, covered", COMPILE_TIME, ids=[c[0] for c in COMPILE_TIME])
def test_compile_time_errors(src, signature, error, covered):
    with pytest.raises(error) as info:
        maskdsl.compile(src, signature=signature)
    err = info.value
    assert err.span is not None, str(err)
    assert src[err.span.start:err.span.end] == covered, str(err)
    text = str(err)
    assert f"line {err.line}, column {err.column}" in text and "^" in text


def test_numpy_agrees_these_are_errors():
    # A few of the rejections above, checked against NumPy itself.
    x = np.array([1, 2, 3, 4], np.int32)
    with pytest.raises(TypeError):
        x[x > 0] *= 2.5
    with pytest.raises(ValueError):
        x[x > 0] = np.nan
    with pytest.raises(OverflowError):
        np.array([1], np.int8) + 300
    with pytest.raises(IndexError):
        x[np.ones(5, bool)]
    with pytest.raises(ValueError):
        np.max(x[0:0])


RUN_TIME = [
    # (program, signature, inputs, error class, text the caret must cover)
    ("y = x[m]", {"x": "int32[None]", "m": "bool[None]"},
     {"x": np.arange(4, dtype=np.int32), "m": np.array([True, False])}, ShapeError, "x[m]"),
    ("x[m] = 0", {"x": "int32[None]", "m": "bool[None]"},
     {"x": np.arange(4, dtype=np.int32), "m": np.array([True, False, True])}, ShapeError, "x[m] = 0"),
    ("y = x[i]", {"x": "int32[None]", "i": "int64"}, {"x": np.arange(4, dtype=np.int32), "i": np.int64(4)},
     IndexOutOfRangeError, "x[i]"),
    ("y = x[idx]", {"x": "int32[None]", "idx": "int64[None]"},
     {"x": np.arange(4, dtype=np.int32), "idx": np.array([0, -5])}, IndexOutOfRangeError, "x[idx]"),
    ("y = max(x[x > 10])", {"x": "int32[None]"}, {"x": np.arange(4, dtype=np.int32)}, ValueDSLError,
     "max(x[x > 10])"),
    ("y = min(x)", {"x": "float32[None]"}, {"x": np.zeros(0, np.float32)}, ValueDSLError, "min(x)"),
    ("x[x > 1] = v", {"x": "int32[None]", "v": "int32[None]"},
     {"x": np.arange(4, dtype=np.int32), "v": np.array([1, 2, 3], np.int32)}, ShapeError, "v"),
    ("y = x ** p", {"x": "int32[None]", "p": "int32[None]"},
     {"x": np.arange(3, dtype=np.int32), "p": np.array([1, -1, 2], np.int32)}, ValueDSLError, "x ** p"),
]


@pytest.mark.parametrize("src, signature, inputs, error, covered", RUN_TIME, ids=[c[0] for c in RUN_TIME])
def test_run_time_errors(src, signature, inputs, error, covered):
    f = maskdsl.compile(src, signature=signature)
    with pytest.raises(error) as info:
        f(**inputs)
    err = info.value
    assert err.span is not None and src[err.span.start:err.span.end] == covered, str(err)
    assert "^" in str(err)


def test_missing_input_names_it_with_a_caret():
    with pytest.raises(InputError) as info:
        maskdsl.compile("y = x + k")(x=np.arange(3))
    assert "'k'" in str(info.value) and "^" in str(info.value)


def test_wrong_number_of_values_is_a_tagged_error_not_a_tensorflow_one():
    # Grappler can drop the BroadcastTo of mismatched values; the scatter then carries the tag.
    f = maskdsl.compile("x[x > 1] = [1, 2]; x")
    with pytest.raises(ShapeError, match="do not match the number of selected elements") as info:
        f(x=np.arange(5))
    assert info.value.span is not None and "^" in str(info.value)
    assert_array = np.testing.assert_array_equal
    assert_array(f(x=np.array([0, 5, 7, 1, 0])).numpy(), [0, 1, 2, 1, 0])


def test_unchecked_tensorflow_failures_point_at_the_statement():
    # Two unknown dimensions assumed equal at compile time; TensorFlow finds out at run time.
    f = maskdsl.compile("y = x * 2\nz = y + w", signature={"x": "int32[None]", "w": "int32[None]"})
    with pytest.raises(ShapeError, match=r"Incompatible shapes: \[3\] vs. \[4\]") as info:
        f(x=np.arange(3, dtype=np.int32), w=np.arange(4, dtype=np.int32))
    err = info.value
    assert (err.line, err.column) == (2, 5) and "z = y + w" in str(err) and "^^^^^" in str(err)


def test_integer_array_out_of_range_in_an_update_is_an_index_error():
    f = maskdsl.compile("x[x < x ^ x] = 0", signature={"x": "int32[6]"})  # (x < x) ^ x: an int index
    with pytest.raises(IndexOutOfRangeError):
        f(x=np.array([3, -1, 0, 7, -8, 2], np.int32))


@pytest.mark.xfail(strict=True, reason="Grappler folds `x * 0 + y` into `y` and drops the checks placed beside it, "
                                       "so a clash between a mask's count and a known length can go unnoticed")
def test_broadcast_clash_hidden_by_grappler_is_an_error():
    f = maskdsl.compile("x[m] = x * 0 + x[m]")
    with pytest.raises(ShapeError):
        f(x=np.array([3, -1, 0, 7, -8, 2], np.int32), m=np.array([1, 0, 1, 0, 0, 0], bool))
