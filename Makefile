# Two commands matter: `make demo` (whole pipeline) and `make test` (the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/autocorp db start
	$(BIN)/autocorp db init
	$(BIN)/autocorp source generate --out data
	$(BIN)/autocorp source load --data data
	$(BIN)/autocorp source simulate --orders 2000
	$(BIN)/autocorp db stats

test: setup
	$(BIN)/pytest -q tests

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

bench: setup
	$(BIN)/python bench/generate.py

clean:
	-$(BIN)/autocorp db stop
	rm -rf $(VENV) .autocorp data
