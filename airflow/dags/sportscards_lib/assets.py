"""Assets (data-aware scheduling): the load DAG produces RAW, dbt produces the marts."""

from __future__ import annotations

from airflow.sdk import Asset

# New bronze files landed in the warehouse RAW tables (emitted only when a load added rows).
RAW_EVENTS = Asset(uri="sportscards://warehouse/raw/events", name="raw_events", group="sportscards")
# Marts rebuilt and tested by dbt.
MARTS = Asset(uri="sportscards://warehouse/marts", name="marts", group="sportscards")
