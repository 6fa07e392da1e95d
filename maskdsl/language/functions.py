"""The built-in function registry: one entry per function.

Each entry says how many arguments the function takes, which keywords, and the IR op it
lowers to (with what that op needs besides the arguments: a reduction kind, a cast's
dtype, a fill value). Everything else about the op is in its row of ir/ops.py: result
dtypes come from NumPy (dtypes.result_dtype), costs from its cost class, and its
reference and TensorFlow lowering are registered by op. Adding a function of an
existing op kind is adding a line here; a new IR op is also a line in ops.py and one
in tf/lowerings.py (docs/internals.md, "Adding a built-in function").

>>> FUNCTIONS["sqrt"].max_args, FUNCTIONS["sum"].keywords, FUNCTIONS["sum"].op
(1, ('axis', 'keepdims'), 'reduce')
>>> "sum" in FUNCTIONS and "eval" not in FUNCTIONS
True
"""

from __future__ import annotations

from dataclasses import dataclass

from maskdsl.ir.dtypes import DTYPES
from maskdsl.ir.ops import REDUCTIONS


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


def _elementwise(name, n, summary):
    """A function that is the element-wise IR op of the same name."""
    return Builtin(name, n, n, name, None, (), summary)


_ENTRIES = [
    _elementwise("where", 3, "where(c, a, b): a where c is true, else b"),
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
    *[Builtin(kind, 1, 2, "reduce", kind, ("axis", "keepdims"),
              "number of true (non-zero) elements" if kind == "count" else f"{kind} over axis (all by default)")
      for kind in REDUCTIONS],
    *[Builtin(dtype, 1, 1, "cast", dtype, (), f"convert to {dtype}") for dtype in DTYPES],
    Builtin("arange", 1, 3, "arange", None, (), "arange(stop) or arange(start, stop[, step])"),
    Builtin("zeros", 1, 1, "fill", 0.0, (), "zeros(shape): float64 zeros"),
    Builtin("ones", 1, 1, "fill", 1.0, (), "ones(shape): float64 ones"),
    Builtin("full", 2, 2, "fill", None, (), "full(shape, value)"),
    Builtin("shape", 1, 1, "shape", None, (), "the dimensions of x, as an int64 vector"),
    Builtin("size", 1, 1, "size", None, (), "the number of elements of x"),
]

FUNCTIONS: dict[str, Builtin] = {b.name: b for b in _ENTRIES}
