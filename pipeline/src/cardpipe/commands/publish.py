"""`cardpipe publish`: publish the generated `live` stream to RabbitMQ with asynchronous confirms."""

from __future__ import annotations

import click
from rich.console import Console

from cardpipe.commands.seed_journal import generator_options, progress_bar
from cardpipe.config import get_settings
from cardpipe.generator import Rates, generate
from cardpipe.logs import get_logger
from cardpipe.publisher import DEFAULT_WINDOW, PublishStats, publish_events

log = get_logger(__name__)


@click.command("publish")
@generator_options
@click.option(
    "--window",
    type=click.IntRange(1, 65535),
    default=DEFAULT_WINDOW,
    show_default=True,
    help="Messages published but not yet confirmed by the broker.",
)
def command(  # noqa: PLR0917 - one parameter per CLI option
    events: int, seed: int, duplicate_rate: float, late_rate: float, malformed_rate: float, window: int
) -> None:
    """Publish the `live` stream (the day after the journal's history) as persistent messages."""
    settings = get_settings().rabbitmq
    rates = Rates(duplicate=duplicate_rate, late=late_rate, malformed=malformed_rate)
    console = Console(stderr=True)
    with progress_bar("publish", console) as progress:
        task = progress.add_task("messages", total=events)

        def on_progress(stats: PublishStats) -> None:
            progress.update(task, completed=stats.confirmed)

        stats = publish_events(
            settings, generate("live", events, seed=seed, rates=rates), window=window, on_progress=on_progress
        )
    log.info(
        "published",
        messages=stats.messages,
        confirmed=stats.confirmed,
        nacked=stats.nacked,
        returned=stats.returned,
        seconds=round(stats.seconds, 2),
        msg_per_s=round(stats.msg_per_s),
        exchange=settings.exchange,
        seed=seed,
    )
