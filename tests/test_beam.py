"""Pipelines on Apache Beam (issue 17): `maskdsl run --runner beam` on real multi-shard Parquet, CSV and
TFRecord files with the embedded runner and two worker processes, against the single-machine
`maskdsl run` of the same files; `maskdsl.beam.Apply` inside a user's own beam.Pipeline, against
NumPy; what cannot be split into batches refused at its place; the message without the extra.

The multi-worker runs start two Python processes that each load TensorFlow (some 30 s on a
loaded 2-core machine), so they are marked slow; everything else runs in this process.
"""

import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import maskdsl
from conftest import sensor_readings
from maskdsl.cli.command import main

# Row-wise steps, a reduction a later step uses (the column means, broadcast to every batch), a
# reduction of a value that uses it (combined over the batches), and a count.
CENTRE = """\
name: centre
inputs:
  x: {dtype: "float32[rows, 3]", columns: [a, b, c]}
  limit: float32
steps:
  - x[isnan(x)] = 0.0
  - spike = any(x > limit, axis=1)
  - x[x > limit] = limit
  - x = x - mean(x, axis=0)
  - spread = mean(x ** 2)
  - spikes = count(spike)
  - biggest = max(x[spike])
outputs: [x, spike, spread, spikes, biggest]
"""

SHARDS = (230, 0, 310, 95)
TOLERANCE = 1e-6   # of a reduction over the rows (and what is computed from it), relative to the data's magnitude     # an empty shard too: it still gets its (empty) output file


def readings(rows, seed):
    return sensor_readings(rows, seed, missing=0.05)


def centre_numpy(x, limit):
    """CENTRE in NumPy, on all rows at once: the oracle of the PTransform test."""
    x = x.copy()
    x[np.isnan(x)] = 0.0
    spike = np.any(x > limit, axis=1)
    x[x > limit] = limit
    x = x - np.mean(x, axis=0)
    return {"x": x, "spike": spike, "spread": np.mean(x ** 2), "spikes": np.count_nonzero(spike),
            "biggest": np.max(x[spike])}


def write_shards(directory, kind):
    directory.mkdir()
    for i, rows in enumerate(SHARDS):
        x = readings(rows, seed=i)
        if kind == "parquet":
            pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]}), directory / f"part-{i}.parquet",
                           row_group_size=100)
        elif kind == "csv":
            pcsv.write_csv(pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]}), directory / f"part-{i}.csv")
        else:
            import tensorflow as tf
            with tf.io.TFRecordWriter(str(directory / f"part-{i}.tfrecord")) as writer:
                for row in x:   # a missing reading is a missing feature
                    feature = {c: tf.train.Feature(float_list=tf.train.FloatList(value=[v]))
                               for c, v in zip("abc", row) if not np.isnan(v)}
                    writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


@pytest.fixture(scope="module")
def pipeline_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("beam") / "centre.yaml"
    path.write_text(CENTRE)
    return path


def run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def read_table(path, kind):
    if kind == "parquet":
        table = pq.read_table(path)
        return {"x": np.array(table["x"].to_pylist(), np.float32).reshape(-1, 3),
                "spike": np.array(table["spike"].to_pylist(), bool)}
    if kind == "csv":
        table = pcsv.read_csv(path)
        return {"x": np.stack([table[f"x_{i}"].to_numpy() for i in range(3)], axis=1).astype(np.float32)
                .reshape(-1, 3), "spike": table["spike"].to_numpy().astype(bool)}
    import tensorflow as tf
    features = {"x": tf.io.FixedLenFeature([3], tf.float32), "spike": tf.io.FixedLenFeature([], tf.int64)}
    rows = [tf.io.parse_single_example(r, features) for r in tf.data.TFRecordDataset(str(path))]
    return {"x": np.array([r["x"].numpy() for r in rows], np.float32).reshape(-1, 3),
            "spike": np.array([r["spike"].numpy() for r in rows], bool)}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["parquet", "csv", "tfrecord"])
def test_beam_with_two_workers_writes_what_the_single_machine_run_writes(tmp_path, pipeline_file, capsys, kind):
    write_shards(tmp_path / "data", kind)
    common = [str(pipeline_file), "--input", str(tmp_path / "data"), "--output-format", kind, "--set", "limit=40",
              "--batch-size", "64"]
    status, out, err = run(["run", *common, "--output", f"{tmp_path / 'local'}/"], capsys)
    assert status == 0, err
    status, out, err = run(["run", *common, "--output", f"{tmp_path / 'beam'}/", "--runner", "beam",
                            "--beam-option", "direct_num_workers=2"], capsys)
    assert status == 0, err
    assert "on Beam (DirectRunner, 2 workers)" in out and f"{sum(SHARDS):,} rows" in out
    local, beam = sorted(p.name for p in (tmp_path / "local").iterdir()), \
        sorted(p.name for p in (tmp_path / "beam").iterdir())
    assert beam == local == ["_extras.npz", *(f"part-{i}.{kind}" for i in range(len(SHARDS)))]
    for name in local[1:]:
        ours, theirs = read_table(tmp_path / "beam" / name, kind), read_table(tmp_path / "local" / name, kind)
        assert ours["spike"].tolist() == theirs["spike"].tolist()            # row-wise: bit for bit
        # x - mean(x): the mean is a float64 sum over the batches here, a float32 reduce_mean of every row
        # there: a few float32 steps apart (docs/pipelines.md allows 1e-6 of the data's magnitude, 60 here)
        np.testing.assert_allclose(ours["x"], theirs["x"], rtol=0, atol=TOLERANCE * 60)
        assert ours["x"].dtype == theirs["x"].dtype
    with np.load(tmp_path / "beam" / "_extras.npz") as ours, np.load(tmp_path / "local" / "_extras.npz") as theirs:
        assert sorted(ours.files) == sorted(theirs.files) == ["biggest", "spikes", "spread"]
        assert ours["spikes"] == theirs["spikes"] and ours["spikes"].dtype == theirs["spikes"].dtype
        for name in ("spread", "biggest"):
            assert ours[name].dtype == theirs[name].dtype == np.float32
            np.testing.assert_allclose(ours[name], theirs[name], rtol=TOLERANCE * 10)


@pytest.mark.slow
def test_a_row_wise_pipeline_on_beam_is_bit_for_bit_the_single_machine_run(tmp_path, capsys):
    """One output file from several shards, in input order, and rows a mask selected in order too."""
    write_shards(tmp_path / "data", "parquet")
    (tmp_path / "p.yaml").write_text(CENTRE.replace("  - x = x - mean(x, axis=0)\n", "").replace(
        "outputs: [x, spike, spread, spikes, biggest]", "  - hot = x[spike]\noutputs: [x, spike, hot, spikes]"))
    common = [str(tmp_path / "p.yaml"), "--input", f"{tmp_path / 'data'}/*.parquet", "--set", "limit=40",
              "--batch-size", "50"]
    assert run(["run", *common, "--output", str(tmp_path / "local.parquet")], capsys)[0] == 0
    status, out, err = run(["run", *common, "--output", str(tmp_path / "beam.parquet"), "--runner", "beam",
                            "--beam-option", "direct_num_workers=2"], capsys)
    assert status == 0, err
    assert pq.read_table(tmp_path / "beam.parquet").equals(pq.read_table(tmp_path / "local.parquet"))
    with np.load(tmp_path / "beam.extras.npz") as ours, np.load(tmp_path / "local.extras.npz") as theirs:
        assert ours["hot"].tobytes() == theirs["hot"].tobytes() and ours["hot"].shape == theirs["hot"].shape
        assert ours["spikes"] == theirs["spikes"]


# ---- planning the passes (no TensorFlow, no Beam) ----

def stages_of(steps, outputs, inputs="  x: float32[rows, 3]\n  limit: float32\n"):
    from maskdsl.pipeline.config import load_config, type_program
    from maskdsl.pipeline.staging import plan_stages
    config = load_config("inputs:\n" + inputs + "steps:\n" + "".join(f"  - {s}\n" for s in steps)
                         + f"outputs: [{', '.join(outputs)}]\n")
    return config, plan_stages(config, type_program(config))


def test_a_pipeline_that_streams_has_one_pass():
    config, stages = stages_of(["x[isnan(x)] = 0.0", "total = sum(x)", "hot = x[x > limit]"], ["x", "total", "hot"])
    assert stages.broadcasts == () and stages.passes == () and stages.program_text == config.program_text
    assert [r.output for r in stages.stream.reductions] == ["total"]


def test_a_reduction_a_later_step_uses_becomes_an_input_at_the_same_place():
    config, stages = stages_of(["x[isnan(x)] = 0.0", "top = x; x = x - x.mean(axis=0)", "x[x > limit] = max(top)",
                                "s = sum(x ** 2)"], ["x", "s"])
    text = config.program_text
    assert len(stages.program_text) == len(text)   # every position of the file stays where it was
    assert [(b.name, b.kind, b.axes, b.shape, text[b.span.start:b.span.end]) for b in stages.broadcasts] == [
        ("r_0", "mean", (0,), (3,), "x.mean(axis=0)"), ("r_1", "max", (0, 1), (), "max(top)")]
    assert stages.program_text == text.replace("x.mean(axis=0)", "r_0".ljust(14)).replace("max(top)", "r_1     ")
    # each argument evaluated where its reduction stands: x before `x = x - ...` reassigns it
    first, second = stages.passes
    assert first.program_text == "x[isnan(x)] = 0.0\ntop = x\n_maskdsl_part_0 = (x)"
    assert first.parts == ("_maskdsl_part_0",)
    assert second.program_text == text[:text.index("\nx[x > limit]")] + "\n_maskdsl_part_1 = (top)"
    assert [(r.output, r.kind) for r in stages.stream.reductions] == [("s", "sum")]


def test_a_name_the_program_uses_is_never_the_name_of_a_broadcast():
    _, stages = stages_of(["r_0 = x * 2", "y = r_0 - mean(r_0)"], ["y"])
    assert [b.name for b in stages.broadcasts] == ["a_0"] and "a_0" in stages.program_text


@pytest.mark.parametrize("steps, outputs, why", [
    (["y = x[1:]"], ["y"], "`x[1:]` picks rows by position"),
    (["n = shape(x)"], ["n"], "`shape(x)` depends on the number of rows"),
    (["y = x - mean(x - mean(x))"], ["y"], "`mean(x - mean(x))` reduces over the rows (needed for output 'y') (a "
                                           "reduction over the rows of a value that itself needs one would take a "
                                           "third pass)"),
])
def test_what_cannot_be_split_is_refused_with_the_reason(steps, outputs, why):
    with pytest.raises(maskdsl.ConfigError) as caught:
        stages_of(steps, outputs)
    assert caught.value.message.startswith(f"step 1: cannot run on Beam: {why}")
    assert caught.value.code == "cross-row" and caught.value.line == 5


def test_accumulators_filled_on_different_workers_merge_into_the_whole():
    from maskdsl.pipeline.reductions import DECOMPOSABLE, Accumulator
    rng = np.random.default_rng(3)
    parts = [rng.normal(size=(n, 2)).astype(np.float32) for n in (4, 0, 7, 3)]
    for part in parts:
        part[rng.random(part.shape) < 0.2] = np.nan
    whole = np.concatenate(parts)
    numpy = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "min": np.min, "max": np.max, "any": np.any,
             "all": np.all, "count": np.count_nonzero, "nansum": np.nansum, "nanprod": np.nanprod,
             "nanmean": np.nanmean, "nanmin": np.nanmin, "nanmax": np.nanmax}
    assert set(numpy) == set(DECOMPOSABLE)
    for kind in DECOMPOSABLE:
        expected = numpy[kind](whole, axis=0)
        dtype = "int64" if kind == "count" else "bool" if kind in ("any", "all") else "float32"
        left, right = (Accumulator(kind, (0,), False, dtype, (2,)) for _ in range(2))
        for part in parts[:2]:
            left.add(part)
        for part in parts[2:]:
            right.add(part)
        left.merge(right)
        left.merge(Accumulator(kind, (0,), False, dtype, (2,)))   # a worker that saw no batch
        np.testing.assert_allclose(left.result(), expected.astype(dtype), rtol=1e-6, err_msg=kind)
        assert left.result().dtype == np.dtype(dtype)


# ---- the PTransform in a user's own pipeline ----

def test_apply_inside_a_users_pipeline_matches_numpy(pipeline_file):
    import apache_beam as beam
    import maskdsl.beam
    from apache_beam.testing.util import assert_that

    parts = [readings(n, seed=10 + n) for n in (40, 25, 33)]
    elements = [(0, {"x": parts[0]}),
                (1, pa.RecordBatch.from_pydict({"a": parts[1][:, 0], "b": parts[1][:, 1], "c": parts[1][:, 2]})),
                (2, {"x": parts[2]})]
    expected = centre_numpy(np.concatenate(parts), np.float32(40))
    starts = np.cumsum([0, *(len(p) for p in parts)])

    def check_rows(found):
        assert sorted(k for k, _ in found) == [0, 1, 2]
        for key, outputs in found:
            rows = slice(starts[key], starts[key + 1])
            assert outputs["spike"].tolist() == expected["spike"][rows].tolist()
            np.testing.assert_allclose(outputs["x"], expected["x"][rows], rtol=0, atol=TOLERANCE * 60)

    def check_reduced(found):
        (values,) = found
        assert values["spikes"] == expected["spikes"]
        np.testing.assert_allclose(values["spread"], expected["spread"], rtol=1e-5)
        np.testing.assert_allclose(values["biggest"], expected["biggest"], rtol=1e-5)

    pipeline = maskdsl.Pipeline.from_yaml(pipeline_file)
    with beam.Pipeline() as p:   # (the checks run inside the job; a failed one fails it)
        out = p | beam.Create(elements) | maskdsl.beam.Apply(pipeline, fixed={"limit": 40.0})
        assert_that(out["rows"], check_rows, label="rows")
        assert_that(out["reduced"], check_reduced, label="reduced")


def test_apply_refuses_other_cross_row_dependence_at_its_place(tmp_path):
    import maskdsl.beam
    path = tmp_path / "first.yaml"
    path.write_text("inputs:\n  x: float32[rows]\nsteps:\n  - y = x - x[0]\noutputs: [y]\n")
    with pytest.raises(maskdsl.ConfigError) as caught:
        maskdsl.beam.Apply(str(path))
    error = caught.value
    assert (error.line, error.column, error.code, error.option) == (4, 13, "cross-row", "--runner")
    assert str(error) == (
        f"{path}:4:13: ConfigError: step 1: cannot run on Beam: `x[0]` picks rows by position (an integer, slice "
        f"or index array on the row axis) (needed for output 'y')\n"
        f"    - y = x - x[0]\n"
        f"              ^^^^\n"
        f"hint: a distributed run sees one batch of rows at a time; it combines reductions over the rows (sum, "
        f"prod, mean, min, max, any, all, count and their nan forms) across the batches, and nothing else")


def test_run_refuses_before_beam_starts(tmp_path, capsys):
    (tmp_path / "twice.yaml").write_text("inputs:\n  x: float32[rows]\nsteps:\n  - y = x - mean(x - mean(x))\n"
                                         "outputs: [y]\n")
    pq.write_table(pa.table({"x": np.arange(5, dtype=np.float32)}), tmp_path / "in.parquet")
    status, out, err = run(["run", str(tmp_path / "twice.yaml"), "--input", str(tmp_path / "in.parquet"),
                            "--output", str(tmp_path / "out.parquet"), "--runner", "beam"], capsys)
    assert status == 1 and out == ""
    assert err.startswith(f"{tmp_path / 'twice.yaml'}:4:13: ConfigError: step 1: cannot run on Beam: "
                          f"`mean(x - mean(x))` reduces over the rows (needed for output 'y') (a reduction over the "
                          f"rows of a value that itself needs one would take a third pass)\n"
                          f"    - y = x - mean(x - mean(x))\n              ^^^^^^^^^^^^^^^^^\n")
    assert not (tmp_path / "out.parquet").exists()


def test_a_bad_value_on_a_worker_is_reported_at_its_line(tmp_path, capsys):
    """An error met on a worker comes back located; nothing is written (the in-process runner here)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("a,b,c\n1,2,3\n")
    (tmp_path / "data" / "b.csv").write_text("a,b,c\n1,2,3\n4,five,6\n")
    (tmp_path / "p.yaml").write_text(CENTRE)
    status, out, err = run(["run", str(tmp_path / "p.yaml"), "--input", str(tmp_path / "data"), "--output",
                            str(tmp_path / "out.parquet"), "--set", "limit=40", "--runner", "beam",
                            "--beam-option", "direct_running_mode=in_memory"], capsys)
    assert status == 1, out
    assert err.startswith(f"{tmp_path / 'data' / 'b.csv'}:3:3: DataError:"), err
    assert "  4,five,6\n    ^^^^\n" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "p.yaml"]


# ---- options and the extra ----

def test_beam_options_pass_through_after_the_embedded_defaults():
    from maskdsl.beam.run import beam_arguments
    assert beam_arguments(["runner=FlinkRunner", "flink_master=host:8081", "--environment_type=LOOPBACK"],
                          workers=2) == [
        "--direct_running_mode=multi_processing", "--default_sdk_harness_log_level=WARNING",
        "--direct_num_workers=2", "--runner=FlinkRunner",
        "--flink_master=host:8081", "--environment_type=LOOPBACK"]
    with pytest.raises(maskdsl.ConfigError, match="expected KEY=VALUE"):
        beam_arguments(["FlinkRunner"])


def test_without_the_extra_the_runner_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "apache_beam" or m.startswith(("apache_beam.", "maskdsl.beam"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "apache_beam", None)    # `import apache_beam` raises ImportError
    pq.write_table(pa.table({"a": [1.0], "b": [2.0], "c": [3.0]}), tmp_path / "in.parquet")
    (tmp_path / "p.yaml").write_text(CENTRE)
    status, out, err = run(["run", str(tmp_path / "p.yaml"), "--input", str(tmp_path / "in.parquet"), "--output",
                            str(tmp_path / "out.parquet"), "--set", "limit=40", "--runner", "beam"], capsys)
    assert status == 1 and out == ""
    assert err == ("MaskDSLError: --runner beam needs Apache Beam, which is not installed\n"
                   "hint: pip install 'maskdsl[beam]'\n")
    with pytest.raises(ImportError, match=r"pip install 'maskdsl\[beam\]'"):
        import maskdsl.beam  # noqa: F401
