"""Rewrite the `output` blocks of the documentation with what their examples print now.

tests/test_docs.py checks that every ```text output``` block equals what the Python
block before it prints. After a deliberate change to generated code or messages, run

    .venv/bin/python tools/refresh_doc_outputs.py docs/tutorial.md [more.md ...]

and review the diff (git diff docs/) before committing: this tool writes whatever the
examples print, right or wrong.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_docs import run_python_blocks  # noqa: E402


def refresh(path: Path) -> int:
    """Replace each output block's text in `path`; returns how many changed."""
    os.chdir(ROOT)
    edits = []
    for _, printed, shown in run_python_blocks(path):
        if shown is None:
            continue
        new = [line.rstrip() for line in printed.rstrip().split("\n")]
        old = shown.text.split("\n")
        if new != old:
            edits.append((shown.line, len(old), new))
    lines = path.read_text(encoding="utf-8").split("\n")
    for start, count, new in reversed(edits):  # block.line is the fence; its body follows
        lines[start:start + count] = new
    path.write_text("\n".join(lines), encoding="utf-8")
    return len(edits)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {refresh(Path(name).resolve())} output block(s) rewritten")
