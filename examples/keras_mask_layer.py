"""A Keras model whose first layer is a maskdsl program.

The MaskLayer cleans the features inside the model (missing readings -> 0, spikes
capped at 4), so the same cleaning runs in training, in `predict` and in the saved
model. It has no weights; the Dense layer after it learns y = 3*a - 2*b + c from data
that has nan and spikes in it.

    layer = MaskLayer("x[isnan(x)] = 0.0; x[x > 4] = 4; x")
"""

import keras
import numpy as np

from maskdsl.keras import MaskLayer

CLEAN = "x[isnan(x)] = 0.0\nx[x > 4] = 4\nx"
WEIGHTS = np.array([3.0, -2.0, 1.0], np.float32)


def make_data(rows=512, seed=7):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 3, size=(rows, 3)).astype(np.float32)
    x[rng.random((rows, 3)) < 0.05] = np.nan        # missing readings
    x[rng.random((rows, 3)) < 0.05] = 50.0          # spikes
    clean = np.where(np.isnan(x), 0.0, np.minimum(x, 4.0)).astype(np.float32)
    return x, clean @ WEIGHTS


def main(epochs=30):
    keras.utils.set_random_seed(0)
    x, y = make_data()
    inputs = keras.Input(shape=(3,), name="x")
    cleaned = MaskLayer(CLEAN, name="clean")(inputs)
    outputs = keras.layers.Dense(1, name="linear")(cleaned)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    history = model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    cleaner = keras.Model(inputs, cleaned)
    result = {
        "cleaned": cleaner.predict(x, verbose=0),
        "weights": model.get_layer("linear").get_weights()[0][:, 0],
        "loss": history.history["loss"],
        "inputs": x,
    }
    print(f"loss {result['loss'][0]:.3f} -> {result['loss'][-1]:.5f}; learned weights {np.round(result['weights'], 3)}")
    return result


if __name__ == "__main__":
    main()
