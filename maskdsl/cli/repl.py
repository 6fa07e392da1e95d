"""The interactive front end: prompt_toolkit around a Session.

Line editing and persistent history, highlighting with MaskDSLLexer, completion of
variables, built-in functions and `:commands`, and multi-line input while a bracket
is open. Everything a line does is the Session's business; this module reads and prints.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TextIO
from collections.abc import Iterable

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import PygmentsLexer

from maskdsl.version import __version__
from maskdsl.language.highlight import MaskDSLLexer
from maskdsl.ir.dtypes import DTYPES
from maskdsl.language.functions import DTYPE_ALIASES, FUNCTIONS, METHODS, NAMESPACES, NUMPY_CONSTANTS
from maskdsl.language.names import CONSTANTS, OPERATOR_WORDS
from maskdsl.passes.strategies import FORCEABLE
from maskdsl.cli.session import BANG_COMMANDS, COMMANDS, Quit, Session, needs_more, run_and_print
from maskdsl.cli.startup import wait_for_tensorflow
from maskdsl.values import array_type

PROMPT = "mdsl> "
BANNER = (f"maskdsl {__version__}: NumPy-style boolean indexing, compiled to TensorFlow.\n"
          f"Try `x = arange(10); x[x > 4 & x % 2 == 0] *= 2; x`. :help lists the commands, Ctrl-D quits.")
WAITING = "(TensorFlow is still loading; the first line waits for it)"

_WORD = re.compile(r"(?<![\w.])[A-Za-z_]\w*$")   # a name being typed (not the tail of a number)
_DOTTED = re.compile(r"(?:(?<![\w.])(?P<prefix>[A-Za-z_]\w*)|[)\]])\.(?P<word>[A-Za-z_]\w*)?$")  # `x.su`, `np.wh`
_COMMAND = re.compile(r"\s*:(\w*)!?(\s+)?")


def history_path() -> Path:
    """$MASKDSL_HISTORY, else $XDG_DATA_HOME/maskdsl/history, else ~/.local/share/maskdsl/history."""
    override = os.environ.get("MASKDSL_HISTORY")
    if override:
        return Path(override).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):  # the XDG spec says to ignore relative paths
        data_home = Path.home() / ".local" / "share"
    return Path(data_home) / "maskdsl" / "history"


def open_history(path: Path | None = None) -> History:
    """A FileHistory at `path` (its folder is created); in memory if the file cannot be used."""
    path = path or history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError as e:
        print(f"maskdsl: history is not kept: cannot write {path}: {e.strerror}", file=sys.stderr)
        return InMemoryHistory()
    return FileHistory(str(path))


class MaskDSLCompleter(Completer):
    """Completes `:commands`, their arguments, variable names, built-in functions and keywords."""

    def __init__(self, session: Session):
        self.session = session
        self.paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        before = document.text_before_cursor
        command = _COMMAND.match(before)
        if command and "\n" not in before:
            name, rest = command.group(1), before[command.end():]
            forced = before[:command.end()].rstrip().endswith("!")  # :save! FILE
            if forced and (command.group(2) is None or name not in BANG_COMMANDS):
                return
            if command.group(2) is None:  # still typing the command's name
                yield from _matching(name, {c: summary for c, (_, summary) in COMMANDS.items()})
                return
            if name == "strategy":
                yield from _matching(rest, dict.fromkeys(FORCEABLE, "strategy"))
                return
            if name in ("load", "save"):
                words = rest.split()
                new_word = not rest or rest[-1].isspace()
                position = len(words) - (0 if new_word else 1)  # which argument is being typed
                word = "" if new_word else words[-1]
                if name == "save" and position == 0:
                    yield from _matching(word, self._variables())
                elif name == "save" or position == 0:
                    yield from self.paths.get_completions(Document(word), complete_event)
                return
            # :explain, :tf and :time take a statement: complete it like one.
        yield from self._names(document.current_line_before_cursor, complete_event)

    def _names(self, line: str, complete_event: CompleteEvent) -> Iterable[Completion]:
        if "#" in line:
            return
        dotted = _DOTTED.search(line)
        if dotted:  # after `x.` the methods and attributes; after `np.` NumPy's names
            yield from _matching(dotted.group("word") or "", self._after_dot(dotted.group("prefix")))
            return
        match = _WORD.search(line)
        prefix = match.group() if match else ""
        if not prefix and not complete_event.completion_requested:
            return  # while typing, offer names only once one is begun; Tab offers them all
        choices = self._variables()
        choices.update({name: f.summary for name, f in FUNCTIONS.items()})
        choices.update(dict.fromkeys(CONSTANTS + OPERATOR_WORDS, "keyword"))
        yield from _matching(prefix, choices)

    def _after_dot(self, prefix: str | None) -> dict[str, str]:
        if prefix in NAMESPACES and prefix not in self.session.vars:
            names = {name: f.summary for name, f in FUNCTIONS.items() if f.numpy}
            names.update(dict.fromkeys(NUMPY_CONSTANTS, "constant"))
            names.update({name: "dtype" for name in (*DTYPES, *DTYPE_ALIASES) if name not in ("float", "int")})
            return names
        return {m.name: ("attribute: " if m.attribute else "method: ") + FUNCTIONS[m.function].summary
                for m in METHODS.values()}

    def _variables(self) -> dict[str, str]:
        return {name: str(array_type(value)) for name, value in self.session.vars.items()}


def _matching(prefix: str, choices: dict[str, str]) -> Iterable[Completion]:
    """Completions for the choices that start with prefix, shown with their description."""
    for name in sorted(choices):
        if name.startswith(prefix):
            yield Completion(name, start_position=-len(prefix), display_meta=choices[name])


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter")
    @bindings.add("c-j")  # what a pipe or a terminal in cooked mode sends for Enter
    def _enter(event):
        """Run the input, unless a bracket is still open: then go on on a new line."""
        buffer = event.current_buffer
        if needs_more(buffer.text):
            buffer.insert_text("\n")
        else:
            buffer.validate_and_handle()

    return bindings


def _continuation(width: int, line_number: int, is_soft_wrap: bool) -> str:
    return "...".rjust(width - 1) + " "


def make_prompt(session: Session, *, history: History | None = None, input=None, output=None) -> PromptSession:
    """The PromptSession the REPL reads with (input/output can be a pipe and DummyOutput in tests)."""
    return PromptSession(
        PROMPT,
        history=history if history is not None else open_history(),
        lexer=PygmentsLexer(MaskDSLLexer),
        completer=MaskDSLCompleter(session),
        multiline=True,                  # Enter is handled by _key_bindings
        key_bindings=_key_bindings(),
        prompt_continuation=_continuation,
        input=input,
        output=output,
    )


def run_repl(session: Session | None = None, *, history: History | None = None, input=None, output=None,
             out: TextIO | None = None) -> int:
    """Read, run and print until :quit, exit, quit() or Ctrl-D (exit status 0, or N for exit(N)).
    Ctrl-C cancels the line being typed (or run)."""
    session = session or Session()
    out = out or sys.stdout
    prompt = make_prompt(session, history=history, input=input, output=output)
    session.before_compile = lambda: wait_for_tensorflow(lambda: print(WAITING, file=out, flush=True))
    print(BANNER, file=out)
    while True:
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        try:
            run_and_print(session, text, out, out)
        except Quit as stop:
            return stop.status or 0
        except KeyboardInterrupt:
            print("interrupted; no variable was changed", file=out)
        out.flush()
    return 0
