"""Make bronze objects readable by the warehouse as local files, with their md5 for the audit.

Local bronze is read in place. S3 objects are fetched with boto3 through the BronzeStore (DuckDB's
httpfs is not available) into a temporary directory that mirrors the keys, a few at a time in parallel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from cardpipe.bronze.store import BronzeStore, LocalStore

FETCH_THREADS = 8


@dataclass(frozen=True, slots=True)
class LocalCopy:
    """Where the bytes of `key` can be read now: `root / key`."""

    root: Path
    checksums: dict[str, str]

    def path(self, key: str) -> str:
        return str(self.root / key)

    @property
    def prefix_len(self) -> int:
        """Characters to strip from a path to get back the key (root plus one separator)."""
        return len(str(self.root)) + 1


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sizes(store: BronzeStore, keys: Sequence[str]) -> dict[str, int]:
    """Object sizes where they are free to know (local files); 0 otherwise."""
    if isinstance(store, LocalStore):
        return {key: (store.root / key).stat().st_size for key in keys}
    return dict.fromkeys(keys, 0)


@contextmanager
def local_copy(store: BronzeStore, keys: Sequence[str]) -> Iterator[LocalCopy]:
    """Yield local paths and md5 checksums for keys; temporary copies are removed afterwards."""
    if isinstance(store, LocalStore):
        root = store.root.resolve()
        yield LocalCopy(root, {key: md5_file(root / key) for key in keys})
        return
    with TemporaryDirectory(prefix="cardpipe-load-") as tmp:
        root = Path(tmp).resolve()

        def fetch(key: str) -> tuple[str, str]:
            data = store.get(key)
            target = (root / key).resolve()
            if not target.is_relative_to(root):
                raise ValueError(f"bronze key {key!r} escapes the temporary directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return key, hashlib.md5(data, usedforsecurity=False).hexdigest()

        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            checksums = dict(pool.map(fetch, keys))
        yield LocalCopy(root, checksums)
