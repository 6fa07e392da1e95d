"""Fuzzing (issue 6): programs drawn from the grammar itself, and valid programs with
tokens deleted, duplicated, swapped or replaced, either compile or raise a MaskDSLError;
never another exception, never a hang.

Each example runs the front end (parse, lower, type with a random signature, every pass,
TensorFlow source generation, the NumPy reference evaluator) under a hard time limit;
a few compile and run in TensorFlow. The generator, the mutations and the random
signatures and inputs are maskdsl/testing/programs.py's; the long campaign is tools/fuzz.py.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import lark
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

import maskdsl
from maskdsl.language.functions import FUNCTIONS
from maskdsl.language.parser import grammar_text
from maskdsl.testing import programs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import fuzz  # noqa: E402  (tools/fuzz.py: the checked front end)

EXAMPLES = int(os.environ.get("MASKDSL_FUZZ_EXAMPLES", 150))
SECONDS_PER_EXAMPLE = 10


@contextmanager
def time_limit(seconds: float):
    """A hard per-example deadline: a hang fails the test instead of stalling it."""
    def expire(signum, frame):
        raise TimeoutError(f"one input took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(text: str, seed: int) -> str:
    with time_limit(SECONDS_PER_EXAMPLE):
        return fuzz.front_end(text, random.Random(seed))  # raises anything but a MaskDSLError


@pytest.fixture(scope="module", autouse=True)
def warm_up():
    from maskdsl.tf import codegen  # noqa: F401  (TensorFlow's import is not an input's time)
    check("x[x > 4] *= 2", 0)


# Besides programs.Generator (hand-written to follow the grammar), Hypothesis derives programs
# from the grammar file itself, so a rule added to the grammar is fuzzed at once.
# The grammar's own terminals, with names from a small pool (so programs reuse variables
# and call real functions) and mostly plain whitespace.
NAMES = st.sampled_from(["x", "y", "m", "i", "v", "z", "_t", *sorted(FUNCTIONS), "foo", "eval", "tf", "t1", "x_1"])
GRAMMAR = from_lark(
    lark.Lark(grammar_text(), parser="lalr", lexer="contextual"),
    explicit={
        "NAME": NAMES,
        "WS": st.sampled_from([" ", " ", " ", "\t", "  "]),
        "_NL": st.sampled_from(["\n", "\r\n", "\n\n"]),
        "COMMENT": st.sampled_from(["", "", "", "# c"]),
        "INT": st.sampled_from(["0", "1", "2", "3", "5", "10", "127", "128", "255", "-1", "1_000", "00",
                                "9223372036854775807", "99999999999999999999"]).map(lambda t: t.lstrip("-")),
        "FLOAT": st.sampled_from(["0.5", "1.5", ".5", "5.", "1e3", "1e-3", "2.5e1", "1e308", "1.8e308", "1e-400"]),
    },
)


# from_lark gives up on most draws (the grammar's twelve precedence layers reach Hypothesis's
# depth limit), so each valid example costs ~0.1 s: fewer of them here.
@settings(max_examples=EXAMPLES // 3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(GRAMMAR, st.integers(0, 2**32))
def test_programs_from_the_grammar(text, seed):
    outcome = check(text, seed)
    assert outcome == "ok" or outcome.endswith("Error")


MUTATIONS = st.lists(st.tuples(st.sampled_from(programs.EDITS), st.integers(0, 200), st.integers(0, 200),
                               st.sampled_from(programs.EXTRA_TOKENS)), min_size=1, max_size=4)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.sampled_from(programs.SEEDS), MUTATIONS, st.integers(0, 2**32))
def test_mutated_programs(seed_program, mutations, seed):
    outcome = check(programs.apply_edits(seed_program, mutations), seed)
    assert outcome == "ok" or outcome.endswith("Error")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.integers(0, 2**48))
def test_generated_and_mutated_programs(seed):
    rng = random.Random(seed)
    text = programs.make_input(rng, programs.Generator(rng))
    outcome = check(text, seed)
    assert outcome == "ok" or outcome.endswith("Error")


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.integers(0, 2**48))
def test_a_sample_compiles_and_runs_in_tensorflow(seed):
    """The whole way: what the front end accepts, TensorFlow runs (or a MaskDSLError says why not)."""
    rng = random.Random(seed)
    gen = programs.Generator(rng)
    for _ in range(50):  # the first generated program that gets through the front end
        text = gen.program()
        try:
            program = maskdsl.compile(text)
        except maskdsl.MaskDSLError:
            continue
        signature = programs.random_signature(rng, program.inputs)
        try:
            with time_limit(60):
                f = maskdsl.compile(text, signature=signature)
        except maskdsl.MaskDSLError:
            continue
        from maskdsl.ir.dtypes import Type
        from maskdsl.ir.bind import bind
        inputs = programs.random_inputs(rng, bind(f._program, {k: Type.parse(v) for k, v in signature.items()}))
        try:
            with time_limit(60):
                result = f(**inputs)
        except maskdsl.MaskDSLError:
            return
        for value in (result.values() if isinstance(result, dict) else [result]):
            np.asarray(value)
        return
