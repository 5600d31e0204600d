"""A PostgreSQL restart in the middle of a backfill: the journal queries retry (backoff + jitter) and the run
ends with exactly the journal. A private cluster (tests/support/servers.py), never the shared server."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import cardpipe.ingest.backfill.runner as runner
import pytest
from cardpipe.bronze.store import BronzeStore, open_store
from cardpipe.config import BronzeSettings, PostgresSettings
from cardpipe.ingest import Chunk, ChunkResult, run_backfill
from cardpipe.ingest.landing import PreparedBatch

from .test_backfill import T0, insert_rows, read_lines, settings_for, valid_row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.servers import PrivatePostgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("runuser") is None, reason="needs runuser to run a private PostgreSQL"),
]


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_backfill_survives_a_postgres_crash_restart(
    private_pg: PrivatePostgres,
    local_bronze: BronzeSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Old code: the next chunk's COPY raised (ServiceUnavailable / OperationalError) and the run died."""
    pg = PostgresSettings(dsn=private_pg.dsn)
    rows = [valid_row(i, T0 + timedelta(minutes=i)) for i in range(60)]
    insert_rows(pg, rows)
    real = runner.write_chunk
    restarted: list[threading.Thread] = []

    def crash_after_first_chunk(store: BronzeStore, chunk: Chunk, prepared: PreparedBatch) -> ChunkResult:
        result = real(store, chunk, prepared)
        if not restarted:
            private_pg.stop("immediate")  # crash: the next COPY finds no server

            def start_later() -> None:
                time.sleep(2)
                private_pg.start()

            restarted.append(threading.Thread(target=start_later))
            restarted[0].start()
        return result

    monkeypatch.setattr(runner, "write_chunk", crash_after_first_chunk)
    result = run_backfill(settings_for(pg, local_bronze, tmp_path), chunk_rows=10)
    restarted[0].join()
    assert result.ok and result.rows == 60
    events = read_lines(open_store(local_bronze), "raw/events/source=backfill/")
    assert Counter(e["event_id"] for e in events) == Counter(r.event_id for r in rows)
    captured = capfd.readouterr()
    assert "backfill.pg_retry" in captured.out + captured.err  # each retry logged (the stream follows config)
