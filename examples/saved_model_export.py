"""Export a compiled program as a SavedModel and run it from the SavedModel.

The SavedModel holds only TensorFlow ops (the generated code and the runtime helpers
it calls are traced into the graph), so `tf.saved_model.load` runs it where maskdsl
is not installed — TensorFlow Serving, a C++ or Java client. For a pipeline file,
`maskdsl export PIPELINE OUT_DIR` does the same with a signature per declared input.
"""

import sys
import tempfile

import numpy as np
import tensorflow as tf

import maskdsl

PROGRAM = "x[isnan(x)] = 0.0; x[x > limit] = limit; x"
SIGNATURE = {"x": "float32[None]", "limit": "float32"}


def export(directory):
    f = maskdsl.compile(PROGRAM, signature=SIGNATURE)
    module = tf.Module()
    module.clean = f.tf_function                 # a tf.function with the signature's TensorSpecs
    tf.saved_model.save(module, directory, signatures={"serving_default": f.tf_function})
    return directory


def main(directory=None):
    x = np.array([1.0, np.nan, 250.0, 7.5, -3.0], np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = export(directory or tmp)
        loaded = tf.saved_model.load(path)
        serving = loaded.signatures["serving_default"]
        print(f"exported to {path}; serving signature inputs: {sorted(serving.structured_input_signature[1])}")
        result = serving(x=tf.constant(x), limit=tf.constant(5.0))["output_0"].numpy()  # a lone output
        direct = loaded.clean(tf.constant(x), tf.constant(5.0)).numpy()
    print(f"{x} -> {result}")
    assert np.array_equal(result, direct)
    return result


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
