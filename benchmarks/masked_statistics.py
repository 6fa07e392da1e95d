"""Statistics of a selection: the masked formulation against the selection made (tf.boolean_mask).

    .venv/bin/python benchmarks/masked_statistics.py [--n 1000000] [--repeats 30]

For each program (nanmean, std, argmax and nanmin of x[m], and a row-mask nanvar over
axis 0), times the program compiled with strategy="auto" (the masked reduction: a where
and a count, static shapes) and with strategy="boolean_mask" (the selection is built,
then reduced), side by side in one process (benchmarks/_harness.py), at two
selectivities. Prints medians in milliseconds and the ratio auto / boolean_mask (below 1:
the masked formulation is faster). Only the ratios are meant to be read on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

tf = H.quiet_tensorflow()
import maskdsl  # noqa: E402

PROGRAMS = ("nanmean(x[m])", "std(x[m])", "argmax(x[m])", "nanmin(x[m])", "nanvar(x[r], axis=0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="elements of x")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(args.n).astype(np.float32)
    x[rng.random(args.n) < 0.05] = np.nan
    rows = x.reshape(-1, 4)
    print(f"n={args.n} float32 (5% nan), median of {args.repeats} runs, ms")
    print(f"{'program':24} {'selected':>8} {'auto':>9} {'boolean_mask':>13} {'ratio':>7}")
    for fraction in (0.5, 0.01):
        m = rng.random(args.n) < fraction
        r = rng.random(len(rows)) < fraction
        for src in PROGRAMS:
            inputs = {"x": rows, "r": r} if "[r]" in src else {"x": x, "m": m}
            tensors = {k: tf.constant(v) for k, v in inputs.items()}
            variants = {strategy: maskdsl.compile(src, strategy=strategy) for strategy in ("auto", "boolean_mask")}
            calls = {name: (lambda f=f, tensors=tensors: f(**tensors)) for name, f in variants.items()}
            for call in calls.values():  # trace and warm up
                H.materialise(call())
            times = H.interleaved(calls, args.repeats)
            auto, masked = H.median(times["auto"]) * 1e3, H.median(times["boolean_mask"]) * 1e3
            print(f"{src:24} {fraction:8.2f} {auto:9.3f} {masked:13.3f} {auto / masked:7.2f}")


if __name__ == "__main__":
    main()
