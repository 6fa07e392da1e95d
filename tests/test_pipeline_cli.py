"""`maskdsl run` / `maskdsl export` (maskdsl.cli.pipeline_commands, on maskdsl.pipeline's data_files,
output, batching, service and export): data files, --set, streaming in
batches, atomic output, DataErrors, SavedModel export loaded without maskdsl, and the
tf.data service. Outputs are compared with NumPy."""

import argparse
import io
import os
import random
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest

import maskdsl
from conftest import assert_same, clean_numpy, sensor_readings
from maskdsl.cli.pipeline_commands import export_command, run_command, scalar_value
from maskdsl.cli.progress import Progress
from maskdsl.pipeline import output
from maskdsl.pipeline.batching import in_order
from maskdsl.ir.dtypes import Type

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "pipelines" / "clean_sensors.yaml"
SPIKES = ROOT / "examples" / "pipelines" / "flag_spikes.yaml"


def sensors(rows=50, seed=0):
    return sensor_readings(rows, seed, missing=0.1)


def spikes_numpy(x, limit):
    x = x.copy()
    spike = np.any(x > limit, axis=1)
    x[np.isnan(x) | (x > limit)] = 0.0
    return {"x": x, "spike": spike, "spiky": x[spike]}


def run(pipeline, input, output, *, set=None, batch_size=None, force=False, service=None):
    return run_command(argparse.Namespace(pipeline=str(pipeline), input=str(input), output=str(output),
                                          set=set, batch_size=batch_size, force=force,
                                          tf_data_service=service))


def load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def assert_outputs(actual, expected):
    assert list(actual) == list(expected)
    for name in expected:
        assert_same(actual[name], expected[name], rtol=1e-5, label=name)


def leftovers(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith("."))


# ---- running ----

def test_run_npz_with_set_matches_numpy(tmp_path, capsys):
    x = sensors()
    np.savez(tmp_path / "in.npz", x=x)
    assert run(EXAMPLE, tmp_path / "in.npz", tmp_path / "out.npz", set=["limit=40"]) == 0
    assert_outputs(load(tmp_path / "out.npz"), clean_numpy(x, np.float32(40)))
    out = capsys.readouterr()
    assert f"clean-sensors: 50 rows -> {tmp_path / 'out.npz'}" in out.out
    assert "(total combined over the batches)" in out.out   # streamed: the sum is combined
    assert out.err == ""                        # not a terminal: no progress bar
    assert leftovers(tmp_path) == []


def test_scalar_inputs_may_come_from_the_npz(tmp_path):
    x = sensors()
    np.savez(tmp_path / "in.npz", x=x, limit=np.float32(30))
    assert run(EXAMPLE, tmp_path / "in.npz", tmp_path / "out.npz") == 0
    assert_outputs(load(tmp_path / "out.npz"), clean_numpy(x, np.float32(30)))


def test_row_wise_pipeline_streams_an_npy_in_batches(tmp_path, capsys):
    x = sensors(rows=103, seed=3)
    np.save(tmp_path / "x.npy", x)
    assert maskdsl.Pipeline.from_yaml(SPIKES).row_wise
    assert run(SPIKES, tmp_path / "x.npy", tmp_path / "out.npz", set=["limit=50"], batch_size=10) == 0
    assert "11 batches of up to 10 rows" in capsys.readouterr().out
    assert_outputs(load(tmp_path / "out.npz"), spikes_numpy(x, np.float32(50)))
    # one batch gives the same bytes
    assert run(SPIKES, tmp_path / "x.npy", tmp_path / "one.npz", set=["limit=50"]) == 0
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "out.npz").read_bytes()


def test_empty_input_gives_empty_outputs(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((0, 3), np.float32))
    assert run(SPIKES, tmp_path / "x.npy", tmp_path / "out.npz", set=["limit=1"], batch_size=4) == 0
    out = load(tmp_path / "out.npz")
    assert out["x"].shape == (0, 3) and out["spike"].shape == (0,) and out["spiky"].shape == (0, 3)


def test_npy_output_for_a_single_output(tmp_path):
    (tmp_path / "p.yaml").write_text("inputs: {x: 'int32[None]'}\nsteps: ['x[x % 2 == 0] //= 2']\n"
                                     "outputs: [x]\n")
    x = np.arange(-5, 6, dtype=np.int32)
    np.save(tmp_path / "x.npy", x)
    assert run(tmp_path / "p.yaml", tmp_path / "x.npy", tmp_path / "y.npy", batch_size=4) == 0
    want = x.copy()
    want[want % 2 == 0] //= 2
    assert_same(np.load(tmp_path / "y.npy"), want)


def test_set_overrides_a_constant(tmp_path):
    x = sensors()
    np.savez(tmp_path / "in.npz", x=x)
    text = EXAMPLE.read_text().replace("floor: 0.0", "floor: 2.0")
    (tmp_path / "p.yaml").write_text(text)
    assert run(tmp_path / "p.yaml", tmp_path / "in.npz", tmp_path / "out.npz", set=["limit=40", "floor=0"]) == 0
    assert_outputs(load(tmp_path / "out.npz"), clean_numpy(x, np.float32(40)))


# ---- output safety ----

def test_never_clobbers_without_force(tmp_path, capsys):
    np.savez(tmp_path / "in.npz", x=sensors())
    (tmp_path / "out.npz").write_bytes(b"precious")
    assert run(EXAMPLE, tmp_path / "in.npz", tmp_path / "out.npz", set=["limit=40"]) == 1
    assert "out.npz already exists; pass --force to overwrite it" in capsys.readouterr().err
    assert (tmp_path / "out.npz").read_bytes() == b"precious"
    assert run(EXAMPLE, tmp_path / "in.npz", tmp_path / "out.npz", set=["limit=40"], force=True) == 0
    assert set(load(tmp_path / "out.npz")) == {"x", "rows", "total"}
    assert leftovers(tmp_path) == []


def test_a_failed_run_leaves_no_file(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("inputs:\n  x: float32[None]\n  i: int64\nsteps:\n  - y = x[i] * 2\n"
                                     "outputs: [y]\n")
    np.save(tmp_path / "x.npy", np.arange(3, dtype=np.float32))
    assert run(tmp_path / "p.yaml", tmp_path / "x.npy", tmp_path / "y.npy", set=["i=7"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path / 'p.yaml'}:5:9: IndexOutOfRangeError: step 1: ")
    assert "    - y = x[i] * 2\n          ^^^^" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml", "x.npy"]
    assert run(tmp_path / "p.yaml", tmp_path / "x.npy", tmp_path / "y.npy", set=["i=-3"]) == 0
    assert_same(np.load(tmp_path / "y.npy"), np.float32(0.0))


def test_publish_refuses_a_file_that_appeared_meanwhile(tmp_path):
    (tmp_path / "part").write_bytes(b"new")
    (tmp_path / "out.npz").write_bytes(b"old")
    with pytest.raises(maskdsl.DataError, match="already exists"):
        output.publish(str(tmp_path / "part"), str(tmp_path / "out.npz"), force=False)
    assert (tmp_path / "out.npz").read_bytes() == b"old"


# ---- bad data, each a DataError naming the array and the spec ----

@pytest.fixture
def data_dir(tmp_path):
    np.savez(tmp_path / "ok.npz", x=sensors())
    np.savez(tmp_path / "wrong_name.npz", y=sensors())
    np.savez(tmp_path / "wrong_dtype.npz", x=sensors())     # float data for an int input (int.yaml)
    (tmp_path / "int.yaml").write_text("inputs: {x: 'int32[None, 3]'}\nsteps: [y = x * 2]\noutputs: [y]\n")
    np.savez(tmp_path / "wrong_rank.npz", x=np.zeros(5, np.float32))
    np.savez(tmp_path / "wrong_dim.npz", x=np.zeros((5, 4), np.float32))
    np.savez(tmp_path / "strings.npz", x=np.array([["a", "b", "c"]]))
    np.save(tmp_path / "objects.npy", np.array([[1, None, 3]], dtype=object), allow_pickle=True)
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[:len(data) // 2])
    np.save(tmp_path / "x.npy", sensors())
    (tmp_path / "truncated.npy").write_bytes((tmp_path / "x.npy").read_bytes()[:200])
    (tmp_path / "text.npy").write_text("not numpy at all\n")
    (tmp_path / "data.txt").write_text("1,2,3\n")
    return tmp_path


@pytest.mark.parametrize("input, settings, message", [
    ("wrong_name.npz", ["limit=1"], "has no array 'x' (it has: y); the pipeline needs x: float32[None, 3]"),
    ("wrong_dtype.npz", [], "array 'x' in {dir}/wrong_dtype.npz has dtype float32 and shape (50, 3), but the "
                            "pipeline declares x: int32[None, 3]; float32 does not convert to int32"),
    ("wrong_rank.npz", ["limit=1"], "but the pipeline declares x: float32[None, 3] (rank 2, not 1)"),
    ("wrong_dim.npz", ["limit=1"], "shape (5, 4), but the pipeline declares x: float32[None, 3] (axis 1 must be 3)"),
    ("strings.npz", ["limit=1"], "has dtype <U1 and shape (1, 3); the pipeline declares x: float32[None, 3]"),
    ("objects.npy", ["limit=1"], "cannot read '{dir}/objects.npy' as a .npy file for input 'x'"),
    ("truncated.npz", ["limit=1"], "cannot read"),
    ("truncated.npy", ["limit=1"], "cannot read '{dir}/truncated.npy' as a .npy file for input 'x'"),
    ("text.npy", ["limit=1"], "cannot read '{dir}/text.npy' as a .npy file"),
    ("data.txt", ["limit=1"], "unsupported input file"),
    ("missing.npz", ["limit=1"], "no such input file"),
    ("x.npy", [], "a .npy file holds one array, but the pipeline needs 2 inputs from the file (x, limit)"),
])
def test_bad_data_is_a_data_error(data_dir, capsys, input, settings, message):
    # (int data would convert to a float input under same_kind, so the dtype case uses an int pipeline)
    pipeline = data_dir / "int.yaml" if input == "wrong_dtype.npz" else EXAMPLE
    assert run(pipeline, data_dir / input, data_dir / "out.npz", set=settings) == 1
    err = capsys.readouterr().err
    assert err.startswith("DataError: "), err
    assert message.format(dir=data_dir) in err
    assert not (data_dir / "out.npz").exists()


@pytest.mark.parametrize("settings, message", [
    (["speed=3"], "InputError: --set speed: the pipeline has no scalar input or constant named 'speed' "
                  "(scalar inputs: limit; constants: floor)"),
    (["x=3"], "InputError: --set x: input 'x' is float32[None, 3], not a scalar"),
    (["limit=fast"], "InputError: --set limit: 'fast' is not a decimal number"),
    (["limit=1", "limit=2"], "InputError: --set limit is given twice"),
    (["limit"], "InputError: --set expects NAME=VALUE"),
    (["floor=yes"], "InputError: --set floor: 'yes' is not a decimal number"),
])
def test_bad_settings(tmp_path, capsys, settings, message):
    np.savez(tmp_path / "in.npz", x=sensors())
    assert run(EXAMPLE, tmp_path / "in.npz", tmp_path / "out.npz", set=settings) == 1
    assert message in capsys.readouterr().err


def test_bad_output_paths(tmp_path, capsys):
    np.savez(tmp_path / "in.npz", x=sensors())
    assert run(EXAMPLE, tmp_path / "in.npz", tmp_path / "out.npy", set=["limit=1"]) == 1
    assert "a .npy output holds one array, but the pipeline has 3 outputs (x, rows, total)" in capsys.readouterr().err
    assert run(EXAMPLE, tmp_path / "in.npz", tmp_path / "nowhere" / "out.npz", set=["limit=1"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_config_errors_are_printed_with_a_caret(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("inputs: {x: 'float32[None]'}\nsteps:\n  - y = x +\noutputs: [y]\n")
    assert run(tmp_path / "p.yaml", tmp_path / "in.npz", tmp_path / "out.npz") == 1
    assert capsys.readouterr().err == (f"{tmp_path / 'p.yaml'}:3:12: ParseError: step 1: expected an expression "
                                       f"after '+', found the end of the program\n    - y = x +\n             ^\n"
                                       f"DataError: no such input file: '{tmp_path / 'in.npz'}'\n2 errors\n")


@pytest.mark.parametrize("text, want, value", [
    ("5", Type("float32", ()), np.float32(5)),
    ("-2.5e1", Type("float64", ()), np.float64(-25)),
    ("nan", Type("float32", ()), np.float32("nan")),
    ("7", Type("uint8", ()), np.uint8(7)),
    ("3.0", Type("int16", ()), np.int16(3)),
    ("true", Type("bool", ()), np.True_),
])
def test_scalar_values(text, want, value):
    got = scalar_value("v", text, want)
    assert got.dtype == value.dtype
    np.testing.assert_equal(got, value)


@pytest.mark.parametrize("text, want, message", [
    ("2.5", "int32", "holds whole numbers"),
    ("300", "uint8", r"out of range for uint8 \(0 to 255\)"),
    ("-1", "uint8", "out of range"),
    ("maybe", "bool", "expected true or false"),
    ("1e999", "float64", "out of range"),
])
def test_bad_scalar_values(text, want, message):
    with pytest.raises(maskdsl.InputError, match=message):
        scalar_value("v", text, Type(want, ()))


def test_in_order_puts_batches_back_and_refuses_gaps():
    items = list(range(20))
    shuffled = [(i, i * 10) for i in items]
    random.Random(0).shuffle(shuffled)
    assert list(in_order(iter(shuffled), 20)) == [(i, i * 10) for i in items]
    with pytest.raises(maskdsl.MaskDSLError, match="only 2 of 3 batches arrived"):
        list(in_order(iter([(0, "a"), (2, "c")]), 3))
    with pytest.raises(maskdsl.MaskDSLError, match="arrived twice"):
        list(in_order(iter([(0, "a"), (0, "a")]), 2))


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal():
    terminal = _Terminal()
    bar = Progress(200, "demo", stream=terminal)
    for _ in range(4):
        bar.shown_at = 0.0   # no throttling in the test
        bar.advance(50)
    bar.close()
    assert terminal.getvalue().endswith(f"\rdemo [{'#' * 30}] 100% 200/200 rows\n")
    pipe = io.StringIO()
    bar = Progress(200, "demo", stream=pipe)
    bar.advance(200)
    bar.close()
    assert pipe.getvalue() == ""


def test_committed_sensor_data_is_what_the_script_makes():
    sys.path.insert(0, str(ROOT / "examples" / "data"))
    try:
        from make_sensors import make_sensors
    finally:
        sys.path.pop(0)
    with np.load(ROOT / "examples" / "data" / "sensors.npz") as f:
        committed = f["x"]
    assert_same(committed, make_sensors())
    assert (ROOT / "examples" / "data" / "sensors.npz").stat().st_size < 200_000


# ---- export ----

def _site_packages_without_maskdsl(directory: Path) -> Path:
    """A directory of links to the venv's site-packages entries, minus every trace of maskdsl
    (the editable install's .pth, its dist-info and the grammar directory it installs)."""
    view = directory / "site"
    view.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "maskdsl" not in entry.name:
            (view / entry.name).symlink_to(entry)
    return view


@pytest.mark.slow
def test_export_savedmodel_loads_without_maskdsl(tmp_path, capsys):
    out_dir = tmp_path / "model"
    args = argparse.Namespace(pipeline=str(EXAMPLE), out_dir=str(out_dir), force=False)
    assert export_command(args) == 0
    assert "serving_default(x: float32[None, 3], limit: float32) -> x, rows, total" in capsys.readouterr().out
    assert (out_dir / "assets.extra" / "pipeline.yaml").read_text() == EXAMPLE.read_text()
    assert export_command(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert export_command(argparse.Namespace(pipeline=str(EXAMPLE), out_dir=str(out_dir), force=True)) == 0
    assert leftovers(tmp_path) == []

    x = sensors(rows=20, seed=5)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent("""
        import sys
        sys.path.append(sys.argv[1])
        try:
            import maskdsl
        except ModuleNotFoundError:
            pass
        else:
            sys.exit("maskdsl is importable: " + str(maskdsl.__path__))
        import numpy as np, tensorflow as tf
        serve = tf.saved_model.load(sys.argv[2]).signatures["serving_default"]
        out = serve(x=tf.constant(np.load(sys.argv[3])), limit=tf.constant(40.0))
        np.savez(sys.argv[4], **{k: v.numpy() for k, v in out.items()})
    """)
    (tmp_path / "load.py").write_text(script)
    env = {"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "2"}
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-I", "-S", str(tmp_path / "load.py"),
                           str(_site_packages_without_maskdsl(tmp_path)), str(out_dir), str(tmp_path / "x.npy"),
                           str(tmp_path / "served.npz")], cwd=work, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    served = load(tmp_path / "served.npz")
    assert_outputs({k: served[k] for k in ("x", "rows", "total")}, clean_numpy(x, np.float32(40)))


# ---- the command line and the tf.data service ----

@pytest.mark.slow
def test_python_m_maskdsl_run(tmp_path):
    x = sensors(rows=30, seed=9)
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "maskdsl", "run", str(SPIKES), "--input", str(tmp_path / "x.npy"),
                           "--output", str(tmp_path / "out.npz"), "--set", "limit=45", "--batch-size", "7"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "flag-spikes: 30 rows -> " in proc.stdout and "5 batches of up to 7 rows" in proc.stdout
    assert_outputs(load(tmp_path / "out.npz"), spikes_numpy(x, np.float32(45)))


@pytest.fixture(scope="module")
def data_service():
    import tensorflow as tf
    service = tf.data.experimental.service
    dispatcher = service.DispatchServer(service.DispatcherConfig(port=0))
    address = dispatcher.target.split("://")[1]
    workers = [service.WorkerServer(service.WorkerConfig(dispatcher_address=address,
                                                         worker_address="localhost:%port%"))
               for _ in range(2)]
    yield dispatcher.target
    for worker in workers:
        worker.stop()
    dispatcher.stop()


@pytest.mark.slow
def test_tf_data_service_gives_the_local_result_in_order(tmp_path, data_service, capsys):
    assert data_service.startswith("grpc://localhost:")
    x = sensors(rows=200, seed=11)
    np.save(tmp_path / "x.npy", x)
    assert run(SPIKES, tmp_path / "x.npy", tmp_path / "local.npz", set=["limit=50"], batch_size=16) == 0
    assert run(SPIKES, tmp_path / "x.npy", tmp_path / "remote.npz", set=["limit=50"], batch_size=16,
               service=data_service) == 0
    assert f"13 batches of up to 16 rows on the tf.data service {data_service}" in capsys.readouterr().out
    assert (tmp_path / "remote.npz").read_bytes() == (tmp_path / "local.npz").read_bytes()
    assert_outputs(load(tmp_path / "remote.npz"), spikes_numpy(x, np.float32(50)))
    # a pipeline that is not row-wise goes to the service as one batch
    np.savez(tmp_path / "in.npz", x=x)
    assert run(EXAMPLE, tmp_path / "in.npz", tmp_path / "clean.npz", set=["limit=40"], service=data_service) == 0
    assert_outputs(load(tmp_path / "clean.npz"), clean_numpy(x, np.float32(40)))


def test_unreachable_service_fails_fast(tmp_path, capsys):
    import socket
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    np.save(tmp_path / "x.npy", sensors())
    assert run(SPIKES, tmp_path / "x.npy", tmp_path / "out.npz", set=["limit=1"],
               service=f"grpc://localhost:{port}") == 1
    assert f"cannot reach the tf.data service at grpc://localhost:{port}" in capsys.readouterr().err
    assert run(SPIKES, tmp_path / "x.npy", tmp_path / "out.npz", set=["limit=1"], service="http://x") == 1
    assert "--tf-data-service expects grpc://HOST:PORT" in capsys.readouterr().err


# ---- one rule for values: a value its declared dtype cannot hold is an error, never a wrap ----

def test_data_that_would_wrap_is_refused_naming_the_array(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("inputs: {x: 'int8[None]'}\nsteps: ['y = x * 1']\noutputs: [y]\n")
    np.save(tmp_path / "ok.npy", np.array([1, -128, 127], np.int64))
    assert run(tmp_path / "p.yaml", tmp_path / "ok.npy", tmp_path / "ok_out.npy") == 0
    assert np.load(tmp_path / "ok_out.npy").tolist() == [1, -128, 127]
    np.save(tmp_path / "x.npy", np.array([1, 2, 300, 4], np.int64))
    assert run(tmp_path / "p.yaml", tmp_path / "x.npy", tmp_path / "y.npy", batch_size=2) == 1
    assert capsys.readouterr().err == (f"DataError: array 'x' in {tmp_path / 'x.npy'} holds 300 in row 2, which int8 "
                                       f"cannot represent (the pipeline declares x: int8[None]; the array is int64)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.npy", "ok_out.npy", "p.yaml", "x.npy"]


def test_a_set_value_too_large_for_a_float_input_is_refused():
    with pytest.raises(maskdsl.InputError, match=r"--set v=1e6: out of range for float16"):
        scalar_value("v", "1e6", Type("float16", ()))
    assert scalar_value("v", "65504", Type("float16", ())) == np.float16(65504)
