"""The TensorFlow back end: IR -> TensorFlow Python source (`codegen`) and the helpers
the generated code calls (`runtime`). The only family that imports TensorFlow at module
level."""
