"""Generate the parts of docs/ that come from the code, so they cannot drift from it.

    .venv/bin/python tools/gen_api_docs.py           # rewrite docs/api.md and the tables in docs/language.md
    .venv/bin/python tools/gen_api_docs.py --check   # exit 1 if either is stale (what tests/test_docs.py checks)

- docs/api.md: the Python API reference, rendered from the docstrings of maskdsl.compile,
  maskdsl.evaluate, CompiledProgram, Pipeline, MaskLayer and the error classes.
  Doctest examples become ```pycon blocks (pytest runs them as doctests already).
- docs/language.md: the table of built-in functions between the markers
  `<!-- generated: functions -->` and `<!-- end generated: functions -->`, from
  maskdsl.language.functions.FUNCTIONS, and the table of limits (`generated: limits`) from
  maskdsl/limits.py.

Instance attributes (set in __init__) cannot carry docstrings; their one-line
descriptions are the ATTRIBUTES table below. Methods without a docstring are listed
with their signature only, and named on stderr when the script runs.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api.md"
LANGUAGE = ROOT / "docs" / "language.md"

ATTRIBUTES = {
    "CompiledProgram": [
        ("inputs", "tuple of the names the program reads before assigning them, in order of first use"),
        ("outputs", "tuple of the output names: `('result',)` for a final expression statement, else the "
                    "assigned names not starting with `_`, or the `outputs=` given to compile()"),
        ("signature", "the parsed `signature=` (name -> Type), or None"),
        ("strategy", "the `strategy=` given to compile()"),
        ("jit_compile", "the `jit_compile=` given to compile(): `'auto'`, True or False"),
        ("source_text", "the program text"),
    ],
    "Pipeline": [
        ("name", "the file's `name:`, or None"),
        ("inputs", "tuple of the declared input names, in declared order"),
        ("input_types", "dict name -> Type of the declared inputs"),
        ("constants", "dict name -> number of the constants (after overrides)"),
        ("outputs", "tuple of the output names, in declared order"),
        ("options", "dict of the file's `options:`"),
        ("program", "the CompiledProgram of the joined steps"),
        ("config", "the validated PipelineConfig (steps, source map, the document)"),
    ],
    "MaskLayer": [
        ("input_names", "names the layer's inputs map to (the program's inputs minus those fixed)"),
        ("output_names", "names of the program's outputs"),
    ],
    "MaskDSLError": [
        ("message", "the message without location or caret"),
        ("span", "the Span (start, end, line, column) of the source the error points at, or None"),
        ("source", "the program text (or pipeline file) the span points into, or None"),
        ("hint", "a suggestion (`did you mean ...?`), or None"),
        ("filename", "the file the source came from, or None"),
        ("name", "the input, variable, function or key the error is about, or None"),
        ("option", "the option the error is about (`jit_compile`, `strategy`, `signature`, ...), or None"),
        ("code", "what went wrong, a short stable word for programs to test (`not-in-signature`, "
                 "`value-lost`, ...), or None"),
        ("places", "other positions the message names (`{'opened': Span}` for an unclosed bracket)"),
        ("template", "the message with `{place}` fields where positions go"),
    ],
}

UNDOCUMENTED: list[str] = []


# ---- rendering docstrings ----

def docstring_markdown(doc: str | None) -> str:
    """A docstring as Markdown: doctest examples become ```pycon blocks, the rest is kept."""
    if not doc:
        return ""
    lines = inspect.cleandoc(doc).split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i].lstrip().startswith(">>> "):
            indent = len(lines[i]) - len(lines[i].lstrip())
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][indent:])
                i += 1
            if out and out[-1].strip():
                out.append("")
            out += ["```pycon", *block, "```"]
            if i < len(lines):
                out.append("")
            continue
        out.append(lines[i].rstrip())
        i += 1
    return "\n".join(out).strip()


def signature_text(obj, name: str, drop_self: bool = False) -> str:
    """`name(a, b=1, *, c=None)`: the signature without annotations (they are strings here)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    params = list(sig.parameters.values())
    if drop_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    params = [p.replace(annotation=inspect.Parameter.empty) for p in params]
    return f"{name}{sig.replace(parameters=params, return_annotation=inspect.Signature.empty)}"


def _member_kind(member) -> str | None:
    if isinstance(member, property) or type(member).__name__ == "cached_property":
        return "property"
    if isinstance(member, classmethod):
        return "classmethod"
    if inspect.isfunction(member):
        return "method"
    return None


def class_markdown(cls, title: str, call_name: str, members: list[str]) -> str:
    """A class: its signature, docstring, attributes, then each listed member."""
    parts = [f"### `{title}`", "", f"`{signature_text(cls.__init__, title, drop_self=True)}`", ""]
    doc = docstring_markdown(cls.__doc__)
    if doc:
        parts += [doc, ""]
    attributes = ATTRIBUTES.get(cls.__name__, [])
    if attributes:
        parts += ["| attribute | holds |", "| --- | --- |"]
        parts += [f"| `{name}` | {text} |" for name, text in attributes]
        parts.append("")
    for name in members:
        member = inspect.getattr_static(cls, name)
        kind = _member_kind(member)
        function = member.fget if isinstance(member, property) else getattr(member, "func", None) or \
            getattr(member, "__func__", None) or member
        if kind == "property":
            heading = f"`{call_name}.{name}`"
        elif name == "__call__":
            heading = f"`{signature_text(function, call_name, drop_self=True)}`"
        else:
            prefix = cls.__name__ if kind == "classmethod" else call_name
            heading = f"`{signature_text(function, f'{prefix}.{name}', drop_self=True)}`"
        parts += [f"#### {heading}", ""]
        text = docstring_markdown(function.__doc__)
        if kind in ("property", "classmethod"):
            parts += [f"*{kind}*" + (f". {text}" if text and not text.startswith("```") else ""), ""]
            if text.startswith("```"):
                parts += [text, ""]
        elif text:
            parts += [text, ""]
        if not text:
            UNDOCUMENTED.append(f"{cls.__name__}.{name}")
    return "\n".join(parts)


def function_markdown(fn, title: str) -> str:
    return "\n".join([f"### `{title}`", "", f"`{signature_text(fn, title)}`", "", docstring_markdown(fn.__doc__), ""])


def errors_markdown() -> str:
    import maskdsl
    from maskdsl.errors import ERROR_CLASSES, MaskDSLError

    parts = ["## Errors", "", docstring_markdown(sys.modules["maskdsl.errors"].__doc__), "",
             class_markdown(MaskDSLError, "maskdsl.MaskDSLError", "error",
                            ["line", "column", "relocated", "with_source", "location", "caret_lines"]),
             "### Subclasses", "",
             "Every class is importable from `maskdsl`; **kind** is the name messages show.", "",
             "| class | kind | raised for |", "| --- | --- | --- |"]
    for cls in ERROR_CLASSES:
        assert getattr(maskdsl, cls.__name__) is cls
        parts.append(f"| `maskdsl.{cls.__name__}` | `{cls.kind}` | {inspect.getdoc(cls)} |")
    parts.append("")
    from maskdsl.pipeline.pipeline import PipelineWarning
    parts += [f"`maskdsl.pipeline.PipelineWarning` (a `UserWarning`, not an error): {inspect.getdoc(PipelineWarning)}",
              ""]
    return "\n".join(parts)


def api_markdown() -> str:
    """The whole of docs/api.md."""
    import maskdsl
    from maskdsl import compiler, keras as mkeras
    from maskdsl.pipeline import pipeline
    from maskdsl.keras import MaskLayer
    from maskdsl.pipeline.pipeline import Pipeline

    UNDOCUMENTED.clear()
    sections = [
        "# Python API reference",
        "",
        "<!-- Generated by tools/gen_api_docs.py from the docstrings: edit those and run "
        "`.venv/bin/python tools/gen_api_docs.py`. tests/test_docs.py fails when this file is stale. -->",
        "",
        docstring_markdown(maskdsl.__doc__),
        "",
        "Contents: [compile](#maskdslcompile) · [evaluate](#maskdslevaluate) · "
        "[CompiledProgram](#maskdslcompiledprogram) · [Pipeline](#maskdslpipeline) · "
        "[MaskLayer](#maskdslkerasmasklayer) · [Errors](#errors). The language itself is in "
        "[language.md](language.md); a guided tour in [tutorial.md](tutorial.md).",
        "",
        "## Compiling and running",
        "",
        docstring_markdown(compiler.__doc__),
        "",
        function_markdown(maskdsl.compile, "maskdsl.compile"),
        "What the options do: [language.md, Compile options](language.md#compile-options); "
        "which inputs and outputs a program has: [language.md, Programs](language.md#programs).",
        "",
        function_markdown(maskdsl.evaluate, "maskdsl.evaluate"),
        class_markdown(maskdsl.CompiledProgram, "maskdsl.CompiledProgram", "f",
                       ["__call__", "source", "explain", "tf_function", "get_concrete_function", "jit",
                        "static_shapes", "typed_program", "with_signature", "translate_error"]),
        "## Pipelines",
        "",
        docstring_markdown(pipeline.__doc__),
        "",
        class_markdown(Pipeline, "maskdsl.Pipeline", "pipeline",
                       ["from_yaml", "from_dict", "__call__", "tf_function", "map_fn", "make_map_fn", "run_tensors",
                        "with_constants", "to_dict", "explain", "row_inputs", "layout", "row_wise", "row_wise_reason",
                        "runtime_error"]),
        "## Keras",
        "",
        docstring_markdown(mkeras.__doc__),
        "",
        class_markdown(MaskLayer, "maskdsl.keras.MaskLayer", "layer", ["call", "get_config", "from_config"]),
        errors_markdown(),
    ]
    text = "\n".join(sections)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.rstrip() + "\n"


# ---- the table of built-in functions ----

KINDS = [
    ("elementwise", "Element-wise (NumPy broadcasting; result dtype as NumPy 2 gives it)"),
    ("isclose", None),
    ("nan_to_num", None),
    ("reduce", "Reductions (`axis=` an integer or a tuple of integers, constant; `keepdims=` True or False)"),
    ("cumulative", "Cumulative (`axis=` one integer, constant; without it, of the flattened array)"),
    ("cast", "Casts (`float32(x)` is `x.astype(np.float32)`: NumPy's unsafe cast)"),
    ("arange", "Constructors"),
    ("fill", None),
    ("shape", "Shapes"),
    ("size", None),
    ("ndim", None),
    ("len", None),
    ("reshape", None),
    ("transpose", None),
    ("copy", None),
    ("nonzero", "Selections and order statistics (see [below](#selections-and-order-statistics))"),
    ("argwhere", None),
    ("isin", None),
    ("select_case", None),
    ("sort", None),
    ("unique", None),
    ("quantile", None),
]


def _call_and_summary(fn) -> tuple[str, str]:
    """(how to call it, what it does): a summary that starts with the call ("where(c, a, b): ...")
    gives both; otherwise the call is written from the arity."""
    summary = fn.summary or ""
    if summary.startswith(f"{fn.name}("):
        call, _, does = summary.partition(": ")
        return call, does
    if fn.op == "reduce":
        return f"{fn.name}(x[, axis], keepdims=False)", summary
    args = {1: "x", 2: "a, b", 3: "a, b, c"}[fn.max_args] if fn.op != "fill" else "shape"
    return f"{fn.name}({args})", summary


def functions_markdown() -> str:
    """The table of maskdsl.language.functions.FUNCTIONS, grouped by how they lower."""
    from maskdsl.ir.ops import OPS
    from maskdsl.language.functions import FUNCTIONS

    def group(fn) -> str:  # an op defined by a NumPy function (and its dtype) is element-wise; others by their op
        return "elementwise" if fn.op in OPS and OPS[fn.op].numpy is not None and OPS[fn.op].dtype == "promote" \
            else fn.op

    rows = ["| function | does | lowers to |", "| --- | --- | --- |"]
    for kind, title in KINDS:
        fns = [fn for fn in FUNCTIONS.values() if group(fn) == kind]
        if title:
            rows.append(f"| **{title}** | | |")
        for fn in fns:
            lowering = {"elementwise": f"IR op `{fn.op}`", "reduce": f"`reduce`, kind `{fn.variant}`",
                        "cast": f"`cast` to `{fn.variant}`", "cumulative": f"IR op `cumulative`, kind `{fn.variant}`",
                        "isclose": "NumPy's formula in element-wise ops"}.get(kind, f"IR op `{kind}`")
            call, does = _call_and_summary(fn)
            calls = " or ".join(f"`{c}`" for c in call.split(" or "))
            rows.append(f"| {calls} | {does.replace('|', '&#124;')} | {lowering} |")
    missing = [fn.name for fn in FUNCTIONS.values() if group(fn) not in dict(KINDS)]
    assert not missing, f"functions of no table group: {missing}"
    return "\n".join(rows) + "\n\n" + methods_markdown()


def methods_markdown() -> str:
    """The table of maskdsl.language.functions.METHODS: each method or attribute and its function."""
    from maskdsl.language.functions import METHODS
    rows = ["| method or attribute | is |", "| --- | --- |"]
    for m in METHODS.values():
        spelt = f"`x.{m.name}`" if m.attribute else f"`x.{m.name}(...)`"
        rows.append(f"| {spelt} | `{m.function}(x{'' if m.attribute else ', ...'})` |")
    return "\n".join(rows)


# ---- the table of limits ----

NOT_LIMITS = {"MAX_FOLDED_ELEMENTS"}   # a bound on an optimisation, not on programs: never an error


def _limit_value(value: int) -> str:
    for bits in (31, 63):
        if value == 2**bits - 1:
            return f"2**{bits} - 1"
    return f"{value:,}"


def limits_markdown() -> str:
    """The table of maskdsl/limits.py: each constant with the comment beside it."""
    from maskdsl import limits

    comments: dict[str, str] = {}
    name = None
    for line in Path(limits.__file__).read_text(encoding="utf-8").split("\n"):
        constant = re.match(r"([A-Z_]+)\s*=.*?#\s*(.*)$", line)
        more = re.match(r"\s+#\s*(.*)$", line)
        if constant:
            name = constant.group(1)
            comments[name] = constant.group(2).strip()
        elif more and name:
            comments[name] += " " + more.group(1).strip()   # a comment continued on the next line
        else:
            name = None
    rows = ["| limit | value | constant |", "| --- | ---: | --- |"]
    for name, comment in comments.items():
        if name not in NOT_LIMITS:
            rows.append(f"| {comment.replace('|', '&#124;')} | {_limit_value(getattr(limits, name))} | `{name}` |")
    return "\n".join(rows)


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"


def generated_part(text: str, name: str) -> str:
    start, end = _markers(name)
    return text.split(start, 1)[1].split(end, 1)[0]


def replace_generated(text: str, name: str, content: str) -> str:
    start, end = _markers(name)
    if start not in text or end not in text:
        raise SystemExit(f"markers {start} ... {end} not found")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{content}\n{end}{after}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are up to date")
    args = parser.parse_args(argv)
    api = api_markdown()
    language = LANGUAGE.read_text(encoding="utf-8")
    new_language = replace_generated(language, "functions", functions_markdown())
    new_language = replace_generated(new_language, "limits", limits_markdown())
    stale = [path for path, old, new in ((API, API.read_text(encoding="utf-8") if API.exists() else "", api),
                                         (LANGUAGE, language, new_language)) if old != new]
    if UNDOCUMENTED:
        print(f"members without a docstring: {', '.join(UNDOCUMENTED)}", file=sys.stderr)
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale", file=sys.stderr)
        return 1 if stale else 0
    API.write_text(api, encoding="utf-8")
    LANGUAGE.write_text(new_language, encoding="utf-8")
    for path in stale:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
