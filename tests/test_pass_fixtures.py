"""One fixture file per pass: a program (with input types), then the IR expected after
the passes up to and including that one. Adding a case is adding a few lines of text.

Format of tests/fixtures/passes/<pass>.txt:

    -- x=int32[10]; m=bool[10]
    x[m] *= 2
    =>
    x1 = update(x0, m0, ...)
    return x=x1
"""

from pathlib import Path

import pytest

from maskdsl.ir.nodes import format_program, verify
from maskdsl.language import prepare
from maskdsl.passes import PASSES, optimize

pytestmark = pytest.mark.frontend  # TensorFlow-free: part of `make test-fast`

FIXTURES = Path(__file__).parent / "fixtures" / "passes"


def read_cases(path: Path):
    cases, block = [], None
    for line in path.read_text().splitlines():
        if line.startswith("-- "):
            block = {"types": line[3:].strip(), "source": [], "expected": [], "in_expected": False}
            cases.append(block)
        elif block is not None and line.strip() == "=>":
            block["in_expected"] = True
        elif block is not None:
            block["expected" if block["in_expected"] else "source"].append(line)
    out = []
    for b in cases:
        types = dict(part.split("=", 1) for part in b["types"].split("; ") if part)
        out.append((types, "\n".join(b["source"]).strip(), "\n".join(b["expected"]).strip()))
    return out


def all_cases():
    for run in PASSES:
        path = FIXTURES / f"{run.__name__}.txt"
        for i, case in enumerate(read_cases(path)):
            yield pytest.param(run, *case, id=f"{run.__name__}-{i}")


def test_every_pass_has_fixtures():
    for run in PASSES:
        assert len(read_cases(FIXTURES / f"{run.__name__}.txt")) >= 3, run.__name__


@pytest.mark.parametrize("run, types, source, expected", list(all_cases()))
def test_fixture(run, types, source, expected):
    upto = PASSES[:PASSES.index(run) + 1]
    program = optimize(prepare(source, **types), upto)
    verify(program)
    assert format_program(program) == expected
