"""The `cardpipe` command line. Each sub-command lives in its own module and is imported on use,
so `cardpipe --help` stays fast and one command's dependencies never slow another."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from cardpipe.config import ConfigError, get_settings
from cardpipe.errors import ServiceUnavailable
from cardpipe.logs import configure_logging

# command name -> "module:click command object"
COMMANDS: dict[str, str] = {
    "seed-journal": "cardpipe.commands.seed_journal:command",
    "publish": "cardpipe.commands.publish:command",
    "consume": "cardpipe.commands.consume:command",
    "drain-dead-letters": "cardpipe.commands.drain_dead_letters:command",
    "backfill": "cardpipe.commands.backfill:command",
    "load": "cardpipe.commands.load:command",
    "replay": "cardpipe.commands.replay:command",
    "summary": "cardpipe.commands.summary:command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup)
def cli() -> None:
    """Sports Card Analytics Platform: land events in bronze and load them into the warehouse."""
    configure_logging(get_settings().log_format)


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="cardpipe", standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"cardpipe: {exc}", err=True)
        sys.exit(2)
    except ServiceUnavailable as exc:
        click.echo(f"cardpipe: {exc}", err=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
