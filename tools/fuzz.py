"""Fuzz maskdsl's front end: every input either compiles or raises a MaskDSLError.

Inputs come from two sources (both in maskdsl/testing/programs.py, shared with the tests):

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
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from maskdsl.ir.dtypes import Type  # noqa: E402
from maskdsl.errors import MaskDSLError  # noqa: E402
from maskdsl.language.lower import lower  # noqa: E402
from maskdsl.language.parser import parse  # noqa: E402
from maskdsl.ir.bind import bind  # noqa: E402
from maskdsl.passes import PASSES  # noqa: E402
# The generator, the mutations, random signatures and inputs: one home for random programs.
from maskdsl.testing.programs import Generator, make_input, random_inputs, random_signature  # noqa: E402

# ---- running one input ----


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
