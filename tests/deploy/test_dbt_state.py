"""dbt deferral state (infra/scripts/dbt_state.py, used by airflow/scripts/ci_dbt_build.sh) against moto:
only a missing manifest means "full build"; access denied or a missing bucket fail the deploy."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cardpipe.contracts import names
from conftest import INFRA_PY, REPO, aws_env, needs_infra_venv, start_moto

pytestmark = needs_infra_venv

BUCKET = names.bucket_name("dev", "mwaa-artifacts", "111111111111")


def _s3(url: str, **creds: str) -> Any:
    creds = creds or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", **creds)  # type: ignore[call-overload]


def fetch(url: str, bucket: str, dest: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INFRA_PY), "infra/scripts/dbt_state.py", "fetch", "--bucket", bucket, "--dest", str(dest)],
        cwd=REPO,
        env=aws_env(url, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def bucket(moto_url: str) -> Iterator[str]:
    s3 = _s3(moto_url)
    s3.create_bucket(Bucket=BUCKET)
    yield BUCKET
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def test_published_manifest_is_fetched_from_the_environments_own_bucket(
    moto_url: str, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "manifest.json"
    src.write_text(json.dumps({"metadata": {"dbt_version": "1.11"}}))
    publish = subprocess.run(
        [str(INFRA_PY), "infra/scripts/dbt_state.py", "publish", "--bucket", bucket, "--src", str(src)],
        cwd=REPO,
        env=aws_env(moto_url),
        capture_output=True,
        text=True,
        check=False,
    )
    assert publish.returncode == 0, publish.stderr
    assert _s3(moto_url).get_object(Bucket=bucket, Key=names.DBT_STATE_KEY)["Body"].read() == src.read_bytes()
    proc = fetch(moto_url, bucket, tmp_path / "state" / "manifest.json")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "state" / "manifest.json").read_bytes() == src.read_bytes()


def test_no_manifest_yet_means_full_build(moto_url: str, bucket: str, tmp_path: Path) -> None:
    proc = fetch(moto_url, bucket, tmp_path / "manifest.json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "full build" in proc.stdout
    assert not (tmp_path / "manifest.json").exists()


def test_a_missing_bucket_is_an_error_not_a_missing_manifest(moto_url: str, tmp_path: Path) -> None:
    proc = fetch(moto_url, "sportscards-dev-mwaa-artifacts-000000000000", tmp_path / "manifest.json")
    assert proc.returncode not in (0, 3)
    assert "NoSuchBucket" in proc.stderr and "Not treated as 'no manifest'" in proc.stderr


def test_access_denied_is_an_error_not_a_missing_manifest(tmp_path: Path) -> None:
    """moto with IAM enforcement after the set-up calls: a user who may list but not read the bucket."""
    setup_calls = 5  # create_user, put_user_policy, create_access_key, create_bucket, put_object
    proc, url = start_moto(INITIAL_NO_AUTH_ACTION_COUNT=str(setup_calls))
    try:
        iam = boto3.client(
            "iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
        )
        iam.create_user(UserName="deployer")
        iam.put_user_policy(
            UserName="deployer",
            PolicyName="list-only",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="deployer")["AccessKey"]
        admin = _s3(url)
        admin.create_bucket(Bucket=BUCKET)
        admin.put_object(Bucket=BUCKET, Key=names.DBT_STATE_KEY, Body=b"{}")
        denied = fetch(
            url,
            BUCKET,
            tmp_path / "manifest.json",
            AWS_ACCESS_KEY_ID=key["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
        )
        assert denied.returncode not in (0, 3), denied.stdout
        assert "AccessDenied" in denied.stderr and "Not treated as 'no manifest'" in denied.stderr
        assert not (tmp_path / "manifest.json").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ci_dbt_build_stops_before_dbt_when_the_manifest_cannot_be_read(
    moto_url: str, tmp_path: Path
) -> None:
    """The old script ran `aws s3 cp ... || full build`: any failure became a full rebuild of every model."""
    env = aws_env(
        moto_url,
        DBT_TARGET="dev",
        DBT_STATE_BUCKET="sportscards-dev-mwaa-artifacts-000000000000",
        SNOWFLAKE_PRIVATE_KEY="not-a-real-key",
    )
    env.pop("SNOWFLAKE_PRIVATE_KEY_PATH", None)
    proc = subprocess.run(
        ["bash", "airflow/scripts/ci_dbt_build.sh"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode != 0
    assert "NoSuchBucket" in proc.stdout and "not building" in proc.stdout
    assert "Running with dbt" not in proc.stdout  # dbt never started
    assert "not-a-real-key" not in proc.stdout


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchKey", 404, "absent"),
        ("", 404, "absent"),
        ("NoSuchBucket", 404, "error"),
        ("AccessDenied", 403, "error"),
        ("SlowDown", 503, "error"),
        ("InvalidAccessKeyId", 403, "error"),
    ],
)
def test_classification(code: str, status: int, expected: str) -> None:
    spec = importlib.util.spec_from_file_location("dbt_state", REPO / "infra/scripts/dbt_state.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.classify(code, status) == expected
