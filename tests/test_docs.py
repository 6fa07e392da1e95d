"""The examples in README.md and docs/*.md run, so the documentation cannot rot.

Fenced code blocks are read by their info string (the word after the opening fence):

- ```python: run in order, in one namespace per file, with the repository root as the
  working directory. ```python no-run is only compiled: for the rare example that
  cannot run here (one that needs a cluster, say).
- ```<any language> output, right after a python block: exactly what that block
  prints (each line's trailing spaces and the final blank lines aside).
- ```maskdsl-repl: a REPL transcript. A line starting with the REPL's prompt `mdsl> `
  (or `>>> `) is input; lines starting with `... ` continue it. The lines up to the
  next prompt are what the REPL prints, exactly: the value of the line, or the error
  as str(error). Each block is one fresh maskdsl.cli.session.Session.
- ```maskdsl: a program that must compile. `name=spec` words after the language give
  a signature (```maskdsl x=float32[None] t=float32), so types and shapes are checked too.
- ```yaml with a `steps:` key: a pipeline that must load (maskdsl.Pipeline.from_yaml).

Also checked: relative links and their #anchors resolve; docs/api.md and the tables of
built-in functions and limits in docs/language.md are what tools/gen_api_docs.py
generates; and docs/internals.md has a section for every pass in PASSES.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROMPTS = ("mdsl> ", ">>> ")
CONTINUATION = "... "


@dataclass
class Block:
    path: Path
    line: int            # 1-based line of the opening fence
    language: str
    options: list[str]
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


def _closes(line: str, fence: str) -> bool:
    """A closing fence: only the fence character, at least as many as opened the block."""
    text = line.strip()
    return text.startswith(fence) and text == fence[0] * len(text)


def read_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with their info strings."""
    blocks, lines, i = [], path.read_text(encoding="utf-8").split("\n"), 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group("indent")), m.group("fence"), m.group("info").split()
        body, j = [], i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        blocks.append(Block(path, i + 1, info[0] if info else "", info[1:], "\n".join(body)))
        i = j + 1
    return blocks


def _same_text(actual: str, expected: str) -> bool:
    def norm(s):
        return "\n".join(line.rstrip() for line in s.rstrip().split("\n"))
    return norm(actual) == norm(expected)


def _show(actual: str, expected: str) -> str:
    import difflib
    diff = difflib.unified_diff(expected.rstrip().split("\n"), actual.rstrip().split("\n"), "documented", "actual",
                                lineterm="")
    return "\n".join(diff)


# ---- python blocks (and their output blocks) ----

def python_files():
    return [p for p in DOCS if any(b.language == "python" for b in read_blocks(p))]


def run_python_blocks(path: Path):
    """Run the python blocks of `path` in order, in one namespace (the working directory
    must be ROOT); yield (block, what it printed, the output block after it or None).
    no-run blocks are only compiled. Also used by tools/refresh_doc_outputs.py."""
    namespace = {"__name__": "__docs__"}
    blocks = read_blocks(path)
    for i, block in enumerate(blocks):
        if block.language != "python" or "output" in block.options:
            continue
        code = compile(block.text, block.where, "exec")
        if "no-run" in block.options:
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(code, namespace)  # the documentation's own examples
            except Exception as e:
                raise AssertionError(f"{block.where}: the example raised {type(e).__name__}: {e}") from e
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        yield block, out.getvalue(), following if following is not None and "output" in following.options else None


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for block, printed, shown in run_python_blocks(path):
        if shown is not None:
            assert _same_text(printed, shown.text), (
                f"{shown.where}: the output shown is not what {block.where} prints:\n" + _show(printed, shown.text))


def test_output_blocks_follow_python_blocks():
    for path in DOCS:
        blocks = read_blocks(path)
        for i, block in enumerate(blocks):
            if "output" in block.options:
                previous = blocks[i - 1] if i else None
                assert previous is not None and previous.language == "python" and "output" not in previous.options \
                    and "no-run" not in previous.options, f"{block.where}: an output block must follow a python block"


# ---- REPL transcripts ----

def repl_blocks():
    return [b for p in DOCS for b in read_blocks(p) if b.language == "maskdsl-repl"]


def parse_transcript(text: str) -> list[tuple[str, str]]:
    """[(input, expected output)] of a transcript."""
    steps = []
    for line in text.split("\n"):
        prompt = next((p for p in PROMPTS if line.startswith(p) or line == p.rstrip()), None)
        if prompt is not None:
            steps.append([line[len(prompt):], []])
        elif steps and not steps[-1][1] and line.startswith(CONTINUATION):
            steps[-1][0] += "\n" + line[len(CONTINUATION):]
        elif steps:
            steps[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"transcript text before the first prompt: {line!r}")
    return [(text, "\n".join(out)) for text, out in steps]


@pytest.mark.parametrize("block", repl_blocks(), ids=lambda b: b.where)
def test_repl_transcripts(block, monkeypatch):
    import maskdsl
    from maskdsl.cli.session import Session

    monkeypatch.chdir(ROOT)
    session = Session()
    steps = parse_transcript(block.text)
    assert steps, f"{block.where}: an empty transcript"
    for text, expected in steps:
        try:
            actual = session.execute(text)
        except maskdsl.MaskDSLError as e:
            actual = str(e)
        assert _same_text(actual, expected), f"{block.where}: `{text}` prints\n{actual}\n\n" + _show(actual, expected)


# ---- program text and pipelines ----

def maskdsl_blocks():
    return [b for p in DOCS for b in read_blocks(p) if b.language == "maskdsl"]


@pytest.mark.parametrize("block", maskdsl_blocks(), ids=lambda b: b.where)
def test_maskdsl_programs_compile(block):
    import maskdsl

    signature = dict(option.split("=", 1) for option in block.options if "=" in option)
    try:
        maskdsl.compile(block.text, signature=signature or None)
    except maskdsl.MaskDSLError as e:
        raise AssertionError(f"{block.where}: the program does not compile:\n{e}") from None


def pipeline_blocks():
    return [b for p in DOCS for b in read_blocks(p) if b.language == "yaml" and re.search(r"^steps:", b.text, re.M)]


@pytest.mark.parametrize("block", pipeline_blocks(), ids=lambda b: b.where)
def test_yaml_pipelines_load(block):
    import maskdsl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = maskdsl.Pipeline.from_yaml(block.text)
    assert pipeline.outputs


# ---- links ----

def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, counts, in_fence = set(), {}, False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m and not in_fence:
            base = slug(m.group(1))
            n = counts.get(base, 0)
            found.add(base if n == 0 else f"{base}-{n}")
            counts[base] = n + 1
    return found


def links(path: Path):
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for m in re.finditer(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "", line)):
            yield number, m.group(1)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(path):
    broken = []
    for number, target in links(path):
        if re.match(r"[a-z]+:", target):
            continue  # an external address
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.exists():
            broken.append(f"{path.relative_to(ROOT)}:{number}: link to missing {target}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{path.relative_to(ROOT)}:{number}: no heading for #{anchor} in {file or path.name}")
    assert not broken, "\n".join(broken)


# ---- generated parts ----

def _generator():
    spec = importlib.util.spec_from_file_location("gen_api_docs", ROOT / "tools" / "gen_api_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_generated_from_the_docstrings():
    gen = _generator()
    committed = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert committed == gen.api_markdown(), "docs/api.md is stale: run .venv/bin/python tools/gen_api_docs.py"


def test_function_table_lists_every_builtin():
    from maskdsl.language.functions import FUNCTIONS

    gen = _generator()
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    assert gen.replace_generated(text, "functions", gen.functions_markdown()) == text, \
        "the function table in docs/language.md is stale: run .venv/bin/python tools/gen_api_docs.py"
    table = gen.generated_part(text, "functions")
    for name in FUNCTIONS:
        assert f"`{name}" in table, name


def test_limits_table_is_generated():
    gen = _generator()
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    assert gen.replace_generated(text, "limits", gen.limits_markdown()) == text, \
        "the table of limits in docs/language.md is stale: run .venv/bin/python tools/gen_api_docs.py"


def test_internals_describes_every_pass():
    from maskdsl.passes import PASSES

    text = (ROOT / "docs" / "internals.md").read_text(encoding="utf-8")
    headings = re.findall(r"^#{3,4} `(\w+)`", text, re.M)
    assert [h for h in headings if h in {p.__name__ for p in PASSES}] == [p.__name__ for p in PASSES]


# ---- the worked examples of docs/internals.md ----

_PATH = re.compile(r"`((?:maskdsl|tests)/[\w/]+\.(?:py|txt))`")


def apply_hunk(path: Path, hunk: str) -> None:
    """Apply one ```diff block: context (' ') and removed ('-') lines become context and added ('+') lines."""
    old, new = [], []
    for line in hunk.split("\n"):
        mark, text = line[:1], line[1:]
        if mark in (" ", "-"):
            old.append(text)
        if mark in (" ", "+"):
            new.append(text)
    source = path.read_text(encoding="utf-8")
    before = "\n".join(old) + "\n"
    assert source.count(before) == 1, f"{path.name}: the diff's context is not found exactly once:\n{before}"
    path.write_text(source.replace(before, "\n".join(new) + "\n"), encoding="utf-8")


@pytest.mark.slow
def test_worked_examples_apply(tmp_path):
    """Both worked examples, applied to a copy of the package as written, pass their tests."""
    import shutil
    import subprocess
    import sys

    for part in ("maskdsl", "grammar", "tests"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    page = ROOT / "docs" / "internals.md"
    lines = page.read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("## Worked example"))
    previous_end, applied, target = start, 0, None
    for block in read_blocks(page):
        if block.line <= start:
            continue
        mentioned = _PATH.findall("\n".join(lines[previous_end:block.line - 1]))
        previous_end = block.line + block.text.count("\n") + 2
        if mentioned:  # the file a block edits is the last one named before it
            target = tmp_path / mentioned[-1]
        if block.language not in ("diff", "python", "text") or target is None:
            continue
        if block.language == "diff":
            apply_hunk(target, block.text)
        else:
            target.write_text(block.text + "\n", encoding="utf-8")
        applied += 1
    assert applied == 9, applied
    env = dict(os.environ, PYTHONPATH=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_pass_fixtures.py",
                          "maskdsl/passes", "tests/test_differential.py", "tests/test_optimised_reference.py",
                          "tests/test_op_tables.py", "-k", "square or fixture or passes or tables"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "simplify_arithmetic" in (tmp_path / "maskdsl" / "passes" / "__init__.py").read_text()


def test_setup_commands_in_readme():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def test_readme_commands_work_as_typed_after_make_demo():
    """`make demo` installs into .venv without activating it: a command line shown in the README
    runs `.venv/bin/maskdsl`, not a `maskdsl` that is not on PATH."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line.strip() for line in text.split("\n") if line.startswith("    ") and "maskdsl " in line
                and not line.strip().startswith(("#", "--"))]
    assert commands and all(not c.startswith("maskdsl ") for c in commands), commands
    assert ".venv/bin/maskdsl run examples/pipelines/clean_sensors.yaml" in text
