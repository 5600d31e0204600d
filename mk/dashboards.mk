# Dashboards as code (dashboards/, docs/dashboards.md): SQL files over the dbt marts rendered into a static site
# (ECharts from dashboards/package-lock.json, bundled), built without any network access.
#   make dashboards          build from the local DuckDB (WAREHOUSE_DUCKDB_PATH) and serve on 127.0.0.1
#   make dashboards-build    build only, into dashboards/build/
#   make test-dashboards     build inside a network namespace with no route, open every page in headless Chromium
#   make docs                dbt's docs site (lineage, column docs, exposures -> the dashboard pages)
.PHONY: dashboards-setup dashboards dashboards-build test-dashboards docs

DASHBOARDS_PORT ?= 8088
DASHGEN := PYTHONPATH=dashboards $(PY) -m dashgen
DBT_DOCS_TARGET := target/docs

dashboards/node_modules/.installed: dashboards/package.json dashboards/package-lock.json
	cd dashboards && npm ci --no-fund --no-audit --loglevel=error
	@touch $@

dashboards-setup: dashboards/node_modules/.installed ## Dashboards' node_modules (npm ci) and headless Chromium for their tests
	bash scripts/ensure-chromium.sh

dashboards-build: .venv/.synced dashboards/node_modules/.installed ## Build the dashboards from the local DuckDB into dashboards/build/
	$(DASHGEN) build

dashboards: dashboards-build ## Build the dashboards and serve them on http://127.0.0.1:$(DASHBOARDS_PORT)/ (DASHBOARDS_PORT=n)
	$(DASHGEN) serve --port $(DASHBOARDS_PORT)

test-dashboards: .venv/.synced dbt-setup dashboards-setup ## Dashboards: offline build (netns), every page in headless Chromium, figures = marts
	.venv/bin/pytest tests/dashboards

docs: dbt-setup ## dbt docs site (lineage, column docs, exposures) into dbt/target/docs (needs the local DuckDB for the catalog)
	cd $(DBT_DIR) && DBT_TARGET_PATH=$(DBT_DOCS_TARGET) $(DBT) docs generate --static $(DBT_FLAGS)
	@echo "dbt docs: open dbt/$(DBT_DOCS_TARGET)/static_index.html, or serve them:"
	@echo "  cd dbt && DBT_TARGET_PATH=$(DBT_DOCS_TARGET) .venv/bin/dbt docs serve --profiles-dir . --project-dir . --port 8089"
