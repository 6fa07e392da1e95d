"""`python -m maskdsl`: the same as the `maskdsl` command."""

import sys

from maskdsl.cli.command import main

if __name__ == "__main__":
    sys.exit(main())
