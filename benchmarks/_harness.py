"""Timing helpers shared by the benchmark scripts (run.py, calibrate.py, compile_speed.py, memory.py).

The machine these run on is shared and noisy, so every comparison is made side by
side in one process: variants are warmed up (tracing and XLA compilation excluded),
then timed round-robin in a shuffled order, and each is summarised by its median.
Only medians and ratios between variants timed together are meant to be read.
"""

from __future__ import annotations

import datetime
import gc
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def materialise(result):
    """Force a result into host memory: tensors -> .numpy(), dicts element-wise."""
    if isinstance(result, dict):
        return {k: materialise(v) for k, v in result.items()}
    numpy = getattr(result, "numpy", None)
    if callable(numpy):
        return numpy()
    if callable(getattr(result, "block_until_ready", None)):  # a JAX array: wait for it, then host memory
        import numpy as np
        return np.asarray(result.block_until_ready())
    return result


def timed(fn) -> float:
    start = time.perf_counter()
    materialise(fn())
    return time.perf_counter() - start


def interleaved(variants: dict, repeats: int, seed: int = 0) -> dict[str, list[float]]:
    """Time each zero-argument callable `repeats` times, round-robin in a shuffled order.

    Interleaving spreads the machine's background noise evenly over the variants, so
    their ratios stay meaningful even when absolute times drift. The garbage collector
    is off while timing.
    """
    import random

    order = list(variants)
    rng = random.Random(seed)
    times: dict[str, list[float]] = {name: [] for name in order}
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            rng.shuffle(order)
            for name in order:
                times[name].append(timed(variants[name]))
    finally:
        if enabled:
            gc.enable()
    return times


def median(values) -> float:
    return statistics.median(values)


def summary(values: list[float]) -> dict:
    """Median plus the spread (min, quartiles) of a list of timings, in seconds."""
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=4) if len(ordered) >= 2 else [ordered[0]] * 3
    return {"median_s": statistics.median(ordered), "min_s": ordered[0], "q1_s": q[0], "q3_s": q[2],
            "repeats": len(ordered)}


def geomean(values) -> float:
    import math
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def machine() -> dict:
    """Where and with what a measurement was taken (for provenance fields)."""
    info = {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "python": platform.python_version()}
    try:
        import numpy as np
        info["numpy"] = np.__version__
    except ImportError:
        pass
    if "tensorflow" in sys.modules:
        info["tensorflow"] = sys.modules["tensorflow"].__version__
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            info["cpu_model"] = names[0]
    except OSError:
        pass
    return info


def git_state() -> dict:
    """The checkout measured: commit and whether maskdsl/ had uncommitted changes."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "maskdsl"], cwd=root, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "maskdsl_uncommitted_changes": dirty.splitlines()}


def now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()


def command_line() -> str:
    return " ".join([os.path.relpath(sys.executable) if sys.executable else "python", *sys.argv])


def quiet_tensorflow():
    """Import TensorFlow with its Python-side warnings (retracing, autograph) silenced."""
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    return tf
