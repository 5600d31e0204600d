"""dbt state of an environment: the manifest of its own last successful deploy, in its own artifacts bucket.

    dbt_state.py fetch   --bucket <artifacts bucket> --dest <dir>/manifest.json   exit 0 found, 3 none yet
    dbt_state.py publish --bucket <artifacts bucket> --src dbt/target/manifest.json

Each environment lives in its own AWS account, so deferring to prod's manifest would need cross-account reads
into production; instead every deploy defers to what that same environment last built (key
`names.DBT_STATE_KEY`) and publishes its manifest after a successful build. Only "this object does not exist"
means "build everything"; any other failure (access denied, no such bucket, throttling, network) is an error:
treating it as "no manifest" would silently rebuild every model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cardinfra.names import names

FOUND, ABSENT = 0, 3
# Codes S3 answers when the key (not the bucket) is missing. HEAD answers carry no code, only the status.
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}


def classify(error_code: str, status: int) -> str:
    """`absent` for a missing object, `error` for everything else (NoSuchBucket is a 404 too). Pure."""
    if error_code == "NoSuchBucket":
        return "error"
    if error_code in _NOT_FOUND or (status == 404 and not error_code):
        return "absent"
    return "error"


def fetch(s3: Any, bucket: str, dest: Path) -> int:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        body = s3.get_object(Bucket=bucket, Key=names.DBT_STATE_KEY)["Body"].read()
    except ClientError as exc:
        err = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        where = f"s3://{bucket}/{names.DBT_STATE_KEY}"
        if classify(str(err.get("Code", "")), status) == "absent":
            print(f"dbt_state: no manifest at {where} yet (first deploy of this environment): full build")
            return ABSENT
        raise SystemExit(
            f"dbt_state: cannot read {where}: {err.get('Code')} ({status}). Not treated as 'no manifest': "
            "check the deploy role's s3:GetObject/s3:ListBucket on the artifacts bucket and the bucket name"
        ) from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(body)
    print(f"dbt_state: deferring to the manifest of the last successful deploy ({len(body)} bytes)")
    return FOUND


def publish(s3: Any, bucket: str, src: Path) -> None:
    s3.put_object(Bucket=bucket, Key=names.DBT_STATE_KEY, Body=src.read_bytes())
    print(f"dbt_state: published {src} to s3://{bucket}/{names.DBT_STATE_KEY}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch")
    f.add_argument("--bucket", required=True)
    f.add_argument("--dest", type=Path, required=True)
    p = sub.add_parser("publish")
    p.add_argument("--bucket", required=True)
    p.add_argument("--src", type=Path, required=True)
    args = parser.parse_args(argv)
    import boto3  # noqa: PLC0415

    s3 = boto3.client("s3")
    if args.cmd == "fetch":
        return fetch(s3, args.bucket, args.dest)
    publish(s3, args.bucket, args.src)
    return 0


if __name__ == "__main__":
    sys.exit(main())
