"""`cardpipe consume`: the live consumer, RabbitMQ -> bronze (thin wrapper over ingest.consumer)."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from cardpipe.config import get_settings
from cardpipe.ingest.consumer import DEFAULT_IDLE_SECONDS, ConsumeStats, run_consumer


@click.command("consume")
@click.option("--until-idle", is_flag=True, help="Exit once the queue is drained instead of running forever.")
@click.option(
    "--idle-seconds",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_IDLE_SECONDS,
    show_default=True,
    help="With --until-idle: how long without a message counts as drained.",
)
@click.option(
    "--workers",
    type=click.IntRange(0, 8),
    default=1,
    show_default=True,
    help="Landing worker processes (decode, gzip, write) overlapping with receiving; 0: inline.",
)
def command(until_idle: bool, idle_seconds: float, workers: int) -> None:
    """Land live events in bronze; SIGTERM/Ctrl-C flushes, acks and exits 0."""
    settings = get_settings()
    if not sys.stderr.isatty():
        run_consumer(settings, until_idle=until_idle, idle_seconds=idle_seconds, workers=workers)
        return
    console = Console(stderr=True)
    with console.status("consuming…") as status:

        def show(stats: ConsumeStats) -> None:
            counts = stats.counts
            status.update(
                f"consumed {counts.messages:,} messages: {counts.events:,} events, "
                f"{counts.quarantined_total:,} quarantined, {stats.batches:,} batches"
            )

        stats = run_consumer(
            settings, until_idle=until_idle, idle_seconds=idle_seconds, workers=workers, on_flush=show
        )
    console.print(
        f"consumed {stats.messages:,} messages ({stats.counts.events:,} events, "
        f"{stats.counts.quarantined_total:,} quarantined) in {stats.seconds:.1f}s, "
        f"{stats.msg_per_s:,.0f} msg/s"
    )
