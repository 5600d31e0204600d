"""Two bronze stores behind one interface: a local directory (default) and S3.

`put` returns only once the object is durable (fsync + atomic rename locally; a completed PutObject
with Content-MD5 on S3). Callers ack messages or advance checkpoints only after `put` returns.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cardpipe.config import BronzeSettings


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object as its store lists it, before anything is read.

    `fingerprint` is cheap to get and changes whenever the object is rewritten (S3: size + ETag; local:
    size + mtime_ns + inode); it says whether an object may have been rewritten, never whether its content
    changed (an SSE-KMS ETag is not an MD5 and changes on every upload of the same bytes). `etag` is the bare
    S3 ETag (None locally).
    """

    key: str
    size: int
    fingerprint: str
    etag: str | None = None


class BronzeStore(Protocol):
    """Keys are '/'-separated relative paths such as 'raw/events/source=live/.../x.ndjson.gz'."""

    def put(self, key: str, data: bytes) -> None:
        """Write (or overwrite) an object durably."""

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under a prefix, in lexicographic order."""

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        """Objects under a prefix with size and fingerprint, in key order (what `list` lists)."""

    def delete(self, key: str) -> None: ...

    def describe(self) -> str:
        """Where the store points, for logs (no secrets)."""


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        # Directories whose entry in their parent this process has fsynced (or made sure of): a new partition
        # directory is only durable once its parent is fsynced, up to the store root. Another thread or
        # process may have created a directory without fsyncing its parent yet, so "it already exists" is
        # not enough: each directory is made sure of once per process (a few fsyncs per new partition).
        self._durable_dirs: set[Path] = set()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key {key!r} escapes the bronze root")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)  # makes the rename itself durable
        self._make_parents_durable(path.parent)

    def _make_parents_durable(self, directory: Path) -> None:
        """fsync the parent of every directory between `directory` and the store root not yet made sure of,
        so that a power cut cannot lose a freshly created partition directory (and the object in it). The
        root itself counts (mkdir may just have created it): its parent is fsynced once too."""
        root = self.root.resolve()
        pending: list[Path] = []
        current = directory
        while current not in self._durable_dirs and current.is_relative_to(root):
            pending.append(current)
            current = current.parent
        # Shallowest first: a directory is recorded only once every ancestor is, so a failed fsync is retried
        # by the next put instead of being skipped.
        for created in reversed(pending):
            _fsync_dir(created.parent)
            self._durable_dirs.add(created)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix
        search_root = base if base.is_dir() else base.parent
        if not search_root.exists():
            return iter(())
        keys = (
            p.relative_to(self.root).as_posix()
            for p in search_root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        return iter(sorted(k for k in keys if k.startswith(prefix)))

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        for key in self.list(prefix):
            st = (self.root / key).stat()
            yield StoredObject(
                key, st.st_size, f"size={st.st_size};mtime_ns={st.st_mtime_ns};ino={st.st_ino}"
            )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def describe(self) -> str:
        return f"local:{self.root}"


class S3Store:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        kms_key_id: str | None = None,
        client: object | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_attempts: int = 10,
    ) -> None:
        """`connect_timeout`/`read_timeout` bound every request (a PUT that never completes raises
        ReadTimeout and is retried, up to `max_attempts` in all, instead of hanging forever)."""
        import boto3  # noqa: PLC0415 - boto3 is loaded only when S3 is configured
        from botocore.config import Config  # noqa: PLC0415

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.kms_key_id = kms_key_id
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"mode": "standard", "total_max_attempts": max_attempts},  # first included
            ),
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put(self, key: str, data: bytes) -> None:
        extra: dict[str, str] = {}
        if self.kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        self.client.put_object(  # type: ignore[attr-defined]
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentMD5=md5, **extra
        )

    def get(self, key: str) -> bytes:
        response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))  # type: ignore[attr-defined]
        body: bytes = response["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError  # noqa: PLC0415 - see __init__

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))  # type: ignore[attr-defined]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def list(self, prefix: str) -> Iterator[str]:
        return (obj.key for obj in self.list_objects(prefix))

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for item in page.get("Contents", []):
                etag = str(item.get("ETag", "")).strip('"')
                size = int(item.get("Size", 0))
                key = str(item["Key"])[len(self.prefix) :]
                yield StoredObject(key, size, f"size={size};etag={etag}", etag or None)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))  # type: ignore[attr-defined]

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def open_store(settings: BronzeSettings) -> BronzeStore:
    """The store the configuration selects."""
    if settings.backend == "s3":
        assert settings.s3_bucket  # enforced by BronzeSettings
        return S3Store(
            settings.s3_bucket,
            settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            kms_key_id=settings.s3_kms_key_id,
            connect_timeout=settings.s3_connect_timeout,
            read_timeout=settings.s3_read_timeout,
            max_attempts=settings.s3_max_attempts,
        )
    return LocalStore(settings.dir)
