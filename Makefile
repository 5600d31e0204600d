# Sports Card Analytics Platform: every command a newcomer or CI needs.
#   make demo    run the whole pipeline locally and print a summary
#   make test    run every test suite (pipeline, dbt, infra, Airflow, workflows)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Python 3.12 (MWAA's Airflow 3.x runtime): the first python3.12 found, pyenv's if need be.
PYTHON312 ?= $(shell command -v python3.12 2>/dev/null || ls -d /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -n1)
export UV_PYTHON ?= $(PYTHON312)
export UV_PYTHON_DOWNLOADS ?= never
export UV_LINK_MODE ?= copy
# Pre-compile bytecode at install: start-up of every CLI and of dbt is much faster when
# PYTHONDONTWRITEBYTECODE is set in the environment (as it is on CI machines here).
export UV_COMPILE_BYTECODE ?= 1
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
PY := .venv/bin/python
CARDPIPE := .venv/bin/cardpipe
EVENTS ?= 100000
ENV ?= dev

.PHONY: help doctor setup proto lint test test-pipeline bench bench-ingest bench-load demo clean

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(UV):
	@test -n "$(PYTHON312)" || { echo "Python 3.12 not found: install it (pyenv install 3.12) or set PYTHON312=/path/to/python3.12"; exit 1; }
	$(PYTHON312) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock pipeline/pyproject.toml
	$(UV) sync --locked
	@touch $@

node_modules/.installed: package.json package-lock.json
	# `npm ci`: exactly the committed lock, never rewritten. The lock records every platform's optional buf
	# binary (npm only installs the one for this machine); tests/contract checks setup leaves it unchanged.
	npm ci --no-fund --no-audit --loglevel=error
	@touch $@

doctor: ## Check every prerequisite (Python 3.12, node, RabbitMQ, PostgreSQL, ports, disk) and print the fix for each
	@python3 scripts/doctor.py

setup: .venv/.synced node_modules/.installed dbt-setup infra-setup airflow-setup dashboards-setup ## Install every environment (uv venvs, node tools)

proto: .venv/.synced ## Regenerate Python code from proto/ (reproducible: pinned protoc)
	$(PY) scripts/gen_proto.py

lint: .venv/.synced node_modules/.installed ## ruff, mypy, buf lint + breaking, sqlfluff, workflow linters
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy pipeline/src
	cd proto && ../node_modules/.bin/buf lint
	bash scripts/buf-breaking.sh

test-pipeline: .venv/.synced dbt-setup ## Pipeline tests (real RabbitMQ, PostgreSQL, moto S3 server; end to end through dbt)
	.venv/bin/pytest tests/pipeline

test: lint test-contract test-pipeline test-dbt test-infra infra-e2e test-deploy test-airflow test-chaos test-dashboards ## Every test suite (CI runs this)

bench: bench-ingest bench-load ## Every benchmark

demo: .venv/.synced dbt-setup dashboards/node_modules/.installed ## Whole pipeline on localhost: seed, publish, backfill, consume, load, dbt build, summary (EVENTS=n)
	bash scripts/ensure-services.sh
	bash scripts/demo.sh $(EVENTS)

clean: ## Remove local data (bronze directory, DuckDB, checkpoints)
	rm -rf .data

include $(sort $(wildcard mk/*.mk))
