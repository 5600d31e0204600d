"""`cardpipe drain-dead-letters`: land the dead-letter queue in bronze quarantine; `--check` only reports
its depth and exits 1 when it is not empty (a local data-quality check, as the data_quality DAG's)."""

from __future__ import annotations

import sys

import click

from cardpipe.config import get_settings
from cardpipe.ingest.dead_letters import DeadLettersPending, check_dead_letters, drain_dead_letters


@click.command("drain-dead-letters")
@click.option("--check", is_flag=True, help="Only check: exit 1 when the dead-letter queue is not empty.")
def command(check: bool) -> None:
    """Land dead-lettered messages in quarantine (reason dead_lettered, x-death kept), acked once written."""
    settings = get_settings()
    if check:
        try:
            check_dead_letters(settings.rabbitmq)
        except DeadLettersPending as exc:
            click.echo(f"cardpipe: {exc}", err=True)
            sys.exit(1)
        click.echo(f"dead-letter queue {settings.rabbitmq.dead_letter_queue} is empty")
        return
    stats = drain_dead_letters(settings)
    click.echo(
        f"drained {stats.dead_letters:,} dead-lettered message(s) into quarantine, "
        f"{stats.recovered:,} valid event(s) of them also landed as events ({stats.counts.objects} object(s))"
    )
