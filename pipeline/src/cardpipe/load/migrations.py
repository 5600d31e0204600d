"""Versioned SQL files (`V001__name.sql`), applied once each and recorded in a tiny migrations table.

Only the local DuckDB warehouse uses them (there the loader owns RAW's DDL); on Snowflake the infrastructure
owns it and the loader only verifies it (`snowflake_load.SnowflakeWarehouse.verify`). The runner needs just a
way to run one statement and to read the applied versions. An applied file must never change (its checksum is
recorded); add a new version instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^V(\d{3,})__([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """A migration file was edited after it was applied, or a file name breaks the convention."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.md5(self.sql.encode(), usedforsecurity=False).hexdigest()

    def statements(self) -> list[str]:
        return split_statements(self.sql)


def split_statements(sql: str) -> list[str]:
    """Split a script on `;` at line ends. Our SQL files keep semicolons out of literals and comments."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [part.strip() for part in re.split(r";\s*(?:\n|$)", body) if part.strip()]


def discover(dialect: str) -> list[Migration]:
    """The migration files of a dialect (`duckdb`), in version order."""
    folder = resources.files("cardpipe.load").joinpath("sql", dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if not match:
            raise MigrationError(f"migration file {entry.name!r} must be named V<NNN>__<snake_name>.sql")
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in sql/{dialect}: {versions}")
    return found


def pending(migrations: list[Migration], applied: Mapping[int, str]) -> list[Migration]:
    """Migrations not applied yet; fails if an applied one was edited since."""
    todo = []
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is None:
            todo.append(migration)
        elif recorded != migration.checksum:
            raise MigrationError(
                f"migration V{migration.version:03d}__{migration.name}.sql changed after it was applied; "
                "restore it and add a new version file instead"
            )
    return todo


def apply(
    migrations: list[Migration],
    applied: Mapping[int, str],
    execute: Callable[[str], object],
    record: Callable[[Migration], object],
) -> list[Migration]:
    """Run each pending migration's statements, then record it. Returns what was applied."""
    done = []
    for migration in pending(migrations, applied):
        for statement in migration.statements():
            execute(statement)
        record(migration)
        done.append(migration)
    return done
