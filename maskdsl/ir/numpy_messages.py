"""NumPy's error messages that the reference evaluator recognises: a catalogue of foreign text.

The reference evaluator runs each op with NumPy, and NumPy says what went wrong only
in its message (an IndexError or a ValueError covers several of our error classes).
This is the one place that reads that text: each entry is a fragment of a NumPy
message and the MaskDSLError class the failure is. A message no entry matches is a
DTypeError (the caller's default), which is what NumPy's TypeErrors are.

maskdsl's own errors are never recognised by their text: callers read their fields
(`name`, `option`, `code`; see maskdsl.errors).

>>> reason_class("index 7 is out of bounds for axis 0 with size 3", default=None).__name__
'IndexOutOfRangeError'
"""

from __future__ import annotations

from maskdsl.errors import IndexOutOfRangeError, ShapeError, ValueDSLError

# (fragment of NumPy's message, the error it is), first match wins
NUMPY_MESSAGES = (
    ("out of bounds", IndexOutOfRangeError),              # x[7] on 3 elements
    ("boolean index did not match", ShapeError),          # a mask of the wrong shape
    ("could not be broadcast", ShapeError),               # x[m] = values of the wrong length
    ("cannot assign", ShapeError),
    ("broadcast", ShapeError),
    ("Integers to negative", ValueDSLError),              # int ** -1
    ("zero-size array", ValueDSLError),                   # max of an empty selection
)


def reason_class(message: str, default):
    """The error class for NumPy's `message`, or `default` when no entry matches."""
    return next((cls for fragment, cls in NUMPY_MESSAGES if fragment in message), default)
