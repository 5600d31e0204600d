"""Security properties of the AWS stack, asserted on the synthesized JSON of every environment."""

from __future__ import annotations

import json
from typing import Any

import cdktn
from conftest import Synth

DATA_SERVICES = ("s3:", "kms:", "sqs:", "secretsmanager:", "mq:", "logs:", "airflow:")


def _bucket_ids(s: Synth) -> dict[str, str]:
    """Bucket resource id -> bucket name."""
    return {rid: r["bucket"] for rid, r in s.resources("aws", "aws_s3_bucket").items()}


def _ref(rid: str) -> str:
    return f"${{aws_s3_bucket.{rid}.id}}"


def _by_bucket(s: Synth, rtype: str) -> dict[str, dict[str, Any]]:
    return {r["bucket"]: r for r in s.resources("aws", rtype).values()}


def test_four_buckets_named_per_env(synth: Synth) -> None:
    names = sorted(_bucket_ids(synth).values())
    cfg = synth.cfg
    assert names == sorted(cfg.bucket(k) for k in ("access-logs", "raw", "quarantine", "mwaa-artifacts"))


def test_every_bucket_blocks_public_access(synth: Synth) -> None:
    blocks = _by_bucket(synth, "aws_s3_bucket_public_access_block")
    for rid in _bucket_ids(synth):
        for flag in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ):
            assert blocks[_ref(rid)][flag] is True, (rid, flag)
    assert cdktn.Testing.to_have_resource_with_properties(
        synth.aws, "aws_s3_bucket_public_access_block", {"restrict_public_buckets": True}
    )


def test_every_bucket_is_encrypted_versioned_and_tls_only(synth: Synth) -> None:
    sse = _by_bucket(synth, "aws_s3_bucket_server_side_encryption_configuration")
    versioning = _by_bucket(synth, "aws_s3_bucket_versioning")
    policies = _by_bucket(synth, "aws_s3_bucket_policy")
    for rid, name in _bucket_ids(synth).items():
        default = sse[_ref(rid)]["rule"][0]["apply_server_side_encryption_by_default"]
        if "access-logs" in name:  # S3 server access logging can only deliver to SSE-S3 buckets
            assert default == {"sse_algorithm": "AES256"}
        else:
            assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.kms.arn}"}
        assert versioning[_ref(rid)]["versioning_configuration"] == {"status": "Enabled"}
        statements = json.loads(policies[_ref(rid)]["policy"])["Statement"]
        deny = next(st for st in statements if st.get("Sid") == "DenyInsecureTransport")
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == [f"${{aws_s3_bucket.{rid}.arn}}", f"${{aws_s3_bucket.{rid}.arn}}/*"]


def test_lifecycle_tiers_raw_and_expires_noncurrent(synth: Synth) -> None:
    cfg = synth.cfg
    lifecycles = _by_bucket(synth, "aws_s3_bucket_lifecycle_configuration")
    for rid, name in _bucket_ids(synth).items():
        rule = lifecycles[_ref(rid)]["rule"][0]
        assert rule["status"] == "Enabled"
        assert rule["noncurrent_version_expiration"] == [
            {"noncurrent_days": cfg.noncurrent_version_expiry_days}
        ]
        assert rule["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 7}]
        if name == cfg.bucket("raw"):
            assert rule["transition"] == [
                {"days": cfg.raw_to_ia_days, "storage_class": "STANDARD_IA"},
                {"days": cfg.raw_to_glacier_days, "storage_class": "GLACIER_IR"},
            ]


def test_access_logging_on_every_data_bucket(synth: Synth) -> None:
    logging = _by_bucket(synth, "aws_s3_bucket_logging")
    ids = _bucket_ids(synth)
    log_rid = next(rid for rid, name in ids.items() if "access-logs" in name)
    for rid in ids:
        if rid == log_rid:
            assert _ref(rid) not in logging  # a log bucket must not log into itself
            continue
        assert logging[_ref(rid)]["target_bucket"] == _ref(log_rid)
    delivery = json.loads(_by_bucket(synth, "aws_s3_bucket_policy")[_ref(log_rid)]["policy"])["Statement"][0]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"] == {"StringEquals": {"aws:SourceAccount": synth.cfg.aws_account_id}}


def test_raw_bucket_notifies_snowpipe_queue(synth: Synth) -> None:
    (notification,) = synth.resources("aws", "aws_s3_bucket_notification").values()
    raw_rid = next(rid for rid, n in _bucket_ids(synth).items() if n == synth.cfg.bucket("raw"))
    assert notification["bucket"] == _ref(raw_rid)
    (queue,) = notification["queue"]
    assert queue["queue_arn"] == "${data.terraform_remote_state.snowflake-state.outputs.pipe_sqs_arn}"
    assert queue["events"] == ["s3:ObjectCreated:*"]
    assert queue["filter_prefix"] == "raw/events/"
    assert queue["filter_suffix"] == ".ndjson.gz"


def test_kms_key_rotates_with_explicit_policy(synth: Synth) -> None:
    (key,) = synth.resources("aws", "aws_kms_key").values()
    assert key["enable_key_rotation"] is True
    policy = json.loads(key["policy"])
    admin = next(st for st in policy["Statement"] if st["Sid"] == "AccountAdmin")
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{synth.cfg.aws_account_id}:root"}
    services = next(st for st in policy["Statement"] if st["Sid"] == "ServicesUseKey")
    assert "kms:*" not in services["Action"]
    assert services["Condition"] == {"StringEquals": {"aws:SourceAccount": synth.cfg.aws_account_id}}


def test_broker_is_private_logged_with_maintenance_window(synth: Synth) -> None:
    assert cdktn.Testing.to_have_resource_with_properties(
        synth.aws,
        "aws_mq_broker",
        {
            "engine_type": "RabbitMQ",
            "publicly_accessible": False,
            "logs": {"general": True},
            "maintenance_window_start_time": {
                "day_of_week": "SUNDAY",
                "time_of_day": "04:00",
                "time_zone": "UTC",
            },
            "host_instance_type": synth.cfg.mq_instance_type,
        },
    )
    (sg,) = [
        r for r in synth.resources("aws", "aws_security_group").values() if r["name"].endswith("-broker")
    ]
    for rule in sg["ingress"]:
        assert rule["cidr_blocks"] == [synth.cfg.network.vpc_cidr]


def test_broker_credentials_only_in_secrets_manager(synth: Synth) -> None:
    (broker,) = synth.resources("aws", "aws_mq_broker").values()
    (user,) = broker["user"]
    assert user["password"] == "${data.aws_secretsmanager_random_password.broker-password.random_password}"
    (secret,) = synth.resources("aws", "aws_secretsmanager_secret").values()
    assert secret["kms_key_id"] == "${aws_kms_key.kms.arn}"
    (version,) = synth.resources("aws", "aws_secretsmanager_secret_version").values()
    assert "secret_string" not in version  # write-only: the value is not kept in the secret version's state
    assert "random_password" in version["secret_string_wo"]
    outputs = json.dumps(synth.aws_json.get("output", {}))
    assert "password" not in outputs and "secret" not in outputs


def _statements(policy: str) -> list[dict[str, Any]]:
    return json.loads(policy)["Statement"]  # type: ignore[no-any-return]


def test_iam_data_actions_never_on_star(synth: Synth) -> None:
    policies = synth.resources("aws", "aws_iam_role_policy")
    assert len(policies) == 3  # MWAA execution, ingestion Lambda, Snowflake storage integration
    for rid, pol in policies.items():
        for st in _statements(pol["policy"]):
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), (rid, st)
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            if any(a.startswith(DATA_SERVICES) for a in actions):
                assert "*" not in resources, (rid, st)


def test_snowflake_role_trusts_snowflake_user_with_external_id(synth: Synth) -> None:
    roles = {r["name"]: r for r in synth.resources("aws", "aws_iam_role").values()}
    role = roles[synth.cfg.snowflake_role_name]
    (trust,) = _statements(role["assume_role_policy"])
    assert trust["Principal"] == {
        "AWS": "${data.terraform_remote_state.snowflake-state.outputs.storage_integration_iam_user_arn}"
    }
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": synth.cfg.snowflake_external_id}}
    policy = next(
        p
        for p in synth.resources("aws", "aws_iam_role_policy").values()
        if "snowflake-storage-role" in p["role"]
    )
    actions = {a for st in _statements(policy["policy"]) for a in st["Action"]}
    assert actions == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "kms:Decrypt",
    }


def test_ingest_lambda_handler_dlq_vpc_and_mq_mapping(synth: Synth) -> None:
    (fn,) = synth.resources("aws", "aws_lambda_function").values()
    assert fn["handler"] == "cardpipe.ingest.lambda_handler.handler"
    assert fn["runtime"] == "python3.12"
    assert fn["architectures"] == ["x86_64"]
    assert fn["s3_key"] == "${aws_s3_object.ingest-package.key}"
    (package,) = [
        o for o in synth.resources("aws", "aws_s3_object").values() if o["key"].startswith("lambda/")
    ]
    assert package["source"].endswith("/build/lambda/cardpipe-ingest.zip")
    assert fn["source_code_hash"].startswith("${filebase64sha256(")
    assert fn["dead_letter_config"] == {"target_arn": "${aws_sqs_queue.ingest-dlq.arn}"}
    assert fn["vpc_config"]["subnet_ids"] == list(synth.cfg.network.private_subnet_ids)
    assert fn["memory_size"] == synth.cfg.lambda_memory_mb
    env = fn["environment"]["variables"]
    assert env["BRONZE_BACKEND"] == "s3" and env["BRONZE_S3_BUCKET"].startswith("${aws_s3_bucket.raw_bucket")
    (dlq,) = synth.resources("aws", "aws_sqs_queue").values()
    assert dlq["kms_master_key_id"] == "${aws_kms_key.kms.arn}"
    (mapping,) = synth.resources("aws", "aws_lambda_event_source_mapping").values()
    assert mapping["event_source_arn"] == "${aws_mq_broker.broker.arn}"
    assert mapping["queues"] == ["cardpipe.events"]
    assert {"type": "BASIC_AUTH", "uri": "${aws_secretsmanager_secret.broker-secret.arn}"} in mapping[
        "source_access_configuration"
    ]
    (logs,) = synth.resources("aws", "aws_cloudwatch_log_group").values()
    assert logs["retention_in_days"] == synth.cfg.log_retention_days
    assert logs["kms_key_id"] == "${aws_kms_key.kms.arn}"


def test_mwaa_private_all_logs_kms_and_artifacts(synth: Synth) -> None:
    (mwaa,) = synth.resources("aws", "aws_mwaa_environment").values()
    assert mwaa["airflow_version"] == "3.3.1"
    assert mwaa["webserver_access_mode"] == "PRIVATE_ONLY"
    assert mwaa["kms_key"] == "${aws_kms_key.kms.arn}"
    assert mwaa["environment_class"] == synth.cfg.mwaa_environment_class
    assert mwaa["name"] == f"sportscards-{synth.cfg.env}"
    logging = mwaa["logging_configuration"]
    assert set(logging) == {
        "dag_processing_logs",
        "scheduler_logs",
        "task_logs",
        "webserver_logs",
        "worker_logs",
    }
    assert all(cfg["enabled"] is True for cfg in logging.values())
    assert mwaa["requirements_s3_path"] == "${aws_s3_object.mwaa-requirements-txt.key}"
    assert mwaa["plugins_s3_path"] == "${aws_s3_object.mwaa-plugins-zip.key}"
    assert mwaa["startup_script_s3_path"] == "${aws_s3_object.mwaa-startup-sh.key}"
    objects = {
        o["key"]: o for o in synth.resources("aws", "aws_s3_object").values() if "lambda/" not in o["key"]
    }
    assert set(objects) == {"requirements.txt", "plugins.zip", "startup.sh"}
    for key, obj in objects.items():
        assert obj["source"].endswith(f"/airflow/build/mwaa/{synth.cfg.env}/{key}")


def test_remote_state_per_env_and_stack_with_locking(synth: Synth) -> None:
    for doc, stack in ((synth.aws_json, "aws"), (synth.snowflake_json, "snowflake")):
        backend = doc["terraform"]["backend"]["s3"]
        assert backend["key"] == f"{synth.cfg.env}/sportscards-{synth.cfg.env}-{stack}/terraform.tfstate"
        assert backend["use_lockfile"] is True and backend["encrypt"] is True
        assert backend["bucket"] == synth.cfg.state_bucket
