"""Fuzz maskdsl's front end: every input either compiles or raises a MaskDSLError.

Inputs come from two sources:

- a generator that follows the grammar (statements, every operator, calls of every
  built-in and of unknown functions, indexing, slices, literals at the edges of
  their ranges), and
- mutations of valid programs: tokens deleted, duplicated, swapped or replaced,
  and characters inserted (control characters, look-alike letters, NUL, CR, ...).

Each input is parsed, lowered, given random input types, run through every pass,
turned into TensorFlow source by codegen (without tracing it), and, when the
arrays are small, run by the NumPy reference evaluator. Anything other than a
MaskDSLError, and any input that takes longer than --timeout seconds, is a finding.
With --tensorflow F, a fraction F of the accepted programs is also compiled and run in
TensorFlow and compared with the reference evaluator (a differential fuzz).

    .venv/bin/python tools/fuzz.py --count 500000 --workers 2 --seed 1
    .venv/bin/python tools/fuzz.py --replay findings.jsonl     # re-run recorded findings

Findings are written as JSON lines (input, signature, exception, traceback) and
deduplicated by exception type and the innermost maskdsl frame. The TensorFlow
import happens once per process (codegen needs it for its module); nothing is traced.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from maskdsl.language.functions import FUNCTIONS  # noqa: E402
from maskdsl.ir.dtypes import Type  # noqa: E402
from maskdsl.errors import MaskDSLError  # noqa: E402
from maskdsl.language.lower import lower  # noqa: E402
from maskdsl.language.parser import parse  # noqa: E402
from maskdsl.ir.bind import bind  # noqa: E402
from maskdsl.passes import PASSES  # noqa: E402

# ---- the generator ----

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


# ---- running one input ----

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


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= 5 if d is None else d
    return n


def front_end(text: str, rng: random.Random, signature: dict | None = None, reference: bool = True) -> str:
    """Run one input through every phase that needs no tracing; returns the outcome.

    The outcome is "ok" or the MaskDSLError class name; any other exception propagates.
    """
    from maskdsl.tf import codegen
    from maskdsl.ir.reference import evaluate
    try:
        program = lower(parse(text))
        names = [n.attr("name") for n in program.inputs]
        signature = signature if signature is not None else random_signature(rng, names)
        program = bind(program, {k: Type.parse(v) for k, v in signature.items()})
        typed = program = PASSES[0](program)
        for run in PASSES[1:]:
            program = run(program)
        source = codegen.Emitter(program).program_source()
        compile(source, "<maskdsl-fuzz>", "exec")  # the generated text must be valid Python (never run here)
        if reference and all(_numel(n.shape) <= 10_000 for n in typed.nodes() if n.shape is not None):
            evaluate(typed, random_inputs(rng, typed))
    except MaskDSLError as e:
        str(e)  # rendering the message must not fail either
        return type(e).__name__
    return "ok"


def through_tensorflow(text: str, seed: int) -> str:
    """Compile and run a program the front end accepted, with the front end's random types and
    inputs, and compare with the NumPy reference evaluator: "ok", or "mismatch: ..." when
    TensorFlow and NumPy disagree (values, dtypes, or one raising where the other does not)."""
    import maskdsl
    from maskdsl.ir.reference import evaluate
    rng = random.Random(seed)
    program = lower(parse(text))
    signature = random_signature(rng, [n.attr("name") for n in program.inputs])
    typed = PASSES[0](bind(program, {k: Type.parse(v) for k, v in signature.items()}))
    if not all(_numel(n.shape) <= 10_000 for n in typed.nodes() if n.shape is not None):
        return "ok"
    inputs = random_inputs(rng, typed)
    try:
        expected = evaluate(typed, inputs)
    except MaskDSLError as e:
        expected = e
    try:
        f = maskdsl.compile(text, signature=signature)
        got = f(**inputs)
        got = {k: np.asarray(v) for k, v in got.items()} if isinstance(got, dict) else {f.outputs[0]: np.asarray(got)}
    except MaskDSLError as e:
        got = e
    if isinstance(got, MaskDSLError) or isinstance(expected, MaskDSLError):
        if type(got) is type(expected):
            return "ok"
        return f"mismatch: TensorFlow {_describe(got)}, NumPy {_describe(expected)}"
    for name, want in expected.items():
        have = got[name]
        if have.dtype != want.dtype or have.shape != want.shape:
            return f"mismatch: {name} is {have.dtype}{list(have.shape)}, NumPy {want.dtype}{list(want.shape)}"
        if want.dtype.kind == "f":
            close = np.isclose(have, want, rtol=1e-3, atol=1e-6, equal_nan=True) | (np.isinf(want) & (have == want))
        else:
            close = have == want
        if not np.all(close):
            return f"mismatch: {name} = {have.tolist()!r:.200}, NumPy {want.tolist()!r:.200}"
    return "ok"


def _describe(value) -> str:
    return f"{type(value).__name__}({value.message[:120]!r})" if isinstance(value, MaskDSLError) else "values"


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def run_one(text: str, seed: int, timeout: float, tensorflow: bool = False) -> tuple[str, dict | None]:
    """(outcome, finding or None) for one input, with a hard per-input time limit."""
    rng = random.Random(seed)
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    started = time.perf_counter()
    try:
        outcome = front_end(text, rng)
        if tensorflow and outcome == "ok":
            signal.setitimer(signal.ITIMER_REAL, timeout * 6)  # tracing takes longer
            verdict = through_tensorflow(text, seed)
            if verdict != "ok":
                return "finding", {"input": text, "seed": seed, "error": "Mismatch", "message": verdict,
                                   "where": verdict.split(",")[0][:60], "traceback": ""}
            outcome = "ran"
        return outcome, None
    except Timeout:
        return "finding", {"input": text, "seed": seed, "error": "Timeout", "message": f"more than {timeout} s",
                           "where": "timeout", "traceback": ""}
    except BaseException as e:  # noqa: BLE001 -- everything that is not a MaskDSLError is a finding
        if isinstance(e, KeyboardInterrupt):
            raise
        tb = traceback.extract_tb(e.__traceback__)
        inner = [f for f in tb if "maskdsl" in f.filename and "tools" not in f.filename] or tb
        where = f"{Path(inner[-1].filename).name}:{inner[-1].lineno}" if inner else "?"
        return "finding", {"input": text, "seed": seed, "error": type(e).__name__, "message": str(e)[:500],
                           "where": where, "seconds": round(time.perf_counter() - started, 3),
                           "traceback": "".join(traceback.format_exception(e))[-4000:]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def make_input(rng: random.Random, gen: Generator) -> str:
    r = rng.random()
    if r < 0.55:
        return gen.program()
    if r < 0.85:
        return mutate(rng, rng.choice(SEEDS))
    return mutate(rng, gen.program())


def worker(args) -> dict:
    seed, count, timeout, deadline, tf_fraction = args
    rng = random.Random(seed)
    gen = Generator(rng)
    from maskdsl.tf import codegen  # noqa: F401  (imports TensorFlow once, outside the per-input timer)
    outcomes: Counter = Counter()
    findings: dict[str, dict] = {}
    done = 0
    for done in range(1, count + 1):
        text = make_input(rng, gen)
        outcome, finding = run_one(text, rng.getrandbits(48), timeout, rng.random() < tf_fraction)
        outcomes[outcome] += 1
        if finding is not None:
            key = f"{finding['error']}@{finding['where']}"
            if key not in findings or len(text) < len(findings[key]["input"]):
                findings[key] = finding
        if deadline and done % 256 == 0 and time.time() > deadline:
            break
    return {"count": done, "outcomes": dict(outcomes), "findings": findings}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="inputs in total (across workers)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per input")
    parser.add_argument("--minutes", type=float, default=0, help="stop after this long (0: no limit)")
    parser.add_argument("--chunk", type=int, default=5_000, help="inputs per task")
    parser.add_argument("--out", default="fuzz-findings.jsonl", help="findings file (JSON lines)")
    parser.add_argument("--summary", default=None, help="write the final summary as JSON here")
    parser.add_argument("--replay", default=None, help="re-run the inputs of a findings file")
    parser.add_argument("--tensorflow", type=float, default=0.0, metavar="FRACTION",
                        help="also compile and run this fraction of the accepted programs in TensorFlow, "
                             "compared with the NumPy reference (slow: ~0.1 s each)")
    args = parser.parse_args(argv)

    if args.replay:
        bad = 0
        for line in Path(args.replay).read_text().splitlines():
            f = json.loads(line)
            outcome, finding = run_one(f["input"], f["seed"], args.timeout, f["error"] == "Mismatch")
            print(f"{outcome:>16}  {f['input']!r}")
            if finding:
                bad += 1
                print(finding["traceback"] or finding["message"])
        return 1 if bad else 0

    deadline = time.time() + args.minutes * 60 if args.minutes else 0
    tasks = []
    remaining, k = args.count, 0
    while remaining > 0:
        n = min(args.chunk, remaining)
        tasks.append((args.seed * 1_000_003 + k, n, args.timeout, deadline, args.tensorflow))
        remaining -= n
        k += 1
    total: Counter = Counter()
    findings: dict[str, dict] = {}
    count = 0
    started = time.time()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(args.workers) as pool:
        for result in pool.imap_unordered(worker, tasks):
            count += result["count"]
            total.update(result["outcomes"])
            for key, f in result["findings"].items():
                if key not in findings or len(f["input"]) < len(findings[key]["input"]):
                    findings[key] = f
            rate = count / max(time.time() - started, 1e-9)
            print(f"{count} inputs, {rate:.0f}/s, {len(findings)} distinct findings, "
                  f"{dict(total.most_common(6))}", flush=True)
    with open(args.out, "w", encoding="utf-8") as out:
        for f in findings.values():
            out.write(json.dumps(f) + "\n")
    summary = {"inputs": count, "seconds": round(time.time() - started, 1), "outcomes": dict(total),
               "findings": {k: {"input": f["input"], "message": f["message"]} for k, f in findings.items()}}
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
