"""A one-line progress bar on stderr for `maskdsl run`, shown only on a terminal."""

from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int | None, label: str, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.label = total, label
        self.enabled = bool(total) and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done, self.shown_at = 0, 0.0

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if self.enabled and (now - self.shown_at > 0.1 or self.done >= self.total):
            self.shown_at = now
            fraction = min(1.0, self.done / self.total)
            bar = "#" * int(fraction * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {fraction:4.0%} {self.done:,}/{self.total:,} rows")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.shown_at:
            self.stream.write("\n")
            self.stream.flush()
