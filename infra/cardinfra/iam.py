"""Least-privilege IAM policies as pure functions: data actions always name their resources, never `*`.

Object prefixes come from the bronze layout in names.py, so a role can write exactly where its code writes:
the Lambda lands live objects, the backfill (on MWAA) lands backfill objects, checkpoints and control records;
Snowflake only reads. Key use is allowed only through the AWS service that needs it (`kms:ViaService`).
tests/infra_e2e runs the real code under these policies on an IAM-enforcing emulator.
"""

from __future__ import annotations

from cardinfra.names import names
from cardinfra.policies import Statement, document

KMS_USE = ["kms:Decrypt", "kms:GenerateDataKey"]


def via(region: str, *services: str) -> dict[str, dict[str, list[str]]]:
    """Condition: the key is used on behalf of one of these services in this region."""
    return {"StringEquals": {"kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in services]}}


def _objects(bucket_arn: str, *prefixes: str) -> list[str]:
    return [f"{bucket_arn}/{prefix}*" for prefix in prefixes]


def live_prefixes() -> list[str]:
    """Where the ingestion Lambda writes: live events and live quarantine, nothing else."""
    return [names.source_prefix(p, "live") for p in (names.EVENTS_PREFIX, names.QUARANTINE_PREFIX)]


def backfill_prefixes() -> list[str]:
    """Where the backfill writes: its events and quarantine, its checkpoints and its control records."""
    return [
        names.source_prefix(names.EVENTS_PREFIX, "backfill"),
        names.source_prefix(names.QUARANTINE_PREFIX, "backfill"),
        names.CHECKPOINT_PREFIX,
        names.CONTROL_PREFIX,
    ]


def _read_bronze(raw_bucket_arn: str) -> list[Statement]:
    return [
        {
            "Sid": "ReadBronze",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": _objects(raw_bucket_arn, names.BRONZE_ROOT),
        },
        {
            "Sid": "ListBronze",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": raw_bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{names.BRONZE_ROOT}*"]}},
        },
    ]


def snowflake_read(raw_bucket_arn: str, kms_key_arn: str, region: str) -> str:
    """Snowflake's storage integration reads the bronze objects (and lists their prefix) only."""
    return document(
        *_read_bronze(raw_bucket_arn),
        {
            "Sid": "DecryptBronze",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": kms_key_arn,
            "Condition": via(region, "s3"),
        },
    )


def ingest_lambda(
    *,
    region: str,
    raw_bucket_arn: str,
    kms_key_arn: str,
    broker_arn: str,
    secret_arn: str,
    dlq_arn: str,
    log_group_arn: str,
) -> str:
    """Write live bronze objects, read the broker credentials, poll the broker, send failures to the DLQ."""
    return document(
        {
            "Sid": "WriteLiveBronze",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": _objects(raw_bucket_arn, *live_prefixes()),
        },
        {
            "Sid": "EncryptBronze",
            "Effect": "Allow",
            "Action": KMS_USE,
            "Resource": kms_key_arn,
            "Condition": via(region, "s3", "sqs", "secretsmanager"),
        },
        {
            "Sid": "BrokerCredentials",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": secret_arn,
        },
        {"Sid": "DescribeBroker", "Effect": "Allow", "Action": ["mq:DescribeBroker"], "Resource": broker_arn},
        {"Sid": "DeadLetter", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": dlq_arn},
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
        # ENI management and X-Ray have no resource-level permissions (AWS documents `*` for them).
        {
            "Sid": "VpcNetworking",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcs",
            ],
            "Resource": "*",
        },
        {
            "Sid": "Tracing",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
    )


def mwaa_assume_role() -> str:
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    )


def secret_arn_pattern(region: str, account_id: str, name_prefix: str) -> str:
    """Secrets Manager appends a random suffix to every secret ARN: match the name prefix."""
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{name_prefix}/*"


def mwaa_execution(
    *,
    env: str,
    account_id: str,
    region: str,
    env_name: str,
    artifacts_bucket_arn: str,
    raw_bucket_arn: str,
    kms_key_arn: str,
    alerts_topic_arn: str,
) -> str:
    """MWAA's documented execution-role permissions plus what the DAGs do, scoped to this environment."""
    env_arn = f"arn:aws:airflow:{region}:{account_id}:environment/{env_name}"
    logs_arn = f"arn:aws:logs:{region}:{account_id}:log-group:airflow-{env_name}-*"
    return document(
        {
            "Sid": "PublishMetrics",
            "Effect": "Allow",
            "Action": ["airflow:PublishMetrics"],
            "Resource": env_arn,
        },
        {
            "Sid": "ReadArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject*", "s3:GetBucket*", "s3:List*"],
            "Resource": [artifacts_bucket_arn, f"{artifacts_bucket_arn}/*"],
        },
        *_read_bronze(raw_bucket_arn),
        {
            "Sid": "WriteBackfill",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": _objects(raw_bucket_arn, *backfill_prefixes()),
        },
        {
            "Sid": "AirflowSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": [
                secret_arn_pattern(region, account_id, names.secrets_prefix(env, "connections")),
                secret_arn_pattern(region, account_id, names.secrets_prefix(env, "variables")),
            ],
        },
        {"Sid": "Alerts", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": alerts_topic_arn},
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogStream",
                "logs:CreateLogGroup",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:GetLogRecord",
                "logs:GetLogGroupFields",
                "logs:GetQueryResults",
            ],
            "Resource": [logs_arn],
        },
        {
            "Sid": "DescribeLogGroups",
            "Effect": "Allow",
            "Action": ["logs:DescribeLogGroups"],
            "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:*",
        },
        {
            "Sid": "Metrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "AmazonMWAA"}},
        },
        {
            "Sid": "CeleryQueues",
            "Effect": "Allow",
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
            ],
            "Resource": f"arn:aws:sqs:{region}:*:airflow-celery-*",
        },
        {
            "Sid": "Kms",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"],
            "Resource": kms_key_arn,
            "Condition": via(region, "s3", "sqs", "secretsmanager", "sns"),
        },
    )
