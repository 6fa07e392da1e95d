"""IPython and Jupyter: `%load_ext maskdsl`, the `%maskdsl` and `%%maskdsl` magics, rich display.

    %load_ext maskdsl

    %%maskdsl
    x[x > 4 & x % 2 == 0] *= 2
    x

A cell runs as a line of the REPL does (maskdsl.cli.session): the program's inputs are
read from the notebook's namespace, every name it assigns is written back (as NumPy
arrays, or tf.Tensors with `--tensors`) once the whole cell has succeeded, and the
value of a final expression statement is the cell's result. `--explain`, `--tf` and
`--time` show what the REPL's `:explain`, `:tf` and `:time` show, instead of running
the cell. An error is displayed with its caret and stops the cell (and "Run All")
without a traceback. docs/notebooks.md has the options and the decisions behind them.

Only `load_ipython_extension` needs IPython; the display objects work without it:

>>> parse_options("--tf --strategy scatter x[x > 4] *= 2")
(Options(explain=False, tf=True, time=False, tensors=False, strategy='scatter', signature={}), 'x[x > 4] *= 2')
>>> print(error_html(errors.ParseError("expected a name after '<'")))  # doctest: +ELLIPSIS
<pre style="...">ParseError: expected a name after &#x27;&lt;&#x27;</pre>
"""

from __future__ import annotations

import difflib
import html
import re
import shlex
import sys
from dataclasses import dataclass, field

import numpy as np
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from maskdsl import errors
from maskdsl.cli.session import CACHE_SIZE, Session
from maskdsl.passes.strategies import FORCEABLE

# option -> (its value's name, or None for a flag; what it does). The usage text is made from it.
OPTIONS = {
    "explain": (None, "show the IR before and after optimisation, the chosen strategies and their costs, "
                      "and the TensorFlow source, instead of running (the REPL's :explain)"),
    "tf": (None, "show the TensorFlow source that runs, instead of running (the REPL's :tf)"),
    "time": (None, "time repeated runs instead of running once (the REPL's :time); no variable changes"),
    "tensors": (None, "write the outputs, and return the result, as tf.Tensors instead of NumPy arrays"),
    "strategy": ("S", f"force how masked operations are lowered: {', '.join(FORCEABLE)} (the REPL's :strategy)"),
    "signature": ("NAME=SPEC", "compile NAME as type SPEC (e.g. 'x=float32[None]': any length) instead of "
                               "its value's type; repeat for more names"),
}

USAGE = "\n".join([
    "%maskdsl [options] STATEMENTS     run maskdsl statements on the notebook's variables",
    "%%maskdsl [options]               run the cell below as a maskdsl program",
    "",
    "Inputs are read from the notebook's namespace; every assigned name is written back,",
    "and a final expression statement is the result. Options:",
    *(f"  --{name}{' ' + value if value else ''}\n      {text}" for name, (value, text) in OPTIONS.items()),
    "A `--` ends the options of %maskdsl (for a statement that starts with --).",
])

_ERROR_STYLE = ("color: #b00020; background: #fff5f5; border-left: 3px solid #b00020; "
                "padding: 0.4em 0.6em; white-space: pre; overflow-x: auto")
_HIGHLIGHT = HtmlFormatter(noclasses=True)  # inline styles: notebooks keep no stylesheet of ours
_PRE = ' style="overflow-x: auto"'  # IR lines are long: scroll rather than wrap


# ---- options ----

def _compile(source: str, **options):
    """maskdsl.compile, imported when a cell first runs (it loads TensorFlow)."""
    from maskdsl.compiler import compile as compile_program
    return compile_program(source, **options)


@dataclass
class Options:
    """The options of one magic call."""

    explain: bool = False
    tf: bool = False
    time: bool = False
    tensors: bool = False
    strategy: str = "auto"
    signature: dict = field(default_factory=dict)


_WORD = re.compile(r"""\s*((?:[^\s"']|"[^"]*"|'[^']*')+)""")  # a shell-style word; quotes may hold spaces


def parse_options(line: str) -> tuple[Options, str]:
    """The options at the start of a magic's line, and the rest of the line as typed.

    The rest is kept character for character, so error columns point into it.

    >>> parse_options('--signature "x=float32[None, 3]" --time sum(x)')
    (Options(explain=False, tf=False, time=True, tensors=False, strategy='auto', signature={'x': 'float32[None, 3]'}), 'sum(x)')
    >>> parse_options("--tensors -- --x")[1]
    '--x'
    """
    options, position = Options(), 0
    while (match := _WORD.match(line, position)) and match.group(1).startswith("--"):
        position = match.end()
        word = match.group(1)
        if word == "--":
            break
        name, has_value, value = word[2:].partition("=")
        if name not in OPTIONS:
            raise _usage_error(f"unknown option {word.split('=')[0]}; the options are "
                               f"{', '.join('--' + o for o in OPTIONS)}")
        if OPTIONS[name][0] is None:
            if has_value:
                raise _usage_error(f"--{name} takes no value")
            setattr(options, name, True)
            continue
        if not has_value:
            match = _WORD.match(line, position)
            if match is None:
                raise _usage_error(f"--{name} needs a value: --{name} {OPTIONS[name][0]}")
            value, position = match.group(1), match.end()
        _set_option(options, name, _unquote(value))
    return options, line[position:].strip()


def _unquote(word: str) -> str:
    try:
        parts = shlex.split(word)
    except ValueError as e:
        raise _usage_error(f"cannot read {word!r}: {e}") from None
    return parts[0] if len(parts) == 1 else word


def _set_option(options: Options, name: str, value: str) -> None:
    if name == "strategy":
        if value not in FORCEABLE:
            raise _usage_error(f"unknown strategy {value!r}; choose one of {', '.join(FORCEABLE)}")
        options.strategy = value
    else:  # signature
        target, _, spec = value.partition("=")
        if not target.isidentifier() or not spec.strip():
            raise _usage_error(f"--signature takes NAME=SPEC, such as x=float32[None], not {value!r}")
        options.signature[target] = spec


def _usage_error(message: str) -> Exception:
    """IPython's UsageError: shown as one line, without a traceback (how IPython's own magics
    report a wrong call)."""
    from IPython.core.error import UsageError
    return UsageError(f"{message} (`%maskdsl?` shows the usage)")


# ---- values in the namespace ----

def input_spec(value) -> str | None:
    """The type spec maskdsl compiles a notebook value as, or None if it cannot be an input.

    NumPy arrays and tensors keep their dtype; lists and numbers become what np.asarray
    makes of them. Only bool, integer and float dtypes of at most 64 bits are read.

    >>> input_spec(np.zeros((2, 3), np.float32)), input_spec(5), input_spec([1.5, 2]), input_spec("5")
    ('float32[2, 3]', 'int64', 'float64[2]', None)
    """
    tf = sys.modules.get("tensorflow")  # a value cannot be a tensor while TensorFlow is not loaded
    if tf is not None and tf.is_tensor(value):
        if value.shape.rank is None:
            return None
        dtype, shape = np.dtype(value.dtype.as_numpy_dtype), tuple(value.shape.as_list())
    else:
        if not isinstance(value, (np.ndarray, np.generic, bool, int, float, list, tuple)):
            return None
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):  # ragged lists
            return None
        dtype, shape = array.dtype, array.shape
    if dtype.kind not in "biuf" or dtype.itemsize > 8 or None in shape:
        return None
    return f"{dtype.name}[{', '.join(map(str, shape))}]" if shape else dtype.name


def _looks_like_array(value) -> bool:
    """A cheap test (no conversion) for the names a "did you mean" may suggest."""
    return (isinstance(value, (np.ndarray, np.generic, int, float))
            or (hasattr(value, "dtype") and hasattr(value, "shape")))  # tensors, without importing TensorFlow


def _describe(value) -> str:
    """What a value that cannot be an input is, for a message: "an array of dtype complex128"."""
    dtype = getattr(value, "dtype", None)
    if isinstance(value, np.ndarray):
        return f"an array of dtype {dtype}"
    if dtype is not None:
        return f"a {type(value).__name__} of dtype {getattr(dtype, 'name', dtype)}"
    return "None" if value is None else f"of type {type(value).__name__}"


# ---- the interpreter ----

class NotebookSession(Session):
    """The REPL's interpreter (maskdsl.cli.session.Session) with a notebook's namespace as its variables.

    A cell is compiled as a REPL line is: its inputs are the names it reads before assigning
    them, its outputs every name it assigns plus its final expression. Programs are cached by
    text, strategy and input types, so running a cell again does not compile it again.
    `strategy`, `signature` (name -> spec, overriding the value's type) and `tensors` are
    the options of the magic being run.
    """

    def __init__(self, namespace: dict):
        super().__init__()
        self.namespace = namespace
        self.signature: dict[str, str] = {}
        self.tensors = False

    # ---- what the magics call ----
    def run(self, text: str):
        """Run statements; write every assigned name back to the namespace and return the final
        expression's value (None without one). A failing cell changes no variable."""
        line = self._prepare(text)
        values = self._run(line)
        result = values.pop(line.result, None) if line.result else None
        self.namespace.update(values)
        return result

    def explain(self, text: str) -> Explanation:
        return Explanation(self._compile(text, None).explain())

    def tensorflow_source(self, text: str) -> TensorFlowSource:
        return TensorFlowSource(self._compile(text, None).source)

    def time(self, text: str) -> str:
        return self.cmd_time(text)

    # ---- Session's hooks ----
    def _compile(self, source: str, outputs):
        """maskdsl.compile with the types of the namespace values the source reads (cached)."""
        inputs = _compile(source, outputs=outputs).inputs  # parse + lower only: cheap
        signature = {}
        for name in inputs:
            spec = self.signature.get(name)
            if spec is None and name in self.namespace:
                spec = input_spec(self.namespace[name])
            if spec is not None:
                signature[name] = spec
        signature.update(self.signature)  # a spec for a name the program never reads is compile()'s error
        key = (source, tuple(outputs or ()), self.strategy, tuple(signature.items()))
        program = self._cache.get(key)
        if program is not None:
            self._cache.move_to_end(key)
            return program
        try:
            program = _compile(source, outputs=outputs, signature=signature, strategy=self.strategy)
        except errors.UnknownNameError as e:
            unreadable = next((name for name in inputs if name not in signature), None)
            if unreadable is None:
                raise
            raise self._unreadable(unreadable, e.span, source) from None
        self._cache[key] = program
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return program

    def _unreadable(self, name: str, span, source: str) -> errors.MaskDSLError:
        """The error for an input the namespace lacks, or holds something that is not an array."""
        if name not in self.namespace:
            return self._unknown_name(name, span, source)
        return errors.InputError(f"'{name}' is {_describe(self.namespace[name])}, not an array maskdsl can read",
                                  span, source=source,
                                  hint="inputs are NumPy arrays, tensors, lists or numbers of bool, integer "
                                       "or float dtype")

    def _unknown_name(self, name: str, span, source: str) -> errors.UnknownNameError:
        arrays = [n for n, v in self.namespace.items() if not n.startswith("_") and _looks_like_array(v)]
        close = difflib.get_close_matches(name, arrays, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"assign it in a Python cell first ({name} = np.array(...))"
        return errors.UnknownNameError(f"name '{name}' is not defined in the notebook", span, source=source,
                                        hint=hint)

    def _run(self, line) -> dict:
        """Call a compiled line on the namespace's values: output name -> NumPy array (a NumPy scalar
        for a 0-d result, as NumPy's reductions give), or tf.Tensor if `tensors`."""
        program = line.program
        if program is None:
            return {}
        try:
            returned = program(**{name: self.namespace[name] for name in program.inputs})
        except errors.MaskDSLError as e:
            if line.insertion is not None:
                e = line.insertion.map_error(e)
            raise e.with_source(line.text) from None
        if len(program.outputs) == 1:
            returned = {program.outputs[0]: returned}
        if self.tensors:
            return dict(returned)
        return {name: value.numpy() for name, value in returned.items()}


# ---- the magic ----

class MaskDSLMagic:
    """`%maskdsl [options] STATEMENTS` and `%%maskdsl [options]` (the cell is the program).

    Inputs are read from the notebook's namespace; every assigned name is written back
    (NumPy arrays, or tf.Tensors with --tensors) and a final expression statement is the
    result. `%maskdsl?` lists the options; docs/notebooks.md explains them.
    """

    def __init__(self, shell):
        self.shell = shell
        self.session = NotebookSession(shell.user_ns)
        self.__doc__ = f"{USAGE}\ndocs/notebooks.md has examples and the rules."  # what `%maskdsl?` shows

    def __call__(self, line: str, cell: str | None = None):
        options, statements = parse_options(line)
        if cell is None:
            if not statements.strip():
                raise _usage_error("%maskdsl needs statements after its options")
            text = statements
        else:
            if statements:
                raise _usage_error(f"%%maskdsl takes only options on its first line, not {statements!r}: "
                                   f"the program is the cell below it")
            # The %%maskdsl line is line 1 of the cell: an empty line in its place makes error
            # positions count lines as Jupyter shows them.
            text = "\n" + cell
        session = self.session
        session.namespace = self.shell.user_ns  # the same dict, unless the shell replaced it
        session.strategy, session.signature, session.tensors = options.strategy, options.signature, options.tensors
        try:
            if not (options.explain or options.tf or options.time):
                result = session.run(text)
                return None if _ends_with_semicolon(text) else result
            self._show(text, options)
            return None
        except errors.MaskDSLError as error:
            from IPython.display import display
            display(ErrorDisplay(error))
            # IPython prints what _render_traceback_ returns instead of a traceback: the error is
            # raised (so the cell fails and Run All stops) but shown in full only once, above.
            summary = f"maskdsl stopped the cell: {error.kind} (shown above); no variable was changed"
            error._render_traceback_ = lambda: [summary]
            raise

    def _show(self, text: str, options: Options) -> None:
        from IPython.display import display
        if not text.strip():
            raise _usage_error("--explain, --tf and --time need a statement")
        if options.explain:
            display(self.session.explain(text))
        if options.tf:
            display(self.session.tensorflow_source(text))
        if options.time:
            print(self.session.time(text))


def _ends_with_semicolon(text: str) -> bool:
    """A final `;` hides the result, as in a Python cell. (Not IPython's output_can_be_silenced:
    it reads the cell with Python's tokenizer, which rejects some maskdsl, such as indented lines.)

    >>> _ends_with_semicolon("x + 1;  # quiet"), _ends_with_semicolon("x; y")
    (True, False)
    """
    code = "\n".join(line.split("#", 1)[0] for line in text.split("\n"))  # maskdsl has no strings
    return code.rstrip().endswith(";")


def load_ipython_extension(ipython) -> None:
    """Register the %maskdsl / %%maskdsl magic and the rich display of MaskDSLError values."""
    from IPython.core.magic import no_var_expand

    # `$` and `{...}` stay as typed: error columns point into the text.
    magic = no_var_expand(MaskDSLMagic(ipython))
    ipython.register_magic_function(magic, magic_kind="line_cell", magic_name="maskdsl")
    ipython.display_formatter.formatters["text/html"].for_type(errors.MaskDSLError, error_html)


def unload_ipython_extension(ipython) -> None:
    """Remove what load_ipython_extension registered (`%unload_ext maskdsl`, `%reload_ext maskdsl`)."""
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("maskdsl", None)
    ipython.display_formatter.formatters["text/html"].pop(errors.MaskDSLError, None)


# ---- rich display ----

def error_html(error: errors.MaskDSLError) -> str:
    """str(error) (location, message, the source line with its caret, hint) in a <pre>, escaped."""
    return f'<pre style="{_ERROR_STYLE}">{html.escape(str(error))}</pre>'


def highlight_python(source: str) -> str:
    """Python source as highlighted HTML (inline styles)."""
    return highlight(source, PythonLexer(), _HIGHLIGHT)


class ErrorDisplay:
    """A MaskDSLError as the magics display it: the caret message, as text or HTML."""

    def __init__(self, error: errors.MaskDSLError):
        self.error = error

    def __str__(self) -> str:
        return str(self.error)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self.error))

    def _repr_html_(self) -> str:
        return error_html(self.error)


class TensorFlowSource:
    """The TensorFlow source of a program (f.source), highlighted in Jupyter."""

    def __init__(self, source: str):
        self.source = source

    def __str__(self) -> str:
        return self.source.rstrip()

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return highlight_python(self.source)


_HEADING = re.compile(r"^== (.+) ==$", re.M)
_STRATEGY = re.compile(r"(?P<value>\S+): (?P<op>\S+) -> (?P<strategy>\S+) \((?P<where>[^)]*)\): (?P<reason>.*)")
_COST = re.compile(r"\s+estimated cost (?P<what>.+): (?P<cost>\S+)")


class Explanation:
    """f.explain() for Jupyter: its sections, with the strategies as a table and the
    TensorFlow source highlighted. The text is f.explain()'s, unchanged.

    >>> e = Explanation("== inputs ==\\nx: int64[3]\\n\\n== strategies ==\\n(no selections, updates or reductions)")
    >>> e.sections()
    [('inputs', 'x: int64[3]'), ('strategies', '(no selections, updates or reductions)')]
    """

    def __init__(self, text: str):
        self.text = text

    def __str__(self) -> str:
        return self.text

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.text)

    def sections(self) -> list[tuple[str, str]]:
        """(title, body) of each `== title ==` section, in order."""
        parts = _HEADING.split(self.text)
        return [(parts[i], parts[i + 1].strip("\n")) for i in range(1, len(parts) - 1, 2)]

    def _repr_html_(self) -> str:
        out = ['<div class="maskdsl-explanation">']
        for title, body in self.sections():
            # The IR before optimisation is long and mostly of interest when the rest surprises.
            is_open = "" if title.startswith("IR before") else " open"
            out.append(f"<details{is_open}><summary><b>{html.escape(title)}</b></summary>")
            if title.startswith("TensorFlow source"):
                out.append(highlight_python(body))
            elif title == "strategies":
                out.append(_strategy_table(body))
            elif title == "inputs" and all(": " in line for line in body.splitlines()):
                out.append(_table(("input", "type"), [line.split(": ", 1) for line in body.splitlines()]))
            else:
                out.append(f"<pre{_PRE}>{html.escape(body)}</pre>")
            out.append("</details>")
        out.append("</div>")
        return "\n".join(out)


def _table(header, rows, nowrap=()) -> str:
    """An HTML table of text cells (escaped; a newline in a cell is a line break); the columns
    numbered in `nowrap` do not wrap."""
    def cells(tag, row):
        return "".join(f'<{tag} style="text-align: left; vertical-align: top{"; white-space: nowrap" * (i in nowrap)}">'
                       f'{html.escape(str(c).strip()).replace(chr(10), "<br>")}</{tag}>' for i, c in enumerate(row))
    return (f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>"
            + "".join(f"<tr>{cells('td', row)}</tr>" for row in rows) + "</tbody></table>")


def _strategy_table(body: str) -> str:
    """The strategies section as a table: one row per decision, its estimated costs in the last column.
    Lines in any other form are kept as text, so a change of the text format loses nothing."""
    rows, other = [], []
    for line in body.splitlines():
        decision, cost = _STRATEGY.fullmatch(line), _COST.fullmatch(line)
        if decision:
            rows.append([*decision.group("value", "op", "strategy", "where", "reason"), ""])
        elif cost and rows:
            rows[-1][-1] += f"{cost.group('what')}: {cost.group('cost')}\n"
        else:
            other.append(line)
    parts = []
    if rows:
        parts.append(_table(("value", "operation", "strategy", "where", "why", "estimated cost"), rows, nowrap={3, 5}))
    if other:
        parts.append(f"<pre{_PRE}>{html.escape(chr(10).join(other))}</pre>")
    return "\n".join(parts)
