# ruff: noqa: PLC0415  (Airflow and the DAG helpers are imported inside tests, after conftest set AIRFLOW_HOME)
"""The DAGs' glue: settings from Airflow connections (Secrets Manager on MWAA), dbt invocation, alerting."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest


def test_connections_fill_unset_settings_and_env_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """AIRFLOW_CONN_* is Airflow's environment secrets backend: the same lookup path as Secrets Manager."""
    from sportscards_lib.settings import cardpipe_settings

    monkeypatch.setenv("POSTGRES_DSN", "")  # unset for cardpipe_settings; restored after the test
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPORTSCARDS_JOURNAL", "postgresql://journal_reader@db.internal:5432/journal"
    )
    monkeypatch.setenv("RABBITMQ_URL", "amqp://me:pw@127.0.0.1:5672/%2F")
    monkeypatch.setenv("AIRFLOW_CONN_SPORTSCARDS_RABBITMQ", "amqp://other@elsewhere:5672/")
    settings = cardpipe_settings()
    # Airflow renders the URI with the `postgres://` scheme; libpq accepts both spellings
    assert settings.postgres.dsn.split("://", 1)[1] == "journal_reader@db.internal:5432/journal"
    assert settings.rabbitmq.url == "amqp://me:pw@127.0.0.1:5672/%2F"  # the environment wins


def test_bad_settings_fail_fast_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from cardpipe.config import ConfigError
    from sportscards_lib.settings import cardpipe_settings

    monkeypatch.setenv("BRONZE_BACKEND", "s3")
    monkeypatch.delenv("BRONZE_S3_BUCKET", raising=False)
    with pytest.raises(ConfigError, match="BRONZE_S3_BUCKET"):
        cardpipe_settings()


def test_dbt_command_targets_the_project_and_its_venv() -> None:
    from sportscards_lib import dbt

    argv = dbt.dbt_command("source", "freshness")
    assert argv[0] == str(dbt.DBT_EXECUTABLE_PATH) and argv[1:3] == ["source", "freshness"]
    assert argv[argv.index("--project-dir") + 1] == str(dbt.DBT_PROJECT_DIR)
    assert argv[argv.index("--target") + 1] == dbt.DBT_TARGET
    assert dbt.profile_name() == "sportscards"


def test_dbt_env_points_dbt_at_the_loaders_duckdb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sportscards_lib import dbt

    monkeypatch.delenv("DUCKDB_PATH", raising=False)
    monkeypatch.setenv("WAREHOUSE_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    assert dbt.dbt_env()["DUCKDB_PATH"] == str(tmp_path / "w.duckdb")
    assert dbt.dbt_env_static()["DUCKDB_PATH"] == str(tmp_path / "w.duckdb")


def test_run_dbt_failure_fails_the_task() -> None:
    from sportscards_lib import dbt

    if not dbt.DBT_EXECUTABLE_PATH.exists():
        pytest.skip("dbt venv missing (dbt/.venv/bin/dbt): run `make dbt-setup`")
    with pytest.raises(RuntimeError, match="dbt no-such-command failed"):
        dbt.run_dbt("no-such-command")


def test_alert_callback_logs_loudly_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    from sportscards_lib.defaults import alert_on_failure

    class TI:
        dag_id, task_id, run_id = "data_quality", "quality_tests", "manual__1"

    with caplog.at_level(logging.ERROR, logger="sportscards.alerts"):
        alert_on_failure({"ti": TI(), "exception": RuntimeError("reconciliation failed")})
    assert any(
        "sportscards ALERT: data_quality.quality_tests failed" in r.message
        and "reconciliation failed" in r.message
        for r in caplog.records
    )
