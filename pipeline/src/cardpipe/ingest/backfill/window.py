"""Backfill windows and chunks: which journal rows a run takes, and how they are cut (pure, no I/O).

A window takes the rows whose COALESCE(occurred_at, recorded_at) is in [since, until): a row whose
occurred_at is NULL (malformed history) belongs to the window of its recorded_at, so every journal row
belongs to exactly one window of a partition of time. Chunk k of a window holds its rows with seq in
(k*N, (k+1)*N], bounded by the plan's max seq: ranges never depend on what else is in the journal, so a
re-run maps every row to the same chunk and the same object names (overwritten, never duplicated).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from psycopg2 import sql

from cardpipe.config import ConfigError
from cardpipe.contracts.codec import format_ts

# The journal column a window filters on; journal_schema.sql indexes exactly this expression.
WINDOW_TS = sql.SQL("COALESCE(occurred_at, recorded_at)")


def _ts_id(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S.%fZ" if value.microsecond else "%Y%m%dT%H%M%SZ")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_ts(value: str | None) -> datetime | None:
    """ISO 8601 (naive means UTC) -> aware UTC datetime."""
    if value is None:
        return None
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        raise ConfigError(f"{value!r} is not an ISO 8601 timestamp (e.g. 2026-03-01T00:00:00Z)") from None


@dataclass(frozen=True)
class Window:
    """COALESCE(occurred_at, recorded_at) in [since, until); unbounded = every journal row."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", _utc(self.since))
        object.__setattr__(self, "until", _utc(self.until))
        if self.since and self.until and self.since >= self.until:
            raise ConfigError(
                f"--since {self.since.isoformat()} must be before --until {self.until.isoformat()}"
            )

    @property
    def window_id(self) -> str:
        """Deterministic and object-name safe: 'all', '20260301T000000Z-20260302T000000Z', 'start-…'."""
        if self.since is None and self.until is None:
            return "all"
        return (
            f"{_ts_id(self.since) if self.since else 'start'}-{_ts_id(self.until) if self.until else 'end'}"
        )

    def bounds(self) -> tuple[str | None, str | None]:
        return (format_ts(self.since) if self.since else None, format_ts(self.until) if self.until else None)

    @classmethod
    def from_bounds(cls, since: str | None, until: str | None) -> Window:
        return cls(parse_ts(since), parse_ts(until))

    def where(self, max_seq: int | None = None) -> tuple[sql.Composable, list[Any]]:
        """SQL filter (no leading WHERE/AND) and its parameters; max_seq bounds it to what was planned."""
        clauses: list[sql.Composable] = [sql.SQL("TRUE")]
        params: list[Any] = []
        if self.since is not None:
            clauses.append(sql.SQL("{} >= %s").format(WINDOW_TS))
            params.append(self.since)
        if self.until is not None:
            clauses.append(sql.SQL("{} < %s").format(WINDOW_TS))
            params.append(self.until)
        if max_seq is not None:
            clauses.append(sql.SQL("seq <= %s"))
            params.append(max_seq)
        return sql.SQL(" AND ").join(clauses), params


@dataclass(frozen=True)
class Chunk:
    """One unit of backfill work; plain JSON-serializable fields (Airflow XCom / task mapping)."""

    window_id: str
    since: str | None
    until: str | None
    chunk_no: int
    seq_lo: int  # exclusive
    seq_hi: int  # inclusive
    planned_rows: int
    ingested_at: str
    max_seq: int | None = None  # the plan's bound: rows above it belong to a later run

    @property
    def name(self) -> str:
        return f"backfill-{self.window_id}-{self.chunk_no:06d}"

    @property
    def window(self) -> Window:
        return Window.from_bounds(self.since, self.until)

    @property
    def last_seq(self) -> int:
        """The highest seq this chunk may take."""
        return self.seq_hi if self.max_seq is None else min(self.seq_hi, self.max_seq)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
