"""Config-driven pipelines: a YAML file -> a validated program -> runs, tf.data, SavedModel.

`config` reads and validates the YAML (TensorFlow-free), `rowwise` decides which steps
work row by row, `pipeline` holds the `Pipeline` object (TensorFlow).
"""

_LAZY = {
    "Pipeline": ("maskdsl.pipeline.pipeline", "Pipeline"),
    "PipelineWarning": ("maskdsl.pipeline.config", "PipelineWarning"),
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'maskdsl.pipeline' has no attribute {name!r}")
