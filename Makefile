# ButterFlyer: every target installs what it needs by itself (idempotent).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ../shared/datasets/butterflies-100.zip
PYTEST_ARGS ?=

.PHONY: setup browser run test lint bench pipeline-compile clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	@touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium, driven by Playwright in the end-to-end test (never a downloaded browser).
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: setup
	$(BIN)/butterflyer up --data "$(DATA)"

# lint first: CI runs 'make test' only, so ruff and mypy failures fail the build too
test: setup browser lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check butterflyer tests benchmarks
	$(BIN)/mypy butterflyer

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

pipeline-compile: setup
	$(BIN)/butterflyer pipeline compile

clean:
	rm -rf .butterflyer .pytest_cache .mypy_cache .ruff_cache
