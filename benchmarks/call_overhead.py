"""What a call costs: `f(x=...)` against the traced concrete function it runs, side by side.

Variants are timed round-robin in one process (interleaved, garbage collector off), each
result materialised with `.numpy()`; medians in microseconds and ratios to the concrete
function called directly with the same tensor. The floor is an identity tf.function (the
least any tf.function call costs here); JAX's jitted identity is shown when JAX is installed.

    .venv/bin/python benchmarks/call_overhead.py [--n 10000] [--rounds 400]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import maskdsl  # noqa: E402
from maskdsl.tf.runtime import tf  # noqa: E402

SOURCE = "x[x > 4 & x % 2 == 0] *= 2"


def variants(n: int) -> dict:
    rng = np.random.default_rng(0)
    array = (rng.random(n) * 10).astype(np.float32)
    tensor = tf.constant(array)
    out = {}
    for label, signature in (("signature [None]", {"x": "float32[None]"}), ("no signature", None)):
        f = maskdsl.compile(SOURCE, signature=signature, jit_compile=False)
        f(x=tensor)
        concrete = f.get_concrete_function()
        out[f"f(x=tensor), {label}"] = (lambda f=f: f(x=tensor))
        out[f"f(x=ndarray), {label}"] = (lambda f=f: f(x=array))
        out[f"concrete function(tensor), {label}"] = (lambda c=concrete: c(tensor))
        out[f"f.tf_function(tensor), {label}"] = (lambda t=f.tf_function: t(tensor))
    identity = tf.function(lambda x: tf.identity(x), input_signature=[tf.TensorSpec([None], tf.float32)])
    identity_concrete = identity.get_concrete_function()
    out["identity tf.function(tensor)"] = lambda: identity(tensor)
    out["identity concrete function(tensor)"] = lambda: identity_concrete(tensor)
    try:
        import jax
        import jax.numpy as jnp
        jx = jnp.asarray(array)
        jid = jax.jit(lambda x: x)
        jit_where = jax.jit(lambda x: jnp.where((x > 4) & (x % 2 == 0), x * 2, x))
        out["JAX jit identity"] = lambda: np.asarray(jid(jx))
        out["JAX jit where"] = lambda: np.asarray(jit_where(jx))
    except ImportError:
        pass
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args(argv)
    calls = variants(args.n)
    times = {name: [] for name in calls}
    for fn in calls.values():
        for _ in range(20):
            r = fn()
            r.numpy() if hasattr(r, "numpy") else None
    names = list(calls)
    gc.disable()
    try:
        for _ in range(args.rounds):
            random.shuffle(names)
            for name in names:
                start = time.perf_counter()
                r = calls[name]()
                if hasattr(r, "numpy"):
                    r.numpy()
                times[name].append(time.perf_counter() - start)
    finally:
        gc.enable()
    med = {name: statistics.median(t) * 1e6 for name, t in times.items()}
    print(f"`{SOURCE}`, float32[{args.n}], {args.rounds} interleaved rounds, medians")
    for label in ("signature [None]", "no signature"):
        base = med[f"concrete function(tensor), {label}"]
        print(f"\n{label}:")
        for name in [k for k in med if k.endswith(label)]:
            print(f"  {name:48s} {med[name]:8.1f} us  {med[name] / base:5.2f}x")
    floor = med["identity tf.function(tensor)"]
    print()
    for name in [k for k in med if "signature" not in k]:
        print(f"  {name:48s} {med[name]:8.1f} us  {med[name] / floor:5.2f}x the identity tf.function")


if __name__ == "__main__":
    main()
