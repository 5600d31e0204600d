"""What to load: classify bronze keys, skip loaded ones, group the rest into batches. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from cardpipe.bronze.layout import EVENTS_PREFIX, QUARANTINE_PREFIX, SUFFIX
from cardpipe.contracts import names

Kind = Literal["events", "quarantine", "journal_counts"]
KINDS: tuple[Kind, ...] = ("events", "quarantine", "journal_counts")
JOURNAL_COUNTS_PREFIX = names.JOURNAL_COUNTS_PREFIX

# The bronze prefix each kind is listed from.
PREFIXES: dict[Kind, str] = {
    "events": EVENTS_PREFIX,
    "quarantine": QUARANTINE_PREFIX,
    "journal_counts": JOURNAL_COUNTS_PREFIX,
}


def kind_of(key: str) -> Kind | None:
    """The RAW table a bronze key feeds, or None for objects load ignores (checkpoints, temp files)."""
    if not key.endswith(SUFFIX):
        return None
    for kind, prefix in PREFIXES.items():
        if key.startswith(prefix):
            return kind
    return None


@dataclass(frozen=True, slots=True)
class BronzeFile:
    key: str
    kind: Kind
    size: int = 0


@dataclass(frozen=True, slots=True)
class FileLoad:
    """One file's audit record: what `raw.load_audit` holds for it."""

    file_name: str
    kind: Kind
    rows: int
    checksum: str


@dataclass
class LoadResult:
    """Counts of one `load` run; `failed` lists files that could not be loaded (left for the next run)."""

    files_seen: int = 0
    files_skipped: int = 0
    files_loaded: int = 0
    rows_loaded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    failed: dict[str, str] = field(default_factory=dict)

    def add(self, loads: Iterable[FileLoad]) -> None:
        for item in loads:
            self.files_loaded += 1
            self.rows_loaded[item.kind] += item.rows

    @property
    def total_rows(self) -> int:
        return sum(self.rows_loaded.values())


def new_files(keys: Iterable[str], loaded: Mapping[str, str]) -> tuple[list[BronzeFile], int]:
    """Files not yet in the audit, plus the number skipped.

    journal_counts files are returned even when loaded: a rerun backfill window overwrites its file under
    the same name, so the loader compares checksums and replaces the window when the content changed.
    Event and quarantine names are unique per flush (live) or deterministic with deterministic content
    (backfill), so a name already audited is skipped without reading it.
    """
    todo: list[BronzeFile] = []
    skipped = 0
    for key in keys:
        kind = kind_of(key)
        if kind is None:
            continue
        if key in loaded and kind != "journal_counts":
            skipped += 1
            continue
        todo.append(BronzeFile(key, kind))
    return todo, skipped


def batches(files: Iterable[BronzeFile], max_files: int, max_bytes: int) -> list[list[BronzeFile]]:
    """Consecutive same-kind groups of at most max_files files / max_bytes bytes (at least one file each)."""
    out: list[list[BronzeFile]] = []
    current: list[BronzeFile] = []
    size = 0
    for item in files:
        if current and (
            item.kind != current[0].kind or len(current) >= max_files or size + item.size > max_bytes
        ):
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        out.append(current)
    return out
