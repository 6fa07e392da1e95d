"""The one place maskdsl executes Python: source it generated itself, never user text.

The code generator's TensorFlow functions (tf/codegen.py) and the oracle's NumPy renderings
(testing/programs.py) are printed from IR and parsed values; names in them are generated
and literals printed from values. They run here, without builtins.

>>> env = {"a": 2}
>>> run_generated("b = a * 3", {}, env, "<example>")
>>> env["b"]
6
"""

from __future__ import annotations


def run_generated(source: str, globals_: dict, locals_: dict | None, filename: str) -> None:
    """Execute `source` with `globals_` (given no builtins) and, if given, `locals_`, which
    receive what it assigns."""
    globals_["__builtins__"] = {}
    exec(compile(source, filename, "exec"), globals_, globals_ if locals_ is None else locals_)
