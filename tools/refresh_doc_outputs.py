"""Rewrite the `output` blocks of the documentation with what their examples print now.

tests/test_docs.py checks that every ```text output``` block equals what the Python
block before it prints. After a deliberate change to generated code or messages, run

    .venv/bin/python tools/refresh_doc_outputs.py docs/tutorial.md [more.md ...]

and review the diff (git diff docs/) before committing: this tool writes whatever the
examples print, right or wrong.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_docs import read_blocks  # noqa: E402


def refresh(path: Path) -> int:
    """Replace each output block's text in `path`; returns how many changed."""
    os.chdir(ROOT)
    lines = path.read_text(encoding="utf-8").split("\n")
    namespace = {"__name__": "__docs__"}
    blocks = read_blocks(path)
    edits = []
    for i, block in enumerate(blocks):
        if block.language != "python" or "output" in block.options or "no-run" in block.options:
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(block.text, block.where, "exec"), namespace)
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        if following is not None and "output" in following.options:
            new = [line.rstrip() for line in out.getvalue().rstrip().split("\n")]
            old_count = len(following.text.split("\n"))
            if new != following.text.split("\n"):
                edits.append((following.line, old_count, new))
    for start, count, new in reversed(edits):  # block.line is the fence; its body follows
        lines[start:start + count] = new
    path.write_text("\n".join(lines), encoding="utf-8")
    return len(edits)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {refresh(Path(name).resolve())} output block(s) rewritten")
