"""Per-environment configuration: the one typed place for names, sizes, retention, network ids, Snowflake."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EnvName = Literal["dev", "staging", "prod"]
ENVIRONMENTS: tuple[EnvName, ...] = ("dev", "staging", "prod")
PROJECT = "sportscards"


@dataclass(frozen=True)
class Network:
    """Existing VPC and private subnets (owned by the platform network team, see docs/infra.md)."""

    vpc_id: str
    private_subnet_ids: tuple[str, ...]
    vpc_cidr: str


@dataclass(frozen=True)
class SnowflakeEnv:
    """Snowflake account and the public keys of the service users (private keys never leave the vault)."""

    organization_name: str
    account_name: str
    loader_public_key: str
    transformer_public_key: str
    reporter_public_key: str
    credit_quota: int
    load_wh_size: str
    transform_wh_size: str
    bi_wh_size: str
    auto_suspend_seconds: int


@dataclass(frozen=True)
class EnvConfig:
    """Everything that differs between dev, staging and prod."""

    env: EnvName
    aws_account_id: str
    region: str
    network: Network
    snowflake: SnowflakeEnv
    mq_instance_type: str
    mq_multi_az: bool
    mwaa_environment_class: str
    mwaa_max_workers: int
    lambda_memory_mb: int
    log_retention_days: int
    noncurrent_version_expiry_days: int
    raw_to_ia_days: int
    raw_to_glacier_days: int
    deletion_protection: bool
    airflow_version: str = "3.3.1"
    mq_engine_version: str = "3.13"

    def name(self, suffix: str) -> str:
        """Resource name `sportscards-<env>-<suffix>` (globally unique names add the account id)."""
        return f"{PROJECT}-{self.env}-{suffix}"

    def bucket(self, kind: str) -> str:
        return f"{PROJECT}-{self.env}-{kind}-{self.aws_account_id}"

    @property
    def stack_order(self) -> list[str]:
        """Stacks in `terraform apply` order (destroy reverses it): Snowflake's outputs feed the AWS trust."""
        return [self.name("snowflake"), self.name("aws")]

    @property
    def state_bucket(self) -> str:
        return f"{PROJECT}-tfstate-{self.aws_account_id}"

    @property
    def snowflake_database(self) -> str:
        return f"SPORTSCARDS_{self.env.upper()}"

    @property
    def snowflake_role_name(self) -> str:
        return self.name("snowflake-storage")

    @property
    def snowflake_role_arn(self) -> str:
        return f"arn:aws:iam::{self.aws_account_id}:role/{self.snowflake_role_name}"

    @property
    def snowflake_external_id(self) -> str:
        """External id set on the storage integration and required by the IAM trust policy (not a secret)."""
        return f"{PROJECT}-{self.env}-snowflake-ingest"


# Public keys are public by definition; placeholders here are replaced per account before the first apply.
_PLACEHOLDER_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAplaceholderReplaceWithTheServiceUserPublicKey"

_COMMON_SNOWFLAKE = {
    "organization_name": "SPORTSCARDS",
    "loader_public_key": _PLACEHOLDER_KEY,
    "transformer_public_key": _PLACEHOLDER_KEY,
    "reporter_public_key": _PLACEHOLDER_KEY,
}

CONFIGS: dict[EnvName, EnvConfig] = {
    "dev": EnvConfig(
        env="dev",
        aws_account_id="111111111111",
        region="us-east-1",
        network=Network(
            "vpc-0dev0000000000001", ("subnet-0dev000000000001a", "subnet-0dev000000000001b"), "10.10.0.0/16"
        ),
        snowflake=SnowflakeEnv(
            account_name="SPORTSCARDS_DEV",
            credit_quota=50,
            load_wh_size="XSMALL",
            transform_wh_size="XSMALL",
            bi_wh_size="XSMALL",
            auto_suspend_seconds=60,
            **_COMMON_SNOWFLAKE,
        ),
        mq_instance_type="mq.t3.micro",
        mq_multi_az=False,
        mwaa_environment_class="mw1.small",
        mwaa_max_workers=2,
        lambda_memory_mb=256,
        log_retention_days=30,
        noncurrent_version_expiry_days=7,
        raw_to_ia_days=30,
        raw_to_glacier_days=90,
        deletion_protection=False,
    ),
    "staging": EnvConfig(
        env="staging",
        aws_account_id="222222222222",
        region="us-east-1",
        network=Network(
            "vpc-0stg0000000000001", ("subnet-0stg000000000001a", "subnet-0stg000000000001b"), "10.20.0.0/16"
        ),
        snowflake=SnowflakeEnv(
            account_name="SPORTSCARDS_STAGING",
            credit_quota=100,
            load_wh_size="XSMALL",
            transform_wh_size="SMALL",
            bi_wh_size="XSMALL",
            auto_suspend_seconds=60,
            **_COMMON_SNOWFLAKE,
        ),
        mq_instance_type="mq.m5.large",
        mq_multi_az=False,
        mwaa_environment_class="mw1.medium",
        mwaa_max_workers=5,
        lambda_memory_mb=512,
        log_retention_days=90,
        noncurrent_version_expiry_days=30,
        raw_to_ia_days=30,
        raw_to_glacier_days=180,
        deletion_protection=False,
    ),
    "prod": EnvConfig(
        env="prod",
        aws_account_id="333333333333",
        region="us-east-1",
        network=Network(
            "vpc-0prd0000000000001",
            ("subnet-0prd000000000001a", "subnet-0prd000000000001b", "subnet-0prd000000000001c"),
            "10.30.0.0/16",
        ),
        snowflake=SnowflakeEnv(
            account_name="SPORTSCARDS_PROD",
            credit_quota=500,
            load_wh_size="SMALL",
            transform_wh_size="MEDIUM",
            bi_wh_size="SMALL",
            auto_suspend_seconds=120,
            **_COMMON_SNOWFLAKE,
        ),
        mq_instance_type="mq.m5.large",
        mq_multi_az=True,
        mwaa_environment_class="mw1.large",
        mwaa_max_workers=10,
        lambda_memory_mb=1024,
        log_retention_days=365,
        noncurrent_version_expiry_days=90,
        raw_to_ia_days=30,
        raw_to_glacier_days=365,
        deletion_protection=True,
    ),
}


def get_config(env: str) -> EnvConfig:
    """Fail fast on an unknown environment name."""
    if env not in CONFIGS:
        raise SystemExit(
            f"unknown environment {env!r}: use one of {', '.join(ENVIRONMENTS)} (ENV=dev make synth)"
        )
    return CONFIGS[env]
