"""What to load: classify bronze keys, compare the listing with the audit, group the rest into batches.

Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from cardpipe.bronze.layout import EVENTS_PREFIX, QUARANTINE_PREFIX, SUFFIX
from cardpipe.bronze.store import StoredObject
from cardpipe.contracts import names

Kind = Literal["events", "quarantine", "journal_counts"]
KINDS: tuple[Kind, ...] = ("events", "quarantine", "journal_counts")
JOURNAL_COUNTS_PREFIX = names.JOURNAL_COUNTS_PREFIX
# The loader's own content checksum, recorded in the audit as `sha256:<hex>`.
CHECKSUM_ALGORITHM = "sha256"

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
class AuditEntry:
    """What `raw.load_audit` knows of a loaded file: the loader's content checksum and the fingerprint."""

    checksum: str | None
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class BronzeFile:
    key: str
    kind: Kind
    size: int = 0
    fingerprint: str = ""
    # The audit's checksum when the file was loaded before (it is re-read because its fingerprint changed).
    previous: str | None = None

    @property
    def audited(self) -> bool:
        return self.previous is not None


@dataclass(frozen=True, slots=True)
class FileLoad:
    """One file's audit record: what `raw.load_audit` holds for it."""

    file_name: str
    kind: Kind
    rows: int
    checksum: str
    fingerprint: str = ""
    replaced: bool = False  # an audited file whose changed content replaced its earlier rows


@dataclass(frozen=True, slots=True)
class Digests:
    """The loader's own checksums of an object's bytes: sha256 is recorded; md5 only verifies legacy rows."""

    sha256: str
    md5: str

    @property
    def checksum(self) -> str:
        return f"{CHECKSUM_ALGORITHM}:{self.sha256}"


def same_content(recorded: str | None, digests: Digests) -> bool:
    """Whether the audit's checksum proves these bytes are the ones loaded.

    `sha256:<hex>` is the loader's own checksum. A bare hex value is a row from before (the DuckDB loader's
    md5 of the bytes, or on Snowflake LIST's md5, i.e. the ETag): it is compared with the md5 of the bytes,
    which is exact where it was an md5 and mismatches otherwise, so such a file is reloaded once. Unknown
    (None) never matches.
    """
    if not recorded:
        return False
    algorithm, sep, value = recorded.partition(":")
    if sep:
        return algorithm == CHECKSUM_ALGORITHM and value == digests.sha256
    return recorded.lower() == digests.md5


@dataclass
class LoadPlan:
    """`new`: never loaded; `recheck`: loaded, but rewritten since (fingerprint changed) so it is read and
    compared; `adopt`: audit rows from before fingerprints whose ETag proves them unchanged, as (file_name,
    checksum, fingerprint) to record; `unchanged`: files skipped without reading (adopted ones included)."""

    new: list[BronzeFile] = field(default_factory=list)
    recheck: list[BronzeFile] = field(default_factory=list)
    adopt: list[tuple[str, str, str]] = field(default_factory=list)
    unchanged: int = 0

    @property
    def todo(self) -> list[BronzeFile]:
        """Files to read, in listing order per kind (new and rechecked together)."""
        return sorted(self.new + self.recheck, key=lambda f: (KINDS.index(f.kind), f.key))


def plan_load(listing: Iterable[StoredObject], audit: Mapping[str, AuditEntry]) -> LoadPlan:
    """Compare the listing with the audit: what to read, what to skip, what to adopt.

    Every kind follows the same rule (journal_counts files too): an audited object is read again only when
    its fingerprint differs from the one recorded when it was loaded; the content checksum then decides
    between refreshing the fingerprint (same bytes) and replacing the file's rows (changed bytes).
    """
    plan = LoadPlan()
    for item in listing:
        kind = kind_of(item.key)
        if kind is None:
            continue
        entry = audit.get(item.key)
        file = BronzeFile(item.key, kind, item.size, item.fingerprint)
        if entry is None:
            plan.new.append(file)
        elif entry.fingerprint is not None and entry.fingerprint == item.fingerprint and item.fingerprint:
            plan.unchanged += 1
        elif entry.fingerprint is None and _legacy_etag_matches(entry.checksum, item.etag):
            plan.adopt.append((item.key, entry.checksum or "", item.fingerprint))
            plan.unchanged += 1
        else:
            plan.recheck.append(
                BronzeFile(item.key, kind, item.size, item.fingerprint, previous=entry.checksum or "")
            )
    return plan


def _legacy_etag_matches(checksum: str | None, etag: str | None) -> bool:
    """A pre-fingerprint audit row whose value equals the object's current ETag: the object was not rewritten
    since it was loaded (its ETag, or its md5 when the ETag is one, would differ)."""
    return bool(checksum and etag and ":" not in checksum and checksum.lower() == etag.lower())


@dataclass
class LoadResult:
    """Counts of one `load` run; `failed` lists files that could not be loaded (left for the next run).

    `files_loaded` counts new and replaced files; `files_replaced` those of them that replaced their own
    earlier rows (rewritten with other content); `files_verified` audited files that were rewritten with the
    same bytes (read, compared, fingerprint refreshed, nothing reloaded). Those are in `files_skipped` too.
    """

    files_seen: int = 0
    files_skipped: int = 0
    files_loaded: int = 0
    files_replaced: int = 0
    files_verified: int = 0
    rows_loaded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    failed: dict[str, str] = field(default_factory=dict)

    def add(self, loads: Iterable[FileLoad]) -> None:
        for item in loads:
            self.files_loaded += 1
            self.files_replaced += item.replaced
            self.rows_loaded[item.kind] += item.rows

    @property
    def total_rows(self) -> int:
        return sum(self.rows_loaded.values())


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
