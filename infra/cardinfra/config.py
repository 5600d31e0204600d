"""Per-environment configuration, read from `infra/environments/<env>.toml` and validated before anything
runs.

Nothing account-specific lives in Python: account ids, the VPC, the Snowflake account and the service users'
public keys are values in the environment's TOML file (committed, reviewed like code; nothing in it is
secret).
`INFRA_CONFIG_OVERLAY=<file.toml>` merges `[<env>.<section>]` tables over them (tests, emulator runs, a fork
trying things out). Every missing or malformed value is reported at once, with the file and key to set.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardinfra.names import names

EnvName = names.EnvName
ENVIRONMENTS = names.ENVIRONMENTS
PROJECT = names.PROJECT
CONFIG_DIR = Path(__file__).resolve().parents[1] / "environments"
OVERLAY_ENV = "INFRA_CONFIG_OVERLAY"
CONFIG_DIR_ENV = "INFRA_CONFIG_DIR"

# DER prefix of an RSA SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID rsaEncryption ...
_RSA_OID = bytes.fromhex("2a864886f70d010101")
_WH_SIZES = {"XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE"}


class ConfigError(Exception):
    """Configuration a deploy cannot start with; the message lists every value to fix (main.py exits 2)."""


@dataclass(frozen=True)
class Network:
    """Existing VPC and private subnets (owned by the platform network team, see docs/infra.md)."""

    vpc_id: str
    private_subnet_ids: tuple[str, ...]
    vpc_cidr: str
    # Producers (Orders, Card Catalog, Manufacturing services) that publish over AMQPS.
    broker_client_cidrs: tuple[str, ...]


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
    transform_large_wh_size: str
    bi_wh_size: str
    auto_suspend_seconds: int

    def public_key(self, role: str) -> str:
        return {
            names.LOADER: self.loader_public_key,
            names.TRANSFORMER: self.transformer_public_key,
            names.REPORTER: self.reporter_public_key,
        }[role]

    def warehouse_size(self, warehouse: str) -> str:
        sizes = {
            names.ROLE_WAREHOUSES[names.LOADER]: self.load_wh_size,
            names.ROLE_WAREHOUSES[names.TRANSFORMER]: self.transform_wh_size,
            names.ROLE_WAREHOUSES[names.REPORTER]: self.bi_wh_size,
            names.TRANSFORM_LARGE_WAREHOUSE: self.transform_large_wh_size,
        }
        return sizes[warehouse]


@dataclass(frozen=True)
class EnvConfig:
    """Everything that differs between dev, staging and prod."""

    env: EnvName
    aws_account_id: str
    region: str
    network: Network
    snowflake: SnowflakeEnv
    github_repository: str
    mq_instance_type: str
    mq_multi_az: bool
    mwaa_environment_class: str
    mwaa_max_workers: int
    lambda_memory_mb: int
    lambda_reserved_concurrency: int
    log_retention_days: int
    noncurrent_version_expiry_days: int
    raw_to_ia_days: int
    raw_to_glacier_days: int
    deletion_protection: bool
    alert_emails: tuple[str, ...] = ()
    airflow_version: str = names.AIRFLOW_VERSION
    mq_engine_version: str = names.MQ_ENGINE_VERSION

    def name(self, suffix: str) -> str:
        """Resource name `sportscards-<env>-<suffix>` (globally unique names add the account id)."""
        return names.resource_name(self.env, suffix)

    def bucket(self, kind: str) -> str:
        return names.bucket_name(self.env, kind, self.aws_account_id)

    @property
    def stack_order(self) -> list[str]:
        return stack_order(self.env)

    @property
    def state_bucket(self) -> str:
        return names.state_bucket(self.aws_account_id)

    @property
    def snowflake_database(self) -> str:
        return names.snowflake_database(self.env)

    @property
    def snowflake_role_name(self) -> str:
        return names.snowflake_storage_role(self.env)

    @property
    def snowflake_role_arn(self) -> str:
        return f"arn:aws:iam::{self.aws_account_id}:role/{self.snowflake_role_name}"

    @property
    def snowflake_external_id(self) -> str:
        return names.snowflake_external_id(self.env)


def stack_order(env: str) -> list[str]:
    """Stacks in `terraform apply` order (destroy reverses it): Snowflake's outputs feed the AWS trust."""
    return [names.resource_name(env, "snowflake"), names.resource_name(env, "aws")]


def state_key(cfg: EnvConfig, stack: str) -> str:
    """Key of a stack's state in the account's state bucket (the account bootstrap seeds it)."""
    return f"{cfg.env}/{stack}/terraform.tfstate"


# ----------------------------------------------------------------------------------------------- loading


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, Mapping) and isinstance(out.get(key), dict)
            else value
        )
    return out


def config_file(env: str) -> Path:
    return Path(os.environ.get(CONFIG_DIR_ENV) or CONFIG_DIR) / f"{env}.toml"


def _raw(env: str) -> dict[str, Any]:
    path = config_file(env)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path} is missing: copy another environment's file and fill in {env}'s values"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    overlay = os.environ.get(OVERLAY_ENV)
    if overlay:
        try:
            extra = tomllib.loads(Path(overlay).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{OVERLAY_ENV}={overlay} cannot be read: {exc}") from None
        data = _merge(data, extra.get(env, {}))
    return data


class _Reader:
    """Typed access to one environment's TOML; collects every problem instead of stopping at the first."""

    def __init__(self, env: str, data: dict[str, Any]) -> None:
        self.env = env
        self.data = data
        self.problems: list[str] = []

    def get(self, dotted: str, kind: type, check: str | None = None, hint: str = "") -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        ok = isinstance(node, kind) and not (kind is int and isinstance(node, bool))
        if ok and check is not None and isinstance(node, str):
            ok = re.fullmatch(check, node) is not None
        if ok and isinstance(node, str | list) and not node:
            ok = False
        if not ok:
            shown = "unset" if node in (None, "", []) else f"got {node!r}"
            self.problems.append(f"{dotted}: {hint or kind.__name__} ({shown})")
            return kind()
        return node

    def strings(self, dotted: str, check: str, hint: str, *, minimum: int = 1) -> tuple[str, ...]:
        values = self.get(dotted, list, hint=hint) if minimum else self._optional_list(dotted)
        good = tuple(v for v in values if isinstance(v, str) and re.fullmatch(check, v))
        if values and (len(good) != len(values) or len(good) < minimum):
            self.problems.append(f"{dotted}: {hint} (got {values!r})")
        return good

    def _optional_list(self, dotted: str) -> list[Any]:
        node: Any = self.data
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return list(node) if isinstance(node, list) else []

    def cidrs(self, dotted: str, *, minimum: int) -> tuple[str, ...]:
        values = (
            self.get(dotted, list, hint="list of CIDR blocks") if minimum else self._optional_list(dotted)
        )
        out = []
        for value in values:
            try:
                out.append(str(ipaddress.ip_network(value, strict=True)))
            except (TypeError, ValueError):
                self.problems.append(f"{dotted}: {value!r} is not a CIDR block such as 10.10.0.0/16")
        if len(values) < minimum:
            self.problems.append(f"{dotted}: at least {minimum} CIDR block(s) needed")
        return tuple(out)

    def public_key(self, role: str) -> str:
        dotted = f"snowflake.public_keys.{role.lower()}"
        value = self.get(dotted, str, hint=f"RSA public key of the {role} service user (see docs/infra.md)")
        if not value:
            return ""
        try:
            return normalize_public_key(value)
        except ValueError as exc:
            self.problems.append(f"{dotted}: {exc}")
            return ""


def normalize_public_key(value: str) -> str:
    """The base64 body Snowflake's RSA_PUBLIC_KEY takes, from PEM or bare; rejects non-RSA/short keys."""
    body = "".join(line.strip() for line in value.strip().splitlines() if "-----" not in line)
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a base64 / PEM public key (openssl rsa -in key.p8 -pubout)") from None
    if _RSA_OID not in der[:32]:
        raise ValueError("not an RSA SubjectPublicKeyInfo (Snowflake key-pair auth needs RSA)")
    if len(der) < 270:
        raise ValueError(f"RSA key too short ({len(der)} DER bytes): use 2048 bits or more")
    return body


def get_config(env: str) -> EnvConfig:
    """Load and validate one environment; raises ConfigError listing every value to fix."""
    if env not in ENVIRONMENTS:
        raise ConfigError(
            f"unknown environment {env!r}: use one of {', '.join(ENVIRONMENTS)} (make plan ENV=dev)"
        )
    r = _Reader(env, _raw(env))
    subnet = r"subnet-[0-9a-f]{8,17}"
    network = Network(
        vpc_id=r.get("network.vpc_id", str, r"vpc-[0-9a-f]{8,17}", "VPC id (vpc- and 8 or 17 hex digits)"),
        private_subnet_ids=r.strings(
            "network.private_subnet_ids", subnet, "at least two private subnet ids (subnet-...)", minimum=2
        ),
        vpc_cidr=_one_cidr(r, "network.vpc_cidr"),
        broker_client_cidrs=r.cidrs("network.broker_client_cidrs", minimum=0),
    )
    sf = SnowflakeEnv(
        organization_name=r.get(
            "snowflake.organization_name", str, r"[A-Za-z][A-Za-z0-9_]*", "organization name"
        ),
        account_name=r.get(
            "snowflake.account_name", str, r"[A-Za-z][A-Za-z0-9_]*", "account name (not the locator)"
        ),
        loader_public_key=r.public_key(names.LOADER),
        transformer_public_key=r.public_key(names.TRANSFORMER),
        reporter_public_key=r.public_key(names.REPORTER),
        credit_quota=r.get("snowflake.credit_quota", int, hint="monthly credit quota (integer)"),
        load_wh_size=_wh(r, "snowflake.load_wh_size"),
        transform_wh_size=_wh(r, "snowflake.transform_wh_size"),
        transform_large_wh_size=_wh(r, "snowflake.transform_large_wh_size"),
        bi_wh_size=_wh(r, "snowflake.bi_wh_size"),
        auto_suspend_seconds=r.get("snowflake.auto_suspend_seconds", int, hint="seconds (integer)"),
    )
    cfg = EnvConfig(
        env=env,  # type: ignore[arg-type]
        aws_account_id=r.get(
            "aws.account_id", str, r"\d{12}", "the 12-digit AWS account id of this environment"
        ),
        region=r.get("aws.region", str, r"[a-z]{2}(-[a-z]+)+-\d", "AWS region such as us-east-1"),
        network=network,
        snowflake=sf,
        github_repository=r.get(
            "github.repository",
            str,
            r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+",
            "owner/name of the GitHub repository",
        ),
        mq_instance_type=r.get(
            "mq.instance_type", str, r"mq\.[a-z0-9]+\.[a-z0-9]+", "Amazon MQ instance type"
        ),
        mq_multi_az=r.get("mq.multi_az", bool, hint="true or false"),
        mwaa_environment_class=r.get(
            "mwaa.environment_class", str, r"mw1\.[a-z0-9]+", "MWAA class (mw1.small...)"
        ),
        mwaa_max_workers=r.get("mwaa.max_workers", int, hint="integer"),
        lambda_memory_mb=r.get("lambda.memory_mb", int, hint="integer"),
        lambda_reserved_concurrency=r.get("lambda.reserved_concurrency", int, hint="integer"),
        log_retention_days=r.get("retention.log_days", int, hint="integer"),
        noncurrent_version_expiry_days=r.get("retention.noncurrent_version_days", int, hint="integer"),
        raw_to_ia_days=r.get("retention.raw_to_ia_days", int, hint="integer"),
        raw_to_glacier_days=r.get("retention.raw_to_glacier_days", int, hint="integer"),
        deletion_protection=r.get("deletion_protection", bool, hint="true or false"),
        alert_emails=r.strings("alerts.emails", r"[^@\s]+@[^@\s]+", "e-mail addresses", minimum=0),
    )
    if cfg.mq_multi_az and 0 < len(network.private_subnet_ids) < 3:
        r.problems.append(
            "network.private_subnet_ids: a multi-AZ broker (mq.multi_az = true) needs three subnets"
        )
    if r.problems:
        listed = "\n  ".join(r.problems)
        raise ConfigError(f"{config_file(env)} ({env}) needs these values fixed:\n  {listed}")
    return cfg


def _one_cidr(r: _Reader, dotted: str) -> str:
    value = r.get(dotted, str, hint="CIDR block of the VPC such as 10.10.0.0/16")
    if not value:
        return ""
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        r.problems.append(f"{dotted}: {value!r} is not a CIDR block such as 10.10.0.0/16")
        return ""


def _wh(r: _Reader, dotted: str) -> str:
    value = r.get(dotted, str, hint=f"warehouse size: one of {', '.join(sorted(_WH_SIZES))}")
    if value and value not in _WH_SIZES:
        r.problems.append(f"{dotted}: {value!r} is not one of {', '.join(sorted(_WH_SIZES))}")
    return str(value)
