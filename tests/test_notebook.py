"""The IPython extension (maskdsl.cli.notebook), driven through a real IPython shell.

One InteractiveShell serves the whole module (IPython keeps one per process, and
loading TensorFlow once is enough); each test uses variable names of its own. Values
are checked against NumPy doing the same thing. The example notebook and the IPython
transcripts of docs/notebooks.md are run here too.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import maskdsl
from conftest import assert_same

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "notebooks" / "masks.ipynb"
DOC = ROOT / "docs" / "notebooks.md"


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    from traitlets.config import Config

    saved = os.environ.get("IPYTHONDIR")
    os.environ["IPYTHONDIR"] = str(tmp_path_factory.mktemp("ipython"))  # not the user's ~/.ipython
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.colors = "nocolor"
    shell.run_line_magic("load_ext", "maskdsl")
    shell.user_ns["np"] = np
    yield shell
    if saved is None:
        os.environ.pop("IPYTHONDIR", None)
    else:
        os.environ["IPYTHONDIR"] = saved


@dataclass
class Ran:
    result: object
    error: BaseException | None
    stdout: str
    stderr: str
    outputs: list  # the data (mime type -> text) of each display() the cell made

    @property
    def html(self) -> str:
        return "\n".join(o.get("text/html", "") for o in self.outputs)


def run(shell, code: str) -> Ran:
    with capture_output() as captured:
        result = shell.run_cell(code)
    return Ran(result.result, result.error_before_exec or result.error_in_exec, captured.stdout, captured.stderr,
               [o.data for o in captured.outputs])


def text_of(markup: str) -> str:
    """What HTML shows: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def magic_session(shell):
    return shell.find_line_magic("maskdsl").session


# ---- running cells ----

def test_cell_updates_the_namespace_as_numpy_would(shell):
    before = np.arange(10)
    shell.user_ns["a1"] = before
    ran = run(shell, "%%maskdsl\na1[a1 > 4 & a1 % 2 == 0] *= 2")
    assert ran.error is None and ran.result is None and not ran.outputs
    expected = np.arange(10)
    expected[(expected > 4) & (expected % 2 == 0)] *= 2
    assert_same(shell.user_ns["a1"], expected)
    assert_same(before, np.arange(10))  # the name is rebound; the array it held is not written to


def test_final_expression_is_the_result_and_every_assignment_is_written_back(shell):
    a = np.array([3.5, -1.0, 7.25, 4.0, 9.0, np.nan], np.float32)
    shell.user_ns["a2"] = a
    ran = run(shell, "%%maskdsl\n_ok = a2 > 4\ntotal2 = sum(a2[_ok])\nmean(a2[_ok])")
    assert ran.error is None
    ok = a > 4
    assert_same(ran.result, np.mean(a[ok]))
    assert isinstance(ran.result, np.float32)  # a 0-d result is a NumPy scalar, as NumPy's reductions give
    assert_same(shell.user_ns["total2"], np.sum(a[ok]))
    assert_same(shell.user_ns["_ok"], ok)
    assert "]: np.float32(" in ran.stdout  # displayed as the cell's Out


def test_line_magic_returns_its_value_to_python(shell):
    shell.user_ns["a3"] = np.array([[1, -2], [-3, 4]], np.int16)
    ran = run(shell, "b3 = %maskdsl a3[a3 < 0] = 0; a3\nb3 * 10")
    assert ran.error is None
    expected = np.array([[1, 0], [0, 4]], np.int16)
    assert_same(shell.user_ns["b3"], expected)
    assert_same(shell.user_ns["a3"], expected)
    assert_same(ran.result, expected * 10)


def test_inputs_may_be_tensors_variables_lists_and_numbers(shell):
    import tensorflow as tf

    shell.user_ns.update(t4=tf.constant([1.0, 5.0, 9.0]), v4=tf.Variable([2, 8]), l4=[1, 2, 3], k4=4)
    ran = run(shell, "%maskdsl t4[t4 > k4] = k4; w4 = v4 * 2; l4 + k4")
    assert ran.error is None
    assert_same(shell.user_ns["t4"], np.array([1.0, 4.0, 4.0], np.float32))
    assert_same(shell.user_ns["w4"], np.array([4, 16], np.int32))
    assert_same(ran.result, np.array([1, 2, 3]) + 4)  # a list is what np.asarray makes of it: int64


def test_tensors_option_writes_and_returns_tensors(shell):
    import tensorflow as tf

    shell.user_ns["a5"] = np.arange(6)
    ran = run(shell, "%maskdsl --tensors a5[a5 % 3 == 0] = -1; n5 = count(a5 < 0); a5 * 2")
    assert ran.error is None
    assert all(isinstance(v, tf.Tensor) for v in (shell.user_ns["a5"], shell.user_ns["n5"], ran.result))
    expected = np.arange(6)
    expected[expected % 3 == 0] = -1
    assert_same(shell.user_ns["a5"].numpy(), expected)
    assert shell.user_ns["n5"].numpy() == np.count_nonzero(expected < 0)
    assert_same(ran.result.numpy(), expected * 2)


def test_trailing_semicolon_hides_the_result(shell):
    shell.user_ns["a6"] = np.arange(3)
    ran = run(shell, "%maskdsl a6 + 1;")
    assert ran.error is None and ran.result is None and "Out[" not in ran.stdout
    ran = run(shell, "%%maskdsl\n    b6 = a6 * 2\n  b6;  # indented lines, which Python's tokenizer rejects")
    assert ran.error is None and ran.result is None
    assert_same(shell.user_ns["b6"], np.arange(3) * 2)


def test_rerunning_a_cell_does_not_compile_it_again(shell):
    shell.user_ns["a7"] = np.arange(5)
    cell = "%%maskdsl\na7 = a7 + 1\nsum(a7)"
    run(shell, cell)
    programs = list(magic_session(shell)._cache.values())
    ran = run(shell, cell)
    assert list(magic_session(shell)._cache.values()) == programs
    assert ran.result == np.arange(5).sum() + 10


# ---- errors ----

def test_an_error_shows_its_caret_stops_the_cell_and_changes_nothing(shell):
    shell.user_ns["a8"] = np.arange(4)
    ran = run(shell, "%%maskdsl\nb8 = a8 + 1\na8[a8 < ] = 1")
    error = ran.error
    assert isinstance(error, maskdsl.ParseError)
    assert (error.line, error.column) == (3, 9)  # the %%maskdsl line is line 1 of the cell
    assert "b8" not in shell.user_ns and list(shell.user_ns["a8"]) == [0, 1, 2, 3]
    [shown] = ran.outputs
    assert shown["text/plain"] == str(error)
    assert "  a8[a8 &lt; ] = 1\n          ^</pre>" in shown["text/html"]
    assert "a8 < ]" not in shown["text/html"]  # escaped
    assert "Traceback" not in ran.stdout + ran.stderr
    assert "maskdsl stopped the cell: ParseError (shown above)" in ran.stdout


def test_a_run_time_error_points_into_the_cell_as_typed(shell):
    shell.user_ns["a9"] = np.arange(4)
    statements = "b9 = a9 * 2; a9[7]"
    ran = run(shell, f"%maskdsl {statements}")
    assert isinstance(ran.error, maskdsl.IndexOutOfRangeError)
    # The line ran with its final expression named (`_result = a9[7]`); the caret is under the text as typed.
    caret = "  " + " " * statements.index("7") + "^"
    assert ran.outputs[0]["text/plain"].splitlines()[1:] == ["  " + statements, caret]
    assert "b9" not in shell.user_ns


def test_a_missing_input_is_named_with_a_close_suggestion(shell):
    shell.user_ns["values10"] = np.ones(3)
    ran = run(shell, "%maskdsl value10[value10 > 0]")
    assert isinstance(ran.error, maskdsl.UnknownNameError)
    assert "name 'value10' is not defined in the notebook" in ran.error.message
    assert ran.error.hint == "did you mean 'values10'?"
    assert "hint: did you mean &#x27;values10&#x27;?" in ran.html


def test_a_value_that_is_not_an_array_is_an_input_error(shell):
    shell.user_ns.update(s11="text", c11=np.array([1 + 2j]))
    for name, what in (("s11", "of type str"), ("c11", "an array of dtype complex128")):
        ran = run(shell, f"%maskdsl {name} + 1")
        assert isinstance(ran.error, maskdsl.InputError), ran.stdout
        assert ran.error.message == f"'{name}' is {what}, not an array maskdsl can read"
        assert ran.error.column == 1


def test_wrong_options_are_usage_errors(shell):
    for line, message in (("%maskdsl --bogus x", "unknown option --bogus"),
                          ("%maskdsl --strategy fastest x", "unknown strategy 'fastest'"),
                          ("%maskdsl --signature x x", "--signature takes NAME=SPEC"),
                          ("%maskdsl --tf", "needs statements"),
                          ("%%maskdsl x\nx", "takes only options on its first line")):
        ran = run(shell, line)
        assert type(ran.error) is UsageError and message in str(ran.error), line
        assert ran.stderr.startswith("UsageError: ") and "Traceback" not in ran.stderr


# ---- --tf, --explain, --time, --strategy, --signature ----

def test_tf_option_shows_the_highlighted_source_without_running(shell):
    shell.user_ns["a12"] = np.arange(6)
    ran = run(shell, "%maskdsl --tf a12[a12 > 4] = 0")
    assert ran.error is None and ran.result is None
    expected = maskdsl.compile("a12[a12 > 4] = 0", signature={"a12": "int64[6]"}).source
    [shown] = ran.outputs
    assert shown["text/plain"] == expected.rstrip()
    assert '<span style="' in shown["text/html"] and text_of(shown["text/html"]).strip() == expected.strip()
    assert list(shell.user_ns["a12"]) == list(range(6))


def test_explain_option_shows_the_strategy_table(shell):
    shell.user_ns["a13"] = np.arange(8)
    cell = "a13[a13 > 4] *= 2\nt13 = sum(a13[a13 > 2])"
    ran = run(shell, "%%maskdsl --explain\n" + cell)
    assert ran.error is None and "t13" not in shell.user_ns
    [shown] = ran.outputs
    assert shown["text/plain"] == maskdsl.compile("\n" + cell, signature={"a13": "int64[8]"}).explain()
    page = shown["text/html"]
    rows = [[text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", page)]
    update = next(row for row in rows if row[:4] == ["a131", "update", "where", "line 2"])
    assert update[5].startswith("where: ") and "crossover selectivity: " in update[5]  # the costs, one cell
    assert ["t131", "reduce", "masked", "line 3"] in [row[:4] for row in rows]
    assert "tf.where(" in text_of(page)


def test_time_option_reports_repeated_runs_and_changes_nothing(shell, monkeypatch):
    monkeypatch.setattr("maskdsl.cli.session.TIME_BUDGET", 0.01)
    shell.user_ns["a14"] = np.arange(6)
    ran = run(shell, "%maskdsl --time a14[a14 > 2] *= 3")
    assert ran.error is None
    assert re.fullmatch(r"median \S+ \S?s over \d+ runs \(min .*; first call, with tracing: .*\)\n", ran.stdout)
    assert list(shell.user_ns["a14"]) == list(range(6))


def test_strategy_option_forces_a_lowering(shell):
    shell.user_ns["a15"] = np.arange(6.0)
    ran = run(shell, "%maskdsl --strategy scatter --tf a15[a15 > 4] *= 2")
    assert "tf.tensor_scatter_nd_update" in ran.outputs[0]["text/plain"]
    ran = run(shell, "%maskdsl --strategy scatter a15[a15 > 3] *= 2; a15")
    assert_same(ran.result, np.array([0, 1, 2, 3, 8, 10], np.float64))


def test_signature_option_converts_and_serves_every_length(shell):
    shell.user_ns["a16"] = np.arange(4.0)
    cell = "%maskdsl --signature 'a16=float32[None]' a16[a16 > 1] = 0; a16"
    first = run(shell, cell)
    assert_same(first.result, np.array([0, 1, 0, 0], np.float32))
    compiled = len(magic_session(shell)._cache)
    shell.user_ns["a16"] = np.arange(7.0)
    second = run(shell, cell)
    assert_same(second.result, np.array([0, 1, 0, 0, 0, 0, 0], np.float32))
    assert len(magic_session(shell)._cache) == compiled


# ---- rich display outside the magics ----

def test_a_compiled_program_displays_its_text_and_tensorflow_source(shell):
    shell.user_ns["maskdsl"] = maskdsl
    ran = run(shell, "f17 = maskdsl.compile('x[x < 4] = 0', signature={'x': 'int64[None]'})\nf17")
    page = ran.result._repr_html_()
    assert "x[x < 4] = 0" in text_of(page) and "&lt;" in page and "< 4" not in page  # escaped
    assert "x: int64[None]" in text_of(page) and ran.result.source.strip() in text_of(page)
    assert "No types yet" in maskdsl.compile("y * 2")._repr_html_()


def test_an_error_value_displays_as_html(shell):
    error = maskdsl.ParseError("expected an expression", None, source="x[x < ]")
    data, _ = shell.display_formatter.format(error)
    assert data["text/html"].startswith("<pre") and "expected an expression" in data["text/html"]
    error = run(shell, "%maskdsl x[x < ]").error
    data, _ = shell.display_formatter.format(error)
    assert "x[x &lt; ]\n        ^" in data["text/html"]


def test_unload_and_reload(shell):
    run(shell, "%unload_ext maskdsl")
    assert shell.find_line_magic("maskdsl") is None and shell.find_cell_magic("maskdsl") is None
    ran = run(shell, "%reload_ext maskdsl\n%maskdsl [1, 2] * 2")
    assert ran.error is None and list(ran.result) == [2, 4]


# ---- the example notebook and docs/notebooks.md ----

def test_example_notebook_runs(shell, monkeypatch):
    import nbformat

    monkeypatch.setattr("maskdsl.cli.session.TIME_BUDGET", 0.01)  # its --time cell

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert cells and not any(c.outputs for c in cells), "the example notebook is committed without outputs"
    for number, cell in enumerate(cells, 1):
        ran = run(shell, cell.source)
        if "raises-exception" in cell.metadata.get("tags", ()):
            assert isinstance(ran.error, maskdsl.MaskDSLError), f"code cell {number} should fail"
            assert ran.outputs and "^" in ran.outputs[0]["text/plain"]
        else:
            assert ran.error is None, f"code cell {number} failed:\n{cell.source}\n{ran.stdout}{ran.stderr}"
    x = np.arange(10)
    x[(x > 4) & (x % 2 == 0)] *= 2
    assert_same(shell.user_ns["x"], x)


IN, MORE = re.compile(r"In \[(\d+)\]: ?"), re.compile(r" +\.\.\.: ?")


def transcripts(path: Path) -> list[list[tuple[int, str, str]]]:
    """The ```ipython blocks of a page: [(In number, input, what IPython prints)] each."""
    blocks, block, inside = [], None, False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("```"):
            inside = line.strip() == "```ipython"
            if inside:
                block = []
                blocks.append(block)
            continue
        if not inside:
            continue
        match = IN.match(line)
        if match:
            block.append([int(match.group(1)), line[match.end():], []])
        elif MORE.match(line) and not block[-1][2]:
            block[-1][1] += "\n" + line[MORE.match(line).end():]
        elif block:
            block[-1][2].append(line)
    return [[(n, text, "\n".join(out).strip("\n")) for n, text, out in b] for b in blocks]


def test_docs_transcripts(shell):
    """docs/notebooks.md shows IPython sessions; each input prints exactly what follows it
    (IPython in a terminal prints displays as text; Jupyter shows their HTML)."""
    blocks = transcripts(DOC)
    assert len(blocks) >= 3
    run(shell, "%unload_ext maskdsl")  # the page starts with %load_ext
    for block in blocks:
        for number, text, expected in block:
            shell.execution_count = number  # so that IPython prints Out[number]
            with capture_output(display=False) as captured:  # displays print their text/plain
                shell.run_cell(text, store_history=True)
            printed = "\n".join(line.rstrip() for line in (captured.stdout + captured.stderr).strip("\n").split("\n"))
            assert printed == expected, f"In [{number}]: {text}\nprints\n{printed}\nnot\n{expected}"


# ---- what loading costs ----

def test_importing_maskdsl_loads_neither_tensorflow_nor_ipython():
    """`import maskdsl` (and the extension's module, until %load_ext runs it) stays light."""
    code = "import sys, maskdsl, maskdsl.cli.notebook; print(sorted({'tensorflow', 'IPython'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
