"""The `cardpipe` command line. Each sub-command lives in its own module and is imported on use,
so `cardpipe --help` stays fast and one command's dependencies never slow another."""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click

from cardpipe.config import ConfigError, get_settings
from cardpipe.errors import ServiceUnavailable
from cardpipe.logs import configure_logging
from cardpipe.redaction import redact, register_settings

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
    "reset-local": "cardpipe.commands.reset_local:command",
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
    settings = get_settings()
    register_settings(settings)  # the configured passwords and keys are hidden in every message
    configure_logging(settings.log_format, pika_level=settings.pika_log_level)


def _fail(message: str, status: int) -> None:
    """Every error the CLI prints goes through the one redaction (cardpipe.redaction)."""
    click.echo(f"cardpipe: {redact(message)}", err=True)
    sys.exit(status)


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="cardpipe", standalone_mode=False)
    except ConfigError as exc:
        _fail(str(exc), 2)
    except ServiceUnavailable as exc:
        _fail(str(exc), 3)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        # Usage errors and command failures (click's own formatting, redacted).
        click.echo(redact(_click_text(exc)), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception:
        # An unexpected error: the traceback (which may quote a DSN or a key) redacted, exit status 1.
        click.echo(redact(traceback.format_exc()).rstrip(), err=True)
        sys.exit(1)
    return None


def _click_text(exc: click.ClickException) -> str:
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        hint = f"Try '{exc.ctx.command_path} {exc.ctx.help_option_names[0]}' for help.\n"
        return f"{exc.ctx.get_usage()}\n{hint}\nError: {exc.format_message()}"
    return f"Error: {exc.format_message()}"


if __name__ == "__main__":
    main()
