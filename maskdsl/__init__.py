"""maskdsl: NumPy-style boolean-indexing programs compiled to TensorFlow.

    >>> import maskdsl, numpy as np
    >>> maskdsl.evaluate("x[x > 4 & x % 2 == 0] *= 2; x", x=np.arange(10)).numpy()
    array([ 0,  1,  2,  3,  4,  5, 12,  7, 16,  9])

The front end (parser, IR, passes) imports without TensorFlow; `compile`, `evaluate`
and the pipeline API load it on first use.

**A quiet start.** When maskdsl loads TensorFlow, TensorFlow's start-up log stays off
stderr: absl's "All log messages before absl::InitializeLog() is called are written to
STDERR", the INFO lines about oneDNN and CUDA drivers, and the "failed call to cuInit"
ERROR of a machine without a GPU. TensorFlow prints them from C++ before its log level
(TF_CPP_MIN_LOG_LEVEL) applies, so maskdsl points stderr elsewhere while TensorFlow loads
and lists its devices, then passes on anything else that was written meanwhile. To see
the log, set `TF_CPP_MIN_LOG_LEVEL=0` (or 1) before maskdsl loads TensorFlow: then nothing
is hidden. Unset, maskdsl sets it to 2 (TensorFlow's ERROR lines stay visible once it
runs). A TensorFlow imported before maskdsl has already printed its log.
"""

from maskdsl.errors import (ConfigError, DataError, DTypeError, IndexOutOfRangeError, InputError, LimitError,
                     MaskDSLError, ParseError, ShapeError, UnknownNameError, ValueDSLError)

from maskdsl.version import __version__

_LAZY = {
    "compile": ("compiler", "compile"),
    "evaluate": ("compiler", "evaluate"),
    "CompiledProgram": ("compiler", "CompiledProgram"),
    "Pipeline": ("pipeline.pipeline", "Pipeline"),
}

__all__ = ["compile", "evaluate", "CompiledProgram", "Pipeline", "MaskDSLError", "ParseError",
           "UnknownNameError", "DTypeError", "ShapeError", "IndexOutOfRangeError", "ValueDSLError",
           "LimitError", "InputError", "ConfigError", "DataError", "__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'maskdsl' has no attribute {name!r}")


def load_ipython_extension(ipython):
    """`%load_ext maskdsl` in IPython or Jupyter: the %maskdsl and %%maskdsl magics (docs/notebooks.md)."""
    from maskdsl.cli.notebook import load_ipython_extension as load
    load(ipython)


def unload_ipython_extension(ipython):
    """`%unload_ext maskdsl` (and `%reload_ext maskdsl`): remove the magics."""
    from maskdsl.cli.notebook import unload_ipython_extension as unload
    unload(ipython)
