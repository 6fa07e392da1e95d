"""The optimiser: passes run in the order of PASSES, each a pure function Program -> Program.

`prepare` parses, lowers and binds input types: the starting point of every pass
fixture. `optimize` runs all passes and verifies the IR (after each pass when
MASKDSL_CHECK_IR=1, as in the test suite; once at the end otherwise).

>>> [p.__name__ for p in PASSES]
['infer_types', 'fold_constants', 'simplify_masks', 'merge_updates', 'eliminate_dead_code', 'choose_strategy']
"""

from __future__ import annotations

import os

from ..dtypes import Type
from ..errors import InputError, MaskDSLError
from ..gcpause import paused
from ..ir import Node, Program, rewrite, verify
from ..lower import lower
from ..parser import parse
from .choose_strategy import choose_strategy
from .eliminate_dead_code import eliminate_dead_code
from .fold_constants import fold_constants
from .infer_types import infer_types
from .merge_updates import merge_updates
from .simplify_masks import simplify_masks

PASSES = (infer_types, fold_constants, simplify_masks, merge_updates, eliminate_dead_code, choose_strategy)


@paused
def bind(program: Program, types: dict[str, Type]) -> Program:
    """Give the program's input nodes their types (a specialisation of the program)."""
    missing = [n.attr("name") for n in program.inputs if n.attr("name") not in types]
    if missing:
        raise InputError(f"no type for input{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")

    def set_type(node: Node, args) -> Node:
        if node.op == "input":
            t = types[node.attr("name")]
            return node.replace(dtype=t.dtype, shape=tuple(t.shape), weak=False)
        return node.replace(args=args) if args != node.args else node

    return rewrite(program, set_type)


def prepare(source: str, outputs=None, **types) -> Program:
    """Parse, lower and bind `types` (name -> spec string or Type)."""
    program = lower(parse(source), outputs)
    return bind(program, {k: Type.parse(v) for k, v in types.items()})


def check_each_pass() -> bool:
    """Verify the IR after every pass (the test suite sets MASKDSL_CHECK_IR=1)? Otherwise it is
    verified once, after the last pass: per-pass checks were a fifth of a one-line compile.
    Read at each call, so the setting holds whichever module imported maskdsl first."""
    return os.environ.get("MASKDSL_CHECK_IR", "") not in ("", "0")


@paused
def optimize(program: Program, passes=PASSES, check: bool = True, options=None) -> Program:
    """Run the passes in order; with check, verify the IR (after each pass if check_each_pass())."""
    each = check and check_each_pass()
    try:
        for run in passes:
            program = run(program) if run is not choose_strategy or options is None else run(program, **options)
            if each:
                verify(program)
        if check and not each:
            verify(program)
    except MaskDSLError as e:
        raise e.with_source(program.source) from None
    return program
