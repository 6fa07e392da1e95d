"""NumPy as the oracle: run a generated program through maskdsl in every mode and compare.

A program (maskdsl.testing.programs.Case) runs once in NumPy (its NumPy rendering) and
in maskdsl once per `Mode`: strategy "auto" and each forced strategy, each without a
signature, with exact shapes and with every dimension None, and under
`jit_compile=True`. Each mode must give NumPy's outputs (names, dtypes, shapes and
values; bit for bit outside reductions, nan equal to nan and -0.0 unlike 0.0), or a
located MaskDSLError where NumPy raises.

Every difference is a `Finding`. `classify` names the known ones from one table,
`KNOWN` (each entry with the issue-13 item it belongs to), and `ALLOWED` lists the
documented ones; a finding neither explains is a new bug.

TensorFlow is imported (through maskdsl.compile) only when a program runs.
"""

from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass, field
from collections.abc import Callable

import numpy as np

from maskdsl.testing.programs import Case, NumpyResult, format_array, run_numpy, signature_of

# ---- accuracy: where "equal" is not bit for bit ----
# Float sums, means and products are compared within a relative tolerance, not bit for
# bit: NumPy adds pairwise (blocks of 8), TensorFlow in its own tree order, so the last
# bits differ (issue 13, "Bits"; docs/language.md states the guarantee). The bound is
# |got - want| <= rtol * (|want| + S), S the sum of the magnitudes of the finite float
# inputs: a sum's rounding error grows with the sizes of its terms, not its result.
REDUCTION_RTOL = {"float16": 1e-2, "float32": 1e-3, "float64": 1e-6}
# exp, log, sin, ... may differ from NumPy's in the last bit (docs/language.md,
# "Deliberate differences", 3): a few units in the last place.
TRANSCENDENTAL_RTOL = {"float16": 2e-3, "float32": 1e-6, "float64": 1e-14}


@dataclass(frozen=True)
class Mode:
    """One way of compiling a program."""

    strategy: str = "auto"
    signature: str | None = None   # None, "exact" (the inputs' shapes) or "dynamic" (every dimension None)
    jit: bool = False
    xla_tier: bool = False         # "auto"'s XLA form from the first call (where auto may use XLA at all)

    def __str__(self):
        jit = " jit_compile=True" if self.jit else " (XLA tier)" if self.xla_tier else ""
        return f"strategy={self.strategy} signature={self.signature or 'none'}{jit}"


def modes() -> list[Mode]:
    """Every mode: each strategy x no/exact/dynamic signature, XLA with exact shapes, and auto's
    XLA form (whole or in clusters) with exact shapes."""
    from maskdsl.passes.strategies import FORCEABLE
    return [Mode(s, sig) for s in FORCEABLE for sig in (None, "exact", "dynamic")] + [
        Mode("auto", "exact", True), Mode("auto", "exact", xla_tier=True)]


@dataclass
class Outcome:
    """What maskdsl gave in one mode: output values, a MaskDSLError, or another exception (a crash)."""

    values: dict | None = None
    outputs: tuple = ()
    error: BaseException | None = None
    crash: str | None = None


def run_maskdsl(case: Case, mode: Mode) -> Outcome:
    return run_source(case.source, case.inputs, mode)


def run_source(source: str, inputs: dict, mode: Mode) -> Outcome:
    """Compile `source` in `mode` and call it with `inputs`."""
    from maskdsl.compiler import compile as compile_program  # loads TensorFlow
    from maskdsl.errors import MaskDSLError
    signature = signature_of(inputs, dynamic=mode.signature == "dynamic") if mode.signature else None
    try:
        f = compile_program(source, signature=signature, strategy=mode.strategy,
                            jit_compile=True if mode.jit else "auto")
        if mode.xla_tier:
            _xla_from_the_first_call(f)
        result = f(**{k: np.copy(v) for k, v in inputs.items()})
    except MaskDSLError as e:
        return Outcome(error=e)
    except Exception as e:  # noqa: BLE001 -- anything but a MaskDSLError is a finding
        return Outcome(crash="".join(traceback.format_exception(e))[-3000:])
    if isinstance(result, dict):
        values = {k: np.asarray(v) for k, v in result.items()}
    else:
        values = {f.outputs[0]: np.asarray(result)}
    return Outcome(values=values, outputs=f.outputs)


def _xla_from_the_first_call(f) -> None:
    """Make `f`'s tiers choose the XLA form for every call (its specialisation, typed by the
    signature, exists already)."""
    from maskdsl import tiers

    class Always(tiers.Tiers):
        def choose(self, key) -> str:
            return tiers.XLA

    spec = f._current()
    if spec.tiers is not None:
        spec.tiers = Always()


@dataclass
class Finding:
    """One difference between NumPy and maskdsl in one mode."""

    case: Case
    mode: Mode
    kind: str            # refused, accepted, value, dtype, shape, outputs, crash, unlocated
    detail: str
    expected: NumpyResult
    got: Outcome
    output: str | None = None
    category: str | None = field(default=None)

    def describe(self) -> str:
        lines = [f"{self.kind} in mode {self.mode}" + (f", output {self.output!r}" if self.output else ""),
                 f"  {self.detail}", self.case.describe()]
        if self.expected.error is not None:
            lines.append(f"NumPy raised (statement {self.expected.statement + 1}): "
                         f"{type(self.expected.error).__name__}: {self.expected.error}")
        else:
            lines += [f"NumPy {k} = {format_array(v)}" for k, v in self.expected.values.items()]
        if self.got.crash:
            lines.append("maskdsl crashed:\n" + self.got.crash)
        elif self.got.error is not None:
            lines.append(f"maskdsl raised: {self.got.error}")
        else:
            lines += [f"maskdsl {k} = {format_array(v)}" for k, v in self.got.values.items()]
        if self.category:
            lines.append(f"known: {self.category}")
        return "\n".join(lines)


def is_jit_refusal(error: BaseException) -> bool:
    """jit_compile=True refused a program with data-dependent shapes (an accepted outcome)."""
    return "needs static shapes" in str(getattr(error, "message", error))


def compare(case: Case, mode: Mode, expected: NumpyResult, got: Outcome) -> Finding | None:
    """The difference between NumPy's result and maskdsl's in one mode, or None."""
    def finding(kind, detail, output=None):
        return Finding(case, mode, kind, detail, expected, got, output)

    if got.crash:
        return finding("crash", got.crash.strip().splitlines()[-1])
    if got.error is not None:
        if mode.jit and is_jit_refusal(got.error):
            return None
        if expected.error is None:
            return finding("refused", f"{type(got.error).__name__}: {got.error.message}")
        if getattr(got.error, "span", None) is None:
            return finding("unlocated", f"{type(got.error).__name__} without a position: {got.error.message}")
        return None
    if expected.error is not None:
        return finding("accepted", f"NumPy raised {type(expected.error).__name__}: {expected.error}")
    if tuple(got.outputs) != tuple(case.outputs):
        return finding("outputs", f"outputs {got.outputs}, expected {case.outputs}")
    for name, want in expected.values.items():
        have = got.values[name]
        if have.dtype != want.dtype:
            return finding("dtype", f"dtype {have.dtype}, NumPy {want.dtype}", name)
        if have.shape != want.shape:
            return finding("shape", f"shape {have.shape}, NumPy {want.shape}", name)
        bad = differ(have, want, case.output_tags.get(name, frozenset()), _input_magnitude(case))
        if np.any(bad):
            where = tuple(int(i) for i in np.argwhere(bad)[0]) if have.ndim else ()
            return finding("value", f"at {where}: {have[where]!r}, NumPy {want[where]!r} "
                                    f"({int(np.sum(bad))} of {want.size} elements differ)", name)
    return None


def differ(have: np.ndarray, want: np.ndarray, tags: frozenset = frozenset(), scale: float = 0.0) -> np.ndarray:
    """Where two arrays of one dtype differ: bit for bit (nan equals nan, -0.0 is not 0.0), or
    within the tolerances above for results computed through float reductions or
    transcendental functions (`tags`; `scale`: the inputs' magnitude, for reductions)."""
    if want.dtype.kind != "f":
        return have != want
    same = (have == want) & (np.signbit(have) == np.signbit(want)) | np.isnan(have) & np.isnan(want)
    rtol = max(REDUCTION_RTOL[want.dtype.name] if "float_reduce" in tags else 0,
               TRANSCENDENTAL_RTOL[want.dtype.name] if "transcendental" in tags else 0)
    if rtol:
        scale = scale if "float_reduce" in tags else 0.0
        with np.errstate(all="ignore"):
            close = np.abs(have.astype(np.float64) - want) <= rtol * (np.abs(want.astype(np.float64)) + scale)
        same |= close & np.isfinite(have) & np.isfinite(want) | (have == want)
    return ~same


def _input_magnitude(case: Case) -> float:
    total = 0.0
    for value in case.inputs.values():
        if value.dtype.kind == "f":
            v = np.abs(value[np.isfinite(value)].astype(np.float64))
            total += float(np.sum(v[np.isfinite(v)]))
    return total


def check(case: Case, selected: list[Mode] | None = None) -> list[Finding]:
    """Every finding for one program over the given modes (default: all), each classified."""
    expected = run_numpy(case)
    findings = []
    for mode in selected or modes():
        got = run_maskdsl(case, mode)
        with np.errstate(all="ignore"):
            f = compare(case, mode, expected, got)
        if f is not None:
            f.category = classify(f)
            findings.append(f)
    return findings


# ---- what is known ----

@dataclass(frozen=True)
class Known:
    """A known difference: its category, where it is tracked, which findings it explains."""

    category: str
    issue: str
    kinds: tuple
    applies: Callable[[Finding], bool]


def _tags(*names):
    """The program uses one of these features (programs.TAGS)."""
    return lambda f: any(n in f.case.tags for n in names)


def _output_tags(*names):
    """The differing output is computed through one of these features."""
    return lambda f: f.output is not None and any(n in f.case.output_tags.get(f.output, ()) for n in names)


def _jit(f: Finding) -> bool:
    return f.mode.jit


def _numpy_error(*types):
    return lambda f: f.expected.error is not None and type(f.expected.error).__name__ in types


def _numpy_says(*texts):
    return lambda f: f.expected.error is not None and any(t in str(f.expected.error) for t in texts)


def _only_signed_zero(f: Finding) -> bool:
    """Values that differ only in the sign of a zero."""
    if f.got.values is None or f.output is None:
        return False
    have, want = f.got.values[f.output], f.expected.values[f.output]
    return want.dtype.kind == "f" and bool(np.all((have == want) | np.isnan(have) & np.isnan(want)))


def _subnormals_as_zero(f: Finding) -> bool:
    """The difference is TensorFlow reading subnormal floats as zero: NumPy, given the inputs
    with their subnormals flushed to zero, gives what maskdsl gave. (A subnormal made
    inside the program, or written as a literal, is judged by the tag alone.)"""
    if "subnormal" not in f.case.tags:
        return False
    flushed = {name: _flush_subnormals(value) for name, value in f.case.inputs.items()}
    if all(a is b for a, b in zip(flushed.values(), f.case.inputs.values())):
        return True
    rerun = run_numpy(dataclasses.replace(f.case, inputs=flushed))
    with np.errstate(all="ignore"):
        return compare(f.case, f.mode, rerun, f.got) is None


def _flush_subnormals(value: np.ndarray) -> np.ndarray:
    if value.dtype.kind != "f":
        return value
    tiny = (value != 0) & (np.abs(value) < np.finfo(value.dtype).smallest_normal)
    return np.where(tiny, np.copysign(0, value).astype(value.dtype), value) if tiny.any() else value


def _numpy_overflowed(f: Finding) -> bool:
    """Where the values differ, NumPy's is inf, nan or 0 (an intermediate result of its
    narrower accumulator overflowed or underflowed) and maskdsl's is finite."""
    if f.got.values is None or f.output is None:
        return False
    have, want = f.got.values[f.output], f.expected.values[f.output]
    if want.dtype.kind != "f":
        return False
    bad = differ(have, want)
    return bool(np.all(~np.isfinite(want[bad]) | (want[bad] == 0)) and np.all(np.isfinite(have[bad])))


# Documented differences (docs/language.md): findings they explain are not bugs.
ALLOWED = [
    Known("maskdsl has no complex dtype: arithmetic on two literals that Python makes complex ((-1) ** 0.5) "
          "is a located DTypeError", "docs/language.md#4-what-gives-numpys-bits-and-what-does-not", ("refused",),
          lambda f: f.got.error is not None and "complex results are not supported" in str(f.got.error)),
    Known("transcendental functions differ in the last bit, and what follows may amplify it",
          "docs/language.md (deliberate difference 3)", ("value",), _output_tags("transcendental")),
    Known("-0.0 and 0.0 are equal to a sort: their order, and a median's sign of zero, is the algorithm's",
          "docs/language.md#selections-and-order-statistics", ("value",),
          lambda f: _output_tags("order_statistic")(f) and _only_signed_zero(f)),
    Known("XLA turns float arithmetic with a bool operand into a selection: inf * False is 0 and -4.0 * False "
          "is 0.0 (NumPy: nan, -0.0)", "docs/language.md#4-what-gives-numpys-bits-and-what-does-not", ("value",),
          lambda f: _jit(f) and _output_tags("bool_times_float")(f)),
    Known("XLA fuses a multiply feeding an add (quantile's interpolation) into one rounding",
          "docs/language.md#4-what-gives-numpys-bits-and-what-does-not", ("value",),
          lambda f: _jit(f) and _output_tags("interpolation")(f)),
    Known("TensorFlow reads subnormal floats as zero (comparisons, count, pow, ...): its CPU kernels and XLA's "
          "run with flush-to-zero", "docs/language.md#4-what-gives-numpys-bits-and-what-does-not",
          ("value", "refused", "shape"), _subnormals_as_zero),
    Known("float ** differs in the last bit (TensorFlow's pow against NumPy's; both within about an ulp), "
          "except the exponents 2, 0.5, -1, 1, 0 of a scalar exponent, which are exact",
          "docs/language.md#4-what-gives-numpys-bits-and-what-does-not", ("value",), _output_tags("float_pow")),
    Known("float sums, means and products accumulate in float64: no overflow (or underflow) where NumPy's "
          "float16/float32 partial results overflow", "docs/language.md#4-what-gives-numpys-bits-and-what-does-not",
          ("value",), lambda f: _output_tags("float_reduce")(f) and _numpy_overflowed(f)),
    Known("min/max over zeros of both signs may return either zero (NumPy's choice depends on its SIMD lanes)",
          "docs/language.md#4-what-gives-numpys-bits-and-what-does-not", ("value",),
          lambda f: _output_tags("min_max_reduce")(f) and _only_signed_zero(f)),
]

# Known bugs, one entry per category, each with the issue-13 item it belongs to ("new"
# for what the oracle found beyond the issue's list). The oracle tests record a finding
# these explain as an expected failure (xfail); a category whose bug is fixed stops
# appearing, and its entry is then deleted. The predicates read the tags (programs.TAGS)
# of the program, or of the output that differs: a feature used, not a proof that it
# caused the difference; _subnormals_as_zero re-runs NumPy to check its claim.
KNOWN: list[Known] = [
]


def classify(f: Finding) -> str | None:
    """The category of a finding, or None for a new bug. Known bugs are tried before the
    documented differences: where both could explain a finding, the bug is what to fix."""
    for known in KNOWN + ALLOWED:
        if f.kind in known.kinds and known.applies(f):
            return known.category
    return None


def is_allowed(category: str | None) -> bool:
    return category is not None and any(k.category == category for k in ALLOWED)
