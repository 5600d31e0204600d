"""AWS stack of one environment: KMS, buckets, Amazon MQ, ingestion Lambda, MWAA, IAM, Snowpipe events."""

from __future__ import annotations

from cdktn import DataTerraformRemoteStateS3, Fn, TerraformOutput, TerraformResourceLifecycle, TerraformStack
from cdktn_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktn_provider_aws.data_aws_secretsmanager_random_password import DataAwsSecretsmanagerRandomPassword
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from cdktn_provider_aws.kms_alias import KmsAlias
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
from cdktn_provider_aws.mq_broker import (
    MqBroker,
    MqBrokerLogs,
    MqBrokerMaintenanceWindowStartTime,
    MqBrokerUser,
)
from cdktn_provider_aws.mwaa_environment import (
    MwaaEnvironment,
    MwaaEnvironmentLoggingConfiguration,
    MwaaEnvironmentLoggingConfigurationDagProcessingLogs,
    MwaaEnvironmentLoggingConfigurationSchedulerLogs,
    MwaaEnvironmentLoggingConfigurationTaskLogs,
    MwaaEnvironmentLoggingConfigurationWebserverLogs,
    MwaaEnvironmentLoggingConfigurationWorkerLogs,
    MwaaEnvironmentNetworkConfiguration,
)
from cdktn_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from cdktn_provider_aws.s3_bucket_notification import S3BucketNotification, S3BucketNotificationQueue
from cdktn_provider_aws.s3_object import S3Object
from cdktn_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktn_provider_aws.secretsmanager_secret_version import SecretsmanagerSecretVersion
from cdktn_provider_aws.security_group import SecurityGroup, SecurityGroupEgress, SecurityGroupIngress
from cdktn_provider_aws.sqs_queue import SqsQueue
from constructs import Construct

from cardinfra import iam
from cardinfra.backend import state_key, use_s3_backend
from cardinfra.buckets import Lifecycle, SecureBucket
from cardinfra.config import PROJECT, EnvConfig
from cardinfra.policies import assume_role, kms_key_policy, log_delivery, snowflake_trust

LAMBDA_HANDLER = "cardpipe.ingest.lambda_handler.handler"
# Resolved by terraform at plan time (cdktf.out/stacks/<stack>/ -> infra/build/), so synth needs no zip.
LAMBDA_ZIP = "${path.module}/../../../build/lambda/cardpipe-ingest.zip"
LAMBDA_S3_KEY = "lambda/cardpipe-ingest.zip"
# Built by `make mwaa-package ENV=<env>` (airflow/build/mwaa/<env>/). This stack uploads the first version so
# MWAA can be created; later versions are deployed by `make mwaa-sync` (same keys), which terraform ignores.
MWAA_ARTIFACTS = ("requirements.txt", "plugins.zip", "startup.sh")
MWAA_VERSION_ATTRS = [
    "requirements_s3_object_version",
    "plugins_s3_object_version",
    "startup_script_s3_object_version",
]
INGEST_QUEUE = "cardpipe.events"
MQ_AMQPS_PORT = 5671


MWAA_BUILD = "${path.module}/../../../../airflow/build/mwaa"


def mwaa_name(cfg: EnvConfig) -> str:
    """`sportscards-<env>`: the MWAA_ENVIRONMENT default of `make mwaa-sync` (mk/airflow.mk)."""
    return f"{PROJECT}-{cfg.env}"


def stack_name(cfg: EnvConfig) -> str:
    return cfg.stack_order[1]


class AwsStack(TerraformStack):
    """Everything that runs in the environment's AWS account."""

    def __init__(self, scope: Construct, cfg: EnvConfig, snowflake_stack: str) -> None:
        name = stack_name(cfg)
        super().__init__(scope, name)
        self.cfg = cfg
        use_s3_backend(self, cfg, name)
        AwsProvider(
            self,
            "aws",
            region=cfg.region,
            allowed_account_ids=[cfg.aws_account_id],
            default_tags=[
                AwsProviderDefaultTags(tags={"project": PROJECT, "env": cfg.env, "managed-by": "cdktn"})
            ],
        )
        # Snowflake-generated values (its IAM user, the pipe's SQS queue) come from the Snowflake stack state.
        sf = DataTerraformRemoteStateS3(
            self,
            "snowflake-state",
            bucket=cfg.state_bucket,
            key=state_key(cfg, snowflake_stack),
            region=cfg.region,
        )
        self.kms = self._kms()
        self.buckets = self._buckets()
        self._snowflake_access(
            sf.get_string("storage_integration_iam_user_arn"), sf.get_string("pipe_sqs_arn")
        )
        secret = self._broker()
        self._lambda(secret)
        self._mwaa()

    # -- KMS -----------------------------------------------------------------------------------------------
    def _kms(self) -> KmsKey:
        cfg = self.cfg
        key = KmsKey(
            self,
            "kms",
            description=f"{PROJECT} {cfg.env}: S3, logs, secrets, SQS, MWAA",
            enable_key_rotation=True,
            deletion_window_in_days=30 if cfg.deletion_protection else 7,
            policy=kms_key_policy(
                cfg.aws_account_id,
                cfg.region,
                [
                    "s3.amazonaws.com",
                    "sqs.amazonaws.com",
                    "secretsmanager.amazonaws.com",
                    "airflow.amazonaws.com",
                ],
            ),
        )
        KmsAlias(self, "kms-alias", name=f"alias/{cfg.name('data')}", target_key_id=key.key_id)
        return key

    # -- S3 ------------------------------------------------------------------------------------------------
    def _buckets(self) -> dict[str, SecureBucket]:
        cfg = self.cfg
        force = not cfg.deletion_protection
        log_name = cfg.bucket("access-logs")
        logs = SecureBucket(
            self,
            "access-logs",
            name=log_name,
            kms_key_arn=None,
            extra_policy=[log_delivery(f"arn:aws:s3:::{log_name}", cfg.aws_account_id)],
            lifecycle=Lifecycle(noncurrent_days=cfg.noncurrent_version_expiry_days, to_ia_days=30),
            log_bucket=None,
            force_destroy=force,
        )
        common = {"kms_key_arn": self.kms.arn, "log_bucket": logs.bucket.id, "force_destroy": force}
        raw = SecureBucket(
            self,
            "raw",
            name=cfg.bucket("raw"),
            lifecycle=Lifecycle(
                cfg.noncurrent_version_expiry_days, cfg.raw_to_ia_days, cfg.raw_to_glacier_days
            ),
            **common,  # type: ignore[arg-type]
        )
        quarantine = SecureBucket(
            self,
            "quarantine",
            name=cfg.bucket("quarantine"),
            lifecycle=Lifecycle(cfg.noncurrent_version_expiry_days, cfg.raw_to_ia_days),
            **common,  # type: ignore[arg-type]
        )
        artifacts = SecureBucket(
            self,
            "artifacts",
            name=cfg.bucket("mwaa-artifacts"),
            lifecycle=Lifecycle(cfg.noncurrent_version_expiry_days),
            **common,  # type: ignore[arg-type]
        )
        return {"logs": logs, "raw": raw, "quarantine": quarantine, "artifacts": artifacts}

    # -- Snowflake storage integration role + Snowpipe notifications -----------------------------------
    def _snowflake_access(self, snowflake_user_arn: str, pipe_sqs_arn: str) -> None:
        cfg = self.cfg
        raw = self.buckets["raw"]
        role = IamRole(
            self,
            "snowflake-storage-role",
            name=cfg.snowflake_role_name,
            assume_role_policy=snowflake_trust(snowflake_user_arn, cfg.snowflake_external_id),
            max_session_duration=3600,
        )
        IamRolePolicy(
            self,
            "snowflake-storage-policy",
            role=role.id,
            policy=iam.snowflake_read(raw.arn, self.kms.arn),
        )
        S3BucketNotification(
            self,
            "raw-snowpipe-notification",
            bucket=raw.bucket.id,
            queue=[
                S3BucketNotificationQueue(
                    id="snowpipe-raw-events",
                    queue_arn=pipe_sqs_arn,
                    events=["s3:ObjectCreated:*"],
                    filter_prefix="raw/events/",
                    filter_suffix=".ndjson.gz",
                )
            ],
        )

    # -- Amazon MQ -----------------------------------------------------------------------------------------
    def _broker(self) -> SecretsmanagerSecret:
        cfg = self.cfg
        self.lambda_sg = SecurityGroup(
            self,
            "lambda-sg",
            name=cfg.name("ingest-lambda"),
            description="Ingestion Lambda: egress to the VPC only (broker, S3/KMS/Secrets endpoints)",
            vpc_id=cfg.network.vpc_id,
            egress=[
                SecurityGroupEgress(
                    description="HTTPS and AMQPS inside the VPC",
                    from_port=443,
                    to_port=MQ_AMQPS_PORT,
                    protocol="tcp",
                    cidr_blocks=[cfg.network.vpc_cidr],
                )
            ],
        )
        self.broker_sg = SecurityGroup(
            self,
            "broker-sg",
            name=cfg.name("broker"),
            description="Amazon MQ: AMQPS and the management API from inside the VPC only",
            vpc_id=cfg.network.vpc_id,
            ingress=[
                SecurityGroupIngress(
                    description="AMQPS and HTTPS console from the VPC",
                    from_port=443,
                    to_port=MQ_AMQPS_PORT,
                    protocol="tcp",
                    cidr_blocks=[cfg.network.vpc_cidr],
                )
            ],
            egress=[
                SecurityGroupEgress(
                    description="Replies inside the VPC",
                    from_port=0,
                    to_port=0,
                    protocol="-1",
                    cidr_blocks=[cfg.network.vpc_cidr],
                )
            ],
        )
        password = DataAwsSecretsmanagerRandomPassword(
            self, "broker-password", password_length=32, exclude_punctuation=True
        )
        secret = SecretsmanagerSecret(
            self,
            "broker-secret",
            name=cfg.name("broker-ingest-credentials"),
            description="Amazon MQ user of the ingestion Lambda (BASIC_AUTH for the event source mapping)",
            kms_key_id=self.kms.arn,
            recovery_window_in_days=30 if cfg.deletion_protection else 7,
        )
        SecretsmanagerSecretVersion(
            self,
            "broker-secret-version",
            secret_id=secret.id,
            secret_string_wo=Fn.jsonencode(
                {"username": "cardpipe-ingest", "password": password.random_password}
            ),
            secret_string_wo_version=1,
        )
        subnets = list(cfg.network.private_subnet_ids)
        self.broker = MqBroker(
            self,
            "broker",
            broker_name=cfg.name("broker"),
            engine_type="RabbitMQ",
            engine_version=cfg.mq_engine_version,
            host_instance_type=cfg.mq_instance_type,
            deployment_mode="CLUSTER_MULTI_AZ" if cfg.mq_multi_az else "SINGLE_INSTANCE",
            subnet_ids=subnets if cfg.mq_multi_az else subnets[:1],
            security_groups=[self.broker_sg.id],
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            logs=MqBrokerLogs(general=True),
            maintenance_window_start_time=MqBrokerMaintenanceWindowStartTime(
                day_of_week="SUNDAY", time_of_day="04:00", time_zone="UTC"
            ),
            user=[MqBrokerUser(username="cardpipe-ingest", password=password.random_password)],
            # The random password data source changes on every plan: the first value wins; rotate out of band.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["user"]),
        )
        return secret

    # -- Ingestion Lambda ----------------------------------------------------------------------------------
    def _lambda(self, secret: SecretsmanagerSecret) -> None:
        cfg = self.cfg
        fn_name = cfg.name("ingest")
        dlq = SqsQueue(
            self,
            "ingest-dlq",
            name=cfg.name("ingest-dlq"),
            kms_master_key_id=self.kms.arn,
            message_retention_seconds=14 * 24 * 3600,
        )
        logs = CloudwatchLogGroup(
            self,
            "ingest-logs",
            name=f"/aws/lambda/{fn_name}",
            retention_in_days=cfg.log_retention_days,
            kms_key_id=self.kms.arn,
        )
        role = IamRole(
            self,
            "ingest-role",
            name=cfg.name("ingest-lambda"),
            assume_role_policy=assume_role("lambda.amazonaws.com"),
        )
        IamRolePolicy(
            self,
            "ingest-policy",
            role=role.id,
            policy=iam.ingest_lambda(
                raw_bucket_arn=self.buckets["raw"].arn,
                quarantine_bucket_arn=self.buckets["quarantine"].arn,
                kms_key_arn=self.kms.arn,
                broker_arn=self.broker.arn,
                secret_arn=secret.arn,
                dlq_arn=dlq.arn,
                log_group_arn=logs.arn,
            ),
        )
        # Via S3: the zip (~60 MB, 165 MB unpacked) is over the 50 MB direct-upload limit.
        package = S3Object(
            self,
            "ingest-package",
            bucket=self.buckets["artifacts"].bucket.id,
            key=LAMBDA_S3_KEY,
            source=LAMBDA_ZIP,
            source_hash=f'${{filemd5("{LAMBDA_ZIP}")}}',
            kms_key_id=self.kms.arn,
            server_side_encryption="aws:kms",
        )
        fn = LambdaFunction(
            self,
            "ingest",
            function_name=fn_name,
            role=role.arn,
            runtime="python3.12",
            architectures=["x86_64"],
            handler=LAMBDA_HANDLER,
            s3_bucket=package.bucket,
            s3_key=package.key,
            s3_object_version=package.version_id,
            source_code_hash=f'${{filebase64sha256("{LAMBDA_ZIP}")}}',
            memory_size=cfg.lambda_memory_mb,
            timeout=120,
            reserved_concurrent_executions=10 if cfg.env == "prod" else 2,
            kms_key_arn=self.kms.arn,
            environment=LambdaFunctionEnvironment(
                variables={
                    "BRONZE_BACKEND": "s3",
                    "BRONZE_S3_BUCKET": self.buckets["raw"].name,
                    "BRONZE_S3_REGION": cfg.region,
                    "BRONZE_S3_KMS_KEY_ID": self.kms.arn,
                }
            ),
            vpc_config=LambdaFunctionVpcConfig(
                subnet_ids=list(cfg.network.private_subnet_ids), security_group_ids=[self.lambda_sg.id]
            ),
            dead_letter_config=LambdaFunctionDeadLetterConfig(target_arn=dlq.arn),
            tracing_config=LambdaFunctionTracingConfig(mode="Active"),
            depends_on=[logs],
        )
        LambdaEventSourceMapping(
            self,
            "ingest-mq-mapping",
            function_name=fn.arn,
            event_source_arn=self.broker.arn,
            queues=[INGEST_QUEUE],
            batch_size=1000,
            maximum_batching_window_in_seconds=2,
            source_access_configuration=[
                LambdaEventSourceMappingSourceAccessConfiguration(type="BASIC_AUTH", uri=secret.arn),
                LambdaEventSourceMappingSourceAccessConfiguration(type="VIRTUAL_HOST", uri="/"),
            ],
        )
        TerraformOutput(self, "ingest_function", value=fn.function_name)
        TerraformOutput(self, "raw_bucket", value=self.buckets["raw"].name)

    # -- MWAA ----------------------------------------------------------------------------------------------
    def _mwaa(self) -> None:
        cfg = self.cfg
        artifacts = self.buckets["artifacts"]
        env_name = mwaa_name(cfg)
        objects = {
            key: S3Object(
                self,
                f"mwaa-{key.replace('.', '-')}",
                bucket=artifacts.bucket.id,
                key=key,
                source=f"{MWAA_BUILD}/{cfg.env}/{key}",
                kms_key_id=self.kms.arn,
                server_side_encryption="aws:kms",
            )
            for key in MWAA_ARTIFACTS
        }
        sg = SecurityGroup(
            self,
            "mwaa-sg",
            name=cfg.name("mwaa"),
            description="MWAA: self-referencing (required by MWAA), HTTPS inside the VPC",
            vpc_id=cfg.network.vpc_id,
            ingress=[
                SecurityGroupIngress(
                    description="MWAA components talk to each other",
                    from_port=0,
                    to_port=0,
                    protocol="-1",
                    self_attribute=True,
                )
            ],
            egress=[
                SecurityGroupEgress(
                    description="HTTPS, PostgreSQL metadata DB and AMQPS inside the VPC",
                    from_port=0,
                    to_port=0,
                    protocol="-1",
                    cidr_blocks=[cfg.network.vpc_cidr],
                )
            ],
        )
        role = IamRole(
            self, "mwaa-role", name=cfg.name("mwaa-execution"), assume_role_policy=iam.mwaa_assume_role()
        )
        IamRolePolicy(
            self,
            "mwaa-policy",
            role=role.id,
            policy=iam.mwaa_execution(
                account_id=cfg.aws_account_id,
                region=cfg.region,
                env_name=env_name,
                artifacts_bucket_arn=artifacts.arn,
                raw_bucket_arn=self.buckets["raw"].arn,
                kms_key_arn=self.kms.arn,
            ),
        )

        def on(level: str = "INFO") -> dict[str, object]:
            return {"enabled": True, "log_level": level}

        MwaaEnvironment(
            self,
            "airflow",
            name=env_name,
            airflow_version=cfg.airflow_version,
            environment_class=cfg.mwaa_environment_class,
            max_workers=cfg.mwaa_max_workers,
            execution_role_arn=role.arn,
            kms_key=self.kms.arn,
            source_bucket_arn=artifacts.arn,
            dag_s3_path="dags/",
            requirements_s3_path=objects["requirements.txt"].key,
            requirements_s3_object_version=objects["requirements.txt"].version_id,
            plugins_s3_path=objects["plugins.zip"].key,
            plugins_s3_object_version=objects["plugins.zip"].version_id,
            startup_script_s3_path=objects["startup.sh"].key,
            startup_script_s3_object_version=objects["startup.sh"].version_id,
            webserver_access_mode="PRIVATE_ONLY",
            network_configuration=MwaaEnvironmentNetworkConfiguration(
                security_group_ids=[sg.id], subnet_ids=list(cfg.network.private_subnet_ids[:2])
            ),
            logging_configuration=MwaaEnvironmentLoggingConfiguration(
                dag_processing_logs=MwaaEnvironmentLoggingConfigurationDagProcessingLogs(**on()),  # type: ignore[arg-type]
                scheduler_logs=MwaaEnvironmentLoggingConfigurationSchedulerLogs(**on()),  # type: ignore[arg-type]
                task_logs=MwaaEnvironmentLoggingConfigurationTaskLogs(**on()),  # type: ignore[arg-type]
                webserver_logs=MwaaEnvironmentLoggingConfigurationWebserverLogs(**on("WARNING")),  # type: ignore[arg-type]
                worker_logs=MwaaEnvironmentLoggingConfigurationWorkerLogs(**on()),  # type: ignore[arg-type]
            ),
            weekly_maintenance_window_start="SUN:05:00",
            lifecycle=TerraformResourceLifecycle(ignore_changes=MWAA_VERSION_ATTRS),
        )
