"""TensorFlow's start-up log kept off the user's stderr (docs/api.md, "A quiet start").

Importing TensorFlow prints from C++, before anything can configure its logging: absl's
"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
followed by INFO lines (oneDNN, "Could not find cuda drivers"), once per TensorFlow
library that loads; the first look at the devices adds an ERROR "failed call to cuInit"
on a machine without a GPU. TF_CPP_MIN_LOG_LEVEL is read only once absl is set up, after
those lines, so no setting reaches them: the only way from Python is to point file
descriptor 2 elsewhere while TensorFlow loads and probes its devices, and then pass on
whatever is not that start-up log.

`quiet_start()` does that, unless the user set TF_CPP_MIN_LOG_LEVEL to 0 or 1 (they asked
for TensorFlow's INFO or WARNING lines: then nothing is hidden).

>>> is_start_up_log("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", "2")
True
>>> is_start_up_log("I0000 00:00:1796170443.254261    4221 cudart_stub.cc:31] Could not find cuda drivers", "2")
True
>>> is_start_up_log("E0000 00:00:1796170448.167493    4221 cuda_platform.cc:52] failed call to cuInit: INTERNAL", "2")
True
>>> is_start_up_log("E0000 00:00:1796170448.167493    4221 some_kernel.cc:9] something else broke", "2")
False
>>> is_start_up_log("Traceback (most recent call last):", "3")
False
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

LEVEL = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LEVEL = "2"   # TensorFlow's ERROR lines stay visible once it runs
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# absl's line format: severity letter, date, time (before absl is set up: 00:00:<epoch seconds>),
# thread id, file:line]
_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]\s]+\] (.*)$")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# ERROR lines that report nothing wrong: probing for a GPU on a machine that has none.
_PROBING_ERRORS = ("failed call to cuInit",)


def is_start_up_log(line: str, level: str) -> bool:
    """Whether `line` (of what TensorFlow printed while loading) is start-up log to hide,
    given the TF_CPP_MIN_LOG_LEVEL in force."""
    line = line.rstrip("\r\n")
    if line == BANNER:
        return True
    match = _LOG_LINE.match(line)
    if not match:
        return False
    severity = _SEVERITY[match.group(1)]
    minimum = int(level) if level.isdigit() else int(DEFAULT_LEVEL)
    return severity < minimum or (severity == 2 and match.group(2).startswith(_PROBING_ERRORS))


def shows_start_up_log() -> bool:
    """The user asked for TensorFlow's INFO or WARNING lines (TF_CPP_MIN_LOG_LEVEL 0 or 1)."""
    return os.environ.get(LEVEL, "").strip() in ("0", "1")


@contextlib.contextmanager
def quiet_start():
    """Run the block (importing TensorFlow, probing devices) with TensorFlow's start-up log
    hidden; anything else written to stderr meanwhile is passed on afterwards. Sets
    TF_CPP_MIN_LOG_LEVEL to 2 when the user did not set it."""
    if shows_start_up_log():
        yield
        return
    os.environ.setdefault(LEVEL, DEFAULT_LEVEL)
    level = os.environ[LEVEL].strip()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no file descriptor 2 (pythonw, a closed stderr)
        yield
        return
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            # When loading failed, everything is shown: the log may say why.
            kept = [line for line in log.read().decode(errors="replace").splitlines(keepends=True)
                    if failed or not is_start_up_log(line, level)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
