"""`cardpipe seed-journal`: fill the PostgreSQL journal with the generated `history` stream."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cardpipe.config import get_settings
from cardpipe.generator import Rates, generate
from cardpipe.generator.stream import GeneratedEvent
from cardpipe.logs import get_logger
from cardpipe.sources import journal
from cardpipe.sources.journal_writer import DEFAULT_CHUNK_ROWS, truncate, write_events

log = get_logger(__name__)
_RATE = click.FloatRange(0, 0.5)


def generator_options[F: Callable[..., Any]](func: F) -> F:
    """--events/--seed and the anomaly rates, shared by seed-journal and publish."""
    defaults = Rates()
    options = (
        click.option("--events", type=click.IntRange(min=0), required=True, help="Number of events to emit."),
        click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same world."),
        click.option(
            "--duplicate-rate",
            type=_RATE,
            default=defaults.duplicate,
            show_default=True,
            help="Share of events sent again (same event_id and bytes).",
        ),
        click.option(
            "--late-rate",
            type=_RATE,
            default=defaults.late,
            show_default=True,
            help="Share of events emitted after events that occurred later.",
        ),
        click.option(
            "--malformed-rate",
            type=_RATE,
            default=defaults.malformed,
            show_default=True,
            help="Share of malformed bodies (garbage, wrong type, missing field, bad quantity, unknown type)",
        ),
    )
    for option in reversed(options):
        func = option(func)
    return func


def progress_bar(label: str, console: Console) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )


@click.command("seed-journal")
@generator_options
@click.option("--reset", is_flag=True, help="Truncate journal.events first (makes a re-run idempotent).")
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK_ROWS,
    show_default=True,
    help="Rows per COPY (one transaction each).",
)
def command(  # noqa: PLR0917 - one parameter per CLI option
    events: int,
    seed: int,
    duplicate_rate: float,
    late_rate: float,
    malformed_rate: float,
    reset: bool,
    chunk_rows: int,
) -> None:
    """Write the `history` stream (the 30 days before the live stream) into journal.events with COPY."""
    settings = get_settings().postgres
    rates = Rates(duplicate=duplicate_rate, late=late_rate, malformed=malformed_rate)
    kinds: Counter[str] = Counter()
    conn = journal.connect(settings)
    try:
        journal.ensure_schema(conn, settings.journal_schema)
        if reset:
            truncate(conn, settings.journal_schema)
        console = Console(stderr=True)
        with progress_bar("seed-journal", console) as progress:
            task = progress.add_task("rows", total=events)

            def on_chunk(chunk: list[GeneratedEvent]) -> None:
                kinds.update(event.kind for event in chunk)
                progress.advance(task, len(chunk))
                log.debug("journal chunk written", rows=len(chunk))

            stream = generate("history", events, seed=seed, rates=rates)
            rows = write_events(
                conn, settings.journal_schema, stream, chunk_rows=chunk_rows, on_chunk=on_chunk
            )
    finally:
        conn.close()
    log.info("journal seeded", rows=rows, seed=seed, reset=reset, schema=settings.journal_schema, **kinds)
