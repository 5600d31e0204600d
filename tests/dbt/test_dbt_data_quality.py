"""The data_quality tests fail when they should: a lost backfill event, a volume spike, stale RAW."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DbtProject
from raw_fixture import RawWriter, batch_started, ts


@pytest.fixture(scope="module")
def quality_results(dbt_project: DbtProject, raw_writer: RawWriter) -> dict[str, str]:
    # Ten events a day for a week, loaded up to three days ago (stale), then a spike of 40 on the last day.
    stale = datetime.now(UTC) - timedelta(days=3)
    for day in range(7, 0, -1):
        raw_writer.loaded_at = stale - timedelta(days=day)
        for n in range(10):
            raw_writer.event("batch_started", batch_started(f"D{day}-{n}", "A", 5), ts("2026-03-01T00:00:00"))
        raw_writer.flush()
    raw_writer.loaded_at = stale
    for n in range(40):
        raw_writer.event(
            "batch_started",
            batch_started(f"S{n}", "A", 5),
            ts("2026-03-01T00:00:00"),
            source="backfill",
            window_id="20260301T000000Z-20260302T000000Z",
        )
    # The journal saw 41 rows in that window, one of them never reached RAW.
    raw_writer.journal_count("20260301T000000Z-20260302T000000Z", "batch_started", 41)
    raw_writer.flush()
    dbt_project.run("test", "--select", "tag:data_quality", check=False)
    results = json.loads((dbt_project.work / "target/run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["status"] for r in results}


def test_three_data_quality_tests_ran(quality_results: dict[str, str]) -> None:
    assert set(quality_results) == {
        "backfill_reconciliation",
        "raw_events_volume_anomaly",
        "raw_events_fresh",
    }


def test_reconciliation_catches_a_lost_event(quality_results: dict[str, str]) -> None:
    assert quality_results["backfill_reconciliation"] == "fail"


def test_volume_anomaly_catches_a_spike(quality_results: dict[str, str]) -> None:
    assert quality_results["raw_events_volume_anomaly"] == "fail"


def test_freshness_catches_stale_raw(quality_results: dict[str, str]) -> None:
    assert quality_results["raw_events_fresh"] == "fail"


def test_source_freshness_errors_when_stale(dbt_project: DbtProject, quality_results: dict[str, str]) -> None:
    """`dbt source freshness` reads the thresholds from the environment (24 h error by default)."""
    proc = dbt_project.run("source", "freshness", "--select", "source:raw.events", check=False)
    assert proc.returncode != 0
    sources = json.loads((dbt_project.work / "target/sources.json").read_text())["results"]
    assert [(r["unique_id"], r["status"]) for r in sources] == [("source.sportscards.raw.events", "error")]
