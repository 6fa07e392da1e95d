"""Values against their declared types: one rule for every path data takes.

A value fits a declared type such as `int8[None, 3]` when it has the declared rank,
each fixed dimension has the declared size, its dtype is one maskdsl supports and
converts to the declared dtype under NumPy's same_kind rule, and converting it
changes no value: no wrap-around (int64 300 is not int8 44) and no overflow to
infinity (float64 1e300 is not float32 inf); rounding a float to a narrower float is
not a change. The Python API (`maskdsl.compile(signature=...)`), `maskdsl run` (data
files and --set), pipelines (fixed inputs, dataset elements) and the Keras layer all
ask these functions, and each says the answer in its caller's words. Plain NumPy: no
TensorFlow.

Where values are tensors in someone else's graph (dataset.map, a Keras model), the
check runs inside the graph: `conversion_guard` says what a value must satisfy to
survive a conversion (bounds, or staying finite), and is None when every value does,
so data of the declared dtype costs nothing. `find_lost` says where the first value
that did not survive was, for messages that name the row.

>>> want = Type.parse("int8[None, 3]")
>>> shape_misfit((5, 3), want), shape_misfit((5,), want), shape_misfit((5, 4), want)
(None, Misfit(code='rank', axis=None), Misfit(code='dimension', axis=1))
>>> dtype_misfit("int64", want), dtype_misfit("float32", want), dtype_misfit("complex64", want)
(None, Misfit(code='dtype-kind', axis=None), Misfit(code='unsupported-dtype', axis=None))
>>> cast_exactly(np.array([1, 300]), "int8")
(array([ 1, 44], dtype=int8), 300)
>>> find_lost(np.array([[1, 2], [3, 300]]), "int8")[1].where
' in row 1 (at [1, 1])'
>>> conversion_guard("int64", "int8"), conversion_guard("int8", "int64"), conversion_guard("float64", "float32")
(Guard(low=-128, high=127, finite=False), None, Guard(low=None, high=None, finite=True))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from maskdsl.ir.dtypes import DTYPES, Type

# Misfit.code, and the `code` of the errors front ends raise for them
RANK, DIMENSION = "rank", "dimension"
UNSUPPORTED_DTYPE, DTYPE_KIND = "unsupported-dtype", "dtype-kind"
VALUE_LOST = "value-lost"   # cast_exactly found a value the declared dtype cannot hold


@dataclass(frozen=True)
class Misfit:
    """Why a value cannot be its declared type: `code` is one of RANK, DIMENSION,
    UNSUPPORTED_DTYPE or DTYPE_KIND (no same_kind conversion); `axis` for DIMENSION."""

    code: str
    axis: int | None = None


def shape_misfit(shape, want: Type) -> Misfit | None:
    """None if a value of `shape` can be `want`: same rank, and each fixed dimension of `want`
    equal (a dimension of the value that is None, not known yet, is not a misfit)."""
    if len(shape) != len(want.shape):
        return Misfit(RANK)
    for axis, (have, need) in enumerate(zip(shape, want.shape)):
        if need is not None and have is not None and have != need:
            return Misfit(DIMENSION, axis)
    return None


def dtype_misfit(dtype: str, want: Type) -> Misfit | None:
    """None if values of `dtype` (a NumPy dtype name) may become `want.dtype`: a supported dtype
    that converts under NumPy's same_kind rule (whether each value survives is cast_exactly's)."""
    if dtype not in DTYPES:
        return Misfit(UNSUPPORTED_DTYPE)
    if dtype != want.dtype and not np.can_cast(np.dtype(dtype), np.dtype(want.dtype), "same_kind"):
        return Misfit(DTYPE_KIND)
    return None


@dataclass(frozen=True)
class Lost:
    """The first value that did not survive a conversion, and where it was (() for a scalar)."""

    value: object
    index: tuple

    @property
    def where(self) -> str:
        """' in row 3' (and the full position for more than one dimension), or '' for a scalar."""
        if not self.index:
            return ""
        row = f" in row {self.index[0]}"
        return row if len(self.index) == 1 else f"{row} (at [{', '.join(map(str, self.index))}])"


def find_lost(array: np.ndarray, dtype: str) -> tuple[np.ndarray, Lost | None]:
    """(array as `dtype`, None), or (the converted array, the first value that did not survive and
    where it was): a value wrapped around, or a finite value became infinite."""
    array = np.asarray(array)
    if array.dtype == np.dtype(dtype):
        return array, None
    with np.errstate(all="ignore"):
        out = array.astype(dtype)
        if out.dtype.kind in "iub":
            lost = (out != array) | (out.astype(array.dtype) != array)
        else:
            lost = np.isfinite(array) & ~np.isfinite(out)
    if np.any(lost):
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(lost)), lost.shape)) if lost.ndim else ()
        return out, Lost(array[index].item(), index)
    return out, None


def cast_exactly(array: np.ndarray, dtype: str) -> tuple[np.ndarray, object]:
    """(array as `dtype`, None), or (the converted array, the first value that did not survive
    as a Python scalar): find_lost without the position."""
    out, lost = find_lost(array, dtype)
    return out, None if lost is None else lost.value


@dataclass(frozen=True)
class Guard:
    """What a value must satisfy to survive a conversion: low <= value <= high (bounds in the
    source dtype; None where the source cannot cross it), and, with `finite`, a finite value must
    not become infinite."""

    low: int | None
    high: int | None
    finite: bool


def conversion_guard(source: str, target: str) -> Guard | None:
    """The check a conversion dtype_misfit allows needs at run time; None if every value of
    `source` survives as `target` (the same dtype, or NumPy's "safe" cast)."""
    if source == target or np.can_cast(np.dtype(source), np.dtype(target), "safe"):
        return None
    have, want = np.dtype(source), np.dtype(target)
    if have.kind in "iu" and want.kind in "iu":
        have_range, want_range = np.iinfo(have), np.iinfo(want)
        return Guard(int(want_range.min) if want_range.min > have_range.min else None,
                     int(want_range.max) if want_range.max < have_range.max else None, False)
    return Guard(None, None, True)   # to a narrower float: overflow to inf is the change (rounding is not)


def shown_value(value) -> str:
    """A value for a message: its repr, or the size of an integer too long to print (Python refuses
    to print one of more than 4,300 digits, and a message should not hold one of 40).

    >>> shown_value(300), shown_value(10**5000)
    ('300', 'an integer of 5,001 digits')
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    return repr(value)


def array_type(array: np.ndarray) -> Type:
    """An array's dtype and shape as a Type, which prints them the way type specs are written:
    `str(array_type(np.zeros((2, 3))))` is 'float64[2, 3]'."""
    return Type(array.dtype.name, tuple(array.shape))
