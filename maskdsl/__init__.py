"""maskdsl: NumPy-style boolean-indexing programs compiled to TensorFlow.

    >>> import maskdsl, numpy as np
    >>> maskdsl.evaluate("x[x > 4 & x % 2 == 0] *= 2; x", x=np.arange(10)).numpy()
    array([ 0,  1,  2,  3,  4,  5, 12,  7, 16,  9])

The front end (parser, IR, passes) imports without TensorFlow; `compile`, `evaluate`
and the pipeline API load it on first use.
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
