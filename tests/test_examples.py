"""Every example script runs, and gives NumPy's answer."""

import runpy
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name):
    return runpy.run_path(str(EXAMPLES / name))["main"]()


def test_select_greater_than_4(capsys):
    x = np.arange(1, 10).reshape(3, 3)
    np.testing.assert_array_equal(run_example("select_greater_than_4.py"), x[x > 4])
    assert "tf.boolean_mask" in capsys.readouterr().out


def test_double_above_5_zero_rest(capsys):
    x = np.arange(1, 10).reshape(3, 3)
    m = x > 5
    x[m] *= 2
    x[~m] = 0
    np.testing.assert_array_equal(run_example("double_above_5_zero_rest.py"), x)
    out = capsys.readouterr().out
    assert "tf.where" in out and "scatter" not in out


def test_pick_even(capsys):
    x = np.array([7, 2, 9, 4, 4, 11, 0, -6])
    np.testing.assert_array_equal(run_example("pick_even.py"), x[x % 2 == 0])
    assert "tf.boolean_mask" in capsys.readouterr().out
