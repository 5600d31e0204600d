"""Read-only reports over the journal, bronze and the DuckDB warehouse (the demo's summary)."""
