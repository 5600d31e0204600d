"""Orchestration glue shared by the DAG files: defaults, settings, dbt paths, assets. No business logic."""
