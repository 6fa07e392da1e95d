"""Front ends for people: the `maskdsl` command (`command`), the interpreter behind the
REPL (`session`), the terminal REPL (`repl`), syntax highlighting (`highlight`) and the
pipeline subcommands (`pipeline_commands`)."""

from maskdsl.cli.command import main

__all__ = ["main"]
