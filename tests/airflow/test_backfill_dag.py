# ruff: noqa: PLC0415  (Airflow and cardpipe are imported inside tests, after conftest set AIRFLOW_HOME)
"""`dag.test()` of events_backfill_to_s3 alone: mapped chunks never clobber the checkpoint, a re-trigger lands
only changed chunks, and rows committed under a run fail it with what to do."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import journal_seed
import pytest
from conftest import DAGS

pytestmark = pytest.mark.integration

COPY_ONE = "INSERT INTO journal.events (producer, body) SELECT %s, body FROM journal.events LIMIT 1"


def _run(**conf: object) -> str:
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(dag_folder=str(DAGS / "events_backfill_to_s3.py"), bundle_path=DAGS)
    assert not bag.import_errors, bag.import_errors
    return str(bag.get_dag("events_backfill_to_s3").test(run_conf=conf or None).state)


def _lines(bronze: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted((bronze / "raw" / "events").rglob("*.ndjson.gz")):
        out += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return out


def _checkpoint(bronze: Path) -> dict[str, Any]:
    return json.loads((bronze / "raw/_checkpoints/backfill/all.json").read_text())  # type: ignore[no-any-return]


def test_backfill_dag_records_every_chunk_and_fails_on_a_mismatch(
    airflow_db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_dsn: str
) -> None:
    import cardpipe.ingest.backfill.runner as runner
    import psycopg2
    from cardpipe.config import PostgresSettings

    bronze = tmp_path / "bronze"
    for name, value in {"POSTGRES_DSN": pg_dsn, "BRONZE_BACKEND": "local", "BRONZE_DIR": str(bronze)}.items():
        monkeypatch.setenv(name, value)
    counts = journal_seed.seed(PostgresSettings(dsn=pg_dsn))
    journal_rows = counts["valid_rows"] + counts["malformed"]

    assert _run(chunk_rows=4) == "success"
    checkpoint = _checkpoint(bronze)
    # Every mapped chunk's count reached the checkpoint (through XCom to finish, its only writer).
    assert checkpoint["complete"] and sum(checkpoint["chunks"].values()) == journal_rows
    assert len(_lines(bronze)) == counts["valid_rows"]
    assert _run(chunk_rows=4) == "success"  # nothing changed: no chunk mapped, finish still reconciles

    # A transaction takes a seq and commits only after its chunk was landed (below the plan's max seq):
    # finish fails the run at once (no retries) and the re-triggered run lands that chunk again.
    late = psycopg2.connect(pg_dsn)
    with late.cursor() as cur:
        cur.execute(
            "INSERT INTO journal.events (producer, body) SELECT 'late', body FROM journal.events LIMIT 1"
        )
    conn = psycopg2.connect(pg_dsn)
    with conn, conn.cursor() as cur:  # committed after it, so the plan's max seq is above the late one
        cur.execute(
            "INSERT INTO journal.events (producer, body) SELECT 'next', body FROM journal.events LIMIT 1"
        )
    conn.close()
    real = runner.write_chunk

    def commit_late(store: Any, chunk: Any, prepared: Any) -> Any:
        result = real(store, chunk, prepared)
        if not late.closed:
            late.commit()
            late.close()
        return result

    monkeypatch.setattr(runner, "write_chunk", commit_late)
    try:
        assert _run(chunk_rows=4) == "failed"
    finally:
        if not late.closed:
            late.rollback()
            late.close()
    assert not _checkpoint(bronze)["complete"]
    monkeypatch.setattr(runner, "write_chunk", real)
    assert _run(chunk_rows=4) == "success"  # the operator re-triggers the same window
    checkpoint = _checkpoint(bronze)
    assert checkpoint["complete"] and sum(checkpoint["chunks"].values()) == journal_rows + 2
