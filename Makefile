# Everything runs from virtualenvs that this Makefile builds from the project's own requirement files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# checkov has a virtualenv of its own: it pins boto3 1.35 and more, which conflict with requirements-dev.txt.
CHECKOV_VENV := .venv-checkov
STACK ?= dev

.PHONY: preview test lint static unit clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24,<27"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade "pip>=24,<27"
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

## The offline preview of a stack (default: dev): Pulumi's in-process mocks, no CLI, cloud or credentials.
preview: $(VENV)/.installed
	$(PY) -m gke_tpu_serving.offline preview --stack $(STACK)

## Linters, type checks, checkov and the whole test suite.
test: lint static unit

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint workloads/*/Dockerfile

## checkov on every stack's rendered Kubernetes manifests and on workloads/*/Dockerfile (skips: .checkov.yaml).
static: $(VENV)/.installed $(CHECKOV_VENV)/.installed
	$(PY) scripts/static_check.py

# tests/test_static_analysis.py runs checkov too, so the suite needs its virtualenv.
unit: $(VENV)/.installed $(CHECKOV_VENV)/.installed
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
