"""Publish one environment's MWAA artifacts and point the environment at them.

    python airflow/scripts/mwaa_sync.py --env dev --bucket <artifacts bucket> --environment sportscards-dev \
        [--bundle-id <git sha>] [--restore <older git sha>]

Layout in the (versioned) artifacts bucket:
    bundles/<bundle id>/{dags/..., requirements.txt, plugins.zip, startup.sh}
                                                   every deployed bundle, kept
    dags/...                                       what MWAA reads (mirrors one bundle)
    requirements.txt, plugins.zip, startup.sh      ditto; pinned by object version
`--restore <id>` redeploys an earlier bundle from bundles/<id>/ (rollback). AWS credentials come from the
caller (GitHub OIDC role in CI); nothing here reads or prints a secret.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

AIRFLOW_DIR = Path(__file__).resolve().parents[1]
TOP_LEVEL = ("requirements.txt", "plugins.zip", "startup.sh")


def bundle_files(root: Path) -> dict[str, Path]:
    """S3 key (relative to a bundle) -> local file, for a built artifacts directory."""
    files = {name: root / name for name in TOP_LEVEL}
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing or not (root / "dags").is_dir():
        raise SystemExit(
            f"{root} is not a built bundle (missing {missing or ['dags/']}): run make mwaa-package"
        )
    for path in sorted((root / "dags").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(root).as_posix()] = path
    return files


def _upload_bundle(s3: Any, bucket: str, bundle_id: str, files: dict[str, Path]) -> None:
    for key, path in files.items():
        s3.upload_file(str(path), bucket, f"bundles/{bundle_id}/{key}")


def _bundle_keys(s3: Any, bucket: str, bundle_id: str) -> list[str]:
    prefix = f"bundles/{bundle_id}/"
    keys = [
        obj["Key"][len(prefix) :]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]
    if not keys:
        raise SystemExit(f"no bundle {bundle_id!r} in s3://{bucket}/bundles/: nothing to restore")
    return keys


def activate(s3: Any, bucket: str, bundle_id: str) -> dict[str, str]:
    """Copy bundles/<id>/ to the live keys, delete live DAG files not in it; returns object versions."""
    keys = _bundle_keys(s3, bucket, bundle_id)
    versions: dict[str, str] = {}
    for key in keys:
        out = s3.copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": f"bundles/{bundle_id}/{key}"}
        )
        if key in TOP_LEVEL:
            versions[key] = out.get("VersionId", "")
    wanted = {k for k in keys if k.startswith("dags/")}
    stale = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="dags/")
        for obj in page.get("Contents", [])
        if obj["Key"] not in wanted
    ]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]]}
        )
    return versions


def update_environment(mwaa: Any, name: str, versions: dict[str, str]) -> None:
    """Pin requirements, plugins and startup script to the exact object versions just written."""
    mwaa.update_environment(
        Name=name,
        RequirementsS3Path="requirements.txt",
        RequirementsS3ObjectVersion=versions["requirements.txt"],
        PluginsS3Path="plugins.zip",
        PluginsS3ObjectVersion=versions["plugins.zip"],
        StartupScriptS3Path="startup.sh",
        StartupScriptS3ObjectVersion=versions["startup.sh"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, choices=("dev", "staging", "prod"))
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--environment", required=True, help="MWAA environment name")
    parser.add_argument("--bundle-id", default="local", help="id of the bundle to publish (CI: the git sha)")
    parser.add_argument("--restore", help="redeploy this earlier bundle id instead of uploading a new one")
    parser.add_argument("--no-update", action="store_true", help="upload and activate only (no MWAA update)")
    args = parser.parse_args(argv)

    import boto3

    s3 = boto3.client("s3")
    bundle_id = args.restore or args.bundle_id
    if not args.restore:
        files = bundle_files(AIRFLOW_DIR / "build" / "mwaa" / args.env)
        _upload_bundle(s3, args.bucket, bundle_id, files)
        print(f"uploaded {len(files)} files to s3://{args.bucket}/bundles/{bundle_id}/")
    versions = activate(s3, args.bucket, bundle_id)
    print(f"activated bundle {bundle_id}: {versions}")
    if not args.no_update:
        update_environment(boto3.client("mwaa"), args.environment, versions)
        print(f"MWAA environment {args.environment} updating (takes 10-30 minutes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
