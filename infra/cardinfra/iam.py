"""Least-privilege IAM policies as pure functions: data actions always name their resources, never `*`."""

from __future__ import annotations

from cardinfra.policies import document

KMS_USE = ["kms:Decrypt", "kms:GenerateDataKey"]


def snowflake_read(raw_bucket_arn: str, kms_key_arn: str) -> str:
    """Snowflake's storage integration reads the bronze event objects (and lists their prefix) only."""
    return document(
        {
            "Sid": "ReadRawEvents",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{raw_bucket_arn}/raw/*",
        },
        {
            "Sid": "ListRaw",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": raw_bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": ["raw/*"]}},
        },
        {"Sid": "DecryptRaw", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": kms_key_arn},
    )


def ingest_lambda(
    *,
    raw_bucket_arn: str,
    quarantine_bucket_arn: str,
    kms_key_arn: str,
    broker_arn: str,
    secret_arn: str,
    dlq_arn: str,
    log_group_arn: str,
) -> str:
    """Write bronze objects, read the broker credentials, poll the broker, send failures to the DLQ."""
    return document(
        {
            "Sid": "WriteBronze",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [
                f"{raw_bucket_arn}/raw/events/*",
                f"{raw_bucket_arn}/raw/quarantine/*",
                f"{quarantine_bucket_arn}/*",
            ],
        },
        {"Sid": "EncryptBronze", "Effect": "Allow", "Action": KMS_USE, "Resource": kms_key_arn},
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


def mwaa_execution(
    *,
    account_id: str,
    region: str,
    env_name: str,
    artifacts_bucket_arn: str,
    raw_bucket_arn: str,
    kms_key_arn: str,
) -> str:
    """MWAA's documented execution-role permissions, scoped to this environment's resources."""
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
        {
            "Sid": "ReadRawForReconciliation",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [raw_bucket_arn, f"{raw_bucket_arn}/raw/*"],
        },
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
        },
    )
