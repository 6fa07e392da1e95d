"""maskdsl.keras.MaskLayer: a program or pipeline inside a Keras 3 model, its config, and a
`.keras` save/load round trip. Values are compared with NumPy."""

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
if int(keras.__version__.split(".")[0]) < 3:
    pytest.skip("MaskLayer needs Keras 3", allow_module_level=True)

import maskdsl  # noqa: E402
from conftest import assert_same  # noqa: E402
from maskdsl.keras import MaskLayer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
X = np.array([[1.0, np.nan, 9.0], [2.0, 3.0, -1.0], [50.0, 0.5, 2.0]], np.float32)


def clean(x, limit):
    x = x.copy()
    x[np.isnan(x)] = 0.0
    x[x > limit] = limit
    return x


@pytest.mark.slow
def test_program_layer_in_a_model_survives_a_keras_round_trip(tmp_path):
    inputs = keras.Input(shape=(3,), dtype="float32", name="x")
    layer = MaskLayer("x[isnan(x)] = 0.0\nx[x > 4] = 4\nx")
    outputs = keras.layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros")(layer(inputs))
    model = keras.Model(inputs, outputs)
    want = clean(X, 4).sum(axis=1, keepdims=True).repeat(2, axis=1)
    assert_same(model.predict(X, verbose=0), want)
    assert layer.get_config()["program"] == "x[isnan(x)] = 0.0\nx[x > 4] = 4\nx"
    assert layer.count_params() == 0

    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert_same(loaded.predict(X, verbose=0), want)
    restored = next(layer for layer in loaded.layers if isinstance(layer, MaskLayer))
    assert restored.get_config()["program"] == layer.get_config()["program"]


@pytest.mark.slow
def test_pipeline_layer_with_fixed_scalar_round_trip(tmp_path):
    pipeline = maskdsl.Pipeline.from_yaml(ROOT / "examples" / "pipelines" / "clean_sensors.yaml")
    layer = MaskLayer(pipeline, fixed={"limit": 5.0})
    inputs = keras.Input(shape=(3,), name="x")
    outputs = layer({"x": inputs})
    model = keras.Model(inputs, outputs)
    got = model.predict(X, batch_size=3, verbose=0)
    want = clean(X, 5)
    ok = np.all(want >= 0, axis=1)
    assert_same(got["x"], want)
    assert_same(got["rows"], want[ok])
    assert_same(np.asarray(got["total"]).reshape(()), np.sum(want[ok]))
    assert layer.get_config()["program"] == {"pipeline": pipeline.to_dict()}

    model.save(tmp_path / "pipeline.keras")
    loaded = keras.models.load_model(tmp_path / "pipeline.keras")
    again = loaded.predict(X, batch_size=3, verbose=0)
    for name in ("x", "rows"):
        assert_same(again[name], got[name])


def test_layer_inputs_and_errors():
    layer = MaskLayer("y = a * b")
    assert layer.input_names == ("a", "b") and layer.output_names == ("y",)
    a, b = np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0], np.float32)
    assert_same(np.asarray(layer([a, b])), a * b)
    assert_same(np.asarray(layer({"a": a, "b": b})), a * b)
    ints = MaskLayer("x // 2")
    assert_same(np.asarray(ints(np.array([5, -3], np.int32))), np.array([2, -2], np.int32))   # no autocast
    with pytest.raises(maskdsl.InputError, match="got 1 inputs, the program takes 2"):
        layer([a])
    with pytest.raises(maskdsl.InputError, match="not int"):
        MaskLayer(3)
    with pytest.raises(maskdsl.InputError, match="fixed= needs a pipeline"):
        MaskLayer("y = a", fixed={"a": 1})


# Saved by maskdsl 0.1.0 before its modules moved into family folders: a model saved by an
# earlier layout must keep loading (Keras finds MaskLayer as maskdsl.keras>MaskLayer).
SAVED = ROOT / "tests" / "fixtures" / "keras"


@pytest.mark.slow
def test_a_program_layer_saved_before_the_layout_change_loads():
    loaded = keras.models.load_model(SAVED / "mask_layer_0.1.0.keras")
    want = clean(X, 4).sum(axis=1, keepdims=True).repeat(2, axis=1)
    assert_same(loaded.predict(X, verbose=0), want)


@pytest.mark.slow
def test_a_pipeline_layer_saved_before_the_layout_change_loads():
    loaded = keras.models.load_model(SAVED / "pipeline_layer_0.1.0.keras")
    got = loaded.predict(X, batch_size=3, verbose=0)
    want = clean(X, 5)
    ok = np.all(want >= 0, axis=1)
    assert_same(got["x"], want)
    assert_same(got["rows"], want[ok])
