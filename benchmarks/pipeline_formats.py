"""`maskdsl run` on Parquet at scale: peak memory, and rows per second against pyarrow alone.

    .venv/bin/python benchmarks/pipeline_formats.py                 # 1M and 10M rows, 3 runs each
    .venv/bin/python benchmarks/pipeline_formats.py --rows 1000000 --repeats 1

For each size, a Parquet file of readings (float32 columns a, b, c, about 5% nulls,
row groups of 1,048,576 rows, pyarrow's default) is written once, in chunks, under
--workdir. Each measurement runs in a fresh process, and its peak resident memory is
that process's (getrusage of the child):

- `pyarrow iter_batches`: read the three columns batch by batch (`ParquetFile.iter_batches`,
  65,536 rows, `pre_buffer=False` as maskdsl reads) and turn each into a NumPy array:
  the least any reader of this file does; also with pyarrow's default `pre_buffer=True`,
  which reads ahead and holds the rest of the file;
- `pyarrow read_table`: the whole file at once, for contrast (memory grows with the file);
- `import tensorflow`: the fixed cost every maskdsl run pays before reading anything;
- `maskdsl run` of two pipelines, Parquet in and Parquet out:
  * `row-wise` (flag spikes: zero missing readings and spikes, a bool column per row),
  * `reduction` (the cleaning pipeline with `total = sum(x[ok])` and `kept = count(ok)`
    combined over the batches instead of loading every row);
  both with the default --batch-size (65,536 rows).

Each child reports the seconds of its work after its imports: pyarrow's read, and
maskdsl's `run` once TensorFlow is loaded (checks, compiling the pipeline, reading,
running, writing; `maskdsl.cli.pipeline_commands.run_command`, what the command runs).
The whole command's wall time (`python -m maskdsl run ...`, TensorFlow's import
included) is measured too. Medians of --repeats runs; "pyarrow / this" is pyarrow's
rows per second over maskdsl's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW_GROUP = 1 << 20

ROW_WISE = """\
name: flag-spikes
inputs:
  x: {dtype: "float32[rows, 3]", columns: [a, b, c]}
  limit: float32
steps:
  - spike = any(x > limit, axis=1)
  - x[isnan(x) | x > limit] = 0.0
outputs: [x, spike]
"""

REDUCTION = """\
name: clean-and-total
inputs:
  x: {dtype: "float32[rows, 3]", columns: [a, b, c]}
  limit: float32
steps:
  - x[isnan(x)] = 0.0
  - x[x > limit] = limit
  - ok = all(x >= 0.0, axis=1)
  - total = sum(x[ok])
  - kept = count(ok)
outputs: [x, ok, total, kept]
"""

# measured in a child of a child, so that RUSAGE_CHILDREN is that one process's peak
_MEASURE = textwrap.dedent("""
    import json, resource, subprocess, sys, time
    started = time.perf_counter()
    done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024   # KiB on Linux
    last = (done.stdout.strip().splitlines() or ["{}"])[-1]
    work = json.loads(last).get("work") if last.startswith("{") else None
    print(json.dumps({"seconds": elapsed, "work": work, "peak": peak, "code": done.returncode,
                      "stderr": done.stderr[-2000:]}))
""")

_PYARROW_BATCHES = textwrap.dedent("""
    import json, sys, time
    import pyarrow.parquet as pq
    started, rows = time.perf_counter(), 0
    file = pq.ParquetFile(sys.argv[1], pre_buffer=sys.argv[2] == "pre_buffer")
    for batch in file.iter_batches(batch_size=65536, columns=["a", "b", "c"]):
        arrays = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(3)]
        rows += len(arrays[0])
    print(json.dumps({"work": time.perf_counter() - started, "rows": rows}))
""")

_PYARROW_TABLE = textwrap.dedent("""
    import json, sys, time
    import pyarrow.parquet as pq
    started = time.perf_counter()
    table = pq.read_table(sys.argv[1], columns=["a", "b", "c"])
    arrays = [table.column(i).to_numpy() for i in range(3)]
    print(json.dumps({"work": time.perf_counter() - started, "rows": len(arrays[0])}))
""")

_MASKDSL = textwrap.dedent("""
    import argparse, contextlib, io, json, sys, time
    from maskdsl.cli.startup import start_tensorflow
    start_tensorflow()
    from maskdsl.cli.pipeline_commands import run_command
    pipeline, data, out = sys.argv[1:4]
    args = argparse.Namespace(pipeline=pipeline, input=[data], output=out, set=["limit=100"], batch_size=None,
                              force=True, tf_data_service=None, format=None, output_format=None)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = run_command(args)
    print(json.dumps({"work": time.perf_counter() - started, "code": code}))
""")


def write_parquet(path: Path, rows: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(seed)
    schema = pa.schema([(name, pa.float32()) for name in "abc"])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            columns = {}
            for name in "abc":
                values = rng.uniform(-5, 120, n).astype(np.float32)
                columns[name] = pa.array(values, pa.float32(), mask=rng.random(n) < 0.05)
            writer.write_table(pa.table(columns, schema=schema), row_group_size=ROW_GROUP)


def measure(argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)})
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{result['stderr']}")
    return result


def maskdsl_command(pipeline: Path, data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "maskdsl", "run", str(pipeline), "--input", str(data), "--output", str(out),
            "--set", "limit=100", "--force"]


def median_of(argv: list[str], repeats: int) -> dict:
    runs = [measure(argv) for _ in range(repeats)]
    works = [r["work"] for r in runs if r["work"] is not None]
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "work": statistics.median(works) if works else None,
            "peak": statistics.median(r["peak"] for r in runs), "runs": len(runs)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="where the Parquet files go (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="maskdsl-formats-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pipelines = {"row-wise": workdir / "row_wise.yaml", "reduction": workdir / "reduction.yaml"}
    pipelines["row-wise"].write_text(ROW_WISE)
    pipelines["reduction"].write_text(REDUCTION)
    results = {"rows": {}, "tensorflow_import": median_of([sys.executable, "-c", "import tensorflow"], args.repeats)}
    for rows in args.rows:
        data = workdir / f"readings_{rows}.parquet"
        if not data.exists():
            started = time.perf_counter()
            write_parquet(data, rows)
            print(f"wrote {data} ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
        entry = {"file_bytes": data.stat().st_size,
                 "pyarrow iter_batches": median_of([sys.executable, "-c", _PYARROW_BATCHES, str(data), "no"],
                                                   args.repeats),
                 "pyarrow iter_batches, pre_buffer": median_of([sys.executable, "-c", _PYARROW_BATCHES, str(data),
                                                                "pre_buffer"], args.repeats),
                 "pyarrow read_table": median_of([sys.executable, "-c", _PYARROW_TABLE, str(data)], args.repeats)}
        for name, pipeline in pipelines.items():
            out = workdir / f"out_{name}.parquet"
            entry[f"maskdsl run {name}"] = median_of([sys.executable, "-c", _MASKDSL, str(pipeline), str(data),
                                                      str(out)], args.repeats)
            entry[f"maskdsl run {name} (command)"] = median_of(maskdsl_command(pipeline, data, out), args.repeats)
            out.unlink(missing_ok=True)
            (workdir / f"out_{name}.extras.npz").unlink(missing_ok=True)
        results["rows"][rows] = entry
        print(f"done: {rows:,} rows", file=sys.stderr)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def report(results: dict) -> None:
    mib = 1 << 20
    tf_import = results["tensorflow_import"]
    print(f"python -c 'import tensorflow': {tf_import['seconds']:.2f} s, peak {tf_import['peak'] / mib:.0f} MiB "
          f"(medians of {tf_import['runs']})")
    print()
    print(f"{'rows':>11}  {'':<37} {'work s':>7} {'wall s':>7} {'peak MiB':>9} {'rows/s (work)':>14} "
          f"{'pyarrow / this':>15}")
    for rows, entry in results["rows"].items():
        rows = int(rows)
        base = rows / entry["pyarrow iter_batches"]["work"]
        for name, run in entry.items():
            if name == "file_bytes":
                continue
            work = run["work"]
            rate = f"{rows / work:,.0f}" if work else "-"
            ratio = f"{base / (rows / work):.2f}x" if work and name.startswith("maskdsl") else ""
            shown_work = f"{work:.2f}" if work else "-"
            print(f"{rows:>11,}  {name:<37} {shown_work:>7} {run['seconds']:>7.2f} {run['peak'] / mib:>9.0f} "
                  f"{rate:>14} {ratio:>15}")


if __name__ == "__main__":
    sys.exit(main())
