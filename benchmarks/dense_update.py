"""The dense form of an expensive masked update against the hand-written dense form.

    .venv/bin/python benchmarks/dense_update.py [--sizes 1e6 1e7] [--repeats 11]

(PYTHONPATH=<checkout> measures that checkout's maskdsl: the before and after of a change.)

The program is `x[x > t] = log1p(exp(sin(x[x > t]) * cos(x[x > t]))) * 100`: exp, log1p
(risky: masked-out elements may overflow or leave the domain) over sin and cos. For each
size, dtype (float32, float64) and fraction selected (0.5, 0.99; t is the quantile that
selects it), times side by side in one process (benchmarks/_harness.py):

- `where`: maskdsl compiled with strategy="where" (the dense form alone);
- `auto`: maskdsl's default (here the adaptive update: a run-time choice whose dense
  branch is the `where` form);
- `hand`: the hand-written dense form, `tf.where(x > t, f(x), x)` in a tf.function;
- `hand_xla`: `hand` under XLA (jit_compile=True; its transcendental functions have other
  bits than NumPy's, which is why maskdsl does not use XLA here: docs/performance.md);
- `hand_guarded`: the same with each risky op's input masked, `f(where(m, v, 1))` (the
  double where maskdsl generated for float values before grad_guard), to show what the
  guard costs.

All compiled with the recommended `[None]` signature, warmed up, then timed round-robin.
Prints medians in milliseconds and the ratios where / hand, auto / hand and
hand_guarded / hand and hand_xla / hand. Only the ratios are meant to be read on a shared machine.
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

SOURCE = "x[x > t] = log1p(exp(sin(x[x > t]) * cos(x[x > t]))) * 100"


def hand(x, t):
    m = x > t
    return tf.where(m, tf.math.log1p(tf.exp(tf.sin(x) * tf.cos(x))) * 100, x)


def hand_guarded(x, t):
    m = x > t
    one = tf.ones_like(x)
    v = tf.exp(tf.where(m, tf.sin(x) * tf.cos(x), one))
    return tf.where(m, tf.math.log1p(tf.where(m, v, one)) * 100, x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7])
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    import subprocess
    package = Path(maskdsl.__file__).parent
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=package, capture_output=True,
                            text=True).stdout.strip()
    print(f"maskdsl {package} at {commit}; "
          f"median of {args.repeats} interleaved runs, ms")
    print(f"{'n':>6} {'dtype':8} {'sel':>5} {'where':>8} {'auto':>8} {'hand':>8} {'hand_guarded':>12} "
          f"{'where/hand':>10} {'auto/hand':>9} {'guarded/hand':>12} {'xla/hand':>8}")
    ratios = {"where": [], "auto": [], "hand_guarded": [], "hand_xla": []}
    for dtype in ("float32", "float64"):
        signature = {"x": f"{dtype}[None]", "t": dtype}
        spec = [tf.TensorSpec([None], dtype), tf.TensorSpec([], dtype)]
        compiled = {name: maskdsl.compile(SOURCE, signature=signature, strategy=name) for name in ("where", "auto")}
        functions = {"hand": tf.function(hand, input_signature=spec),
                     "hand_xla": tf.function(hand, input_signature=spec, jit_compile=True),
                     "hand_guarded": tf.function(hand_guarded, input_signature=spec)}
        for n in (int(s) for s in args.sizes):
            rng = np.random.default_rng(0)
            x_np = (rng.standard_normal(n) * 3).astype(dtype)
            for fraction in (0.5, 0.99):
                t_np = np.quantile(x_np, 1 - fraction).astype(dtype)
                x, t = tf.constant(x_np), tf.constant(t_np)
                calls = {name: (lambda f=f, x=x, t=t: f(x=x, t=t)) for name, f in compiled.items()}
                calls.update({name: (lambda f=f, x=x, t=t: f(x, t)) for name, f in functions.items()})
                want = H.materialise(calls["hand"]())
                for name, call in calls.items():  # trace, warm up and check agreement
                    for _ in range(3):
                        got = H.materialise(call())
                    np.testing.assert_allclose(got, want, rtol=(1e-6 if dtype == "float32" else 1e-12) * (
                        1000 if name == "hand_xla" else 1),
                                               err_msg=name)
                times = H.interleaved(calls, args.repeats)
                ms = {name: H.median(v) * 1e3 for name, v in times.items()}
                for name in ratios:
                    ratios[name].append(ms[name] / ms["hand"])
                print(f"{n:6.0e} {dtype:8} {fraction:5.2f} {ms['where']:8.2f} {ms['auto']:8.2f} {ms['hand']:8.2f} "
                      f"{ms['hand_guarded']:12.2f} {ms['where'] / ms['hand']:10.2f} {ms['auto'] / ms['hand']:9.2f} "
                      f"{ms['hand_guarded'] / ms['hand']:12.2f} {ms['hand_xla'] / ms['hand']:8.2f}")
    print("geometric means: " + ", ".join(f"{name} / hand {H.geomean(v):.2f}" for name, v in ratios.items()))


if __name__ == "__main__":
    main()
