"""The maskdsl benchmark suite: programs x sizes x dtypes x mask selectivity x strategies.

    .venv/bin/python benchmarks/run.py --quick      # 1e4 and 1e6, two selectivities (< 3 min)
    .venv/bin/python benchmarks/run.py              # the full matrix (about 20 min)

Every cell (program, size, dtype, selectivity) times, side by side in one process:
- NumPy, the reference: every variant's output is compared with it once per cell;
- hand-written TensorFlow, one function per idiom (dense `tf.where`, gather/scatter,
  `tf.boolean_mask`, ...), as a plain `tf.function` and, where the idiom has static
  shapes, with `jit_compile=True` (XLA);
- maskdsl with each strategy forced (`where`, `scatter`, `boolean_mask` where it
  applies; `jit_compile=False`), `where` under XLA, and `auto` (the defaults) without
  and with a signature of unknown sizes (`float32[None]`); each auto variant is first
  called until its tiered compilation has settled for the cell's shape (the number of
  calls that took is recorded as `calls_to_settle`);
- peers, when installed (`pip install -e '.[bench]'`): JAX (`jax.jit` of the program as a
  JAX user writes it: `jnp.where`, `.at[].set`, `where=` reductions) and numexpr (for the
  expressions it can do); the floor of any TensorFlow call (an identity tf.function).
Variants whose generated TensorFlow source is identical are timed once.

Ratios are against the best hand-written TensorFlow of the cell; "regret" is auto's
time over the best maskdsl strategy's time in the same cell; "peers" is auto's time over
the best of hand-written TF (plain or XLA), JAX, numexpr and NumPy. Results go to
benchmarks/results/<mode>.json, a plot of the expensive masked update against
selectivity to benchmarks/results/<mode>_expensive_update.png and one of time against
size per program (auto, the best hand-written TF, JAX, numexpr, NumPy) to
benchmarks/results/<mode>_peers.png.

Selectivity is controlled exactly: the mask `m` is an input with
max(1, round(selectivity * n)) true elements at seeded random positions. Programs
whose mask is computed (`x[x < t]`, the 2-D row selection) get data built so the
computed mask has that many true elements.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's maskdsl, not an installed one
import _harness as H  # noqa: E402

tf = H.quiet_tensorflow()
import maskdsl  # noqa: E402

try:  # optional peers (the `bench` extra): a missing one is skipped
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)  # NumPy's dtypes: int32 sums in int64, int32 math in float64
except ImportError:
    jax = jnp = None
try:
    import numexpr
except ImportError:
    numexpr = None
from maskdsl.passes.strategies import AUTO, FORCEABLE  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SELECTIVITIES = (0.0001, 0.01, 0.1, 0.5, 0.99)
SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
QUICK_SIZES = SIZES
DTYPES = ("int32", "float32")
STRATEGIES = tuple(name for name in FORCEABLE if name != AUTO)  # each forced formulation, against "auto"
ROW_WIDTH = 4  # columns of the 2-D row-selection program


# ---------------------------------------------------------------------------------------------
# data


def mask_with(rng, n: int, selectivity: float) -> np.ndarray:
    """A bool array of n elements with exactly max(1, round(selectivity * n)) true, at random places."""
    k = max(1, round(selectivity * n))
    mask = np.zeros(n, bool)
    mask[rng.choice(n, size=k, replace=False)] = True
    return mask


def values(rng, n: int, dtype: str) -> np.ndarray:
    """Positive data (sums do not cancel): integers in [1, 1000), floats in [0, 1)."""
    if dtype == "int32":
        return rng.integers(1, 1000, n).astype(np.int32)
    return rng.random(n, dtype=np.float32)


def masked_inputs(rng, n, dtype, selectivity):
    return {"x": values(rng, n, dtype), "m": mask_with(rng, n, selectivity)}


def threshold_inputs(rng, n, dtype, selectivity):
    """x is a permutation of 0..n-1, so `x < t` with t = k is true on exactly k elements."""
    k = max(1, round(selectivity * n))
    x = rng.permutation(n).astype(dtype)
    return {"x": x, "t": np.asarray(k, dtype=dtype)}


def value_inputs(rng, n, dtype, selectivity):
    inputs = masked_inputs(rng, n, dtype, selectivity)
    inputs["v"] = values(rng, int(inputs["m"].sum()), dtype)
    return inputs


def plain_inputs(rng, n, dtype, selectivity):
    return {"x": values(rng, n, dtype)}


def readme_inputs(rng, n, dtype, selectivity):
    """Values in [0, 20): the README's mask `x > 4 & x % 2 == 0` selects about a third (floats: rarely)."""
    x = rng.integers(0, 20, n) if dtype == "int32" else rng.integers(0, 40, n) / 2
    return {"x": x.astype(dtype)}


def row_inputs(rng, n, dtype, selectivity):
    """(n / ROW_WIDTH, ROW_WIDTH) array whose all-positive rows are a `selectivity` fraction."""
    rows = n // ROW_WIDTH
    x = values(rng, n, dtype).reshape(rows, ROW_WIDTH) + (1 if dtype == "int32" else 0.001)
    x = x.astype(dtype)
    keep = mask_with(rng, rows, selectivity)
    col = rng.integers(0, ROW_WIDTH, rows)
    drop = np.flatnonzero(~keep)
    x[drop, col[drop]] *= -1
    return {"x": x}


# ---------------------------------------------------------------------------------------------
# NumPy references and hand-written TensorFlow, per program


def np_update(fn):
    def run(x, m, **_):
        y = x.copy()
        y[m] = fn(y[m])
        return y
    return run


def expensive_np(s):
    return np.log1p(np.exp(np.sin(s) * np.cos(s)) ** 2)


def compute_dtype(x):
    """The dtype NumPy computes transcendental functions of x in (float64 for integers)."""
    return x.dtype if x.dtype.is_floating else tf.float64


def expensive_tf(s):
    c = tf.cast(s, compute_dtype(s))
    return tf.math.log1p(tf.pow(tf.exp(tf.sin(c) * tf.cos(c)), 2))


def tf_where_update(fn):
    def run(x, m):
        return tf.where(m, tf.cast(fn(x), x.dtype), x)
    return run


def tf_scatter_update(fn):
    def run(x, m):
        idx = tf.where(m)
        return tf.tensor_scatter_nd_update(x, idx, tf.cast(fn(tf.gather_nd(x, idx)), x.dtype))
    return run


def double(x):
    return x * 2


def sum_dtype(x):
    """NumPy 2 sums int32 in int64."""
    return tf.int64 if x.dtype.is_integer else x.dtype


def mean_dtype(x):
    return tf.float64 if x.dtype.is_integer else x.dtype


def lowest(dtype):
    return dtype.min if dtype.is_integer else -np.inf


REDUCE_TF = {
    # kind: (masked where formulation, boolean_mask formulation)
    "sum": (lambda x, m: tf.reduce_sum(tf.where(m, tf.cast(x, sum_dtype(x)), tf.zeros([], sum_dtype(x)))),
            lambda x, m: tf.reduce_sum(tf.cast(tf.boolean_mask(x, m), sum_dtype(x)))),
    "mean": (lambda x, m: tf.reduce_sum(tf.where(m, tf.cast(x, mean_dtype(x)), tf.zeros([], mean_dtype(x))))
             / tf.cast(tf.math.count_nonzero(m), mean_dtype(x)),
             lambda x, m: tf.reduce_mean(tf.cast(tf.boolean_mask(x, m), mean_dtype(x)))),
    "count": (lambda x, m: tf.math.count_nonzero(tf.logical_and(m, tf.not_equal(x, 0))),
              lambda x, m: tf.math.count_nonzero(tf.boolean_mask(x, m))),
    "max": (lambda x, m: tf.reduce_max(tf.where(m, x, tf.constant(lowest(x.dtype), x.dtype))),
            lambda x, m: tf.reduce_max(tf.boolean_mask(x, m))),
}
REDUCE_NP = {"sum": np.sum, "mean": np.mean, "count": np.count_nonzero, "max": np.max}


def assign_values_cumsum(x, m, v):
    """Dense x[m] = v: the i-th true position takes v[i], found by a running count of the mask."""
    position = tf.maximum(tf.cumsum(tf.cast(m, tf.int32)) - 1, 0)
    return tf.where(m, tf.gather(v, position), x)


def assign_values_scatter(x, m, v):
    return tf.tensor_scatter_nd_update(x, tf.where(m), v)


def np_assign_values(x, m, v):
    y = x.copy()
    y[m] = v
    return y


SLICE = (100, 5000)


def slice_concat(x):
    a, b = SLICE
    return tf.concat([x[:a], tf.zeros([b - a], x.dtype), x[b:]], 0)


def slice_where(x):
    a, b = SLICE
    r = tf.range(tf.shape(x)[0])
    return tf.where((r >= a) & (r < b), tf.zeros([], x.dtype), x)


def slice_scatter(x):
    a, b = SLICE
    return tf.tensor_scatter_nd_update(x, tf.reshape(tf.range(a, b), [-1, 1]), tf.zeros([b - a], x.dtype))


def np_slice(x):
    y = x.copy()
    y[SLICE[0]:SLICE[1]] = 0
    return y


PIPELINE = """\
_y = x * 2 + 1
_y[m] = sqrt(abs(_y[m]))
_y[_y > 10] = 10
z = _y - mean(_y[m])
z[not m] *= 0.5"""


def np_pipeline(x, m):
    y = x * 2 + 1
    y[m] = np.sqrt(np.abs(y[m]))
    y[y > 10] = 10
    z = y - np.mean(y[m])
    z[~m] *= 0.5
    return z


def tf_pipeline(x, m):
    c = compute_dtype(x)
    y = x * 2 + 1
    y = tf.where(m, tf.cast(tf.sqrt(tf.cast(tf.abs(y), c)), x.dtype), y)
    y = tf.where(y > 10, tf.constant(10, x.dtype), y)
    yc = tf.cast(y, c)
    z = yc - tf.reduce_sum(tf.where(m, yc, tf.zeros([], c))) / tf.cast(tf.math.count_nonzero(m), c)
    return tf.where(m, z, z * 0.5)


README = "x[x > 4 & x % 2 == 0] *= 2"


def readme_tf(x):
    return tf.where((x > 4) & tf.equal(tf.math.floormod(x, tf.constant(2, x.dtype)), 0), x * 2, x)


def readme_np(x):
    return np.where((x > 4) & (x % 2 == 0), x * 2, x)


def rows_boolean_mask(x):
    return tf.boolean_mask(x, tf.reduce_all(x > 0, axis=1))


def rows_gather(x):
    return tf.gather(x, tf.where(tf.reduce_all(x > 0, axis=1))[:, 0])


# ---- peers: JAX as a JAX user writes it (jitted), numexpr where it can express the program ----

def jax_float(x):
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float64)


def jax_expensive(s):
    c = jax_float(s)
    return jnp.log1p(jnp.exp(jnp.sin(c) * jnp.cos(c)) ** 2)


def jax_lowest(x):
    return jnp.iinfo(x.dtype).min if jnp.issubdtype(x.dtype, jnp.integer) else -jnp.inf


def jax_pipeline(x, m):
    y = x * 2 + 1
    y = jnp.where(m, jnp.sqrt(jnp.abs(jax_float(y))).astype(y.dtype), y)
    y = jnp.where(y > 10, jnp.asarray(10, y.dtype), y)
    z = y - jnp.mean(jax_float(y), where=m)
    return jnp.where(~m, z * 0.5, z)


JAX_PROGRAMS = {
    "cheap_update": lambda x, m: jnp.where(m, x * 2, x),
    "cheap_update_computed": lambda x, t: jnp.where(x < t, x * 2, x),
    "expensive_update": lambda x, m: jnp.where(m, jax_expensive(x).astype(x.dtype), x),
    "masked_sum": lambda x, m: jnp.sum(x, where=m),
    "masked_mean": lambda x, m: jnp.mean(x, where=m),
    "masked_count": lambda x, m: jnp.count_nonzero(m & (x != 0)),
    "masked_max": lambda x, m: jnp.max(jnp.where(m, x, jax_lowest(x))),
    "assign_values": lambda x, m, v: x.at[jnp.nonzero(m, size=v.shape[0])[0]].set(v),
    "slice_assign": lambda x: x.at[SLICE[0]:SLICE[1]].set(0),
    "pipeline5": jax_pipeline,
    "readme_update": lambda x: jnp.where((x > 4) & (x % 2 == 0), x * 2, x),
    # select and rows_all_positive make arrays whose size depends on the data: not jittable
}

NUMEXPR_PROGRAMS = {
    # name: (expression, dtypes it gives NumPy's answer for)
    "cheap_update": ("where(m, x * 2, x)", ("int32", "float32")),
    "cheap_update_computed": ("where(x < t, x * 2, x)", ("int32", "float32")),
    "expensive_update": ("where(m, log1p(exp(sin(x) * cos(x)) ** 2), x)", ("float32",)),
    "masked_sum": ("sum(where(m, x, 0))", ("float32",)),          # int32 sums stay int32 (NumPy: int64)
    "masked_count": ("sum(where(m & (x != 0), 1, 0))", ("int32", "float32")),
    "masked_max": ("max(where(m, x, lowest))", ("float32",)),     # an int32 max overflows its initial value
    "readme_update": ("where((x > 4) & (x % 2 == 0), x * 2, x)", ("int32", "float32")),
}


def numexpr_call(program: str, inputs: dict):
    expression, dtypes = NUMEXPR_PROGRAMS[program]
    if inputs["x"].dtype.name not in dtypes:
        return None
    local = dict(inputs, lowest=np.asarray(-np.inf, inputs["x"].dtype))
    if program == "masked_count":
        return lambda: np.int64(numexpr.evaluate(expression, local_dict=local))
    return lambda: numexpr.evaluate(expression, local_dict=local)


@dataclass(frozen=True)
class Program:
    """One benchmark program: maskdsl source, how to make its inputs, its NumPy and TF versions.

    handwritten: idiom name -> TF function of the inputs (keyword arguments);
    static: the idioms whose shapes are static, also timed under XLA;
    strategies: the forced maskdsl strategies that apply.
    """
    name: str
    source: str
    make_inputs: Callable
    numpy: Callable
    handwritten: dict
    static: tuple = ()
    strategies: tuple = ("where", "scatter")
    selective: bool = True  # False: selectivity does not apply (one cell per size and dtype)
    reduction: bool = False  # the result goes through a float reduction: looser tolerance against NumPy


def _program_table() -> list[Program]:
    progs = [
        Program("cheap_update", "x[m] *= 2", masked_inputs, np_update(lambda s: s * 2),
                {"where": tf_where_update(double), "scatter": tf_scatter_update(double)}, ("where",)),
        Program("cheap_update_computed", "x[x < t] *= 2", threshold_inputs,
                lambda x, t: np_update(lambda s: s * 2)(x, x < t),
                {"where": lambda x, t: tf_where_update(double)(x, x < t),
                 "scatter": lambda x, t: tf_scatter_update(double)(x, x < t)}, ("where",)),
        Program("expensive_update", "x[m] = log1p(exp(sin(x[m]) * cos(x[m])) ** 2)", masked_inputs,
                np_update(expensive_np),
                {"where": tf_where_update(expensive_tf), "scatter": tf_scatter_update(expensive_tf)}, ("where",)),
    ]
    for kind in ("sum", "mean", "count", "max"):
        where_fn, bmask_fn = REDUCE_TF[kind]
        progs.append(Program(f"masked_{kind}", f"{kind}(x[m])", masked_inputs,
                             (lambda fn: lambda x, m: fn(x[m]))(REDUCE_NP[kind]),
                             {"where": where_fn, "boolean_mask": bmask_fn}, ("where",),
                             STRATEGIES, reduction=True))
    progs += [
        Program("select", "x[m]", masked_inputs, lambda x, m: x[m],
                {"boolean_mask": lambda x, m: tf.boolean_mask(x, m),
                 "gather": lambda x, m: tf.gather(x, tf.where(m)[:, 0])}, (), STRATEGIES),
        Program("assign_values", "x[m] = v", value_inputs, np_assign_values,
                {"scatter": assign_values_scatter, "where_cumsum": assign_values_cumsum}, ("where_cumsum",)),
        Program("slice_assign", f"x[{SLICE[0]}:{SLICE[1]}] = 0", plain_inputs, np_slice,
                {"concat": slice_concat, "where": slice_where, "scatter": slice_scatter}, ("concat", "where"),
                selective=False),
        Program("pipeline5", PIPELINE, masked_inputs, np_pipeline, {"where": tf_pipeline}, ("where",),
                STRATEGIES, reduction=True),
        Program("readme_update", README, readme_inputs, readme_np, {"where": readme_tf}, ("where",),
                selective=False),
        Program("rows_all_positive", "x[all(x > 0, axis=1)]", row_inputs, lambda x: x[np.all(x > 0, axis=1)],
                {"boolean_mask": rows_boolean_mask, "gather": rows_gather}, (), STRATEGIES),
    ]
    return progs


PROGRAMS = _program_table()


# ---------------------------------------------------------------------------------------------
# checking results against NumPy


def check(result, reference, reduction: bool) -> str | None:
    """None if result matches NumPy's reference (values, shape and dtype), else what differs."""
    got = H.materialise(result)
    if isinstance(got, dict):
        if len(got) != 1:
            return f"expected one output, got {sorted(got)}"
        got = next(iter(got.values()))
    got, want = np.asarray(got), np.asarray(reference)
    if got.shape != want.shape:
        return f"shape {got.shape} != NumPy {want.shape}"
    problems = []
    if got.dtype != want.dtype:
        problems.append(f"dtype {got.dtype} != NumPy {want.dtype}")
    if not np.array_equal(got, want, equal_nan=want.dtype.kind == "f"):
        if want.dtype.kind == "f" or got.dtype.kind == "f":
            # float tolerance, computed in the arrays' own precision (1e7-element float64 copies are slow)
            # (a float32 reduction over millions of elements differs from NumPy's pairwise sum
            # by up to ~1e-4 relative, and that error carries into every element computed from it)
            wide = np.result_type(got.dtype, want.dtype, np.float32)
            g, w = got.astype(wide, copy=False), want.astype(wide, copy=False)
            diff = np.abs(g - w)
            scale = float(np.nanmax(np.abs(w))) if w.size else 1.0
            rtol, atol = (1e-3, 1e-3 * scale) if reduction else (1e-4, 1e-5 * max(1.0, scale))
            bad = diff > atol + rtol * np.abs(w)
            bad &= ~(np.isnan(g) & np.isnan(w))
        else:
            diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
            bad = diff != 0
        count = int(np.count_nonzero(bad))
        if count:
            problems.append(f"values differ: {count} of {want.size} elements, max abs error {np.nanmax(diff):.3g}")
    return "; ".join(problems) or None


# ---------------------------------------------------------------------------------------------
# variants


@dataclass
class Variant:
    name: str
    kind: str                   # numpy, tf, xla, maskdsl
    call: Callable | None = None
    error: str | None = None
    wrong: str | None = None
    dtype_note: str | None = None
    same_as: str | None = None
    first_call_s: float | None = None
    jit: bool | None = None
    key: tuple | None = None
    compiled: object = None     # the maskdsl CompiledProgram, for maskdsl variants
    calls_to_settle: int | None = None  # auto: calls until tiered compilation decided (after warm-up)
    tier: str | None = None              # auto: the form it settled on ("plain" or "xla")
    settle_s: float | None = None
    not_applicable: str | None = None
    times: list = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.call is not None and self.error is None and self.wrong is None


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


class Builders:
    """Builds (and caches across selectivities) the functions for one program, size and dtype."""

    def __init__(self, program: Program):
        self.program = program
        self.cache: dict = {}

    def handwritten(self, idiom: str, jit: bool):
        key = ("tf", idiom, jit)
        if key not in self.cache:
            self.cache[key] = tf.function(self.program.handwritten[idiom], jit_compile=jit, autograph=False)
        return self.cache[key]

    def maskdsl(self, strategy: str, jit, signature=None):
        key = ("md", strategy, jit, None if signature is None else tuple(sorted(signature.items())))
        if key not in self.cache:
            try:
                self.cache[key] = maskdsl.compile(self.program.source, strategy=strategy, jit_compile=jit,
                                                  signature=signature)
            except Exception as e:  # noqa: BLE001 - a compile failure is a result to record
                self.cache[key] = e
        return self.cache[key]

    def forget_auto(self) -> None:
        """Drop the auto variants: each selectivity is a user of its own, whose calls tiered
        compilation measures from the first (a shape keeps the form its first calls chose)."""
        for key in [k for k in self.cache if k[0] == "md" and k[2] == "auto"]:
            del self.cache[key]

    def jax(self):
        key = ("jax",)
        if key not in self.cache:
            self.cache[key] = jax.jit(JAX_PROGRAMS[self.program.name])
        return self.cache[key]

    def floor(self, x):
        """TensorFlow's cheapest public call of a graph: an identity tf.function's concrete function."""
        key = ("floor",)
        if key not in self.cache:
            self.cache[key] = tf.function(lambda x: tf.identity(x), autograph=False).get_concrete_function(
                tf.TensorSpec(x.shape, x.dtype))
        return self.cache[key]


def unknown_sizes(inputs: dict) -> dict:
    """The signature a user writes for these inputs: every dimension None ("float32[None]")."""
    return {k: v.dtype.name + (f"[{', '.join(['None'] * v.ndim)}]" if v.ndim else "") for k, v in inputs.items()}


def make_variants(program: Program, builders: Builders, inputs: dict, tensors: dict) -> list[Variant]:
    variants = [Variant("numpy", "numpy", lambda: program.numpy(**inputs))]
    for idiom in program.handwritten:
        fn = builders.handwritten(idiom, False)
        variants.append(Variant(f"tf_{idiom}", "tf", (lambda f: lambda: f(**tensors))(fn), jit=False))
    for idiom in program.static:
        fn = builders.handwritten(idiom, True)
        variants.append(Variant(f"xla_{idiom}", "xla", (lambda f: lambda: f(**tensors))(fn), jit=True))
    specs = [(s, False, None) for s in program.strategies] + [("where", True, None), ("auto", "auto", None),
                                                                ("auto", "auto", unknown_sizes(inputs))]
    for strategy, jit, signature in specs:
        name = f"md_{strategy}" + ("_xla" if jit is True else "") + ("_sig" if signature else "")
        compiled = builders.maskdsl(strategy, jit, signature)
        if isinstance(compiled, Exception):
            variants.append(Variant(name, "maskdsl", error=first_line(compiled)))
            continue
        variants.append(Variant(name, "maskdsl", (lambda f: lambda: f(**tensors))(compiled), compiled=compiled))
    variants.append(Variant("tf_floor", "floor", (lambda f: lambda: f(tensors["x"]))(builders.floor(tensors["x"]))))
    if jax is not None and program.name in JAX_PROGRAMS:
        arrays = {k: jnp.asarray(v) for k, v in inputs.items()}
        variants.append(Variant("jax", "peer", (lambda f: lambda: f(**arrays))(builders.jax())))
    if numexpr is not None and program.name in NUMEXPR_PROGRAMS:
        call = numexpr_call(program.name, inputs)
        if call is not None:
            variants.append(Variant("numexpr", "peer", call))
    return variants


def settle(v: Variant, max_calls: int = 50_000, max_s: float = 20.0) -> None:
    """Call an auto variant until its tiered compilation has decided for this shape."""
    spec = v.compiled._current()
    if spec.tiers is None:
        v.calls_to_settle = 0
        return
    key = next(iter(spec.tiers._shapes), None)
    start, calls = time.perf_counter(), 0
    while calls < max_calls and time.perf_counter() - start < max_s:
        key = key if key is not None else next(iter(spec.tiers._shapes), None)
        if key is not None and spec.tiers.settled(key):
            break
        v.call()
        calls += 1
    v.calls_to_settle = calls
    v.settle_s = time.perf_counter() - start
    if key is not None and spec.tiers.settled(key):
        v.tier = spec.tiers.choose(key)  # the form every timed call of this shape runs


def warm_up(variants: list[Variant], reference, reduction: bool, second_call: bool = True) -> None:
    """First call (tracing / XLA compile, timed separately), a second call, and the check against NumPy.

    The second call settles allocator and caches; it is skipped for the largest arrays, whose
    timed repeats are long enough on their own.
    """
    seen: dict[tuple, str] = {}
    for v in variants:
        if v.call is None:
            continue
        try:
            start = time.perf_counter()
            result = H.materialise(v.call())
            v.first_call_s = time.perf_counter() - start
            if second_call:
                H.materialise(v.call())
        except Exception as e:  # noqa: BLE001
            if v.name.endswith("_xla") and "static shapes" in str(e):
                v.not_applicable, v.call = first_line(e), None  # a data-dependent shape cannot run under XLA
            elif v.kind == "peer":
                v.not_applicable, v.call = first_line(e), None  # the peer cannot express it
            else:
                v.error = first_line(e)
            continue
        if v.kind not in ("numpy", "floor"):
            problem = check(result, reference, reduction)
            if problem and problem.startswith("dtype") and "values differ" not in problem:
                v.dtype_note = problem
            elif problem:
                v.wrong = problem
        compiled = v.compiled
        if compiled is not None:
            if compiled.jit_compile == "auto":
                settle(v)
            v.jit = compiled.jit
            v.key = (compiled.source, compiled.jit, compiled.jit_compile == "auto" and v.name)
            if v.key in seen:
                v.same_as = seen[v.key]
            else:
                seen[v.key] = v.name


# ---------------------------------------------------------------------------------------------
# the matrix


@dataclass
class Plan:
    mode: str
    sizes: tuple
    dtypes: tuple
    selectivities: tuple
    programs: tuple

    def repeats(self, n: int) -> int:
        if self.mode == "quick":
            return {10_000: 21, 100_000: 15, 1_000_000: 9}.get(n, 5)
        return {10_000: 25, 100_000: 11, 1_000_000: 7}.get(n, 3)


def run_cell(program: Program, builders: Builders, n: int, dtype: str, selectivity, plan: Plan, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    inputs = program.make_inputs(rng, n, dtype, selectivity if selectivity is not None else 0.0)
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    reference = program.numpy(**inputs)
    variants = make_variants(program, builders, inputs, tensors)
    warm_up(variants, reference, program.reduction, second_call=n < 10_000_000)
    timed = {v.name: v.call for v in variants if v.usable and v.same_as is None}
    times = H.interleaved(timed, plan.repeats(n), seed=seed)
    for v in variants:
        if v.same_as is not None and v.usable:
            v.times = times.get(v.same_as, [])
        elif v.name in times:
            v.times = times[v.name]
    cell = {"program": program.name, "n": n, "dtype": dtype, "selectivity": selectivity,
            "selected": int(inputs["m"].sum()) if "m" in inputs else None, "variants": {}}
    for v in variants:
        record = {"kind": v.kind}
        if v.times:
            record.update(H.summary(v.times))
        for attr in ("error", "wrong", "dtype_note", "same_as", "first_call_s", "jit", "not_applicable",
                     "calls_to_settle", "settle_s", "tier"):
            if getattr(v, attr) is not None:
                record[attr] = getattr(v, attr)
        cell["variants"][v.name] = record
    summarise_cell(cell)
    return cell


def med(cell, name):
    return cell["variants"].get(name, {}).get("median_s")


def summarise_cell(cell: dict) -> None:
    """Add the best hand-written TF, the best maskdsl strategy, ratios and auto's regret."""
    vs = cell["variants"]
    tf_names = [k for k, v in vs.items() if v["kind"] in ("tf", "xla") and "median_s" in v]
    md_names = [k for k, v in vs.items() if v["kind"] == "maskdsl" and k != "md_auto" and "median_s" in v]
    best_tf = min(tf_names, key=lambda k: vs[k]["median_s"], default=None)
    best_md = min(md_names, key=lambda k: vs[k]["median_s"], default=None)
    cell["best_tf"] = best_tf
    cell["best_strategy"] = best_md
    base = vs[best_tf]["median_s"] if best_tf else None
    for v in vs.values():
        if base and "median_s" in v:
            v["ratio_to_best_tf"] = v["median_s"] / base
    auto = med(cell, "md_auto")
    cell["auto_same_as"] = vs.get("md_auto", {}).get("same_as")
    cell["regret"] = auto / vs[best_md]["median_s"] if auto and best_md else None
    cell["auto_vs_best_tf"] = auto / base if auto and base else None
    cell["auto_vs_numpy"] = auto / med(cell, "numpy") if auto and med(cell, "numpy") else None
    peers = [k for k, v in vs.items() if v["kind"] in ("tf", "xla", "peer", "numpy") and "median_s" in v]
    best_peer = min(peers, key=lambda k: vs[k]["median_s"], default=None)
    cell["best_peer"] = best_peer
    for name, suffix in (("md_auto", ""), ("md_auto_sig", "_sig")):
        t = med(cell, name)
        cell[f"auto{suffix}_vs_best_peer"] = t / vs[best_peer]["median_s"] if t and best_peer else None
        cell[f"auto{suffix}_vs_best_tf"] = t / base if t and base else None
        cell[f"auto{suffix}_vs_jax"] = t / med(cell, "jax") if t and med(cell, "jax") else None
        cell[f"auto{suffix}_vs_floor"] = t / med(cell, "tf_floor") if t and med(cell, "tf_floor") else None
        cell[f"auto{suffix}_vs_numpy"] = t / med(cell, "numpy") if t and med(cell, "numpy") else None


def cells_of(plan: Plan):
    for program in plan.programs:
        for n in plan.sizes:
            for dtype in plan.dtypes:
                sels = plan.selectivities if program.selective else (None,)
                yield program, n, dtype, sels


# ---------------------------------------------------------------------------------------------
# reporting

COLUMNS = ("numpy", "jax", "numexpr", "tf_floor", "best_plain_tf", "best_xla_tf", "md_where", "md_scatter", "md_boolean_mask",
           "md_where_xla", "md_auto", "md_auto_sig")
SHORT = {"numpy": "numpy", "jax": "jax", "numexpr": "numexpr", "tf_floor": "floor", "best_plain_tf": "TF",
         "best_xla_tf": "TF+xla", "md_where": "where", "md_scatter": "scatter", "md_boolean_mask": "bmask",
         "md_where_xla": "wh+xla", "md_auto": "auto", "md_auto_sig": "auto[N]"}


def fmt_sel(s) -> str:
    return "-" if s is None else f"{s * 100:g}%"


def ratio_text(cell, name) -> str:
    if name.startswith("best_"):
        kind = "tf" if name == "best_plain_tf" else "xla"
        rs = [v["ratio_to_best_tf"] for v in cell["variants"].values() if v["kind"] == kind and "ratio_to_best_tf" in v]
        return f"{min(rs):.2f}" if rs else "."
    v = cell["variants"].get(name)
    if v is None or v.get("not_applicable"):
        return "."
    if v.get("error"):
        return "ERR"
    if v.get("wrong"):
        return "WRONG"
    r = v.get("ratio_to_best_tf")
    if r is None:
        return "?"
    return f"{r:.2f}" + ("=" if v.get("same_as") else "")


def table(cells: list[dict]) -> str:
    head = (f"{'program':<22} {'dtype':<7} {'n':>8} {'sel':>6} {'best TF':<18} {'ms':>8} "
            + " ".join(f"{SHORT[c]:>7}" for c in COLUMNS) + f" {'regret':>6}  auto=")
    lines = [head, "-" * len(head)]
    for c in cells:
        best = c["best_tf"] or "-"
        ms = f"{c['variants'][best]['median_s'] * 1e3:8.3f}" if c["best_tf"] else f"{'-':>8}"
        regret = f"{c['regret']:6.2f}" if c.get("regret") else f"{'-':>6}"
        lines.append(f"{c['program']:<22} {c['dtype']:<7} {c['n']:>8.0e} {fmt_sel(c['selectivity']):>6} "
                     f"{best:<18} {ms} " + " ".join(f"{ratio_text(c, k):>7}" for k in COLUMNS)
                     + f" {regret}  {c.get('auto_same_as') or '-'}")
    return "\n".join(lines)


def strategies_differ(cell: dict) -> bool:
    """Whether the forced maskdsl strategies of a cell generate more than one distinct program."""
    distinct = [k for k, v in cell["variants"].items()
                if v["kind"] == "maskdsl" and k != "md_auto" and "median_s" in v and not v.get("same_as")]
    return len(distinct) > 1


def summary(cells: list[dict]) -> dict:
    regrets = [(c["regret"], c) for c in cells if c.get("regret")]
    worst = max(regrets, key=lambda rc: rc[0], default=(None, None))
    out = {
        "cells": len(cells),
        "cells_with_regret": len(regrets),
        "regret_geomean": H.geomean([r for r, _ in regrets]),
        # cells where there is a choice to get wrong (select, x[m] = v, row selection have one lowering)
        "cells_with_a_choice": sum(1 for _, c in regrets if strategies_differ(c)),
        "regret_geomean_with_a_choice": H.geomean([r for r, c in regrets if strategies_differ(c)]),
        "regret_worst": worst[0],
        "regret_worst_cell": None if worst[1] is None else
        {k: worst[1][k] for k in ("program", "n", "dtype", "selectivity", "best_strategy", "auto_same_as")},
        "auto_vs_best_tf_geomean": H.geomean([c["auto_vs_best_tf"] for c in cells if c.get("auto_vs_best_tf")]),
        "auto_vs_numpy_geomean": H.geomean([c["auto_vs_numpy"] for c in cells if c.get("auto_vs_numpy")]),
        "by_program_size": {},
    }
    for c in cells:
        key = f"{c['program']}@{c['n']:.0e}"
        slot = out["by_program_size"].setdefault(key, {"auto_vs_best_tf": [], "auto_vs_numpy": [], "regret": []})
        for k in slot:
            if c.get(k):
                slot[k].append(c[k])
    for key, slot in out["by_program_size"].items():
        out["by_program_size"][key] = {f"{k}_geomean": H.geomean(v) for k, v in slot.items()} | {
            "regret_worst": max(slot["regret"], default=None)}
    out["peers"] = peer_summary(cells)
    out["targets"] = targets(cells)
    return out


PEER_RATIOS = ("vs_best_peer", "vs_best_tf", "vs_jax", "vs_numpy", "vs_floor")


def peer_summary(cells: list[dict]) -> dict:
    """Geometric means per program and size of auto (and auto with a [None] signature) over the peers."""
    out: dict = {}
    for c in cells:
        slot = out.setdefault(c["program"], {}).setdefault(f"{c['n']:.0e}", {})
        for suffix in ("", "_sig"):
            for ratio in PEER_RATIOS:
                value = c.get(f"auto{suffix}_{ratio}")
                if value:
                    slot.setdefault(f"auto{suffix}_{ratio}", []).append(value)
        if c.get("best_peer"):
            slot.setdefault("best_peers", []).append(c["best_peer"])
    for sizes in out.values():
        for n, slot in sizes.items():
            peers = slot.pop("best_peers", [])
            sizes[n] = {k: H.geomean(v) for k, v in slot.items()} | {
                "best_peer": max(set(peers), key=peers.count) if peers else None}
    return out


TARGETS = (
    # (what, ratio key, sizes, limit, reduce): reduce "geomean" over the cells of those sizes, or "worst"
    ("auto <= 1.00x best hand-written TF (geo-mean)", "vs_best_tf", (100_000, 1_000_000, 10_000_000), 1.00, "geomean"),
    ("no cell worse than 1.25x best hand-written TF", "vs_best_tf", (100_000, 1_000_000, 10_000_000), 1.25, "worst"),
    ("auto <= 0.5x NumPy (geo-mean)", "vs_numpy", (1_000_000, 10_000_000), 0.5, "geomean"),
    ("auto within 1.10x of JAX jit at 1e7 (geo-mean)", "vs_jax", (10_000_000,), 1.10, "geomean"),
    ("auto within 1.5x of JAX jit at 1e6 (geo-mean)", "vs_jax", (1_000_000,), 1.5, "geomean"),
    ("at 1e4, within 1.2x of a tf.function call's floor (geo-mean)", "vs_floor", (10_000,), 1.2, "geomean"),
)


def targets(cells: list[dict]) -> list[dict]:
    """Issue 15's targets: met or missed by how much, with and without a signature."""
    out = []
    for what, ratio, sizes, limit, how in TARGETS:
        for suffix, label in (("", "no signature"), ("_sig", "signature [None]")):
            values = [c[f"auto{suffix}_{ratio}"] for c in cells if c["n"] in sizes and c.get(f"auto{suffix}_{ratio}")]
            if not values:
                continue
            value = H.geomean(values) if how == "geomean" else max(values)
            out.append({"target": what, "signature": label, "sizes": sizes, "cells": len(values),
                        "value": value, "limit": limit, "met": value <= limit})
    return out


def failures(cells: list[dict]) -> list[dict]:
    """Distinct compile errors, run-time errors and wrong results, with a reproducing program."""
    seen, out = set(), []
    by_name = {p.name: p for p in PROGRAMS}
    for c in cells:
        for name, v in c["variants"].items():
            problem = v.get("error") or v.get("wrong") or v.get("dtype_note")
            if not problem:
                continue
            kind = "error" if v.get("error") else "wrong" if v.get("wrong") else "dtype"
            key = (c["program"], name, c["dtype"], kind, problem.split(":")[0])
            if key in seen:
                continue
            seen.add(key)
            out.append({"program": c["program"], "source": by_name[c["program"]].source, "variant": name,
                        "dtype": c["dtype"], "n": c["n"], "selectivity": c["selectivity"], "kind": kind,
                        "problem": problem})
    return out


def plot(cells: list[dict], path: Path, program: str = "expensive_update", dtype: str = "float32") -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plot", file=sys.stderr)
        return False
    chosen = [c for c in cells if c["program"] == program and c["dtype"] == dtype]
    sizes = sorted({c["n"] for c in chosen})
    if not sizes:
        return False
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.5 * len(sizes), 4.2), squeeze=False)
    lines = {"md_where": ("maskdsl where", "-", "tab:blue"), "md_scatter": ("maskdsl scatter", "-", "tab:orange"),
             "md_where_xla": ("maskdsl where + XLA", "-", "tab:green"),
             "tf_where": ("hand TF where", ":", "tab:blue"), "tf_scatter": ("hand TF scatter", ":", "tab:orange"),
             "xla_where": ("hand TF where + XLA", ":", "tab:green"), "numpy": ("NumPy", "--", "gray")}
    for ax, n in zip(axes[0], sizes):
        row = sorted((c for c in chosen if c["n"] == n), key=lambda c: c["selectivity"])
        sels = [c["selectivity"] for c in row]
        for name, (label, style, colour) in lines.items():
            ys = [med(c, name) for c in row]
            if any(y is not None for y in ys):
                ax.plot(sels, [y * 1e3 if y else np.nan for y in ys], style, color=colour, label=label, marker=".")
        auto = [med(c, "md_auto") for c in row]
        ax.plot(sels, [y * 1e3 if y else np.nan for y in auto], "o", markersize=11, markerfacecolor="none",
                markeredgecolor="red", markeredgewidth=2, label="maskdsl auto (chosen)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mask selectivity (fraction true)")
        ax.set_ylabel("median time per call (ms)")
        ax.set_title(f"{program}, {dtype}, n = {n:.0e}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("x[m] = log1p(exp(sin(x[m]) * cos(x[m])) ** 2)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


PEER_LINES = {"md_auto": ("maskdsl auto", "-", "red"), "md_auto_sig": ("maskdsl auto, [None] signature", "--", "red"),
              "best_tf": ("best hand-written TF", ":", "tab:blue"), "jax": ("JAX jit", "-", "tab:purple"),
              "numexpr": ("numexpr", "-", "tab:olive"), "numpy": ("NumPy", "--", "gray"),
              "tf_floor": ("identity tf.function (floor)", ":", "black")}


def plot_peers(cells: list[dict], path: Path, dtype: str = "float32") -> bool:
    """Per program, median time against size (geometric mean over the selectivities run) for
    auto, the best hand-written TF, JAX, numexpr and NumPy."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plot", file=sys.stderr)
        return False
    programs = [p.name for p in PROGRAMS if any(c["program"] == p.name and c["dtype"] == dtype for c in cells)]
    if not programs:
        return False
    cols = 4
    rows = math.ceil(len(programs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, program in zip(axes.flat, programs):
        chosen = [c for c in cells if c["program"] == program and c["dtype"] == dtype]
        sizes = sorted({c["n"] for c in chosen})
        for name, (label, style, colour) in PEER_LINES.items():
            ys = []
            for n in sizes:
                at = [c for c in chosen if c["n"] == n]
                if name == "best_tf":
                    times = [c["variants"][c["best_tf"]]["median_s"] for c in at if c.get("best_tf")]
                else:
                    times = [med(c, name) for c in at if med(c, name)]
                ys.append(H.geomean(times) * 1e3 if times else np.nan)
            if not all(np.isnan(ys)):
                ax.plot(sizes, ys, style, color=colour, label=label, marker=".")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(program, fontsize=9)
        ax.set_xlabel("elements", fontsize=8)
        ax.set_ylabel("ms per call", fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(programs):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=6)
    fig.suptitle(f"maskdsl auto against its peers, {dtype}, median time per call (2-core shared machine)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="sizes 1e4 to 1e7, float32, selectivity 50%% (programs without a mask: one cell)")
    parser.add_argument("--programs", help="comma-separated program names (default: all)")
    parser.add_argument("--sizes", help="comma-separated sizes, e.g. 1e4,1e6")
    parser.add_argument("--dtypes", help="comma-separated dtypes (int32, float32)")
    parser.add_argument("--selectivities", help="comma-separated fractions, e.g. 0.01,0.5")
    parser.add_argument("--out", help="results file stem (default: quick or full)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--report", metavar="JSON", help="print the table and summary of a results file, run nothing")
    args = parser.parse_args(argv)
    if args.report:
        result = json.loads(Path(args.report).read_text(encoding="utf-8"))
        result["summary"] = summary(result["cells"])
        report(result)
        return 0

    mode = "quick" if args.quick else "full"
    programs = tuple(PROGRAMS)
    if args.programs:
        wanted = args.programs.split(",")
        unknown = set(wanted) - {p.name for p in PROGRAMS}
        if unknown:
            parser.error(f"unknown programs {sorted(unknown)}; known: {[p.name for p in PROGRAMS]}")
        programs = tuple(p for p in PROGRAMS if p.name in wanted)
    plan = Plan(mode,
                tuple(int(float(s)) for s in args.sizes.split(",")) if args.sizes else
                (QUICK_SIZES if args.quick else SIZES),
                tuple(args.dtypes.split(",")) if args.dtypes else (("float32",) if args.quick else DTYPES),
                tuple(float(s) for s in args.selectivities.split(",")) if args.selectivities else
                ((0.5,) if args.quick else SELECTIVITIES),
                programs)
    stem = args.out or mode
    RESULTS.mkdir(parents=True, exist_ok=True)

    checkout = H.git_state()  # at the start: the compiler may change on disk while this runs
    started = time.perf_counter()
    cells = []
    for index, (program, n, dtype, sels) in enumerate(cells_of(plan)):
        builders = Builders(program)  # one compiled function per variant, reused over selectivities
        for sel in sels:
            builders.forget_auto()
            seed = args.seed + index * 101 + (0 if sel is None else int(sel * 1e6))
            try:
                cell = run_cell(program, builders, n, dtype, sel, plan, seed)
            except Exception:  # noqa: BLE001 - the harness itself failed: say where, go on
                print(f"!! {program.name} n={n} {dtype} sel={sel}:\n{traceback.format_exc()}", file=sys.stderr)
                continue
            cells.append(cell)
            print(f"[{time.perf_counter() - started:6.0f}s] {program.name:<22} {dtype:<7} n={n:.0e} "
                  f"sel={fmt_sel(sel):>6}  best TF {cell['best_tf']}, regret "
                  f"{cell['regret'] if cell['regret'] is None else round(cell['regret'], 2)}", flush=True)
    elapsed = time.perf_counter() - started

    result = {
        "meta": {"mode": mode, "date": H.now(), "machine": H.machine(), "command": H.command_line(),
                 "git": checkout,
                 "maskdsl": maskdsl.__version__, "elapsed_s": round(elapsed, 1),
                 "sizes": plan.sizes, "dtypes": plan.dtypes, "selectivities": plan.selectivities,
                 "repeats": {str(n): plan.repeats(n) for n in plan.sizes},
                 "cost_weights": _cost_weights()},
        "summary": summary(cells),
        "failures": failures(cells),
        "cells": cells,
    }
    json_path = RESULTS / f"{stem}.json"
    json_path.write_text(dump(result), encoding="utf-8")
    png_path = RESULTS / f"{stem}_expensive_update.png"
    plotted = plot(cells, png_path)
    peers_path = RESULTS / f"{stem}_peers.png"
    plotted_peers = plot_peers(cells, peers_path)
    report(result)
    print(f"\nwrote {os.path.relpath(json_path)}" + (f", {os.path.relpath(png_path)}" if plotted else "")
          + (f", {os.path.relpath(peers_path)}" if plotted_peers else "") + f" in {elapsed:.0f} s")
    return 0


def report(result: dict) -> None:
    cells = result["cells"]
    print()
    print("Ratios are median time / median time of the best hand-written TF of the cell (lower is better);")
    print("'=' marks a variant whose generated code is identical to another's; regret = auto / best strategy.")
    print(table(cells))
    s = result["summary"]
    print()
    print(f"auto regret over {s['cells_with_regret']} cells: geometric mean {_num(s['regret_geomean'])}, "
          f"worst {_num(s['regret_worst'])} at {s['regret_worst_cell']}")
    print(f"  over the {s['cells_with_a_choice']} cells whose strategies differ: geometric mean "
          f"{_num(s['regret_geomean_with_a_choice'])}")
    print(f"auto / best hand-written TF, geometric mean {_num(s['auto_vs_best_tf_geomean'])}; "
          f"auto / NumPy, geometric mean {_num(s['auto_vs_numpy_geomean'])}")
    print_peers(s)
    if result["failures"]:
        print(f"\n{len(result['failures'])} distinct failures:")
        for f in result["failures"]:
            print(f"  {f['program']} [{f['variant']}, {f['dtype']}] {f['kind']}: {f['problem']}\n"
                  f"      source: {f['source']!r}")


def print_peers(s: dict) -> None:
    if "peers" not in s:
        return
    print("\nauto / best of {hand-written TF (plain or XLA), JAX jit, numexpr, NumPy}, geometric means per program and")
    print("size (auto[N]: compiled with a signature of unknown sizes); then auto over each peer, and the most frequent best:")
    head = (f"{'program':<22} {'n':>6} {'peers':>6} {'peers[N]':>8} {'/ TF':>6} {'/ TF[N]':>7} {'/ JAX':>6} "
            f"{'/ NumPy':>7} {'/ floor':>7}  best")
    print(head)
    print("-" * len(head))
    every = {k: [] for k in ("auto_vs_best_peer", "auto_sig_vs_best_peer")}
    by_size: dict = {}
    for program, sizes in s["peers"].items():
        for n, slot in sizes.items():
            for k in every:
                if slot.get(k):
                    every[k].append(slot[k])
                    by_size.setdefault((n, k), []).append(slot[k])
            print(f"{program:<22} {n:>6} {_num(slot.get('auto_vs_best_peer')):>6} "
                  f"{_num(slot.get('auto_sig_vs_best_peer')):>8} {_num(slot.get('auto_vs_best_tf')):>6} "
                  f"{_num(slot.get('auto_sig_vs_best_tf')):>7} {_num(slot.get('auto_vs_jax')):>6} "
                  f"{_num(slot.get('auto_vs_numpy')):>7} {_num(slot.get('auto_vs_floor')):>7}  {slot.get('best_peer')}")
    for n in sorted({n for n, _ in by_size}, key=float):
        print(f"geometric mean at {n}: auto / best peer {_num(H.geomean(by_size.get((n, 'auto_vs_best_peer'), [])))}, "
              f"with a [None] signature {_num(H.geomean(by_size.get((n, 'auto_sig_vs_best_peer'), [])))}")
    print(f"geometric mean over all: {_num(H.geomean(every['auto_vs_best_peer']))}, "
          f"with a [None] signature {_num(H.geomean(every['auto_sig_vs_best_peer']))}")
    print("\nIssue 15's targets:")
    for t in s.get("targets", []):
        verdict = "met" if t["met"] else f"missed by {t['value'] / t['limit']:.2f}x"
        print(f"  {t['target']:<62} {t['signature']:<17} {t['value']:6.2f} (limit {t['limit']:.2f}, "
              f"{t['cells']} cells): {verdict}")


def dump(result: dict) -> str:
    """The results as JSON: floats to 4 significant digits, one line per cell (small, diffable)."""
    result = rounded(result)
    head = {k: v for k, v in result.items() if k != "cells"}
    text = json.dumps(head, indent=1, default=_json_default)[:-2]
    cells = ",\n".join(json.dumps(c, separators=(",", ":"), default=_json_default) for c in result["cells"])
    return f'{text},\n "cells": [\n{cells}\n ]\n}}\n'


def rounded(obj, digits: int = 4):
    """obj with every float rounded to `digits` significant digits (keeps the results files small)."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v, digits) for v in obj]
    return obj


def _num(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _cost_weights():
    try:
        from maskdsl.passes import cost
        return cost.model()
    except Exception:  # noqa: BLE001
        return None


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)


if __name__ == "__main__":
    sys.exit(main())
