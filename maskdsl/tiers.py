"""Tiered compilation for `jit_compile="auto"`: which compiled form runs a call.

Every call of a specialisation starts on the plain graph (traced once, no compile). Per
concrete input shape, the plain calls' measured times are added up as the time XLA would
have saved (`xla_gain` of each call, cost_weights.json); once that reaches XLA's one-off
compile time (`xla_compile_s`), the next call of that shape compiles the program with
XLA. The two forms then take turns for `probe_calls` timed calls each (side by side, as
the benchmarks compare), and the shape keeps whichever form was faster (a reduction of a
large array, for one, is slower under XLA). A program goes to XLA only when its shapes
depend on its inputs' shapes alone and `xla_inexact` finds nothing that XLA's CPU compiler would compute with other bits
than the plain graph (docs/performance.md, "Tiered compilation").

>>> from maskdsl.language import prepare
>>> from maskdsl.passes import optimize
>>> xla_inexact(optimize(prepare("x[x > 4] *= 2", x="float32[None]"))) is None
True
>>> node, why = xla_inexact(optimize(prepare("y = a * b + c", a="float32[3]", b="float32[3]", c="float32[3]")))
>>> node.op, why
('mul', 'a float multiply feeds an addition or subtraction, which XLA contracts into a fused multiply-add')
>>> tiers = Tiers(model={"xla_compile_s": 0.01, "xla_gain": 0.5, "probe_calls": 2})
>>> forms = []
>>> for seconds in (0.5, 0.006, 0.006, 0.006, 0.006):  # the first call traces: not counted
...     forms.append(tiers.choose("n=1000")); tiers.record("n=1000", "plain", seconds)
>>> forms, tiers.choose("n=1000")  # 0.5 x 4 x 6 ms saved would repay a 10 ms compile
(['plain', 'plain', 'plain', 'plain', 'plain'], 'xla')
>>> for seconds in (0.3, 0.001, 0.006, 0.001, 0.006):  # compile, then the two forms take turns
...     form = tiers.choose("n=1000"); tiers.record("n=1000", form, seconds)
>>> tiers.choose("n=1000"), tiers.settled("n=1000")  # XLA measured faster: it stays
('xla', True)
"""

from __future__ import annotations

import math
import statistics
import threading

import numpy as np

from maskdsl.ir.dtypes import dtype_kind
from maskdsl.ir.indexing import has_mask
from maskdsl.ir.nodes import Node, Program
from maskdsl.ir.ops import COMPARISONS, DATA_SHAPED, OPS, PREDICATES, SHAPE_QUERIES
from maskdsl.passes import cost, strategies

PLAIN, XLA = "plain", "xla"

# ---- which programs XLA may run ----


def data_dependent_shape(program: Program) -> Node | None:
    """The first node whose shape depends on the input values, not only on the input shapes
    (a selection by a mask, a scatter into a mask's true elements, an arange of a computed
    length); None if there is none, and XLA can compile the program for every concrete shape."""
    for n in program.nodes():
        strategy = n.attr("strategy")
        if strategy is not None and strategies.STRATEGIES[strategy].data_dependent_shape and has_mask(n):
            return n
        if n.op == "arange" and not all(_from_shapes(a) for a in n.args):
            return n
        if n.op in DATA_SHAPED:   # nonzero, argwhere, unique: sized by the values
            return n
    return None


def _from_shapes(node: Node) -> bool:
    """The value is known when the input shapes are: constants, shape queries, arithmetic on them."""
    if node.op == "const" or node.op in SHAPE_QUERIES:
        return True
    if node.op == "input" or not node.args or OPS[node.op].kind != "elementwise":
        return False
    return all(_from_shapes(a) for a in node.args)


# Element-wise ops whose float results XLA:CPU computes with the plain graph's bits (correctly rounded
# IEEE operations, sqrt included, comparisons, selections). Everything else in floating point (libm-style
# transcendental functions, pow, sign and maximum/minimum on signed zeros, round) XLA computes its own
# way; integer and bool work is exact on both paths, except integer pow.
_EXACT_FLOAT = frozenset({"add", "sub", "mul", "truediv", "floordiv", "mod", "fmod", "neg", "pos", "abs",
                          "floor", "ceil", "trunc", "where", "cast", "square", "sqrt",
                          "grad_guard"}) | COMPARISONS | PREDICATES  # grad_guard: the identity
_ADDITIVE = frozenset({"add", "sub"})
_PRODUCTS = frozenset({"mul", "square"})
_DIVISIONS = frozenset({"truediv", "floordiv", "mod", "fmod"})
_REWRITTEN_DIVISORS = frozenset({"truediv", "sqrt", "exp", "pow"})  # XLA's HandleDivide rewrites a / op(.)
FMA = "a float multiply feeds an addition or subtraction, which XLA contracts into a fused multiply-add"
_EXACT_REDUCTIONS = frozenset({"count", "any", "all"})         # and, on integers, every kind
_WHOLE_EXTREMES = frozenset({"max", "min"})                      # exact over the whole array


def xla_inexact(program: Program) -> tuple[Node, str] | None:
    """(node, why) for the first node XLA:CPU may compute with other bits than the plain graph;
    None when the whole program is exact under XLA (probes: docs/performance.md)."""
    product = fma_contraction(program)
    if product is not None:
        return product, FMA
    for n in program.nodes():
        why = _inexact(n)
        if why is not None:
            return n, why
    return None


def plain_nodes(program: Program) -> dict[int, tuple[Node, str]]:
    """Every node XLA:CPU may compute with other bits (id -> (node, why)): what a partly
    compiled program keeps on the plain graph, the rest running in XLA clusters. A multiply
    that XLA would contract into a fused multiply-add is kept out, so its addition, in a
    cluster, reads its rounded result."""
    contracted = {id(a) for a in _contracted(program)}
    out = {}
    for n in program.nodes():
        why = FMA if id(n) in contracted else _inexact(n)
        if why is not None:
            out[id(n)] = (n, why)
    return out


def _floating(node: Node) -> bool:
    return node.dtype is not None and dtype_kind(node.dtype) == "f"


def _inexact(n: Node) -> str | None:
    info = OPS[n.op]
    if n.dtype == "float16" or any(a.dtype == "float16" for a in n.args):
        return "float16 work, which XLA computes in float32 without rounding each step"
    if info.kind == "reduction":
        kind = n.attr("kind")
        if kind in _WHOLE_EXTREMES and n.attr("axis") is None:
            return None  # order-free but for the sign of a zero result, which rt.reduce_max defines
        if kind not in _EXACT_REDUCTIONS and any(_floating(a) for a in n.args[:1]):
            return f"a float {kind}, which XLA accumulates in another order"
        return None
    if info.kind == "scan" and _floating(n):
        return f"a float {n.attr('kind')}, which XLA may accumulate in another order"
    if n.op == "pow" and not _floating(n):
        return "integer pow, which XLA computes modulo the word size differently"
    if n.op == "arange" and _floating(n):
        return "a float arange (start + i * step, which XLA contracts into a fused multiply-add)"
    if info.kind != "elementwise" or not (_floating(n) or any(_floating(a) for a in n.args)):
        return None
    if n.op not in _EXACT_FLOAT:
        return f"{n.op} in floating point, which XLA computes with its own approximation"
    if n.op in _PRODUCTS | _DIVISIONS and any(a.dtype == "bool" or (a.op == "cast" and a.args[0].dtype == "bool")
                                               for a in n.args):
        return "a bool operand of float arithmetic, which XLA rewrites as a selection (signed zeros differ)"
    if n.op == "truediv" and any(a.op in _REWRITTEN_DIVISORS for a in n.args):
        return "a division of or by a division, sqrt, exp or pow, which XLA's simplifier rewrites"
    return None


def _product(node: Node) -> bool:
    while node.op in ("neg", "pos"):
        node = node.args[0]
    return node.op in _PRODUCTS and _floating(node)


def fma_contraction(program: Program) -> Node | None:
    """The first float multiply whose result an addition or subtraction reads (XLA:CPU always
    contracts the two into one fused multiply-add, rounded once), unless the fused form rounds
    the same (`_same_when_fused`)."""
    return next(_contracted(program), None)


def _contracted(program: Program):
    """Each float multiply (or its negation) that XLA would contract with the addition or
    subtraction reading it into a fused multiply-add that rounds otherwise, in program order."""
    for n in program.nodes():
        if n.op in _ADDITIVE and _floating(n):
            for a in n.args:
                if _product(a) and not _same_when_fused(a, [b for b in n.args if b is not a], n.dtype):
                    yield a


def _same_when_fused(product: Node, addends: list, dtype: str) -> bool:
    """x * 2**k (k >= 0) plus a constant c rounds the same fused or not: the product is exact
    unless it overflows, and then x * 2**k + c overflows too while |c| is below half an ulp of
    the dtype's largest value (2**103 in float32). `x * 2 + 1` may go to XLA; `a * b + c` not."""
    while product.op in ("neg", "pos"):
        product = product.args[0]
    if product.op == "square" or len(addends) != 1 or addends[0].op != "const":
        return False
    info = np.finfo(dtype)
    bound = 2.0 ** (info.maxexp - info.nmant - 2)   # half the spacing below the largest value
    if not abs(float(addends[0].attr("value"))) <= bound:
        return False
    return any(a.op == "const" and _power_of_two(a.attr("value")) for a in product.args)


def _power_of_two(value) -> bool:
    """Whether a literal is +-2**k with k >= 0 (multiplying by it is exact below overflow)."""
    try:
        v = abs(float(value))
    except (TypeError, ValueError):
        return False
    mantissa, _ = math.frexp(v)
    return v >= 1 and math.isfinite(v) and mantissa == 0.5


def chooses_at_run_time(program: Program) -> bool:
    """Whether the plain graph picks a formulation at run time (a tf.cond between a sparse form,
    whose shapes depend on the data, and a dense one), so that the program optimised for XLA,
    which takes the dense form, is another program."""
    return any(n.attr("strategy") == strategies.ADAPTIVE.name for n in program.nodes())


def xla_refusal(program: Program) -> str | None:
    """Why "auto" never runs this program (as optimised for XLA) under XLA, or None if it may,
    once it pays. Run-time checks do not stop it: under XLA they become flags that the call
    tests (maskdsl.tf.runtime.checks_as_flags)."""
    node = data_dependent_shape(program)
    if node is not None:
        return f"line {_line(node)} makes an array whose shape depends on the data"
    found = xla_inexact(program)
    if found is not None:
        return f"line {_line(found[0])}: {found[1]}"
    return None


def _line(node: Node) -> str:
    return str(node.span.line) if node.span is not None else "?"


# ---- when a shape switches ----

class Tiers:
    """Per concrete shape (any hashable key): which form runs the next call, from the times
    recorded so far. Thread-safe; the thresholds come from cost_weights.json ("tiers")."""

    def __init__(self, model: dict | None = None):
        model = cost.model().get("tiers", {}) if model is None else model
        self.compile_s = float(model.get("xla_compile_s", 0.25))
        self.gain = float(model.get("xla_gain", 0.25))
        self.probes = int(model.get("probe_calls", 5))
        self._shapes: dict = {}
        self._lock = threading.Lock()

    def choose(self, key) -> str:
        state = self._shapes.get(key)
        if state is None:
            return PLAIN
        if state["final"] is not None:
            return state["final"]
        if state["probing"]:  # alternate, so that both forms see the same moments of a noisy machine
            return XLA if len(state["probe"][XLA]) <= len(state["probe"][PLAIN]) else PLAIN
        return XLA if state["saved"] >= self.compile_s else PLAIN

    def _state(self, key) -> dict:
        return self._shapes.setdefault(key, {"saved": 0.0, "final": None, "seen": set(), "probing": False,
                                             "probe": {PLAIN: [], XLA: []}})

    def record(self, key, form: str, seconds: float) -> None:
        """The time one call of shape `key` took in `form`. The first call of each form, which
        traces or compiles, is not timed; XLA's starts the probe, in which the two forms take
        turns until each has `probe_calls` timings, and the faster median wins for good."""
        with self._lock:
            state = self._state(key)
            if state["final"] is not None:
                return
            if form not in state["seen"]:
                state["seen"].add(form)
                state["probing"] = state["probing"] or form == XLA
                return
            if not state["probing"]:
                state["saved"] += seconds * self.gain
                return
            probe = state["probe"]
            probe[form].append(seconds)
            if min(len(probe[PLAIN]), len(probe[XLA])) >= self.probes:
                faster = statistics.median(probe[XLA]) < statistics.median(probe[PLAIN])
                state["final"] = XLA if faster else PLAIN

    def give_up(self, key) -> None:
        """XLA failed for this shape: plain from now on."""
        with self._lock:
            self._state(key)["final"] = PLAIN

    def settled(self, key) -> bool:
        state = self._shapes.get(key)
        return state is not None and state["final"] is not None

    def describe(self) -> list[str]:
        """One line per shape seen: its form and why."""
        out = []
        for key, state in list(self._shapes.items()):
            if state["final"] is not None:
                plain, xla = (statistics.median(state["probe"][f]) * 1e3 if state["probe"][f] else float("nan")
                              for f in (PLAIN, XLA))
                out.append(f"{key}: {state['final']} (median {plain:.3g} ms plain, {xla:.3g} ms XLA)")
            elif state["probing"]:
                done = {f: len(state["probe"][f]) for f in (PLAIN, XLA)}
                out.append(f"{key}: probing, XLA against the plain graph ({done[XLA]} and {done[PLAIN]} of "
                           f"{self.probes} timed calls each)")
            else:
                out.append(f"{key}: {self.choose(key)} (XLA would have saved {state['saved']:.3g} s of the "
                           f"{self.compile_s:.3g} s its compile costs)")
        return out
