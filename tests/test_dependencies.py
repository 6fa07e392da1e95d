"""Dependencies point one way.

- No import cycle among maskdsl's modules (imports read with `ast`: at module level, and
  also counting those inside functions).
- Each family imports only the families below it (LAYERS).
- The language, IR and passes families never import TensorFlow (nor maskdsl.tf, nor a
  module that imports TensorFlow), at module level or inside a function.
- What `maskdsl check` does, with or without --signature, and the Python-level
  parse / lower / infer / optimise never load TensorFlow (checked in a fresh process),
  nor does `maskdsl check` of a pipeline with Parquet, CSV and TFRecord inputs, nor
  `maskdsl run`/`export` of a pipeline they refuse;
  the REPL's session loads no Pygments until the REPL itself starts.

TensorFlow belongs to code generation and the runtime (maskdsl.tf), the compiler, and
the integrations that are TensorFlow by nature: tf.data batching, the tf.data service,
SavedModel export, Keras (docs/internals.md, "Dependencies").
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "maskdsl"
TF_FREE_FAMILIES = ("maskdsl.language", "maskdsl.ir", "maskdsl.passes")
TENSORFLOW = ("tensorflow", "keras")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(importer: str, node) -> list[str]:
    """The modules an import statement names: `from maskdsl.pipeline import output` names the
    submodule maskdsl.pipeline.output, `from maskdsl.errors import Span` names maskdsl.errors."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the importer's package
        package = importer if MODULES.get(importer, Path()).name == "__init__.py" else importer.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]


def imports(name: str) -> tuple[set[str], set[str]]:
    """(imported at module level, imported inside a function) by module `name`."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    top, inner = set(), set()

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                (inner if in_function else top).update(_resolve(name, child))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return top, inner


IMPORTS = {name: imports(name) for name in MODULES}


def _external(module: str) -> bool:
    return module.split(".")[0] in TENSORFLOW


def _closure(name: str) -> set[str]:
    """Everything importing `name` imports at module level (maskdsl modules and third-party roots)."""
    seen, stack = set(), [name]
    while stack:
        for module in IMPORTS[stack.pop()][0]:
            if module in seen:
                continue
            seen.add(module)
            if module in MODULES:
                stack.append(module)
    return seen


def _cycle(graph: dict) -> list[str] | None:
    """One cycle of the graph (module -> the modules it imports), or None."""
    state, path = {}, []

    def visit(name):
        state[name] = "open"
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def test_no_import_cycle():
    """None at module level (Python could not load it); none either counting the imports made
    inside functions (two modules that need each other are one module, or a third is missing)."""
    module_level = {name: {m for m in IMPORTS[name][0] if m in MODULES and m != name} for name in MODULES}
    assert _cycle(module_level) is None, " -> ".join(_cycle(module_level))
    everywhere = {name: {m for m in IMPORTS[name][0] | IMPORTS[name][1] if m in MODULES and m != name}
                  for name in MODULES}
    assert _cycle(everywhere) is None, " -> ".join(_cycle(everywhere))
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_graph_sees_the_imports():
    """The walker itself: it finds a module-level, a function-level and a relative import."""
    top, inner = IMPORTS["maskdsl.compiler"]
    assert "maskdsl.tf.codegen" in top and "maskdsl.errors" in top
    top, inner = IMPORTS["maskdsl.cli.command"]
    assert "maskdsl.cli.session" in inner and "maskdsl.cli.session" not in top
    assert any(_external(m) for m in _closure("maskdsl.compiler"))


def test_language_ir_and_passes_never_import_tensorflow():
    tensorflow_modules = {name for name in MODULES if any(_external(m) for m in _closure(name) | {name})}
    assert "maskdsl.tf.runtime" in tensorflow_modules and "maskdsl.compiler" in tensorflow_modules
    offenders = []
    for name in MODULES:
        if not name.startswith(TF_FREE_FAMILIES):
            continue
        top, inner = IMPORTS[name]
        for module in top | inner:
            if _external(module) or module.startswith("maskdsl.tf") or module in tensorflow_modules:
                offenders.append(f"{name} imports {module}")
    assert offenders == []


# The modules that load TensorFlow when imported. Every other module imports without it;
# the integrations that need it only when they run (tf.data batching and service,
# SavedModel export, the CLI's loader) import it inside the function that runs.
LOAD_TENSORFLOW = {"maskdsl.tf.runtime", "maskdsl.tf.codegen", "maskdsl.tf.convert", "maskdsl.compiler",
                   "maskdsl.pipeline.pipeline", "maskdsl.keras"}


def test_only_the_tensorflow_modules_load_it_on_import():
    loading = {name for name in MODULES if any(_external(m) for m in _closure(name) | {name})}
    assert loading == LOAD_TENSORFLOW
    pygments = {name for name in MODULES if any(m.split(".")[0] == "pygments" for m in _closure(name))}
    assert pygments == {"maskdsl.language.highlight", "maskdsl.cli.repl", "maskdsl.cli.notebook"}  # not the session


def test_only_the_beam_family_imports_apache_beam():
    """maskdsl works without the `beam` extra: apache_beam is imported in maskdsl/beam/ and nowhere else,
    and nothing imports maskdsl.beam at module level (the command line does when --runner beam runs)."""
    importers = {name for name in MODULES
                 if any(m.split(".")[0] == "apache_beam" for m in IMPORTS[name][0] | IMPORTS[name][1])}
    assert importers and all(family(name) == "beam" for name in importers), importers
    assert not any(family(name) != "beam" and family(m) == "beam" and m in MODULES
                   for name in MODULES for m in IMPORTS[name][0]), "a module-level import of maskdsl.beam"


# The layers of docs/internals.md ("Dependencies"), lowest first: a module imports its own
# family and families of lower layers only. Families of one layer do not import each other
# (the passes know no parser). The package itself hands out compile() and Pipeline lazily,
# so importing it counts as importing the layer of the compiler and the pipelines.
LAYERS = (
    ("errors", "limits", "gcpause", "version", "generated"),
    ("ir",),
    ("language", "passes"),
    ("specialize", "values", "tiers"),
    ("tf",),
    ("compiler",),
    ("pipeline",),
    ("beam",),
    ("keras", "cli", "testing"),
    ("__main__", "maskdsl"),
)


def family(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_dependencies_point_down_the_layers():
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    assert {family(m) for m in MODULES} <= set(layer), "a new family: give it a layer in LAYERS"
    offenders = []
    for name in MODULES:
        top, inner = IMPORTS[name]
        for module in top | inner:
            if module not in MODULES or family(module) == family(name):
                continue
            if layer[family(module)] >= layer[family(name)]:
                offenders.append(f"{name} imports {module}{' (in a function)' if module not in top else ''}")
    assert offenders == []


_TF_FREE_SCRIPT = r"""
import contextlib, io, sys
from maskdsl.cli.command import main
from maskdsl.cli import session  # the REPL's interpreter: Pygments only comes with the REPL itself

out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    codes = [
        main(["check", "x[x > 4 & x % 2 == 0] *= 2"]),
        main(["check", "x[m] *= 2", "--signature", "x=int64[3]", "--signature", "m=bool[3]"]),
        main(["check", "x[m] *= 2.5", "--signature", "x=int64[3]", "--signature", "m=bool[3]"]),
        main(["check", "y = x + z", "--signature", "x=float32[None]"]),
        main(["check", "s = sum(x[x > 2]); m = max(x[x > 9])", "--signature", "x=float32[None, 3]"]),
    ]

from maskdsl.language import prepare
from maskdsl.passes import optimize
optimize(prepare("m = x > 0; x[m] *= 2; s = sum(x[m])", x="float32[None]"))

loaded = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "pygments"})
print(codes, loaded, err.getvalue().count("Error"))
"""


@pytest.mark.slow
def test_check_and_the_front_half_never_import_tensorflow():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", _TF_FREE_SCRIPT], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 0, 1, 1, 0] [] 2", done.stdout + done.stderr


_COMMAND_SCRIPT = r"""
import runpy, sys
sys.argv = ["maskdsl", *sys.argv[1:]]
try:
    runpy.run_module("maskdsl", run_name="__main__", alter_sys=True)   # what `maskdsl ...` runs
except SystemExit as e:
    code = e.code
print(code, sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "pygments"}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["check", "x[x > 4] *= 2"],
                                  ["check", "x[x > 4] *= 2", "--signature", "x=float32[None]"]])
def test_the_check_command_never_imports_tensorflow(argv):
    """The command as a user runs it (`python -m maskdsl` is the console script's main)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", _COMMAND_SCRIPT, *argv], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "<string>: ok (inputs: x; outputs: x)\n0 []\n", done.stdout + done.stderr


# `maskdsl check` on a pipeline, with its input files of every format, and `maskdsl run` / `export`
# refusing a broken pipeline: all before TensorFlow loads (the TFRecord file is written by
# TensorFlow in this process, and read in the fresh one without it).
_PIPELINE_SCRIPT = r"""
import contextlib, io, sys
from maskdsl.cli.command import main

d = sys.argv[1]
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    codes = [main(["check", f"{d}/{pipeline}.yaml", "--input", f"{d}/in.{kind}", "--set", "limit=3",
                   "--output", f"{d}/out.parquet"])
             for pipeline, kind in (("lists", "parquet"), ("columns", "csv"), ("lists", "tfrecord"))]
    codes.append(main(["check", f"{d}/broken.yaml", "--input", f"{d}/in.parquet"]))
    codes.append(main(["run", f"{d}/broken.yaml", "--input", f"{d}/in.parquet", "--output", f"{d}/out.parquet"]))
    codes.append(main(["export", f"{d}/broken.yaml", f"{d}/model"]))
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras"})
print(codes, loaded, err.getvalue().count("UnknownNameError"))
"""


@pytest.mark.slow
def test_pipeline_check_run_and_export_check_before_tensorflow(tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq
    import tensorflow as tf

    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    pq.write_table(pa.table({"x": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 3)}),
                   tmp_path / "in.parquet")
    pcsv.write_csv(pa.table({"x_0": x[:, 0], "x_1": x[:, 1], "x_2": x[:, 2]}), tmp_path / "in.csv")
    with tf.io.TFRecordWriter(str(tmp_path / "in.tfrecord")) as writer:
        for row in x:
            feature = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=row))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    steps = "steps:\n  - x[x > limit] = limit\n  - total = sum(x)\noutputs: [x, total]\n"
    (tmp_path / "lists.yaml").write_text("inputs:\n  x: float32[rows, 3]\n  limit: float32\n" + steps)
    (tmp_path / "columns.yaml").write_text("inputs:\n  x: {dtype: 'float32[rows, 3]', columns: [x_0, x_1, x_2]}\n"
                                           "  limit: float32\n" + steps)
    (tmp_path / "broken.yaml").write_text("inputs:\n  x: float32[rows, 3]\n" + steps)   # limit is not declared
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", _PIPELINE_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 0, 0, 1, 1, 1] [] 3", done.stdout + done.stderr
