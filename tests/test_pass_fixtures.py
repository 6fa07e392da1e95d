"""One fixture file per pass: each case runs that pass alone, on the program as type
inference leaves it, so a failing case names the pass at fault. Adding a case is adding
a few lines of text.

Format of tests/fixtures/passes/<pass>.txt (a case starts at its `# title:` line):

    # title: a cheap update is a dense where
    # types: x=int32[10]; m=bool[10]
    # options: strategy=scatter
    x[m] *= 2
    =>
    x1 = update(x0, m0, ...)
    return x=x1

`types` and `options` may be left out; options are the pass's keyword arguments
(`optimize` hands each pass those its signature names), written NAME=VALUE with Python
literals (`xla=True`) or bare words (`strategy=scatter`). With MASKDSL_UPDATE_FIXTURES=1
the expected IR is rewritten from what the pass gives (review the diff).
"""

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from maskdsl.ir.nodes import format_program, verify
from maskdsl.language import prepare
from maskdsl.passes import PASSES, infer_types, optimize

pytestmark = pytest.mark.frontend  # TensorFlow-free: part of `make test-fast`

FIXTURES = Path(__file__).parent / "fixtures" / "passes"


@dataclass
class Case:
    title: str
    line: int                      # where the case starts in its file
    types: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    source: list = field(default_factory=list)
    expected: list = field(default_factory=list)
    in_expected: bool = False


def _pairs(text: str, literal: bool) -> dict:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, value = part.partition("=")
        if literal:
            try:
                value = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError):
                value = value.strip()
        out[name.strip()] = value.strip() if isinstance(value, str) else value
    return out


def read_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("# title:"):
            cases.append(Case(line[len("# title:"):].strip(), number))
        elif not cases:
            assert not line.strip(), f"{path.name}:{number}: text before the first '# title:'"
        elif line.startswith("# types:"):
            cases[-1].types = _pairs(line[len("# types:"):], literal=False)
        elif line.startswith("# options:"):
            cases[-1].options = _pairs(line[len("# options:"):], literal=True)
        elif line.strip() == "=>":
            cases[-1].in_expected = True
        else:
            (cases[-1].expected if cases[-1].in_expected else cases[-1].source).append(line)
    return cases


def run_alone(run, case: Case):
    """The pass `run` alone (with the case's options) on the type-inferred program."""
    program = prepare("\n".join(case.source).strip(), **case.types)
    typed = optimize(program, (infer_types,))
    return typed if run is infer_types else optimize(typed, (run,), options=case.options)


def all_cases():
    for run in PASSES:
        for case in read_cases(FIXTURES / f"{run.__name__}.txt"):
            yield pytest.param(run, case, id=f"{run.__name__}: {case.title}")


def test_every_pass_has_fixtures():
    for run in PASSES:
        cases = read_cases(FIXTURES / f"{run.__name__}.txt")
        assert len(cases) >= 3, run.__name__
        assert len({c.title for c in cases}) == len(cases), f"{run.__name__}: two cases share a title"


@pytest.mark.parametrize("run, case", list(all_cases()))
def test_fixture(run, case):
    program = run_alone(run, case)
    verify(program)
    got = format_program(program)
    if os.environ.get("MASKDSL_UPDATE_FIXTURES"):
        _rewrite(run, case, got)
    assert got == "\n".join(case.expected).strip(), \
        f"{run.__name__}.txt:{case.line} ({case.title}): the pass gives\n{got}"


def _rewrite(run, case: Case, got: str) -> None:
    path = FIXTURES / f"{run.__name__}.txt"
    lines = path.read_text().splitlines()
    start = lines.index("=>", case.line) + 1
    end = start + len(case.expected)
    while end > start and not lines[end - 1].strip():
        end -= 1
    path.write_text("\n".join(lines[:start] + got.split("\n") + lines[end:]) + "\n")
