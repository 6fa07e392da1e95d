"""Loading TensorFlow for the command line without its start-up chatter on the terminal.

Every subcommand that runs programs calls `start_tensorflow()` before anything imports
TensorFlow; `maskdsl check` never does (it needs no TensorFlow).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading

_lock = threading.Lock()
_started = False
_in_background = False


def start_tensorflow() -> None:
    """Load TensorFlow with its C++ start-up chatter (absl, CUDA probing) kept off the terminal.

    The chatter goes to a temporary file, shown only if loading fails. Safe to call from
    several threads, and more than once.
    """
    global _started
    with _lock:
        if _started:
            return
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with tempfile.TemporaryFile() as log:
                os.dup2(log.fileno(), 2)
                try:
                    from maskdsl.tf.runtime import tf
                    tf.constant(0).numpy()  # the first operation probes the devices: more chatter
                except BaseException:
                    os.dup2(saved, 2)
                    log.seek(0)
                    sys.stderr.write(log.read().decode(errors="replace"))
                    raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        _started = True


def start_tensorflow_in_background() -> None:
    """Start loading TensorFlow in a thread (the REPL does, while the user types the first line)."""
    global _in_background
    _in_background = True
    threading.Thread(target=start_tensorflow, name="maskdsl-load-tensorflow", daemon=True).start()


def wait_for_tensorflow(notice) -> None:
    """If TensorFlow is still loading in the background, call `notice()` (to say why nothing
    happens yet) and wait until it is loaded; otherwise return at once."""
    if _in_background and not _started:
        notice()
        start_tensorflow()
