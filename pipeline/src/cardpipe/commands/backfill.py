"""`cardpipe backfill`: PostgreSQL journal -> bronze for one occurred_at window (resumable, idempotent)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cardpipe.config import get_settings
from cardpipe.ingest import Chunk, ChunkResult, parse_ts, run_backfill

MISMATCH_EXIT = 4  # the journal changed under the run: re-run the window


@click.command("backfill")
@click.option(
    "--since", help="Window start, inclusive, on occurred_at (recorded_at when NULL); ISO 8601, naive = UTC."
)
@click.option(
    "--until", help="Window end, exclusive, on occurred_at (recorded_at when NULL); ISO 8601, naive = UTC."
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=None,
    help="Seq range per chunk (default 50000, or the value the window was first run with).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Chunks landed in parallel processes.",
)
def command(since: str | None, until: str | None, chunk_rows: int | None, workers: int) -> None:
    """Copy journal.events rows of a window into bronze (source=backfill), then write its control record.

    A window takes rows by occurred_at (by recorded_at when occurred_at is NULL); without --since/--until
    every row is taken. Every run (a resume after a kill, or a re-run) lands again exactly the chunks whose
    journal count changed since they were landed, under the same object names. Exits 4 when, after the
    run, landed rows still differ from the journal (rows committed meanwhile): re-run the same window.
    """
    settings = get_settings()
    console = Console(stderr=True)
    with Progress(
        TextColumn("backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("backfill", total=None)

        def on_plan(chunks: list[Chunk]) -> None:
            progress.update(task, total=sum(c.planned_rows for c in chunks))

        def on_chunk(result: ChunkResult) -> None:
            progress.advance(task, result.rows)

        result = run_backfill(
            settings,
            parse_ts(since),
            parse_ts(until),
            chunk_rows,
            workers=workers,
            on_plan=on_plan,
            on_chunk=on_chunk,
        )
    quarantined = sum(result.quarantined.values())
    click.echo(
        f"backfill {result.window_id}: {result.rows} rows in {result.chunks} chunks "
        f"({result.skipped_chunks} already done), {result.events} events, {quarantined} quarantined, "
        f"{result.objects} objects, {result.seconds:.1f}s"
    )
    reconciliation = result.reconciliation
    if reconciliation is not None and not reconciliation.ok:
        click.echo(f"error: {reconciliation.message}", err=True)
        raise SystemExit(MISMATCH_EXIT)
