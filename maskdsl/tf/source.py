"""Python source text for values the generated code holds: literals and dtypes, printed
from parsed values, never from the program's text.

>>> literal((1.5, float("nan"), True)), tf_dtype("int8")
('[1.5, rt.nan, True]', 'tf.int8')
"""

from __future__ import annotations

import math

import numpy as np

from maskdsl.ir.dtypes import dtype_kind
from maskdsl.language.names import IDENTIFIER


def literal(value) -> str:
    """Python source for a parsed literal value (never user text)."""
    if isinstance(value, tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "rt.nan"
        if math.isinf(value):
            return "rt.inf" if value > 0 else "-rt.inf"
        return repr(float(value))
    raise TypeError(f"not a literal: {value!r}")


def converted(value, dtype: str):
    """A literal as `dtype` would hold it (2.7 -> 2 for integers: NumPy's unsafe cast on assignment).

    A list literal is the NumPy array of its values, cast as `astype` casts ([2.5, -1] into int8
    is [2, -1], [2, 7] into bool [True, True]); a Python int outside an integer dtype wraps, as
    where() converts it (type inference has refused it wherever NumPy does).

    >>> converted((2.5, -1), "int8"), converted((2, 0), "bool"), converted(300, "int8"), converted(-1, "uint8")
    ((2, -1), (True, False), 44, 255)
    """
    kind = dtype_kind(dtype)
    if isinstance(value, tuple):
        with np.errstate(all="ignore"):
            array = np.array(value)
            return _nested_tuple(array.astype(dtype).tolist()) if array.dtype.name != dtype else value
    if kind in "iu" and isinstance(value, int) and not isinstance(value, bool):
        bits = np.dtype(dtype).itemsize * 8
        wrapped = value % 2 ** bits
        return wrapped - 2 ** bits if kind == "i" and wrapped >= 2 ** (bits - 1) else wrapped
    if kind == "f" and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) and abs(value) > float(np.finfo(dtype).max):
        with np.errstate(over="ignore"):  # beyond the largest float: inf, as NumPy's cast makes it
            held = float(np.array(value).astype(dtype))
        return held if math.isinf(held) else value
    if (kind in "iu" and isinstance(value, float)) or (kind == "b" and not isinstance(value, tuple)):
        with np.errstate(all="ignore"):  # NumPy's unsafe cast, as assignment does (inf, nan included)
            return np.array(value).astype(dtype).item()
    return value


def _nested_tuple(value):
    return tuple(_nested_tuple(v) for v in value) if isinstance(value, list) else value


def tf_dtype(dtype: str) -> str:
    if not IDENTIFIER.match(dtype):
        raise ValueError(dtype)
    return f"tf.{dtype}"
