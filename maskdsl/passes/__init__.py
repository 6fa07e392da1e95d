"""The optimiser: passes run in the order of PASSES, each a pure function Program -> Program.

`optimize` runs all passes and verifies the IR (after each pass when
MASKDSL_CHECK_IR=1, as in the test suite; once at the end otherwise). Options reach a
pass by its signature, as sqlglot hands options to its rules: `choose_strategy` takes
`strategy=`, so `optimize(program, options={"strategy": "scatter"})` gives it that one.

>>> [p.__name__ for p in PASSES]
['infer_types', 'fold_constants', 'simplify_masks', 'merge_updates', 'eliminate_dead_code', 'choose_strategy']
"""

from __future__ import annotations

import inspect
import os
from functools import cache

from maskdsl.errors import MaskDSLError
from maskdsl.gcpause import paused
from maskdsl.ir.nodes import Program, verify
from maskdsl.passes.choose_strategy import choose_strategy
from maskdsl.passes.eliminate_dead_code import eliminate_dead_code
from maskdsl.passes.fold_constants import fold_constants
from maskdsl.passes.infer_types import infer_types
from maskdsl.passes.merge_updates import merge_updates
from maskdsl.passes.simplify_masks import simplify_masks
from maskdsl.passes.strategies import verify_strategies

PASSES = (infer_types, fold_constants, simplify_masks, merge_updates, eliminate_dead_code, choose_strategy)


def check_each_pass() -> bool:
    """Verify the IR after every pass (the test suite sets MASKDSL_CHECK_IR=1)? Otherwise it is
    verified once, after the last pass: per-pass checks were a fifth of a one-line compile.
    Read at each call, so the setting holds whichever module imported maskdsl first."""
    return os.environ.get("MASKDSL_CHECK_IR", "") not in ("", "0")


@cache
def accepted_options(run) -> frozenset[str]:
    """The keyword options a pass takes: every parameter after the program."""
    return frozenset(list(inspect.signature(run).parameters)[1:])


@paused
def optimize(program: Program, passes=PASSES, check: bool = True, options=None) -> Program:
    """Run the passes in order, each with the `options` its signature names; with check,
    verify the IR (after each pass if check_each_pass())."""
    options = options or {}
    unknown = set(options).difference(*(accepted_options(run) for run in passes))
    if unknown:
        raise TypeError(f"no pass takes the option{'s' if len(unknown) > 1 else ''} {', '.join(sorted(unknown))}")
    each = check and check_each_pass()
    try:
        for run in passes:
            wanted = accepted_options(run)
            program = run(program, **{k: v for k, v in options.items() if k in wanted}) if wanted else run(program)
            if each:
                verify(program)
        if check and not each:
            verify(program)
        if check and choose_strategy in passes:
            verify_strategies(program)
    except MaskDSLError as e:
        raise e.with_source(program.source) from None
    return program
