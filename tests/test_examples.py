"""Every example script runs, and gives NumPy's answer."""

import runpy
from pathlib import Path

import numpy as np
import pytest

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


def test_masked_reduction(capsys):
    x = np.load(EXAMPLES / "data" / "sensors.npz")["x"]
    valid = np.isfinite(x) & (x > 0)
    result = run_example("masked_reduction.py")
    np.testing.assert_allclose(result["total"], x[valid].sum(dtype=np.float64), rtol=1e-5)
    assert result["n"] == np.count_nonzero(valid)
    np.testing.assert_allclose(result["average"], x[valid].mean(dtype=np.float64), rtol=1e-5)
    assert result["highest"] == x[valid].max()
    assert result["total"].dtype == np.float32 and result["n"].dtype == np.int64
    out = capsys.readouterr().out
    assert "rt.masked_reduce('sum'" in out and "boolean_mask" not in out


def test_tf_data_pipeline():
    x = np.load(EXAMPLES / "data" / "sensors.npz")["x"]
    limit = np.float32(100.0)
    spike = np.any(x > limit, axis=1)
    clean = x.copy()
    clean[np.isnan(clean) | (clean > limit)] = 0.0
    result = run_example("tf_data_pipeline.py")
    np.testing.assert_array_equal(result["spike"], spike)
    np.testing.assert_array_equal(result["x"], clean)
    np.testing.assert_array_equal(result["spiky"], clean[spike])


@pytest.mark.slow
def test_keras_mask_layer():
    result = run_example("keras_mask_layer.py")
    x = result["inputs"]
    clean = x.copy()
    clean[np.isnan(clean)] = 0.0
    clean[clean > 4] = 4
    np.testing.assert_array_equal(result["cleaned"], clean)
    assert np.isnan(x).any() and (x > 4).any()
    np.testing.assert_allclose(result["weights"], [3.0, -2.0, 1.0], atol=0.05)
    assert result["loss"][-1] < result["loss"][0] / 100


def test_saved_model_export(tmp_path):
    x = np.array([1.0, np.nan, 250.0, 7.5, -3.0], np.float32)
    x[np.isnan(x)] = 0.0
    x[x > 5.0] = 5.0
    result = runpy.run_path(str(EXAMPLES / "saved_model_export.py"))["main"](str(tmp_path / "model"))
    np.testing.assert_array_equal(result, x)
    assert result.dtype == np.float32
    assert (tmp_path / "model" / "saved_model.pb").exists()


def test_gradient_masked_update():
    x = np.array([-3.0, -1.0, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0])
    m = x > 0
    # loss(w) = mean((w * log1p(x[m]) - 2.5 * log1p(x[m]))**2 over the selected, 0 elsewhere)
    expected_gradient = 2 * np.sum((1.0 - 2.5) * np.log1p(x[m]) ** 2) / x.size
    result = run_example("gradient_masked_update.py")
    np.testing.assert_allclose(result["first_gradient"], expected_gradient, rtol=1e-5)
    np.testing.assert_allclose(result["w"], 2.5, rtol=1e-4)
    assert np.isfinite(result["loss"])


def test_table_pipelines(tmp_path):
    """Parquet shards and a CSV export, written by the example itself and cleaned by `maskdsl run`."""
    result = runpy.run_path(str(EXAMPLES / "table_pipelines.py"))["main"](tmp_path)
    x = result["inputs"]
    clean = x.copy()
    clean[np.isnan(clean)] = 0.0
    clean[clean > 100.0] = 100.0
    ok = np.all(clean >= 0.0, axis=1)
    np.testing.assert_array_equal(result["parquet"]["x"], clean)
    assert result["parquet"]["kept"] == ok.sum()
    np.testing.assert_allclose(result["parquet"]["total"], clean[ok].sum(dtype=np.float64), rtol=1e-6)
    assert result["csv"]["errors"] == np.count_nonzero(result["code"])
    assert sorted(p.name for p in (tmp_path / "clean_readings").iterdir()) == [
        "_extras.npz", "part-0.parquet", "part-1.parquet", "part-2.parquet", "part-3.parquet"]
