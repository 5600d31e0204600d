# The chaos suite (tests/chaos): each fault on private resources (its own RabbitMQ node, PostgreSQL cluster,
# S3 fault proxy, tmpfs), real `cardpipe` and dbt processes, the marts compared with the oracle.
#   make test-chaos   the short run (inside `make test`): asserts lost == 0 and double-counted == 0 per fault
#   make chaos        the full run (benchmark-style, not a test): prints the table, writes .data/chaos/report.md
.PHONY: test-chaos chaos

CHAOS_SIZE ?= full

test-chaos: .venv/.synced dbt-setup ## Short chaos run: every fault, 0 lost and 0 double-counted (and the accounting bites)
	bash scripts/ensure-services.sh
	.venv/bin/pytest tests/chaos

chaos: .venv/.synced dbt-setup ## Full chaos run: one row per fault (lost, double-counted, time to recover) -> .data/chaos/report.md
	bash scripts/ensure-services.sh
	$(PY) tests/chaos/run.py --size $(CHAOS_SIZE) --out .data/chaos
