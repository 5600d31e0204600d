"""IAM / KMS / bucket policy documents as pure functions (JSON strings), so tests can read them directly."""

from __future__ import annotations

import json
from typing import Any

Statement = dict[str, Any]


def document(*statements: Statement) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def assume_role(service: str) -> str:
    return document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def tls_only_bucket_policy(bucket_arn: str, extra: list[Statement] | None = None) -> str:
    """Deny every request that is not over TLS (AWS Foundational Security Best Practices S3.5)."""
    return document(
        *(extra or []),
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


def kms_key_policy(account_id: str, region: str) -> str:
    """The account root administers the key, so IAM policies grant its use (each with `kms:ViaService`, see
    iam.py); no service principal may use it directly, except CloudWatch Logs for this account's log
    groups."""
    root = f"arn:aws:iam::{account_id}:root"
    return document(
        {
            "Sid": "AccountAdmin",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsUseKey",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
            ],
            "Resource": "*",
            "Condition": {
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:*"}
            },
        },
    )


def snowflake_trust(snowflake_iam_user_arn: str, external_id: str) -> str:
    """Trust Snowflake's IAM user only when it presents the storage integration's external id.

    `snowflake_iam_user_arn` may be a Terraform expression that falls back to the account root while the
    Snowflake stack has not been applied yet (IAM rejects a trust naming a principal that does not exist)."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": snowflake_iam_user_arn},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
        }
    )


def log_delivery(bucket_arn: str, account_id: str) -> Statement:
    """Let S3 server access logging write into the log bucket, for this account's buckets only."""
    return {
        "Sid": "S3ServerAccessLogs",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn}/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }
