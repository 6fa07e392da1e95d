"""What checking assigned values against the selection costs (issue 13.4).

    .venv/bin/python benchmarks/assigned_values.py [--repeats 30]

`x[m] = values` by scatter broadcasts the values to the selection. Before the check, that
was `tf.broadcast_to`, which never failed where NumPy does (the graph optimiser took it as
proof that the shapes fit); now rt.fit_values checks the shapes and broadcasts by a
gather. Both forms are traced into one maskdsl program each (the old one by swapping
rt.fit_values for the plain broadcast while tracing) and timed side by side, with the
hand-written TensorFlow scatter beside them. Prints medians in ms and the ratio
checked / unchecked (the machine is shared: read the ratios).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _harness as H  # noqa: E402

tf = H.quiet_tensorflow()
import maskdsl  # noqa: E402
from maskdsl.tf import runtime as rt  # noqa: E402

SOURCE = "x[m] = y[m] * 2; x"


def unchecked(values, want, tag):
    return tf.broadcast_to(values, want)


def compiled(source: str, strategy: str, n: int, check: bool):
    f = maskdsl.compile(source, signature={"x": f"float32[{n}]", "y": f"float32[{n}]", "m": f"bool[{n}]"},
                        strategy=strategy)
    saved = rt.fit_values
    if not check:
        rt.fit_values = unchecked
    try:
        f.get_concrete_function()  # trace now, with the chosen helper
    finally:
        rt.fit_values = saved
    return f


def hand_written(x, y, m):
    idx = tf.where(m)
    return tf.tensor_scatter_nd_update(x, idx, tf.gather_nd(y, idx) * 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    hand = tf.function(hand_written)
    print(f"{'n':>9} {'selected':>8} {'checked ms':>11} {'unchecked ms':>13} {'hand TF ms':>11} {'ratio':>6}")
    for n in (10**5, 10**6):
        for selectivity in (0.01, 0.5):
            x = rng.standard_normal(n).astype(np.float32)
            y = rng.standard_normal(n).astype(np.float32)
            m = rng.random(n) < selectivity
            checked = compiled(SOURCE, "scatter", n, True)
            plain = compiled(SOURCE, "scatter", n, False)
            tx, ty, tm = tf.constant(x), tf.constant(y), tf.constant(m)
            variants = {"checked": lambda f=checked.tf_function, a=(tx, tm, ty): f(x=a[0], m=a[1], y=a[2]),
                        "unchecked": lambda f=plain.tf_function, a=(tx, tm, ty): f(x=a[0], m=a[1], y=a[2]),
                        "hand": lambda a=(tx, ty, tm): hand(*a)}
            want = x.copy()
            want[m] = y[m] * 2
            for name, run in variants.items():
                got = H.materialise(run())
                got = got["result"] if isinstance(got, dict) else got
                assert np.array_equal(got, want), name
            times = H.interleaved(variants, args.repeats)
            med = {k: H.median(v) * 1e3 for k, v in times.items()}
            print(f"{n:>9} {selectivity:>8} {med['checked']:>11.3f} {med['unchecked']:>13.3f} {med['hand']:>11.3f} "
                  f"{med['checked'] / med['unchecked']:>6.2f}")


if __name__ == "__main__":
    main()
