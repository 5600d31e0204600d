"""Builds the stacks of one environment in dependency order: Snowflake first, then AWS."""

from __future__ import annotations

from cdktn import App

from cardinfra.aws_stack import AwsStack
from cardinfra.config import EnvConfig
from cardinfra.snowflake_stack import SnowflakeStack

# S3 native state locking needs Terraform >= 1.10, write-only attributes (secret_string_wo) >= 1.11.
TARGET_VERSIONS = {"terraform": ">=1.11.0"}


def new_app(outdir: str) -> App:
    return App(outdir=outdir, context={"targetVersions": TARGET_VERSIONS})


def build(app: App, cfg: EnvConfig) -> tuple[SnowflakeStack, AwsStack]:
    snowflake = SnowflakeStack(app, cfg)
    aws = AwsStack(app, cfg, cfg.stack_order[0])
    return snowflake, aws
