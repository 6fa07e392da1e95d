"""How fast maskdsl compiles, how much a call costs above its tf.function, and retracing.

    .venv/bin/python benchmarks/compile_speed.py

Prints medians (the machine is shared: read the ratios, not the absolute numbers):
1. front end + optimiser on a one-line program: parse + lower + bind
   (maskdsl.language.prepare), then all passes (maskdsl.passes.optimize), then code
   generation (Python source + exec), and the first call of the tf.function (tracing);
   parse+lower+optimise (prepare + optimize) is the measure the compile-time targets use;
2. the same for a 500-statement program, and the per-statement ratio to the one-liner;
3. the call overhead: maskdsl.evaluate(src, x=arr) on a source seen before and the
   compiled program's own __call__, against calling its tf.function directly;
4. retracing: a signature with unknown dims called with several shapes must trace once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

tf = H.quiet_tensorflow()
import maskdsl  # noqa: E402
from maskdsl.tf import codegen  # noqa: E402
from maskdsl.language import prepare  # noqa: E402
from maskdsl.passes import optimize  # noqa: E402

ONE_LINE = "x[x > 4 & x % 2 == 0] *= 2"
TEMPLATES = (
    "y = x * {a} + 1",
    "x[x > {a} & x % 2 == 0] *= 2",
    "z = where(x > y, x, y) - {a}",
    "y[y < {a}] = 0",
    "s = sum(x[x > {a}]) + s",
)


def long_program(statements: int = 500) -> str:
    """A program of `statements` lines cycling through masked updates, selections and reductions."""
    lines = ["s = 0"]
    for i in range(statements - 1):
        lines.append(TEMPLATES[i % len(TEMPLATES)].format(a=i % 97 + 1))
    return "\n".join(lines)


def time_front_end(source: str, repeats: int, **types) -> dict:
    """Median seconds of prepare, optimize and codegen.generate for `source`, and of
    parse+lower+optimise (prepare + optimize, the issue's measure) per run."""
    out = {"prepare": [], "optimize": [], "generate": [], "front": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        program = prepare(source, **types)
        t1 = time.perf_counter()
        optimized = optimize(program)
        t2 = time.perf_counter()
        codegen.generate(optimized)
        t3 = time.perf_counter()
        out["prepare"].append(t1 - t0)
        out["optimize"].append(t2 - t1)
        out["generate"].append(t3 - t2)
        out["front"].append(t2 - t0)
    return {k: H.median(v) for k, v in out.items()}


def first_call(source: str, arrays: dict) -> float:
    """Seconds from compile() to the first result (parse ... trace ... run)."""
    start = time.perf_counter()
    H.materialise(maskdsl.compile(source)(**arrays))
    return time.perf_counter() - start


def call_overhead(n: int, repeats: int) -> dict:
    """Median per-call seconds of evaluate(), CompiledProgram.__call__ and the raw tf.function."""
    x = np.arange(n, dtype=np.int32)
    f = maskdsl.compile(ONE_LINE)
    H.materialise(f(x=x))
    raw = f.tf_function
    H.materialise(maskdsl.evaluate(ONE_LINE, x=x))  # the source is now "seen before"
    tx = tf.constant(x)
    variants = {
        "evaluate(src, x=ndarray)": lambda: maskdsl.evaluate(ONE_LINE, x=x),
        "compiled(x=ndarray)": lambda: f(x=x),
        "tf_function(ndarray)": lambda: raw(x),
        "evaluate(src, x=tensor)": lambda: maskdsl.evaluate(ONE_LINE, x=tx),
        "compiled(x=tensor)": lambda: f(x=tx),
        "tf_function(tensor)": lambda: raw(tx),
    }
    for v in variants.values():
        H.materialise(v())
    times = H.interleaved(variants, repeats)
    return {k: H.median(v) for k, v in times.items()}


def retracing() -> list[tuple[str, int, int]]:
    """(signature, shapes called, tracing count) for signatures with unknown dims."""
    rows = []
    cases = [
        ({"x": "float32[None]"}, [(10,), (1000,), (12345,)]),
        ({"x": "float32[None, 3]"}, [(4, 3), (100, 3)]),
    ]
    for signature, shapes in cases:
        f = maskdsl.compile("x[x > 0.5] *= 2", signature=signature)
        for shape in shapes:
            H.materialise(f(x=np.random.default_rng(0).random(shape, dtype=np.float32)))
        rows.append((str(signature), len(shapes), f.tf_function.experimental_get_tracing_count()))
    # without a signature every new shape is a new specialisation (its own tf.function)
    f = maskdsl.compile("x[x > 0.5] *= 2")
    counts = []
    for n in (10, 1000):
        H.materialise(f(x=np.zeros(n, np.float32)))
        counts.append(f.tf_function.experimental_get_tracing_count())
    rows.append(("no signature (one specialisation per shape)", 2, sum(counts)))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200, help="repeats for the one-line program")
    parser.add_argument("--statements", type=int, default=500)
    args = parser.parse_args(argv)

    prepare(ONE_LINE, x="int32[None]")  # builds the (cached) parser outside the timings
    one = time_front_end(ONE_LINE, args.repeats, x="int32[None]")
    src = long_program(args.statements)
    big = time_front_end(src, max(5, args.repeats // 20), x="float32[1000]")
    x1k = {"x": np.arange(1000, dtype=np.float32)}
    first_one = H.median([first_call(ONE_LINE, {"x": np.arange(1000, dtype=np.int32)}) for _ in range(5)])
    first_big = first_call(src, x1k)

    print(f"front end and optimiser, medians ({args.repeats} repeats for the one-liner):")
    print(f"{'':<28} {'1 statement':>12} {f'{args.statements} statements':>16} {'per statement, ratio':>22}")
    for stage in ("prepare", "optimize", "generate"):
        per = big[stage] / args.statements
        print(f"  {stage + ' (ms)':<26} {one[stage] * 1e3:12.3f} {big[stage] * 1e3:16.1f} "
              f"{per / one[stage]:21.2f}x")
    total_one = sum(one[k] for k in ("prepare", "optimize", "generate"))
    total_big = sum(big[k] for k in ("prepare", "optimize", "generate"))
    print(f"  {'total (ms)':<26} {total_one * 1e3:12.3f} {total_big * 1e3:16.1f} "
          f"{total_big / args.statements / total_one:21.2f}x")
    print(f"  {'parse+lower+optimise (ms)':<26} {one['front'] * 1e3:12.3f} {big['front'] * 1e3:16.1f}"
          f"   (targets: 2 ms, 500 ms)")
    print(f"  compile() to first result, incl. TF tracing (ms): one-liner {first_one * 1e3:.1f}, "
          f"{args.statements} statements {first_big * 1e3:.0f}")

    print("\ncall overhead on 1000 int32 elements (medians, interleaved):")
    for n in (1000,):
        t = call_overhead(n, repeats=300)
        for kind in ("ndarray", "tensor"):
            raw = t[f"tf_function({kind})"]
            for name in (f"evaluate(src, x={kind})", f"compiled(x={kind})", f"tf_function({kind})"):
                print(f"  {name:<26} {t[name] * 1e6:9.1f} us  {t[name] / raw:5.2f}x raw  "
                      f"(+{(t[name] - raw) * 1e6:6.1f} us)")

    print("\nretracing with a signature (tracing count should stay 1):")
    ok = True
    for signature, calls, count in retracing():
        expected = 2 if signature.startswith("no signature") else 1
        ok &= count == expected
        print(f"  {signature:<45} {calls} shapes -> traced {count}x {'ok' if count == expected else 'RETRACED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
