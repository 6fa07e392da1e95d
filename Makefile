# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,beam]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest

# ruff: pyflakes, pycodestyle, bugbear and pyupgrade (pyproject.toml [tool.ruff])
lint: $(STAMP)
	$(BIN)/ruff check maskdsl tests tools benchmarks examples

# the TensorFlow-free tier: parser, IR and passes, in seconds (fails if TensorFlow gets imported)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m frontend -q tests maskdsl/language maskdsl/ir maskdsl/passes

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,beam,bench]'
	$(BIN)/python benchmarks/run.py --quick

clean:
	rm -rf $(VENV) build dist *.egg-info
