"""A long differential campaign against NumPy: random typed programs, every maskdsl mode.

Each program comes from maskdsl.testing.programs (seeded: program k of a campaign with
--seed S is random_case(S * 1_000_003 + k)), runs in NumPy through its NumPy rendering and
in maskdsl in every mode (each strategy, without a signature, with exact shapes and with
None dimensions, jit_compile=True, and auto's XLA form from the first call);
maskdsl.testing.oracle compares them and
classifies each difference (its KNOWN table, with the issue-13 item of each category).

    .venv/bin/python tools/oracle.py --count 3000 --workers 1 --seed 1
    .venv/bin/python tools/oracle.py --replay oracle-findings.jsonl     # re-run and reclassify findings

Findings are written as JSON lines, one per category (known categories by name, new ones
by the kind of difference and the first words of its message), each with its number of
occurrences, programs and modes, the seeds of up to 50 of its programs and its smallest
reproducer (maskdsl source, NumPy rendering, inputs with dtypes, both results). The exit status is 1 if any finding is
unclassified.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maskdsl.testing import oracle  # noqa: E402  (neither imports TensorFlow: the parent process stays without it)
from maskdsl.testing.programs import TAGS, Config, random_case  # noqa: E402


MAX_SEEDS = 50  # programs kept per category (their seeds), to replay or reclassify


def case_seed(seed: int, k: int) -> int:
    return seed * 1_000_003 + k


def category_key(finding) -> str:
    """Known findings by category; new ones by kind and, for wrong values, the output's dtype
    and whether XLA ran it, else the message's shape (numbers and quoted text removed), so
    one bug seen in many programs is one line."""
    if finding.category:
        return finding.category
    if finding.kind in ("value", "dtype", "shape") and finding.output:
        dtype = finding.expected.values[finding.output].dtype
        return f"NEW {finding.kind}: {dtype}{' under XLA' if finding.mode.jit else ''}"
    words = re.sub(r"'[^']*'|\"[^\"]*\"|-?\d[\d.e+-]*|\[[^\]]*\]|\([^)]*\)", "_", finding.detail)
    return f"NEW {finding.kind}: {' '.join(words.split()[:10])}"


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def worker(task) -> dict:
    """Run programs [start, start + count) of the campaign; return their findings by category."""
    seed, start, count, timeout, deadline, avoid, no_grappler = task
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler is for the parent
    config = Config(avoid=frozenset(avoid))
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    if no_grappler:  # to tell the graph optimiser's rewrites from the rest (issue 13 asks for the audit)
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    signal.signal(signal.SIGALRM, _alarm)
    findings: dict[str, dict] = {}
    ran = 0
    for k in range(start, start + count):
        if deadline and time.time() > deadline:
            break
        case = random_case(case_seed(seed, k), config)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            found = oracle.check(case)
        except Timeout:
            found = []
            record(findings, {"category": f"NEW timeout: more than {timeout} s", "kind": "timeout",
                              "seed": case.seed, "avoid": avoid, "mode": "all", "source": case.source,
                              "describe": case.describe(), "known": False, "allowed": False})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        ran += 1
        seen_here = set()
        for f in found:
            key = category_key(f)
            entry = {"category": key, "kind": f.kind, "seed": case.seed, "avoid": avoid, "mode": str(f.mode),
                     "source": case.source, "describe": f.describe(),
                     "known": f.category is not None, "allowed": oracle.is_allowed(f.category)}
            record(findings, entry, new_program=key not in seen_here)
            seen_here.add(key)
    return {"ran": ran, "findings": findings}


def record(findings: dict, entry: dict, new_program: bool = True) -> None:
    key = entry["category"]
    old = findings.get(key)
    if old is None:
        entry.update(count=1, programs=1, modes=[entry["mode"]], seeds=[entry["seed"]])
        findings[key] = entry
        return
    old["count"] += 1
    old["programs"] += int(new_program)
    if entry["mode"] not in old["modes"]:
        old["modes"].append(entry["mode"])
    if new_program and len(old["seeds"]) < MAX_SEEDS:
        old["seeds"].append(entry["seed"])
    if len(entry["source"]) < len(old["source"]):  # keep the smallest reproducer
        keep = {k: old[k] for k in ("count", "programs", "modes", "seeds")}
        old.clear()
        old.update(entry, **keep)


def merge(total: dict, part: dict) -> None:
    for key, entry in part.items():
        old = total.get(key)
        if old is None:
            total[key] = entry
            continue
        count, programs = old["count"] + entry["count"], old["programs"] + entry["programs"]
        modes = old["modes"] + [m for m in entry["modes"] if m not in old["modes"]]
        seeds = (old["seeds"] + entry["seeds"])[:MAX_SEEDS]
        if len(entry["source"]) < len(old["source"]):
            old.clear()
            old.update(entry)
        old.update(count=count, programs=programs, modes=modes, seeds=seeds)


def replay(path: str) -> int:
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    bad = 0
    for line in Path(path).read_text().splitlines():
        entry = json.loads(line)
        config = Config(avoid=frozenset(entry.get("avoid", ())))
        now: Counter = Counter()
        for seed in entry.get("seeds", [entry["seed"]]):
            found = oracle.check(random_case(seed, config))
            now.update({category_key(f) for f in found} or {"no difference"})
            bad += any(f.category is None for f in found)
        print(f"{entry['category']} ({len(entry.get('seeds', [1]))} programs): now {dict(now)}", flush=True)
    return 1 if bad else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="programs in total (across workers)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=100,
                        help="programs per task (each task runs in a fresh process: TensorFlow's memory stays bounded)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per program (all modes)")
    parser.add_argument("--minutes", type=float, default=0, help="stop after this long (0: no limit)")
    parser.add_argument("--out", default="oracle-findings.jsonl", help="findings file (JSON lines, one per category)")
    parser.add_argument("--avoid", default="", metavar="TAG,...",
                        help="generate no piece with these tags (maskdsl.testing.programs.TAGS), e.g. to look past "
                             "known refusals: bool_math,unsigned_math,float16_mod")
    parser.add_argument("--no-grappler", action="store_true",
                        help="run with TensorFlow's graph optimiser off: categories that disappear are its rewrites")
    parser.add_argument("--replay", default=None, help="re-run the programs of a findings file")
    args = parser.parse_args(argv)
    avoid = tuple(t for t in args.avoid.split(",") if t)
    unknown = [t for t in avoid if t not in TAGS]
    if unknown:
        parser.error(f"unknown tags {unknown}; choose from {', '.join(TAGS)}")
    if args.replay:
        return replay(args.replay)

    deadline = time.time() + args.minutes * 60 if args.minutes else 0
    tasks = [(args.seed, start, min(args.chunk, args.count - start), args.timeout, deadline, avoid, args.no_grappler)
             for start in range(0, args.count, args.chunk)]
    findings: dict[str, dict] = {}
    ran, started = 0, time.time()
    ctx = multiprocessing.get_context("fork")
    signal.signal(signal.SIGTERM, _interrupt)  # leaving the with-block then terminates the workers too
    with ctx.Pool(args.workers, maxtasksperchild=1) as pool:
        for result in pool.imap_unordered(worker, tasks):
            ran += result["ran"]
            merge(findings, result["findings"])
            new = sum(1 for f in findings.values() if not f.get("known", False))
            print(f"{ran} programs, {ran / max(time.time() - started, 1e-9):.2f}/s, {len(findings)} categories "
                  f"({new} new)", flush=True)
            with open(args.out, "w", encoding="utf-8") as out:  # rewritten as it goes: a long run can be read early
                for entry in sorted(findings.values(), key=lambda e: -e["programs"]):
                    out.write(json.dumps(entry) + "\n")
    counts = Counter({k: f["programs"] for k, f in findings.items()})
    print(f"\n{ran} programs in {time.time() - started:.0f} s; programs per category:")
    for key, n in counts.most_common():
        print(f"{n:6d}  {key}")
    return 1 if any(not f.get("known", False) for f in findings.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
