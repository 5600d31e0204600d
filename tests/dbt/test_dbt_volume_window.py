"""The volume-anomaly test judges the data, not the clock: a steady flow whose newest load lands just after
UTC midnight passes (a calendar-day comparison saw one hour of events against whole days and failed: the CI
failure of 2026-12-02 23:26), and a real drop in a steady flow still fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from conftest import DbtProject
from raw_fixture import RawWriter, batch_started, ts


def _steady_week_then(raw_writer: RawWriter, last_load_events: int, prefix: str) -> datetime:
    """Ten events loaded at 23:00 UTC on each of seven days, then `last_load_events` at 00:30 the next day."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(7, 0, -1):
        raw_writer.loaded_at = midnight - timedelta(days=day - 1, hours=1)
        for n in range(10):
            body = batch_started(f"{prefix}{day}-{n}", "A", 5)
            raw_writer.event("batch_started", body, ts("2026-03-01T00:00:00"))
        raw_writer.flush()
    raw_writer.loaded_at = midnight + timedelta(minutes=30)
    for n in range(last_load_events):
        raw_writer.event("batch_started", batch_started(f"{prefix}L-{n}", "A", 5), ts("2026-03-01T00:00:00"))
    raw_writer.flush()
    return raw_writer.loaded_at


def _volume_status(dbt_project: DbtProject) -> str:
    dbt_project.run("test", "--select", "raw_events_volume_anomaly", check=False)
    results = json.loads((dbt_project.work / "target/run_results.json").read_text())["results"]
    (result,) = results
    return str(result["status"])


def test_volume_anomaly_follows_the_data_not_the_calendar(
    dbt_project: DbtProject, raw_writer: RawWriter
) -> None:
    last = _steady_week_then(raw_writer, 1, "M")
    # The latest 24 hours hold the previous evening's 10 events and this one: 11 against an average of 10.
    assert _volume_status(dbt_project) == "pass"

    # A whole day later only one more event arrives: that is a drop, and it fails.
    raw_writer.loaded_at = last + timedelta(days=1)
    raw_writer.event("batch_started", batch_started("M-drop", "A", 5), ts("2026-03-01T00:00:00"))
    raw_writer.flush()
    assert _volume_status(dbt_project) == "fail"
