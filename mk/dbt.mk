# dbt (silver + gold) on DuckDB locally, Snowflake in the cloud. dbt has its own uv project in dbt/ because
# dbt-core's pins conflict with the pipeline's. Targets run from dbt/ (the profile resolves DUCKDB_PATH
# relative to the repo root). DBT_TARGET=local|dev|staging|prod (default local).
.PHONY: dbt-setup dbt-build dbt-manifest dbt-lint test-dbt

DBT_DIR := dbt
DBT := .venv/bin/dbt
DBT_FLAGS := --profiles-dir . --project-dir .

dbt/.venv/.synced: $(UV) dbt/pyproject.toml dbt/uv.lock
	cd $(DBT_DIR) && ../$(UV) sync --locked
	@touch $@

dbt-setup: dbt/.venv/.synced ## Install the dbt venv (dbt-core 1.11, dbt-duckdb, dbt-snowflake, sqlfluff)

dbt-build: dbt-setup ## dbt build (models + tests) on DBT_TARGET (default local: .data/warehouse.duckdb)
	cd $(DBT_DIR) && $(DBT) build $(DBT_FLAGS)

dbt-manifest: dbt-setup ## Parse the project into dbt/target/manifest.json (no warehouse connection; for MWAA/Cosmos)
	cd $(DBT_DIR) && $(DBT) parse $(DBT_FLAGS)

dbt-lint: dbt-setup ## sqlfluff lint of the models and data tests (dbt templater, duckdb dialect)
	cd $(DBT_DIR) && DUCKDB_PATH=$${DUCKDB_PATH:-/tmp/sqlfluff-$$$$.duckdb} .venv/bin/sqlfluff lint models tests

test-dbt: .venv/.synced dbt-setup ## dbt suite: full build on a fixture DuckDB, incremental = full refresh, sqlfluff, Snowflake compile
	.venv/bin/pytest tests/dbt
