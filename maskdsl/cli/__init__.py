"""Front ends for people: the `maskdsl` command (`command`), the interpreter behind the
REPL (`session`), the terminal REPL (`repl`), the
pipeline subcommands (`pipeline_commands`, thin: the work is in maskdsl.pipeline), the
progress bar of `maskdsl run` (`progress`) and the quiet TensorFlow loader (`startup`)."""

from maskdsl.cli.command import main

__all__ = ["main"]
