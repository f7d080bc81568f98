# Two set-up commands for a fresh machine (see README):
#   make book   build the book from the committed results (creates/reuses .venv)
#   make test   lint and run the test suite (creates/reuses .venv)
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test lint format venv protocol protocol-full clean-book

# The venv is rebuilt only when pyproject.toml changes. torch is pinned to the CPU wheel first
# so that the project's `torch>=2.2` requirement is already met and no CUDA build is pulled.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[notebooks,book,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH bash scripts/build_book.sh

test: $(STAMP)
	$(BIN)/ruff check reprolib tests scripts notebooks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check reprolib tests scripts notebooks
	$(BIN)/ruff format --check reprolib tests scripts notebooks

format: $(STAMP)
	$(BIN)/ruff format reprolib tests scripts notebooks
	$(BIN)/ruff check --fix reprolib tests scripts notebooks

# Re-run the evaluation-protocol notebook (default budget, ~15 min on 2 CPU cores).
protocol: $(STAMP)
	$(BIN)/python -m reprolib.cli protocol

# The slow part run once and committed: BM3D on BSD68/BSD200, published DnCNN on Urban100.
protocol-full: $(STAMP)
	$(BIN)/python -m reprolib.cli protocol --full

clean-book:
	rm -rf _build
