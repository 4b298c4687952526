# Two commands a new user needs: `make run` and `make test`. Everything else installs itself.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP_INSTALL := $(PYTHON) -m pip install --quiet --constraint constraints.txt

.PHONY: install system-deps run test test-all bench sinks lint format clean

# The stamp is rebuilt only when the dependency list or the pins change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip setuptools wheel
	$(PIP_INSTALL) --editable '.[all]'
	touch $(STAMP)

install: $(STAMP) system-deps

system-deps:
	@bash scripts/system-deps.sh

# The hub at http://127.0.0.1:8000 with demo models (made on first start, reused afterwards).
run: install
	$(VENV)/bin/modelyard hub serve --demo --data-dir .hub-demo

test: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src
	$(VENV)/bin/pytest

test-all: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src
	$(VENV)/bin/pytest -m "slow or not slow"

bench: install
	$(PYTHON) -m bench

# Rederive the scanner's table of callables that reach a dangerous call (after upgrading the stack);
# `make test-all` checks it is current.
sinks: install
	$(PYTHON) scripts/derive_sinks.py

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: install
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache build dist
