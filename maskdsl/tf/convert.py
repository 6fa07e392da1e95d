"""NumPy arrays into tensors with one copy, where tf.constant and tf.convert_to_tensor make two.

TensorFlow's own constructor of eager tensors (what tf.constant calls after its Python-level
conversion) copies an array once into memory TensorFlow owns, or, when the array is
C-contiguous and aligned to 64 bytes, shares the array's memory. maskdsl never lets a tensor
share its caller's array (TensorFlow takes tensors to be immutable, and a program's output can
be its input's buffer), so an aligned array is copied first and the tensor owns the copy.
Measured at 1e7 float32 elements (docs/performance.md, "Call overhead"): tf.constant 49-57 ms,
this 21 ms; at 1e4 elements 10-30 us against 6-8 us.

>>> import numpy as np
>>> a = np.arange(6, dtype=np.float32)
>>> t = to_tensor(a); a[0] = 7.0
>>> t.numpy().tolist(), t.dtype.name
([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 'float32')
"""

from __future__ import annotations

import numpy as np

from maskdsl.tf.runtime import tf
from tensorflow.python.eager import context
from tensorflow.python.framework import ops

ALIGNMENT = 64  # bytes: TensorFlow shares an array's memory from this alignment on (EIGEN_MAX_ALIGN_BYTES)


def to_tensor(array: np.ndarray):
    """An eager tensor holding a copy of `array` (one copy; the caller's array is never shared)."""
    if array.flags.c_contiguous and array.ctypes.data % ALIGNMENT == 0:
        array = array.copy()  # TensorFlow would share it; the copy is the tensor's own (shared or not)
    try:
        ctx = context.context()
        ctx.ensure_initialized()
        return ops.EagerTensor(array, ctx.device_name, None)
    except (TypeError, ValueError, AttributeError, SystemError):  # another TensorFlow's constructor: the public way
        return tf.convert_to_tensor(array)
