"""A one-line progress bar on stderr for `maskdsl run`, shown only on a terminal.

With a known total (a .npz, Parquet's metadata) it is a bar; when the files do not say
how many rows they hold (CSV, TFRecord) it counts the rows done.
"""

from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int | None, label: str, stream=None, count_only: bool = False):
        self.stream = stream or sys.stderr
        self.total, self.label = total, label
        self.count_only = bool(count_only) and not total
        terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.enabled = terminal and (bool(total) or self.count_only)
        self.done, self.shown_at = 0, 0.0

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if not self.enabled:
            return
        if self.count_only:
            if now - self.shown_at > 0.1:
                self.shown_at = now
                self.stream.write(f"\r{self.label} {self.done:,} rows")
                self.stream.flush()
            return
        if now - self.shown_at > 0.1 or self.done >= self.total:
            self.shown_at = now
            fraction = min(1.0, self.done / self.total)
            bar = "#" * int(fraction * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {fraction:4.0%} {self.done:,}/{self.total:,} rows")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.shown_at:
            if self.count_only:
                self.stream.write(f"\r{self.label} {self.done:,} rows")
            self.stream.write("\n")
            self.stream.flush()
