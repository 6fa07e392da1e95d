"""`maskdsl run --runner beam` with 1 and 2 workers against `maskdsl run` on one machine: rows per second.

    .venv/bin/python benchmarks/beam_rows.py                          # 500,000 and 2,000,000 rows, 3 runs each
    .venv/bin/python benchmarks/beam_rows.py --rows 400000 --repeats 1

A directory of Parquet shards of readings (float32 columns a, b, c, about 5% nulls) is written once
under --workdir. Each measurement is the whole command in a fresh process (`python -m maskdsl run
... --output DIR/`, Parquet out, one file per shard; TensorFlow's import, Beam's workers starting
and loading TensorFlow, reading, running and writing all included), so the numbers are what a user
waits for. The variants are run round-robin, one repeat of each after the other, so the shared
machine's background load falls on all of them alike; each is summarised by its median, and
"x local" is its rows per second over the single-machine run's. With two sizes, "rows/s beyond
start-up" is the extra rows over the extra seconds between them: the rate once TensorFlow, Beam's
workers and the pipeline are up, which is what more data costs.

- `local`: `maskdsl run` (tf.data on this machine, default --batch-size);
- `beam, 1 worker` and `beam, 2 workers`: `--runner beam` on Beam's embedded runner
  (DirectRunner, multi_processing, `--beam-option direct_num_workers=N`).

Two pipelines: `row-wise` (flag spikes, as in pipeline_formats.py) and `centre` (`x - mean(x,
axis=0)`: a reduction a later step uses, which the local run computes by loading every row and
Beam in two passes, the mean broadcast to every batch).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_formats import ROW_WISE  # noqa: E402  (the same row-wise pipeline as the formats benchmark)

CENTRE = """\
name: centre
inputs:
  x: {dtype: "float32[rows, 3]", columns: [a, b, c]}
  limit: float32
steps:
  - x[isnan(x)] = 0.0
  - x[x > limit] = limit
  - x = x - mean(x, axis=0)
  - spread = mean(x ** 2)
outputs: [x, spread]
"""

PIPELINES = {"row-wise": ROW_WISE, "centre": CENTRE}
VARIANTS = {"local": [], "beam, 1 worker": ["--runner", "beam", "--beam-option", "direct_num_workers=1"],
            "beam, 2 workers": ["--runner", "beam", "--beam-option", "direct_num_workers=2"]}


def write_data(directory: Path, rows: int, shards: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    per = rows // shards
    for i in range(shards):
        n = per if i < shards - 1 else rows - per * (shards - 1)
        x = rng.uniform(-5, 60, size=(n, 3)).astype(np.float32)
        x[rng.random(x.shape) < 0.05] = np.nan
        pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]}), directory / f"part-{i:03d}.parquet")


def run_once(pipeline: Path, data: Path, out: Path, extra: list[str]) -> float:
    if out.exists():
        shutil.rmtree(out)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "maskdsl", "run", str(pipeline), "--input", str(data),
                           "--output", f"{out}/", "--output-format", "parquet", "--set", "limit=40", *extra],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(extra) or 'local'}\n{done.stderr[-3000:]}")
    return elapsed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[500_000, 2_000_000])
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pipelines", nargs="+", default=list(PIPELINES), choices=list(PIPELINES))
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="maskdsl-beam-bench-"))
    datas = {}
    for rows in args.rows:
        datas[rows] = work / f"data-{rows}-{args.shards}"
        if not datas[rows].exists():
            write_data(datas[rows], rows, args.shards)
    print(f"{', '.join(f'{r:,}' for r in args.rows)} rows in {args.shards} Parquet shards; {os.cpu_count()} CPUs; "
          f"medians of {args.repeats}; whole command, fresh process each")
    print("| pipeline | rows | run | wall s | rows/s | x local |\n| --- | ---: | --- | ---: | ---: | ---: |")
    medians: dict[tuple, float] = {}
    for name in args.pipelines:
        pipeline = work / f"{name}.yaml"
        pipeline.write_text(PIPELINES[name])
        for rows, data in datas.items():
            times: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for _ in range(args.repeats):
                for variant, extra in VARIANTS.items():
                    times[variant].append(run_once(pipeline, data, work / "out", extra))
            local = rows / statistics.median(times["local"])
            for variant in VARIANTS:
                median = medians[name, rows, variant] = statistics.median(times[variant])
                speed = rows / median
                print(f"| {name} | {rows:,} | {variant} | {median:.2f} | {speed:,.0f} | {speed / local:.2f} |",
                      flush=True)
    if len(args.rows) > 1:
        small, large = min(args.rows), max(args.rows)
        print("\n| pipeline | run | rows/s beyond start-up | x local |\n| --- | --- | ---: | ---: |")
        for name in args.pipelines:
            def marginal(variant, name=name):
                extra = medians[name, large, variant] - medians[name, small, variant]
                return (large - small) / extra if extra > 0 else None   # (None: lost in the noise)
            local = marginal("local")
            for variant in VARIANTS:
                rate = marginal(variant)
                shown = f"{rate:,.0f} | {rate / local:.2f}" if rate and local else "noise | -"
                print(f"| {name} | {variant} | {shown} |")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
