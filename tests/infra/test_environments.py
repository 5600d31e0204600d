"""What differs between dev, staging and prod, and a guard against silently empty blocks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cardinfra.config import ConfigError, get_config
from conftest import Synth

ROOT = Path(__file__).resolve().parents[2]


def test_prod_broker_is_a_multi_az_cluster(synths: dict[str, Synth]) -> None:
    prod = next(iter(synths["prod"].resources("aws", "aws_mq_broker").values()))
    assert prod["deployment_mode"] == "CLUSTER_MULTI_AZ"
    assert len(prod["subnet_ids"]) == 3
    for env in ("dev", "staging"):
        broker = next(iter(synths[env].resources("aws", "aws_mq_broker").values()))
        assert broker["deployment_mode"] == "SINGLE_INSTANCE"
        assert len(broker["subnet_ids"]) == 1


def test_prod_has_deletion_protection(synths: dict[str, Synth]) -> None:
    for env, protected in (("dev", False), ("staging", False), ("prod", True)):
        s = synths[env]
        assert all(b["force_destroy"] is not protected for b in s.resources("aws", "aws_s3_bucket").values())
        (key,) = s.resources("aws", "aws_kms_key").values()
        assert key["deletion_window_in_days"] == (30 if protected else 7)
        for secret in s.resources("aws", "aws_secretsmanager_secret").values():
            assert secret["recovery_window_in_days"] == (30 if protected else 7)


def test_sizes_grow_towards_prod(synths: dict[str, Synth]) -> None:
    def mwaa(env: str) -> dict[str, Any]:
        return next(iter(synths[env].resources("aws", "aws_mwaa_environment").values()))

    assert [mwaa(e)["environment_class"] for e in ("dev", "staging", "prod")] == [
        "mw1.small",
        "mw1.medium",
        "mw1.large",
    ]
    assert mwaa("prod")["max_workers"] > mwaa("dev")["max_workers"]
    mq = {e: next(iter(synths[e].resources("aws", "aws_mq_broker").values())) for e in synths}
    assert (
        mq["dev"]["host_instance_type"] == "mq.m7g.medium"
        and mq["prod"]["host_instance_type"] == "mq.m7g.large"
    )
    logs = {e: next(iter(synths[e].resources("aws", "aws_cloudwatch_log_group").values())) for e in synths}
    assert logs["prod"]["retention_in_days"] == 365


def test_environments_are_isolated(synths: dict[str, Synth]) -> None:
    accounts = {s.cfg.aws_account_id for s in synths.values()}
    assert len(accounts) == 3
    for env, s in synths.items():
        provider = s.aws_json["provider"]["aws"][0]
        assert provider["allowed_account_ids"] == [s.cfg.aws_account_id]
        assert env not in {"dev", "staging", "prod"} - {s.cfg.env}
        other = {"dev", "staging", "prod"} - {env}
        text = s.aws + s.snowflake
        assert not any(f"sportscards-{o}-" in text for o in other), env


def _empty_blocks(node: Any, path: str = "") -> list[str]:
    """Paths of `{}` / `[]` / `[{}]`: what a dict with dropped keys inside a struct list synthesizes to."""
    found: list[str] = []
    if isinstance(node, dict):
        if not node:
            found.append(path)
        for key, value in node.items():
            found += _empty_blocks(value, f"{path}/{key}")
    elif isinstance(node, list):
        if not node:
            found.append(path)
        for i, value in enumerate(node):
            found += _empty_blocks(value, f"{path}[{i}]")
    return found


def test_no_empty_blocks_anywhere(synth: Synth) -> None:
    for doc in (synth.aws_json, synth.snowflake_json):
        assert _empty_blocks(doc) == []


def test_guard_catches_the_dict_in_struct_list_pitfall() -> None:
    """The guard itself must fail on the shape the CDKTF pitfall produces (an encryption rule as `[{}]`)."""
    broken = {"resource": {"aws_s3_bucket_server_side_encryption_configuration": {"x": {"rule": [{}]}}}}
    assert _empty_blocks(json.loads(json.dumps(broken))) == [
        "/resource/aws_s3_bucket_server_side_encryption_configuration/x/rule[0]"
    ]


def test_unknown_environment_fails_fast() -> None:
    with pytest.raises(ConfigError, match="unknown environment 'qa'"):
        get_config("qa")


def test_no_account_values_in_python() -> None:
    """Defect: placeholder account ids and RSA keys lived in infra code, so deploying meant editing Python."""
    source = "".join(p.read_text() for p in (ROOT / "infra" / "cardinfra").glob("*.py"))
    assert not re.search(r"\b\d{12}\b", source)
    assert "MIIBIjAN" not in source and "vpc-0" not in source
