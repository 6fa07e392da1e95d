"""Peak memory of the cheap masked update `x[m] *= 2` against input size.

    .venv/bin/python benchmarks/memory.py                 # 1e6, 1e7, 1e8 float32 elements
    .venv/bin/python benchmarks/memory.py --sizes 1e7

Each (variant, size) runs in a fresh subprocess (peak RSS only grows, so a process
measures one thing). The child imports TensorFlow and maskdsl, builds x (float32) and
m (bool, 50% true) without temporaries, records its peak RSS (ru_maxrss), compiles and
warms the function up on a small array (so tracing is not counted against the data),
runs the update once on the full data and materialises the result, then records the
peak RSS again. Printed per row: input bytes (x + m), peak RSS, and the growth of the
peak during the call, as a multiple of the bytes of x (a dense tf.where needs at least
the output: 1.0x; x * 2 as a separate temporary: 2.0x).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = ("maskdsl_auto", "maskdsl_where", "maskdsl_scatter", "tf_where", "numpy")

CHILD = r"""
import json, os, resource, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
variant, n = sys.argv[1], int(sys.argv[2])

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB

def current_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

if variant != "numpy":
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    import maskdsl
small_x, small_m = np.ones(16, np.float32), np.arange(16) % 2 == 0
if variant.startswith("maskdsl_"):
    f = maskdsl.compile("x[m] *= 2", strategy=variant.split("_", 1)[1])
    f(x=small_x, m=small_m).numpy()          # compile and trace once, on a small array
    run = lambda x, m: f(x=x, m=m).numpy()
elif variant == "tf_where":
    g = tf.function(lambda x, m: tf.where(m, x * 2, x), autograph=False, reduce_retracing=True)
    g(small_x, small_m).numpy()
    run = lambda x, m: g(x, m).numpy()
else:
    def run(x, m):
        y = x.copy()
        y[m] *= 2
        return y
rng = np.random.default_rng(0)
x = rng.random(n, dtype=np.float32)
m = rng.integers(0, 2, n, dtype=np.bool_)
before_peak, before_now = peak_mib(), current_mib()
out = run(x, m)
after_peak = peak_mib()
assert out.shape == x.shape
print(json.dumps({"variant": variant, "n": n, "input_mib": (x.nbytes + m.nbytes) / 2**20,
                  "x_mib": x.nbytes / 2**20, "rss_before_mib": before_now, "peak_before_mib": before_peak,
                  "peak_after_mib": after_peak}))
"""


def measure(variant: str, n: int) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", CHILD, variant, str(n)], capture_output=True, text=True,
                          env=env, cwd=HERE.parent, timeout=900)
    if proc.returncode != 0:
        return {"variant": variant, "n": n, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    rows = []
    print(f"{'variant':<16} {'n':>8} {'input MiB':>10} {'peak RSS MiB':>13} {'peak growth MiB':>16} "
          f"{'growth / x bytes':>17}")
    for n in sizes:
        for variant in args.variants.split(","):
            r = measure(variant, n)
            rows.append(r)
            if "error" in r:
                print(f"{variant:<16} {n:>8.0e}  error: {r['error']}")
                continue
            growth = max(r["peak_after_mib"] - max(r["peak_before_mib"], r["rss_before_mib"]), 0.0)
            r["growth_mib"] = growth
            r["growth_over_x"] = growth / r["x_mib"]
            print(f"{variant:<16} {n:>8.0e} {r['input_mib']:>10.1f} {r['peak_after_mib']:>13.1f} "
                  f"{growth:>16.1f} {r['growth_over_x']:>16.2f}x", flush=True)
    print("\n(growth = peak RSS after the call - peak RSS before it; at small sizes the peak is set by the "
          "TensorFlow import, so growth reads 0)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
