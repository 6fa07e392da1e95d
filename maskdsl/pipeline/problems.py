"""Every independent problem at once: validation goes on after a mistake, as a compiler does.

A check whose answer does not depend on an earlier one runs even when that one failed,
and each problem is collected (`Problems`). One problem is raised as itself, so callers
that catch `ConfigError` or `ParseError` keep working; several are raised together as a
`PipelineErrors`, whose `errors` lists them (each at its own FILE:LINE:COLUMN, with its
caret) and whose `str()` shows them all. Plain Python: no TensorFlow.

>>> from maskdsl.errors import ConfigError
>>> problems = Problems()
>>> with problems.collecting():
...     raise ConfigError("first", filename="p.yaml")
>>> problems.add(ConfigError("second", filename="p.yaml"))
>>> try:
...     problems.check()
... except PipelineErrors as e:
...     print(e)
p.yaml: ConfigError: first
p.yaml: ConfigError: second
2 errors
"""

from __future__ import annotations

from contextlib import contextmanager

from maskdsl.errors import MaskDSLError

MAX_SHOWN = 50   # a file of garbage should not print ten thousand errors


class PipelineErrors(MaskDSLError):
    """Several independent problems found in one pass; `errors` lists them in file order.

    Its span, name, option and code are the first problem's, so a caller that reads one
    error's fields still reads something true; `str()` shows every problem."""

    kind = "PipelineErrors"

    def __init__(self, errors):
        errors = tuple(errors)
        first = errors[0]
        super().__init__(f"{len(errors)} errors; the first: {first.message}", first.span, source=first.source,
                         hint=first.hint, filename=first.filename, name=first.name, option=first.option,
                         code=first.code)
        self.errors = errors

    def __str__(self) -> str:
        shown = [str(e) for e in self.errors[:MAX_SHOWN]]
        if len(self.errors) > MAX_SHOWN:
            shown.append(f"... and {len(self.errors) - MAX_SHOWN} more")
        return "\n".join(shown + [f"{len(self.errors)} errors"])


def flatten(error: MaskDSLError) -> list[MaskDSLError]:
    return list(error.errors) if isinstance(error, PipelineErrors) else [error]


def combine(errors: list[MaskDSLError]) -> MaskDSLError:
    """One error as itself, several as a PipelineErrors (the same message twice counts once)."""
    unique, seen = [], set()
    for error in errors:
        for e in flatten(error):
            key = str(e)
            if key not in seen:
                seen.add(key)
                unique.append(e)
    return unique[0] if len(unique) == 1 else PipelineErrors(unique)


class Problems:
    """The problems found so far; `check()` raises them (nothing when there are none)."""

    def __init__(self):
        self.errors: list[MaskDSLError] = []

    def add(self, error: MaskDSLError) -> None:
        self.errors.extend(flatten(error))

    def add_all(self, other: Problems) -> None:
        self.errors.extend(other.errors)
        other.errors = []

    @contextmanager
    def collecting(self):
        """Run a check; its MaskDSLError is collected instead of stopping the others."""
        try:
            yield
        except MaskDSLError as e:
            self.add(e)

    def sort_by_position(self, start: int = 0) -> None:
        """Put the problems found since `start` in file order (those without a position last)."""
        tail = self.errors[start:]
        tail.sort(key=lambda e: (e.span is None, e.span.start if e.span is not None else 0))
        self.errors[start:] = tail

    def __bool__(self) -> bool:
        return bool(self.errors)

    def __len__(self) -> int:
        return len(self.errors)

    def check(self) -> None:
        if self.errors:
            raise combine(self.errors)
