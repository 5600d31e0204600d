# ruff: noqa: PLC0415  (boto3 is imported inside fixtures, after conftest set the environment)
"""mwaa_sync.py against a versioned bucket on a moto server: DAG files always sync, MWAA is updated
(restarted) only when requirements, plugins or startup content differs from what it runs.

moto has no MWAA API, so the mwaa client is a small recording stand-in (GetEnvironment/UpdateEnvironment with
the real field names); the subject is the sync decision and the S3 state, which are real.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cardpipe.contracts import names
from conftest import REPO

ENV = names.mwaa_environment("dev")


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "airflow" / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


sync_mod = _module("mwaa_sync")


class RecordingMwaa:
    """GetEnvironment returns the pins, UpdateEnvironment records and applies them (like MWAA, minus the
    restart)."""

    def __init__(self, pins: dict[str, str]) -> None:
        self.environment: dict[str, Any] = {"Name": ENV, "Status": "AVAILABLE", **pins}
        self.updates: list[dict[str, str]] = []

    def get_environment(self, *, Name: str) -> dict[str, Any]:
        assert Name == ENV
        return {"Environment": dict(self.environment)}

    def update_environment(self, **kwargs: str) -> dict[str, str]:
        assert kwargs.pop("Name") == ENV
        self.updates.append(kwargs)
        self.environment.update(kwargs)
        return {"Arn": f"arn:aws:airflow:us-east-1:123456789012:environment/{ENV}"}


@pytest.fixture
def s3(aws_env: str) -> Any:
    import boto3

    return boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"artifacts-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _bundle(
    root: Path, *, requirements: str = "cardpipe==0.1.0\n", dags: dict[str, str] | None = None
) -> Path:
    root.mkdir(parents=True)
    (root / names.MWAA_REQUIREMENTS_KEY).write_text(requirements)
    (root / names.MWAA_PLUGINS_KEY).write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (root / names.MWAA_STARTUP_KEY).write_text("#!/usr/bin/env bash\n")
    for rel, text in (dags or {"load.py": "v1"}).items():
        path = root / names.MWAA_DAGS_PREFIX / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _terraform_created(s3: Any, bucket: str, bundle: Path) -> RecordingMwaa:
    """What the infra stack does on the first apply: put the three objects (no metadata), pin MWAA to them."""
    pins = {}
    for key, (path_attr, version_attr) in sync_mod.TOP_LEVEL.items():
        out = s3.put_object(Bucket=bucket, Key=key, Body=(bundle / key).read_bytes())
        pins[path_attr], pins[version_attr] = key, out["VersionId"]
    return RecordingMwaa(pins)


def _live(s3: Any, bucket: str, prefix: str) -> dict[str, bytes]:
    contents = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in contents}


def _pinned(s3: Any, bucket: str, mwaa: RecordingMwaa, key: str) -> bytes:
    _, version_attr = sync_mod.TOP_LEVEL[key]
    obj = s3.get_object(Bucket=bucket, Key=key, VersionId=mwaa.environment[version_attr])
    return bytes(obj["Body"].read())


def test_dag_only_changes_never_restart_mwaa_and_runtime_changes_do(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    first = _bundle(tmp_path / "b1", dags={"load.py": "v1", "old.py": "x", "lib/util.py": "u"})
    mwaa = _terraform_created(s3, bucket, first)

    def sync(bundle_id: str, build_dir: Path | None) -> Any:
        return sync_mod.sync(
            s3, mwaa, bucket=bucket, environment=ENV, bundle_id=bundle_id, build_dir=build_dir
        )

    # 1. first promotion after terraform: same runtime as the objects terraform uploaded -> no restart
    result = sync("b1", first)
    assert mwaa.updates == [] and result.updated is False and result.changed == []
    assert _live(s3, bucket, names.MWAA_DAGS_PREFIX) == {
        "dags/load.py": b"v1",
        "dags/old.py": b"x",
        "dags/lib/util.py": b"u",
    }
    # every bundle object carries its content hash
    head = s3.head_object(Bucket=bucket, Key=f"{names.MWAA_BUNDLES_PREFIX}b1/{names.MWAA_PLUGINS_KEY}")
    assert (
        head["Metadata"]["sha256"]
        == hashlib.sha256((first / names.MWAA_PLUGINS_KEY).read_bytes()).hexdigest()
    )

    # 2. a DAG-only change: DAG files sync (changed, added, stale deleted), MWAA is not restarted
    result = sync("b2", _bundle(tmp_path / "b2", dags={"load.py": "v2", "new.py": "n", "lib/util.py": "u"}))
    assert mwaa.updates == [] and result.deleted == 1
    assert _live(s3, bucket, names.MWAA_DAGS_PREFIX) == {
        "dags/load.py": b"v2",
        "dags/new.py": b"n",
        "dags/lib/util.py": b"u",
    }

    # 3. requirements changed: exactly one update, pinned to objects holding the new content
    result = sync("b3", _bundle(tmp_path / "b3", requirements="cardpipe==0.2.0\n", dags={"load.py": "v3"}))
    assert len(mwaa.updates) == 1 and result.changed == [names.MWAA_REQUIREMENTS_KEY]
    update = mwaa.updates[0]
    assert {update[p] for p, _ in sync_mod.TOP_LEVEL.values()} == set(sync_mod.TOP_LEVEL)
    assert _pinned(s3, bucket, mwaa, names.MWAA_REQUIREMENTS_KEY) == b"cardpipe==0.2.0\n"
    assert _pinned(s3, bucket, mwaa, names.MWAA_STARTUP_KEY) == b"#!/usr/bin/env bash\n"

    # 4. the same bundle again: nothing to restart
    sync("b3-again", tmp_path / "b3")
    assert len(mwaa.updates) == 1

    # 5. rollback to b2 (from the bucket, no local build): runtime differs from b3's -> one more update
    result = sync("b2", None)
    assert len(mwaa.updates) == 2 and result.uploaded == 0
    assert _pinned(s3, bucket, mwaa, names.MWAA_REQUIREMENTS_KEY) == b"cardpipe==0.1.0\n"
    assert _live(s3, bucket, names.MWAA_DAGS_PREFIX)["dags/load.py"] == b"v2"
    sync("b2", None)
    assert len(mwaa.updates) == 2


def test_an_environment_not_pinned_to_the_live_keys_is_updated(s3: Any, bucket: str, tmp_path: Path) -> None:
    """No version pinned (or another path): MWAA cannot be running this bundle's runtime, so update."""
    bundle = _bundle(tmp_path / "b")
    mwaa = RecordingMwaa({})
    result = sync_mod.sync(s3, mwaa, bucket=bucket, environment=ENV, bundle_id="b", build_dir=bundle)
    assert result.updated and sorted(result.changed) == sorted(sync_mod.TOP_LEVEL)
    assert _pinned(s3, bucket, mwaa, names.MWAA_PLUGINS_KEY) == (bundle / names.MWAA_PLUGINS_KEY).read_bytes()


def test_no_update_and_force_update(s3: Any, bucket: str, tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "b")
    mwaa = _terraform_created(s3, bucket, bundle)
    sync_mod.sync(s3, mwaa, bucket=bucket, environment=ENV, bundle_id="b", build_dir=bundle, update=False)
    assert mwaa.updates == []
    sync_mod.sync(s3, mwaa, bucket=bucket, environment=ENV, bundle_id="b", build_dir=None, force_update=True)
    assert len(mwaa.updates) == 1


def test_restoring_an_unknown_bundle_fails_naming_it(s3: Any, bucket: str) -> None:
    with pytest.raises(SystemExit, match="no bundle 'nope'"):
        sync_mod.sync(s3, RecordingMwaa({}), bucket=bucket, environment=ENV, bundle_id="nope", build_dir=None)


def test_cli_defaults_the_environment_name_from_names(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--environment` may be omitted: names.mwaa_environment(env), what infra names the environment."""
    seen: dict[str, Any] = {}

    def recording_sync(s3: Any, mwaa: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return sync_mod.SyncResult(bundle_id=kwargs["bundle_id"])

    monkeypatch.setattr(sync_mod, "sync", recording_sync)
    assert sync_mod.main(["--env", "staging", "--bucket", "b", "--restore", "abc"]) == 0
    assert seen["environment"] == names.mwaa_environment("staging")
    assert seen["build_dir"] is None and seen["bundle_id"] == "abc"
