"""AWS stack of one environment: KMS, buckets, network rules, Amazon MQ, ingestion Lambda, MWAA, alerts, and
the
role Snowflake's storage integration assumes.

A fresh environment plans before the Snowflake stack exists: its remote state defaults to empty outputs, and
the
storage role then trusts only this account (with the external id) until Snowflake's IAM user is known; the
next
plan after the Snowflake stack is applied replaces it (`make bootstrap` applies them in that order).
"""

from __future__ import annotations

from cdktn import DataTerraformRemoteStateS3, Fn, TerraformLocal, TerraformOutput, TerraformStack
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from cdktn_provider_aws.kms_alias import KmsAlias
from cdktn_provider_aws.kms_key import KmsKey
from cdktn_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from cdktn_provider_aws.sns_topic import SnsTopic
from cdktn_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from cardinfra import iam
from cardinfra.airflow_env import AirflowEnvironment
from cardinfra.backend import state_key, use_s3_backend
from cardinfra.broker import Broker
from cardinfra.buckets import Lifecycle, SecureBucket
from cardinfra.config import PROJECT, EnvConfig
from cardinfra.ingest import IngestLambda
from cardinfra.names import names
from cardinfra.network import SecurityGroups
from cardinfra.policies import kms_key_policy, log_delivery, snowflake_trust
from cardinfra.snowflake_stack import OUTPUT_INTEGRATION_USER


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
        # Snowflake's generated IAM user comes from the Snowflake stack's state; empty until that is applied.
        self.snowflake_state = DataTerraformRemoteStateS3(
            self,
            "snowflake-state",
            bucket=cfg.state_bucket,
            key=state_key(cfg, snowflake_stack),
            region=cfg.region,
            defaults={OUTPUT_INTEGRATION_USER: ""},
        )
        self.kms = self._kms()
        self.buckets = self._buckets()
        self.alerts = self._alerts()
        groups = SecurityGroups(self, "network", cfg)
        self.broker = Broker(self, "mq", cfg, kms=self.kms, security_group_id=groups.broker.id)
        self.ingest = IngestLambda(
            self,
            "ingest",
            cfg,
            kms=self.kms,
            raw=self.buckets["raw"],
            artifacts=self.buckets["artifacts"],
            broker=self.broker.broker,
            credentials=self.broker.credentials,
            security_group_id=groups.lambda_.id,
        )
        self.airflow = AirflowEnvironment(
            self,
            "airflow",
            cfg,
            kms=self.kms,
            raw=self.buckets["raw"],
            artifacts=self.buckets["artifacts"],
            alerts_topic_arn=self.alerts.arn,
            security_group_id=groups.mwaa.id,
        )
        self.snowflake_role = self._snowflake_access()
        self._outputs()

    # -- KMS -----------------------------------------------------------------------------------------------
    def _kms(self) -> KmsKey:
        cfg = self.cfg
        key = KmsKey(
            self,
            "kms",
            description=f"{PROJECT} {cfg.env}: S3, logs, secrets, SQS, SNS, MWAA",
            enable_key_rotation=True,
            deletion_window_in_days=30 if cfg.deletion_protection else 7,
            policy=kms_key_policy(cfg.aws_account_id, cfg.region),
        )
        KmsAlias(self, "kms-alias", name=names.kms_alias(cfg.env), target_key_id=key.key_id)
        return key

    # -- S3 ------------------------------------------------------------------------------------------------
    def _buckets(self) -> dict[str, SecureBucket]:
        """Bronze (quarantine included, under raw/quarantine/), MWAA artifacts, and their access logs."""
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
        raw = SecureBucket(
            self,
            "raw",
            name=cfg.bucket("raw"),
            kms_key_arn=self.kms.arn,
            lifecycle=Lifecycle(
                cfg.noncurrent_version_expiry_days, cfg.raw_to_ia_days, cfg.raw_to_glacier_days
            ),
            log_bucket=logs,
            force_destroy=force,
        )
        artifacts = SecureBucket(
            self,
            "artifacts",
            name=cfg.bucket("mwaa-artifacts"),
            kms_key_arn=self.kms.arn,
            lifecycle=Lifecycle(cfg.noncurrent_version_expiry_days),
            log_bucket=logs,
            force_destroy=force,
        )
        return {"logs": logs, "raw": raw, "artifacts": artifacts}

    # -- alerts --------------------------------------------------------------------------------------------
    def _alerts(self) -> SnsTopic:
        """The DAGs' failure callback publishes here (SPORTSCARDS_ALERTS_TOPIC_ARN); people subscribe."""
        topic = SnsTopic(
            self, "alerts", name=names.alerts_topic(self.cfg.env), kms_master_key_id=self.kms.arn
        )
        for index, address in enumerate(self.cfg.alert_emails):
            SnsTopicSubscription(
                self, f"alerts-email-{index}", topic_arn=topic.arn, protocol="email", endpoint=address
            )
        return topic

    # -- Snowflake storage integration role ----------------------------------------------------------------
    def _snowflake_access(self) -> IamRole:
        cfg = self.cfg
        # Snowflake's IAM user once the Snowflake stack is applied; until then this account's root (IAM
        # refuses a
        # trust naming a principal that does not exist). A local keeps the policy's JSON free of HCL quotes.
        principal = TerraformLocal(
            self,
            "snowflake_principal",
            Fn.coalesce(
                [
                    self.snowflake_state.get_string(OUTPUT_INTEGRATION_USER),
                    f"arn:aws:iam::{cfg.aws_account_id}:root",
                ]
            ),
        )
        role = IamRole(
            self,
            "snowflake-storage-role",
            name=cfg.snowflake_role_name,
            assume_role_policy=snowflake_trust(principal.as_string, cfg.snowflake_external_id),
            max_session_duration=3600,
        )
        IamRolePolicy(
            self,
            "snowflake-storage-policy",
            role=role.id,
            policy=iam.snowflake_read(self.buckets["raw"].arn, self.kms.arn, cfg.region),
        )
        return role

    # -- outputs (read by the promotion workflow, tests and operators) -------------------------------------
    def _outputs(self) -> None:
        outputs = {
            "raw_bucket": self.buckets["raw"].name,
            "artifacts_bucket": self.buckets["artifacts"].name,
            "kms_key_arn": self.kms.arn,
            "alerts_topic_arn": self.alerts.arn,
            "ingest_function": self.ingest.function.function_name,
            "ingest_role_arn": self.ingest.role.arn,
            "mwaa_environment": self.airflow.name,
            "mwaa_execution_role_arn": self.airflow.role.arn,
            "snowflake_storage_role_arn": self.snowflake_role.arn,
            "broker_id": self.broker.broker.id,
        }
        for key, value in outputs.items():
            TerraformOutput(self, key, value=value)
        TerraformOutput(self, "mwaa_settings", value=self.airflow.settings)
