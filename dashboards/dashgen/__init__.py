"""Dashboards as code: SQL files over the dbt marts, rendered into a static site (see docs/dashboards.md)."""
