"""The ingestion Lambda: Amazon MQ's event source mapping on the platform queue lands live events."""

from __future__ import annotations

from cdktn_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from cdktn_provider_aws.kms_key import KmsKey
from cdktn_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingSourceAccessConfiguration,
)
from cdktn_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionDeadLetterConfig,
    LambdaFunctionEnvironment,
    LambdaFunctionTracingConfig,
    LambdaFunctionVpcConfig,
)
from cdktn_provider_aws.mq_broker import MqBroker
from cdktn_provider_aws.s3_object import S3Object
from cdktn_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktn_provider_aws.sqs_queue import SqsQueue
from constructs import Construct

from cardinfra import iam
from cardinfra.buckets import SecureBucket
from cardinfra.config import EnvConfig
from cardinfra.names import names
from cardinfra.policies import assume_role

LAMBDA_HANDLER = "cardpipe.ingest.lambda_handler.handler"
# Resolved by terraform at plan time (cdktf.out/stacks/<stack>/ -> infra/build/), so synth needs no zip.
LAMBDA_ZIP = "${path.module}/../../../build/lambda/cardpipe-ingest.zip"


def lambda_settings(cfg: EnvConfig, raw_bucket: str, kms_key_arn: str) -> dict[str, str]:
    """cardpipe settings of the function (names cardpipe.config reads; tests/contract checks them)."""
    return {
        names.ENV_BRONZE_BACKEND: "s3",
        names.ENV_BRONZE_S3_BUCKET: raw_bucket,
        names.ENV_BRONZE_S3_REGION: cfg.region,
        names.ENV_BRONZE_S3_KMS_KEY_ID: kms_key_arn,
        names.ENV_LOG_FORMAT: "json",
    }


class IngestLambda(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        cfg: EnvConfig,
        *,
        kms: KmsKey,
        raw: SecureBucket,
        artifacts: SecureBucket,
        broker: MqBroker,
        credentials: SecretsmanagerSecret,
        security_group_id: str,
    ) -> None:
        super().__init__(scope, id_)
        fn_name = cfg.name("ingest")
        dlq = SqsQueue(
            self,
            "dlq",
            name=cfg.name("ingest-dlq"),
            kms_master_key_id=kms.arn,
            message_retention_seconds=14 * 24 * 3600,
        )
        logs = CloudwatchLogGroup(
            self,
            "logs",
            name=f"/aws/lambda/{fn_name}",
            retention_in_days=cfg.log_retention_days,
            kms_key_id=kms.arn,
        )
        self.role = IamRole(
            self,
            "role",
            name=cfg.name("ingest-lambda"),
            assume_role_policy=assume_role("lambda.amazonaws.com"),
        )
        policy = IamRolePolicy(
            self,
            "policy",
            role=self.role.id,
            policy=iam.ingest_lambda(
                region=cfg.region,
                raw_bucket_arn=raw.arn,
                kms_key_arn=kms.arn,
                broker_arn=broker.arn,
                secret_arn=credentials.arn,
                dlq_arn=dlq.arn,
                log_group_arn=logs.arn,
            ),
        )
        # Via S3: the zip (~60 MB, 165 MB unpacked) is over the 50 MB direct-upload limit.
        package = S3Object(
            self,
            "package",
            bucket=artifacts.bucket.id,
            key=names.LAMBDA_PACKAGE_KEY,
            source=LAMBDA_ZIP,
            source_hash=f'${{filemd5("{LAMBDA_ZIP}")}}',
            kms_key_id=kms.arn,
            server_side_encryption="aws:kms",
        )
        self.function = LambdaFunction(
            self,
            "function",
            function_name=fn_name,
            role=self.role.arn,
            runtime="python3.12",
            architectures=["x86_64"],
            handler=LAMBDA_HANDLER,
            s3_bucket=package.bucket,
            s3_key=package.key,
            s3_object_version=package.version_id,
            source_code_hash=f'${{filebase64sha256("{LAMBDA_ZIP}")}}',
            memory_size=cfg.lambda_memory_mb,
            timeout=120,
            reserved_concurrent_executions=cfg.lambda_reserved_concurrency,
            kms_key_arn=kms.arn,
            environment=LambdaFunctionEnvironment(variables=lambda_settings(cfg, raw.name, kms.arn)),
            vpc_config=LambdaFunctionVpcConfig(
                subnet_ids=list(cfg.network.private_subnet_ids), security_group_ids=[security_group_id]
            ),
            dead_letter_config=LambdaFunctionDeadLetterConfig(target_arn=dlq.arn),
            tracing_config=LambdaFunctionTracingConfig(mode="Active"),
            # Creating a function in a VPC needs the ENI permissions of its role's policy: create that first.
            depends_on=[logs, policy],
        )
        # The mapping validates the role (secret, broker, ENIs) when it is created: after the policy too.
        LambdaEventSourceMapping(
            self,
            "mq-mapping",
            function_name=self.function.arn,
            event_source_arn=broker.arn,
            queues=[names.QUEUE],
            batch_size=1000,
            maximum_batching_window_in_seconds=2,
            source_access_configuration=[
                LambdaEventSourceMappingSourceAccessConfiguration(type="BASIC_AUTH", uri=credentials.arn),
                LambdaEventSourceMappingSourceAccessConfiguration(type="VIRTUAL_HOST", uri=names.VHOST),
            ],
            depends_on=[policy],
        )
