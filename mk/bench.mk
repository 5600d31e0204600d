# Benchmarks (not tests): each prints its measured figures and the goal ratio.
.PHONY: bench-ingest bench-load bench-demo

bench-ingest: .venv/.synced ## Ingestion benchmarks: consume vs bare pika, backfill vs psql \copy
	bash scripts/ensure-services.sh
	$(PY) bench/bench_consume.py --repeat $(or $(BENCH_REPEAT),3)
	$(PY) bench/bench_backfill.py --workers 2 3 --repeat $(or $(BENCH_REPEAT),3)

bench-load: .venv/.synced dbt-setup ## Load vs DuckDB read_ndjson, dbt incremental vs full refresh at 1M and 10M, demo wall time
	bash scripts/ensure-services.sh
	$(PY) bench/bench_load.py
	$(PY) bench/bench_dbt_cost.py --scales $(or $(BENCH_SCALES),1000000 10000000)
	$(PY) bench/bench_demo_dbt.py --events $(or $(BENCH_EVENTS),1000000)
