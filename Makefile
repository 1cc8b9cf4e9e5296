# Everything runs from virtualenvs that this Makefile builds from the project's own requirement files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# checkov has a virtualenv of its own: it pins boto3 1.35 and more, which conflict with requirements-dev.txt.
CHECKOV_VENV := .venv-checkov
# The Stable Diffusion workload's tests have one too: transformers 4.57.6 (the last with Flax CLIP) needs
# huggingface-hub<1, the Llama staging job >=1. workloads/stable_diffusion/tests/test_virtualenv.py runs them in it.
SD_VENV := .venv-sd
STACK ?= dev

.PHONY: preview test lint static unit clean

# Two stages in one virtualenv: the preview needs only requirements.txt (the Pulumi SDKs and the program), the tests
# add requirements-dev.txt on top, so `make preview` on a fresh clone does not install the development tools.
$(VENV)/.preview-installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24,<27"
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed: $(VENV)/.preview-installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade "pip>=24,<27"
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

$(SD_VENV)/.installed: workloads/stable_diffusion/requirements.txt workloads/stable_diffusion/requirements-test.txt
	$(PYTHON) -m venv $(SD_VENV)
	$(SD_VENV)/bin/python -m pip install --quiet --upgrade "pip>=24,<27"
	$(SD_VENV)/bin/python -m pip install --quiet -r workloads/stable_diffusion/requirements-test.txt
	touch $@

## The offline preview of a stack (default: dev): Pulumi's in-process mocks, no CLI, cloud or credentials.
preview: $(VENV)/.preview-installed
	$(PY) -m gke_tpu_serving.offline preview --stack $(STACK)

## Linters, type checks, checkov and the whole test suite.
test: lint static unit

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint $(wildcard workloads/*/Dockerfile workloads/*/*/Dockerfile)

## checkov on every stack's rendered Kubernetes manifests and on workloads/*/Dockerfile, workloads/*/*/Dockerfile
## (skips: .checkov.yaml).
static: $(VENV)/.installed $(CHECKOV_VENV)/.installed
	$(PY) scripts/static_check.py

# tests/test_static_analysis.py runs checkov too, so the suite needs its virtualenv. fetch_crds.py downloads the pinned
# CRD schemas into tests/crds/cache/ where neither GKE_TPU_SERVING_CRD_DIR nor ../shared/crds provides them.
unit: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(SD_VENV)/.installed
	$(PY) scripts/fetch_crds.py
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(SD_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis tests/crds/cache
