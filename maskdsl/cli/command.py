"""The `maskdsl` command: the REPL, a file or stdin interpreter and the subcommands.

    maskdsl                       REPL in a terminal; reads statements from a pipe otherwise
    maskdsl FILE                  runs the statements in FILE (`-`: standard input)
    maskdsl explain SRC [--signature NAME=SPEC ...]
    maskdsl check FILE|SRC [--signature NAME=SPEC ...]
    maskdsl check PIPELINE.yaml [--input FILE ...] [--output FILE] [--set NAME=VALUE ...]
    maskdsl run PIPELINE --input FILE --output FILE ...   (maskdsl.cli.pipeline_commands)
    maskdsl export PIPELINE OUT_DIR [--force]             (maskdsl.cli.pipeline_commands)

>>> main(["check", "x[x > 4] *= 2"])
<string>: ok (inputs: x; outputs: x)
0
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys

from maskdsl.version import __version__
from maskdsl.cli.startup import start_tensorflow, start_tensorflow_in_background
from maskdsl.errors import InputError, MaskDSLError, UnknownNameError
from maskdsl.passes.strategies import FORCEABLE

SUBCOMMANDS = ("explain", "check", "run", "export")
_VALUE_OPTIONS = ("--strategy",)  # the main parser's options that take a value

USAGE = """%(prog)s [--strategy S] [FILE]
       %(prog)s {explain,check,run,export} ...
       %(prog)s --version"""
DESCRIPTION = """\
Compile NumPy-style boolean-indexing programs to TensorFlow.

Without a subcommand: an interactive session in a terminal; with FILE, the
statements in FILE ('-' for standard input); from a pipe, the statements read
from standard input. A file or pipe prints each line's final expression and
exits with status 1 if any statement failed."""
EPILOG = """\
examples:
  maskdsl                                   the REPL
  maskdsl script.mdsl                       run the statements in a file
  echo 'x = arange(10); x[x > 4 & x % 2 == 0] *= 2; x' | maskdsl
  maskdsl check 'x[x > 4] *= 2'             parse and check a program
  maskdsl COMMAND --help                    a subcommand's options"""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 a program failed, 2 usage)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    script, argv = split_script(argv)
    args = parser.parse_args(argv)
    if script is not None:
        if not (script == "-" or os.path.exists(script)):
            close = difflib.get_close_matches(script, SUBCOMMANDS, n=1)
            parser.error(f"no such file or subcommand: {script!r}"
                         + (f" (did you mean {close[0]!r}?)" if close else
                            f" (subcommands: {', '.join(SUBCOMMANDS)}; a file of statements runs as 'maskdsl FILE')"))
        args.script = script
        args.handler = run_file
    try:
        return args.handler(args)
    except MaskDSLError as e:
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maskdsl", usage=USAGE, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"maskdsl {__version__}")
    parser.add_argument("--strategy", choices=FORCEABLE, default="auto",
                        help="how masked operations are lowered in the session (default: auto)")
    parser.set_defaults(handler=interact)
    commands = parser.add_subparsers(title="subcommands", metavar="COMMAND")

    explain = commands.add_parser("explain", help="show the IR, chosen strategies, costs and TensorFlow code",
                                  description="Show how a program is compiled: IR before and after "
                                              "optimisation, strategies with their estimated costs, and "
                                              "the TensorFlow source.")
    _add_program_arguments(explain)
    explain.add_argument("--strategy", choices=FORCEABLE, default="auto", help="force one lowering")
    explain.set_defaults(handler=explain_command)

    check = commands.add_parser("check", help="check a program or a pipeline for errors (exit status 0 or 1)",
                                description="Parse and lower a program (with --signature: also type-check "
                                            "it); errors are printed as FILE:LINE:COLUMN with a caret. Given a "
                                            "pipeline (.yaml/.yml), check all of it, and with --input the "
                                            "data files' columns, without loading TensorFlow; every error is "
                                            "reported.")
    _add_program_arguments(check)
    _add_data_arguments(check, required=False)
    check.set_defaults(handler=check_command)

    run = commands.add_parser("run", help="run a pipeline on Parquet, CSV, TFRecord or .npz/.npy data",
                              description="Run a YAML pipeline on input data and write the outputs.")
    run.add_argument("pipeline", metavar="PIPELINE", help="the pipeline's YAML file")
    _add_data_arguments(run, required=True)
    run.add_argument("--batch-size", metavar="N", type=_positive_int, help="process the data in batches of N")
    run.add_argument("--tf-data-service", metavar="URL", help="run the tf.data pipeline on this tf.data service")
    run.add_argument("--runner", choices=("local", "beam"), default="local",
                     help="local (tf.data on this machine, the default) or beam (Apache Beam: the embedded runner "
                          "with a worker per CPU, or the runner --beam-option names)")
    run.add_argument("--beam-option", metavar="KEY=VALUE", action="append", default=[],
                     help="a Beam pipeline option, passed on unchanged (runner=FlinkRunner, flink_master=HOST:PORT, "
                          "direct_num_workers=4, ...; repeatable)")
    run.set_defaults(handler=_pipeline_handler("run"))

    export = commands.add_parser("export", help="export a pipeline as a SavedModel",
                                 description="Export a pipeline as a TensorFlow SavedModel with a "
                                             "serving signature.")
    export.add_argument("pipeline", metavar="PIPELINE", help="the pipeline's YAML file")
    export.add_argument("out_dir", metavar="OUT_DIR", help="the SavedModel directory to write")
    export.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")
    export.set_defaults(handler=_pipeline_handler("export"))
    return parser


def _add_program_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program", metavar="FILE|SRC",
                        help="a file holding the program, '-' for standard input, or the program text")
    parser.add_argument("--signature", metavar="NAME=SPEC", action="append", default=[], type=_assignment,
                        help="the type of an input, e.g. x='float32[None, 3]' (repeatable)")


def _add_data_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    formats = "parquet, csv, tfrecord, npz, npy"
    parser.add_argument("--input", metavar="FILE", action="append", required=required,
                        help="input data: a file, a directory or a glob of shards (by extension, or --format: "
                             f"{formats}); repeat to give a .npz of the inputs that are not rows")
    parser.add_argument("--format", metavar="FORMAT", help=f"the format of --input when its extension does not say "
                                                           f"({formats})")
    parser.add_argument("--output", metavar="FILE", required=required,
                        help="where to write the outputs: a file, or DIR/ for one shard per input shard")
    parser.add_argument("--output-format", metavar="FORMAT", help=f"the format of --output ({formats})")
    parser.add_argument("--set", metavar="NAME=VALUE", action="append", default=[], type=_assignment,
                        help="the value of a scalar input, or a new value for a constant (repeatable)")
    parser.add_argument("--force", action="store_true", help="overwrite the output if it exists")


def _assignment(text: str) -> str:
    name, equals, value = text.partition("=")
    if not equals or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return text


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


# ---- no subcommand: the REPL, a file or the stdin interpreter ----

def split_script(argv: list[str]) -> tuple[str | None, list[str]]:
    """(FILE, the other arguments) when the first positional argument is not a subcommand:
    `maskdsl script.mdsl` runs a file, as every interpreter does.

    >>> split_script(["--strategy", "where", "prog.mdsl"]), split_script(["check", "x + 1"])
    (('prog.mdsl', ['--strategy', 'where']), (None, ['check', 'x + 1']))
    """
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("-") and arg != "-":
            i += 2 if arg in _VALUE_OPTIONS else 1
            continue
        break
    if i >= len(argv) or argv[i] in SUBCOMMANDS:
        return None, argv
    return argv[i], argv[:i] + argv[i + 1:]


def interact(args) -> int:
    from maskdsl.cli.session import Session, run_script

    session = Session(strategy=args.strategy)
    if sys.stdin.isatty():
        from maskdsl.cli.repl import run_repl

        # TensorFlow takes seconds to load: do it while the user types the first line.
        start_tensorflow_in_background()
        return run_repl(session)
    start_tensorflow()
    return run_script(session, sys.stdin, sys.stdout, sys.stderr)


def run_file(args) -> int:
    """`maskdsl FILE`: the statements in FILE, as from a pipe (errors as FILE:LINE:COLUMN)."""
    from maskdsl.cli.session import Session, run_script

    session = Session(strategy=args.strategy)
    if args.script == "-":
        start_tensorflow()
        return run_script(session, sys.stdin, sys.stdout, sys.stderr)
    try:
        stream = open(args.script, encoding="utf-8")
    except OSError as e:
        print(f"maskdsl: cannot read {args.script}: {e.strerror or e}", file=sys.stderr)
        return 2
    start_tensorflow()
    with stream:
        try:
            return run_script(session, stream, sys.stdout, sys.stderr, filename=args.script)
        except UnicodeDecodeError as e:
            print(f"maskdsl: cannot read {args.script}: not UTF-8 text ({e.reason})", file=sys.stderr)
            return 1


# ---- explain and check ----

def read_program(arg: str) -> tuple[str, str]:
    """(source, name for messages) of a FILE|SRC argument: a file if one exists, '-' for stdin."""
    if arg == "-":
        return sys.stdin.read(), "<stdin>"
    if os.path.isfile(arg):
        try:
            with open(arg, encoding="utf-8") as f:
                return f.read(), arg
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read {arg}: {e}") from None
    return arg, "<string>"


def _signature(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def _signature_hint(error: MaskDSLError, inputs: tuple, signature: dict) -> MaskDSLError:
    """A name problem while inputs lack a type: say how to give one on the command line."""
    missing = [n for n in inputs if n not in signature]
    if isinstance(error, UnknownNameError) and missing and error.hint is None:
        return error.relocated(hint=f"give its type, e.g. --signature '{missing[0]}=float64[None]'")
    return error


def explain_command(args) -> int:
    from maskdsl.compiler import compile as compile_program

    source, filename = read_program(args.program)
    signature = _signature(args.signature)
    start_tensorflow()
    inputs = ()
    try:
        program = compile_program(source, strategy=args.strategy)   # parsed and lowered: its inputs are known
        inputs = program.inputs
        program = program.with_signature(signature)
    except MaskDSLError as e:
        raise _signature_hint(e, inputs, signature).with_source(source, filename) from None
    print(program.explain())
    return 0


def is_pipeline_file(arg: str) -> bool:
    return arg.endswith((".yaml", ".yml")) and arg != "-"


def check_command(args) -> int:
    """Parse and lower; with --signature also bind the types and run every pass. Everything
    maskdsl.compile does before code generation, so no TensorFlow is loaded. A pipeline file
    is checked whole (maskdsl.pipeline.checking)."""
    if is_pipeline_file(args.program):
        return check_pipeline_command(args)
    data_options = [o for o in ("input", "output", "format", "output_format") if getattr(args, o, None)]
    if data_options or getattr(args, "set", None):
        raise InputError(f"--{(data_options or ['set'])[0].replace('_', '-')} is for checking a pipeline "
                         f"(a .yaml file), not a program")
    from maskdsl.language.lower import lower
    from maskdsl.language.parser import parse
    from maskdsl.specialize import input_names, signature_types, specialize

    source, filename = read_program(args.program)
    signature = _signature(args.signature)
    inputs = ()
    try:
        program = lower(parse(source))
        inputs = input_names(program)
        if signature:
            specialize(program, signature_types(program, signature))
    except MaskDSLError as e:
        print(_signature_hint(e, inputs, signature).with_source(source, filename), file=sys.stderr)
        return 1
    outputs = tuple(name for name, _ in program.outputs)
    print(f"{filename}: ok (inputs: {', '.join(inputs) or 'none'}; outputs: {', '.join(outputs) or 'none'})")
    return 0


def check_pipeline_command(args) -> int:
    """`maskdsl check PIPELINE.yaml [--input ...] [--output ...]`: every problem, no TensorFlow."""
    from maskdsl.pipeline.checking import check_run, summary
    if getattr(args, "signature", None):
        raise InputError("--signature is for a program; a pipeline declares its inputs' types under 'inputs:'")
    try:
        plan = check_run(args.program, inputs=getattr(args, "input", None) or (),
                         input_format=getattr(args, "format", None), output=getattr(args, "output", None),
                         output_format=getattr(args, "output_format", None), settings=getattr(args, "set", None),
                         force=getattr(args, "force", False))
    except MaskDSLError as e:
        print(e, file=sys.stderr)
        return 1
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    config = plan.config
    print(f"{args.program}: ok (inputs: {', '.join(config.inputs) or 'none'}; outputs: {', '.join(config.outputs)})")
    for line in summary(plan):
        print(f"  {line}")
    return 0


# ---- run and export live in maskdsl.cli.pipeline_commands ----

def _pipeline_handler(command: str):
    def handler(args) -> int:
        try:
            from maskdsl.cli.pipeline_commands import export_command, run_command
        except ModuleNotFoundError as e:
            if e.name != "maskdsl.cli.pipeline_commands":
                raise  # the module is there but something it imports is not: show that
            print(f"maskdsl {command}: pipelines are not available in this installation "
                  f"(the module maskdsl.cli.pipeline_commands is missing)", file=sys.stderr)
            return 2
        return (run_command if command == "run" else export_command)(args)
    return handler
