"""TensorFlow's error messages that maskdsl recognises: a catalogue of foreign text.

When a TensorFlow op fails where no run-time check of maskdsl's fired, the only thing
that says what went wrong is TensorFlow's message. This is the one place that reads
it: each entry is a fragment of a TensorFlow message and the MaskDSLError class that
the failure is, for NumPy users. A fragment that TensorFlow rewords stops matching,
and the failure falls back to the caller's default (a ShapeError) with TensorFlow's
reason quoted, so a stale entry misclassifies but never hides an error.

maskdsl's own errors are never recognised by their text: callers read their fields
(`name`, `option`, `code`; see maskdsl.errors).

>>> reason_class("Requires delta != 0", default=None).__name__
'ValueDSLError'
>>> reason_class("Incompatible shapes: [2] vs. [3]", default=None) is None
True
>>> unwrapped("{{function_node __wrapped__IteratorGetNext}} Error in user-defined function passed to "
...           "MapDataset:1 transformation with iterator: Iterator::Root::Map: OOM when allocating tensor")
'OOM when allocating tensor'
"""

from __future__ import annotations

import re

from maskdsl.errors import DTypeError, IndexOutOfRangeError, ValueDSLError

# (fragment of TensorFlow's message, the error it is), first match wins
TENSORFLOW_MESSAGES = (
    ("Requires delta != 0", ValueDSLError),          # tf.range with a zero step
    ("is not in [0,", IndexOutOfRangeError),          # gather / scatter index out of range
    ("out of bounds", IndexOutOfRangeError),          # strided slice, gather_nd
    ("No OpKernel was registered", DTypeError),       # an op with no kernel for this dtype
)


def reason_class(reason: str, default):
    """The error class for TensorFlow's `reason`, or `default` when no entry matches."""
    return next((cls for fragment, cls in TENSORFLOW_MESSAGES if fragment in reason), default)


# What TensorFlow puts before the reason of an error raised inside a function or a dataset's map
_WRAPPING = (re.compile(r"\{\{function_node [^}]*\}\}\s*"),
             re.compile(r"Error in user-defined function passed to \S+ transformation with iterator: \S+:\s*"))


def unwrapped(reason: str) -> str:
    """TensorFlow's `reason` without the text tf.data and function calls wrap around it."""
    for pattern in _WRAPPING:
        reason = pattern.sub("", reason)
    return reason.strip()
