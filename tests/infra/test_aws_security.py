"""Security properties of the AWS stack, asserted on the synthesized JSON of every environment.

Several tests here are regression tests of issue 8's defects (named in their docstrings): each fails on the
stacks as they were before the fix.
"""

from __future__ import annotations

import json
from typing import Any

import cdktn
from cardinfra.names import names
from conftest import Synth

DATA_SERVICES = ("s3:", "kms:", "sqs:", "secretsmanager:", "mq:", "logs:", "airflow:", "sns:")


def _bucket_ids(s: Synth) -> dict[str, str]:
    """Bucket resource id -> bucket name."""
    return {rid: r["bucket"] for rid, r in s.resources("aws", "aws_s3_bucket").items()}


def _ref(rid: str) -> str:
    return f"${{aws_s3_bucket.{rid}.id}}"


def _by_bucket(s: Synth, rtype: str) -> dict[str, dict[str, Any]]:
    return {r["bucket"]: r for r in s.resources("aws", rtype).values()}


def _statements(policy: str) -> list[dict[str, Any]]:
    return json.loads(policy)["Statement"]  # type: ignore[no-any-return]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_of(s: Synth, role_name: str) -> list[dict[str, Any]]:
    role_ref = s.ref("aws", "aws_iam_role", "id", name=role_name)
    (policy,) = [p for p in s.resources("aws", "aws_iam_role_policy").values() if p["role"] == role_ref]
    return _statements(policy["policy"])


def _resources_of(statements: list[dict[str, Any]], action: str) -> list[str]:
    return [r for st in statements if action in _as_list(st["Action"]) for r in _as_list(st["Resource"])]


def test_three_buckets_named_with_the_account(synth: Synth) -> None:
    """Bucket names are global: each carries the account id (quarantine lives under raw/quarantine/)."""
    names_ = sorted(_bucket_ids(synth).values())
    assert names_ == sorted(synth.cfg.bucket(k) for k in ("access-logs", "raw", "mwaa-artifacts"))
    assert all(n.endswith(f"-{synth.cfg.aws_account_id}") for n in names_)


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
        deny = next(
            st
            for st in _statements(policies[_ref(rid)]["policy"])
            if st.get("Sid") == "DenyInsecureTransport"
        )
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
    delivery = _statements(_by_bucket(synth, "aws_s3_bucket_policy")[_ref(log_rid)]["policy"])[0]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"] == {"StringEquals": {"aws:SourceAccount": synth.cfg.aws_account_id}}


def test_no_snowpipe_notification(synth: Synth) -> None:
    """`cardpipe load` is RAW's one writer: Snowpipe's separate load history would load every file twice."""
    assert synth.resources("aws", "aws_s3_bucket_notification") == {}


def test_kms_key_policy_grants_no_service_principal_but_logs(synth: Synth) -> None:
    """Defect: service principals could use the key directly; now only CloudWatch Logs, by context."""
    (key,) = synth.resources("aws", "aws_kms_key").values()
    assert key["enable_key_rotation"] is True
    statements = _statements(key["policy"])
    assert [st["Sid"] for st in statements] == ["AccountAdmin", "CloudWatchLogsUseKey"]
    admin, logs = statements
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{synth.cfg.aws_account_id}:root"}
    assert logs["Principal"] == {"Service": f"logs.{synth.cfg.region}.amazonaws.com"}
    assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]


def test_every_kms_grant_in_iam_is_via_a_service(synth: Synth) -> None:
    """Defect: roles could use the key for anything; now only through the AWS service that needs it."""
    for policy in synth.resources("aws", "aws_iam_role_policy").values():
        for st in _statements(policy["policy"]):
            if any(a.startswith("kms:") for a in _as_list(st["Action"])):
                services = st["Condition"]["StringEquals"]["kms:ViaService"]
                assert services and all(s.endswith(f".{synth.cfg.region}.amazonaws.com") for s in services)


def test_broker_rabbitmq4_private_with_message_size_cap(synth: Synth) -> None:
    """Defect: records over the mapping's 6 MB were dropped silently; the broker now refuses big messages."""
    cfg = synth.cfg
    _, broker = synth.find("aws", "aws_mq_broker", broker_name=cfg.name("broker"))
    assert broker["engine_type"] == "RabbitMQ" and broker["engine_version"] == names.MQ_ENGINE_VERSION
    assert broker["publicly_accessible"] is False and broker["logs"] == {"general": True}
    assert broker["host_instance_type"] == cfg.mq_instance_type
    assert broker["maintenance_window_start_time"] == {
        "day_of_week": "SUNDAY",
        "time_of_day": "04:00",
        "time_zone": "UTC",
    }
    rid, conf = synth.find("aws", "aws_mq_configuration", name=cfg.name("broker"))
    assert conf["data"].strip() == f"max_message_size = {names.MAX_MESSAGE_BYTES}"
    assert conf["engine_version"] == names.MQ_ENGINE_VERSION
    assert broker["configuration"] == {
        "id": f"${{aws_mq_configuration.{rid}.id}}",
        "revision": f"${{aws_mq_configuration.{rid}.latest_revision}}",
    }
    assert (
        names.MAX_MESSAGE_BYTES * 4 / 3 < 6 * 1000 * 1000
    )  # base64 of the largest message fits one invocation


def _rules(s: Synth, kind: str, group_name: str) -> list[dict[str, Any]]:
    group = s.ref("aws", "aws_security_group", "id", name=group_name)
    return [
        r
        for r in s.resources("aws", f"aws_vpc_security_group_{kind}_rule").values()
        if r["security_group_id"] == group
    ]


def test_security_groups_have_no_inline_rules_and_no_port_ranges(synth: Synth) -> None:
    """Defect: broker ingress opened 443-5671 (every port in between)."""
    for group in synth.resources("aws", "aws_security_group").values():
        assert "ingress" not in group and "egress" not in group
    for kind in ("ingress", "egress"):
        for rule in synth.resources("aws", f"aws_vpc_security_group_{kind}_rule").values():
            assert rule.get("from_port") == rule.get("to_port"), rule
            assert rule["description"]


def test_broker_reachable_only_from_ingest_mwaa_and_producers(synth: Synth) -> None:
    cfg = synth.cfg
    rules = _rules(synth, "ingress", cfg.name("broker"))
    amqps = [r for r in rules if r.get("from_port") == names.AMQPS_PORT]
    sources = {r.get("referenced_security_group_id") or r["cidr_ipv4"] for r in amqps}
    assert sources == {
        synth.ref("aws", "aws_security_group", "id", name=cfg.name("ingest-lambda")),
        synth.ref("aws", "aws_security_group", "id", name=cfg.name("mwaa")),
        *cfg.network.broker_client_cidrs,
    }
    console = [r for r in rules if r.get("from_port") == 443]
    assert [r["cidr_ipv4"] for r in console] == [cfg.network.vpc_cidr]
    assert _rules(synth, "egress", cfg.name("broker")) == []


def test_lambda_and_mwaa_reach_aws_apis_and_snowflake_over_https(synth: Synth) -> None:
    """Defect: egress only inside the VPC CIDR blocked the S3 gateway endpoint, NAT and Snowflake."""
    cfg = synth.cfg
    broker_sg = synth.ref("aws", "aws_security_group", "id", name=cfg.name("broker"))
    for group in (cfg.name("ingest-lambda"), cfg.name("mwaa")):
        egress = _rules(synth, "egress", group)
        https = [r for r in egress if r.get("from_port") == 443]
        assert [(r["ip_protocol"], r["cidr_ipv4"]) for r in https] == [("tcp", "0.0.0.0/0")]
        assert any(
            r.get("referenced_security_group_id") == broker_sg and r.get("from_port") == names.AMQPS_PORT
            for r in egress
        )
        assert not any(r["ip_protocol"] == "-1" and r.get("cidr_ipv4") for r in egress)


def test_broker_credentials_only_write_only_in_secrets_manager(synth: Synth) -> None:
    (broker,) = synth.resources("aws", "aws_mq_broker").values()
    (user,) = broker["user"]
    assert user["username"] == names.BROKER_ADMIN_USER
    assert user["password"].startswith("${data.aws_secretsmanager_random_password.")
    for version in synth.resources("aws", "aws_secretsmanager_secret_version").values():
        assert (
            "secret_string" not in version
        )  # write-only: the value is not kept in the secret version's state
        assert "random_password" in version["secret_string_wo"]
    for secret in synth.resources("aws", "aws_secretsmanager_secret").values():
        assert secret["kms_key_id"] == "${aws_kms_key.kms.arn}"
    outputs = json.dumps(synth.aws_json.get("output", {}))
    assert "password" not in outputs and "secretsmanager" not in outputs


def test_iam_data_actions_never_on_star(synth: Synth) -> None:
    policies = synth.resources("aws", "aws_iam_role_policy")
    assert len(policies) == 3  # MWAA execution, ingestion Lambda, Snowflake storage integration
    for rid, pol in policies.items():
        for st in _statements(pol["policy"]):
            actions = _as_list(st["Action"])
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), (rid, st)
            if (
                any(a.startswith(DATA_SERVICES) for a in actions)
                and "cloudwatch:PutMetricData" not in actions
            ):
                assert "*" not in _as_list(st["Resource"]), (rid, st)


def test_lambda_writes_only_live_bronze(synth: Synth) -> None:
    raw = synth.ref("aws", "aws_s3_bucket", "arn", bucket=synth.cfg.bucket("raw"))
    statements = _policy_of(synth, synth.cfg.name("ingest-lambda"))
    assert sorted(_resources_of(statements, "s3:PutObject")) == sorted(
        [f"{raw}/raw/events/source=live/*", f"{raw}/raw/quarantine/source=live/*"]
    )
    assert _resources_of(statements, "s3:GetObject") == []


def test_mwaa_role_can_backfill_alert_and_read_its_secrets(synth: Synth) -> None:
    """Defect: no s3:PutObject for backfill objects/checkpoints/control records, secrets, sns:Publish."""
    cfg = synth.cfg
    raw = synth.ref("aws", "aws_s3_bucket", "arn", bucket=cfg.bucket("raw"))
    statements = _policy_of(synth, cfg.name("mwaa-execution"))
    assert sorted(_resources_of(statements, "s3:PutObject")) == sorted(
        f"{raw}/{p}*"
        for p in (
            "raw/events/source=backfill/",
            "raw/quarantine/source=backfill/",
            "raw/_checkpoints/",
            "raw/_control/",
        )
    )
    secrets = _resources_of(statements, "secretsmanager:GetSecretValue")
    assert secrets == [
        f"arn:aws:secretsmanager:{cfg.region}:{cfg.aws_account_id}:secret:sportscards-{cfg.env}/airflow/{k}/*"
        for k in ("connections", "variables")
    ]
    assert _resources_of(statements, "sns:Publish") == [
        synth.ref("aws", "aws_sns_topic", "arn", name=names.alerts_topic(cfg.env))
    ]
    assert _resources_of(statements, "s3:DeleteObject") == []


def test_snowflake_role_trusts_snowflake_user_or_the_account_until_known(synth: Synth) -> None:
    """Defect: a fresh environment could not be planned (the remote state had no defaults)."""
    cfg = synth.cfg
    _, role = synth.find("aws", "aws_iam_role", name=cfg.snowflake_role_name)
    (trust,) = _statements(role["assume_role_policy"])
    assert trust["Principal"] == {"AWS": "${local.snowflake_principal}"}
    output = "data.terraform_remote_state.snowflake-state.outputs.storage_integration_iam_user_arn"
    local = synth.aws_json["locals"]["snowflake_principal"]
    assert local == f'${{coalesce({output}, "arn:aws:iam::{cfg.aws_account_id}:root")}}'
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": cfg.snowflake_external_id}}
    state = synth.aws_json["data"]["terraform_remote_state"]["snowflake-state"]
    assert state["defaults"] == {"storage_integration_iam_user_arn": ""}
    actions = {a for st in _policy_of(synth, cfg.snowflake_role_name) for a in _as_list(st["Action"])}
    assert actions == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "kms:Decrypt",
    }


def test_ingest_lambda_reads_the_platform_queue_after_its_policy(synth: Synth) -> None:
    """Defects: the mapping read `cardpipe.events` (the code binds names.QUEUE); the function was created
    before the policy that lets it create its VPC interfaces."""
    cfg = synth.cfg
    _, fn = synth.find("aws", "aws_lambda_function", function_name=cfg.name("ingest"))
    assert fn["handler"] == "cardpipe.ingest.lambda_handler.handler"
    assert fn["runtime"] == "python3.12" and fn["architectures"] == ["x86_64"]
    assert fn["source_code_hash"].startswith("${filebase64sha256(")
    assert fn["vpc_config"]["subnet_ids"] == list(cfg.network.private_subnet_ids)
    assert fn["memory_size"] == cfg.lambda_memory_mb
    assert fn["reserved_concurrent_executions"] == cfg.lambda_reserved_concurrency
    policy_rid = synth.ref(
        "aws",
        "aws_iam_role_policy",
        "id",
        role=synth.ref("aws", "aws_iam_role", "id", name=cfg.name("ingest-lambda")),
    )
    policy_addr = policy_rid.removeprefix("${").removesuffix(".id}")
    assert policy_addr in fn["depends_on"]
    env = fn["environment"]["variables"]
    assert env["BRONZE_BACKEND"] == "s3"
    assert env["BRONZE_S3_BUCKET"] == synth.ref("aws", "aws_s3_bucket", "bucket", bucket=cfg.bucket("raw"))
    (mapping,) = synth.resources("aws", "aws_lambda_event_source_mapping").values()
    assert mapping["queues"] == [names.QUEUE]
    assert {"type": "VIRTUAL_HOST", "uri": names.VHOST} in mapping["source_access_configuration"]
    assert policy_addr in mapping["depends_on"]
    (dlq,) = synth.resources("aws", "aws_sqs_queue").values()
    assert dlq["kms_master_key_id"] == "${aws_kms_key.kms.arn}"
    (logs,) = synth.resources("aws", "aws_cloudwatch_log_group").values()
    assert (
        logs["retention_in_days"] == cfg.log_retention_days and logs["kms_key_id"] == "${aws_kms_key.kms.arn}"
    )


def test_mwaa_gets_its_settings_and_the_secrets_backend(synth: Synth) -> None:
    """Defects: no Secrets Manager backend; the raw bucket without its account suffix in MWAA's settings."""
    cfg = synth.cfg
    (mwaa,) = synth.resources("aws", "aws_mwaa_environment").values()
    options = mwaa["airflow_configuration_options"]
    assert options["secrets.backend"] == names.SECRETS_BACKEND
    assert json.loads(options["secrets.backend_kwargs"]) == {
        "connections_prefix": f"sportscards-{cfg.env}/airflow/connections",
        "variables_prefix": f"sportscards-{cfg.env}/airflow/variables",
    }
    raw_ref = synth.ref("aws", "aws_s3_bucket", "bucket", bucket=cfg.bucket("raw"))
    assert options["sportscards.bronze_s3_bucket"] == raw_ref
    assert options["sportscards.warehouse_kind"] == "snowflake"
    assert options["sportscards.snowflake_database"] == cfg.snowflake_database
    assert options["sportscards.dbt_target"] == cfg.env
    assert options["sportscards.sportscards_alerts_topic_arn"].startswith("${aws_sns_topic.")
    assert synth.aws_json["output"]["mwaa_settings"]["value"]["BRONZE_S3_BUCKET"] == raw_ref
    secret_names = {s["name"] for s in synth.resources("aws", "aws_secretsmanager_secret").values()}
    assert {names.connection_secret(cfg.env, c) for c in names.CONNECTIONS} <= secret_names


def test_mwaa_private_all_logs_kms_and_bootstrap_artifacts(synth: Synth) -> None:
    cfg = synth.cfg
    (mwaa,) = synth.resources("aws", "aws_mwaa_environment").values()
    assert mwaa["airflow_version"] == names.AIRFLOW_VERSION
    assert mwaa["webserver_access_mode"] == "PRIVATE_ONLY"
    assert mwaa["kms_key"] == "${aws_kms_key.kms.arn}"
    assert mwaa["environment_class"] == cfg.mwaa_environment_class
    assert mwaa["name"] == names.mwaa_environment(cfg.env)
    assert all(c["enabled"] is True for c in mwaa["logging_configuration"].values())
    assert len(mwaa["logging_configuration"]) == 5
    objects = {
        o["key"]: o for o in synth.resources("aws", "aws_s3_object").values() if "lambda/" not in o["key"]
    }
    assert set(objects) == {"requirements.txt", "plugins.zip", "startup.sh"}
    for key, obj in objects.items():
        assert obj["source"].endswith(f"/airflow/build/mwaa/{cfg.env}/{key}")
        assert obj["lifecycle"] == {"ignore_changes": "all"}  # later versions belong to `make mwaa-sync`
    assert any(d.startswith("aws_iam_role_policy.") for d in mwaa["depends_on"])


def test_outputs_the_promotion_reads(synth: Synth) -> None:
    outputs = synth.aws_json["output"]
    for key in (
        "raw_bucket",
        "artifacts_bucket",
        "mwaa_environment",
        "mwaa_settings",
        "kms_key_arn",
        "alerts_topic_arn",
    ):
        assert key in outputs, key
    assert outputs["mwaa_environment"]["value"] == names.mwaa_environment(synth.cfg.env)


def test_remote_state_per_env_and_stack_with_locking(synth: Synth) -> None:
    for doc, stack in ((synth.aws_json, "aws"), (synth.snowflake_json, "snowflake")):
        backend = doc["terraform"]["backend"]["s3"]
        assert backend["key"] == f"{synth.cfg.env}/sportscards-{synth.cfg.env}-{stack}/terraform.tfstate"
        assert backend["use_lockfile"] is True and backend["encrypt"] is True
        assert backend["bucket"] == synth.cfg.state_bucket
