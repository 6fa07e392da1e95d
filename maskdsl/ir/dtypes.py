"""Types: NumPy dtype names, shapes with unknown dimensions, and weak Python literals.

Result dtypes are never looked up in a table of ours: they are asked of NumPy itself,
by running the operation on zero-size stand-ins (cached). Python literals are "weak"
(NEP 50): `int8_array + 1` stays int8, and `1 + 2` is still a literal.

>>> Type.parse("float32[None, 3]")
Type(dtype='float32', shape=(None, 3), weak=False)
>>> result_dtype("add", [Type("int8", ()), Type("int64", (), weak=True)])
('int8', False)
>>> result_dtype("truediv", [Type("int32", ()), Type("int32", ())])
('float64', False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from maskdsl import limits
from maskdsl.errors import DTypeError, ShapeError

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")
INT_DTYPES = frozenset(d for d in DTYPES if "int" in d)
FLOAT_DTYPES = frozenset(d for d in DTYPES if d.startswith("float"))
# The dtype a weak literal takes when it has to become an array on its own.
WEAK_DEFAULT = {"bool": "bool", "int64": "int64", "float64": "float64"}
# Stand-ins for weak literals when asking NumPy for a result dtype.
WEAK_SAMPLE = {"bool": False, "int64": 0, "float64": 0.0}

Shape = tuple  # tuple[int | None, ...]
_DIGITS = re.compile(r"[0-9]+\Z")   # ASCII only: str.isdigit() is true of '²' and '٣'


def _shorten(text: str) -> str:
    """Text for a message, cut short (a spec can hold a dimension of thousands of digits)."""
    return text if len(text) <= 60 else f"{text[:40]}...{text[-12:]}"


@dataclass(frozen=True)
class Type:
    """The static type of a value: dtype, shape (None = unknown dimension), weakness."""

    dtype: str
    shape: Shape
    weak: bool = False

    _SPEC = re.compile(r"^\s*([a-z0-9]+)\s*(?:\[(.*)\])?\s*$")

    @classmethod
    def parse(cls, spec: str) -> Type:
        """Parse a type spec such as "float32", "int64[5]" or "float32[None, 3]" (a dimension of
        any size is None, or -1 as TensorFlow writes it, or ? as maskdsl prints it)."""
        if isinstance(spec, Type):
            return spec
        if not isinstance(spec, str):
            raise DTypeError(f"a type spec must be a string like 'float32[None, 3]', not {spec!r}")
        m = cls._SPEC.match(spec)
        if not m or m.group(1) not in DTYPES:
            raise DTypeError(f"bad type spec {_shorten(spec)!r}: expected a dtype ({', '.join(DTYPES)}) "
                             f"optionally followed by dimensions, as in 'float32[None, 3]'")
        dims = []
        body = (m.group(2) or "").strip()
        for part in (p.strip() for p in body.split(",")) if body else ():
            if part in ("None", "?", "-1"):
                dims.append(None)
            elif _DIGITS.match(part) and len(part.lstrip("0")) <= 19 and int(part) <= limits.MAX_DIMENSION:
                dims.append(int(part))
            elif _DIGITS.match(part):
                raise DTypeError(f"dimension {_shorten(part)} in type spec {_shorten(spec)!r} is larger than int64 "
                                 f"({limits.MAX_DIMENSION})")
            else:  # '²' and '٣' are digits to str.isdigit(), not to a type spec
                raise DTypeError(f"bad dimension {_shorten(part)!r} in type spec {_shorten(spec)!r}: "
                                 f"use a non-negative integer (ASCII digits 0-9), or None (also written -1 or ?) "
                                 f"for a dimension of any size")
        return cls(m.group(1), tuple(dims))

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        base = f"{self.dtype}{shape_text(self.shape)}" if self.shape else self.dtype
        return f"weak {base}" if self.weak else base


# How a shape is written for each reader: (unknown dimension, separator, brackets).
SHAPE_STYLES = {
    "spec": ("None", ", ", "[]"),   # a type spec, as signatures take it: float32[None, 3]
    "ir": ("?", ",", "[]"),         # the IR printer's compact form: float32[?,3]
    "numpy": ("?", ", ", "()"),     # NumPy's messages: (3,) and (2, 3)
}


def shape_text(shape, style: str = "spec") -> str:
    """A shape as text in one of SHAPE_STYLES.

    >>> shape_text((None, 3)), shape_text((None, 3), "ir"), shape_text((3,), "numpy")
    ('[None, 3]', '[?,3]', '(3,)')
    """
    unknown, separator, (left, right) = SHAPE_STYLES[style]
    dims = separator.join(unknown if d is None else str(d) for d in shape)
    one_tuple = "," if style == "numpy" and len(shape) == 1 else ""
    return f"{left}{dims}{one_tuple}{right}"


@lru_cache(maxsize=64)
def dtype_kind(dtype: str) -> str:
    """'b', 'i', 'u' or 'f'."""
    return np.dtype(dtype).kind


@lru_cache(maxsize=64)
def _int_range(dtype: str) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def literal_type(value) -> Type:
    """The weak type of a Python literal."""
    if isinstance(value, bool):
        return Type("bool", (), weak=True)
    if isinstance(value, int):
        return Type("int64", (), weak=True)
    return Type("float64", (), weak=True)


@lru_cache(maxsize=4096)
def _ask_numpy(fn_name: str, keys: tuple) -> tuple[str, str | None]:
    """Result dtype of NumPy function `fn_name` on stand-ins; (dtype, None) or (None, error)."""
    from maskdsl.ir.ops import OPS, REDUCTIONS  # the same functions the reference evaluator runs
    fn = OPS[fn_name].numpy if fn_name in OPS else REDUCTIONS[fn_name].numpy
    args = [WEAK_SAMPLE[d] if weak else np.zeros((), dtype=d) for d, weak in keys]
    try:
        # np.errstate only: it is thread-local, while warnings.catch_warnings() swaps the process's
        # filters and, entered from several threads, can leave "ignore everything" installed
        with np.errstate(all="ignore"):
            out = fn(*args)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as e:
        return None, str(e).split("\n")[0]
    return np.asarray(out).dtype.name, None


def result_dtype(op: str, types: list[Type]) -> tuple[str, bool]:
    """(dtype, weak) of applying `op` to operands of these types, as NumPy 2 decides it.

    Weak operands only stay weak if every operand is weak and the op is a Python operator
    (Python's own arithmetic on literals); functions always return strong NumPy values.
    """
    dtype, weak, error = _result(op, tuple((t.dtype, t.weak and t.shape == ()) for t in types))
    if error is not None:
        described = ", ".join(str(t) for t in types)
        raise DTypeError(f"{op} is not defined for {described} (NumPy: {error})")
    return dtype, weak


@lru_cache(maxsize=4096)
def _result(op: str, keys: tuple) -> tuple[str | None, bool, str | None]:
    dtype, error = _ask_numpy(op, keys)
    if error is not None:
        return None, False, error
    from maskdsl.ir.ops import OPS
    weak = op in OPS and OPS[op].python is not None and all(w for _, w in keys)
    if weak:  # Python's own arithmetic on literals: bools become ints (True + True == 2)
        sample = {"bool": True, "int64": 1, "float64": 1.5}
        value = OPS[op].python(*(sample[d] for d, _ in keys))
        dtype = literal_type(value).dtype
    return dtype, weak, None


def can_cast(from_dtype: str, to_dtype: str, casting: str = "same_kind") -> bool:
    return bool(np.can_cast(np.dtype(from_dtype), np.dtype(to_dtype), casting=casting))


def check_literal_fits(value, dtype: str) -> str | None:
    """Why a Python literal cannot become `dtype` (as NumPy 2 refuses it), or None."""
    kind = dtype_kind(dtype)
    if isinstance(value, bool) or kind == "b":
        return None
    if isinstance(value, int) and kind in "iu":
        low, high = _int_range(dtype)
        if not low <= value <= high:
            return f"Python integer {value} out of bounds for {dtype}"
    if isinstance(value, float) and kind in "iu":
        if value != value:
            return "cannot convert float NaN to integer"
        if value in (float("inf"), float("-inf")):
            return "cannot convert float infinity to integer"
        low, high = _int_range(dtype)
        if not low <= int(value) <= high:
            return f"float {value} out of bounds for {dtype}"
    return None


def broadcast_shapes(*shapes: Shape) -> Shape | None:
    """NumPy broadcasting with unknown (None) dimensions; None if they cannot broadcast.

    An unknown dimension against a known one n > 1 is taken to be n (checked at run time);
    against 1 or another unknown it stays unknown.
    """
    if len(shapes) == 2 and (shapes[0] == shapes[1] or shapes[1] == ()):  # the common cases
        return tuple(shapes[0])
    if len(shapes) == 2 and shapes[0] == ():
        return tuple(shapes[1])
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            return None
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def broadcast_or_raise(shapes: list[Shape], span=None, what: str = "operands") -> Shape:
    out = broadcast_shapes(*shapes)
    if out is None:
        shown = " and ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(f"{what} with shapes {shown} do not broadcast together", span)
    return out


def numel(shape: Shape) -> int | None:
    n = 1
    for d in shape:
        if d is None:
            return None
        n *= d
    return n
