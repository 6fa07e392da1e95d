"""`make demo`: run the bundled sensor-cleaning pipeline the way `maskdsl run` does.

Creates examples/data/sensors.npz if it is missing (examples/data/make_sensors.py),
runs examples/pipelines/clean_sensors.yaml on it through the `maskdsl run` code path
(maskdsl.cli.pipeline_commands.run_command), writes out/clean_sensors.npz (replacing it, so the
demo can be run again), then summarises what changed and checks it against NumPy.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "examples" / "pipelines" / "clean_sensors.yaml"
DATA = ROOT / "examples" / "data" / "sensors.npz"
OUTPUT = ROOT / "out" / "clean_sensors.npz"
LIMIT = 100.0


def ensure_data() -> None:
    if DATA.exists():
        return
    sys.path.insert(0, str(DATA.parent))
    from make_sensors import main as make_sensors
    make_sensors(["make_sensors.py", str(DATA)])


def expected(x: np.ndarray, limit: float) -> dict:
    """The same cleaning written as plain NumPy."""
    x = x.copy()
    x[np.isnan(x)] = 0.0
    x[x > limit] = limit
    ok = np.all(x >= 0.0, axis=1)
    return {"x": x, "rows": x[ok], "total": np.sum(x[ok])}


def main() -> int:
    from maskdsl.cli.pipeline_commands import run_command

    ensure_data()
    OUTPUT.parent.mkdir(exist_ok=True)
    rel = lambda p: os.path.relpath(p, Path.cwd())  # noqa: E731
    print(f"$ maskdsl run {rel(PIPELINE)} --input {rel(DATA)} --output {rel(OUTPUT)} --set limit={LIMIT:g} --force")
    sys.stdout.flush()
    status = run_command(argparse.Namespace(pipeline=rel(PIPELINE), input=rel(DATA), output=rel(OUTPUT),
                                            set=[f"limit={LIMIT:g}"], batch_size=None, force=True,
                                            tf_data_service=None))
    if status != 0:
        return status

    x = np.load(DATA)["x"]
    with np.load(OUTPUT) as out:
        result = {name: out[name] for name in out.files}
    want = expected(x, LIMIT)
    same = all(np.allclose(result[k], want[k], rtol=1e-6, equal_nan=True) and result[k].shape == want[k].shape
               for k in want)
    print()
    print(f"rows in:            {len(x):,}")
    print(f"missing readings:   {int(np.isnan(x).sum()):,} set to 0.0")
    print(f"spikes > {LIMIT:g}:       {int((x > LIMIT).sum()):,} capped at {LIMIT:g}")
    print(f"rows dropped:       {len(x) - len(result['rows']):,} (a negative error code in some sensor)")
    print(f"rows kept:          {len(result['rows']):,}; total of kept readings {float(result['total']):,.1f}")
    print(f"same as NumPy:      {'yes' if same else 'NO'}")
    print(f"output:             {rel(OUTPUT)} (arrays: {', '.join(result)}; numpy.load to read it)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
