"""Pipelines on Parquet, CSV and TFRecord files (issue 16): columns to inputs, nulls, shards,
streamed reductions, output layout, and every error located, with no partial output.

Every data file here is written by pyarrow or TensorFlow themselves (no mocks), and every
result is compared with the same computation in NumPy.
"""

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

import maskdsl
from conftest import assert_same, clean_numpy, sensor_readings
from maskdsl.cli.command import main
from maskdsl.cli.pipeline_commands import run_command
from maskdsl.pipeline.problems import PipelineErrors
from maskdsl.pipeline.reductions import Accumulator

CLEAN = """\
name: clean
inputs:
  x: {dtype: "float32[rows, 3]", columns: [a, b, c]}
  limit: float32
steps:
  - x[isnan(x)] = 0.0
  - x[x > limit] = limit
  - _ok = all(x >= 0.0, axis=1)
  - rows = x[_ok]
  - total = sum(x[_ok])
outputs: [x, rows, total]
"""


def readings(rows=1000, seed=0):
    return sensor_readings(rows, seed, missing=0.05)


def table_of(x, **extra):
    return pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], **extra})


def run(pipeline, inputs, output, *, set=None, batch_size=None, force=False, format=None, output_format=None):
    inputs = [str(i) for i in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    return run_command(argparse.Namespace(pipeline=str(pipeline), input=inputs, output=str(output), set=set,
                                          batch_size=batch_size, force=force, tf_data_service=None, format=format,
                                          output_format=output_format))


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def column(table, name):
    values = table[name].combine_chunks()
    if pa.types.is_fixed_size_list(values.type):
        width = values.type.list_size
        return values.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
    return values.to_numpy(zero_copy_only=False)


def extras(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def files(directory):
    return sorted(p.name for p in Path(directory).iterdir())


# ---- Parquet ----

def test_parquet_in_parquet_out_streams_and_matches_numpy(tmp_path, capsys):
    x = readings()
    pq.write_table(table_of(x, label=pa.array(["s"] * len(x))), tmp_path / "in.parquet", row_group_size=300)
    p = write(tmp_path, CLEAN)
    assert run(p, tmp_path / "in.parquet", tmp_path / "out.parquet", set=["limit=40"], batch_size=128) == 0
    out = capsys.readouterr().out
    assert "clean: 1,000 rows -> " in out and "8 batches of up to 128 rows" in out
    assert "(total combined over the batches)" in out and "rows, total (not one value per row) -> " in out
    want = clean_numpy(x, np.float32(40))
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == ["x"] and table.schema.field("x").type == pa.list_(pa.float32(), 3)
    assert_same(column(table, "x"), want["x"])
    side = extras(tmp_path / "out.extras.npz")
    assert list(side) == ["rows", "total"]
    assert_same(side["rows"], want["rows"])
    assert_same(side["total"], want["total"], rtol=1e-5)    # batch sums added in float64
    assert files(tmp_path) == ["in.parquet", "out.extras.npz", "out.parquet", "p.yaml"]


def test_streamed_total_equals_the_one_batch_total(tmp_path):
    x = readings(rows=500, seed=4)
    pq.write_table(table_of(x), tmp_path / "in.parquet")
    p = write(tmp_path, CLEAN)
    assert run(p, tmp_path / "in.parquet", tmp_path / "one.npz", set=["limit=40"]) == 0
    assert run(p, tmp_path / "in.parquet", tmp_path / "many.npz", set=["limit=40"], batch_size=7) == 0
    one, many = extras(tmp_path / "one.npz"), extras(tmp_path / "many.npz")
    for name in ("x", "rows"):
        assert_same(many[name], one[name])
    assert_same(many["total"], one["total"], rtol=1e-6)


# ---- CSV ----

def test_csv_with_a_delimiter_quotes_a_header_and_nulls(tmp_path):
    text = ('sensor;a;b;c;ok\n'
            '"north; roof";1.5;2;3;true\n'
            '"east ""old""";;-4;5;false\n'
            'south;70;NA;6;true\n')
    (tmp_path / "in.csv").write_text(text)
    p = write(tmp_path, CLEAN.replace("  limit: float32\n", "  limit: float32\n  ok: bool[rows]\n")
              .replace("  - rows = x[_ok]", "  - rows = x[_ok & ok]") + "csv: {delimiter: ';'}\n")
    assert run(p, tmp_path / "in.csv", tmp_path / "out.csv", set=["limit=40"]) == 0
    x = np.array([[1.5, 2, 3], [np.nan, -4, 5], [70, np.nan, 6]], np.float32)
    ok = np.array([True, False, True])
    want = clean_numpy(x, np.float32(40))
    out = pcsv.read_csv(tmp_path / "out.csv", parse_options=pcsv.ParseOptions(delimiter=";"))
    assert out.column_names == ["x_0", "x_1", "x_2"]
    assert_same(np.stack([column(out, f"x_{i}") for i in range(3)], axis=1).astype(np.float32), want["x"])
    side = extras(tmp_path / "out.extras.npz")
    assert_same(side["rows"], want["x"][np.all(want["x"] >= 0, axis=1) & ok])


def test_csv_without_header_and_a_tsv(tmp_path):
    (tmp_path / "in.csv").write_text("1,2,3\n4,5,6\n")
    p = write(tmp_path, "inputs:\n  x: {dtype: 'int32[rows, 3]', columns: [f0, f1, f2]}\nsteps: [y = x * 2]\n"
                        "outputs: [y]\ncsv: {header: false}\n")
    assert run(p, tmp_path / "in.csv", tmp_path / "out.parquet") == 0
    assert_same(column(pq.read_table(tmp_path / "out.parquet"), "y"), np.array([[2, 4, 6], [8, 10, 12]], np.int32))
    (tmp_path / "in.tsv").write_text("u\tv\n1\t2\n")
    q = write(tmp_path, "inputs:\n  u: int64[rows]\n  v: int64[rows]\nsteps: [w = u + v]\noutputs: [w]\n", "q.yaml")
    assert run(q, tmp_path / "in.tsv", tmp_path / "out.tsv") == 0
    assert (tmp_path / "out.tsv").read_text() == '"w"\n3\n'


def test_a_csv_value_of_the_wrong_type_is_located_with_a_caret(tmp_path, capsys):
    (tmp_path / "in.csv").write_text("a,b,c\n1,2,3\n4,five,6\n")
    p = write(tmp_path, CLEAN)
    assert run(p, tmp_path / "in.csv", tmp_path / "out.parquet", set=["limit=1"]) == 1
    assert capsys.readouterr().err == (f"{tmp_path / 'in.csv'}:3:3: DataError: column 'b' holds 'five', which is not "
                                       f"a valid float32 value\n  4,five,6\n    ^^^^\n")
    assert files(tmp_path) == ["in.csv", "p.yaml"]


def test_an_integer_null_is_an_error_at_its_line_unless_filled(tmp_path, capsys):
    (tmp_path / "in.csv").write_text("n\n1\n2\n\n4\n")   # pyarrow skips the empty line: n is 1, 2, 4
    (tmp_path / "holes.csv").write_text("n,m\n1,1\n,2\n3,3\n")
    p = write(tmp_path, "inputs:\n  n: int32[rows]\nsteps: [y = n * 2]\noutputs: [y]\n")
    assert run(p, tmp_path / "in.csv", tmp_path / "out.npy") == 0
    assert_same(np.load(tmp_path / "out.npy"), np.array([2, 4, 8], np.int32))
    assert run(p, tmp_path / "holes.csv", tmp_path / "holes.npy") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path / 'holes.csv'}:3:1: DataError: row 1: column 'n' is null (empty) in this row, "
                          f"and input 'n' is int32, which has no NaN; nothing was written\n  ,2\n  ^\n")
    assert "hint: give the value a null becomes: n: {dtype: int32[rows], fill: 0}" in err
    filled = write(tmp_path, "inputs:\n  n: {dtype: 'int32[rows]', fill: -1}\nsteps: [y = n * 2]\noutputs: [y]\n",
                   "filled.yaml")
    assert run(filled, tmp_path / "holes.csv", tmp_path / "holes.npy") == 0
    assert_same(np.load(tmp_path / "holes.npy"), np.array([2, -2, 6], np.int32))


# ---- TFRecord ----

def write_examples(path, rows, seed=0, drop=()):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 60, size=(rows, 3)).astype(np.float32)
    n = rng.integers(-3, 10, size=rows)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i in range(rows):
            feature = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=x[i])),
                       "n": tf.train.Feature(int64_list=tf.train.Int64List(value=[n[i]])),
                       "note": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"ok"]))}
            if i in drop:
                del feature["n"]
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return x, n


TFR = """\
inputs:
  x: float32[rows, 3]
  n: {dtype: "int16[rows]", fill: 0}
  limit: float32
steps:
  - spike = any(x > limit, axis=1)
  - x[x > limit] = 0.0
  - k = n * 2
  - top = max(x, axis=0)
  - spikes = count(spike)
outputs: [x, spike, k, top, spikes]
"""


def test_tfrecord_in_and_out_with_a_missing_feature(tmp_path):
    x, n = write_examples(tmp_path / "in.tfrecord", 50, drop={7})
    p = write(tmp_path, TFR)
    assert run(p, tmp_path / "in.tfrecord", tmp_path / "out.tfrecord", set=["limit=40"], batch_size=16) == 0
    spike = np.any(x > 40, axis=1)
    clean = x.copy()
    clean[clean > 40] = 0.0
    n = n.astype(np.int16)
    n[7] = 0
    features = {"x": tf.io.FixedLenFeature([3], tf.float32), "spike": tf.io.FixedLenFeature([], tf.int64),
                "k": tf.io.FixedLenFeature([], tf.int64)}
    parsed = tf.data.TFRecordDataset(str(tmp_path / "out.tfrecord")).batch(100).map(
        lambda r: tf.io.parse_example(r, features)).get_single_element()
    assert_same(parsed["x"].numpy(), clean)
    assert_same(parsed["spike"].numpy().astype(bool), spike)
    assert_same(parsed["k"].numpy(), (n * 2).astype(np.int64))
    side = extras(tmp_path / "out.extras.npz")
    assert_same(side["top"], clean.max(axis=0))
    assert_same(side["spikes"], np.int64(spike.sum()))


def test_a_float64_output_is_refused_for_tfrecord(tmp_path, capsys):
    write_examples(tmp_path / "in.tfrecord", 3)
    p = write(tmp_path, "inputs:\n  x: float32[rows, 3]\nsteps: [y = float64(x)]\noutputs: [y]\n")
    assert run(p, tmp_path / "in.tfrecord", tmp_path / "out.tfrecord") == 1
    assert "output 'y' is float64: TFRecord's float_list holds float32" in capsys.readouterr().err


# ---- shards ----

def test_a_directory_of_shards_to_one_file_and_to_one_shard_each(tmp_path, capsys):
    x = readings(rows=700, seed=2)
    shards = tmp_path / "shards"
    shards.mkdir()
    bounds = [0, 250, 250, 700]     # the middle shard is empty
    for i in range(3):
        pq.write_table(table_of(x[bounds[i]:bounds[i + 1]]), shards / f"part-{i}.parquet")
    (shards / "_SUCCESS").write_text("")
    p = write(tmp_path, CLEAN)
    want = clean_numpy(x, np.float32(30))
    assert run(p, shards, tmp_path / "all.parquet", set=["limit=30"], batch_size=100) == 0
    assert "700 rows from " in capsys.readouterr().out
    assert_same(column(pq.read_table(tmp_path / "all.parquet"), "x"), want["x"])
    assert run(p, shards, f"{tmp_path / 'out'}/", set=["limit=30"], batch_size=100, output_format="parquet") == 0
    assert files(tmp_path / "out") == ["_extras.npz", "part-0.parquet", "part-1.parquet", "part-2.parquet"]
    for i in range(3):
        assert_same(column(pq.read_table(tmp_path / "out" / f"part-{i}.parquet"), "x"),
                    want["x"][bounds[i]:bounds[i + 1]].reshape(-1, 3))
    assert_same(extras(tmp_path / "out" / "_extras.npz")["total"], want["total"], rtol=1e-5)
    # the same from a glob of CSV shards, and a pipeline that must load every row
    for i in range(3):
        pcsv.write_csv(table_of(x[bounds[i]:bounds[i + 1]]), shards / f"part-{i}.csv")
    loads = write(tmp_path, CLEAN.replace("  - total = sum(x[_ok])", "  - total = sum(x[_ok]) + x[0, 0]"), "l.yaml")
    assert run(loads, str(shards / "*.csv"), f"{tmp_path / 'csv'}/", set=["limit=30"], output_format="csv") == 0
    out = capsys.readouterr().out
    assert "one batch" in out and "row-wise" not in out  # one batch is how it runs, not a warning
    assert run(loads, str(shards / "*.csv"), f"{tmp_path / 'csv'}/", set=["limit=30"], output_format="csv",
               force=True, batch_size=100) == 0
    out = capsys.readouterr().out  # asked for batches: why there are none
    assert "one batch" in out and "--batch-size ignored, not row-wise: `sum(x[_ok])` reduces over the rows " \
        f"(needed for output 'total') at {loads}:10:13; a reduction over the rows streams when it is a whole output" in out
    assert files(tmp_path / "csv") == ["_extras.npz", "part-0.csv", "part-1.csv", "part-2.csv"]
    part = pcsv.read_csv(tmp_path / "csv" / "part-2.csv")
    assert_same(np.stack([column(part, f"x_{i}") for i in range(3)], axis=1).astype(np.float32),
                want["x"][250:])
    assert (tmp_path / "csv" / "part-1.csv").read_text() == '"x_0","x_1","x_2"\n'


# ---- nulls, wrong types, truncated files: located errors, nothing written ----

def test_parquet_nulls_become_nan_or_the_fill_or_an_error(tmp_path, capsys):
    table = pa.table({"a": pa.array([1.0, None, 3.0], pa.float32()), "b": pa.array([1.0, 2.0, 3.0], pa.float32()),
                      "c": pa.array([1.0, 2.0, None], pa.float64()), "n": pa.array([5, None, 7], pa.int64())})
    pq.write_table(table, tmp_path / "in.parquet")
    p = write(tmp_path, "inputs:\n  x: {dtype: 'float32[rows, 3]', columns: [a, b, c]}\n  n: int8[rows]\n"
                        "steps: [y = x * 1, m = n + 1]\noutputs: [y, m]\n")
    assert run(p, tmp_path / "in.parquet", tmp_path / "out.npz") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{p}:3:6: DataError: column 'n' of {tmp_path / 'in.parquet'} holds 1 null, and input "
                          f"'n' is int8, which has no NaN\n    n: int8[rows]\n       ^^^^^^^^^^\n")
    filled = write(tmp_path, p.read_text().replace("n: int8[rows]", "n: {dtype: 'int8[rows]', fill: -1}"), "f.yaml")
    assert run(filled, tmp_path / "in.parquet", tmp_path / "out.npz") == 0
    out = extras(tmp_path / "out.npz")
    assert_same(out["y"], np.array([[1, 1, 1], [np.nan, 2, 2], [3, 3, np.nan]], np.float32))
    assert_same(out["m"], np.array([6, 0, 8], np.int8))


def test_a_column_of_the_wrong_type_points_at_its_declaration(tmp_path, capsys):
    pq.write_table(pa.table({"a": [1.0], "b": ["two"], "cc": [3.0]}), tmp_path / "in.parquet")
    p = write(tmp_path, CLEAN)
    assert main(["check", str(p), "--input", str(tmp_path / "in.parquet"), "--set", "limit=3"]) == 1
    err = capsys.readouterr().err
    assert err == (f"{p}:3:47: DataError: column 'b' of {tmp_path / 'in.parquet'} holds string, which input 'x' "
                   f"(float32[rows, 3]) cannot take\n"
                   f"    x: {{dtype: \"float32[rows, 3]\", columns: [a, b, c]}}\n"
                   f"                                                ^\n"
                   f"{p}:3:50: DataError: {tmp_path / 'in.parquet'} has no column 'c' for input 'x' (it has: a, b, "
                   f"cc)\n"
                   f"    x: {{dtype: \"float32[rows, 3]\", columns: [a, b, c]}}\n"
                   f"                                                   ^\n"
                   f"hint: did you mean 'cc'?\n2 errors\n")
    pq.write_table(pa.table({"a": [1.0], "b": [2], "c": pa.array([3.5], pa.float64())}), tmp_path / "ints.parquet")
    q = write(tmp_path, "inputs:\n  x: {dtype: 'int64[rows, 2]', columns: [b, c]}\nsteps: [y = x]\noutputs: [y]\n",
              "q.yaml")
    assert main(["check", str(q), "--input", str(tmp_path / "ints.parquet")]) == 1
    assert "column 'c' of " in capsys.readouterr().err and "is double, which does not convert to int64"


@pytest.mark.parametrize("kind", ["parquet", "csv", "tfrecord"])
def test_a_truncated_file_is_a_located_error_and_nothing_is_written(tmp_path, capsys, kind):
    x = readings(rows=400, seed=5)
    good = tmp_path / f"good.{kind}"
    if kind == "parquet":
        pq.write_table(table_of(x), good, row_group_size=100)
        p = write(tmp_path, CLEAN)
    elif kind == "csv":
        pcsv.write_csv(table_of(x), good)
        p = write(tmp_path, CLEAN)
    else:
        write_examples(good, 400)
        p = write(tmp_path, TFR)
    data = good.read_bytes()
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / f"a.{kind}").write_bytes(data)
    (shards / f"b.{kind}").write_bytes(data[:int(len(data) * 0.6)])     # cut mid-file
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("kept")
    before = sorted(str(q.relative_to(tmp_path)) for q in tmp_path.rglob("*"))
    assert run(p, shards, tmp_path / "out.parquet", set=["limit=30"], batch_size=64) == 1
    err = capsys.readouterr().err
    expected = {"parquet": f"{shards / 'b.parquet'}: DataError: cannot read {shards / 'b.parquet'} as a Parquet "
                           f"file: Parquet magic bytes not found in footer",
                "csv": f"{shards / 'b.csv'}:",
                "tfrecord": f"{shards / 'b.tfrecord'}: DataError: cannot read {shards / 'b.tfrecord'} after record "}
    assert err.startswith(expected[kind]), err
    if kind == "csv":
        assert "DataError: Expected 3 columns, got " in err and "nothing was written" in err
    assert sorted(str(q.relative_to(tmp_path)) for q in tmp_path.rglob("*")) == before


# ---- output safety ----

def test_outputs_are_never_clobbered_without_force(tmp_path, capsys):
    x = readings(rows=20)
    pq.write_table(table_of(x), tmp_path / "in.parquet")
    p = write(tmp_path, CLEAN)
    (tmp_path / "out.parquet").write_bytes(b"precious")
    assert run(p, tmp_path / "in.parquet", tmp_path / "out.parquet", set=["limit=9"]) == 1
    assert "out.parquet already exists; pass --force to overwrite it" in capsys.readouterr().err
    assert (tmp_path / "out.parquet").read_bytes() == b"precious"
    assert not (tmp_path / "out.extras.npz").exists()
    assert run(p, tmp_path / "in.parquet", tmp_path / "out.parquet", set=["limit=9"], force=True) == 0
    assert_same(column(pq.read_table(tmp_path / "out.parquet"), "x"), clean_numpy(x, np.float32(9))["x"])
    assert files(tmp_path) == ["in.parquet", "out.extras.npz", "out.parquet", "p.yaml"]


# ---- every error at once, before TensorFlow ----

FIVE_MISTAKES = """\
name: five
inputs:
  x: flot32[rows, 3]
  limit: float32
constants:
  floor: 010
steps:
  - x[isnan(x)] = 0.0
  - x[x > limit] = limit +
  - _ok = all(x >= 0.0, axis=1)
  - rows = x[_ok
outputs: [x, rows]
option: {strategy: auto}
"""


def test_a_file_with_five_mistakes_gets_five_located_errors(tmp_path, capsys):
    p = write(tmp_path, FIVE_MISTAKES)
    assert main(["check", str(p)]) == 1
    err = capsys.readouterr().err
    heads = [line for line in err.split("\n") if line.startswith(str(p))]
    assert [h.split(": ")[0].removeprefix(f"{p}:") for h in heads] == ["3:6", "6:10", "9:27", "11:17", "13:1"]
    assert err.endswith("5 errors\n")
    with pytest.raises(PipelineErrors) as info:
        maskdsl.Pipeline.from_yaml(p)
    assert [(type(e).__name__, e.line) for e in info.value.errors] == [
        ("ConfigError", 3), ("ConfigError", 6), ("ParseError", 9), ("ParseError", 11), ("ConfigError", 13)]


def test_a_wrong_step_and_a_missing_column_are_reported_together(tmp_path, capsys):
    pq.write_table(pa.table({"a": [1.0], "b": [2.0]}), tmp_path / "in.parquet")
    p = write(tmp_path, CLEAN.replace("  - rows = x[_ok]", "  - rows = x[_ok] + q"))
    assert main(["check", str(p), "--input", str(tmp_path / "in.parquet"), "--set", "limit=3"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{p}:9:21: UnknownNameError: step 4: unknown name 'q'")
    assert f"{p}:3:50: DataError: {tmp_path / 'in.parquet'} has no column 'c' for input 'x'" in err
    assert err.endswith("2 errors\n")


def test_run_reports_the_pipeline_data_and_output_problems_together(tmp_path, capsys):
    p = write(tmp_path, CLEAN.replace("  - rows = x[_ok]", "  - rows = x[_ok] + q"))
    (tmp_path / "out.parquet").write_text("old")
    assert run(p, tmp_path / "missing.csv", tmp_path / "out.parquet") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{p}:9:21: UnknownNameError: step 4: unknown name 'q'")
    assert f"DataError: no such input file: '{tmp_path / 'missing.csv'}'" in err
    assert "out.parquet already exists; pass --force to overwrite it" in err
    assert err.endswith("3 errors\n")


def test_check_summarises_how_a_pipeline_runs(tmp_path, capsys):
    pq.write_table(table_of(readings(rows=10)), tmp_path / "in.parquet")
    p = write(tmp_path, CLEAN)
    assert main(["check", str(p), "--input", str(tmp_path / "in.parquet"), "--set", "limit=3",
                 "--output", str(tmp_path / "o.csv")]) == 0
    assert capsys.readouterr().out == (
        f"{p}: ok (inputs: x, limit; outputs: x, rows, total)\n"
        f"  streams in batches (row inputs: x); combined over the batches: total (sum over the rows)\n"
        f"  input {tmp_path / 'in.parquet'} (parquet): x <- a, b, c\n"
        f"  output {tmp_path / 'o.csv'}: columns x; rows, total in {tmp_path / 'o.extras.npz'}\n")
    loads = write(tmp_path, "inputs: {x: 'float32[rows]'}\nsteps: ['y = x - mean(x)']\noutputs: [y]\n", "l.yaml")
    assert main(["check", str(loads)]) == 0
    assert ("loads every row at once (row inputs: x): `mean(x)` reduces over the rows (needed for output 'y') "
            f"at {loads}:2:18") in capsys.readouterr().out


def test_a_missing_scalar_says_how_to_give_it(tmp_path, capsys):
    pq.write_table(table_of(readings(rows=10)), tmp_path / "in.parquet")
    np.savez(tmp_path / "in.npz", x=readings(rows=10))
    p = write(tmp_path, CLEAN)
    legacy = write(tmp_path, CLEAN.replace('{dtype: "float32[rows, 3]", columns: [a, b, c]}', "float32[None, 3]"),
                   "legacy.yaml")
    assert run(p, tmp_path / "in.parquet", tmp_path / "out.npz") == 1
    assert capsys.readouterr().err == ("InputError: input 'limit' (float32) is not given: no input file has it\n"
                                       "hint: give it with --set limit=VALUE\n")
    assert run(legacy, tmp_path / "in.npz", tmp_path / "out.npz") == 1
    err = capsys.readouterr().err
    assert "in.npz has no array 'limit' (it has: x)" in err and "hint: give it with --set limit=VALUE" in err


# ---- rows: which inputs are row-aligned, the same rule everywhere ----

INDEXED = "inputs:\n  x: float32[rows]\n  idx: int64[None]\nsteps: ['y = x * 2', 'picked = x[idx]']\n" \
          "outputs: [y, picked]\n"


def test_a_variable_length_index_input_is_not_rows(tmp_path):
    x, idx = np.arange(6, dtype=np.float32), np.array([5, 0])
    np.savez(tmp_path / "in.npz", x=x, idx=idx)
    p = write(tmp_path, INDEXED)
    assert run(p, tmp_path / "in.npz", tmp_path / "out.npz") == 0
    out = extras(tmp_path / "out.npz")
    assert_same(out["picked"], x[idx])
    pipeline = maskdsl.Pipeline.from_yaml(p)
    assert pipeline.row_inputs == ("x",)
    assert_same(pipeline(x=x, idx=idx)["picked"].numpy(), x[idx])
    # a table gives the rows, a .npz beside it the rest
    pq.write_table(pa.table({"x": x}), tmp_path / "x.parquet")
    np.savez(tmp_path / "idx.npz", idx=idx)
    assert run(p, [tmp_path / "x.parquet", tmp_path / "idx.npz"], tmp_path / "t.parquet") == 0
    assert_same(column(pq.read_table(tmp_path / "t.parquet"), "y"), x * 2)
    assert_same(extras(tmp_path / "t.extras.npz")["picked"], x[idx])


def test_without_rows_every_none_input_is_rows_and_the_hint_says_so(tmp_path, capsys):
    legacy = INDEXED.replace("float32[rows]", "float32[None]")
    np.savez(tmp_path / "in.npz", x=np.arange(6, dtype=np.float32), idx=np.array([5, 0]))
    p = write(tmp_path, legacy)
    assert run(p, tmp_path / "in.npz", tmp_path / "out.npz") == 1
    err = capsys.readouterr().err
    assert "the row inputs of " in err and "'x' has 6, 'idx' has 2" in err and "declare the ones" in err
    pipeline = maskdsl.Pipeline.from_yaml(legacy)
    with pytest.raises(maskdsl.InputError, match="'x' has 6, 'idx' has 2") as info:
        pipeline(x=np.arange(6, dtype=np.float32), idx=np.array([5, 0]))
    assert "x: float32[rows, 3]" in info.value.hint


def test_map_fn_expands_single_rows_only_for_row_inputs():
    pipeline = maskdsl.Pipeline.from_yaml(INDEXED)
    ds = tf.data.Dataset.from_tensor_slices({"x": np.arange(4, dtype=np.float32)})
    with pytest.warns(maskdsl.pipeline.PerBatchWarning, match="`x\\[idx\\]` picks rows by position"):
        out = list(ds.map(pipeline.make_map_fn(idx=np.array([0, 0]))).as_numpy_iterator())
    assert [o["y"].tolist() for o in out] == [[0.0], [2.0], [4.0], [6.0]]
    with pytest.raises(maskdsl.InputError, match="the row inputs have different numbers of rows"):
        maskdsl.Pipeline.from_yaml("inputs: {a: 'float32[rows]', b: 'float32[rows]'}\nsteps: [c = a + b]\n"
                                   "outputs: [c]\n").run_tensors({"a": tf.zeros([3]), "b": tf.zeros([4])})


# ---- map_fn / tf_function on a pipeline that is not row-wise ----

def test_map_fn_warns_when_batches_would_change_the_result():
    pipeline = maskdsl.Pipeline.from_yaml(CLEAN)
    ds = tf.data.Dataset.from_tensor_slices({"x": readings(rows=8)}).batch(4)
    with pytest.warns(maskdsl.pipeline.PerBatchWarning, match=r"computes its outputs over each dataset element") \
            as record:
        list(ds.map(pipeline.make_map_fn(limit=30.0)))
    assert "`sum(x[_ok])` reduces over the rows (needed for output 'total') at <string>:10:13" in \
        str(record[0].message)
    row_wise = maskdsl.Pipeline.from_yaml("inputs: {x: 'float32[rows]'}\nsteps: [y = x * 2]\noutputs: [y]\n")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(tf.data.Dataset.from_tensor_slices({"x": np.ones(4, np.float32)}).batch(2).map(row_wise.map_fn))
        pipeline(x=readings(rows=3), limit=30.0)   # a whole array: no warning


# ---- the YAML additions ----

@pytest.mark.parametrize("inputs, message", [
    ("x: {dtype: 'float32[None, 3]', columns: [a, b, c]}", "its first dimension must be 'rows'"),
    ("x: {dtype: 'float32[rows, 3]', columns: [a, b]}", "input 'x' has 3 values per row ([3]), but 2 columns"),
    ("x: {dtype: 'float32[rows, 3]', columns: [a, a, b]}", "column 'a' is listed twice"),
    ("x: {dtype: 'float32[rows, None]', columns: [a]}", "dimensions after 'rows' must be fixed"),
    ("x: {dtype: 'int8[rows]', fill: 300}", "the fill of input 'x' 300 does not fit in int8"),
    ("x: {dtype: 'int8[rows]', fill: 2.5}", "must be a whole number for int8"),
    ("x: {dtype: 'bool[rows]', fill: 1}", "must be true or false for a bool input"),
    ("x: {type: 'int8[rows]'}", "unknown key 'type'"),
    ("x: {columns: [a]}", "input 'x' needs a 'dtype'"),
    ("x: 'float32[3, rows]'", "'rows' can only be the first dimension"),
])
def test_input_declaration_errors(inputs, message):
    with pytest.raises(maskdsl.ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)").replace("]", r"\]")) as info:
        maskdsl.Pipeline.from_yaml(f"inputs:\n  {inputs}\nsteps: [y = x]\noutputs: [y]\n")
    assert info.value.line == 2


def test_csv_options_errors_are_all_reported():
    with pytest.raises(PipelineErrors) as info:
        maskdsl.Pipeline.from_yaml("inputs: {x: 'float32[rows]'}\nsteps: [y = x]\noutputs: [y]\n"
                                   "csv: {delimiter: ';;', header: maybe, nul: []}\n")
    assert [e.message.split(",")[0] for e in info.value.errors] == [
        "csv delimiter must be one character", "csv header must be true or false", "unknown csv option 'nul'; the options are delimiter"]


def test_to_dict_keeps_rows_columns_fill_and_csv():
    text = CLEAN.replace("limit: float32", "limit: float32\n  n: {dtype: 'int8[rows]', fill: -1}") + \
        "csv: {delimiter: ';', nulls: ['', NA]}\n"
    with pytest.warns(maskdsl.pipeline.PipelineWarning, match="input 'n' is never used"):
        pipeline = maskdsl.Pipeline.from_yaml(text)
    data = pipeline.to_dict()
    assert data["inputs"] == {"x": {"dtype": "float32[rows, 3]", "columns": ["a", "b", "c"]}, "limit": "float32",
                              "n": {"dtype": "int8[rows]", "fill": -1}}
    assert data["csv"] == {"delimiter": ";", "nulls": ["", "NA"]}
    with pytest.warns(maskdsl.pipeline.PipelineWarning):
        again = maskdsl.Pipeline.from_dict(data)
    assert again.to_dict() == data and again.row_inputs == ("x", "n")


# ---- combining reductions over batches ----

@pytest.mark.parametrize("kind, source, result, axes", [
    ("sum", "float32", "float32", None), ("sum", "int32", "int64", (0,)), ("prod", "float64", "float64", (0,)),
    ("mean", "float32", "float32", None), ("mean", "int16", "float64", (0,)), ("min", "int32", "int32", (0,)),
    ("max", "float32", "float32", None), ("any", "bool", "bool", (0,)), ("all", "bool", "bool", None),
    ("count", "float64", "int64", (0,)), ("nansum", "float32", "float32", None),
    ("nanmean", "float64", "float64", (0,)), ("nanmin", "float32", "float32", (0,)),
    ("nanmax", "float64", "float64", None),
])
def test_accumulators_combine_batches_as_one_reduction(kind, source, result, axes):
    rng = np.random.default_rng(3)
    values = rng.uniform(-3, 3, size=(23, 2))
    if kind.startswith("nan"):
        values[rng.random(values.shape) < 0.2] = np.nan
    if source == "bool":
        data = values > 0
    elif np.dtype(source).kind == "i":
        data = (values * 10).astype(source)
    else:
        data = values.astype(source)
    whole = np.asarray(getattr(np, {"count": "count_nonzero"}.get(kind, kind))(data, axis=axes))
    acc = Accumulator(kind, axes, False, result, whole.shape)
    for start, stop in ((0, 5), (5, 5), (5, 17), (17, 23)):      # one batch is empty
        acc.add(data[start:stop])
    assert acc.result().dtype == np.dtype(result)
    np.testing.assert_allclose(acc.result(), whole.astype(result), rtol=1e-6)


def test_min_of_no_rows_at_all_is_numpys_error_at_the_step(tmp_path, capsys):
    pq.write_table(pa.table({"v": pa.array([1.0, 2.0], pa.float32())}), tmp_path / "in.parquet")
    p = write(tmp_path, "inputs: {v: 'float32[rows]'}\nsteps: ['low = min(v[v > 5])', 'w = v * 2']\n"
                        "outputs: [w, low]\n")
    assert run(p, tmp_path / "in.parquet", tmp_path / "out.npz", batch_size=1) == 1
    assert capsys.readouterr().err.startswith(
        f"{p}:2:16: ValueError: step 1: zero-size array to reduction operation minimum which has no identity")
    assert not (tmp_path / "out.npz").exists()


# ---- --format, --output-format, and the progress count ----

def test_formats_named_on_the_command_line(tmp_path):
    (tmp_path / "readings.txt").write_text("a,b,c\n1,2,3\n")
    p = write(tmp_path, CLEAN)
    assert run(p, tmp_path / "readings.txt", tmp_path / "out.data", set=["limit=9"], format="csv",
               output_format="parquet") == 0
    assert_same(column(pq.read_table(tmp_path / "out.data"), "x"), np.array([[1, 2, 3]], np.float32))
    assert (tmp_path / "out.data.extras.npz").exists()     # (an extension no format has is kept)


def test_the_progress_counts_rows_when_the_total_is_unknown():
    import io

    from maskdsl.cli.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    bar = Progress(None, "demo", stream=terminal, count_only=True)
    bar.advance(1500)
    bar.shown_at = 0.0
    bar.advance(500)
    bar.close()
    assert terminal.getvalue().endswith("\rdemo 2,000 rows\n")
