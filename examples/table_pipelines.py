"""Pipelines on tables: sensor readings as Parquet shards and as a CSV export, cleaned by `maskdsl run`.

Writes its own data under out/tables/ (from examples/data/make_sensors.py's readings):

- readings/part-0.parquet ... part-3.parquet: a directory of Parquet shards with columns
  t, north, east, south; a sensor that dropped out is a null;
- logger.csv: the same readings as a station logger exports them: `;` between fields, a
  quoted station name, an error code that is empty when there was none.

Then runs examples/pipelines/sensors_parquet.yaml on the shards (one cleaned Parquet
file per shard, the totals beside them in _extras.npz) and sensors_csv.yaml on the CSV
(a cleaned CSV, the means and counts in logger_clean.extras.npz), both through the code
path of `maskdsl run`, and checks every result against the same cleaning in NumPy.

    python examples/table_pipelines.py
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pcsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PIPELINES = ROOT / "examples" / "pipelines"
LIMIT = 100.0
SHARDS = 4


def readings() -> np.ndarray:
    sys.path.insert(0, str(ROOT / "examples" / "data"))
    try:
        from make_sensors import make_sensors
    finally:
        sys.path.pop(0)
    return make_sensors()


def write_data(directory: Path, x: np.ndarray) -> dict:
    """The Parquet shards (nan written as null) and the CSV export; returns the error codes."""
    shards = directory / "readings"
    shards.mkdir(parents=True, exist_ok=True)
    rows = len(x)
    for i, part in enumerate(np.array_split(np.arange(rows), SHARDS)):
        columns = {"t": pa.array(part, pa.int64())}
        for j, name in enumerate(("north", "east", "south")):
            values = x[part, j]
            columns[name] = pa.array(values, pa.float32(), mask=np.isnan(values))   # a dropout is a null
        pq.write_table(pa.table(columns), shards / f"part-{i}.parquet", row_group_size=500)
    rng = np.random.default_rng(7)
    code = np.where(rng.random(rows) < 0.03, rng.integers(1, 9, rows), 0).astype(np.int16)
    lines = ["station;north;east;south;code"]
    for row, c in zip(x, code):
        fields = ["" if np.isnan(v) else f"{v:.2f}" for v in row]
        lines.append(";".join(['"roof; north"', *fields, str(c) if c else ""]))
    (directory / "logger.csv").write_text("\n".join(lines) + "\n")
    return {"code": code}


def run(pipeline: Path, inputs: str, output: str, settings=(), output_format=None) -> int:
    from maskdsl.cli.pipeline_commands import run_command
    print(f"$ maskdsl run {os.path.relpath(pipeline, ROOT)} --input {os.path.relpath(inputs, ROOT)} "
          f"--output {os.path.relpath(output, ROOT)}{'/' if output.endswith('/') else ''}"
          + "".join(f" --set {s}" for s in settings) + (f" --output-format {output_format}" if output_format else "")
          + " --force")
    sys.stdout.flush()
    return run_command(argparse.Namespace(pipeline=str(pipeline), input=[inputs], output=output,
                                          set=list(settings), batch_size=1000, force=True, tf_data_service=None,
                                          format=None, output_format=output_format))


def main(directory=None) -> dict:
    directory = Path(directory or ROOT / "out" / "tables")
    directory.mkdir(parents=True, exist_ok=True)
    x = readings()
    code = write_data(directory, x)["code"]
    # 1. Parquet shards -> one cleaned Parquet file per shard
    status = run(PIPELINES / "sensors_parquet.yaml", str(directory / "readings"),
                 str(directory / "clean_readings") + "/", [f"limit={LIMIT:g}"], output_format="parquet")
    assert status == 0, "the Parquet pipeline failed"
    parts = [pq.read_table(directory / "clean_readings" / f"part-{i}.parquet") for i in range(SHARDS)]
    table = pa.concat_tables(parts)
    cleaned = table["x"].combine_chunks().flatten().to_numpy().reshape(-1, 3)
    with np.load(directory / "clean_readings" / "_extras.npz") as side:
        total, kept = side["total"], side["kept"]
    want = x.copy()
    want[np.isnan(want)] = 0.0
    want[want > LIMIT] = LIMIT
    ok = np.all(want >= 0.0, axis=1)
    assert np.array_equal(cleaned, want) and np.array_equal(table["ok"].to_numpy(), ok)
    assert kept == ok.sum() and np.isclose(total, want[ok].sum(dtype=np.float64), rtol=1e-6)
    print(f"  {len(cleaned):,} rows in {SHARDS} shards; {kept:,} rows without an error code; total {float(total):,.1f}")
    # 2. the CSV export -> a cleaned CSV
    status = run(PIPELINES / "sensors_csv.yaml", str(directory / "logger.csv"), str(directory / "logger_clean.csv"))
    assert status == 0, "the CSV pipeline failed"
    out = pcsv.read_csv(directory / "logger_clean.csv", parse_options=pcsv.ParseOptions(delimiter=";"))
    with np.load(directory / "logger_clean.extras.npz") as side:
        mean_reading, errors = side["mean_reading"], side["errors"]
    logged = np.round(x, 2)
    bad = code != 0
    expected = logged.copy()
    expected[bad[:, None] | np.isnan(expected)] = 0.0
    got = np.stack([out[f"x_{i}"].to_numpy() for i in range(3)], axis=1).astype(np.float32)
    assert np.array_equal(got, expected) and errors == bad.sum()
    assert np.allclose(mean_reading, expected[~bad].mean(axis=0, dtype=np.float64), rtol=1e-5)
    print(f"  {len(got):,} rows; {errors} with an error code; mean reading per sensor "
          f"{', '.join(f'{v:.2f}' for v in mean_reading)}")
    return {"parquet": {"x": cleaned, "ok": table["ok"].to_numpy(), "total": total, "kept": kept},
            "csv": {"x": got, "mean_reading": mean_reading, "errors": errors}, "inputs": x, "code": code}


if __name__ == "__main__":
    main()
