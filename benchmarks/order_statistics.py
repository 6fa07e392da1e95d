"""The median of a selection, `median(x[m])`, two ways, timed side by side in one process.

- boolean_mask: the selection made first, then sorted (what jit_compile="auto" runs).
- masked, XLA: under jit_compile=True choose_strategy picks masked_quantile: x sorted with
  the masked-out elements last, the first count(m) places read; static shapes.

Prints the median time of each and the ratio to the boolean_mask form, for a few selectivities.
Usage: python benchmarks/order_statistics.py [--n 1000000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import interleaved, median, quiet_tensorflow  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    quiet_tensorflow()
    import numpy as np
    import maskdsl

    rng = np.random.default_rng(0)
    x = rng.standard_normal(args.n).astype(np.float32)
    signature = {"x": f"float32[{args.n}]", "t": "float32"}
    source = "median(x[x > t])"
    programs = {
        "boolean_mask": maskdsl.compile(source, signature=signature),
        "masked, XLA": maskdsl.compile(source, signature=signature, jit_compile=True),
    }
    ops = {name: {n.op for n in f._current().optimized.nodes()} for name, f in programs.items()}
    assert "masked_quantile" in ops["masked, XLA"] and "masked_quantile" not in ops["boolean_mask"], ops
    print(f"{source} on {args.n} float32 elements, median of {args.repeats} runs each")
    for selected in (0.01, 0.5, 0.99):
        t = np.float32(np.quantile(x, 1 - selected))
        want = np.median(x[x > t])
        for name, f in programs.items():
            got = np.asarray(f(x=x, t=t))
            assert got == want, (name, got, want)
        times = interleaved({name: (lambda f=f, t=t: f(x=x, t=t)) for name, f in programs.items()}, args.repeats)
        base = median(times["boolean_mask"])
        for name in programs:
            m = median(times[name])
            print(f"  {selected:>5.0%} selected  {name:<14} {m * 1e3:8.2f} ms  x{m / base:.2f} of boolean_mask")
    return 0


if __name__ == "__main__":
    sys.exit(main())
