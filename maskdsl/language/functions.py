"""The built-in function registry: one entry per function.

Each entry says how many arguments the function takes, which keywords, and the IR op it
lowers to (with what that op needs besides the arguments: a reduction kind, a cast's
dtype, a fill value). Everything else about the op is in its row of ir/ops.py: result
dtypes come from NumPy (dtypes.result_dtype), costs from its cost class, and its
reference and TensorFlow lowering are registered by op. Adding a function of an
existing op kind is adding a line here; a new IR op is also a line in ops.py and one
in tf/lowerings.py (docs/internals.md, "Adding a built-in function").

>>> FUNCTIONS["sqrt"].max_args, FUNCTIONS["sum"].keywords, FUNCTIONS["sum"].op
(1, ('axis', 'keepdims', 'dtype'), 'reduce')
>>> METHODS["flatten"].function, METHODS["T"].attribute
('ravel', True)
>>> "sum" in FUNCTIONS and "eval" not in FUNCTIONS
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from maskdsl.ir.dtypes import DTYPES
from maskdsl.ir.ops import REDUCTIONS, STATISTICS


@dataclass(frozen=True)
class Builtin:
    name: str
    min_args: int
    max_args: int
    op: str                         # the IR op it lowers to (a key of ir.ops.OPS)
    variant: object = None          # what the op needs besides the arguments: the reduction kind
                                    # (reduce), the dtype (cast), the fill value (fill; None: an argument)
    keywords: tuple[str, ...] = ()
    summary: str = ""
    numpy: bool = True              # also spelt np.<name> (NumPy has a function of that name)


@dataclass(frozen=True)
class Method:
    """`x.name(...)` is the function `function` with x as its first argument; an attribute
    (`x.T`) is the same call without parentheses."""
    name: str
    function: str                   # a key of FUNCTIONS
    attribute: bool = False         # read as `x.name`, never called
    packs_arguments: bool = False   # `x.reshape(2, 3)` is reshape(x, (2, 3))


_DTYPE_REDUCTIONS = ("sum", "mean", "prod")  # NumPy's reductions with a dtype= (the accumulator)


def _elementwise(name, n, summary):
    """A function that is the element-wise IR op of the same name."""
    return Builtin(name, n, n, name, None, (), summary)


_ENTRIES = [
    Builtin("where", 1, 3, "where", None, (),
            "where(c, a, b) or where(c): a where c is true, else b; where(c) is nonzero(c)"),
    _elementwise("abs", 1, "absolute value"),
    _elementwise("sign", 1, "-1, 0 or 1"),
    _elementwise("sqrt", 1, "square root (nan for negatives)"),
    _elementwise("exp", 1, "e**x"),
    _elementwise("log", 1, "natural logarithm"),
    _elementwise("log1p", 1, "log(1 + x), accurate near 0"),
    _elementwise("expm1", 1, "exp(x) - 1, accurate near 0"),
    _elementwise("sin", 1, "sine"),
    _elementwise("cos", 1, "cosine"),
    _elementwise("tan", 1, "tangent"),
    _elementwise("tanh", 1, "hyperbolic tangent"),
    _elementwise("floor", 1, "round down"),
    _elementwise("ceil", 1, "round up"),
    _elementwise("round", 1, "round half to even"),
    _elementwise("isnan", 1, "true where nan"),
    _elementwise("isinf", 1, "true where +-inf"),
    _elementwise("isfinite", 1, "true where neither nan nor inf"),
    _elementwise("minimum", 2, "element-wise minimum (nan wins)"),
    _elementwise("maximum", 2, "element-wise maximum (nan wins)"),
    _elementwise("clip", 3, "clip(x, lo, hi): limit to [lo, hi]"),
    _elementwise("fmod", 2, "C's remainder: the sign of the dividend (x fmod 0 is nan, or 0 for integers)"),
    _elementwise("square", 1, "x * x"),
    _elementwise("reciprocal", 1, "1 / x; on integers C's integer 1 / x (0 for 0)"),
    _elementwise("exp2", 1, "2**x"),
    _elementwise("log2", 1, "base-2 logarithm"),
    _elementwise("log10", 1, "base-10 logarithm"),
    _elementwise("sinh", 1, "hyperbolic sine"),
    _elementwise("cosh", 1, "hyperbolic cosine"),
    _elementwise("arcsin", 1, "inverse sine"),
    _elementwise("arccos", 1, "inverse cosine"),
    _elementwise("arctan", 1, "inverse tangent"),
    _elementwise("arctan2", 2, "arctan2(y, x): the angle of the point (x, y)"),
    _elementwise("hypot", 2, "sqrt(a**2 + b**2) without overflow"),
    _elementwise("deg2rad", 1, "degrees to radians"),
    _elementwise("rad2deg", 1, "radians to degrees"),
    _elementwise("trunc", 1, "round toward zero"),
    _elementwise("logical_and", 2, "a and b as booleans (non-zero is true)"),
    _elementwise("logical_or", 2, "a or b as booleans"),
    _elementwise("logical_xor", 2, "a xor b as booleans"),
    # NumPy's names of the operators: the operator's op
    Builtin("negative", 1, 1, "neg", summary="-x"),
    Builtin("positive", 1, 1, "pos", summary="+x"),
    Builtin("absolute", 1, 1, "abs", summary="absolute value (abs)"),
    Builtin("true_divide", 2, 2, "truediv", summary="a / b"),
    Builtin("divide", 2, 2, "truediv", summary="a / b"),
    Builtin("floor_divide", 2, 2, "floordiv", summary="a // b"),
    Builtin("mod", 2, 2, "mod", summary="a % b (the sign of the divisor)"),
    Builtin("remainder", 2, 2, "mod", summary="a % b (the sign of the divisor)"),
    Builtin("power", 2, 2, "pow", summary="a ** b"),
    Builtin("add", 2, 2, "add", summary="a + b"),
    Builtin("subtract", 2, 2, "sub", summary="a - b"),
    Builtin("multiply", 2, 2, "mul", summary="a * b"),
    Builtin("logical_not", 1, 1, "not", summary="not x, as a boolean (zero is false)"),
    *[Builtin(kind, 1, 2, "reduce", kind, ("axis", "keepdims", "dtype") if kind in _DTYPE_REDUCTIONS
              else ("axis", "keepdims"),
              "number of true (non-zero) elements" if kind == "count" else f"{kind} over axis (all by default)",
              numpy=kind != "count")
      for kind in REDUCTIONS if kind not in STATISTICS],
    Builtin("count_nonzero", 1, 2, "reduce", "count", ("axis", "keepdims"), "number of non-zero elements (count)"),
    *[Builtin(dtype, 1, 1, "cast", dtype, (), f"convert to {dtype}") for dtype in DTYPES],
    Builtin("astype", 2, 2, "cast", None, (), "astype(x, dtype): convert to dtype (x.astype(float32))"),
    Builtin("copy", 1, 1, "copy", None, (), "x itself (values are never aliased)"),
    Builtin("ravel", 1, 1, "reshape", (-1,), (), "the elements as a 1-d array (x.flatten())"),
    Builtin("reshape", 2, 2, "reshape", None, (), "reshape(x, shape): a constant shape, one -1 at most"),
    Builtin("transpose", 1, 1, "transpose", None, (), "the axes reversed (x.T)"),
    Builtin("ndim", 1, 1, "ndim", None, (), "the number of dimensions of x"),
    Builtin("len", 1, 1, "len", None, (), "the first dimension of x (an error for a 0-d x)", numpy=False),
    Builtin("arange", 1, 3, "arange", None, (), "arange(stop) or arange(start, stop[, step])"),
    Builtin("zeros", 1, 1, "fill", 0.0, (), "zeros(shape): float64 zeros"),
    Builtin("ones", 1, 1, "fill", 1.0, (), "ones(shape): float64 ones"),
    Builtin("full", 2, 2, "fill", None, (), "full(shape, value)"),
    Builtin("shape", 1, 1, "shape", None, (), "the dimensions of x, as an int64 vector"),
    Builtin("size", 1, 1, "size", None, (), "the number of elements of x"),
    # statistics (issue 14): NaN-skipping reductions, moments, arg-reductions, cumulative sums
    *[Builtin(kind, 1, 2, "reduce", kind, keywords, summary) for kind, keywords, summary in (
        ("nansum", ("axis", "keepdims", "dtype"), "sum treating nan as 0"),
        ("nanprod", ("axis", "keepdims", "dtype"), "product treating nan as 1"),
        ("nanmean", ("axis", "keepdims", "dtype"), "mean of the numbers (nan for an all-nan slice)"),
        ("nanmin", ("axis", "keepdims"), "min of the numbers (nan for an all-nan slice)"),
        ("nanmax", ("axis", "keepdims"), "max of the numbers (nan for an all-nan slice)"),
        ("std", ("axis", "keepdims", "dtype", "ddof"),
         "std(x[, axis], ddof=0, keepdims=False): standard deviation, sqrt(var)"),
        ("var", ("axis", "keepdims", "dtype", "ddof"),
         "var(x[, axis], ddof=0, keepdims=False): variance, sum((x - mean)**2) / (n - ddof)"),
        ("nanstd", ("axis", "keepdims", "dtype", "ddof"),
         "nanstd(x[, axis], ddof=0, keepdims=False): standard deviation of the numbers"),
        ("nanvar", ("axis", "keepdims", "dtype", "ddof"),
         "nanvar(x[, axis], ddof=0, keepdims=False): variance of the numbers (nan where n <= ddof)"),
        ("argmax", ("axis", "keepdims"), "index of the first maximum (the first nan if any)"),
        ("argmin", ("axis", "keepdims"), "index of the first minimum (the first nan if any)"),
    )],
    Builtin("cumsum", 1, 2, "cumulative", "cumsum", ("axis", "dtype"),
            "cumsum(x[, axis]): running sum along axis"),
    Builtin("cumprod", 1, 2, "cumulative", "cumprod", ("axis", "dtype"),
            "cumprod(x[, axis]): running product along axis"),
    Builtin("nan_to_num", 1, 1, "nan_to_num", None, ("nan", "posinf", "neginf"),
            "nan_to_num(x, nan=0.0, posinf=None, neginf=None): nan, inf and -inf replaced (None: the dtype's "
            "largest or smallest); integers unchanged"),
    Builtin("isclose", 2, 5, "isclose", None, ("rtol", "atol", "equal_nan"),
            "isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False): abs(a - b) <= atol + rtol * abs(b), "
            "element-wise"),
    # selections and order statistics (issue 14): sizes and orders that depend on the data
    Builtin("nonzero", 1, 1, "nonzero", None, (),
            "nonzero(x) or x.nonzero(): the indices of the non-zero elements, a tuple of arrays (one per "
            "dimension) to index with or take one of: x[nonzero(m)], nonzero(m)[0]"),
    Builtin("flatnonzero", 1, 1, "nonzero", "flat", (), "indices of the non-zero elements of x.ravel()"),
    Builtin("argwhere", 1, 1, "argwhere", None, (),
            "the coordinates of the non-zero elements, one row each (int64[n, ndim])"),
    Builtin("isin", 2, 2, "isin", None, (),
            "isin(x, values): true where an element of x is one of values (a list or an array)"),
    Builtin("select", 2, 3, "select_case", None, ("default",),
            "select([c1, c2], [a1, a2], default=0): the a of the first true c, else default"),
    Builtin("sort", 1, 2, "sort", None, ("axis",),
            "sort(x, axis=-1): sorted along axis (axis=None flattens), nan last"),
    Builtin("unique", 1, 1, "unique", None, (), "the distinct values, sorted and flattened (nan once, last)"),
    Builtin("median", 1, 2, "quantile", "median", ("axis", "keepdims"),
            "median(x, axis=None, keepdims=False): the median (nan if any is nan)"),
    Builtin("quantile", 2, 3, "quantile", "quantile", ("axis", "keepdims"),
            "quantile(x, q, axis=None, keepdims=False): q in [0, 1], a number or a list; "
            "linear interpolation"),
    Builtin("percentile", 2, 3, "quantile", "percentile", ("axis", "keepdims"),
            "percentile(x, q, axis=None, keepdims=False): q in [0, 100], a number or a list; "
            "linear interpolation"),
]

FUNCTIONS: dict[str, Builtin] = {b.name: b for b in _ENTRIES}

_METHOD_NAMES = ("sum", "mean", "min", "max", "prod", "any", "all", "astype", "clip", "round", "copy", "ravel",
                 "reshape", "transpose",
                 "std", "var", "argmax", "argmin", "cumsum", "cumprod")  # statistics
METHODS: dict[str, Method] = {m.name: m for m in (
    *[Method(name, name, packs_arguments=name == "reshape") for name in _METHOD_NAMES],
    Method("flatten", "ravel"),
    Method("T", "transpose", attribute=True),
    Method("shape", "shape", attribute=True),
    Method("size", "size", attribute=True),
    Method("ndim", "ndim", attribute=True),
    # selections and order statistics
    Method("nonzero", "nonzero"),
)}
"""NumPy's array methods and attributes: one row each, every one a function of FUNCTIONS."""

NAMESPACES = ("np", "numpy")
"""Prefixes a function, dtype or constant may be written with: `np.where`, `numpy.float32`."""

NUMPY_CONSTANTS = {"nan": float("nan"), "inf": float("inf"), "pi": math.pi, "e": math.e, "newaxis": None}
"""`np.<name>` constants (np.newaxis is None: a new axis in an index)."""

DTYPE_ALIASES = {"float": "float64", "int": "int64", "bool_": "bool", "int_": "int64", "double": "float64",
                 "single": "float32", "half": "float16"}
"""Other spellings of a dtype where one is expected (`x.astype(float)`, `np.double`): Python's
float and int are NumPy's float64 and int64. `float`/`int` stay ordinary names elsewhere."""
