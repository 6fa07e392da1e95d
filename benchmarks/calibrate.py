"""Calibrate maskdsl's cost model on this machine and write maskdsl/passes/cost_weights.json.

    .venv/bin/python benchmarks/calibrate.py            # measure and write (about 1 minute)
    .venv/bin/python benchmarks/calibrate.py --dry-run  # measure and print only

Per-element weights (units: one cheap element-wise op on one element, so cheap = 1.0).
Each class is one TensorFlow primitive run as a plain tf.function on a float32 array of
N = 2**21 elements (8 MiB). Its fixed per-call overhead is removed by subtracting the
same function's time on a 64-element array:

    per_element = (median time at N - median time at 64) / elements processed

- cheap           geometric mean of tf.multiply(x, 2), tf.add(x, 1), tf.negative(x), tf.abs(x)
- logical         tf.logical_and(m1, m2)                  (bool in, bool out)
- compare         tf.greater(x, 0.5)
- select          tf.where(m, x, y)
- transcendental  geometric mean of exp, log, log1p, sin, cos, tanh, sqrt, pow(x, 2)
- reduce          tf.reduce_sum(x), per input element
- gather          tf.gather(x, idx), sorted random idx; per gathered element: the slope
                  between 1% and 25% selectivity, so the pass over x is not counted
- scatter         tf.tensor_scatter_nd_update(x, idx, v); per updated element, the slope
                  between 1% and 25% (the copy of x is the intercept, not counted)
- index           tf.where(m) -> coordinates, at 0.1% selectivity, per mask element
- dynamic         the data-dependent-shape penalty per selected element: the slope of
                  tf.boolean_mask(x, m) between 1% and 25% selectivity minus the gather
                  weight (what building a dynamically shaped result costs beyond moving
                  the data)

Other keys:
- cond_overhead_elements: the fixed cost of a tf.cond on the mask count (count_nonzero
  + cond around a where, minus the bare where, on 1000 elements), in cheap-op elements;
- jit_min_elements: the XLA break-even size. For four where-style programs (the
  shapes the "auto" XLA decision applies to: static, no run-time checks) the plain
  tf.function and jit_compile=True are timed side by side at sizes 1e2..8e6. XLA's
  extra one-time cost is (its first call) - (the plain function's first call); its
  steady-state per-call times give the amortised speed-up over REPAY_CALLS calls
  (default 100):

      (REPAY_CALLS x plain + plain first call) / (REPAY_CALLS x xla + xla first call)

  jit_min_elements is the smallest grid size from which, at every larger grid size
  too, the geometric mean of the amortised speed-up over the programs is above 1: a
  program of that size called REPAY_CALLS times takes less time in total with XLA,
  compilation included. (A geometric mean, because XLA is not better everywhere: on
  this machine it makes the transcendental-heavy program about 2x slower at 1e5
  elements and more, while it speeds the memory-bound ones up 1.3-3x);
- assumed_selectivity is a policy, not a measurement: it is carried over unchanged.

Why 2**21 and not larger: TensorFlow allocates every output with malloc, and glibc
serves blocks above its mmap threshold (at most 32 MiB) with fresh mmap'ed pages, so
every call of an op whose output is larger than 32 MiB page-faults its whole output
(3-4 ns per float32 element on this VM, more than the arithmetic). Above that size all
ops that write a float array cost about the same; the weights would then describe the
allocator, not the ops. The elementwise classes are also measured at 2**23 elements
(33.5 MiB outputs) and recorded in provenance["ns_per_element_large"] for reference.

The file keeps its structure (provenance, weights, assumed_selectivity,
cond_overhead_elements, jit_min_elements); provenance records the machine, date,
TensorFlow version, script, command line and the raw per-element nanoseconds.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

tf = H.quiet_tensorflow()

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "maskdsl" / "passes" / "cost_weights.json"
N = 1 << 21
N_LARGE = 1 << 23
SMALL = 64
REPEATS = 21
CHEAP = {"multiply": lambda x: tf.multiply(x, 2.0), "add": lambda x: tf.add(x, 1.0), "negative": tf.negative,
         "abs": tf.abs}
TRANSCENDENTAL = {
    "exp": tf.exp, "log": tf.math.log, "log1p": tf.math.log1p, "sin": tf.sin, "cos": tf.cos, "tanh": tf.tanh,
    "sqrt": tf.sqrt, "pow": lambda x: tf.pow(x, 2.0),
}
JIT_SIZES = (100, 1_000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 8_000_000)
REPAY_CALLS = 100


def fn(f):
    return tf.function(f, autograph=False)


def data(n: int, selectivity: float = 0.25, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    k = max(1, round(selectivity * n))
    mask = np.zeros(n, bool)
    mask[rng.choice(n, size=k, replace=False)] = True
    return {
        "x": tf.constant(rng.random(n, dtype=np.float32) + 0.5),
        "y": tf.constant(rng.random(n, dtype=np.float32)),
        "m": tf.constant(mask),
        "m2": tf.constant(rng.random(n) < 0.5),
        "idx": tf.constant(np.flatnonzero(mask).astype(np.int64)),
        "v": tf.constant(rng.random(k, dtype=np.float32)),
        "k": k,
    }


def per_call(functions: dict, args: dict, repeats: int = REPEATS) -> dict[str, float]:
    """Median seconds per call of each function on its arguments, interleaved; first call excluded."""
    calls = {name: functools.partial(f, *args[name]) for name, f in functions.items()}
    for call in calls.values():
        H.materialise(call())
    times = H.interleaved(calls, repeats)
    return {name: H.median(t) for name, t in times.items()}


def measure_elementwise(n: int = N) -> dict[str, float]:
    """Seconds per element of each one-pass primitive (overhead at SMALL subtracted)."""
    big, small = data(n), data(SMALL)
    functions = {f"cheap:{name}": fn(f) for name, f in CHEAP.items()}
    functions |= {
        "logical": fn(lambda a, b: tf.logical_and(a, b)),
        "compare": fn(lambda x: tf.greater(x, 0.5)),
        "select": fn(lambda m, x, y: tf.where(m, x, y)),
        "reduce": fn(lambda x: tf.reduce_sum(x)),
        "index": fn(lambda m: tf.where(m)),
    }
    functions.update({f"transcendental:{name}": fn(f) for name, f in TRANSCENDENTAL.items()})
    inputs = {name: ("x",) for name in functions if name.startswith("cheap:")}
    inputs |= {"logical": ("m", "m2"), "compare": ("x",), "select": ("m", "x", "y"),
              "reduce": ("x",), "index": ("m",)}
    inputs.update({name: ("x",) for name in functions if name.startswith("transcendental:")})
    sparse_big, sparse_small = data(n, 0.001, seed=1), data(SMALL, 0.001, seed=1)

    def args(d, sparse):
        return {name: tuple((sparse if name == "index" else d)[a] for a in inputs[name]) for name in functions}

    t_big = per_call(functions, args(big, sparse_big))
    t_small = per_call(functions, args(small, sparse_small), repeats=REPEATS * 2)
    return {name: max(t_big[name] - t_small[name], 1e-12) / n for name in functions}


def measure_sparse() -> dict[str, float]:
    """Seconds per selected element of gather, scatter and the boolean_mask dynamic shape (slopes)."""
    functions = {
        "gather": fn(lambda x, idx: tf.gather(x, idx)),
        "scatter": fn(lambda x, idx, v: tf.tensor_scatter_nd_update(x, tf.reshape(idx, [-1, 1]), v)),
        "boolean_mask": fn(lambda x, m: tf.boolean_mask(x, m)),
    }
    inputs = {"gather": ("x", "idx"), "scatter": ("x", "idx", "v"), "boolean_mask": ("x", "m")}
    lo, hi = data(N, 0.01, seed=2), data(N, 0.25, seed=3)
    calls = {}
    for label, d in (("lo", lo), ("hi", hi)):
        for name, f in functions.items():
            calls[f"{name}@{label}"] = functools.partial(f, *(d[a] for a in inputs[name]))
    for call in calls.values():
        H.materialise(call())
    times = {k: H.median(v) for k, v in H.interleaved(calls, REPEATS + 10).items()}  # slopes are noisier
    dk = hi["k"] - lo["k"]
    slope = {name: max(times[f"{name}@hi"] - times[f"{name}@lo"], 1e-12) / dk for name in functions}
    return {"gather": slope["gather"], "scatter": slope["scatter"],
            "dynamic": max(slope["boolean_mask"] - slope["gather"], slope["boolean_mask"] * 0.05)}


def measure_cond_overhead(cheap_s: float) -> float:
    """The fixed cost of a runtime tf.cond on the mask count, in elements of cheap work."""
    plain = fn(lambda x, m: tf.where(m, x * 2.0, x))
    cond = fn(lambda x, m: tf.cond(tf.math.count_nonzero(m) > 100, lambda: tf.where(m, x * 2.0, x), lambda: x))
    d = data(1000)
    t = per_call({"plain": plain, "cond": cond}, {"plain": (d["x"], d["m"]), "cond": (d["x"], d["m"])},
                 repeats=REPEATS * 4)
    return max(t["cond"] - t["plain"], 0.0) / cheap_s


JIT_PROGRAMS = {
    # the where-style lowerings XLA "auto" applies to (static shapes, no run-time checks)
    "cheap_update": lambda x, m: tf.where(tf.greater(x, 1.0), x * 2.0, x),
    "masked_sum": lambda x, m: tf.reduce_sum(tf.where(m, x, 0.0)),
    "expensive_update": lambda x, m: tf.where(m, tf.math.log1p(tf.pow(tf.exp(tf.sin(x) * tf.cos(x)), 2.0)), x),
    "pipeline": lambda x, m: _pipeline(x, m),
}


def _pipeline(x, m):
    y = x * 2.0 + 1.0
    y = tf.where(m, tf.sqrt(tf.abs(y)), y)
    y = tf.where(y > 10.0, 10.0, y)
    z = y - tf.reduce_sum(tf.where(m, y, 0.0)) / tf.cast(tf.math.count_nonzero(m), tf.float32)
    return tf.where(m, z, z * 0.5)


def measure_jit(sizes=JIT_SIZES, repay_calls: int = REPAY_CALLS) -> dict:
    """Per size: XLA's speed-up and the calls it needs to repay its extra compile time (geometric means)."""
    rows = []
    for n in sizes:
        d = data(n, 0.25, seed=4)
        repeats = 31 if n <= 100_000 else 11 if n <= 1_000_000 else 7
        calls, first = {}, {}
        for name, body in JIT_PROGRAMS.items():
            for jit in (False, True):
                f = tf.function(body, jit_compile=jit, autograph=False)
                key = f"{name}:{'xla' if jit else 'plain'}"
                start = time.perf_counter()
                H.materialise(f(d["x"], d["m"]))
                first[key] = time.perf_counter() - start
                calls[key] = functools.partial(f, d["x"], d["m"])  # this d, not the loop's last
                H.materialise(calls[key]())
        med = {k: H.median(v) for k, v in H.interleaved(calls, repeats).items()}
        per_program = {}
        for name in JIT_PROGRAMS:
            plain, xla = med[f"{name}:plain"], med[f"{name}:xla"]
            extra = max(first[f"{name}:xla"] - first[f"{name}:plain"], 1e-6)
            amortised = (repay_calls * plain + first[f"{name}:plain"]) / (repay_calls * xla + first[f"{name}:xla"])
            per_program[name] = {"plain_s": plain, "xla_s": xla, "speedup": plain / xla, "extra_compile_s": extra,
                                 "amortised_speedup": amortised}
        speedup = H.geomean([p["speedup"] for p in per_program.values()])
        amortised = H.geomean([p["amortised_speedup"] for p in per_program.values()])
        rows.append({"n": n, "speedup_geomean": speedup, "amortised_speedup_geomean": amortised,
                     "extra_compile_s_median": H.median([p["extra_compile_s"] for p in per_program.values()]),
                     "programs": per_program})
        print(f"  jit n={n:>9,}: XLA per call {speedup:4.2f}x, extra compile "
              f"{rows[-1]['extra_compile_s_median'] * 1e3:5.0f} ms, over {repay_calls} calls {amortised:4.2f}x  ("
              + ", ".join(f"{k} {v['speedup']:.2f}x" for k, v in per_program.items()) + ")", flush=True)
    break_even = None
    for i, row in enumerate(rows):
        if all(r["amortised_speedup_geomean"] > 1 for r in rows[i:]):
            break_even = row["n"]
            break
    return {"rows": rows, "jit_min_elements": break_even, "repay_calls": repay_calls}


def sig(x: float, digits: int = 3) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, -int(math.floor(math.log10(abs(x)))) + digits - 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the new weights, do not write them")
    parser.add_argument("--out", default=str(WEIGHTS), help="where to write (default: maskdsl/passes/cost_weights.json)")
    parser.add_argument("--repay-calls", type=int, default=REPAY_CALLS,
                        help="calls within which XLA must repay its compile time (jit_min_elements)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    old = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    print(f"calibrating on {N:,} float32 elements (overhead measured on {SMALL})", flush=True)
    seconds = measure_elementwise()
    seconds.update(measure_sparse())
    trans = {k.split(":")[1]: v for k, v in seconds.items() if k.startswith("transcendental:")}
    seconds["transcendental"] = H.geomean(trans.values())
    seconds["cheap"] = H.geomean([v for k, v in seconds.items() if k.startswith("cheap:")])
    cheap = seconds["cheap"]
    weights = dict(old["weights"])
    for cls in weights:
        if cls in seconds:
            weights[cls] = sig(seconds[cls] / cheap)
    weights["cheap"] = 1.0
    cond_elements = measure_cond_overhead(cheap)
    print(f"elementwise classes again at {N_LARGE:,} elements (outputs above the mmap threshold)", flush=True)
    large = measure_elementwise(N_LARGE)
    large["transcendental"] = H.geomean([v for k, v in large.items() if k.startswith("transcendental:")])
    large["cheap"] = H.geomean([v for k, v in large.items() if k.startswith("cheap:")])
    large = {k: v for k, v in large.items() if ":" not in k}
    print("measuring the XLA break-even size", flush=True)
    jit = measure_jit(repay_calls=args.repay_calls)
    jit_min = jit["jit_min_elements"]

    new = {
        "provenance": {
            "source": f"measured by benchmarks/calibrate.py: per-element time of one TensorFlow primitive per "
                      f"class on {N} float32 elements minus its time on {SMALL}, relative to the cheap ops "
                      f"(multiply, add, negative, abs)",
            "machine": H.machine(),
            "date": H.now(),
            "tensorflow": tf.__version__,
            "script": "benchmarks/calibrate.py",
            "command": H.command_line(),
            "ns_per_element": {k: sig(v * 1e9) for k, v in sorted(seconds.items())},
            "jit_criterion": f"smallest size from which {args.repay_calls} calls take less total time with XLA "
                             f"than with a plain tf.function, compilation included (geometric mean over 4 "
                             f"where-style programs)",
            "jit_break_even": [{"n": r["n"], "speedup": sig(r["speedup_geomean"]),
                                "extra_compile_ms": sig(r["extra_compile_s_median"] * 1e3),
                                "amortised_speedup": sig(r["amortised_speedup_geomean"]),
                                "per_program_speedup": {k: sig(v["speedup"]) for k, v in r["programs"].items()}}
                               for r in jit["rows"]],
            "ns_per_element_large": {k: sig(v * 1e9) for k, v in sorted(large.items())},
            "n": N, "n_large": N_LARGE,
            "assumed_selectivity": "policy value, carried over (not measured)",
        },
        "weights": weights,
        "assumed_selectivity": old.get("assumed_selectivity", 0.25),
        "cond_overhead_elements": int(round(cond_elements, -2)) if cond_elements >= 100 else int(cond_elements),
        "jit_min_elements": int(jit_min) if jit_min is not None else 1 << 62,
    }
    for key in old:  # keep every key the old file had, in its order
        if key not in new:
            new[key] = old[key]

    print(f"\n{'class':<15} {'old':>8} {'new':>8} {'ns/elem':>10}   at {N_LARGE:,}: ns/elem, relative")
    for cls in weights:
        ns, big = seconds.get(cls), large.get(cls)
        line = f"{cls:<15} {old['weights'].get(cls, float('nan')):>8} {weights[cls]:>8}"
        if ns is not None:
            line += f" {ns * 1e9:10.3f}"
        if big is not None:
            line += f"   {big * 1e9:10.3f} {sig(big / large['cheap']):8}"
        print(line)
    for name, s in trans.items():
        print(f"  {name:<13} {'':>8} {sig(s / cheap):>8} {s * 1e9:10.3f}")
    print(f"cond_overhead_elements  old {old.get('cond_overhead_elements')}  new {new['cond_overhead_elements']}")
    print(f"jit_min_elements        old {old.get('jit_min_elements')}  new {new['jit_min_elements']}")
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.dry_run:
        print("dry run: nothing written")
    else:
        Path(args.out).write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
