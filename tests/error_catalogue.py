"""The catalogue of bad programs: one table for every test of located errors.

Each row is a program (with its types and, for errors found while it runs, its inputs),
the exact MaskDSLError class it must raise, and where the caret must point: line,
column and the source text it covers. tests/test_bad_inputs.py checks every row;
tests/test_error_docs.py shows the rows marked `shown` on docs/errors.md. Adding a case
is adding a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import maskdsl
from conftest import compiled
from maskdsl import (DTypeError, IndexOutOfRangeError, InputError, LimitError, ParseError, ShapeError,
                     UnknownNameError, ValueDSLError)


@dataclass(frozen=True)
class Bad:
    src: str
    error: type
    line: int
    column: int
    covered: str                     # source[span.start:span.end]; "" at the end of the input
    says: str = ""                   # a phrase the message must contain
    signature: dict | None = None    # compile-time types (None: no signature)
    inputs: dict | None = field(default=None, compare=False)  # given: the error happens at run time
    shown: str = ""                  # the call docs/errors.md shows: this row is its class's example


I4 = {"x": "int32[4]"}
I4M = {"x": "int32[4]", "m": "bool[4]"}
IN = {"x": "int32[None]", "m": "bool[None]"}
XI = np.arange(4, dtype=np.int32)
MASK = np.array([True, False, True, False])

CATALOGUE = [
    # ---- syntax ----
    Bad("x[x > ] = 1", ParseError, 1, 7, "]", "expected an expression after '>'",
        shown='maskdsl.compile("x[x > ] = 1")'),
    Bad("y = (x + 1", ParseError, 1, 11, "", "'(' opened at line 1, column 5 was never closed"),
    Bad("y = x[(1,\n  2", ParseError, 2, 4, "", "'(' opened at line 1, column 7 was never closed"),
    Bad("a = [1,\n 2,\n", ParseError, 2, 4, "\n", "'[' opened at line 1, column 5 was never closed"),
    Bad("y = f(\n\n", ParseError, 1, 7, "\n", "'(' opened at line 1, column 6 was never closed"),
    Bad("x = 1\r\ny = (2\r\n", ParseError, 2, 7, "\r", "'(' opened at line 2, column 5 was never closed"),
    Bad("y = x +", ParseError, 1, 8, "", "expected an expression after '+', found the end of the program"),
    Bad("y = x *\nz = 1", ParseError, 1, 8, "\n", "found a newline"),
    Bad("x = $1", ParseError, 1, 5, "$", "unexpected character '$'"),
    Bad("x\u00a0= 1", ParseError, 1, 2, "\u00a0", "U+00A0"),
    Bad("y = x\u200b + 1", ParseError, 1, 6, "\u200b", "U+200B"),
    Bad("x = 1 y = 2", ParseError, 1, 7, "y", "statements must be separated by ';' or a newline"),
    Bad("x = 1\ty = 2", ParseError, 1, 7, "y", "statements must be separated"),
    Bad("x = 1\0", ParseError, 1, 6, "\0", "NUL character (U+0000)"),
    Bad("x = 1\r y = 2", ParseError, 1, 6, "\r", "U+000D"),
    Bad("y = \x1b[31m", ParseError, 1, 5, "\x1b", "U+001B"),
    Bad("y = 08", ParseError, 1, 5, "08", "leading zeros"),
    Bad("y = 1e400", ParseError, 1, 5, "1e400", "out of range"),
    Bad("y = 1__0", ParseError, 1, 5, "1__0", "invalid number '1__0'"),
    Bad("y = 1_", ParseError, 1, 5, "1_", "invalid number"),
    Bad("y = 0x10", ParseError, 1, 5, "0x10", "invalid number"),
    Bad("y = 1j", ParseError, 1, 5, "1j", "invalid number"),
    Bad("y = 1.5.3", ParseError, 1, 5, "1.5.3", "invalid number"),
    Bad(")", ParseError, 1, 1, ")", "unmatched ')'"),
    Bad("y = x)", ParseError, 1, 6, ")", "unmatched ')'"),
    Bad("x[x = 4] = 1", ParseError, 1, 5, "=", "to compare use '=='"),
    Bad("y=x=3", ParseError, 1, 4, "=", "one assignment per statement"),
    Bad("x + 1 = 2", ParseError, 1, 1, "x + 1", "can only assign to a name or to name[index]"),
    Bad("x[0][1] = 2", ParseError, 1, 1, "x[0][1]", "can only assign"),
    Bad("f(a=1, 2)", ParseError, 1, 8, "2", "positional argument after a keyword argument"),
    Bad("y = x[]", ParseError, 1, 7, "]", "unexpected ']'"),
    Bad("x, y = 1, 2", ParseError, 1, 2, ",", "unexpected ','"),
    Bad("y = x if x else 1", ParseError, 1, 7, "if", "statements must be separated"),
    Bad("y = x[None]; z = None", ParseError, 1, 18, "None", "None can only be used inside an index"),
    Bad("y = None[0]", ParseError, 1, 5, "None", "None can only be used inside an index"),
    # ---- names ----
    Bad("and = 1", ParseError, 1, 1, "and", "'and' is a keyword, not a name"),
    Bad("y = x[: or]", ParseError, 1, 9, "or", "'or' is a keyword"),
    Bad("y = sum(x, or=1)", ParseError, 1, 12, "or", "'or' is a keyword"),
    Bad("y = x + k", UnknownNameError, 1, 9, "k", "unknown name 'k'", signature={"x": "int32[4]"}),
    Bad("y = frobnicate(x)", UnknownNameError, 1, 5, "frobnicate",
        "unknown function 'frobnicate'"),
    Bad("y = summ(x)", UnknownNameError, 1, 5, "summ", "unknown function 'summ'",
        shown='maskdsl.compile("y = summ(x)")'),
    Bad("sum = x", ParseError, 1, 1, "sum", "cannot assign to 'sum': it is a built-in function"),
    Bad("where[x > 0] = 1", ParseError, 1, 1, "where", "cannot assign to 'where'"),
    Bad("abs += 1", ParseError, 1, 1, "abs", "cannot assign to 'abs'"),
    Bad("y = sum", UnknownNameError, 1, 5, "sum", "'sum' is a built-in function"),
    Bad("\uff58 = 1", ParseError, 1, 1, "\uff58", "'\uff58' (U+FF58)"),
    Bad("y = \U0001d431 + 1", ParseError, 1, 5, "\U0001d431", "(U+1D431)"),
    Bad("y = x\u2170", ParseError, 1, 6, "\u2170", "U+2170"),
    Bad("caf\u00e9 = 1", ParseError, 1, 4, "\u00e9", "U+00E9"),
    # ---- injection: rejected by the grammar before anything runs ----
    Bad("__import__('os').system('id')", ParseError, 1, 1, "__import__", "names starting with '__' are reserved"),
    Bad("y = (1)\nz = __import__('os')", ParseError, 2, 5, "__import__", "reserved"),
    Bad("y = __import__(x)", ParseError, 1, 5, "__import__", "names starting with '__' are reserved"),
    Bad("y = x.__class__", ParseError, 1, 7, "__class__", "names starting with '__' are reserved"),
    Bad("y = lambda: x", ParseError, 1, 11, ":", "unexpected ':'"),
    Bad("().__class__.__bases__[0].__subclasses__()", ParseError, 1, 4, "__class__",
        "names starting with '__' are reserved"),
    Bad("@x", ParseError, 1, 1, "@", "unexpected character '@'"),
    Bad("y = __builtins__", ParseError, 1, 5, "__builtins__", "reserved"),
    Bad("__x = 1", ParseError, 1, 1, "__x", "reserved"),
    Bad("y = exec(x)", UnknownNameError, 1, 5, "exec", "unknown function 'exec'"),
    Bad("y = eval(x)", UnknownNameError, 1, 5, "eval", "unknown function 'eval'"),
    Bad("y = getattr(x, y)", UnknownNameError, 1, 5, "getattr", "unknown function"),
    Bad("import os", ParseError, 1, 8, "os", "statements must be separated"),
    Bad("y = x; exec('1')", ParseError, 1, 13, "'", "unexpected character \"'\""),
    Bad("y = {1: 2}", ParseError, 1, 5, "{", "unexpected character '{'"),
    # ---- dtypes ----
    Bad("x[m] *= 2.5", DTypeError, 1, 1, "x[m] *= 2.5", "casting rule 'same_kind'", signature=I4M),
    Bad("x[m] = nan", DTypeError, 1, 8, "nan", "cannot convert float NaN to integer", signature=I4M),
    Bad("x[m] = inf", DTypeError, 1, 8, "inf", "infinity", signature=I4M),
    Bad("y = x + 300", DTypeError, 1, 9, "300", "Python integer 300 out of bounds for int8",
        signature={"x": "int8[4]"}),
    Bad("x[m] = -1", DTypeError, 1, 8, "-1", "out of bounds for uint8", signature={"x": "uint8[4]", "m": "bool[4]"}),
    Bad("y = int8(300)", DTypeError, 1, 10, "300", "out of bounds for int8"),
    Bad("y = x ** -1", ValueDSLError, 1, 10, "-1", "integers to negative integer powers", signature=I4),
    Bad("y = x[x * 1.0]", DTypeError, 1, 7, "x * 1.0", "valid indices; got float64", signature=I4),
    Bad("y = x[v]", DTypeError, 1, 7, "v", "got float32", signature={"x": "int32[4]", "v": "float32[4]"}),
    Bad("y = -x", DTypeError, 1, 5, "-x", "neg is not defined", signature={"x": "bool[4]"}),
    Bad("y = x - True", DTypeError, 1, 5, "x - True", "sub is not defined", signature={"x": "bool[4]"}),
    Bad("y = x & 1.5", DTypeError, 1, 5, "x & 1.5", "and is not defined", signature={"x": "float32[4]"}),
    Bad("x += 0.5", DTypeError, 1, 1, "x += 0.5", "same_kind", signature=I4),
    Bad("x[x > 0] = 1e10", DTypeError, 1, 12, "1e10", "out of bounds for int32", signature=I4),
    # ---- shapes (at compile time when the shapes are known) ----
    Bad("y = x[m]", ShapeError, 1, 7, "m", "size of axis is 4 but size of corresponding boolean axis is 5",
        signature={"x": "int32[4]", "m": "bool[5]"},
        shown='maskdsl.compile("y = x[m]", signature={"x": "int32[4]", "m": "bool[5]"})'),
    Bad("y = x[m]", ShapeError, 1, 7, "m", "too many indices", signature={"x": "int32[4]", "m": "bool[4, 1]"}),
    Bad("x[m] = v", ShapeError, 1, 8, "v", "5 values cannot fill a selection of at most 4 elements",
        signature={"x": "int32[4]", "m": "bool[4]", "v": "int32[5]"}),
    Bad("y = where(x > 0, x, z)", ShapeError, 1, 5, "where(x > 0, x, z)", "do not broadcast",
        signature={"x": "int32[4]", "z": "int32[3]"}),
    Bad("y = x + z", ShapeError, 1, 5, "x + z", "do not broadcast", signature={"x": "int32[4]", "z": "int32[3]"}),
    Bad("y = max(x[0:0])", ValueDSLError, 1, 5, "max(x[0:0])", "zero-size array", signature=I4),
    Bad("y = min(x)", ValueDSLError, 1, 5, "min(x)", "zero-size array", signature={"x": "float32[0]"}),
    Bad("y = x[7]", IndexOutOfRangeError, 1, 7, "7", "index 7 is out of bounds for axis 0 with size 4", signature=I4,
        shown='maskdsl.compile("y = x[7]", signature={"x": "int32[4]"})'),
    Bad("y = x[[0, -5]]", IndexOutOfRangeError, 1, 7, "[0, -5]", "index -5", signature=I4),
    Bad("y = x[0, 0]", ShapeError, 1, 7, "0", "too many indices", signature=I4),
    Bad("y = x[..., ...]", ShapeError, 1, 12, "...", "single ellipsis", signature=I4),
    Bad("y = x[1:2:0]", ShapeError, 1, 11, "0", "slice step cannot be zero", signature=I4),
    Bad("y = zeros(-1)", ShapeError, 1, 11, "-1", "non-negative"),
    Bad("y = sum(x, axis=2)", ShapeError, 1, 5, "sum(x, axis=2)", "axis 2 is out of bounds", signature=I4),
    Bad("y = [[1, 2], [3]]", ShapeError, 1, 5, "[[1, 2], [3]]", "rectangular"),
    # ---- shapes and values found while running (unknown dimensions) ----
    Bad("y = x[m]", ShapeError, 1, 5, "x[m]", "boolean index did not match", signature=IN,
        inputs={"x": XI, "m": np.array([True, False])}),
    Bad("y = x[m]", ShapeError, 1, 5, "x[m]", "boolean index did not match", signature=IN,
        inputs={"x": XI, "m": np.ones(6, bool)}),
    Bad("x[m] = 0", ShapeError, 1, 1, "x[m] = 0", "boolean index did not match", signature=IN,
        inputs={"x": XI, "m": np.ones(5, bool)}),
    Bad("x[m] *= 2", ShapeError, 1, 1, "x[m] *= 2", "boolean index did not match", signature=IN,
        inputs={"x": XI, "m": np.ones(3, bool)}),
    Bad("x[m] = v", ShapeError, 1, 8, "v", "do not match the number of selected elements",
        signature={"x": "int32[None]", "m": "bool[None]", "v": "int32[None]"},
        inputs={"x": XI, "m": MASK, "v": np.array([1, 2, 3], np.int32)}),
    Bad("x[m] = v", ShapeError, 1, 8, "v", "do not match the number of selected elements",
        signature={"x": "int32[4]", "m": "bool[4]", "v": "int32[3]"},
        inputs={"x": XI, "m": MASK, "v": np.array([1, 2, 3], np.int32)}),
    Bad("y = where(x > 0, x, z)", ShapeError, 1, 5, "where(x > 0, x, z)", "must be broadcastable",
        signature={"x": "int32[None]", "z": "int32[None]"}, inputs={"x": XI, "z": np.arange(3, dtype=np.int32)}),
    Bad("y = x + 1\nz = y * w", ShapeError, 2, 5, "y * w", "Incompatible shapes: [4] vs. [3]",
        signature={"x": "int32[None]", "w": "int32[None]"}, inputs={"x": XI, "w": np.arange(3, dtype=np.int32)}),
    Bad("y = x[i]", IndexOutOfRangeError, 1, 5, "x[i]", "index 4 is out of bounds for axis 0 with size 4",
        signature={"x": "int32[None]", "i": "int64"}, inputs={"x": XI, "i": np.int64(4)}),
    Bad("y = x[idx]", IndexOutOfRangeError, 1, 5, "x[idx]", "index -5 is out of bounds for axis 0 with size 4",
        signature={"x": "int32[None]", "idx": "int64[None]"}, inputs={"x": XI, "idx": np.array([0, -5])}),
    Bad("y = max(x[x > 10])", ValueDSLError, 1, 5, "max(x[x > 10])", "zero-size array",
        signature={"x": "int32[None]"}, inputs={"x": XI},
        shown='maskdsl.compile("y = max(x[x > 10])", signature={"x": "int32[None]"})(x=np.arange(4, dtype=np.int32))'),
    Bad("y = min(x)", ValueDSLError, 1, 5, "min(x)", "zero-size array", signature={"x": "float32[None]"},
        inputs={"x": np.zeros(0, np.float32)}),
    Bad("y = x ** p", ValueDSLError, 1, 5, "x ** p", "negative integer powers",
        signature={"x": "int32[None]", "p": "int32[None]"},
        inputs={"x": np.arange(3, dtype=np.int32), "p": np.array([1, -1, 2], np.int32)}),
    Bad("y = arange(0, 10, s)", ValueDSLError, 1, 5, "arange(0, 10, s)", "delta != 0", signature={"s": "int64"},
        inputs={"s": np.int64(0)}),
    Bad("y = arange(n)", LimitError, 1, 5, "arange(n)", "do not fit in memory", signature={"n": "int64"},
        inputs={"n": np.int64(10**15)}),  # 8 PB: more than any address space, so never allocated
    Bad("y = x[1:5:k]", ShapeError, 1, 5, "x[1:5:k]", "must be non-zero", signature={"x": "int32[None]", "k": "int64"},
        inputs={"x": XI, "k": np.int64(0)}),
    # ---- calls ----
    Bad("y = x + k", InputError, 1, 9, "k", "missing input 'k'", inputs={"x": XI},
        shown='maskdsl.compile("y = x + k")(x=np.arange(4, dtype=np.int32))'),
    Bad("y = x + 1", InputError, 1, 5, "x", "has dtype float64, the signature says int32", signature=I4,
        inputs={"x": np.zeros(4)}),
    Bad("y = x + 1", InputError, 1, 5, "x", "has shape [2, 2], the signature says int32[4]", signature=I4,
        inputs={"x": np.zeros((2, 2), np.int32)}),
    Bad("y = x + 1", InputError, 1, 5, "x", "has shape [5], the signature says int32[4]", signature=I4,
        inputs={"x": np.zeros(5, np.int32)}),
    Bad("y = x + 1", InputError, 1, 5, "x", "holds 300 in row 1, which int8 cannot represent",
        signature={"x": "int8[None]"}, inputs={"x": [1, 300]}),
    Bad("y = x + 1", InputError, 1, 5, "x", "holds 200 in row 0, which int8 cannot represent",
        signature={"x": "int8[None]"}, inputs={"x": np.array([200], np.uint8)}),
    Bad("y = x + 1", InputError, 1, 5, "x", "holds 100000.0 in row 0, which float16 cannot represent",
        signature={"x": "float16[None]"}, inputs={"x": np.array([1e5])}),
    Bad("y = x + 1", InputError, 1, 5, "x", "must be an array, a list or a number, not str", inputs={"x": "1, 2"}),
    Bad("y = x + 1", InputError, 1, 5, "x", "not dict", inputs={"x": {"a": 1}}),
    Bad("y = x + 1", InputError, 1, 5, "x", "not NoneType", inputs={"x": None}),
    Bad("y = x + 1", InputError, 1, 5, "x", "unsupported dtype object", inputs={"x": object()}),
    Bad("y = x + 1", InputError, 1, 5, "x", "unsupported dtype object", inputs={"x": [2**64]}),
    Bad("y = x + 1", InputError, 1, 5, "x", "unsupported dtype complex128", inputs={"x": np.ones(2, complex)}),
    Bad("y = x + 1", InputError, 1, 5, "x", "inhomogeneous", inputs={"x": [[1, 2], [3]]}),
    Bad("y = x + 1", InputError, 1, 5, "x", "masked array", inputs={"x": np.ma.array([1, 2], mask=[0, 1])}),
    # ---- limits ----
    Bad("y = 99999999999999999999", LimitError, 1, 5, "99999999999999999999", "int64 limit"),
    Bad("y = " + "1" * 5000, LimitError, 1, 5, "1" * 5000, "int64 limit"),
    Bad("y = 9 ** 9 ** 9", LimitError, 1, 5, "9 ** 9 ** 9", "exceeds int64"),
    Bad("y = 2 ** 62 * 4", LimitError, 1, 5, "2 ** 62 * 4", "exceeds int64"),
    Bad("y = size(x) ** 99", LimitError, 1, 5, "size(x) ** 99", "exceeds int64", signature={"x": "int32[5]"}),
    Bad("y = arange(1e12)", LimitError, 1, 5, "arange(1e12)", "more than 2147483647 elements"),
    Bad("y = arange(10 ** 12)", LimitError, 1, 5, "arange(10 ** 12)", "more than 2147483647 elements",
        shown='maskdsl.compile("y = arange(10 ** 12)")'),
    Bad("y = zeros((100000, 100000))", LimitError, 1, 11, "(100000, 100000)", "more than 2147483647 elements"),
    Bad("y = full([65536, 65536], 1)", LimitError, 1, 10, "[65536, 65536]", "more than 2147483647 elements"),
    Bad("y = " + "[" * 40 + "1" + "]" * 40, LimitError, 1, 12, "[" * 33 + "1" + "]" * 33,
        "list literal nested deeper than 32 levels"),
    Bad("y = zeros(" + str((1,) * 40) + ")", LimitError, 1, 5, "zeros(" + str((1,) * 40) + ")",
        "an array of 40 dimensions; at most 31"),
    Bad("y = x[" + "None, " * 31 + "]", LimitError, 1, 5, "x[" + "None, " * 31 + "]", "an index of 32 items",
        signature={"x": "int32[2]"}),
    Bad("y = x + 1", LimitError, 1, 5, "x", "input 'x' of 40 dimensions", inputs={"x": np.zeros((1,) * 40)}),
    Bad("y = " + "(" * 10_000 + "x" + ")" * 10_000, LimitError, 1, 405, "(", "brackets nested deeper than 400"),
    Bad("y = " + "-" * 10_000 + "x", LimitError, 1, 404, "-" * 9_601 + "x", "nested deeper than 400"),
    # ---- compile time, with a signature ----
    Bad("x[x > 0] *= 2.5", DTypeError, 1, 1, "x[x > 0] *= 2.5", signature=I4,
        shown='maskdsl.compile("x[x > 0] *= 2.5", signature={"x": "int32[4]"})'),
    Bad("x[x > 0] = nan", DTypeError, 1, 12, "nan", signature=I4),
    Bad("x[x > 0] = inf", DTypeError, 1, 12, "inf", signature=I4),
    Bad("x[x > 0] = 300", DTypeError, 1, 12, "300", signature={"x": "uint8[4]"}),
    Bad("x[x > 0] = -1", DTypeError, 1, 12, "-1", signature={"x": "uint8[4]"}),
    Bad("y = x[-5]", IndexOutOfRangeError, 1, 7, "-5", signature=I4),
    Bad("y = x[[0, 9]]", IndexOutOfRangeError, 1, 7, "[0, 9]", signature=I4),
    Bad("x[x > 0] = [1, 2, 3, 4, 5]", ShapeError, 1, 12, "[1, 2, 3, 4, 5]", signature=I4),
    Bad("x += [1, 2]", ShapeError, 1, 1, "x += [1, 2]", signature=I4),
    Bad("y = where(x > 0, x, [1, 2])", ShapeError, 1, 5, "where(x > 0, x, [1, 2])", signature=I4),
    Bad("y = clip(x)", ParseError, 1, 5, "clip(x)", signature=I4),
    Bad("y = sum(x, axis=z)", DTypeError, 1, 17, "z", signature={"x": "int32[4]", "z": "int64"}),
    Bad("y = sum(x, keepdims=1)", DTypeError, 1, 21, "1", signature=I4),
    Bad("y = sum(x, mode=1)", ParseError, 1, 12, "mode=1", signature=I4),
]


def trigger(case: Bad):
    if case.inputs is None:
        f = maskdsl.compile(case.src, signature=case.signature)
        if case.signature is None and not f.inputs:
            f()  # a program without inputs is typed (and its errors found) on its first call
    else:
        options = {} if case.signature is None else {"signature": case.signature}
        compiled(case.src, **options)(**case.inputs)


def example(error: type) -> Bad:
    """The row docs/errors.md shows for an error class."""
    rows = [case for case in CATALOGUE if case.error is error and case.shown]
    assert len(rows) == 1, f"{error.__name__}: {len(rows)} rows are marked as its example on docs/errors.md"
    return rows[0]


def case_id(case: Bad) -> str:
    text = case.src if len(case.src) < 40 else case.src[:30] + f"...({len(case.src)} chars)"
    return f"{case.error.__name__}:{text!r}" + ("-run" if case.inputs is not None else "")
