# Everything runs from a virtualenv that this Makefile builds from the project's own requirement files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: preview test lint unit clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24,<27"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## The offline preview of a stack (default: dev): Pulumi's in-process mocks, no CLI, cloud or credentials.
preview: $(VENV)/.installed
	$(PY) -m gke_tpu_serving.offline preview --stack $(STACK)

## Linters, type checks and the whole test suite.
test: lint unit

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint workloads/*/Dockerfile

unit: $(VENV)/.installed
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
