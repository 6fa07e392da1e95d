"""The interpreter behind the REPL and `maskdsl` reading a pipe: variables, statements, commands.

A line is compiled as one program whose inputs are the session variables it reads
and whose outputs are every name it assigns (plus the value of a final expression
statement, which is what gets printed). New values are stored only after the whole
line ran, so a failing line changes no variable.

>>> s = Session()
>>> print(s.execute("x = arange(6); x[x > 2 & x % 2 == 0] *= 10; x"))
array([ 0,  1,  2,  3, 40,  5])  # int64[6]
>>> print(s.execute(":vars"))
name  dtype  shape
x     int64  (6,)

Front ends (maskdsl.cli.repl, maskdsl.cli) only read text and print; this module knows
nothing of terminals.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import statistics
import textwrap
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from maskdsl.errors import DataError, MaskDSLError, Span, UnknownNameError, escape_text, listing
from maskdsl.passes.strategies import FORCEABLE
from maskdsl.language import syntax
from maskdsl.language.functions import FUNCTIONS
from maskdsl.language.parser import parse
from maskdsl.language.names import IDENTIFIER, KEYWORDS
from maskdsl.pipeline.data_files import ArrayMember, check_supported, read_arrays
from maskdsl.pipeline.files import open_regular
from maskdsl.pipeline.output import write_file
from maskdsl.values import array_type

TIME_BUDGET = 0.5        # seconds :time spends on repeated runs (at least MIN_RUNS of them)
MIN_RUNS, MAX_RUNS = 5, 1000
CACHE_SIZE = 128         # compiled lines kept, keyed by text, strategy and input types

# command -> (arguments, what it does); the order is the order :help lists them in.
COMMANDS = {
    "explain": ("STMT", "show the IR before/after optimisation, the chosen strategies and their costs"),
    "tf": ("STMT", "show the TensorFlow source that STMT runs"),
    "time": ("STMT", "run STMT repeatedly and report the median time (variables are not changed)"),
    "vars": ("", "list the variables with their dtype and shape"),
    "load": ("FILE [as NAME]", "load a .npy array (named after the file, or NAME) or every array of a .npz"),
    "save": ("NAME [NAME ...] FILE", "save variables to FILE (.npy: one array; .npz: several); an existing "
                                     "FILE is kept: :save! replaces it"),
    "strategy": ("[auto|where|scatter|boolean_mask]", "show or force how masked operations are lowered"),
    "reset": ("", "delete every variable"),
    "help": ("", "show this help"),
    "quit": ("", "leave (Ctrl-D, exit and quit() do the same)"),
}
# `:save! ...`: the commands that take a `!` to overwrite what they would otherwise keep.
BANG_COMMANDS = ("save",)
HELP_COLUMN = 22         # :help's command column; a longer command puts its description below it

# What Python's REPL does with these lines (unless a variable has the name).
_PYTHON_WORDS = re.compile(r"\s*(?P<word>exit|quit|help)\s*(?P<call>\(\s*(?P<status>-?\d+)?\s*\))?\s*(#.*)?")

class CommandError(MaskDSLError):
    """A REPL command used wrongly (unknown command, missing argument)."""
    kind = "CommandError"


class Quit(Exception):
    """Raised by `:quit`, `exit`, `quit()`, `exit(N)`; front ends stop reading. `status` is N (None
    when none was given)."""

    def __init__(self, status: int | None = None):
        super().__init__(status)
        self.status = status


class Session:
    """Variables that persist from one statement to the next, and the REPL's commands."""

    def __init__(self, strategy: str = "auto"):
        self.vars: dict[str, np.ndarray] = {}
        self.strategy = strategy
        self._cache: OrderedDict = OrderedDict()
        # A front end's hook, called before a line is compiled (which loads TensorFlow the
        # first time): the REPL says so when it has to wait for TensorFlow.
        self.before_compile = None

    # ---- entry point ----
    def execute(self, text: str) -> str:
        """Run one input (statements or a `:command`); return what to print ('' for nothing).

        `exit`, `quit`, `exit()`, `quit()` (and `exit(N)`) leave and `help`, `help()` show the
        help, as in Python's REPL, unless a variable has that name.
        """
        if text.lstrip().startswith(":"):
            return self.command(text)
        word = _PYTHON_WORDS.fullmatch(text)
        if word and word.group("word") not in self.vars:
            if word.group("word") == "help":
                if word.group("status") is None:
                    return self.cmd_help("")
            else:
                status = word.group("status")
                raise Quit(int(status) if status is not None else None)
        line = self._prepare(text)
        values = self._run(line)
        result = values.pop(line.result, None) if line.result else None
        self.vars.update(values)  # only now: a failing line changes no variable
        return format_value(result) if result is not None else ""

    # ---- statements ----
    def _prepare(self, text: str) -> _Line:
        """Compile a line so that it returns every name it assigns and its final expression."""
        module = parse(text)
        if not module.statements:
            return _Line(text, None)
        shown = _printed(text, module.statements[-1])
        if shown is not None:  # `print(x)` ending a line shows x, as Python's REPL does
            text, module = shown, parse(shown)
        assigned = list(dict.fromkeys(s.name for s in module.statements if isinstance(s, syntax.Assign)))
        last = module.statements[-1]
        if not isinstance(last, syntax.ExprStmt):
            return _Line(text, self._compile(text, assigned))
        if not assigned:
            return _Line(text, self._compile(text, None), result="result")
        # The line assigns and ends with an expression: name that expression, so one program
        # returns both. Errors are mapped back to the text as typed (see _Insertion).
        hidden = _fresh_name(text)
        insertion = _Insertion(text, last.span.start, f"{hidden} = ")
        try:
            program = self._compile(insertion.source, [*assigned, hidden])
        except MaskDSLError as e:
            raise insertion.map_error(e) from None
        return _Line(text, program, hidden, insertion)

    def _compile(self, source: str, outputs):
        """maskdsl.compile with the session variables the source reads as its signature (cached)."""
        if self.before_compile is not None:
            self.before_compile()
        from maskdsl.compiler import compile as compile_program  # TensorFlow loads on first use, not at start

        lowered = compile_program(source, outputs=outputs, strategy=self.strategy)  # parse + lower only: cheap
        unknown = [name for name in lowered.inputs if name not in self.vars]
        signature = {name: str(array_type(self.vars[name])) for name in lowered.inputs if name in self.vars}
        key = (source, tuple(outputs or ()), self.strategy, tuple(signature.items()))
        program = self._cache.get(key)
        if program is not None:
            self._cache.move_to_end(key)
            return program
        try:
            program = lowered.with_signature(signature)
        except UnknownNameError as e:
            if not unknown:
                raise
            # e.hint: a close name the line itself assigns (`lognmae_var = 1; lognmae_vr`)
            raise self._unknown_name(unknown[0], e.span, source, e.hint) from None
        self._cache[key] = program
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return program

    def _unknown_name(self, name: str, span: Span | None, source: str,
                      in_line: str | None = None) -> UnknownNameError:
        """`in_line`: the did-you-mean for a close name assigned in the same line, if any."""
        close = difflib.get_close_matches(name, self.vars, n=1)
        hint = (f"did you mean '{close[0]}'?" if close else in_line or
                "assign it first, or :load it from a .npy/.npz file")
        return UnknownNameError(f"name '{escape_text(name)}' is not defined", span, source=source, hint=hint)

    def _run(self, line: _Line) -> dict[str, np.ndarray]:
        """Call a compiled line on the session variables; returns output name -> array."""
        program = line.program
        if program is None:
            return {}
        try:
            returned = program(**{name: self.vars[name] for name in program.inputs})
        except MaskDSLError as e:
            if line.insertion is not None:
                e = line.insertion.map_error(e)
            raise e.with_source(line.text) from None
        if len(program.outputs) == 1:
            returned = {program.outputs[0]: returned}
        return {name: np.asarray(value.numpy()) for name, value in returned.items()}

    # ---- commands ----
    def command(self, text: str) -> str:
        """Run a `:command`; raises CommandError for unknown ones or wrong arguments."""
        match = re.match(r"\s*:(\S*)\s*", text)
        name, rest = match.group(1), text[match.end():].rstrip()
        force = name.endswith("!") and name[:-1] in BANG_COMMANDS
        if force:
            name = name[:-1]
        if name not in COMMANDS:
            close = difflib.get_close_matches(name, COMMANDS, n=1)
            hint = f"did you mean :{close[0]}?" if close else "type :help for the list of commands"
            raise CommandError(f"unknown command ':{escape_text(name)}'", hint=hint)
        try:
            return getattr(self, f"cmd_{name}")(rest, force=True) if force else getattr(self, f"cmd_{name}")(rest)
        except MaskDSLError as e:
            # Spans of a statement argument point into `rest`; show them under the whole line.
            if e.source == rest and e.span is not None:
                e = e.relocated(source=text, offset=match.end())
            raise e.with_source(text) from None

    def _statement_arg(self, rest: str, command: str) -> str:
        if not rest.strip():
            raise CommandError(f"usage: :{command} {COMMANDS[command][0]}")
        return rest

    def cmd_explain(self, rest: str) -> str:
        return self._compile(self._statement_arg(rest, "explain"), None).explain()

    def cmd_tf(self, rest: str) -> str:
        return self._compile(self._statement_arg(rest, "tf"), None).source.rstrip()

    def cmd_time(self, rest: str) -> str:
        line = self._prepare(self._statement_arg(rest, "time"))
        if line.program is None:
            raise CommandError(":time needs a statement, not only a comment")
        started = time.perf_counter()
        self._run(line)  # the first call traces the tf.function
        first = time.perf_counter() - started
        times = []
        while len(times) < MIN_RUNS or (sum(times) < TIME_BUDGET and len(times) < MAX_RUNS):
            started = time.perf_counter()
            self._run(line)
            times.append(time.perf_counter() - started)
        return (f"median {format_seconds(statistics.median(times))} over {len(times)} runs "
                f"(min {format_seconds(min(times))}, max {format_seconds(max(times))}; "
                f"first call, with tracing: {format_seconds(first)})")

    def cmd_vars(self, rest: str) -> str:
        self._no_args(rest, "vars")
        if not self.vars:
            return "(no variables)"
        rows = [("name", "dtype", "shape")]
        rows += [(name, value.dtype.name, str(value.shape)) for name, value in self.vars.items()]
        widths = [max(len(row[i]) for row in rows) for i in range(2)]
        return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows)

    def cmd_load(self, rest: str) -> str:
        args = _split_args(rest)
        if len(args) == 1:
            path, name = args[0], None
        elif len(args) == 3 and args[1] == "as":
            path, name = args[0], check_name(args[2])
        else:
            raise CommandError(f"usage: :load {COMMANDS['load'][0]}")
        arrays = load_arrays(path, name)
        self.vars.update(arrays)
        return "\n".join(f"{name}: {array_type(value)}" for name, value in arrays.items())

    def cmd_save(self, rest: str, force: bool = False) -> str:
        args = _split_args(rest)
        if len(args) < 2:
            raise CommandError(f"usage: :save {COMMANDS['save'][0]}")
        *names, path = args
        for name in names:
            if name not in self.vars:
                raise self._unknown_name(name, None, rest)
        save_arrays(path, {name: self.vars[name] for name in names}, force=force)
        return f"saved {', '.join(names)} to {escape_text(path)}"

    def cmd_strategy(self, rest: str) -> str:
        choice = rest.strip()
        if choice:
            if choice not in FORCEABLE:
                raise CommandError(f"unknown strategy '{escape_text(choice)}'; choose one of {', '.join(FORCEABLE)}")
            self.strategy = choice
        return f"strategy: {self.strategy}"

    def cmd_reset(self, rest: str) -> str:
        self._no_args(rest, "reset")
        self.vars.clear()
        self._cache.clear()
        return "all variables deleted"

    def cmd_help(self, rest: str) -> str:
        return help_text(shutil.get_terminal_size().columns)

    def cmd_quit(self, rest: str) -> str:
        raise Quit()

    def _no_args(self, rest: str, command: str) -> None:
        if rest.strip():
            raise CommandError(f":{command} takes no arguments")


def _printed(text: str, last) -> str | None:
    """The line with a final `print(expr)` read as `expr` (the call's text blanked, so every column
    stays where it was typed), or None. print is Python's; the REPL shows a line's final expression."""
    if not isinstance(last, syntax.ExprStmt) or not isinstance(last.expr, syntax.Call):
        return None
    call = last.expr
    if call.func != "print" or call.method or call.namespace or len(call.args) != 1 or call.kwargs:
        return None
    arg = call.args[0].span
    if call.span is None or arg is None:
        return None

    def blank(part: str) -> str:
        return "".join(c if c == "\n" else " " for c in part)
    return (text[:call.span.start] + blank(text[call.span.start:arg.start]) + text[arg.start:arg.end] +
            blank(text[arg.end:call.span.end]) + text[call.span.end:])


def help_text(width: int) -> str:
    """:help, fitted to a terminal `width` columns wide (at least 40): a narrow command column,
    descriptions wrapped beside it, and a command too long for the column on a line of its own.

    >>> lines = help_text(60).splitlines()
    >>> max(len(line) for line in lines) < 60
    True
    >>> print("\\n".join(lines[lines.index("  :strategy [auto|where|scatter|boolean_mask]"):][:3]))
      :strategy [auto|where|scatter|boolean_mask]
                              show or force how masked
                              operations are lowered
    """
    width = max(40, width - 1)  # a character written in the last column wraps on some terminals
    indent = " " * (2 + HELP_COLUMN + 2)
    lines = ["Type statements such as", "  x = arange(10); x[x > 4 & x % 2 == 0] *= 2; x"]
    lines += textwrap.wrap("An expression at the end of a line is printed. Brackets left open continue the "
                           "statement on the next line. exit, quit() or Ctrl-D leave. Commands:", width)
    for name, (args, summary) in COMMANDS.items():
        usage = f":{name}{'[!]' if name in BANG_COMMANDS else ''} {args}".rstrip()
        wrapped = textwrap.wrap(summary, width - len(indent)) or [""]
        if len(usage) <= HELP_COLUMN:
            lines.append(f"  {usage:<{HELP_COLUMN}}  {wrapped[0]}".rstrip())
            wrapped = wrapped[1:]
        else:
            lines.append(f"  {usage}")
        lines += [indent + line for line in wrapped]
    lines += textwrap.wrap("Built-in functions: " + " ".join(FUNCTIONS), width, break_on_hyphens=False)
    lines.append("Ctrl-C cancels the current line.")
    return "\n".join(lines)


# ---- values and files ----

def format_value(value: np.ndarray) -> str:
    """NumPy's repr, then the dtype and shape as a comment.

    >>> print(format_value(np.arange(3)))
    array([0, 1, 2])  # int64[3]
    >>> print(format_value(np.asarray(np.float32(0.1))))
    0.1  # float32
    """
    text = str(value[()]) if value.ndim == 0 else np.array_repr(value)
    return f"{text}  # {array_type(value)}"


def format_seconds(seconds: float) -> str:
    """
    >>> format_seconds(0.0000123), format_seconds(0.25), format_seconds(3)
    ('12.3 µs', '250 ms', '3.00 s')
    """
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale or unit == "µs":
            value = seconds / scale
            return f"{value:.3g} {unit}" if unit != "s" else f"{value:.2f} s"


def check_name(name: str) -> str:
    """A variable name a program can read, or a CommandError saying why not.

    >>> check_name("x_2")
    'x_2'
    """
    if not IDENTIFIER.match(name):
        raise CommandError(f"'{escape_text(name)}' is not a valid name (letters, digits and _; "
                           f"not starting with a digit)")
    if name.startswith("__") or name in FUNCTIONS or name in KEYWORDS:
        raise CommandError(f"'{name}' cannot be a variable name: it is reserved")
    return name


_NUMPY_MAGIC = (b"\x93NUMPY", b"PK\x03\x04", b"PK\x05\x06")  # .npy; .npz (a zip file, or an empty one)


def load_arrays(path: str, name: str | None = None) -> dict[str, np.ndarray]:
    """Arrays of a .npy (under `name`, default the file's stem) or .npz file (under their keys)."""
    try:
        with open_regular(os.path.expanduser(path)) as f:   # a FIFO must not block, /dev/zero never ends
            start = f.read(6)
    except OSError:
        start = None  # read_arrays says why it cannot be read (not a regular file, missing, ...)
    if start is not None and not start.startswith(_NUMPY_MAGIC):
        raise DataError(f"cannot load {escape_text(path)}: it is not a .npy or .npz file (the files np.save "
                        f"and np.savez write)")
    arrays, is_archive = read_arrays(path)
    if name is not None:
        if is_archive and len(arrays) != 1:
            raise CommandError(f"{escape_text(path)} holds {len(arrays)} arrays ({listing(arrays)}); "
                               f"'as NAME' needs exactly one, or load it without 'as'")
        arrays = {name: next(iter(arrays.values()))}
    for key in arrays:
        try:
            check_name(key)
        except CommandError as e:
            raise DataError(f"cannot load {escape_text(path)}: {e.message}; use :load FILE as NAME",
                            name=key) from None
        arrays[key] = check_supported(path, key, arrays[key])
    return arrays


def save_arrays(path: str, arrays: dict[str, np.ndarray], force: bool = False) -> None:
    """Write one array to a .npy file or several to a .npz file, atomically. An existing file is
    kept (a CommandError) unless `force` (`:save!`)."""
    if path.endswith(".npy") and len(arrays) != 1:
        raise CommandError("a .npy file holds one array; save several to a .npz file")
    if not path.endswith((".npy", ".npz")):
        raise CommandError(f"cannot save to {escape_text(path)}: the file name must end in .npy or .npz")
    full = os.path.expanduser(path)
    if os.path.islink(full):  # neither write where it points nor silently turn it into a file
        raise DataError(f"cannot save to {escape_text(path)}: it is a symbolic link; give the file's own path")
    exists = CommandError(f"{escape_text(path)} already exists", hint="use :save! to replace it, or another file name",
                          code="exists")
    if not force and os.path.exists(full):
        raise exists
    try:
        write_file(full, [ArrayMember(n, a) for n, a in arrays.items()], force=force)
    except OSError as e:
        raise DataError(f"cannot write {escape_text(path)}: {e.strerror or e}") from None
    except DataError:
        if not force and os.path.exists(full):  # it appeared while we wrote ours
            raise exists from None
        raise


def _split_args(rest: str) -> list[str]:
    try:
        return shlex.split(rest)
    except ValueError as e:
        raise CommandError(f"cannot read the arguments: {e}") from None


# ---- reading statements ----

def needs_more(text: str) -> bool:
    """True while a bracket is still open: the statement goes on on the next line.

    >>> needs_more("x = [1,"), needs_more("x = [1]  # [ in a comment"), needs_more(":vars [")
    (True, False, False)
    """
    if text.lstrip().startswith(":"):
        return False
    depth = 0
    for line in text.split("\n"):
        for ch in line.split("#", 1)[0]:
            depth += (ch in "([") - (ch in ")]")
            if depth < 0:
                return False  # more closers than openers: let the parser say so
    return depth > 0


def run_script(session: Session, stream: TextIO, out: TextIO, err: TextIO,
               filename: str = "<stdin>") -> int:
    """Run statements read from a file or pipe, printing results; 1 if any failed, else 0.

    >>> import io
    >>> run_script(Session(), io.StringIO("y = 2 * 3\\ny\\n"), io.StringIO(), io.StringIO())
    0
    """
    read, pending, start = "", "", 0
    failed = False

    def run(text: str) -> bool:
        return run_and_print(session, text, out, err, lambda e: _rebase(e, read, start, filename))

    try:
        for line in stream:
            if not pending:
                start = len(read)
            read += line
            pending += line
            if not needs_more(pending):
                failed |= not run(pending.rstrip("\r\n"))
                pending = ""
        if pending.strip():  # brackets still open at the end: the parser will say so
            failed |= not run(pending)
    except Quit as stop:
        if stop.status is not None:
            return stop.status
    return 1 if failed else 0


def run_and_print(session: Session, text: str, out: TextIO, err: TextIO, relocate=None) -> bool:
    """Execute `text`, print its output or its error; False if it failed (Quit passes through)."""
    try:
        output = session.execute(text)
    except MaskDSLError as e:
        print(relocate(e) if relocate else e, file=err)
        return False
    except Quit:
        raise
    except Exception as e:  # a bug in maskdsl, not in the user's program
        print(f"internal error: {type(e).__name__}: {escape_text(str(e))}\n"
              f"(this is a maskdsl bug; please report it)", file=err)
        return False
    if output:
        print(output, file=out)
    return True


def _rebase(error: MaskDSLError, source: str, start: int, filename: str) -> MaskDSLError:
    """Point an error raised for source[start:] into the whole source, as file:line:col."""
    if error.span is None:  # at the start of the statement
        return error.relocated(span=Span.at(source, start, start + 1), source=source, filename=filename)
    return error.relocated(source=source, filename=filename, offset=start)


# ---- naming the final expression ----

def _fresh_name(text: str) -> str:
    """A name that appears nowhere in text (so it cannot clash with the user's)."""
    name, n = "_result", 0
    while name in text:
        n += 1
        name = f"_result{n}"
    return name


@dataclass
class _Line:
    """A compiled input line; `result` names the output that holds the value to print."""
    text: str
    program: object | None
    result: str | None = None
    insertion: _Insertion | None = None


class _Insertion:
    """`text` with `inserted` put at `offset`; maps error spans back to the original text.

    >>> ins = _Insertion("x = 1; x + y", 7, "_r = ")
    >>> ins.source
    'x = 1; _r = x + y'
    >>> ins.original_offset(15), ins.original_offset(8), ins.original_offset(3)
    (10, 7, 3)
    """

    def __init__(self, text: str, offset: int, inserted: str):
        self.text, self.offset, self.length = text, offset, len(inserted)
        self.source = text[:offset] + inserted + text[offset:]

    def original_offset(self, position: int) -> int:
        if position < self.offset:
            return position
        return max(self.offset, position - self.length)

    def map_error(self, error: MaskDSLError) -> MaskDSLError:
        """The error (raised for `source`) pointing into the text as typed (a copy)."""
        if error.source not in (None, self.source):
            return error

        def mapped(span: Span) -> Span:
            return Span.at(self.text, self.original_offset(span.start), self.original_offset(span.end))

        return error.relocated(span=mapped(error.span) if error.span is not None else None, source=self.text,
                               places={k: mapped(p) if isinstance(p, Span) else p for k, p in error.places.items()})
