"""Per-environment configuration: the committed files, the overlay, and validation that names what to set."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from cardinfra import config
from cardinfra.config import ConfigError, get_config, normalize_public_key
from conftest import EXAMPLE_ACCOUNTS

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, env: str, text: str) -> Path:
    base = (config.CONFIG_DIR / f"{env}.toml").read_text()
    (tmp_path / f"{env}.toml").write_text(base)
    overlay = tmp_path / "overlay.toml"
    overlay.write_text(text)
    return overlay


def test_committed_files_leave_every_account_value_to_the_team(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh clone cannot deploy by accident: each environment file lists what is missing, all at once."""
    monkeypatch.delenv(config.OVERLAY_ENV)
    with pytest.raises(ConfigError) as caught:
        get_config("staging")
    message = str(caught.value)
    assert "infra/environments/staging.toml (staging) needs these values fixed" in message
    for key in (
        "aws.account_id",
        "network.vpc_id",
        "network.private_subnet_ids",
        "network.vpc_cidr",
        "snowflake.organization_name",
        "snowflake.public_keys.loader",
        "github.repository",
    ):
        assert key in message


def test_main_fails_fast_naming_the_values(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"ENV": "prod", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "main.py"], cwd=ROOT / "infra", env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "aws.account_id" in proc.stderr and "prod.toml" in proc.stderr


def test_overlay_values_are_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = tomllib.loads(EXAMPLE_ACCOUNTS.read_text())["dev"]
    bad = f"""
[dev.aws]
account_id = "12345"
region = "mars-1"
[dev.github]
repository = "sportscards/platform"
[dev.network]
vpc_id = "vpc-xyz"
private_subnet_ids = ["subnet-0de000000000001"]
vpc_cidr = "10.10.0.1/16"
broker_client_cidrs = ["nope"]
[dev.snowflake]
organization_name = "SPORTSCARDS"
account_name = "SPORTSCARDS_DEV"
load_wh_size = "HUGE"
[dev.snowflake.public_keys]
loader = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAplaceholderReplaceWithTheServiceUserPublicKey"
transformer = "not base64 !"
reporter = "{example["snowflake"]["public_keys"]["reporter"]}"
"""
    monkeypatch.setenv(config.CONFIG_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(config.OVERLAY_ENV, str(_write(tmp_path, "dev", bad)))
    with pytest.raises(ConfigError) as caught:
        get_config("dev")
    message = str(caught.value)
    for expected in (
        "aws.account_id: the 12-digit AWS account id",
        "aws.region",
        "network.vpc_id",
        "network.private_subnet_ids: at least two",
        "network.vpc_cidr: '10.10.0.1/16' is not a CIDR block",
        "network.broker_client_cidrs: 'nope'",
        "snowflake.load_wh_size: 'HUGE'",
        "snowflake.public_keys.loader",
        "snowflake.public_keys.transformer: not a base64",
    ):
        assert expected in message, expected
    assert "public_keys.reporter" not in message


def test_multi_az_broker_needs_three_subnets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = EXAMPLE_ACCOUNTS.read_text().replace(
        'private_subnet_ids = ["subnet-0cd000000000001", "subnet-0cd000000000002", "subnet-0cd000000000003"]',
        'private_subnet_ids = ["subnet-0cd000000000001", "subnet-0cd000000000002"]',
    )
    monkeypatch.setenv(config.CONFIG_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(config.OVERLAY_ENV, str(_write(tmp_path, "prod", example)))
    with pytest.raises(ConfigError, match="multi-AZ broker"):
        get_config("prod")


def test_public_keys_accept_pem_and_reject_non_rsa() -> None:
    body = tomllib.loads(EXAMPLE_ACCOUNTS.read_text())["dev"]["snowflake"]["public_keys"]["loader"]
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        + "\n-----END PUBLIC KEY-----\n"
    )
    assert normalize_public_key(pem) == body
    with pytest.raises(ValueError, match="RSA"):
        normalize_public_key("MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=")  # an Ed25519 key
    with pytest.raises(ValueError, match="too short"):
        normalize_public_key(
            "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ=="
        )


def test_example_accounts_cover_every_environment() -> None:
    for env in config.ENVIRONMENTS:
        cfg = get_config(env)
        assert cfg.aws_account_id and cfg.network.vpc_id and cfg.snowflake.loader_public_key
