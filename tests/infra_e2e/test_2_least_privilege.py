"""Least privilege proven by execution: the platform's real code under the roles Terraform created, with
moto's IAM enforcement on (every request signed by a known key and allowed by the caller's policies).

- ingestion Lambda role: `cardpipe.ingest.lambda_handler.handler`, with the environment the Lambda function
  holds in the emulator (so the variable names infra sets are the ones cardpipe reads), writes live bronze;
- MWAA execution role: the backfill as the DAG runs it (plan, chunks, control record) from a real PostgreSQL
  journal, with the settings the stack hands MWAA (output `mwaa_settings`, mapped by the DAGs' own
  sportscards_lib.settings), then the load's S3 reads (`cardpipe.load.run_load`, DuckDB as the warehouse);
- Snowflake storage-integration role: assumed through its trust policy (external id) by a stand-in for
  Snowflake's IAM user, then what Snowflake's stage does: list and read the bronze event objects.
Each role is also shown things it must not do, denied with AccessDenied.

What moto's enforcement evaluates is written up in docs/infra.md (infra-e2e): S3 and SQS requests are checked
against real resource ARNs; identity-policy Condition blocks are not evaluated (s3:prefix, kms:ViaService
pass); SSE-KMS is not checked against KMS permissions; trust policies are evaluated only for callers of the
role's own account with AWS principals (StringEquals sts:ExternalId included, a missing external id passes).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import orjson
import psycopg2
import pytest
from botocore.exceptions import ClientError
from cardpipe.config import load_settings
from cardpipe.contracts import names
from cardpipe.generator import Rates, generate
from cardpipe.ingest import (
    Checkpoint,
    Chunk,
    Window,
    backfill_chunk,
    control_record_key,
    finish_backfill,
    lambda_handler,
    plan_backfill,
)
from cardpipe.load import run_load
from cardpipe.sources.journal import ensure_schema
from cardpipe.sources.journal_writer import write_events

from . import emulator, tfstack
from .conftest import SUMMARY
from .deployment import ENV, Deployment
from .emulator import Credentials, error_code

sys.path.insert(0, str(tfstack.REPO / "airflow" / "dags"))
from sportscards_lib.settings import apply_mwaa_options, option_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
# Settings the test sets besides what infra provides: where the emulator is and the journal's DSN (on MWAA the
# latter comes from the Secrets Manager connection names.CONN_JOURNAL).
SCRUBBED = (
    "AWS_",
    "BRONZE_",
    "POSTGRES_",
    "RABBITMQ_",
    "SNOWFLAKE_",
    "WAREHOUSE_",
    "BATCH_",
    "CARDPIPE_",
    "AIRFLOW__",
)
LIVE_EVENTS = names.source_prefix(names.EVENTS_PREFIX, "live")
LIVE_QUARANTINE = names.source_prefix(names.QUARANTINE_PREFIX, "live")
BACKFILL_EVENTS = names.source_prefix(names.EVENTS_PREFIX, "backfill")
BACKFILL_QUARANTINE = names.source_prefix(names.QUARANTINE_PREFIX, "backfill")


@dataclass(frozen=True)
class Roles:
    raw_bucket: str
    artifacts_bucket: str
    lambda_env: dict[str, str]
    lambda_role_arn: str
    lambda_creds: Credentials
    mwaa_role_arn: str
    mwaa_creds: Credentials
    mwaa_settings: dict[str, str]
    snowflake_role_arn: str
    operator: Credentials


# ------------------------------------------------------------------------------------------------ helpers


def _role_of(address_expr: str, state: dict[str, Any]) -> str:
    """ARN of the role a `${aws_iam_role.X.arn}` expression names, from the applied state."""
    ref = address_expr.removeprefix("${").removesuffix(".arn}")
    assert ref.startswith("aws_iam_role."), f"not a role reference: {address_expr!r}"
    return str(state[ref]["arn"])


@pytest.fixture(scope="module")
def roles(e2e: Deployment) -> Roles:
    apply = e2e.step("apply")
    if apply.returncode != 0:
        pytest.fail(f"terraform apply failed, nothing to run the code against:\n{apply.explain()}")
    state = e2e.state()
    outputs = e2e.outputs()
    moto = e2e.moto
    functions = [v for a, v in state.items() if a.startswith("aws_lambda_function.")]
    assert len(functions) == 1, sorted(state)
    lambda_config = moto.client("lambda").get_function_configuration(
        FunctionName=functions[0]["function_name"]
    )

    # MWAA is not created on the emulator: its role is the one the (excluded) environment names.
    mwaa = [
        body
        for rtype, items in e2e.copy.original["resource"].items()
        if rtype == "aws_mwaa_environment"
        for body in items.values()
    ]
    assert len(mwaa) == 1
    mwaa_role_arn = _role_of(mwaa[0]["execution_role_arn"], state)
    if "mwaa_settings" in outputs:
        settings = {k: str(v) for k, v in outputs["mwaa_settings"].items()}
    else:
        SUMMARY["notes"].append("TODO: no `mwaa_settings` output; the Lambda environment stood in for MWAA's")
        settings = dict(lambda_config["Environment"]["Variables"])

    operator = emulator.create_operator(moto)
    # Lambda and MWAA assume their roles as AWS services; moto cannot evaluate a Service principal (its
    # _check_principal fails with TypeError, HTTP 500), so these sessions are taken before enforcement starts.
    lambda_role_arn = lambda_config["Role"]
    return Roles(
        raw_bucket=names.bucket_name(ENV, "raw", emulator.ACCOUNT_ID),
        artifacts_bucket=names.bucket_name(ENV, "mwaa-artifacts", emulator.ACCOUNT_ID),
        lambda_env=dict(lambda_config["Environment"]["Variables"]),
        lambda_role_arn=lambda_role_arn,
        lambda_creds=emulator.assume(moto, operator, lambda_role_arn, "e2e-ingest-lambda"),
        mwaa_role_arn=mwaa_role_arn,
        mwaa_creds=emulator.assume(moto, operator, mwaa_role_arn, "e2e-mwaa-worker"),
        mwaa_settings=settings,
        snowflake_role_arn=f"arn:aws:iam::{emulator.ACCOUNT_ID}:role/{names.snowflake_storage_role(ENV)}",
        operator=operator,
    )


@contextmanager
def running_as(e2e: Deployment, creds: Credentials, env: dict[str, str], cwd: Path) -> Iterator[None]:
    """The process environment of the code under test: only these variables, these credentials, no .env."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(SCRUBBED):
                mp.delenv(key)
        for key, value in {
            **env,
            **creds.environ(),
            "AWS_DEFAULT_REGION": e2e.moto.region,
            "AWS_CONFIG_FILE": str(cwd / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            mp.setenv(key, value)
        mp.setattr(boto3, "DEFAULT_SESSION", None)  # botocore caches the first credentials it resolved
        mp.setattr(lambda_handler, "_stores", {})  # the handler keeps one client per warm container
        mp.chdir(cwd)
        with e2e.moto.iam_enforced():
            yield


def denied(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return error_code(exc.value)


def bronze_lines(e2e: Deployment, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every line under a prefix, read with the emulator's admin (outside enforcement)."""
    s3 = e2e.moto.client("s3")
    lines: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            lines.extend(orjson.loads(line) for line in body.splitlines())
    return lines


def rmq_event(bodies: list[bytes]) -> dict[str, Any]:
    """An aws:rmq event as the Amazon MQ event source mapping delivers it (tests/pipeline/test_lambda.py)."""
    return {
        "eventSource": "aws:rmq",
        "eventSourceArn": f"arn:aws:mq:us-east-1:{emulator.ACCOUNT_ID}:broker:sportscards:b-0000",
        "rmqMessagesByQueue": {
            f"{names.QUEUE}::{names.VHOST}": [
                {
                    "basicProperties": {"contentType": "application/x-protobuf", "deliveryMode": 2},
                    "redelivered": False,
                    "data": base64.b64encode(body).decode(),
                }
                for body in bodies
            ]
        },
    }


class Context:
    aws_request_id = "e2e00000-0000-4000-8000-000000000001"


# -------------------------------------------------------------------------------------------- enforcement


def test_enforcement_checks_the_caller(e2e: Deployment, roles: Roles, tmp_path: Path) -> None:
    """Enforcement is really on: the operator (sts:AssumeRole only) and an unknown key are refused."""
    with running_as(e2e, roles.operator, {}, tmp_path):
        s3 = e2e.moto.client("s3", roles.operator)
        assert denied(s3.list_objects_v2, Bucket=roles.raw_bucket) == "AccessDenied"
        unknown = e2e.moto.client("s3", Credentials("AKIAE2EUNKNOWN000000", "nope"))
        assert denied(unknown.list_objects_v2, Bucket=roles.raw_bucket) == "InvalidAccessKeyId"


# ---------------------------------------------------------------------------------------- ingestion Lambda


def live_bodies() -> tuple[list[GeneratedBody], list[GeneratedBody]]:
    events = list(generate("live", 80, seed=811, rates=Rates(duplicate=0, late=0, malformed=0.1)))
    valid = [GeneratedBody(e.event_id, e.body) for e in events if not e.is_malformed]
    bad = [GeneratedBody(e.event_id, e.body) for e in events if e.is_malformed]
    assert valid and bad
    return valid, bad


@dataclass(frozen=True)
class GeneratedBody:
    event_id: str | None
    body: bytes


def test_lambda_role_lands_live_bronze_with_the_functions_own_environment(
    e2e: Deployment, roles: Roles, tmp_path: Path
) -> None:
    assert roles.lambda_env[names.ENV_BRONZE_S3_BUCKET] == roles.raw_bucket
    valid, bad = live_bodies()
    env = {**roles.lambda_env, "BRONZE_S3_ENDPOINT_URL": e2e.moto.url}
    with running_as(e2e, roles.lambda_creds, env, tmp_path):
        result = lambda_handler.handler(rmq_event([b.body for b in valid + bad]), Context())
    assert (result["messages"], result["events"], result["quarantined"]) == (
        len(valid) + len(bad),
        len(valid),
        len(bad),
    )
    prefix = roles.lambda_env.get(names.ENV_BRONZE_S3_PREFIX, "").strip("/")
    root = f"{prefix}/" if prefix else ""
    lines = bronze_lines(e2e, roles.raw_bucket, root + LIVE_EVENTS)
    assert sorted(line["event_id"] for line in lines) == sorted(str(b.event_id) for b in valid)
    quarantined = bronze_lines(e2e, roles.raw_bucket, root + LIVE_QUARANTINE)
    assert len(quarantined) == len(bad)
    assert all(line["reason"] for line in quarantined)


def test_lambda_role_cannot_read_bronze_or_write_outside_live(
    e2e: Deployment, roles: Roles, tmp_path: Path
) -> None:
    written = e2e.moto.client("s3").list_objects_v2(Bucket=roles.raw_bucket, Prefix=LIVE_EVENTS)["Contents"][
        0
    ]["Key"]
    with running_as(e2e, roles.lambda_creds, {}, tmp_path):
        s3 = e2e.moto.client("s3", roles.lambda_creds)
        put = {"Bucket": roles.raw_bucket, "Body": b"{}\n"}
        assert denied(s3.get_object, Bucket=roles.raw_bucket, Key=written) == "AccessDenied"
        assert denied(s3.delete_object, Bucket=roles.raw_bucket, Key=written) == "AccessDenied"
        assert denied(s3.put_object, Key=f"{BACKFILL_EVENTS}x.ndjson.gz", **put) == "AccessDenied"
        assert denied(s3.put_object, Key=f"{names.CONTROL_PREFIX}x.ndjson.gz", **put) == "AccessDenied"
        assert denied(s3.put_object, Key="elsewhere/x", **put) == "AccessDenied"


# ------------------------------------------------------------------------------------------------- MWAA


def test_mwaa_settings_output_is_what_the_mwaa_environment_gets(e2e: Deployment, roles: Roles) -> None:
    """The output the tests (and tf.py) read carries exactly MWAA's `sportscards.*` configuration options."""
    (mwaa,) = e2e.copy.original["resource"]["aws_mwaa_environment"].values()
    section = names.MWAA_SETTINGS_SECTION + "."
    options = {
        k: v for k, v in mwaa.get("airflow_configuration_options", {}).items() if k.startswith(section)
    }
    assert {names.mwaa_option(k) for k in roles.mwaa_settings} == set(options)
    literal = {k: v for k, v in options.items() if "${" not in str(v)}
    assert {k: roles.mwaa_settings[k.removeprefix(section).upper()] for k in literal} == literal


@pytest.fixture(scope="module")
def journal() -> Iterator[tuple[str, int]]:
    """A private PostgreSQL database with a seeded event journal: (DSN, rows)."""
    db = f"e2e_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    dsn = f"postgresql://postgres@127.0.0.1:5432/{db}"
    try:
        conn = psycopg2.connect(dsn)
        ensure_schema(conn, "journal")
        rows = write_events(conn, "journal", generate("history", 600, seed=812, rates=Rates(malformed=0.02)))
        conn.close()
        yield dsn, rows
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


def mwaa_environ(e2e: Deployment, roles: Roles, **extra: str) -> dict[str, str]:
    """A task's environment on MWAA: the options as AIRFLOW__SPORTSCARDS__*, mapped by the DAGs' own code."""
    environ = {option_env(name): value for name, value in roles.mwaa_settings.items()}
    applied = apply_mwaa_options(environ)
    assert set(applied) == set(roles.mwaa_settings)
    return {**environ, "BRONZE_S3_ENDPOINT_URL": e2e.moto.url, **extra}


def test_mwaa_role_runs_the_backfill(
    e2e: Deployment, roles: Roles, journal: tuple[str, int], tmp_path: Path
) -> None:
    dsn, rows = journal
    with running_as(e2e, roles.mwaa_creds, mwaa_environ(e2e, roles, POSTGRES_DSN=dsn), tmp_path):
        settings = load_settings()
        assert (settings.bronze.backend, settings.bronze.s3_bucket) == ("s3", roles.raw_bucket)
        chunks = [
            c.to_dict() for c in plan_backfill(settings, None, None, 250)
        ]  # XCom round trip as in the DAG
        results = [backfill_chunk(settings, Chunk.from_dict(c)) for c in chunks]
        lines = finish_backfill(settings, Window(), results=results).lines
    assert len(chunks) == 3
    assert sum(r.rows for r in results) == rows == sum(line["journal_rows"] for line in lines)
    s3 = e2e.moto.client("s3")
    checkpoint = json.loads(s3.get_object(Bucket=roles.raw_bucket, Key=Checkpoint.key("all"))["Body"].read())
    assert checkpoint["complete"] is True
    control = gzip.decompress(
        s3.get_object(Bucket=roles.raw_bucket, Key=control_record_key("all"))["Body"].read()
    )
    assert len(control.splitlines()) == len(lines)
    events = bronze_lines(e2e, roles.raw_bucket, BACKFILL_EVENTS)
    quarantined = bronze_lines(e2e, roles.raw_bucket, BACKFILL_QUARANTINE)
    assert len(events) == sum(r.events for r in results) > 0
    assert len(quarantined) == sum(sum(r.quarantined.values()) for r in results) > 0


def test_mwaa_role_loads_bronze_from_s3(e2e: Deployment, roles: Roles, tmp_path: Path) -> None:
    """The load's S3 reads (list, get each bronze file) as the MWAA role; DuckDB stands in for Snowflake."""
    expected = {
        "events": len(bronze_lines(e2e, roles.raw_bucket, names.EVENTS_PREFIX)),
        "quarantine": len(bronze_lines(e2e, roles.raw_bucket, names.QUARANTINE_PREFIX)),
        "journal_counts": len(bronze_lines(e2e, roles.raw_bucket, names.JOURNAL_COUNTS_PREFIX)),
    }
    assert expected["events"] > 0
    env = mwaa_environ(
        e2e, roles, WAREHOUSE_KIND="duckdb", WAREHOUSE_DUCKDB_PATH=str(tmp_path / "warehouse.duckdb")
    )
    with running_as(e2e, roles.mwaa_creds, env, tmp_path):
        result = run_load(load_settings())
    assert result.failed == {}
    assert result.rows_loaded == expected


def test_mwaa_role_cannot_write_live_delete_or_change_dags(
    e2e: Deployment, roles: Roles, tmp_path: Path
) -> None:
    some = e2e.moto.client("s3").list_objects_v2(Bucket=roles.raw_bucket, Prefix=names.EVENTS_PREFIX)[
        "Contents"
    ]
    with running_as(e2e, roles.mwaa_creds, {}, tmp_path):
        s3 = e2e.moto.client("s3", roles.mwaa_creds)
        put = {"Body": b"{}\n"}
        assert (
            denied(s3.put_object, Bucket=roles.raw_bucket, Key=f"{LIVE_EVENTS}x.ndjson.gz", **put)
            == "AccessDenied"
        )
        assert denied(s3.delete_object, Bucket=roles.raw_bucket, Key=some[0]["Key"]) == "AccessDenied"
        dag = f"{names.MWAA_DAGS_PREFIX}evil.py"
        assert denied(s3.put_object, Bucket=roles.artifacts_bucket, Key=dag, **put) == "AccessDenied"


# -------------------------------------------------------------------------------------------- Snowflake


def test_snowflake_role_is_assumed_through_its_trust_and_reads_bronze_events(
    e2e: Deployment, roles: Roles, tmp_path: Path
) -> None:
    snowflake_user = e2e.snowflake_creds
    assert snowflake_user is not None, "the stack reads no Snowflake IAM user ARN from the Snowflake stack"
    trust = e2e.moto.client("iam").get_role(RoleName=roles.snowflake_role_arn.rsplit("/", 1)[1])["Role"]
    principals = [s["Principal"]["AWS"] for s in trust["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == [e2e.snowflake_outputs["storage_integration_iam_user_arn"]]
    expected = bronze_lines(e2e, roles.raw_bucket, names.EVENTS_PREFIX)
    with running_as(e2e, snowflake_user, {}, tmp_path):
        wrong = {"RoleArn": roles.snowflake_role_arn, "RoleSessionName": "snowflake", "ExternalId": "not-it"}
        assert denied(e2e.moto.client("sts", snowflake_user).assume_role, **wrong) == "AccessDenied"
        creds = emulator.assume(
            e2e.moto,
            snowflake_user,
            roles.snowflake_role_arn,
            "snowflake",
            ExternalId=names.snowflake_external_id(ENV),
        )
        s3 = e2e.moto.client("s3", creds)
        lines: list[dict[str, Any]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=roles.raw_bucket, Prefix=names.EVENTS_PREFIX
        ):
            for item in page["Contents"]:
                body = s3.get_object(Bucket=roles.raw_bucket, Key=item["Key"])["Body"].read()
                lines.extend(orjson.loads(line) for line in gzip.decompress(body).splitlines())
        put = {"Bucket": roles.raw_bucket, "Key": f"{LIVE_EVENTS}from-snowflake.ndjson.gz", "Body": b"{}\n"}
        assert denied(s3.put_object, **put) == "AccessDenied"
        some = item["Key"]
        assert denied(s3.delete_object, Bucket=roles.raw_bucket, Key=some) == "AccessDenied"
        package = {"Bucket": roles.artifacts_bucket, "Key": names.LAMBDA_PACKAGE_KEY}
        assert denied(s3.get_object, **package) == "AccessDenied"
    assert sorted(line["event_id"] for line in lines) == sorted(line["event_id"] for line in expected)
