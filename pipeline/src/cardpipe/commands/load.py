"""`cardpipe load`: load new bronze files into the warehouse RAW tables (DuckDB or Snowflake)."""

from __future__ import annotations

import click

from cardpipe.config import get_settings
from cardpipe.load import LoadError, run_load
from cardpipe.load.progress import file_progress


@click.command("load")
def command() -> None:
    """Load new bronze files into RAW; files already in raw.load_audit are skipped."""
    settings = get_settings()
    try:
        with file_progress("loading bronze files") as progress:
            result = run_load(settings, progress=progress)
    except LoadError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"loaded {result.files_loaded} file(s), skipped {result.files_skipped} already loaded; rows: "
        + ", ".join(f"{kind}={n}" for kind, n in result.rows_loaded.items())
    )
