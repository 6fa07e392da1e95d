"""A non-editable install finds its grammar: build the wheel, install it into an empty
directory, and use it from elsewhere (dependencies come from the test environment)."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_grammar_and_works_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(ROOT)],
                   check=True)
    wheel = next(wheels.glob("maskdsl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "maskdsl/language/maskdsl.lark" in names and "maskdsl/passes/cost_weights.json" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
                    str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = (
        "import maskdsl, numpy as np, pathlib\n"
        f"assert pathlib.Path(maskdsl.__file__).parent.parent == pathlib.Path(r'{target}'), maskdsl.__file__\n"
        "from maskdsl.language.parser import grammar_text\n"
        "assert 'COMPOP' in grammar_text()\n"
        "print(maskdsl.evaluate('x[x > 4 & x % 2 == 0] *= 2; x', x=np.arange(10)).numpy().tolist())\n"
    )
    env = dict(os.environ, PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[0, 1, 2, 3, 4, 5, 12, 7, 16, 9]"
