"""Shared helpers: compiled programs are cached across tests (tracing costs ~50 ms each)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MASKDSL_CHECK_IR", "1")  # verify the IR after every optimiser pass

import numpy as np
import pytest

_COMPILED = {}

# The TensorFlow-free tier (`make test-fast`, `pytest -m frontend`): the front end, the IR
# and the passes, which must neither need nor import TensorFlow.
FRONTEND_PACKAGES = ("language", "ir", "passes")


def pytest_collection_modifyitems(config, items):
    """Doctests of the TensorFlow-free families belong to the frontend tier too."""
    for item in items:
        parts = item.path.parts
        if "maskdsl" in parts and item.path.suffix == ".py" and not item.path.name.startswith("test_"):
            family = parts[parts.index("maskdsl") + 1] if parts.index("maskdsl") + 1 < len(parts) else ""
            if family in FRONTEND_PACKAGES:
                item.add_marker(pytest.mark.frontend)


def pytest_ignore_collect(collection_path, config):
    """In a frontend-only run, do not even import test modules outside the tier (importing one
    may import TensorFlow): a test file opts in with `pytestmark = pytest.mark.frontend`.
    `make test-fast` names the TensorFlow-free package folders itself."""
    if config.option.markexpr != "frontend" or not collection_path.name.startswith("test_"):
        return None
    return "pytest.mark.frontend" not in collection_path.read_text(encoding="utf-8")


def pytest_sessionfinish(session, exitstatus):
    """A frontend-only run that imported TensorFlow has broken the tier's promise."""
    import sys
    if session.config.option.markexpr == "frontend" and "tensorflow" in sys.modules and exitstatus == 0:
        session.exitstatus = 1
        print("\nthe frontend tier imported TensorFlow: a TensorFlow-free module now needs it", file=sys.stderr)


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


def sensor_readings(rows=50, seed=0, missing=0.1):
    """float32 readings of three sensors, a fraction `missing` of them nan (the pipeline examples' data)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 60, size=(rows, 3)).astype(np.float32)
    x[rng.random((rows, 3)) < missing] = np.nan
    return x


def clean_numpy(x, limit):
    """examples/pipelines/clean_sensors.yaml written in NumPy: the oracle of the pipeline tests."""
    x = x.copy()
    x[np.isnan(x)] = 0.0
    x[x > limit] = limit
    ok = np.all(x >= 0.0, axis=1)
    return {"x": x, "rows": x[ok], "total": np.sum(x[ok])}
