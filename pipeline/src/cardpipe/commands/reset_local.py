"""`cardpipe reset-local`: start the local twin from nothing, so a run's marts hold exactly that run's events.

Removes the local bronze directory (events, quarantine, backfill checkpoints and control records), the DuckDB
warehouse (RAW, the load audit, every dbt relation) and purges the live and dead-letter queues. The journal is
reset by `cardpipe seed-journal --reset`. Refuses anything but the local twin: never S3, never Snowflake.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
import pika.exceptions

from cardpipe.config import Settings, get_settings
from cardpipe.contracts import names
from cardpipe.sources.rabbit import connect


def _refusal(settings: Settings) -> str | None:
    if settings.bronze.backend != "local":
        return f"{names.ENV_BRONZE_BACKEND} is not 'local': reset-local only removes a local bronze directory"
    if settings.warehouse.kind != "duckdb":
        return f"{names.ENV_WAREHOUSE_KIND} is not 'duckdb': reset-local never touches a Snowflake warehouse"
    return None


def _remove(path: Path) -> bool:
    if path.is_dir():
        shutil.rmtree(path)
        return True
    if path.exists():
        path.unlink()
        return True
    return False


def _purge(settings: Settings) -> dict[str, int]:
    """Messages purged per queue; a queue that does not exist yet has nothing to purge."""
    purged: dict[str, int] = {}
    rabbit = settings.rabbitmq
    connection = connect(rabbit)
    try:
        for queue in (rabbit.queue, rabbit.dead_letter_queue):
            channel = connection.channel()
            try:
                channel.queue_declare(queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                purged[queue] = 0
                continue
            purged[queue] = channel.queue_purge(queue).method.message_count
            channel.close()
    finally:
        connection.close()
    return purged


@click.command("reset-local")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def command(yes: bool) -> None:
    """Remove local bronze + DuckDB warehouse and purge the queues (the local twin only)."""
    settings = get_settings()
    refusal = _refusal(settings)
    if refusal:
        click.echo(f"cardpipe: {refusal}", err=True)
        sys.exit(2)
    bronze, warehouse = settings.bronze.dir, settings.warehouse.duckdb_path
    if not yes:
        click.confirm(f"remove {bronze} and {warehouse} and purge the queues?", abort=True)
    removed = [str(p) for p in (bronze, warehouse, Path(f"{warehouse}.wal")) if _remove(p)]
    purged = _purge(settings)
    queues = ", ".join(f"{queue}: {count:,}" for queue, count in purged.items())
    click.echo(f"removed {', '.join(removed) or 'nothing (already clean)'}; purged messages ({queues})")
