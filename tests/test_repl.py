"""The `maskdsl` command: Session (the interpreter), the lexer, the prompt_toolkit REPL and the CLI.

Fast tests drive Session and the REPL in-process (pipe input, DummyOutput); the tests
that start a new Python (stdin mode, a real pseudo-terminal) load TensorFlow again and
are marked slow.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from pygments.token import Error, Keyword, Name, Number, Operator

import maskdsl
from maskdsl import DataError, DTypeError, IndexOutOfRangeError, MaskDSLError, ParseError, UnknownNameError
from maskdsl.cli import command as cli
from maskdsl.language.functions import METHODS
from maskdsl.language.highlight import MaskDSLLexer
from maskdsl.cli.repl import MaskDSLCompleter, history_path, run_repl
from maskdsl.passes.strategies import FORCEABLE
from maskdsl.cli.session import (COMMANDS, CommandError, Quit, Session, format_value, help_text,
                                 needs_more, run_and_print, run_script)

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(autouse=True)
def private_history(monkeypatch, tmp_path):
    """No test writes to the user's real history file."""
    monkeypatch.setenv("MASKDSL_HISTORY", str(tmp_path / "history"))


def numpy_example():
    x = np.arange(10)
    x[(x > 4) & (x % 2 == 0)] *= 2
    return x


# ---- Session: statements ----

def test_statements_match_numpy_and_variables_persist():
    s = Session()
    out = s.execute("x = arange(10); x[x > 4 & x % 2 == 0] *= 2; x")
    assert out == f"{np.array_repr(numpy_example())}  # int64[10]"
    np.testing.assert_array_equal(s.vars["x"], numpy_example())
    assert s.execute("m = x > 4") == ""
    assert s.execute("total = sum(x[m]); total") == f"{numpy_example()[numpy_example() > 4].sum()}  # int64"
    assert set(s.vars) == {"x", "m", "total"}
    assert s.vars["total"].shape == () and s.vars["m"].dtype == np.bool_


def test_value_semantics_and_names_starting_with_underscore():
    s = Session()
    s.execute("x = arange(4); y = x; y[0] = 9; _t = 2.5")
    np.testing.assert_array_equal(s.vars["x"], np.arange(4))
    np.testing.assert_array_equal(s.vars["y"], [9, 1, 2, 3])
    assert s.vars["_t"] == 2.5 and s.vars["_t"].dtype == np.float64


def test_only_the_final_expression_is_printed():
    s = Session()
    assert s.execute("a = [1.5, -2.0]; a * 2; b = abs(a)") == ""
    np.testing.assert_array_equal(s.vars["b"], [1.5, 2.0])
    assert s.execute("b[b > 1.6]") == "array([2.])  # float64[1]"


def test_values_print_numpy_style():
    assert format_value(np.array([[1, 2], [3, 4]], dtype=np.int32)) == (
        "array([[1, 2],\n       [3, 4]], dtype=int32)  # int32[2, 2]")
    assert format_value(np.asarray(True)) == "True  # bool"
    assert format_value(np.asarray(np.nan)) == "nan  # float64"
    assert format_value(np.zeros((0, 3))) == "array([], shape=(0, 3), dtype=float64)  # float64[0, 3]"


def test_comments_and_blank_lines_do_nothing():
    s = Session()
    assert s.execute("") == "" and s.execute("   # a comment") == ""
    assert s.vars == {}


@pytest.mark.parametrize("strategy", FORCEABLE)
def test_every_strategy_gives_numpys_answer(strategy):
    s = Session(strategy=strategy)
    s.execute("x = arange(10)")
    s.execute("x[x > 4 & x % 2 == 0] *= 2")
    np.testing.assert_array_equal(s.vars["x"], numpy_example())


# ---- Session: errors leave every variable as it was ----

@pytest.mark.parametrize("line, error, column", [
    ("x = x * 2; y = 1; x[x > ] = 0", ParseError, 25),                 # parse error
    ("x = x * 2; y = x[7]", IndexOutOfRangeError, 18),                 # run-time error
    ("x = x * 2; x[x > 1] *= 2.5", DTypeError, 12),                    # type error
    ("x = x * 2; y = 1; x + nope", UnknownNameError, 23),              # error in the final expression
    ("x = x * 2; x[[0, 5]]", IndexOutOfRangeError, 14),                # ... found when it runs
])
def test_a_failing_line_changes_no_variable(line, error, column):
    s = Session()
    s.execute("x = arange(3)")
    with pytest.raises(error) as info:
        s.execute(line)
    assert list(s.vars) == ["x"]
    np.testing.assert_array_equal(s.vars["x"], np.arange(3))
    # The caret points into the line as typed (not into any rewritten form of it).
    assert (info.value.line, info.value.column) == (1, column)
    shown = str(info.value).split("\n")
    assert shown[1] == "  " + line
    assert shown[2].index("^") == column + 1


def test_unknown_names_are_named_with_a_suggestion():
    s = Session()
    s.execute("values = arange(3)")
    with pytest.raises(UnknownNameError) as info:
        s.execute("valeus[valeus > 1]")
    assert info.value.message == "name 'valeus' is not defined"
    assert info.value.hint == "did you mean 'values'?"
    assert str(info.value).splitlines()[2] == "  ^^^^^^"


def test_multi_line_input_reports_the_right_line():
    s = Session()
    with pytest.raises(ParseError) as info:
        s.execute("y = [1,\n     2 +]")
    assert info.value.line == 2 and s.vars == {}


# ---- Session: commands ----

@pytest.fixture(scope="module")
def session_with_x():
    s = Session()
    s.execute("x = arange(10)")
    return s


def test_vars_lists_name_dtype_shape():
    s = Session()
    assert s.execute(":vars") == "(no variables)"
    s.execute("x = arange(3); flag = True; f = zeros([2, 4])")
    assert s.execute(":vars").splitlines() == [
        "name  dtype    shape",
        "x     int64    (3,)",
        "flag  bool     ()",
        "f     float64  (2, 4)",
    ]


def test_explain_and_tf_show_the_compiled_program(session_with_x):
    explained = session_with_x.execute(":explain x[x > 4] *= 2")
    for section in ("== inputs ==", "x: int64[10]", "== IR after optimisation ==", "== strategies ==",
                    "estimated cost", "== TensorFlow source"):
        assert section in explained
    source = session_with_x.execute(":tf x[x > 4] *= 2")
    assert source.startswith("def program(") and "tf." in source
    assert list(session_with_x.vars) == ["x"]  # neither command runs the statement
    np.testing.assert_array_equal(session_with_x.vars["x"], np.arange(10))


def test_strategy_changes_the_lowering(session_with_x):
    assert session_with_x.execute(":strategy") == "strategy: auto"
    assert "scatter" not in session_with_x.execute(":tf x[x > 4] *= 2")
    assert session_with_x.execute(":strategy scatter") == "strategy: scatter"
    try:
        assert "scatter" in session_with_x.execute(":tf x[x > 4] *= 2")
        with pytest.raises(CommandError, match="choose one of auto, where, scatter, boolean_mask"):
            session_with_x.execute(":strategy fastest")
    finally:
        session_with_x.execute(":strategy auto")


def test_command_errors_point_into_the_command_line(session_with_x):
    with pytest.raises(ParseError) as info:
        session_with_x.execute(":explain x[x > ]")
    assert info.value.column == 16 and str(info.value).splitlines()[1] == "  :explain x[x > ]"
    with pytest.raises(UnknownNameError, match="name 'y' is not defined"):
        session_with_x.execute(":tf y + 1")
    with pytest.raises(CommandError, match="usage: :explain STMT"):
        session_with_x.execute(":explain")


def test_time_reports_a_median_and_changes_nothing(session_with_x, monkeypatch):
    monkeypatch.setattr("maskdsl.cli.session.TIME_BUDGET", 0.01)
    out = session_with_x.execute(":time x[x > 4] *= 2")
    assert re.fullmatch(r"median [\d.]+ (µs|ms|s) over \d+ runs \(min .*, max .*; first call, with tracing: .*\)", out)
    assert int(re.search(r"over (\d+) runs", out).group(1)) >= 5
    np.testing.assert_array_equal(session_with_x.vars["x"], np.arange(10))


def test_unknown_commands_suggest_the_closest():
    with pytest.raises(CommandError) as info:
        Session().execute(":varz")
    assert info.value.message == "unknown command ':varz'" and info.value.hint == "did you mean :vars?"
    with pytest.raises(CommandError, match=r"unknown command ':U\+001B\[2J'"):
        Session().execute(":\x1b[2J")  # control characters are escaped, not sent to the terminal


def test_help_lists_every_command_and_quit_raises_quit():
    text = Session().execute(":help")
    assert all(f":{name}" in text for name in COMMANDS)
    with pytest.raises(Quit):
        Session().execute(":quit")


@pytest.mark.parametrize("line, status", [("exit", None), ("quit", None), ("exit()", None), ("quit( )", None),
                                          ("  exit  # bye", None), ("exit(3)", 3), ("quit(0)", 0)])
def test_exit_and_quit_leave_as_in_python(line, status):
    with pytest.raises(Quit) as info:
        Session().execute(line)
    assert info.value.status == status


def test_help_shows_the_help_and_a_variable_of_that_name_wins():
    s = Session()
    assert s.execute("help") == s.execute("help()") == s.execute(":help")
    s.execute("help = 2; exit = 3")
    assert s.execute("help") == "2  # int64" and s.execute("exit * 2") == "6  # int64"
    assert s.execute("exit") == "3  # int64"
    with pytest.raises(Quit):
        s.execute("quit()")


@pytest.mark.parametrize("width", [80, 120, 60])
def test_help_fits_the_terminal(width):
    lines = help_text(width).splitlines()
    assert max(len(line) for line in lines) < width
    described = [line for line in lines if line.startswith("  :") and len(line.split()) > 1
                 and line.index(line.split()[1]) < 26 and "  " in line.strip()]
    # the description column starts after a narrow command column, not at column 45
    assert {line.index("  ", 3) for line in described} and all(line.index("  ", 3) <= 24 for line in described)
    assert all(f":{name}" in "\n".join(lines) for name in COMMANDS)


def test_a_misspelt_name_suggests_one_assigned_earlier_on_the_same_line():
    with pytest.raises(UnknownNameError) as info:
        Session().execute("lognmae_var = 1; lognmae_vr")
    assert info.value.hint == "did you mean 'lognmae_var'?"
    with pytest.raises(maskdsl.InputError) as info:  # the API says the same for a missing input
        maskdsl.evaluate("lognmae_var = 1; lognmae_vr")
    assert info.value.hint == "did you mean 'lognmae_var'?"


def test_reset_deletes_every_variable():
    s = Session()
    s.execute("a = 1; b = 2")
    assert s.execute(":reset") == "all variables deleted" and s.vars == {}


def test_save_and_load_npy_and_npz(tmp_path):
    s = Session()
    s.execute("x = arange(5) * 1.5; m = x > 2")
    assert s.execute(f":save x {tmp_path}/x.npy") == f"saved x to {tmp_path}/x.npy"
    s.execute(f":save x m '{tmp_path}/both.npz'")
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.arange(5) * 1.5)
    with np.load(tmp_path / "both.npz") as data:
        assert sorted(data.files) == ["m", "x"]

    t = Session()
    assert t.execute(f":load {tmp_path}/x.npy") == "x: float64[5]"
    assert t.execute(f":load {tmp_path}/x.npy as y") == "y: float64[5]"
    assert t.execute(f":load {tmp_path}/both.npz").splitlines() == ["x: float64[5]", "m: bool[5]"]
    assert t.execute("y[m]") == f"{np.array_repr((np.arange(5) * 1.5)[np.arange(5) * 1.5 > 2])}  # float64[3]"


def test_save_keeps_an_existing_file_unless_forced(tmp_path):
    s = Session()
    s.execute("x = arange(3); y = x * 2")
    s.execute(f":save x y {tmp_path}/out.npz")
    with pytest.raises(CommandError) as info:
        s.execute(f":save x {tmp_path}/out.npz")
    assert info.value.message == f"{tmp_path}/out.npz already exists" and info.value.code == "exists"
    assert "use :save! to replace it" in info.value.hint
    with np.load(tmp_path / "out.npz") as data:
        assert sorted(data.files) == ["x", "y"]  # untouched
    assert s.execute(f":save! x {tmp_path}/out.npz") == f"saved x to {tmp_path}/out.npz"
    with np.load(tmp_path / "out.npz") as data:
        assert data.files == ["x"]
    with pytest.raises(CommandError, match="unknown command ':vars!'"):
        s.execute(":vars!")


def test_load_of_a_text_file_says_it_is_not_numpys(tmp_path):
    (tmp_path / "notes.npy").write_text("1, 2, 3\n")
    with pytest.raises(DataError) as info:
        Session().execute(f":load {tmp_path}/notes.npy")
    assert info.value.message == (f"cannot load {tmp_path}/notes.npy: it is not a .npy or .npz file "
                                  f"(the files np.save and np.savez write)")


def test_load_converts_byte_order_and_checks_names_and_dtypes(tmp_path):
    np.save(tmp_path / "big.npy", np.arange(4, dtype=">i4"))
    np.save(tmp_path / "my-data.npy", np.arange(3))
    np.save(tmp_path / "c.npy", np.ones(2, dtype=np.complex64))
    np.savez(tmp_path / "two.npz", a=np.ones(1), b=np.zeros(1))
    (tmp_path / "text.npy").write_text("not numpy")
    s = Session()
    s.execute(f":load {tmp_path}/big.npy")
    assert s.execute("big * 2") == "array([0, 2, 4, 6], dtype=int32)  # int32[4]"
    for command, error, message in [
        (f":load {tmp_path}/my-data.npy", DataError, "'my-data' is not a valid name"),
        (f":load {tmp_path}/my-data.npy as sum", CommandError, "'sum' cannot be a variable name"),
        (f":load {tmp_path}/c.npy", DataError, "dtype complex64, which maskdsl does not support"),
        (f":load {tmp_path}/two.npz as t", CommandError, r"holds 2 arrays \(a, b\)"),
        (f":load {tmp_path}/text.npy", DataError, "not a .npy or .npz file"),
        (f":load {tmp_path}/missing.npy", DataError, "No such file"),
        (":load", CommandError, "usage: :load FILE"),
        (f":save big {tmp_path}/out.txt", CommandError, "must end in .npy or .npz"),
        (f":save nope {tmp_path}/out.npy", UnknownNameError, "name 'nope' is not defined"),
        (f":save '\x1b[2J' {tmp_path}/out.npy", UnknownNameError, r"name 'U\+001B\[2J' is not defined"),
    ]:
        with pytest.raises(error, match=message):
            s.execute(command)
    assert list(s.vars) == ["big"]


# ---- reading statements: bracket continuation, scripts ----

@pytest.mark.parametrize("text, more", [
    ("x = [1,", True), ("x = [1, 2]", False), ("y = sum(x[\n  x > 1", True), ("x = 1  # (", False),
    ("x = 1)", False), (":explain x[", False), ("", False),
])
def test_needs_more_while_brackets_are_open(text, more):
    assert needs_more(text) is more


def test_run_script_goes_on_after_an_error_and_reports_file_line_column():
    out, err = io.StringIO(), io.StringIO()
    script = "x = arange(4)\nx[x > ] = 1\ny = [1,\n  2 + ]\nx * 2\n"
    assert run_script(Session(), io.StringIO(script), out, err) == 1
    assert out.getvalue() == "array([0, 2, 4, 6])  # int64[4]\n"
    assert err.getvalue().splitlines() == [
        "<stdin>:2:7: ParseError: expected an expression after '>', found ']'",
        "  x[x > ] = 1",
        "        ^",
        "<stdin>:4:7: ParseError: expected an expression after '+', found ']'",
        "    2 + ]",
        "        ^",
    ]


def test_run_script_stops_at_quit_and_succeeds_without_errors():
    out, err = io.StringIO(), io.StringIO()
    assert run_script(Session(), io.StringIO("a = 2\n:quit\na\n"), out, err) == 0
    assert out.getvalue() == "" and err.getvalue() == ""


def test_run_script_stops_at_exit_with_its_status():
    out, err = io.StringIO(), io.StringIO()
    assert run_script(Session(), io.StringIO("a = 2\na\nexit(3)\na\n"), out, err) == 3
    assert out.getvalue() == "2  # int64\n"
    assert run_script(Session(), io.StringIO("a[\nquit()\n"), io.StringIO(), io.StringIO()) == 1


def test_run_script_reads_windows_line_ends():
    out, err = io.StringIO(), io.StringIO()
    assert run_script(Session(), io.StringIO("a = [1,\r\n 2]\r\na + 1\r\n"), out, err) == 0
    assert out.getvalue() == "array([2, 3])  # int64[2]\n"


def test_the_command_offers_the_registry_s_strategies():
    choices = {a.dest: a.choices for a in cli.build_parser()._actions if a.dest == "strategy"}
    assert tuple(choices["strategy"]) == FORCEABLE


def test_internal_errors_are_reported_not_raised(monkeypatch):
    s = Session()
    monkeypatch.setattr(s, "execute", lambda text: 1 / 0)
    err = io.StringIO()
    assert run_and_print(s, "x", io.StringIO(), err) is False
    assert err.getvalue().startswith("internal error: ZeroDivisionError")


# ---- the lexer ----

def test_lexer_tokens():
    tokens = [(t, v) for t, v in MaskDSLLexer().get_tokens("x[x > 4 & not m] *= 2.5e3 + sum(y) + nan  # c")
              if v.strip()]
    assert (Name, "x") in tokens and (Name.Builtin, "sum") in tokens and (Number.Float, "2.5e3") in tokens
    assert (Operator.Word, "not") in tokens and (Keyword.Constant, "nan") in tokens
    assert (Operator, "*=") in tokens and tokens[-1][1] == "# c"
    commands = list(MaskDSLLexer().get_tokens(":explain summary"))
    assert commands[0] == (Keyword.Pseudo, ":explain") and (Name, "summary") in commands


def test_lexer_round_trips_and_never_errors_on_programs():
    program = "y = where(x % 2 == 0, x // 2, 3 * x + 1)\nz = y[..., 1:3, None] ** -1_000\n"
    tokens = list(MaskDSLLexer().get_tokens(program))
    assert "".join(v for _, v in tokens) == program
    assert not any(t in Error for t, _ in tokens)


# ---- the prompt_toolkit front end ----

def repl(keys: str, session: Session | None = None, history=None) -> str:
    """Type `keys` into a REPL (pipe input, no terminal); returns what it printed."""
    out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        run_repl(session or Session(), history=history or InMemoryHistory(), input=pipe, output=DummyOutput(),
                 out=out)
    return out.getvalue()


def test_repl_session_with_an_error_in_the_middle(tmp_path):
    history = FileHistory(str(tmp_path / "history"))
    printed = repl("x = arange(10)\rx[x > 4 & x % 2 == 0] *= 2\rx[x > ] = 1\rx\r:vars\r\x04", history=history)
    lines = printed.splitlines()[2:]  # after the banner
    assert lines == [
        "line 1, column 7: ParseError: expected an expression after '>', found ']'",
        "  x[x > ] = 1",
        "        ^",
        f"{np.array_repr(numpy_example())}  # int64[10]",
        "name  dtype  shape",
        "x     int64  (10,)",
    ]
    assert list(history.load_history_strings())[:2] == [":vars", "x"]


def test_repl_continues_lines_while_brackets_are_open():
    printed = repl("y = [1,\r2,  # a comment (\r3]\ry * 2\r\x04")
    assert printed.splitlines()[-1] == "array([2, 4, 6])  # int64[3]"


def test_repl_exit_and_quit_leave():
    for keys in ("a = 1\rexit\ra = 5\r", "a = 1\rquit()\ra = 5\r"):
        s = Session()
        printed = repl(keys, session=s)
        assert s.vars["a"] == 1 and "Traceback" not in printed


def test_repl_ctrl_c_cancels_the_line_and_quit_leaves():
    s = Session()
    printed = repl("a = 1\rb = 2\x03a\r:quit\ra = 5\r", session=s)
    assert printed.splitlines()[-1] == "1  # int64"
    assert list(s.vars) == ["a"] and s.vars["a"] == 1


def test_history_path_follows_xdg_and_the_override(monkeypatch, tmp_path):
    monkeypatch.delenv("MASKDSL_HISTORY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert history_path() == tmp_path / "maskdsl" / "history"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_path() == tmp_path / ".local" / "share" / "maskdsl" / "history"
    monkeypatch.setenv("MASKDSL_HISTORY", str(tmp_path / "h"))
    assert history_path() == tmp_path / "h"


def completions(text: str, session: Session | None = None, tab: bool = False) -> list[str]:
    event = CompleteEvent(completion_requested=tab)
    return [c.text for c in MaskDSLCompleter(session or Session()).get_completions(Document(text), event)]


def test_completion_of_names_functions_and_commands(tmp_path):
    s = Session()
    s.vars.update(values=np.arange(3), vmax=np.asarray(2))
    assert completions("y = su", s) == ["subtract", "sum"]
    assert completions("y = v", s) == ["values", "var", "vmax"]
    assert completions("y = values[va", s) == ["values", "var"]
    assert "isnan" in completions("y = ", s, tab=True) and completions("y = ", s) == []
    assert completions(":ex") == ["explain"]
    assert completions(":strategy s") == ["scatter"]
    assert completions(":explain x[su") == ["subtract", "sum"]
    assert completions(":save v", s) == ["values", "vmax"] == completions(":save! v", s)
    assert completions(":save!") == [] and completions(":vars! v", s) == []
    assert completions("1e") == [] and completions("x = 1  # su") == []
    (tmp_path / "data.npz").touch()
    assert completions(f":load {tmp_path}/da") == ["ta.npz"]


def test_completion_after_a_dot_lists_methods_and_numpys_names():
    s = Session()
    s.vars.update(values=np.arange(3))
    assert completions("y = values.s", s) == ["shape", "size", "std", "sum"]
    assert completions("y = values[values > 0].T", s) == ["T"] == completions("(values + 1).T", s)
    assert set(completions("values.", s)) == set(METHODS)
    assert completions("np.wh") == ["where"] and completions("numpy.nanme") == ["nanmean"]
    assert {"nan", "nan_to_num", "nansum"} <= set(completions("numpy.na"))
    assert {"isin", "median", "float32", "newaxis", "pi"} <= set(completions("np."))
    assert "len" not in completions("np.") and "count" not in completions("np.")   # not NumPy's
    assert completions("x = 1.e") == [] and completions("x = 1.5") == []            # numbers, not attributes


def test_print_shows_the_value_as_pythons_repl_does():
    s = Session()
    s.execute("x = arange(4)")
    assert s.execute("print(x)") == s.execute("x") == s.execute("print((x))")
    assert s.execute("y = x + 1; print(y * 2)") == format_value(np.arange(1, 5) * 2)
    with pytest.raises(MaskDSLError) as info:      # columns stay where they were typed
        s.execute("print(x + nope)")
    assert info.value.column == 11
    with pytest.raises(MaskDSLError) as info:      # anything else print does is Python's
        s.execute("print(x, x)")
    assert "write the expression alone" in str(info.value)


@pytest.mark.parametrize("line, column, says, hint", [
    ("np += 1", 1, "np is the NumPy prefix", "choose another name for the variable"),
    ("numpy = 2", 1, "numpy is the NumPy prefix", "choose another name for the variable"),
    ("x.foo()", 3, "no method 'foo'", "did you mean floor(x)?"),
    ("x.sot()", 3, "no method 'sot'", "did you mean sort(x)?"),
    ("x.sort()", 3, "sorts x in place and returns None", "write sort(x, ...)"),
    ("mena(x)", 1, "unknown function 'mena'", "did you mean mean?"),
])
def test_errors_that_teach(line, column, says, hint):
    s = Session()
    s.execute("x = arange(4)")
    with pytest.raises(MaskDSLError) as info:
        s.execute(line)
    assert info.value.column == column and says in info.value.message and info.value.hint == hint


# ---- the command line ----

def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == f"maskdsl {maskdsl.__version__}\n"
    for command, option in [("explain", "--signature"), ("check", "--signature"), ("run", "--tf-data-service"),
                            ("export", "OUT_DIR"), (None, "subcommands")]:
        with pytest.raises(SystemExit) as info:
            cli.main([command, "--help"] if command else ["--help"])
        assert info.value.code == 0 and option in capsys.readouterr().out


def test_help_explains_files_and_shows_the_example_as_typed(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "echo 'x = arange(10); x[x > 4 & x % 2 == 0] *= 2; x' | maskdsl" in out and "%%" not in out
    assert "maskdsl [--strategy S] [FILE]" in out and "maskdsl script.mdsl" in out


def test_a_file_argument_runs_its_statements(tmp_path, capsys):
    script = tmp_path / "script.mdsl"
    script.write_text("x = arange(4)\nx[x > 1] *= 10; x\nx[7]\nx * 2\n")
    assert cli.main([str(script), "--strategy", "scatter"]) == 1
    out, err = capsys.readouterr()
    assert out == "array([ 0,  1, 20, 30])  # int64[4]\narray([ 0,  2, 40, 60])  # int64[4]\n"
    assert err.splitlines()[0] == f"{script}:3:3: IndexOutOfRangeError: index 7 is out of bounds for axis 0 with size 4"
    for argv, says in [(["chek"], "no such file or subcommand: 'chek' (did you mean 'check'?)"),
                       ([str(tmp_path / "missing.mdsl")], "no such file or subcommand")]:
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2 and says in capsys.readouterr().err


def test_check_lists_what_was_expected_once(capsys):
    assert cli.main(["check", ":x"]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "<string>:1:1: ParseError: unexpected ':'; expected an expression, ';' or a newline")


def test_check_exit_status_and_file_line_column(tmp_path, capsys):
    assert cli.main(["check", "x[x > 4 & x % 2 == 0] *= 2"]) == 0
    assert capsys.readouterr().out == "<string>: ok (inputs: x; outputs: x)\n"
    bad = tmp_path / "bad.mdsl"
    bad.write_text("x = arange(3)\ny = x +\n")
    assert cli.main(["check", str(bad)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{bad}:2:8: ParseError: expected an expression after '+', found a newline",
        "  y = x +",
        "         ^",
    ]


def test_check_with_a_signature_type_checks(capsys):
    args = ["check", "x[m] *= 2.5", "--signature", "x=int64[3]", "--signature", "m=bool[3]"]
    assert cli.main(args) == 1
    assert capsys.readouterr().err.startswith("<string>:1:1: DTypeError: cannot cast")
    assert cli.main(["check", "x[m] *= 2", "--signature", "x=int64[3]", "--signature", "m=bool[3]"]) == 0


def test_explain(capsys):
    assert cli.main(["explain", "x[x > 4] *= 2", "--signature", "x=float32[None]"]) == 0
    out = capsys.readouterr().out
    assert "x: float32[None]" in out and "== strategies ==" in out
    assert cli.main(["explain", "x[x > 4] *= 2"]) == 1
    assert "hint: give its type, e.g. --signature 'x=float64[None]'" in capsys.readouterr().err


def test_run_and_export_dispatch_to_pipeline_cli(monkeypatch, capsys):
    calls = []
    fake = types.ModuleType("maskdsl.cli.pipeline_commands")
    fake.run_command = lambda args: calls.append(("run", args.pipeline, args.set, args.batch_size)) or 0
    fake.export_command = lambda args: calls.append(("export", args.pipeline, args.out_dir)) or 3
    monkeypatch.setitem(sys.modules, "maskdsl.cli.pipeline_commands", fake)
    assert cli.main(["run", "p.yaml", "--input", "a.npz", "--output", "b.npz", "--set", "k=2",
                     "--batch-size", "8"]) == 0
    assert cli.main(["export", "p.yaml", "out"]) == 3
    assert calls == [("run", "p.yaml", ["k=2"], 8), ("export", "p.yaml", "out")]

    monkeypatch.setitem(sys.modules, "maskdsl.cli.pipeline_commands", None)  # as if the module did not exist
    assert cli.main(["export", "p.yaml", "out"]) == 2
    assert "maskdsl.cli.pipeline_commands is missing" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "p.yaml", "--input", "a.npz", "--output", "b.npz", "--batch-size", "0"])
    assert info.value.code == 2


# ---- end to end: a new process ----

def maskdsl_command() -> list[str]:
    script = Path(sys.executable).parent / "maskdsl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "maskdsl"]


@pytest.mark.slow
def test_stdin_mode_through_a_pipe():
    example = "x = arange(10); x[x > 4 & x % 2 == 0] *= 2; x\n"
    done = subprocess.run(maskdsl_command(), input=example, capture_output=True, text=True, env=ENV, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{np.array_repr(numpy_example())}  # int64[10]\n", "")

    script = "a = [3, 1, 2]\na[a > ]\nb = a * 2\nb\n"
    done = subprocess.run([sys.executable, "-m", "maskdsl"], input=script, capture_output=True, text=True,
                          env=ENV, timeout=120)
    assert done.returncode == 1
    assert done.stdout == "array([6, 2, 4])  # int64[3]\n"
    assert done.stderr.startswith("<stdin>:2:7: ParseError:")


def plain(terminal_output: str) -> list[str]:
    """The lines a terminal shows, without escape sequences (colours, cursor moves)."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[>=]", "", terminal_output)
    return [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


# prompt_toolkit turns bracketed paste on as each prompt starts. Unlike "mdsl>", which every
# re-render of the line being edited repeats, it shows that the previous line has finished:
# keys sent earlier may arrive while it runs, when Ctrl-C interrupts it instead.
NEW_PROMPT = "\x1b[?2004h"


@pytest.mark.slow
def test_repl_in_a_real_terminal(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = {**ENV, "TERM": "xterm-256color", "MASKDSL_HISTORY": str(tmp_path / "history"),
           "PROMPT_TOOLKIT_NO_CPR": "1"}  # pexpect does not answer cursor-position requests
    child = pexpect.spawn(sys.executable, ["-m", "maskdsl"], env=env, dimensions=(40, 120),
                          encoding="utf-8", timeout=120)
    child.logfile_read = io.StringIO()
    example = np.array_repr(numpy_example())
    try:
        child.expect_exact("mdsl>")
        # Each input is sent once the previous one has printed what it prints.
        for keys, shows in [("x = arange(10); x\r", np.array_repr(np.arange(10))),
                            ("x[x > 4 & x % 2 == 0] *= 2; x\r", example),
                            ("x[x > ] = 1\r", "        ^"),
                            ("x\r", example),
                            ("zz = [1,\r", "..."),
                            ("2]\r", NEW_PROMPT),
                            ("cancel me", "cancel me"),
                            ("\x03", NEW_PROMPT),          # Ctrl-C drops the line being typed
                            (":vars\r", "zz    int64  (2,)"),
                            ("x + zz[0]\r", np.array_repr(numpy_example() + 1))]:
            child.send(keys)
            child.expect_exact(shows)
        child.expect_exact("mdsl>")
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0

    screen = plain(child.logfile_read.getvalue())
    expected = [
        f"{np.array_repr(np.arange(10))}  # int64[10]",
        f"{example}  # int64[10]",
        "line 1, column 7: ParseError: expected an expression after '>', found ']'",
        "  x[x > ] = 1",
        "        ^",
        f"{example}  # int64[10]",
        "name  dtype  shape",
        "x     int64  (10,)",
        "zz    int64  (2,)",
        f"{np.array_repr(numpy_example() + 1)}  # int64[10]",
    ]
    assert [line for line in screen if line in expected] == expected
    assert not any("Traceback" in line or "absl" in line or "WARNING" in line for line in screen)
    history = (tmp_path / "history").read_text()
    assert "+x[x > ] = 1" in history and "+zz = [1,\n+2]" in history and "cancel me" not in history


@pytest.mark.slow
def test_repl_loads_tensorflow_while_the_user_types_and_exit_leaves(tmp_path):
    """The first line, typed at once, waits for TensorFlow with a notice; `help` shows the help
    fitted to the terminal; `exit` leaves, as in Python's REPL."""
    pexpect = pytest.importorskip("pexpect")
    env = {**ENV, "TERM": "xterm-256color", "MASKDSL_HISTORY": str(tmp_path / "history"),
           "PROMPT_TOOLKIT_NO_CPR": "1"}
    child = pexpect.spawn(sys.executable, ["-m", "maskdsl"], env=env, dimensions=(40, 80),
                          encoding="utf-8", timeout=120)
    child.logfile_read = io.StringIO()
    try:
        child.expect_exact("mdsl>")
        child.send("x = arange(3); x * 2\r")
        child.expect_exact("(TensorFlow is still loading; the first line waits for it)")
        child.expect_exact("array([0, 2, 4])")
        child.send("x + 1\r")
        child.expect_exact("array([1, 2, 3])")
        child.send("help\r")
        child.expect_exact("Ctrl-C cancels the current line.")
        child.send("exit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    screen = plain(child.logfile_read.getvalue())
    assert sum("TensorFlow is still loading" in line for line in screen) == 1
    shown = screen[next(i for i, line in enumerate(screen) if line.startswith("  :explain")):]
    assert max(len(line) for line in shown[:shown.index("Ctrl-C cancels the current line.")]) < 80
    assert not any("Traceback" in line or "absl" in line for line in screen)
