"""Random maskdsl programs: the one generator behind the fuzz and differential tests.

Two kinds of program, for two purposes, both driven by a `random.Random` (a seed
reproduces a program) and neither needing TensorFlow or Hypothesis:

- **Grammar-following text** (`Generator`, `mutate`, `apply_edits`, `make_input`):
  programs that mostly follow the grammar, and valid programs with tokens deleted,
  swapped or replaced, for fuzzing the front end's robustness (every text compiles or
  raises a MaskDSLError). `random_signature` and `random_inputs` give them types and
  data. Used by tools/fuzz.py and tests/test_fuzz.py.
- **Typed programs rendered twice** (`ProgramGenerator`, `random_case`): a program is
  built as a small tree whose every piece NumPy evaluates as it is built (so most
  programs are meaningful), then rendered as maskdsl source and as the same meaning in
  NumPy: fully parenthesised, `np.` functions, `.copy()` before every in-place write
  (maskdsl's value semantics). `run_numpy` runs the rendering: the oracle of
  tests/test_numpy_oracle.py, tools/oracle.py and tests/test_random_programs.py.

>>> config = Config(dtypes=("int64",), shapes=((4,),), statements=("update",), max_statements=1,
...                 max_inputs=1, final_expression_probability=0)
>>> case = random_case(1, config)
>>> print(case.source)
x[..., arange(4) % 3 == 0 & arange(4) % 2 == 1] = 1
>>> print(case.numpy_source)
x = x.copy()
x[..., (((np.arange(4) % 3) == 0) & ((np.arange(4) % 2) == 1))] = 1
>>> list(run_numpy(case).values) == list(case.outputs) == ["x"]
True
"""

from __future__ import annotations

import random
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from math import prod

import numpy as np

from maskdsl.generated import run_generated
from maskdsl.language.functions import FUNCTIONS

# ======================================================================================
# Grammar-following text, for fuzzing the front end
# ======================================================================================

NAMES = ["x", "x", "x", "y", "m", "i", "v", "z", "_t", "out"]
HOSTILE_NAMES = ["eval", "exec", "compile", "open", "tf", "rt", "program", "t1", "x_1", "x_0", "lambda",
                 "import", "class", "self", "os", "getattr", "__import__", "__class__", "_", "__", "None_",
                 "True_", "def", "return", "globals"]
UNKNOWN_FUNCS = ["foo", "eval", "exec", "len", "np", "print", "__import__", "tf", "x", "range", "int", "float"]
INTS = ["0", "1", "2", "3", "4", "5", "7", "10", "127", "128", "255", "256", "-1", "-128", "-129", "32767",
        "32768", "65535", "2147483647", "2147483648", "4294967295", "9223372036854775807",
        "9223372036854775808", "99999999999999999999999", "1_000", "0_0", "00", "08", "1__0", "1_"]
FLOATS = ["0.5", "1.5", "2.5", ".5", "5.", "1e3", "1e-3", "1E5", "1e308", "1.8e308", "1e400", "1e-400", "0.0",
          "-0.0", "3.4e38", "65504.0", "65505.", "1e", "1.e5", "1_0.5"]
CONSTS = ["True", "False", "nan", "inf", "None"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "and", "or", "<", "<=", ">", ">=", "==", "!="]
UNOPS = ["-", "+", "~", "not "]
AUGOPS = ["+=", "-=", "*=", "/=", "//=", "%=", "**=", "&=", "|=", "^="]
TYPES = ["bool[5]", "int8[5]", "int16[5]", "int32[5]", "int64[5]", "uint8[5]", "uint16[5]", "uint32[5]", "uint64[5]",
         "float16[5]", "float32[5]", "float64[5]", "float32[None]", "int32[None]", "bool[None]", "int64[None]",
         "float32[2, 5]", "bool[2, 5]", "int64[2, 5]", "int64", "int32", "float64", "bool", "uint8", "int32[0]",
         "float32[None, 5]", "bool[None, None]", "int64[3]", "float64[0, 3]", "bool[1]", "int8[None]"]


class Generator:
    """Random programs that mostly follow the grammar (and sometimes deliberately do not)."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def name(self) -> str:
        return self.rng.choice(NAMES) if self.rng.random() < 0.95 else self.rng.choice(HOSTILE_NAMES)

    def literal(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(INTS[:12])
        if r < 0.65:
            return self.rng.choice(INTS)
        if r < 0.85:
            return self.rng.choice(FLOATS)
        return self.rng.choice(CONSTS)

    def expr(self, depth: int = 0) -> str:
        rng = self.rng
        if depth > 4 or rng.random() < 0.3:
            return self.name() if rng.random() < 0.6 else self.literal()
        kind = rng.random()
        if kind < 0.35:
            return f"{self.expr(depth + 1)} {rng.choice(BINOPS)} {self.expr(depth + 1)}"
        if kind < 0.45:
            return f"{rng.choice(UNOPS)}{self.expr(depth + 1)}"
        if kind < 0.55:
            return f"({self.expr(depth + 1)})"
        if kind < 0.75:
            return self.call(depth)
        if kind < 0.9:
            return f"{self.name()}[{self.index(depth)}]"
        if kind < 0.95:
            items = [self.literal() if rng.random() < 0.8 else self.expr(depth + 1) for _ in range(rng.randint(0, 4))]
            if rng.random() < 0.2:
                items = [f"[{', '.join(items)}]"] * rng.randint(1, 3)
            return f"[{', '.join(items)}]"
        return f"{self.expr(depth + 1)}[{self.index(depth)}]"

    def call(self, depth: int) -> str:
        rng = self.rng
        fn = rng.choice(sorted(FUNCTIONS)) if rng.random() < 0.93 else rng.choice(UNKNOWN_FUNCS)
        spec = FUNCTIONS.get(fn)
        n = rng.randint(spec.min_args, spec.max_args) if spec and rng.random() < 0.9 else rng.randint(0, 4)
        args = [self.expr(depth + 1) for _ in range(n)]
        if fn in ("zeros", "ones", "full") and args and rng.random() < 0.7:
            args[0] = rng.choice(["3", "(2, 3)", "[2, 3]", "0", "(0, 4)", "(100000, 100000)", "-1", "(2,)", "()"])
        if fn == "arange" and rng.random() < 0.3:
            args = [rng.choice(["5", "1e12", "10 ** 12", "0", "-3", "2.5", "0, 10, 0", "10, 0, -1", "x"])]
        if spec and spec.keywords and rng.random() < 0.4:
            key = rng.choice(list(spec.keywords) + ["mode"])
            value = rng.choice(["0", "1", "-1", "2", "(0, 1)", "(0, 0)", "True", "False", "x", "None"])
            args.append(f"{key}={value}")
        return f"{fn}({', '.join(args)})"

    def index(self, depth: int) -> str:
        rng = self.rng
        items = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            r = rng.random()
            if r < 0.45:
                items.append(self.expr(depth + 1))
            elif r < 0.7:
                parts = [rng.choice(["", "", "1", "-1", "0", "2", "i", "10"]) for _ in range(3)]
                items.append(":".join(parts[:rng.choice([2, 3])]))
            elif r < 0.8:
                items.append("...")
            elif r < 0.87:
                items.append("None")
            else:
                items.append(rng.choice(["x > 0", "m", "i", "True", "False", "[0, 1]", "[True, False]", "-1", "0"]))
        return ", ".join(items)

    def statement(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.25:
            return f"{self.name()} = {self.expr()}"
        if r < 0.4:
            return f"{self.name()} {rng.choice(AUGOPS)} {self.expr()}"
        if r < 0.75:
            op = rng.choice(["="] * 3 + AUGOPS)
            return f"{self.name()}[{self.index(0)}] {op} {self.expr()}"
        return self.expr()

    def program(self) -> str:
        rng = self.rng
        seps = ["\n", "\n", "; ", "\r\n", "\n\n", ";"]
        text = ""
        for _ in range(rng.randint(1, 5)):
            text += self.statement() + rng.choice(seps)
        return text if rng.random() < 0.7 else text.rstrip("\n;\r ")


# ---- mutations of valid programs ----

SEEDS = [
    "x[x > 4 & x % 2 == 0] *= 2",
    "x[x > 4] = 0; x",
    "y = where(x > 0, x, -x)",
    "s = sum(x[x > 0]); c = count(x > 1)",
    "x[m] = v",
    "y = x[m]; z = mean(y)",
    "x[0] = 1; x[-1] += 2",
    "y = x[1:4:2]; z = x[::-1]",
    "y = x[..., None]",
    "y = x[[0, 2, -1]]",
    "x = x - -1",
    "y = 0 < x <= 5",
    "y = not x > 2 or x == 0",
    "y = clip(x, 0, 3) ** 2",
    "y = max(x, axis=0, keepdims=True)",
    "y = arange(10)[x > 4]",
    "y = zeros((2, 3)) + ones(3) * full(3, 2.5)",
    "y = float32(x) / 3; z = int8(y)",
    "x[x > 0] /= 2",
    "x[isnan(x)] = 0.0",
    "y = minimum(x, 3) + maximum(x, nan)",
    "y = shape(x); n = size(x)",
    "_t = x * 2\ny = _t + 1\n",
    "y = [1, 2, 3] + x[:3]",
    "y = [[1, 2], [3, 4]]",
    "x[x > 1 | x < -1] = sqrt(abs(x[x > 1 | x < -1]))",
    "y = x // 0 + x % 0",
    "y = x ** 2 - 2 ** 3 ** 2",
    "# comment\nx[x < 0] = 0  # trailing\n",
    "y = any(x > 0) & all(x < 10)",
    "y = x[x > 0, 1:]",
    "x[:, 0] = 0",
    "y = round(x * 1.5) + floor(x) - ceil(x)",
    "y = (x > 1) ^ (x < 3)",
    "y = log1p(abs(x)) * expm1(x / 8) + tanh(x)",
    "x[m] **= 2",
    "y = x[i]; z = x[-i]",
    "y = prod(x[x != 0], axis=0)",
    "y = bool(x) & True",
    "y = uint8(x) + 255",
]

TOKEN_RE = re.compile(r"\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?|\.\d+|[A-Za-z_]\w*|\*\*=?|//=?|[-+*/%&|^<>=!]=|\.\.\.|\s+|.",
                      re.S)
EXTRA_TOKENS = ["(", ")", "[", "]", ",", ":", ";", "\n", "=", "==", "**", "-", "not", "and", "...", "None", "$", "@",
                ".", "'", "\"", "\\", "`", "{", "}", "?", "!", "#", "\t", "\r", "\0", "\x0b", "\x1b", "\u00a0",
                "\u200b", "\ufeff", "\u2028", "\u0085", "ｘ", "𝐱", "é", "Ⅸ", "٣", "x.y", "lambda", "__import__",
                "__class__", "1e400", "9" * 30, "0x10", "1j", ":=", "->", "<>", "===", "&&", "||"]
CHARS = "()[]{},;:.=+-*/%&|^~<>!@#$'\"\\`?\t\r\n\0 abcxyz019_" + "\u00a0\u200b\ufeff\u2028ｘ𝐱é"


def mutate(rng: random.Random, text: str) -> str:
    """One to four random edits of `text`, at the token or the character level."""
    for _ in range(rng.randint(1, 4)):
        tokens = TOKEN_RE.findall(text) or [""]
        op = rng.random()
        i = rng.randrange(len(tokens))
        if op < 0.2:
            del tokens[i]
        elif op < 0.35:
            tokens.insert(i, tokens[i])
        elif op < 0.5:
            j = rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op < 0.65:
            tokens[i] = rng.choice(EXTRA_TOKENS + tokens)
        elif op < 0.75:
            tokens.insert(i, rng.choice(EXTRA_TOKENS))
        elif op < 0.85:
            pos = rng.randrange(len(text) + 1)
            text = text[:pos] + rng.choice(CHARS) + text[pos:]
            continue
        elif op < 0.92 and text:
            a = rng.randrange(len(text))
            b = min(len(text), a + rng.randint(1, 8))
            text = text[:a] + text[b:]
            continue
        else:
            other = TOKEN_RE.findall(rng.choice(SEEDS))
            a = rng.randrange(len(other))
            tokens[i:i] = other[a:a + rng.randint(1, 6)]
        text = "".join(tokens)
    return text


# Consistent signatures (x numeric, m a mask of x's shape, i an integer, ...) reach the later
# phases more often than independent random types, which mostly end in a DTypeError.
PROFILES = [
    {"x": "float32[5]", "m": "bool[5]", "i": "int64", "v": "float32[None]", "y": "int32[5]", "z": "float64"},
    {"x": "int32[None]", "m": "bool[None]", "i": "int32", "v": "int32[None]", "y": "float32[None]", "z": "int8"},
    {"x": "float64[2, 5]", "m": "bool[2, 5]", "i": "int64", "v": "float64[None]", "y": "bool[2, 5]", "z": "uint8"},
    {"x": "uint8[None, 3]", "m": "bool[None]", "i": "uint8", "v": "uint8[3]", "y": "int64[None, 3]", "z": "bool"},
    {"x": "float16[0]", "m": "bool[0]", "i": "int16", "v": "float16[0]", "y": "int16[0]", "z": "float32"},
]


def random_signature(rng: random.Random, names) -> dict[str, str]:
    if rng.random() < 0.6:
        profile = rng.choice(PROFILES)
        return {name: profile.get(name) or rng.choice(TYPES) for name in names}
    return {name: rng.choice(TYPES) for name in names}


def random_inputs(rng: random.Random, program) -> dict[str, np.ndarray]:
    """Concrete arrays for the program's typed inputs (unknown dimensions get 0, 1 or 5)."""
    arrays = {}
    for node in program.inputs:
        shape = tuple(rng.choice([0, 1, 5, 5]) if d is None else d for d in node.shape)
        dtype = np.dtype(node.dtype)
        if dtype.kind == "b":
            value = rng_np(rng).random(shape) < 0.5
        elif dtype.kind == "f":
            value = rng_np(rng).choice(np.array([0.0, -0.0, 1.5, -2.0, np.nan, np.inf, 3.0], dtype), shape)
        else:
            info = np.iinfo(dtype)
            value = rng_np(rng).choice(np.array([0, 1, 2, info.max, info.min, 3], dtype), shape)
        arrays[node.attr("name")] = np.asarray(value, dtype)
    return arrays


def rng_np(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(32))


EDITS = ("delete", "duplicate", "swap", "replace", "insert")


def apply_edits(text: str, edits) -> str:
    """Token-level edits, each (kind, i, j, token) with kind in EDITS; i and j are taken
    modulo the number of tokens. (What `mutate` does at random, given explicitly, so a
    property-based test can draw and shrink the edits.)"""
    for kind, i, j, token in edits:
        tokens = TOKEN_RE.findall(text) or [""]
        i, j = i % len(tokens), j % len(tokens)
        if kind == "delete":
            del tokens[i]
        elif kind == "duplicate":
            tokens.insert(i, tokens[i])
        elif kind == "swap":
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif kind == "replace":
            tokens[i] = token
        else:
            tokens.insert(i, token)
        text = "".join(tokens)
    return text


def make_input(rng: random.Random, gen: Generator) -> str:
    """One fuzz input: a generated program, a mutated seed program or a mutated generated one."""
    r = rng.random()
    if r < 0.55:
        return gen.program()
    if r < 0.85:
        return mutate(rng, rng.choice(SEEDS))
    return mutate(rng, gen.program())


# ======================================================================================
# Typed programs rendered as maskdsl and as NumPy, for differential testing
# ======================================================================================

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")

# maskdsl's precedence levels, loosest first (docs/language.md#precedence). The maskdsl
# rendering parenthesises only what these levels require (plus a few random extra
# parentheses), so `x > 4 & x % 2 == 0` appears as written; the NumPy rendering
# parenthesises everything.
OR, XOR, AND, NOT, CMP, ADD, MUL, UNARY, POW, POSTFIX, ATOM = range(1, 12)
LEVEL = {"|": OR, "or": OR, "^": XOR, "&": AND, "and": AND, "+": ADD, "-": ADD, "*": MUL, "/": MUL,
         "//": MUL, "%": MUL, "**": POW, "<": CMP, "<=": CMP, ">": CMP, ">=": CMP, "==": CMP, "!=": CMP}
ARITHMETIC = ("+", "-", "*", "/", "//", "%", "**")
BITWISE = ("&", "|", "^")
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
AUGMENTED = tuple(op + "=" for op in ARITHMETIC + BITWISE)

# Every built-in of maskdsl/language/functions.py that NumPy has, with its NumPy spelling
# ("{}" is the argument list). A built-in missing from this table and from NOT_IN_NUMPY
# fails tests/test_numpy_oracle.py, so a new function is either generated or explained.
_NP_NAMES = {"count": "count_nonzero", **{d: d for d in DTYPES}}
NUMPY_FUNCTIONS = {name: f"np.{_NP_NAMES.get(name, name)}({{}})" for name in (
    "where", "abs", "sign", "sqrt", "exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "floor",
    "ceil", "round", "isnan", "isinf", "isfinite", "minimum", "maximum", "clip", "sum", "mean", "min",
    "max", "prod", "any", "all", "count", "arange", "zeros", "ones", "full", "size", *DTYPES)}
# selections and order statistics: generated by the "order" statement (_make_order)
ORDER_FUNCTIONS = ("sort", "unique", "median", "quantile", "percentile", "isin", "argwhere", "flatnonzero",
                   "nonzero")
NUMPY_FUNCTIONS.update({name: f"np.{name}({{}})" for name in ORDER_FUNCTIONS})
# np.shape gives a tuple; maskdsl's shape() is np.shape as an int64 array.
NUMPY_FUNCTIONS["shape"] = "np.asarray(np.shape({}), dtype=np.int64)"
NOT_IN_NUMPY: dict[str, str] = {}  # built-in -> why it has no NumPy twin (none today)
# Built-ins the oracle does not generate yet; each is compared with NumPy over every dtype,
# NaN, infinities, signed zeros and empty arrays by the file named here instead.
CHECKED_ELSEWHERE = dict.fromkeys((
    "absolute", "add", "arccos", "arcsin", "arctan", "arctan2", "astype", "copy", "cosh", "count_nonzero",
    "deg2rad", "divide", "exp2", "floor_divide", "fmod", "hypot", "len", "log10", "log2", "logical_and",
    "logical_not", "logical_or", "logical_xor", "mod", "multiply", "ndim", "negative", "positive", "power",
    "rad2deg", "ravel", "reciprocal", "remainder", "reshape", "sinh", "square", "subtract", "transpose",
    "true_divide", "trunc"), "tests/test_vocabulary.py")

# statistics (issue 14): the reductions are generated; the rest are compared with NumPy elsewhere
STATISTICS = ("nansum", "nanprod", "nanmean", "nanmin", "nanmax", "std", "var", "nanstd", "nanvar", "argmax",
              "argmin")
NUMPY_FUNCTIONS.update({name: f"np.{name}({{}})" for name in STATISTICS})
CHECKED_ELSEWHERE.update(dict.fromkeys(("cumsum", "cumprod", "nan_to_num", "isclose"), "tests/test_statistics.py"))
SINGLE_AXIS = ("argmax", "argmin")  # one axis, never a tuple
FLOAT_RESULT = ("mean", "nanmean", "std", "var", "nanstd", "nanvar")  # float sums even of integers
SUMS = ("sum", "prod", "nansum", "nanprod")
CHECKED_ELSEWHERE["select"] = "tests/test_selection_functions.py"   # lists of arrays: not in the generator's forms

UNARY_FUNCTIONS = ("abs", "sign", "sqrt", "floor", "ceil", "round", "isnan", "isinf", "isfinite")
# Documented to differ from NumPy in the last bit (docs/language.md, difference 3).
TRANSCENDENTAL = ("exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh")
REDUCTIONS = ("sum", "mean", "min", "max", "prod", "any", "all", "count", *STATISTICS)

# What the tags on a generated program mean. The oracle's classifier reads them to
# recognise known differences; a tag says a feature is present, not that it misbehaved.
TAGS = {
    "div_by_const": "true division by a constant (literal or folded) divisor",
    "negated_cmp": "a comparison under not/~, `^ True`, `== False` or `!= True`",
    "uint64_neg_literal": "a uint64 operand meets a negative Python integer",
    "float_to_int_cast": "a cast from float to a signed integer",
    "float_to_uint_cast": "a cast from float to an unsigned integer",
    "cast_literal": "a cast of a literal (NumPy's scalar constructor: np.int8(300) raises)",
    "bool_math": "an arithmetic, ordering, rounding or min/max op on booleans",
    "unsigned_math": "negation, abs, sign or ** on an unsigned integer",
    "bool_times_float": "float arithmetic with a bool operand (XLA makes it a selection)",
    "float16_mod": "// or % in float16",
    "empty": "an array with no elements",
    "order_statistic": "sort, unique, median, quantile or percentile of floats (-0.0 and 0.0 in any order)",
    "interpolation": "quantile or percentile: a + (b - a) * t, a multiply feeding an add",
    "nan": "a float value holding nan",
    "subnormal": "a float value holding a subnormal number",
    "setitem_list": "an indexed assignment of a list literal",
    "function_literal_range": "where() or clip() given an integer literal outside the other arguments' dtype",
    "float_reduce": "sum, mean or prod in floating point (or mean, std or var of integers; their nan forms)",
    "transcendental": "exp, log, sin, ... (last-bit differences are documented)",
    "scalar_element_aug": "an augmented assignment to one element picked by integers",
    "clip_bounds": "clip with a literal bound outside the array's dtype",
    "setitem_values": "an indexed assignment of a non-scalar value",
    "leading_one": "an assigned value with more dimensions than the selection (leading 1s)",
    "float_pow": "** in floating point",
    "pow_by_const": "** in floating point with a constant exponent",
    "int_pow": "** on integers",
    "int_pow_large": "** on integers with an exponent of 64 or more",
    "min_max_reduce": "min or max reduction",
    "signed_zero_op": "minimum, maximum or sign of floats (or nanmin, nanmax)",
    "mod_floordiv": "// or % (floor semantics)",
    "keepdims": "a reduction with keepdims",
    "axis": "a reduction with an axis",
}

_FLOAT_EDGES = (float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 0.5, -0.5, 2.5, 0.1, 1 / 3, -1.5)


class Raised:
    """What a piece of a program gives when NumPy raises for it."""

    def __init__(self, error: BaseException):
        self.error = error

    def __repr__(self):
        return f"Raised({type(self.error).__name__}: {self.error})"


@contextmanager
def _quiet():
    """NumPy with its floating-point warnings off (the oracle compares values, not warnings)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def run_rendering(text: str, env: dict, *, value: bool = False):
    """Run the generator's own NumPy rendering `text` (never user text) over `env`, with `np`
    and no builtins (maskdsl.generated runs it, as it runs the generated TensorFlow). With
    value=True, `text` is an expression and its value is returned; otherwise statements,
    which write into `env`."""
    if not value:
        run_generated(text, {"np": np}, env, "<numpy rendering>")
        return None
    scope = dict(env)   # (an expression: its value is read back, env is left as it was)
    run_generated(f"__value__ = ({text})", {"np": np}, scope, "<numpy rendering>")
    return scope["__value__"]


def numpy_eval(text: str, env: dict):
    """The value of the NumPy expression `text` over `env` (a Raised if NumPy raises).
    Call it inside `_quiet()`."""
    try:
        return run_rendering(text, env, value=True)
    except Exception as e:  # noqa: BLE001 -- whatever NumPy raises is the expected outcome
        return Raised(e)


def _dtype(value) -> str | None:
    """NumPy dtype name of a value; None for a Python scalar (a weak literal) or a Raised."""
    return value.dtype.name if isinstance(value, (np.ndarray, np.generic)) else None


def _kind(value) -> str:
    """'b', 'i', 'u', 'f' (weak Python scalars: by their Python type); '' for a Raised."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype.kind
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "f"
    return ""


def _shape(value) -> tuple:
    return tuple(np.shape(value)) if not isinstance(value, Raised) else ()


def _broadcasts(a: tuple, b: tuple | None) -> bool:
    """Whether shape `a` broadcasts to shape `b` (None: anything goes)."""
    if b is None:
        return True
    if len(a) > len(b):
        return False
    return all(x == 1 or x == y for x, y in zip(reversed(a), reversed(b)))


@dataclass(frozen=True)
class Expr:
    """One piece of a program: its maskdsl text (with its precedence level), its NumPy text
    (fully parenthesised) and the value NumPy gives it."""

    ms: str
    prec: int
    np: str
    value: object
    tags: frozenset = frozenset()
    reads: frozenset = frozenset()
    const: bool = False       # literals only: maskdsl folds it at compile time, Python-style
    root: str = ""            # the operator or function at the top

    @property
    def ok(self) -> bool:
        return not isinstance(self.value, Raised)

    def wrapped(self, level: int) -> str:
        """The maskdsl text, parenthesised if it binds looser than `level`."""
        return self.ms if self.prec >= level else f"({self.ms})"


@dataclass(frozen=True)
class Statement:
    """One statement: maskdsl text, NumPy text (one or more lines), and what it reads and writes."""

    ms: str
    np: str
    kind: str                 # bind, augment, update, augment_update, result
    writes: str
    reads: frozenset
    tags: frozenset
    rebinds: bool             # a plain `name = ...` (the name's previous version dies here)


@dataclass(frozen=True)
class Config:
    """What the typed generator may produce. The defaults are everything."""

    dtypes: tuple = DTYPES
    max_rank: int = 3
    dims: tuple = (1, 2, 3, 4, 5)
    shapes: tuple | None = None          # fixed input shapes to choose from (overrides rank/dims)
    empty_probability: float = 0.12      # an input shape has a 0 dimension
    edge_probability: float = 0.2        # an element is an edge value (nan, +-0, +-inf, limits)
    error_probability: float = 0.08      # keep a piece NumPy raises for (an error program)
    max_inputs: int = 3
    max_statements: int = 4
    max_depth: int = 3
    final_expression_probability: float = 0.4
    statements: tuple = ("update", "augment_update", "bind", "augment", "reduce", "where", "select", "order")
    operators: tuple = ARITHMETIC + BITWISE
    functions: tuple = tuple(sorted(NUMPY_FUNCTIONS))
    edge_literals: bool = True
    # Tags (TAGS) no piece may have: such a piece is drawn again. "empty" and "subnormal"
    # also keep empty shapes and subnormal edge values out of the inputs.
    avoid: frozenset = frozenset()


@dataclass
class Case:
    """A generated program: both renderings, its inputs and what to expect of it."""

    source: str                          # maskdsl
    numpy_source: str                    # the same meaning as NumPy code
    statements: tuple                    # Statement per maskdsl statement
    inputs: dict                         # name -> np.ndarray
    outputs: tuple                       # output names, as maskdsl names them
    output_tags: dict                    # output name -> tags of everything it depends on
    seed: int | None = None

    @property
    def tags(self) -> frozenset:
        return frozenset().union(*(s.tags for s in self.statements))

    def signature(self, dynamic: bool = False) -> dict:
        return signature_of(self.inputs, dynamic)

    def describe(self) -> str:
        """The program, its NumPy rendering and its inputs, for a failure message."""
        lines = [f"maskdsl (seed {self.seed}):" if self.seed is not None else "maskdsl:"]
        lines += ["    " + line for line in self.source.splitlines()]
        lines += ["NumPy:"] + ["    " + line for line in self.numpy_source.splitlines()]
        lines += ["inputs:"]
        for name, value in self.inputs.items():
            lines.append(f"    {name} = {format_array(value)}")
        return "\n".join(lines)


def signature_of(inputs: dict, dynamic: bool = False) -> dict:
    """Type specs of arrays: their exact shapes, or every dimension None."""
    out = {}
    for name, value in inputs.items():
        value = np.asarray(value)
        dims = ", ".join("None" if dynamic else str(d) for d in value.shape)
        out[name] = f"{value.dtype.name}[{dims}]" if value.ndim else value.dtype.name
    return out


def format_array(value) -> str:
    """`np.array([...], dtype=...)` text that round-trips nan, -0.0 and extreme values."""
    value = np.asarray(value)
    if value.size == 0:
        return f"np.empty({value.shape}, dtype=np.{value.dtype.name})"
    with np.printoptions(threshold=200, floatmode="unique", linewidth=10_000):
        body = np.array2string(value, separator=", ") if value.ndim else repr(value.item())
    body = " ".join(body.split()).replace("nan", "np.nan").replace("inf", "np.inf")
    return f"np.array({body}, dtype=np.{value.dtype.name})  # shape {value.shape}"


@dataclass
class NumpyResult:
    """What the NumPy rendering gives: output values, or the error and the statement raising it."""

    values: dict | None = None
    error: BaseException | None = None
    statement: int | None = None


def run_numpy(case: Case) -> NumpyResult:
    """Run the NumPy rendering statement by statement (floating-point warnings off)."""
    namespace = {name: value.copy() for name, value in case.inputs.items()}
    with _quiet():
        for i, statement in enumerate(case.statements):
            try:
                run_rendering(statement.np, namespace)
            except Exception as e:  # noqa: BLE001 -- NumPy raising is an outcome, compared with maskdsl's
                return NumpyResult(error=e, statement=i)
    return NumpyResult(values={name: np.asarray(namespace[name]) for name in case.outputs})


def random_array(rng: random.Random, dtype: str, shape: tuple, edge_probability: float = 0.2,
                 subnormals: bool = True) -> np.ndarray:
    """Random values of `dtype`: small ordinary numbers, and edge values (nan, +-0.0, +-inf,
    the dtype's limits and their neighbours, subnormals) with `edge_probability` each."""
    dt = np.dtype(dtype)
    values = [_element(rng, dt, edge_probability, subnormals) for _ in range(prod(shape))]
    with _quiet():
        return np.array(values, dtype=dt).reshape(shape)


def _element(rng: random.Random, dt: np.dtype, edge_probability: float, subnormals: bool = True):
    edge = rng.random() < edge_probability
    if dt.kind == "b":
        return rng.random() < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if edge:
            return rng.choice([int(info.min), int(info.max), int(info.min) + 1, int(info.max) - 1,
                               int(info.max) // 2 + 1, 0, 1])
        return rng.randint(max(int(info.min), -9), min(int(info.max), 9))
    info = np.finfo(dt)
    if edge:
        tiny = (float(info.smallest_subnormal), -float(info.smallest_subnormal)) if subnormals else ()
        return rng.choice(_FLOAT_EDGES + tiny + (float(info.max), -float(info.max), float(info.max) / 2,
                                                 float(info.smallest_normal), float(info.eps), 1e10))
    r = rng.random()
    if r < 0.3:
        return float(rng.randint(-9, 9))
    if r < 0.6:
        return rng.randint(-40, 40) / 4
    return rng.gauss(0, 10)  # every bit of the mantissa in use: rounding differences show


def random_case(seed: int, config: Config | None = None) -> Case:
    """The typed program for `seed` (the same seed always gives the same program)."""
    case = ProgramGenerator(random.Random(seed), config).case()
    case.seed = seed
    return case


class ProgramGenerator:
    """Random typed programs, built piece by piece with NumPy evaluating each piece.

    Choices are steered by the values: a mask is built to the shape it indexes, an
    update's value to the shape it selects, literals mostly to fit the array they meet.
    A piece NumPy raises for is kept with probability `error_probability` (the program
    then tests an error); otherwise it is drawn again.
    """

    def __init__(self, rng: random.Random, config: Config | None = None):
        self.rng = rng
        self.config = config = config or Config()
        if "empty" in config.avoid:
            self.config = config = replace(config, empty_probability=0.0)
        functions = set(self.config.functions)
        self.unary = [f for f in UNARY_FUNCTIONS if f in functions]
        self.transcendental = [f for f in TRANSCENDENTAL if f in functions]
        self.reductions = [f for f in REDUCTIONS if f in functions]
        self.casts = [f for f in DTYPES if f in functions]

    # ---- the program ----
    def case(self) -> Case:
        with _quiet():
            for _ in range(50):
                case = self._attempt()
                if case is not None:
                    return case
        raise RuntimeError("no program could be generated with this configuration")

    def _attempt(self) -> Case | None:
        rng, config = self.rng, self.config
        self.env: dict[str, object] = {}           # name -> current NumPy value
        self.env_tags: dict[str, frozenset] = {}   # name -> tags of everything its value depends on
        self.fresh = iter(["y", "z", "w", "v", "s", "t", "u", "r", "q", "p", "o", "n", "k"])
        self.temps = 0
        self.owned: set[str] = set()              # names whose NumPy value no other name shares
        self.scratch: dict[str, object] = {}
        inputs = self._make_inputs()
        statements: list[Statement] = []
        for _ in range(rng.randint(1, config.max_statements)):
            kind = rng.choice(config.statements)
            made = self._statement(kind)
            if made is None:
                continue
            statements += made[0]
            if not made[1]:   # NumPy raised: nothing after it would run
                break
        else:
            if rng.random() < config.final_expression_probability:
                final = self._final()
                if final is not None:
                    statements.append(final)
        if not statements:
            return None
        return self._finish(statements, inputs)

    def _finish(self, statements: list[Statement], inputs: dict) -> Case | None:
        """Drop dead statements (maskdsl removes them, with their run-time checks), then
        work out the inputs (names read before written) and the outputs."""
        if statements[-1].kind == "result":
            outputs = ("result",)
        else:
            outputs = tuple(dict.fromkeys(s.writes for s in statements if not s.writes.startswith("_")))
        live, kept = set(outputs), []
        for s in reversed(statements):
            if s.writes not in live:
                continue
            kept.append(s)
            if s.rebinds:
                live.discard(s.writes)
            live |= s.reads
        kept.reverse()
        if not kept:
            return None
        if kept[-1].kind != "result":
            outputs = tuple(dict.fromkeys(s.writes for s in kept if not s.writes.startswith("_")))
        written, used = set(), []
        for s in kept:
            used += [n for n in sorted(s.reads) if n not in written and n in inputs and n not in used]
            written.add(s.writes)
        if not used:
            return None
        tags: dict[str, frozenset] = {}
        for s in kept:
            tags[s.writes] = s.tags | frozenset().union(*(tags.get(n, frozenset()) for n in s.reads))
        return Case(source="\n".join(s.ms for s in kept), numpy_source="\n".join(s.np for s in kept),
                    statements=tuple(kept), inputs={n: inputs[n] for n in used}, outputs=outputs,
                    output_tags={n: tags[n] for n in outputs})

    def _make_inputs(self) -> dict:
        rng, config = self.rng, self.config
        base = self._shape()
        dtype0 = rng.choice(config.dtypes)
        inputs = {}
        for name in ["x", "y", "z"][:rng.randint(1, config.max_inputs)]:
            r = rng.random()
            if name == "x" or r < 0.55 or config.shapes:
                shape = base if name == "x" or not config.shapes else rng.choice(config.shapes)
            elif r < 0.75:
                shape = tuple(1 if rng.random() < 0.3 else d for d in base[rng.randint(0, len(base)):])
            elif r < 0.9:
                shape = ()
            else:
                shape = self._shape()
            dtype = dtype0 if rng.random() < 0.4 else rng.choice(config.dtypes)
            inputs[name] = random_array(rng, dtype, shape, config.edge_probability, "subnormal" not in config.avoid)
        if "bool" in config.dtypes and rng.random() < 0.25:
            shape = base[:rng.randint(0, len(base))] if base and rng.random() < 0.3 else base
            inputs["m"] = random_array(rng, "bool", shape)
        for name, value in inputs.items():
            self.env[name] = value
            self.env_tags[name] = frozenset(_value_tags(value))
        return inputs

    def _shape(self) -> tuple:
        rng, config = self.rng, self.config
        if config.shapes:
            return tuple(rng.choice(config.shapes))
        rank = min(config.max_rank, rng.choices([0, 1, 2, 3], [15, 35, 30, 20])[0])
        shape = [rng.choice(config.dims) for _ in range(rank)]
        if shape and rng.random() < config.empty_probability:
            shape[rng.randrange(rank)] = 0
        return tuple(shape)

    # ---- statements ----
    def _statement(self, kind: str) -> tuple[list[Statement], bool] | None:
        """([statements], NumPy ran them) for one statement of `kind` (two with a mask temporary)."""
        for _ in range(6):
            self.scratch = {}   # mask temporaries of the statement being made
            made = getattr(self, f"_make_{kind}")()
            if made is None:
                return None
            if any(s.tags & self.config.avoid for s in made):
                continue
            statements, ok = self._run(made)
            if ok or self.rng.random() < self.config.error_probability:
                return statements, ok
        return None

    def _run(self, statements: list[Statement]) -> tuple[list[Statement], bool]:
        """Execute the statements' NumPy on a copy of the environment; commit it if none raises."""
        env = dict(self.env)
        for s in statements:
            try:
                run_rendering(s.np, env)
            except Exception:  # noqa: BLE001 -- an error program, kept or drawn again by the caller
                return statements, False
        for s in statements:
            self.env_tags[s.writes] = s.tags | frozenset().union(*(self.env_tags.get(n, frozenset())
                                                                  for n in s.reads))
            if s.kind in ("update", "augment_update", "augment"):
                self.owned.add(s.writes)
            else:
                self.owned.discard(s.writes)
                self.owned -= s.reads  # a binding may alias what it reads (y = x, y = x[0:2])
        self.env = env
        return statements, True

    def _targets(self) -> list[str]:
        """Names an in-place statement may write: arrays (not weak Python literals)."""
        return [n for n, v in self.env.items() if isinstance(v, (np.ndarray, np.generic)) and not n.startswith("_")]

    def _copy(self, name: str) -> str:
        """NumPy's line making `name` safe to write in place (maskdsl's value semantics)."""
        if name in self.owned:
            return ""
        value = self.env[name]
        return f"{name} = {name}.copy()\n" if isinstance(value, np.ndarray) else f"{name} = np.array({name})\n"

    def _var(self, name: str) -> Expr:
        return Expr(name, ATOM, name, self.env[name], self.env_tags.get(name, frozenset()), frozenset({name}),
                    root="name")

    def _make_update(self, augmented: bool = False) -> list[Statement] | None:
        rng = self.rng
        targets = self._targets()
        if not targets:
            return None
        name = rng.choice(targets)
        target = self._var(name)
        items, pre = self._index(target, update=True)
        index_ms = ", ".join(i.ms for i in items)
        index_np = ", ".join(i.np for i in items)
        selection = self._build(f"{name}[{index_ms}]", POSTFIX, f"{name}[{index_np}]", [target, *items], "select")
        rhs = self._update_value(target, selection, augmented)
        op = rng.choice([o for o in AUGMENTED if o[:-1] in self.config.operators]) if augmented else "="
        tags = set(selection.tags | rhs.tags)
        if selection.ok and rhs.ok:
            tags |= self._assignment_tags(selection, rhs, op)
        ms = f"{name}[{index_ms}] {op} {rhs.ms}"
        np_text = f"{self._copy(name)}{name}[{index_np}] {op} {rhs.np}"
        reads = target.reads | rhs.reads | frozenset().union(*(i.reads for i in items))
        kind = "augment_update" if augmented else "update"
        return pre + [Statement(ms, np_text, kind, name, reads, frozenset(tags), False)]

    def _make_augment_update(self):
        return self._make_update(augmented=True)

    def _make_augment(self) -> list[Statement] | None:
        targets = self._targets()
        if not targets:
            return None
        name = self.rng.choice(targets)
        target = self._var(name)
        op = self.rng.choice([o for o in AUGMENTED if o[:-1] in self.config.operators])
        rhs = self._operand(1, _shape(target.value))
        tags = target.tags | rhs.tags | self._op_tags(op[:-1], [target, rhs], None)
        ms = f"{name} {op} {rhs.ms}"
        return [Statement(ms, f"{self._copy(name)}{name} {op} {rhs.np}", "augment", name,
                          target.reads | rhs.reads, frozenset(tags), False)]

    def _fresh(self) -> str | None:
        """A name not bound yet (bindings never overwrite: every statement stays live)."""
        return next((n for n in self.fresh if n not in self.env), None)

    def _make_bind(self) -> list[Statement] | None:
        name = self._fresh()
        if name is None:
            return None
        like = _shape(self.env[self.rng.choice(list(self.env))])
        value = self._mask(1, like) if self.rng.random() < 0.2 else self._operand(0, like)
        return [Statement(f"{name} = {value.ms}", f"{name} = {value.np}", "bind", name, value.reads,
                          value.tags, True)]

    def _make_select(self) -> list[Statement] | None:
        name = self._fresh()
        if name is None:
            return None
        value = self._selection()
        if value is None:
            return None
        return [Statement(f"{name} = {value.ms}", f"{name} = {value.np}", "bind", name, value.reads,
                          value.tags, True)]

    def _make_reduce(self) -> list[Statement] | None:
        name = self._fresh()
        if name is None or not self.reductions:
            return None
        value = self._reduction(1, None)
        return [Statement(f"{name} = {value.ms}", f"{name} = {value.np}", "bind", name, value.reads,
                          value.tags, True)]

    def _make_where(self) -> list[Statement] | None:
        targets = self._targets()
        if not targets or "where" not in self.config.functions:
            return None
        name = self.rng.choice(targets)
        target = self._var(name)
        shape = _shape(target.value)
        cond, other = self._mask(1, shape), self._operand(1, shape)
        args = [cond, other, target] if self.rng.random() < 0.7 else [cond, target, other]
        value = self._call("where", args)
        return [Statement(f"{name} = {value.ms}", f"{name} = {value.np}", "bind", name, value.reads,
                          value.tags, True)]

    def _make_order(self) -> list[Statement] | None:
        """`name = ` a selection or order statistic of a name or a selection: sort, unique, median,
        quantile, percentile, isin, argwhere, flatnonzero, where(m)[k] or x[where(m)]."""
        rng = self.rng
        name, targets = self._fresh(), self._targets()
        kinds = [k for k in ORDER_FUNCTIONS if k in self.config.functions]
        if name is None or not targets or not kinds:
            return None
        arg = self._var(rng.choice(targets)) if rng.random() < 0.7 else self._selection()
        if arg is None or not arg.ok:
            return None
        kind, ndim = rng.choice(kinds), np.ndim(arg.value)
        ms_args, np_args = [arg.ms], [arg.np]
        if kind in ("quantile", "percentile"):
            top = 1 if kind == "quantile" else 100
            q = rng.choice([0.5, 0.25, 0.9, 1.0, [0.1, 0.5], [0, 1]]) if top == 1 else \
                rng.choice([50, 12.5, 90, 100, [10, 50, 90]])
            ms_args.append(repr(q))
            np_args.append(repr(q))
        if kind in ("sort", "median", "quantile", "percentile") and rng.random() < 0.5:
            axis = None if rng.random() < 0.2 or not ndim else rng.randint(-ndim, ndim - 1)
            ms_args.append(f"axis={axis}")
            np_args.append(f"axis={axis}")
        if kind == "isin":
            values = self._list([self._literal_python(_kind(arg.value)) for _ in range(rng.randint(1, 3))])
            ms_args.append(values.ms)
            np_args.append(values.np)
        if kind == "nonzero":   # a tuple is no value: index with it, or take one of its arrays
            mask = self._mask(1, _shape(arg.value)) if ndim else self._literal_value(True)
            if rng.random() < 0.5 and ndim:
                value = self._build(f"{arg.wrapped(POSTFIX)}[where({mask.ms})]", POSTFIX,
                                    f"{arg.np}[np.where({mask.np})]", [arg, mask], "select")
            else:
                k = rng.randint(-1, max(ndim - 1, 0))
                value = self._build(f"nonzero({mask.ms})[{k}]", POSTFIX, f"np.nonzero({mask.np})[{k}]", [mask],
                                    "nonzero")
        else:
            value = self._build(f"{kind}({', '.join(ms_args)})", POSTFIX,
                                f"np.{kind}({', '.join(np_args)})", [arg], kind)
        if kind in ("sort", "unique", "median", "quantile", "percentile") and _kind(arg.value) == "f":
            value = replace(value, tags=value.tags | {"order_statistic"})
        if kind in ("quantile", "percentile"):
            value = replace(value, tags=value.tags | {"interpolation"})
        return [Statement(f"{name} = {value.ms}", f"{name} = {value.np}", "bind", name, value.reads,
                          value.tags, True)]

    def _final(self) -> Statement | None:
        r = self.rng.random()
        if r < 0.4 and "select" in self.config.statements:
            value = self._selection()
        elif r < 0.7 and self.reductions:
            value = self._reduction(1, None)
        else:
            value = self._operand(0, _shape(self.env[self.rng.choice(list(self.env))]))
        if value is None or not value.ok and self.rng.random() > self.config.error_probability:
            return None
        return Statement(value.ms, f"result = {value.np}", "result", "result", value.reads, value.tags, True)

    def _selection(self) -> Expr | None:
        targets = self._targets()
        if not targets:
            return None
        target = self._var(self.rng.choice(targets))
        for _ in range(4):
            items, pre = self._index(target, update=False)
            if pre:  # a mask temporary is for updates only
                continue
            index_ms = ", ".join(i.ms for i in items)
            index_np = ", ".join(i.np for i in items)
            sel = self._build(f"{target.ms}[{index_ms}]", POSTFIX, f"{target.np}[{index_np}]", [target, *items],
                              "select")
            if sel.ok:
                return sel
        return sel

    # ---- indexes and assigned values ----
    def _index(self, target: Expr, update: bool) -> tuple[list[Expr], list[Statement]]:
        """Index items for `target` (NumPy's forms and their combinations), and for an update
        sometimes a statement binding its mask to a temporary first (`_m1 = ...; x[_m1] = ...`)."""
        rng = self.rng
        shape = _shape(target.value)
        n = len(shape)
        patterns = ["mask"] * 6 + ["int", "slice", "int_array", "ellipsis", "bool_scalar"]
        if n >= 2:
            patterns += ["lead_mask", "lead_mask", "mid_mask", "mask_slice"]
        if not update:
            patterns += ["newaxis"]
        if n == 0:
            patterns = ["mask"] * 4 + ["ellipsis", "bool_scalar"]
        pattern = rng.choice(patterns)
        items: list[Expr] = []
        if pattern == "mask":
            items = [self._mask(1, shape)]
        elif pattern == "lead_mask":
            k = rng.randint(1, n - 1)
            items = [self._mask(1, shape[:k])]
            if rng.random() < 0.3:
                items.append(self._slice(shape[k]))
        elif pattern == "mid_mask":
            items = [_item(":"), self._mask(1, shape[1:2])]
        elif pattern == "mask_slice":
            items = [self._mask(1, shape[:1]), self._slice(shape[1])]
        elif pattern == "int":
            items = [self._integer(d) for d in shape[:rng.randint(1, n)]]
        elif pattern == "slice":
            items = [self._slice(d) for d in shape[:rng.randint(1, n)]]
        elif pattern == "int_array":
            items = [self._integers(shape[0])]
            if n >= 2 and rng.random() < 0.3:
                items.append(rng.choice([self._slice(shape[1]), self._integer(shape[1])]))
        elif pattern == "ellipsis":
            items = [_item("...")]
            if n:
                items.append(rng.choice([self._integer(shape[-1]), self._slice(shape[-1]),
                                         self._mask(1, shape[-1:])]))
        elif pattern == "bool_scalar":
            items = [self._literal_value(rng.random() < 0.7)]
        else:  # newaxis
            items = [self._slice(shape[0]), _item("None")]
            rng.shuffle(items)
        pre = []
        if update and items and items[0].root not in ("slice", "index") and _kind(items[0].value) == "b" \
                and np.ndim(items[0].value) > 0 and rng.random() < 0.2:
            self.temps += 1
            name, mask = f"_m{self.temps}", items[0]
            pre = [Statement(f"{name} = {mask.ms}", f"{name} = {mask.np}", "bind", name, mask.reads, mask.tags,
                             True)]
            self.scratch[name] = mask.value
            items[0] = Expr(name, ATOM, name, mask.value, mask.tags, frozenset({name}), root="name")
        return items, pre

    def _integer(self, size: int) -> Expr:
        rng = self.rng
        if size == 0 or rng.random() < 0.04:
            i = rng.choice([size, -size - 1])  # out of range: IndexError in NumPy
        else:
            i = rng.randint(-size, size - 1)
        return _item(str(i), root="index", value=i)

    def _integers(self, size: int) -> Expr:
        rng = self.rng
        if size == 0:
            values = [] if rng.random() < 0.5 else [0]
        else:
            values = [rng.randint(-size, size - 1) for _ in range(rng.randint(1, 4))]
        return _item(f"[{', '.join(map(str, values))}]", root="index", value=values)

    def _slice(self, size: int) -> Expr:
        rng = self.rng
        parts = [rng.choice([None, None, 0, 1, -1, 2, -2, size]), rng.choice([None, None, 1, 2, 3, -1, size + 1])]
        step = rng.choice([None, None, None, 1, 2, -1, -2, 3])
        text = ":".join("" if p is None else str(p) for p in parts) + ("" if step is None else f":{step}")
        return _item(text, root="slice")

    def _update_value(self, target: Expr, selection: Expr, augmented: bool) -> Expr:
        rng = self.rng
        shape = _shape(selection.value) if selection.ok else ()
        kind = _kind(target.value)
        r = rng.random()
        if r < 0.35:
            return self._literal(kind)
        if r < 0.6:
            return self._operand(1, shape, extra=[selection] if selection.ok else [])
        if r < 0.72 and len(shape) == 1 and shape[0] <= 12:
            count = shape[0] if rng.random() < 0.9 else shape[0] + rng.choice([-1, 1])
            return self._list([self._literal_python(kind) for _ in range(max(count, 0))])
        if r < 0.85 and self.reductions:
            return self._reduction(1, ())
        return self._operand(1, shape)

    # ---- expressions ----
    def _operand(self, depth: int, like: tuple | None, extra=()) -> Expr:
        """A numeric or boolean expression whose value broadcasts to shape `like`."""
        for _ in range(6):
            e = self._operand_once(depth, like, extra)
            if e.tags & self.config.avoid:
                continue
            if e.ok and _broadcasts(_shape(e.value), like):
                return e
            if not e.ok and self.rng.random() < self.config.error_probability:
                return e
        return self._leaf(like, extra)

    def _operand_once(self, depth: int, like, extra) -> Expr:
        rng, config = self.rng, self.config
        if depth >= config.max_depth or rng.random() < 0.3:
            return self._leaf(like, extra)
        functions = config.functions
        choice = rng.choices(
            ["binary", "unary", "function", "transcendental", "minmax", "clip", "where", "cast", "reduce",
             "compare", "construct", "size"],
            [30, 6, 10, 8 if self.transcendental else 0, 5, 3, 5, 14 if self.casts else 0,
             6 if self.reductions else 0, 6, 3, 3])[0]
        if choice == "binary" and config.operators:
            op = rng.choice(config.operators)
            a = self._operand(depth + 1, like, extra)
            b = self._literal(_kind(a.value)) if rng.random() < 0.45 else self._operand(depth + 1, like, extra)
            if rng.random() < 0.2:
                a, b = b, a
            if op in BITWISE and rng.random() < 0.25 and op != "^":
                op = {"&": "and", "|": "or"}[op]
            return self._binary(op, a, b)
        if choice == "unary":
            return self._unary(rng.choice(["-", "-", "+", "~"]), self._operand(depth + 1, like, extra))
        if choice == "function" and self.unary:
            return self._call(rng.choice(self.unary), [self._operand(depth + 1, like, extra)])
        if choice == "transcendental":
            return self._call(rng.choice(self.transcendental), [self._operand(depth + 1, like, extra)])
        if choice == "minmax" and {"minimum", "maximum"} <= set(functions):
            a, b = self._operand(depth + 1, like, extra), self._literal_or_operand(depth + 1, like, extra)
            return self._call(rng.choice(["minimum", "maximum"]), [a, b])
        if choice == "clip" and "clip" in functions:
            a = self._operand(depth + 1, like, extra)
            lo, hi = self._literal(_kind(a.value)), self._literal(_kind(a.value))
            return self._call("clip", [a, lo, hi])
        if choice == "where" and "where" in functions:
            return self._call("where", [self._mask(depth + 1, like or ()), self._operand(depth + 1, like, extra),
                                        self._literal_or_operand(depth + 1, like, extra)])
        if choice == "cast":
            return self._cast(rng.choice(self.casts), self._literal_or_operand(depth + 1, like, extra))
        if choice == "reduce":
            return self._reduction(depth + 1, like)
        if choice == "compare":
            return self._mask(depth + 1, like or ())
        if choice == "construct":
            return self._construct(like)
        if choice == "size" and {"size", "shape"} <= set(functions):
            name = rng.choice(list(self.env))
            ndim = np.ndim(self.env[name])
            if ndim and rng.random() < 0.5:
                return self._subscript(self._call("shape", [self._var(name)]), rng.randint(-ndim, ndim - 1))
            return self._call("size", [self._var(name)])
        return self._leaf(like, extra)

    def _literal_or_operand(self, depth: int, like, extra=()) -> Expr:
        return self._literal() if self.rng.random() < 0.4 else self._operand(depth, like, extra)

    def _leaf(self, like, extra=()) -> Expr:
        rng = self.rng
        names = [n for n, v in self.env.items() if _broadcasts(_shape(v), like)]
        candidates = [self._var(n) for n in names] + list(extra)
        if not candidates or rng.random() < 0.3:
            sample = self.env[rng.choice(list(self.env))] if self.env else 0
            return self._literal(_kind(sample))
        exact = [c for c in candidates if _shape(c.value) == like]
        return rng.choice(exact * 2 + candidates)

    def _mask(self, depth: int, shape: tuple) -> Expr:
        """A boolean expression of exactly `shape`."""
        for _ in range(6):
            m = self._mask_once(depth, shape)
            if m.tags & self.config.avoid:
                continue
            if m.ok and _kind(m.value) == "b" and _shape(m.value) == tuple(shape) and not isinstance(m.value, bool):
                return m
            if not m.ok and self.rng.random() < self.config.error_probability:
                return m
        if "full" in self.config.functions:
            return self._call("full", [self._shape_literal(shape), self._literal_value(self.rng.random() < 0.5)])
        return self._binary("==", self._construct(shape, "zeros"), self._literal_value(0))

    def _mask_once(self, depth: int, shape: tuple) -> Expr:
        rng = self.rng
        choice = rng.choices(["compare", "chain", "predicate", "combine", "negate", "input", "list", "arange",
                              "lead"], [35, 7, 7, 20 if depth < self.config.max_depth else 0, 10, 8, 5,
                                        4 if len(shape) == 1 else 0, 6])[0]
        if choice == "compare":
            a = self._operand(depth + 1, shape)
            b = self._literal(_kind(a.value)) if rng.random() < 0.6 else self._operand(depth + 1, shape)
            if rng.random() < 0.15:
                a, b = b, a
            return self._binary(rng.choice(COMPARISONS), a, b)
        if choice == "chain":
            a = self._operand(depth + 1, shape)
            lo, hi = self._literal(_kind(a.value)), self._literal(_kind(a.value))
            return self._chain(lo, rng.choice(["<", "<="]), a, rng.choice(["<", "<="]), hi)
        if choice == "predicate":
            return self._call(rng.choice(["isnan", "isinf", "isfinite"]), [self._operand(depth + 1, shape)])
        if choice == "combine":
            op = rng.choice(["&", "|", "^", "and", "or"])
            return self._binary(op, self._mask(depth + 1, shape), self._mask(depth + 1, shape))
        if choice == "negate":
            m = self._mask(depth + 1, shape)
            form = rng.choice(["not", "~", ("^", True), ("==", False), ("!=", True)])
            if form in ("not", "~"):
                return self._unary(form, m)
            return self._binary(form[0], m, self._literal_value(form[1]))
        if choice == "input":
            names = [n for n, v in self.env.items() if _kind(v) == "b" and _shape(v) == tuple(shape)]
            if names:
                return self._var(rng.choice(names))
        if choice == "list" and shape and 0 < prod(shape) <= 16:
            values = np.array([rng.random() < 0.5 for _ in range(prod(shape))]).reshape(shape).tolist()
            return self._list(values)
        if choice == "arange" and "arange" in self.config.functions:
            r = self._call("arange", [self._literal_value(shape[0])])
            if rng.random() < 0.5:
                return self._binary("==", self._binary("%", r, self._literal_value(rng.randint(2, 3))),
                                    self._literal_value(rng.randint(0, 1)))
            return self._binary(rng.choice(COMPARISONS), r, self._literal_value(rng.randint(0, 3)))
        if choice == "lead" and self.reductions:
            names = [n for n, v in self.env.items()
                     if np.ndim(v) > len(shape) and _shape(v)[:len(shape)] == tuple(shape)]
            if names and {"any", "all"} & set(self.reductions):
                var = self._var(rng.choice(names))
                inner = self._binary(rng.choice(COMPARISONS), var, self._literal(_kind(var.value)))
                axes = tuple(range(len(shape), np.ndim(var.value)))
                return self._reduce_call(rng.choice([k for k in ("any", "all") if k in self.reductions]), inner,
                                         axes if len(axes) > 1 else axes[0], None)
        a = self._operand(depth + 1, shape)
        return self._binary(rng.choice(COMPARISONS), a, self._literal(_kind(a.value)))

    def _reduction(self, depth: int, like) -> Expr:
        """A reduction of a name, a selection or an expression; when `like` is given its result
        must broadcast to it (a full reduction, or keepdims)."""
        rng = self.rng
        kind = rng.choice(self.reductions)
        targets = self._targets()
        r = rng.random()
        arg = None
        if r < 0.4 and targets:
            arg = self._var(rng.choice(targets))
        elif r < 0.75 and targets:
            arg = self._selection()
        if arg is None:
            arg = self._operand(depth + 1, None)
        ndim = np.ndim(arg.value) if arg.ok else 1
        axis = ...   # not given
        r = rng.random()
        if r < 0.3 and ndim:
            axis = rng.randint(-ndim, ndim - 1)
        elif r < 0.4 and ndim >= 2:
            axis = tuple(sorted(rng.sample(range(ndim), rng.randint(1, ndim))))
        elif r < 0.45:
            axis = None
        elif r < 0.47:
            axis = ndim  # out of range: NumPy's AxisError
        if kind in SINGLE_AXIS and isinstance(axis, tuple):
            axis = axis[0]
        keepdims = rng.choice([None] * 7 + [True, True, False])
        if like is not None and axis not in (..., None) and keepdims is not True and rng.random() < 0.8:
            keepdims = True
        return self._reduce_call(kind, arg, axis, keepdims)

    def _reduce_call(self, kind: str, arg: Expr, axis, keepdims) -> Expr:
        rng = self.rng
        ms_args, np_args = [arg.ms], [arg.np]
        if axis is not ...:
            text = f"({axis[0]},)" if isinstance(axis, tuple) and len(axis) == 1 else str(axis)
            ms_args.append(text if rng.random() < 0.25 and keepdims is None else f"axis={text}")
            np_args.append(f"axis={text}")
        if keepdims is not None:
            ms_args.append(f"keepdims={keepdims}")
            np_args.append(f"keepdims={keepdims}")
        np_text = NUMPY_FUNCTIONS[kind].format(", ".join(np_args))
        e = self._build(f"{kind}({', '.join(ms_args)})", POSTFIX, np_text, [arg], kind)
        tags = set()
        if (kind in SUMS and _kind(arg.value) == "f") or kind in FLOAT_RESULT:
            tags.add("float_reduce")
        if kind in ("min", "max", "nanmin", "nanmax"):
            tags.add("min_max_reduce")
        if kind in ("nanmin", "nanmax") and _kind(arg.value) == "f":
            tags.add("signed_zero_op")  # which signed zero: NumPy's SIMD loops decide (docs/language.md)
        if axis is not ...:
            tags.add("axis")
        if keepdims:
            tags.add("keepdims")
        if _kind(arg.value) == "b" and kind in ("min", "max"):
            tags.add("bool_math")
        return replace(e, tags=e.tags | tags)

    def _construct(self, like, kind: str | None = None) -> Expr:
        rng = self.rng
        like = tuple(like) if like is not None else (rng.randint(0, 4),)
        available = [k for k in ("ones", "zeros", "full", "arange") if k in self.config.functions]
        kind = kind or (rng.choice(available) if available else None)
        if kind is None:
            return self._literal()
        if kind == "arange":
            n = like[-1] if like else 1
            if rng.random() < 0.3:
                return self._call("arange", [self._literal_value(rng.randint(-2, 1)),
                                             self._literal_value(n + rng.randint(-2, 1)), self._literal_value(1)])
            return self._call("arange", [self._literal_value(n)])
        shape = self._shape_literal(like)
        if kind == "full":
            return self._call("full", [shape, self._literal()])
        return self._call(kind, [shape])

    def _shape_literal(self, shape: tuple) -> Expr:
        text = str(shape[0]) if len(shape) == 1 and self.rng.random() < 0.5 else (
            f"({shape[0]},)" if len(shape) == 1 else str(tuple(shape)))
        return Expr(text, ATOM, text, tuple(shape), const=True, root="shape")

    # ---- renderings of one construct in both languages ----
    def _build(self, ms: str, prec: int, np_text: str, args: list[Expr], root: str, op: str | None = None) -> Expr:
        """An Expr from its two texts: NumPy evaluates it (unless an argument already raised)."""
        bad = next((a for a in args if not a.ok), None)
        value = bad.value if bad else numpy_eval(np_text, {**self.env, **self.scratch})
        tags = frozenset().union(*(a.tags for a in args))
        if not isinstance(value, Raised):
            tags |= self._op_tags(op or root, args, value)
            tags |= _value_tags(value)
            if any(np.size(a.value) == 0 for a in args if isinstance(a.value, (np.ndarray, list))):
                tags |= {"empty"}
        if self.rng.random() < 0.04 and prec < ATOM:
            ms, prec = f"({ms})", ATOM   # redundant parentheses are part of the language too
        reads = frozenset().union(*(a.reads for a in args))
        return Expr(ms, prec, np_text, value, tags, reads, bool(args) and all(a.const for a in args), root)

    def _binary(self, op: str, a: Expr, b: Expr) -> Expr:
        if op == "**" and type(a.value) is int and type(b.value) is int and abs(b.value) > 8:
            b = self._literal_value(2)  # Python's exact integers: 127 ** 2**32 would take forever
        level = LEVEL[op]
        if op == "**":
            ms = f"{a.wrapped(POSTFIX)} ** {b.wrapped(UNARY)}"
        elif level == CMP:
            ms = f"{a.wrapped(ADD)} {op} {b.wrapped(ADD)}"
        else:
            ms = f"{a.wrapped(level)} {op} {b.wrapped(level + 1)}"
        np_op = {"and": "&", "or": "|"}.get(op, op)
        return self._build(ms, level, f"({a.np} {np_op} {b.np})", [a, b], op)

    def _chain(self, lo: Expr, op1: str, a: Expr, op2: str, hi: Expr) -> Expr:
        ms = f"{lo.wrapped(ADD)} {op1} {a.wrapped(ADD)} {op2} {hi.wrapped(ADD)}"
        np_text = f"(({lo.np} {op1} {a.np}) & ({a.np} {op2} {hi.np}))"
        e = self._build(ms, CMP, np_text, [lo, a, hi], "chain")
        return replace(e, tags=e.tags | self._op_tags(op1, [lo, a], None) | self._op_tags(op2, [a, hi], None))

    def _unary(self, op: str, a: Expr) -> Expr:
        if op == "not":
            return self._build(f"not {a.wrapped(NOT)}", NOT, f"np.logical_not({a.np})", [a], "not")
        operand = a.wrapped(UNARY)
        space = " " if operand[:1] in "-+~" else ""
        root = {"-": "neg", "+": "pos", "~": "invert"}[op]
        return self._build(f"{op}{space}{operand}", UNARY, f"({op}{a.np})", [a], root)

    def _call(self, name: str, args: list[Expr]) -> Expr:
        np_text = NUMPY_FUNCTIONS[name].format(", ".join(a.np for a in args))
        return self._build(f"{name}({', '.join(a.ms for a in args)})", POSTFIX, np_text, args, name)

    def _cast(self, dtype: str, a: Expr) -> Expr:
        # A Python number meets NumPy's scalar constructor (np.int8(300) raises, as maskdsl's
        # int8(300) does); anything else converts like astype (unsafe casting).
        if isinstance(a.value, (bool, int, float)):
            np_text = f"np.{dtype}({a.np})"
        else:
            np_text = f"np.asarray({a.np}).astype(np.{dtype})"
        return self._build(f"{dtype}({a.ms})", POSTFIX, np_text, [a], "cast", op=f"cast:{dtype}")

    def _subscript(self, a: Expr, i: int) -> Expr:
        return self._build(f"{a.wrapped(POSTFIX)}[{i}]", POSTFIX, f"{a.np}[{i}]", [a], "select")

    def _list(self, values: list) -> Expr:
        text = repr(values).replace("nan", "NAN").replace("inf", "INF")
        ms = text.replace("NAN", "nan").replace("INF", "inf")
        np_text = text.replace("NAN", "np.nan").replace("INF", "np.inf")
        return self._build(ms, ATOM, f"np.array({np_text})", [], "list")

    # ---- literals ----
    def _literal(self, context: str = "") -> Expr:
        """A literal, of the kind of the value it meets more often than not."""
        return self._literal_value(self._literal_python(context))

    def _literal_python(self, context: str = ""):
        rng = self.rng
        weights = {"f": (10, 35, 55), "b": (45, 40, 15)}.get(context, (10, 70, 20))
        kind = rng.choices("bif", weights)[0]
        edge = self.config.edge_literals and rng.random() < 0.1
        if kind == "b":
            return rng.random() < 0.5
        if kind == "i":
            if edge:
                return rng.choice([127, 128, 255, 256, -129, 65535, 2**31 - 1, 2**31, 2**32, 2**63 - 1,
                                   -(2**63) + 1, -1])
            if context == "u":
                return rng.randint(0, 9) if rng.random() < 0.9 else -1
            return rng.randint(-3, 9)
        if edge:
            return rng.choice([float("nan"), float("inf"), float("-inf"), -0.0, 1e-3, 1e300, 1e-300, 65504.0,
                               70000.0, 3.4e38, 5e-324, 1e-8])
        return rng.choice([0.5, 1.5, 2.0, 2.5, -0.5, 3.0, 0.1, 0.25, 10.0, -1.0, 0.0])

    def _literal_value(self, value) -> Expr:
        if isinstance(value, bool):
            ms = np_text = str(value)
        elif isinstance(value, int):
            ms = np_text = str(value)
        elif value != value:
            ms, np_text = "nan", "np.nan"
        elif value in (float("inf"), float("-inf")):
            ms, np_text = ("inf", "np.inf") if value > 0 else ("-inf", "(-np.inf)")
        else:
            ms = np_text = repr(value)
        negative = ms.startswith("-")
        if negative and not np_text.startswith("("):
            np_text = f"({np_text})"
        return Expr(ms, UNARY if negative else ATOM, np_text, value, frozenset(_value_tags(value)), frozenset(), True,
                    "literal")

    # ---- tags: which features a piece uses (read by the oracle's classifier) ----
    def _op_tags(self, op: str, args: list[Expr], value) -> set:
        kinds = [_kind(a.value) for a in args]
        dtypes = [_dtype(a.value) for a in args]
        tags = set()
        if op == "/" and len(args) == 2 and args[1].const:
            tags.add("div_by_const")
        if op in ("//", "%"):
            tags.add("mod_floordiv")
            if "float16" in dtypes and "float64" not in dtypes and "float32" not in dtypes:
                tags.add("float16_mod")
        if op == "**" and all(k in "biu" for k in kinds):
            tags.add("int_pow")
            if args[1].ok and np.any(np.asarray(args[1].value) >= 64):
                tags.add("int_pow_large")
        if op in ("not", "invert") and args[0].root in COMPARISONS + ("chain", "isnan", "isinf", "isfinite"):
            tags.add("negated_cmp")
        if op in ("^", "==", "!=") and any(a.root in COMPARISONS + ("chain", "isnan", "isinf", "isfinite")
                                           for a in args) and any(isinstance(a.value, bool) for a in args):
            tags.add("negated_cmp")
        if "uint64" in dtypes and any(a.const and isinstance(a.value, (int, float)) and a.value < 0 for a in args):
            tags.add("uint64_neg_literal")
        if "b" in "".join(k for k, d in zip(kinds, dtypes) if d is not None) and op in (
                "<", "<=", ">", ">=", "-", "neg", "floor", "ceil", "round", "sign", "abs", "minimum", "maximum",
                "clip", "**", "/", "//", "%", "+", "*"):
            tags.add("bool_math")
        if op in ("*", "/", "//", "%") and "b" in kinds and "f" in kinds:
            tags.add("bool_times_float")
        if op in ("neg", "abs", "sign", "**") and any(d and d.startswith("uint") for d in dtypes):
            tags.add("unsigned_math")
        if op in ("minimum", "maximum", "sign", "clip") and "f" in kinds:
            tags.add("signed_zero_op")
        if op in TRANSCENDENTAL:
            tags.add("transcendental")
        if op == "**" and "f" in kinds:
            tags.add("float_pow")
            if args[1].const:
                tags.add("pow_by_const")
        if op.startswith("cast:"):
            target = np.dtype(op[5:]).kind
            if kinds[0] == "f" and target == "i":
                tags.add("float_to_int_cast")
            if kinds[0] == "f" and target == "u":
                tags.add("float_to_uint_cast")
            if args[0].const:
                tags.add("cast_literal")
        if op in ("where", "clip"):
            for d in dtypes:
                if d and np.dtype(d).kind in "iu" and any(
                        a.const and type(a.value) is int and not np.iinfo(d).min <= a.value <= np.iinfo(d).max
                        for a in args):
                    tags.add("function_literal_range")
        if op == "clip" and kinds[0] in "iu" and dtypes[0]:
            info = np.iinfo(dtypes[0])
            if any(a.const and isinstance(a.value, (int, float)) and not info.min <= a.value <= info.max
                   for a in args[1:]):
                tags.add("clip_bounds")
        return tags

    def _assignment_tags(self, selection: Expr, rhs: Expr, op: str) -> set:
        tags = set()
        if np.ndim(rhs.value) > 0:
            tags.add("setitem_values")
        if rhs.root == "list":
            tags.add("setitem_list")
        if np.ndim(rhs.value) > np.ndim(selection.value):
            tags.add("leading_one")
        if op != "=":
            if isinstance(selection.value, np.generic):
                tags.add("scalar_element_aug")
            tags |= self._op_tags(op[:-1], [selection, rhs], None)
        return tags


def _value_tags(value) -> set:
    """Tags of a NumPy value itself: empty, holding nan, holding subnormal numbers."""
    tags = set()
    if isinstance(value, (np.ndarray, np.generic, float)):
        if np.size(value) == 0:
            tags.add("empty")
        elif _kind(value) == "f":
            a = np.asarray(value)
            if np.isnan(a).any():
                tags.add("nan")
            with np.errstate(all="ignore"):
                tiny = np.finfo(a.dtype).smallest_normal
                if ((a != 0) & (np.abs(a) < tiny)).any():
                    tags.add("subnormal")
    return tags


def _item(text: str, np_text: str | None = None, root: str = "index", value=None) -> Expr:
    """An index item that is not an expression of its own (`:`, `...`, `None`, integers)."""
    return Expr(text, ATOM, text if np_text is None else np_text, value, root=root)
