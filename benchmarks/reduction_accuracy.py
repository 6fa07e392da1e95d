"""What NumPy-or-better accuracy costs in float reductions (issue 13, "Bits").

    .venv/bin/python benchmarks/reduction_accuracy.py              # 1e5 and 1e6 elements
    .venv/bin/python benchmarks/reduction_accuracy.py --sizes 1e7 --repeats 15

For each float dtype and size, side by side in one process (benchmarks/_harness.py:
warmed up, round-robin, medians): TensorFlow's own `tf.reduce_sum` / `tf.reduce_mean`
(what maskdsl emitted before: float16 accumulated in float16, float64 in TensorFlow's
blocked order), maskdsl's `sum(x)`, `mean(x)` and masked `sum(x[m])` as compiled now
(rt.float_sum: float16/float32 in float64, float64 by error-free extraction), and NumPy.
Printed: medians in ms, the ratio of maskdsl's `sum` to `tf.reduce_sum`, and the error
of each in units in the last place of the exact sum (math.fsum) on the same data,
values with widely spread magnitudes that mostly cancel.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness  # noqa: E402

import numpy as np  # noqa: E402


def data(n: int, dtype: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    spread = 2 if dtype == "float16" else 6
    x = rng.standard_normal(n) * np.exp(rng.standard_normal(n) * spread)
    half = n // 2
    x[half:] = -x[:n - half] * (1 + rng.standard_normal(n - half) * 1e-3)
    rng.shuffle(x)
    x = x.astype(dtype)
    x[~np.isfinite(x)] = 0
    return x, rng.random(n) < 0.5


def ulps(value, exact, dtype) -> float:
    spacing = float(np.spacing(np.asarray(abs(exact), dtype)))
    return abs(float(value) - exact) / spacing if spacing else float("nan")


def measure(size: int, dtype: str, repeats: int) -> str:
    """One row: the medians (ms), the ratio of maskdsl's sum to tf.reduce_sum, and the errors."""
    import maskdsl
    from maskdsl.tf.runtime import tf
    x, m = data(size, dtype)
    spec = {"x": f"{dtype}[{size}]", "m": f"bool[{size}]"}
    total = maskdsl.compile("sum(x)", signature={"x": spec["x"]}, jit_compile=False)
    mean = maskdsl.compile("mean(x)", signature={"x": spec["x"]}, jit_compile=False)
    masked = maskdsl.compile("sum(x[m])", signature=spec, jit_compile=False)
    spec_tf = tf.TensorSpec([size], tf.as_dtype(dtype))
    tf_sum = tf.function(lambda v: tf.reduce_sum(v), input_signature=[spec_tf])
    tf_mean = tf.function(lambda v: tf.reduce_mean(v), input_signature=[spec_tf])
    xt, mt = tf.constant(x), tf.constant(m)
    variants = {"tf_sum": lambda: tf_sum(xt), "sum": lambda: total(x=xt), "tf_mean": lambda: tf_mean(xt),
                "mean": lambda: mean(x=xt), "masked": lambda: masked(x=xt, m=mt), "numpy": lambda: np.sum(x)}
    for fn in variants.values():
        _harness.materialise(fn())
    times = {k: _harness.median(v) * 1e3 for k, v in _harness.interleaved(variants, repeats).items()}
    exact = math.fsum(x.astype(np.float64))
    errors = [ulps(tf_sum(xt).numpy(), exact, dtype), ulps(total(x=xt).numpy(), exact, dtype),
              ulps(np.sum(x), exact, dtype)]
    return (f"{dtype:8} {size:>9} {times['tf_sum']:>14.3f} {times['sum']:>12.3f} "
            f"{times['sum'] / times['tf_sum']:>6.2f} {times['tf_mean']:>8.3f} {times['mean']:>13.3f} "
            f"{times['masked']:>10.3f} {times['numpy']:>7.3f}   ulps: " + " ".join(f"{e:>8.3g}" for e in errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e5,1e6")
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    import maskdsl
    print(f"# maskdsl from {Path(maskdsl.__file__).parent}")
    print(f"{'dtype':8} {'n':>9} {'tf.reduce_sum':>14} {'maskdsl sum':>12} {'ratio':>6} {'tf.mean':>8} "
          f"{'maskdsl mean':>13} {'sum(x[m])':>10} {'numpy':>7}   ulps: {'tf':>8} {'maskdsl':>8} {'numpy':>8}")
    for size in (int(float(s)) for s in args.sizes.split(",")):
        for dtype in ("float16", "float32", "float64"):
            print(measure(size, dtype, args.repeats), flush=True)


if __name__ == "__main__":
    main()
