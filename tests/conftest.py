"""Shared helpers: compiled programs are cached across tests (tracing costs ~50 ms each)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MASKDSL_CHECK_IR", "1")  # verify the IR after every optimiser pass

import numpy as np
import pytest

_COMPILED = {}


def compiled(src, **options):
    """maskdsl.compile, memoised on (source, options) for the whole test session."""
    import maskdsl
    key = (src, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key not in _COMPILED:
        _COMPILED[key] = maskdsl.compile(src, **options)
    return _COMPILED[key]


def to_numpy(result):
    if isinstance(result, dict):
        return {k: np.asarray(v) for k, v in result.items()}
    return np.asarray(result)


def assert_same(actual, expected, rtol=1e-6, label=""):
    """Equal dtype, shape and values (nan equal to nan; floats within rtol)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{label}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{label}: shape {actual.shape} != {expected.shape}"
    if actual.dtype.kind == "f":
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0, equal_nan=True, err_msg=label)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=label)


@pytest.fixture
def run():
    def _run(src, **arrays):
        return to_numpy(compiled(src)(**arrays))
    return _run
