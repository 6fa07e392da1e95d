"""What NumPy rejects, maskdsl rejects: at compile time when types and shapes are known,
inside the graph otherwise, always as a MaskDSLError pointing at the expression. The
table of bad programs is tests/error_catalogue.py; these are the cases that need more
than a row."""

import numpy as np
import pytest

import maskdsl
from maskdsl import (IndexOutOfRangeError, InputError, ShapeError)

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


def test_broadcast_clash_hidden_by_grappler_is_an_error():
    """Grappler folds `x * 0 + y` into `y`, dropping the addition's broadcast error; the check that
    the assigned values fit the selection still fails (rt.fit_values)."""
    f = maskdsl.compile("x[m] = x * 0 + x[m]")
    with pytest.raises(ShapeError):
        f(x=np.array([3, -1, 0, 7, -8, 2], np.int32), m=np.array([1, 0, 1, 0, 0, 0], bool))
