"""`cardpipe replay`: rebuild RAW from bronze after transformation logic changed."""

from __future__ import annotations

import click

from cardpipe.config import get_settings
from cardpipe.load import LoadError, run_replay
from cardpipe.load.progress import file_progress


@click.command("replay")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (CI, Airflow).")
def command(yes: bool) -> None:
    """Drop and recreate the RAW tables, clear the load audit, and load every bronze file again."""
    settings = get_settings()
    target = (
        str(settings.warehouse.duckdb_path)
        if settings.warehouse.kind == "duckdb"
        else f"Snowflake {settings.snowflake.database}.RAW"
    )
    if not yes:
        click.confirm(
            f"This drops every RAW table in {target} and reloads all of bronze. Continue?", abort=True
        )
    try:
        with file_progress("replaying bronze files") as progress:
            result = run_replay(settings, progress=progress)
    except LoadError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"replayed {result.files_loaded} file(s) into {target}; rows: "
        + ", ".join(f"{kind}={n}" for kind, n in result.rows_loaded.items())
    )
