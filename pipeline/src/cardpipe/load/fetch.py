"""List bronze objects with a cheap fingerprint, and read them with the loader's own checksums.

Listing: local files are stat()ed (size, mtime_ns, inode); S3 objects come with size and ETag from
ListObjectsV2. The fingerprint only says "maybe rewritten": the ETag of an SSE-KMS or multipart object is
not an MD5 of its bytes, so content is compared by the sha256 the loader computes when it reads the bytes.

Reading: local bronze is read in place. S3 objects are fetched with boto3 through the BronzeStore (DuckDB's
httpfs is not available) into a temporary directory that mirrors the keys, a few at a time in parallel;
the Snowflake loader only hashes them (COPY reads the stage itself).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from cardpipe.bronze.store import BronzeStore, LocalStore, StoredObject
from cardpipe.load.plan import Digests

FETCH_THREADS = 8
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class LocalCopy:
    """Where the bytes of `key` can be read now: `root / key`, and the checksums of those bytes."""

    root: Path
    digests: dict[str, Digests]

    def path(self, key: str) -> str:
        return str(self.root / key)

    @property
    def prefix_len(self) -> int:
        """Characters to strip from a path to get back the key (root plus one separator)."""
        return len(str(self.root)) + 1


def digest_bytes(data: bytes) -> Digests:
    return Digests(hashlib.sha256(data).hexdigest(), hashlib.md5(data, usedforsecurity=False).hexdigest())


def digest_file(path: Path) -> Digests:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
    return Digests(sha256.hexdigest(), md5.hexdigest())


def list_objects(store: BronzeStore, prefixes: Iterable[str]) -> list[StoredObject]:
    """Every object under the prefixes with its size and fingerprint, in key order per prefix."""
    return [obj for prefix in prefixes for obj in store.list_objects(prefix)]


def content_digests(store: BronzeStore, keys: Sequence[str]) -> dict[str, Digests]:
    """The loader's checksums of objects it does not load itself (Snowflake's COPY reads them)."""
    if isinstance(store, LocalStore):
        return {key: digest_file(store.root / key) for key in keys}
    with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
        return dict(zip(keys, pool.map(lambda k: digest_bytes(store.get(k)), keys), strict=True))


@contextmanager
def local_copy(store: BronzeStore, keys: Sequence[str]) -> Iterator[LocalCopy]:
    """Yield local paths and checksums for keys; temporary copies are removed afterwards."""
    if isinstance(store, LocalStore):
        root = store.root.resolve()
        yield LocalCopy(root, {key: digest_file(root / key) for key in keys})
        return
    with TemporaryDirectory(prefix="cardpipe-load-") as tmp:
        root = Path(tmp).resolve()

        def fetch(key: str) -> tuple[str, Digests]:
            data = store.get(key)
            target = (root / key).resolve()
            if not target.is_relative_to(root):
                raise ValueError(f"bronze key {key!r} escapes the temporary directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return key, digest_bytes(data)

        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            digests = dict(pool.map(fetch, keys))
        yield LocalCopy(root, digests)
