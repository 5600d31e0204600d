"""MWAA: the environment, its execution role, the secrets its connections live in, and its cardpipe settings.

Every environment-specific value the DAGs need reaches them from here, as MWAA configuration options
`sportscards.<setting>` (Airflow exports them as AIRFLOW__SPORTSCARDS__<SETTING>, which the DAGs' settings map
onto the cardpipe variable): the bucket name with its account suffix, the key ARN, the alerts topic. Secrets
are Airflow connections in Secrets Manager (MWAA's secrets backend, configured here); the execution role may
read exactly those. The first requirements/plugins/startup objects are uploaded here so MWAA can be created;
`make mwaa-sync` deploys later versions (and the DAGs), which Terraform then leaves alone.
"""

from __future__ import annotations

import json

from cdktn import TerraformResourceLifecycle
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from cdktn_provider_aws.kms_key import KmsKey
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
from cdktn_provider_aws.s3_object import S3Object
from cdktn_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from constructs import Construct

from cardinfra import iam
from cardinfra.buckets import SecureBucket
from cardinfra.config import EnvConfig
from cardinfra.names import names

# Built by `make mwaa-package ENV=<env>` (airflow/build/mwaa/<env>/), relative to the synthesized stack dir.
MWAA_BUILD = "${path.module}/../../../../airflow/build/mwaa"
MWAA_ARTIFACTS = (names.MWAA_REQUIREMENTS_KEY, names.MWAA_PLUGINS_KEY, names.MWAA_STARTUP_KEY)
MWAA_VERSION_ATTRS = [
    "requirements_s3_object_version",
    "plugins_s3_object_version",
    "startup_script_s3_object_version",
]
# Connections whose values the operator puts (runbook); the broker's is written by the broker construct.
OPERATOR_CONNECTIONS = (names.CONN_JOURNAL, names.CONN_SNOWFLAKE_LOADER, names.CONN_SNOWFLAKE_TRANSFORMER)


def mwaa_settings(
    cfg: EnvConfig, *, raw_bucket: str, kms_key_arn: str, alerts_topic_arn: str
) -> dict[str, str]:
    """cardpipe settings of the DAGs on this environment (variable name -> value)."""
    return {
        names.ENV_BRONZE_BACKEND: "s3",
        names.ENV_BRONZE_S3_BUCKET: raw_bucket,
        names.ENV_BRONZE_S3_REGION: cfg.region,
        names.ENV_BRONZE_S3_KMS_KEY_ID: kms_key_arn,
        names.ENV_WAREHOUSE_KIND: "snowflake",
        names.ENV_SNOWFLAKE_DATABASE: cfg.snowflake_database,
        names.ENV_SNOWFLAKE_ROLE: names.LOADER,
        names.ENV_SNOWFLAKE_WAREHOUSE: names.ROLE_WAREHOUSES[names.LOADER],
        names.ENV_DBT_TARGET: cfg.env,
        names.ENV_LOG_FORMAT: "json",
        names.ENV_ALERTS_TOPIC_ARN: alerts_topic_arn,
    }


def configuration_options(cfg: EnvConfig, settings: dict[str, str]) -> dict[str, str]:
    """MWAA configuration options: the secrets backend and one `sportscards.<setting>` per setting."""
    backend_kwargs = {
        "connections_prefix": names.secrets_prefix(cfg.env, "connections"),
        "variables_prefix": names.secrets_prefix(cfg.env, "variables"),
    }
    return {
        "secrets.backend": names.SECRETS_BACKEND,
        "secrets.backend_kwargs": json.dumps(backend_kwargs, sort_keys=True),
        **{names.mwaa_option(name): value for name, value in settings.items()},
    }


class AirflowEnvironment(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        cfg: EnvConfig,
        *,
        kms: KmsKey,
        raw: SecureBucket,
        artifacts: SecureBucket,
        alerts_topic_arn: str,
        security_group_id: str,
    ) -> None:
        super().__init__(scope, id_)
        self.name = names.mwaa_environment(cfg.env)
        self.secrets = {
            conn: SecretsmanagerSecret(
                self,
                f"connection-{conn.replace('_', '-')}",
                name=names.connection_secret(cfg.env, conn),
                description=f"Airflow connection {conn} (value put by the operator: docs/infra.md)",
                kms_key_id=kms.arn,
                recovery_window_in_days=30 if cfg.deletion_protection else 7,
            )
            for conn in OPERATOR_CONNECTIONS
        }
        objects = {
            key: S3Object(
                self,
                f"bootstrap-{key.replace('.', '-')}",
                bucket=artifacts.bucket.id,
                key=key,
                source=f"{MWAA_BUILD}/{cfg.env}/{key}",
                kms_key_id=kms.arn,
                server_side_encryption="aws:kms",
                # The first version only: `make mwaa-sync` owns every later one (Terraform must not roll
                # back).
                lifecycle=TerraformResourceLifecycle(ignore_changes="all"),
            )
            for key in MWAA_ARTIFACTS
        }
        self.role = IamRole(
            self, "role", name=cfg.name("mwaa-execution"), assume_role_policy=iam.mwaa_assume_role()
        )
        policy = IamRolePolicy(
            self,
            "policy",
            role=self.role.id,
            policy=iam.mwaa_execution(
                env=cfg.env,
                account_id=cfg.aws_account_id,
                region=cfg.region,
                env_name=self.name,
                artifacts_bucket_arn=artifacts.arn,
                raw_bucket_arn=raw.arn,
                kms_key_arn=kms.arn,
                alerts_topic_arn=alerts_topic_arn,
            ),
        )
        self.settings = mwaa_settings(
            cfg, raw_bucket=raw.name, kms_key_arn=kms.arn, alerts_topic_arn=alerts_topic_arn
        )

        def on(level: str = "INFO") -> dict[str, object]:
            return {"enabled": True, "log_level": level}

        self.environment = MwaaEnvironment(
            self,
            "environment",
            name=self.name,
            airflow_version=cfg.airflow_version,
            environment_class=cfg.mwaa_environment_class,
            max_workers=cfg.mwaa_max_workers,
            execution_role_arn=self.role.arn,
            kms_key=kms.arn,
            source_bucket_arn=artifacts.arn,
            dag_s3_path=names.MWAA_DAGS_PREFIX,
            requirements_s3_path=objects[names.MWAA_REQUIREMENTS_KEY].key,
            requirements_s3_object_version=objects[names.MWAA_REQUIREMENTS_KEY].version_id,
            plugins_s3_path=objects[names.MWAA_PLUGINS_KEY].key,
            plugins_s3_object_version=objects[names.MWAA_PLUGINS_KEY].version_id,
            startup_script_s3_path=objects[names.MWAA_STARTUP_KEY].key,
            startup_script_s3_object_version=objects[names.MWAA_STARTUP_KEY].version_id,
            airflow_configuration_options=configuration_options(cfg, self.settings),
            webserver_access_mode="PRIVATE_ONLY",
            network_configuration=MwaaEnvironmentNetworkConfiguration(
                security_group_ids=[security_group_id], subnet_ids=list(cfg.network.private_subnet_ids[:2])
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
            # MWAA validates its role when it is created (S3, logs, KMS): the policy must exist first.
            depends_on=[policy],
        )
