"""Errors are data (issue 12): fields callers read instead of the message, and one way to move an
error (`relocated`, a copy). Front ends learn a program's inputs from the compiled program."""

import pytest

import maskdsl
from maskdsl.errors import ParseError, Span, UnknownNameError
from maskdsl.language.parser import parse


def test_relocated_is_a_copy_and_recomputes_line_and_column():
    err = ParseError("expected an expression", Span.at("x[x > ] = 1", 6), source="x[x > ] = 1", hint="h")
    moved = err.relocated(source="y = 1\nx[x > ] = 1", offset=6, filename="prog.mdsl")
    assert (moved.line, moved.column, moved.filename, moved.hint) == (2, 7, "prog.mdsl", "h")
    assert (err.line, err.column, err.filename, err.source) == (1, 7, None, "x[x > ] = 1")
    assert type(moved) is ParseError and moved.args == (moved.message,)
    assert str(moved).splitlines()[0] == "prog.mdsl:2:7: ParseError: expected an expression"


def test_with_source_fills_in_without_editing_the_error():
    err = UnknownNameError("name 'q' is not defined", Span.at("y = q", 4), name="q")
    filled = err.with_source("y = q", "f.mdsl")
    assert err.source is None and err.filename is None
    assert (filled.source, filled.filename, filled.name) == ("y = q", "f.mdsl", "q")
    assert filled.with_source("other", "g.mdsl") is filled        # nothing to fill in: the same error


def test_places_are_rendered_from_the_template():
    with pytest.raises(ParseError) as info:
        parse("y = (x + 1")
    err = info.value
    assert err.template == "'(' opened at {opened} was never closed"
    assert err.message == "'(' opened at line 1, column 5 was never closed"
    moved = err.relocated(source="a = 1\ny = (x + 1", offset=6)
    assert moved.message == "'(' opened at line 2, column 5 was never closed"
    assert moved.relocated(template="step 1: " + moved.template, places={"opened": "column 5 of step 1"}).message \
        == "step 1: '(' opened at column 5 of step 1 was never closed"


def test_the_compiler_names_what_an_error_is_about():
    with pytest.raises(UnknownNameError) as info:
        maskdsl.compile("y = x + z", signature={"x": "float32[3]"})
    assert (info.value.name, info.value.code) == ("z", "not-in-signature")
    with pytest.raises(UnknownNameError) as info:
        maskdsl.compile("y = x", signature={"x": "float32[3]", "w": "int8"})
    assert (info.value.name, info.value.code) == ("w", "never-read")
    with pytest.raises(maskdsl.InputError) as info:
        maskdsl.compile("y = x", signature={"x": "float33"})
    assert (info.value.name, info.value.option) == ("x", "signature")
    with pytest.raises(maskdsl.MaskDSLError) as info:
        maskdsl.compile("y = x[x > 0]", signature={"x": "float32[3]"}, jit_compile=True)
    assert (info.value.option, info.value.code) == ("jit_compile", "needs-static-shapes")
    with pytest.raises(maskdsl.InputError) as info:
        maskdsl.compile("y = x * 1", signature={"x": "int8[2]"})(x=[1, 300])
    assert (info.value.name, info.value.code) == ("x", "value-lost")


def test_with_signature_specialises_the_lowered_program():
    program = maskdsl.compile("y = x * k")
    assert program.inputs == ("x", "k") and program.signature is None
    typed = program.with_signature({"x": "float32[None]", "k": "float32"})
    assert program.signature is None                                  # a new object; the first is unchanged
    assert typed.signature["x"].shape == (None,) and typed(x=[1.0, 2.0], k=3.0).numpy().tolist() == [3.0, 6.0]
    assert [n.dtype for n in typed.typed_program.inputs] == ["float32", "float32"]


def test_the_session_parses_and_lowers_a_line_once(monkeypatch):
    from maskdsl import compiler
    from maskdsl.cli.session import Session
    calls = []
    lower = compiler.lower
    monkeypatch.setattr(compiler, "lower", lambda *a, **k: calls.append(1) or lower(*a, **k))
    session = Session()
    session.execute("x = arange(5)")
    calls.clear()
    assert session.execute("x[x > 2] *= 10; x").startswith("array([ 0,  1,  2, 30, 40])")
    assert len(calls) == 1
