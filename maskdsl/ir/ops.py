"""The table of IR operations: one row per op, and the op families derived from it.

A row says how many arguments the op takes, which of them must be masks, how its result
dtype is found, its cost class and the families it belongs to (element-wise, comparison,
predicate, reduction, ...). Passes and back ends ask the families (`op in PREDICATES`)
instead of listing op names. An element-wise op's NumPy function is its definition: the
reference evaluator runs it and dtypes.result_dtype asks it for result dtypes.

The rest of an op lives in one table per consumer, each keyed by op name and checked
complete by tests/test_op_tables.py: its type rule (passes/infer_types.RULES), its NumPy
reference (ir/reference.RULES) and its TensorFlow lowering (tf/lowerings.LOWERINGS, or
for ops choose_strategy annotates, the lowering of their strategy in tf/strategies.py).

>>> int(OPS["add"].numpy(2, 3)), OPS["floordiv"].cost
(5, 'cheap')
>>> sorted(op for op, info in OPS.items() if info.risky)[:4]
['arccos', 'arcsin', 'cosh', 'exp']
>>> sorted(PREDICATES - COMPARISONS)
['isfinite', 'isinf', 'isnan', 'nonzero_mask', 'not']
>>> OPS["masked_reduce"].arity, OPS["masked_reduce"].masks
(2, (1,))
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from maskdsl import limits
from maskdsl.errors import LimitError, ValueDSLError


class Family:
    """Families of ops, declared on each row (an op belongs to one KIND and any flags)."""

    # kinds: what sort of node it is
    ELEMENTWISE = "elementwise"   # each result element from the same element of its (broadcast) arguments
    REDUCTION = "reduction"       # combines the elements of an array along axes
    INDEX = "index"               # reads or writes the elements an index selects
    SOURCE = "source"             # makes a value from attributes and scalars (inputs, constants, arange, fill)
    STRUCTURAL = "structural"     # about shapes: reads no element values, or only reshapes
    SCAN = "scan"                 # combines each element with the ones before it along an axis (cumsum)
    # flags
    COMPARISON = "comparison"     # compares two values; computed in NumPy's comparison dtype
    PREDICATE = "predicate"       # a bool result computed in its operands' own dtype (never cast afterwards)
    LOGICAL_NOT = "logical_not"   # on booleans, logical negation (`~m`, `not m`)
    UPDATE = "update"             # a new version of its first argument with some elements replaced
    SHAPE_QUERY = "shape_query"   # depends only on its argument's shape (known when the shape is)
    DATA_SHAPE = "data_shape"     # its result's size depends on its argument's values (nonzero, unique)


KINDS = (Family.ELEMENTWISE, Family.REDUCTION, Family.INDEX, Family.SOURCE, Family.STRUCTURAL, Family.SCAN)


class DtypeRule:
    """How an op's result dtype is found (infer_types applies it; verify checks the simple ones)."""

    PROMOTE = "promote"           # NumPy's result dtype of the op's function on the operand types (NEP 50)
    RESULT_TYPE = "result_type"   # NumPy's result_type of the arguments (arange)
    REDUCTION = "reduction"       # NumPy's result dtype of the reduction kind (attribute `kind`)
    FROM_ATTR = "from_attr"       # the `dtype` attribute (cast)
    OF_FIRST = "of_first"         # the first argument's dtype
    INT64 = "int64"
    GIVEN = "given"               # an input's bound type, a constant's own


@dataclass(frozen=True)
class Op:
    name: str
    arity: int                    # arguments; for an `indexed` op, the arguments besides its index operands
    kind: str                     # one of KINDS
    dtype: str                    # a DtypeRule
    cost: str = "cheap"           # cost class; the weights live in passes/cost_weights.json
    flags: frozenset = frozenset()  # further Family flags
    numpy: Callable | None = None   # the NumPy function that defines an element-wise op
    python: Callable | None = None  # Python operator for two literals (weak stays weak)
    risky: bool = False           # can make inf/nan/errors on masked-out elements
    # for a risky op: the kinds of compute dtype ("f": float) on which masked-out elements can only
    # make inf/nan, which the dense update discards: only gradients need guarding (grad_guard on
    # the arrays the value reads). On other kinds the forward pass can fail or differ (a run-time
    # check, a division by zero): its inputs are masked, masked-out elements see where(mask, v, 1)
    discards: str = ""
    indexed: bool = False         # (x, *index operands, *rest): the `index` attribute says how many operands
    masks: tuple[int, ...] = ()   # positions of arguments that must be boolean masks
    negation: str | None = None   # for comparisons: the comparison that is its negation (without nan)

    @property
    def families(self) -> frozenset:
        return self.flags | {self.kind}


def _ew(name, n, fn, cost="cheap", python=None, risky=False, flags=(), negation=None, discards="f"):
    return Op(name, n, Family.ELEMENTWISE, DtypeRule.PROMOTE, cost, frozenset(flags), fn, python, risky,
              negation=negation, discards=discards if risky else "")


def _grad_guard(x, mask):
    """grad_guard's forward pass: x itself (its gradient is zero where mask is false)."""
    return x


def _not(x):
    return np.logical_not(x)


def _reciprocal(x):
    """np.reciprocal, with NumPy's integer reciprocal of 0 (a platform value) defined as 0,
    as maskdsl's integer division by zero is."""
    x = np.asarray(x)
    if x.dtype.kind == "b":
        x = x.astype(np.int8)  # NumPy's loop for bool
    if x.dtype.kind in "iu":
        return np.where(x == 0, np.zeros_like(x), np.reciprocal(np.where(x == 0, np.ones_like(x), x)))
    return np.reciprocal(x)


def _nonzero_mask(x):
    return np.not_equal(x, 0)


_COMPARISON = (Family.COMPARISON, Family.PREDICATE)
_PREDICATE = (Family.PREDICATE,)

_ELEMENTWISE = [
    # Python operators: literal-with-literal results stay literals (NEP 50 "weak").
    _ew("add", 2, np.add, python=operator.add),
    _ew("sub", 2, np.subtract, python=operator.sub),
    _ew("mul", 2, np.multiply, python=operator.mul),
    _ew("truediv", 2, np.true_divide, python=operator.truediv, risky=True),
    _ew("floordiv", 2, np.floor_divide, python=operator.floordiv, risky=True),
    _ew("mod", 2, np.remainder, python=operator.mod, risky=True),
    _ew("pow", 2, np.power, "transcendental", python=operator.pow, risky=True),
    _ew("and", 2, np.bitwise_and, "logical", python=operator.and_),
    _ew("or", 2, np.bitwise_or, "logical", python=operator.or_),
    _ew("xor", 2, np.bitwise_xor, "logical", python=operator.xor),
    _ew("eq", 2, np.equal, "compare", python=operator.eq, flags=_COMPARISON, negation="ne"),
    _ew("ne", 2, np.not_equal, "compare", python=operator.ne, flags=_COMPARISON, negation="eq"),
    _ew("lt", 2, np.less, "compare", python=operator.lt, flags=_COMPARISON, negation="ge"),
    _ew("le", 2, np.less_equal, "compare", python=operator.le, flags=_COMPARISON, negation="gt"),
    _ew("gt", 2, np.greater, "compare", python=operator.gt, flags=_COMPARISON, negation="le"),
    _ew("ge", 2, np.greater_equal, "compare", python=operator.ge, flags=_COMPARISON, negation="lt"),
    _ew("neg", 1, np.negative, python=operator.neg),
    _ew("pos", 1, np.positive, python=operator.pos),
    _ew("invert", 1, np.invert, "logical", python=operator.invert, flags=(Family.LOGICAL_NOT,)),
    _ew("not", 1, _not, "logical", python=operator.not_, flags=(Family.LOGICAL_NOT, Family.PREDICATE)),
    # functions: results are NumPy values (strong), even of literals
    _ew("abs", 1, np.abs),
    _ew("sign", 1, np.sign),
    _ew("sqrt", 1, np.sqrt, "transcendental", risky=True),
    _ew("exp", 1, np.exp, "transcendental", risky=True),
    _ew("log", 1, np.log, "transcendental", risky=True),
    _ew("log1p", 1, np.log1p, "transcendental", risky=True),
    _ew("expm1", 1, np.expm1, "transcendental", risky=True),
    _ew("sin", 1, np.sin, "transcendental"),
    _ew("cos", 1, np.cos, "transcendental"),
    _ew("tan", 1, np.tan, "transcendental"),
    _ew("tanh", 1, np.tanh, "transcendental"),
    _ew("floor", 1, np.floor),
    _ew("ceil", 1, np.ceil),
    _ew("round", 1, np.round),
    _ew("isnan", 1, np.isnan, "compare", flags=_PREDICATE),
    _ew("isinf", 1, np.isinf, "compare", flags=_PREDICATE),
    _ew("isfinite", 1, np.isfinite, "compare", flags=_PREDICATE),
    _ew("minimum", 2, np.minimum, "compare"),
    _ew("maximum", 2, np.maximum, "compare"),
    _ew("where", 3, np.where, "select"),
    _ew("clip", 3, np.clip, "compare"),
    # the NumPy vocabulary beyond the seed's (issue 14): each defined by its NumPy function
    _ew("fmod", 2, np.fmod, risky=True),
    _ew("square", 1, np.square),
    _ew("reciprocal", 1, _reciprocal, risky=True),
    _ew("exp2", 1, np.exp2, "transcendental", risky=True),
    _ew("log2", 1, np.log2, "transcendental", risky=True),
    _ew("log10", 1, np.log10, "transcendental", risky=True),
    _ew("sinh", 1, np.sinh, "transcendental", risky=True),
    _ew("cosh", 1, np.cosh, "transcendental", risky=True),
    _ew("arcsin", 1, np.arcsin, "transcendental", risky=True),
    _ew("arccos", 1, np.arccos, "transcendental", risky=True),
    _ew("arctan", 1, np.arctan, "transcendental"),
    _ew("arctan2", 2, np.arctan2, "transcendental"),
    _ew("hypot", 2, np.hypot, "transcendental"),
    _ew("deg2rad", 1, np.deg2rad),
    _ew("rad2deg", 1, np.rad2deg),
    _ew("trunc", 1, np.trunc),
    _ew("logical_and", 2, np.logical_and, "logical"),
    _ew("logical_or", 2, np.logical_or, "logical"),
    _ew("logical_xor", 2, np.logical_xor, "logical"),
]

_OTHERS = [
    Op("input", 0, Family.SOURCE, DtypeRule.GIVEN, "free"),
    Op("const", 0, Family.SOURCE, DtypeRule.GIVEN, "free"),
    Op("arange", 3, Family.SOURCE, DtypeRule.RESULT_TYPE),                 # (start, stop, step)
    Op("fill", 1, Family.SOURCE, DtypeRule.OF_FIRST),                      # (value); attribute shape
    Op("cast", 1, Family.ELEMENTWISE, DtypeRule.FROM_ATTR),                # attribute dtype
    # reduce(x): attributes kind (a REDUCTIONS row), axis, keepdims
    Op("reduce", 1, Family.REDUCTION, DtypeRule.REDUCTION, "reduce"),
    # masked_reduce(x, mask): reduce(x[mask]) for a mask over x's leading dims, no dynamic shape
    Op("masked_reduce", 2, Family.REDUCTION, DtypeRule.REDUCTION, "reduce", masks=(1,)),
    # select(x, *index operands): x[index]
    Op("select", 1, Family.INDEX, DtypeRule.OF_FIRST, "gather", indexed=True),
    # update(x, *index operands, value): x with x[index] = value (value broadcast to the selection)
    Op("update", 2, Family.INDEX, DtypeRule.OF_FIRST, "scatter", frozenset((Family.UPDATE,)), indexed=True),
    # dense_update(x, *index operands, value): x with x[index] = value[index], value broadcast to x's
    # shape (the new value computed on the whole array: a tf.where)
    Op("dense_update", 2, Family.INDEX, DtypeRule.OF_FIRST, "select", frozenset((Family.UPDATE,)), indexed=True),
    # adaptive_update(x, mask, dense value, sparse value): x with x[mask] = sparse value for a mask over
    # x's leading dims; the dense value is the same new value computed on the whole array (as in
    # dense_update). Which one is computed is decided at run time (attribute threshold).
    Op("adaptive_update", 4, Family.INDEX, DtypeRule.OF_FIRST, "scatter", frozenset((Family.UPDATE,)),
       masks=(1,)),
    Op("shape", 1, Family.STRUCTURAL, DtypeRule.INT64, "free", frozenset((Family.SHAPE_QUERY,))),
    Op("size", 1, Family.STRUCTURAL, DtypeRule.INT64, "free", frozenset((Family.SHAPE_QUERY,))),
    Op("ndim", 1, Family.STRUCTURAL, DtypeRule.INT64, "free", frozenset((Family.SHAPE_QUERY,))),
    Op("len", 1, Family.STRUCTURAL, DtypeRule.INT64, "free", frozenset((Family.SHAPE_QUERY,))),
    # transpose(x): x.T, the axes reversed; reshape(x): attribute shape (at most one -1)
    Op("transpose", 1, Family.STRUCTURAL, DtypeRule.OF_FIRST, "gather"),
    Op("reshape", 1, Family.STRUCTURAL, DtypeRule.OF_FIRST, "free"),
    # expand(m): a mask over leading dims reshaped to broadcast against the whole array (attribute trailing)
    Op("expand", 1, Family.STRUCTURAL, DtypeRule.OF_FIRST, "free", masks=(0,)),
    # spread(x, mask, values): x with x[mask] = values (values broadcast to the selection) for a mask
    # over x's leading dims, computed on the whole array with static shapes: each selected element
    # gathers the value at its rank among the selected ones (a running count of the mask)
    Op("spread", 3, Family.INDEX, DtypeRule.OF_FIRST, "gather", masks=(1,)),
    # grad_guard(v, mask): v, whose gradient is zero where mask is false (mask broadcasts to v's shape).
    # Wraps the arrays a dense update's value reads when risky float ops in it run unmasked: the
    # nan their gradients make at masked-out elements (0 * inf) is selected away before it
    # reaches the inputs
    Op("grad_guard", 2, Family.ELEMENTWISE, DtypeRule.OF_FIRST, "free", numpy=_grad_guard, masks=(1,)),
    # statistics (issue 14)
    # nan_to_num(x): attributes nan, posinf, neginf (None: NumPy's default, the dtype's largest and smallest)
    Op("nan_to_num", 1, Family.ELEMENTWISE, DtypeRule.OF_FIRST, numpy=np.nan_to_num),
    # cumulative(x): attributes kind (cumsum or cumprod, a SCANS row) and axis (None: of the flattened x)
    Op("cumulative", 1, Family.SCAN, DtypeRule.REDUCTION, "reduce"),
    # selections and order statistics (issue 14): results whose size or order depends on the data
    # nonzero_mask(x): x != 0 as a mask, for `x[where(x)]` (NumPy refuses a 0-d x)
    Op("nonzero_mask", 1, Family.ELEMENTWISE, DtypeRule.PROMOTE, "compare", frozenset((Family.PREDICATE,)),
       _nonzero_mask),
    # argwhere(x): the coordinates of x's non-zero elements, int64[n, ndim]
    Op("argwhere", 1, Family.INDEX, DtypeRule.INT64, "scatter", frozenset((Family.DATA_SHAPE,))),
    # nonzero(x): np.nonzero(x)[axis] (attribute axis), int64[n]
    Op("nonzero", 1, Family.INDEX, DtypeRule.INT64, "scatter", frozenset((Family.DATA_SHAPE,))),
    # isin(x, values): whether each element of x is among values, bool of x's shape
    Op("isin", 2, Family.STRUCTURAL, DtypeRule.GIVEN, "reduce"),
    # select_case(cond, choice, rest): np.select's first-true-wins chain, one condition per node:
    # np.where element by element, in the dtype NumPy's select gives the whole chain (its result_type
    # of every choice and the default, attribute leaves; so not PROMOTE)
    Op("select_case", 3, Family.ELEMENTWISE, DtypeRule.GIVEN, "select", numpy=np.where),
    # sort(x): sorted along attribute axis, nan last
    Op("sort", 1, Family.STRUCTURAL, DtypeRule.OF_FIRST, "reduce"),
    # unique(x): the distinct values of x, sorted, flattened; nan once, last
    Op("unique", 1, Family.STRUCTURAL, DtypeRule.OF_FIRST, "reduce", frozenset((Family.DATA_SHAPE,))),
    # quantile(x): attributes q (a float or a tuple), kind (median, quantile, percentile), axis, keepdims
    Op("quantile", 1, Family.REDUCTION, DtypeRule.GIVEN, "reduce"),
    # masked_quantile(x, mask): quantile(x[mask]) over every element, for a mask over all of x's dims,
    # with no dynamic shape (choose_strategy makes it from quantile(select(x, mask)))
    Op("masked_quantile", 2, Family.REDUCTION, DtypeRule.GIVEN, "reduce", masks=(1,)),
]

OPS: dict[str, Op] = {op.name: op for op in _ELEMENTWISE + _OTHERS}


def family(name: str) -> frozenset[str]:
    """The ops of a family (tinygrad's GroupOp): `op in family(Family.PREDICATE)`."""
    return frozenset(op for op, info in OPS.items() if name in info.families)


ELEMENTWISE = family(Family.ELEMENTWISE)
COMPARISONS = family(Family.COMPARISON)
PREDICATES = family(Family.PREDICATE)
LOGICAL_NOTS = family(Family.LOGICAL_NOT)
REDUCE_OPS = family(Family.REDUCTION)
INDEX_OPS = family(Family.INDEX)
UPDATES = family(Family.UPDATE)
SOURCES = family(Family.SOURCE)
SHAPE_QUERIES = family(Family.SHAPE_QUERY)
DATA_SHAPED = family(Family.DATA_SHAPE)


@dataclass(frozen=True)
class Reduction:
    """A reduction kind (the `kind` attribute of reduce and masked_reduce)."""
    name: str
    numpy: Callable               # its definition: the reference runs it, result dtypes are asked of it
    fails_on_empty: bool = False  # reducing nothing is an error (NumPy's min and max have no identity)
    empty_message: str | None = None  # NumPy's message for that error, if not min's and max's
    ddof: bool = False            # takes `ddof` (the `ddof` attribute: delta degrees of freedom)
    single_axis: bool = False     # an axis is one integer (or None), never a tuple (argmax)
    axis_on_0d: str = "any"       # which 0-d arrays have an axis 0 (a no-op): "any", "none" (np.mean), "float"


REDUCTIONS: dict[str, Reduction] = {r.name: r for r in (
    Reduction("sum", np.sum), Reduction("mean", np.mean, axis_on_0d="none"),
    Reduction("min", np.min, fails_on_empty=True),
    Reduction("max", np.max, fails_on_empty=True), Reduction("prod", np.prod), Reduction("any", np.any),
    Reduction("all", np.all), Reduction("count", np.count_nonzero),
)}


# ---- statistics (issue 14): NaN-skipping reductions, moments, arg-reductions, cumulative sums ----
# Each kind's function is NumPy's, rewritten only where NumPy warns (an all-NaN slice, a mean of
# nothing, ddof >= n): the reference evaluator must not print warnings (np.errstate does not cover
# them and warnings.catch_warnings() is process-global), so these give NumPy's values silently.
# tests/test_statistics.py compares each with NumPy's own function.

def _floating(x) -> bool:
    return x.dtype.kind == "f"


def _reduced_count(x, axis, keepdims):
    """The number of elements each result element reduces (NumPy's `_count_reduce_items`)."""
    axes = range(x.ndim) if axis is None else axis
    n = 1
    for a in axes:
        n *= x.shape[a]
    return n


def _mean(x, axis=None, keepdims=False):
    """np.mean without its warning for a mean of nothing (nan, as NumPy gives)."""
    x = np.asarray(x)
    if _reduced_count(x, axis, keepdims) == 0:
        shape = np.sum(x, axis=axis, keepdims=keepdims).shape
        return np.full(shape, np.nan, np.mean(np.zeros((), x.dtype)).dtype)
    return np.mean(x, axis=axis, keepdims=keepdims)


def _var(x, axis=None, keepdims=False, ddof=0):
    """np.var (numpy/_core/_methods.py `_var`) without its warning for ddof >= n."""
    x = np.asarray(x)
    accumulator = np.float64 if x.dtype.kind in "biu" else None
    n = _reduced_count(x, axis, keepdims)
    mean = np.asarray(np.sum(x, axis=axis, dtype=accumulator, keepdims=True))
    mean = np.true_divide(mean, n).astype(mean.dtype)
    deviation = np.asarray(x - mean)
    total = np.asarray(np.sum(deviation * deviation, axis=axis, dtype=accumulator, keepdims=keepdims))
    return np.true_divide(total, max(n - ddof, 0)).astype(total.dtype)


def _std(x, axis=None, keepdims=False, ddof=0):
    return np.sqrt(_var(x, axis, keepdims, ddof))


def _without_nan(x, value):
    return np.where(np.isnan(x), np.asarray(value, x.dtype), x) if _floating(x) else x


def _nansum(x, axis=None, keepdims=False):
    x = np.asarray(x)
    return np.sum(_without_nan(x, 0), axis=axis, keepdims=keepdims)


def _nanprod(x, axis=None, keepdims=False):
    x = np.asarray(x)
    return np.prod(_without_nan(x, 1), axis=axis, keepdims=keepdims)


def _nanmin(x, axis=None, keepdims=False):
    """np.nanmin: np.fmin.reduce, without the warning for an all-NaN slice (nan)."""
    x = np.asarray(x)
    return np.fmin.reduce(x, axis=axis, keepdims=keepdims) if _floating(x) else np.min(x, axis, keepdims=keepdims)


def _nanmax(x, axis=None, keepdims=False):
    x = np.asarray(x)
    return np.fmax.reduce(x, axis=axis, keepdims=keepdims) if _floating(x) else np.max(x, axis, keepdims=keepdims)


def _nanmean(x, axis=None, keepdims=False):
    """np.nanmean (numpy/lib/_nanfunctions_impl.py): the sum of the numbers over their count; an
    all-NaN slice is 0 / 0 (nan), without NumPy's warning."""
    x = np.asarray(x)
    if not _floating(x):
        return _mean(x, axis, keepdims)
    valid = ~np.isnan(x)
    count = np.sum(valid, axis=axis, dtype=np.intp, keepdims=keepdims)
    total = np.asarray(np.sum(np.where(valid, x, 0), axis=axis, keepdims=keepdims))
    return np.true_divide(total, count).astype(total.dtype)


def _nanvar(x, axis=None, keepdims=False, ddof=0):
    """np.nanvar: the variance of the numbers of each slice; a slice of ddof >= n numbers is nan
    (for integers, np.var's: ddof >= n divides by 0)."""
    x = np.asarray(x)
    if not _floating(x):
        return _var(x, axis, keepdims, ddof)
    missing = np.isnan(x)
    values = np.where(missing, np.asarray(0, x.dtype), x)
    count = np.sum(~missing, axis=axis, dtype=np.intp, keepdims=True)
    mean = np.asarray(np.sum(values, axis=axis, keepdims=True))
    mean = np.true_divide(mean, count).astype(mean.dtype)
    deviation = np.where(missing, np.asarray(0, x.dtype), (values - mean).astype(x.dtype))
    total = np.asarray(np.sum(deviation * deviation, axis=axis, keepdims=keepdims))
    dof = (count if keepdims else count.reshape(total.shape)) - ddof
    out = np.true_divide(total, dof).astype(total.dtype)
    return np.where(dof <= 0, np.asarray(np.nan, out.dtype), out)


def _nanstd(x, axis=None, keepdims=False, ddof=0):
    return np.sqrt(_nanvar(x, axis, keepdims, ddof))


def _one_axis(axis):
    """A reduction's axes (a tuple, () for a 0-d array) as np.argmax's one axis."""
    return None if axis is None or len(axis) == 0 else axis[0]


def _argmax(x, axis=None, keepdims=False):
    return np.argmax(x, axis=_one_axis(axis) if isinstance(axis, tuple) else axis, keepdims=keepdims)


def _argmin(x, axis=None, keepdims=False):
    return np.argmin(x, axis=_one_axis(axis) if isinstance(axis, tuple) else axis, keepdims=keepdims)


_EMPTY_ARG = "attempt to get {kind} of an empty sequence"

STATISTICS: dict[str, Reduction] = {r.name: r for r in (
    Reduction("nansum", _nansum), Reduction("nanprod", _nanprod),
    Reduction("nanmean", _nanmean, axis_on_0d="float"),
    Reduction("nanmin", _nanmin, fails_on_empty=True,
              empty_message="zero-size array to reduction operation fmin which has no identity"),
    Reduction("nanmax", _nanmax, fails_on_empty=True,
              empty_message="zero-size array to reduction operation fmax which has no identity"),
    Reduction("std", _std, ddof=True, axis_on_0d="none"), Reduction("var", _var, ddof=True, axis_on_0d="none"),
    Reduction("nanstd", _nanstd, ddof=True, axis_on_0d="float"),
    Reduction("nanvar", _nanvar, ddof=True, axis_on_0d="float"),
    Reduction("argmax", _argmax, fails_on_empty=True, empty_message=_EMPTY_ARG.format(kind="argmax"),
              single_axis=True),
    Reduction("argmin", _argmin, fails_on_empty=True, empty_message=_EMPTY_ARG.format(kind="argmin"),
              single_axis=True),
)}
"""The reduction kinds of issue 14 (NumPy's nan-functions, std/var, argmax/argmin): rows of REDUCTIONS."""
REDUCTIONS.update(STATISTICS)


def _cumsum(x, axis=None):
    return np.cumsum(x, axis=axis)


def _cumprod(x, axis=None):
    return np.cumprod(x, axis=axis)


SCANS: dict[str, Callable] = {"cumsum": _cumsum, "cumprod": _cumprod}
"""The kinds of `cumulative` (its `kind` attribute): NumPy's function, which defines it."""


def python_value(op: str, values: list, span=None):
    """Python's value of `op` on literal values (its `python` column), as Python computes it
    before NumPy sees the number: an integer beyond int64 (or a power that would be one) is
    a LimitError and a division by zero a ValueDSLError; any other failure (TypeError,
    OverflowError, ValueError) is raised as it is, for the caller to word.

    >>> python_value("floordiv", [7, 2]), python_value("pow", [2, -1])
    (3, 0.5)
    """
    if op == "pow" and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        base, exponent = values
        if exponent > 0 and abs(base) > 1 and exponent * math.log2(abs(base)) > 64:
            raise LimitError(f"integer constant {base} ** {exponent} exceeds int64", span)
    try:
        value = OPS[op].python(*values)
    except ZeroDivisionError:
        raise ValueDSLError("division by zero between two literals", span) from None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > limits.MAX_INT_LITERAL:
        raise LimitError(f"integer constant {value} exceeds int64", span)
    return value
