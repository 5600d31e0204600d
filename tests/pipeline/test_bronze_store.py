"""BronzeStore in depth: atomic local writes, S3 Content-MD5 / SSE-KMS arguments, overwrites, key safety."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from cardpipe.bronze.store import LocalStore, S3Store, open_store
from cardpipe.config import BronzeSettings

KEY = "raw/events/source=live/event_type=order_placed/dt=2026-03-01/hour=12/live-x.ndjson.gz"


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".")]


def test_local_put_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put(KEY, b"first")
    store.put(KEY, b"second")
    assert (tmp_path / KEY).read_bytes() == b"second"
    assert leftovers(tmp_path) == []
    assert list(store.list("raw/")) == [KEY]


def test_local_failed_put_keeps_old_object_and_removes_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path)
    store.put(KEY, b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError("fsync failed")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="fsync failed"):
        store.put(KEY, b"new")
    monkeypatch.undo()
    assert store.get(KEY) == b"old"  # the reader never sees a half-written object
    assert leftovers(tmp_path) == []


def test_local_rejects_keys_escaping_the_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "bronze")
    with pytest.raises(ValueError, match="escapes"):
        store.put("../outside.ndjson.gz", b"x")
    assert not (tmp_path / "outside.ndjson.gz").exists()


def test_local_list_ignores_temp_files_and_filters_prefix(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("raw/events/a/1.ndjson.gz", b"1")
    store.put("raw/quarantine/b/2.ndjson.gz", b"2")
    (tmp_path / "raw/events/a/.1.ndjson.gz.123.tmp").write_bytes(b"partial")
    assert list(store.list("raw/events/")) == ["raw/events/a/1.ndjson.gz"]
    assert list(store.list("raw/nothing/")) == []


def capture_put_params(store: S3Store) -> list[dict[str, Any]]:
    """Record the parameters botocore really sends for PutObject (the client still talks to moto)."""
    seen: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))

    store.client.meta.events.register("before-parameter-build.s3.PutObject", hook)  # type: ignore[attr-defined]
    return seen


def test_s3_put_sends_content_md5_and_overwrites(s3_bronze: BronzeSettings) -> None:
    store = open_store(s3_bronze)
    assert isinstance(store, S3Store)
    sent = capture_put_params(store)
    store.put(KEY, b"first")
    store.put(KEY, b"second version")

    assert [p["ContentMD5"] for p in sent] == [
        base64.b64encode(hashlib.md5(d).digest()).decode() for d in (b"first", b"second version")
    ]
    assert all("ServerSideEncryption" not in p for p in sent)  # bucket default encryption applies
    assert store.get(KEY) == b"second version"
    assert list(store.list("raw/")) == [KEY]
    client = boto3.client("s3", endpoint_url=s3_bronze.s3_endpoint_url)
    head = client.head_object(Bucket=s3_bronze.s3_bucket, Key=f"sportscards/{KEY}")
    assert head["ETag"].strip('"') == hashlib.md5(b"second version").hexdigest()


def test_s3_put_uses_sse_kms_when_configured(s3_bronze: BronzeSettings) -> None:
    kms = boto3.client("kms", endpoint_url=s3_bronze.s3_endpoint_url, region_name="us-east-1")
    key_id = kms.create_key(Description="bronze test key")["KeyMetadata"]["KeyId"]
    store = open_store(s3_bronze.model_copy(update={"s3_kms_key_id": key_id}))
    assert isinstance(store, S3Store)
    sent = capture_put_params(store)
    store.put(KEY, b"secret-ish")

    assert sent[0]["ServerSideEncryption"] == "aws:kms"
    assert sent[0]["SSEKMSKeyId"] == key_id
    client = boto3.client("s3", endpoint_url=s3_bronze.s3_endpoint_url)
    head = client.head_object(Bucket=s3_bronze.s3_bucket, Key=f"sportscards/{KEY}")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]
    assert store.get(KEY) == b"secret-ish"


def test_s3_exists_delete_and_prefix_isolation(s3_bronze: BronzeSettings) -> None:
    store = open_store(s3_bronze)
    other = open_store(s3_bronze.model_copy(update={"s3_prefix": "elsewhere"}))
    store.put(KEY, b"x")
    assert store.exists(KEY)
    assert not other.exists(KEY)
    assert list(other.list("raw/")) == []
    store.delete(KEY)
    assert not store.exists(KEY)
    assert store.describe() == f"s3://{s3_bronze.s3_bucket}/sportscards/"


def test_s3_put_that_never_completes_times_out_and_is_retried(s3_bronze: BronzeSettings) -> None:
    """A PUT the endpoint never answers (helper E's fault proxy holds it open) must fail on the client's read
    timeout and be retried, not hang the writer forever: the retried PUT lands the object."""
    from support.faults import FaultPlan, FaultProxy  # noqa: PLC0415 - tests/ is on sys.path (rootdir)

    assert s3_bronze.s3_endpoint_url is not None
    upstream = int(s3_bronze.s3_endpoint_url.rsplit(":", 1)[1])
    proxy = FaultProxy(upstream, FaultPlan(hang_puts=1, hang_seconds=120))
    try:
        settings = s3_bronze.model_copy(
            update={"s3_endpoint_url": proxy.url, "s3_read_timeout": 1.0, "s3_max_attempts": 3}
        )
        store = open_store(settings)
        store.put("raw/events/hung.ndjson.gz", b"payload")
        assert proxy.counts["hang"] == 1
        assert store.get("raw/events/hung.ndjson.gz") == b"payload"
    finally:
        proxy.close()


def test_s3_client_timeouts_and_retries_come_from_settings(s3_bronze: BronzeSettings) -> None:
    settings = s3_bronze.model_copy(
        update={"s3_connect_timeout": 2.5, "s3_read_timeout": 7.0, "s3_max_attempts": 4}
    )
    store = open_store(settings)
    assert isinstance(store, S3Store)
    config: Any = store.client.meta.config  # type: ignore[attr-defined]
    assert (config.connect_timeout, config.read_timeout) == (2.5, 7.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}  # attempts in all
