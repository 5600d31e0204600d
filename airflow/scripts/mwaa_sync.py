"""Publish one environment's MWAA artifacts; restart MWAA only when requirements, plugins or startup changed.

    python airflow/scripts/mwaa_sync.py --env dev --bucket <artifacts bucket> --environment sportscards-dev \
        [--bundle-id <git sha>] [--restore <older bundle id>] [--build-dir <dir>] \
        [--no-update] [--force-update]

Layout in the (versioned) artifacts bucket:
    bundles/<bundle id>/{dags/..., requirements.txt, plugins.zip, startup.sh}
                                                   every deployed bundle, kept; each object carries the
                                                   sha256 of its content as metadata (x-amz-meta-sha256)
    dags/...                                       what MWAA reads (mirrors one bundle)
    requirements.txt, plugins.zip, startup.sh      ditto; MWAA runs the object versions it is pinned to
DAG files always sync: MWAA picks them up by itself. UpdateEnvironment (a restart of every MWAA component,
tens of minutes) is called only when the content of requirements.txt, plugins.zip or startup.sh differs from
the object versions the environment currently runs (compared by sha256): a DAG-only change restarts nothing.
`--restore <id>` redeploys an earlier bundle from bundles/<id>/ (rollback), by the same rule. AWS credentials
come from the caller (GitHub OIDC role in CI); nothing here reads or prints a secret.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from cardpipe.contracts import names

AIRFLOW_DIR = Path(__file__).resolve().parents[1]
# live key -> (path attribute, object version attribute) of MWAA's GetEnvironment / UpdateEnvironment
TOP_LEVEL = {
    names.MWAA_REQUIREMENTS_KEY: ("RequirementsS3Path", "RequirementsS3ObjectVersion"),
    names.MWAA_PLUGINS_KEY: ("PluginsS3Path", "PluginsS3ObjectVersion"),
    names.MWAA_STARTUP_KEY: ("StartupScriptS3Path", "StartupScriptS3ObjectVersion"),
}
DAGS = names.MWAA_DAGS_PREFIX
BUNDLES = names.MWAA_BUNDLES_PREFIX
SHA_META = "sha256"  # object metadata key (x-amz-meta-sha256)
_GONE = {"400", "404", "NoSuchKey", "NoSuchVersion", "InvalidArgument"}


@dataclass
class SyncResult:
    bundle_id: str
    uploaded: int = 0
    dag_files: int = 0
    deleted: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)  # top-level keys whose content MWAA does not run yet
    updated: bool = False


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def bundle_files(root: Path) -> dict[str, Path]:
    """S3 key (relative to a bundle) -> local file, for a built artifacts directory."""
    files = {name: root / name for name in TOP_LEVEL}
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing or not (root / DAGS).is_dir():
        raise SystemExit(f"{root} is not a built bundle (missing {missing or [DAGS]}): run make mwaa-package")
    for path in sorted((root / DAGS).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(root).as_posix()] = path
    return files


def _bundle_prefix(bundle_id: str) -> str:
    return f"{BUNDLES}{bundle_id}/"


def upload_bundle(s3: Any, bucket: str, bundle_id: str, files: dict[str, Path]) -> None:
    """bundles/<id>/..., each object with the sha256 of its content (compared on later syncs)."""
    for key, path in files.items():
        s3.upload_file(
            str(path),
            bucket,
            f"{_bundle_prefix(bundle_id)}{key}",
            ExtraArgs={"Metadata": {SHA_META: sha256_file(path)}},
        )


def _bundle_keys(s3: Any, bucket: str, bundle_id: str) -> list[str]:
    prefix = _bundle_prefix(bundle_id)
    keys = [
        obj["Key"][len(prefix) :]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]
    if not keys:
        raise SystemExit(f"no bundle {bundle_id!r} in s3://{bucket}/{BUNDLES}: nothing to restore")
    missing = sorted(set(TOP_LEVEL) - set(keys))
    if missing:
        raise SystemExit(f"bundle {bundle_id!r} in s3://{bucket}/{BUNDLES} lacks {missing}")
    return keys


def object_sha256(s3: Any, bucket: str, key: str, version_id: str | None = None) -> str:
    """sha256 of one object (version): from its metadata, else by reading it (e.g. the first version, which
    Terraform uploaded without metadata)."""
    extra = {"VersionId": version_id} if version_id else {}
    head = s3.head_object(Bucket=bucket, Key=key, **extra)
    stored = head.get("Metadata", {}).get(SHA_META)
    if stored:
        return str(stored)
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key, **extra)["Body"]
    for block in iter(lambda: body.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def running_hashes(s3: Any, mwaa: Any, bucket: str, environment: str) -> dict[str, str | None]:
    """Top-level key -> sha256 of the object version MWAA runs (None: not pinned to that key/version)."""
    env = mwaa.get_environment(Name=environment)["Environment"]
    hashes: dict[str, str | None] = {}
    for key, (path_attr, version_attr) in TOP_LEVEL.items():
        version = env.get(version_attr)
        if env.get(path_attr) != key or not version:
            hashes[key] = None
            continue
        try:
            hashes[key] = object_sha256(s3, bucket, key, version)
        except ClientError as exc:  # the pinned version is gone (or never existed): treat as changed
            if exc.response.get("Error", {}).get("Code") not in _GONE:
                raise
            hashes[key] = None
    return hashes


def activate(s3: Any, bucket: str, bundle_id: str) -> tuple[dict[str, str], dict[str, str], int, int]:
    """Copy bundles/<id>/ to the live keys, delete live DAG files not in it.

    Returns (object version of each top-level key, its sha256, DAG files copied, stale DAG files deleted)."""
    prefix = _bundle_prefix(bundle_id)
    keys = _bundle_keys(s3, bucket, bundle_id)
    versions: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for key in keys:
        out = s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": f"{prefix}{key}"})
        if key in TOP_LEVEL:
            versions[key] = out.get("VersionId", "")
            hashes[key] = object_sha256(s3, bucket, f"{prefix}{key}")
    wanted = {k for k in keys if k.startswith(DAGS)}
    stale = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=DAGS)
        for obj in page.get("Contents", [])
        if obj["Key"] not in wanted
    ]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]]}
        )
    return versions, hashes, len(wanted), len(stale)


def update_environment(mwaa: Any, name: str, versions: dict[str, str]) -> None:
    """Pin requirements, plugins and startup script to the exact object versions just written."""
    kwargs: dict[str, str] = {"Name": name}
    for key, (path_attr, version_attr) in TOP_LEVEL.items():
        kwargs[path_attr] = key
        kwargs[version_attr] = versions[key]
    mwaa.update_environment(**kwargs)


def sync(
    s3: Any,
    mwaa: Any,
    *,
    bucket: str,
    environment: str,
    bundle_id: str,
    build_dir: Path | None,
    update: bool = True,
    force_update: bool = False,
) -> SyncResult:
    """Upload (unless restoring: build_dir None), activate, and update MWAA only if its runtime changed."""
    result = SyncResult(bundle_id=bundle_id)
    if build_dir is not None:
        files = bundle_files(build_dir)
        upload_bundle(s3, bucket, bundle_id, files)
        result.uploaded = len(files)
    # what MWAA runs, read before activation overwrites the live keys
    running = running_hashes(s3, mwaa, bucket, environment) if update and not force_update else {}
    result.versions, new_hashes, result.dag_files, result.deleted = activate(s3, bucket, bundle_id)
    result.changed = [k for k in TOP_LEVEL if force_update or running.get(k) != new_hashes[k]]
    if update and result.changed:
        update_environment(mwaa, environment, result.versions)
        result.updated = True
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, choices=names.ENVIRONMENTS)
    parser.add_argument("--bucket", required=True, help="the environment's MWAA artifacts bucket")
    parser.add_argument("--environment", help="MWAA environment name (default: names.mwaa_environment(env))")
    parser.add_argument("--bundle-id", default="local", help="id of the bundle to publish (CI: the git sha)")
    parser.add_argument("--restore", help="redeploy this earlier bundle id instead of uploading a new one")
    parser.add_argument("--build-dir", type=Path, help="built artifacts (default: airflow/build/mwaa/<env>)")
    parser.add_argument("--no-update", action="store_true", help="upload and activate only (no MWAA update)")
    parser.add_argument("--force-update", action="store_true", help="update MWAA even if nothing changed")
    args = parser.parse_args(argv)

    import boto3

    environment = args.environment or names.mwaa_environment(args.env)
    build_dir = None if args.restore else (args.build_dir or AIRFLOW_DIR / "build" / "mwaa" / args.env)
    result = sync(
        boto3.client("s3"),
        boto3.client("mwaa"),
        bucket=args.bucket,
        environment=environment,
        bundle_id=args.restore or args.bundle_id,
        build_dir=build_dir,
        update=not args.no_update,
        force_update=args.force_update,
    )
    if result.uploaded:
        print(f"uploaded {result.uploaded} files to s3://{args.bucket}/{_bundle_prefix(result.bundle_id)}")
    print(
        f"activated bundle {result.bundle_id}: {result.dag_files} DAG files, {result.deleted} stale removed"
    )
    if args.no_update:
        print("MWAA not updated (--no-update)")
    elif result.updated:
        print(f"{', '.join(result.changed)} changed: MWAA environment {environment} updating (10-30 minutes)")
    else:
        print(f"requirements, plugins and startup unchanged: MWAA environment {environment} not restarted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
