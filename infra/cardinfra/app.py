"""Builds the stacks of one environment in dependency order: Snowflake first, then AWS."""

from __future__ import annotations

from cdktn import App

from cardinfra.aws_stack import AwsStack
from cardinfra.config import EnvConfig
from cardinfra.snowflake_stack import SnowflakeStack
from cardinfra.snowflake_stack import stack_name as snowflake_stack_name


# S3 native state locking needs Terraform >= 1.10, write-only attributes (secret_string_wo) >= 1.11.
TARGET_VERSIONS = {"terraform": ">=1.11.0"}


def new_app(outdir: str) -> App:
    return App(outdir=outdir, context={"targetVersions": TARGET_VERSIONS})


def stack_order(cfg: EnvConfig) -> list[str]:
    """Order of `terraform apply` (reverse for destroy); the Makefile reads it from `python main.py --order`."""
    from cardinfra.aws_stack import stack_name as aws_stack_name

    return [snowflake_stack_name(cfg), aws_stack_name(cfg)]


def build(app: App, cfg: EnvConfig) -> tuple[SnowflakeStack, AwsStack]:
    snowflake = SnowflakeStack(app, cfg)
    aws = AwsStack(app, cfg, snowflake_stack_name(cfg))
    return snowflake, aws
