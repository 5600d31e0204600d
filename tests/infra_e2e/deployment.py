"""One environment deployed on the emulator for a test session: the Terraform steps, run once each, in order.

Tests ask for a step (`deployment.step("apply")`); earlier steps run first if they have not yet, and a
step whose predecessor failed fails naming it, so a test never reports the symptom of an earlier failure as
its own.
"""

from __future__ import annotations

import json
import re
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cardpipe.contracts import names

from . import emulator, tfstack
from .emulator import Credentials, MotoServer, Network

ENV = "dev"
# step -> the steps run before it. `plan_fresh` (no Snowflake state yet) is a question of its own: nothing
# needs it.
RUN_FIRST: dict[str, tuple[str, ...]] = {
    "init": (),
    "validate": ("init",),
    "plan_fresh": ("validate",),
    "plan": ("validate",),
    "apply": ("plan",),
    "replan": ("apply",),
    "destroy": ("apply",),
}
# Prerequisites a step still runs after: destroy removes whatever a failed apply left.
SOFT = {"destroy": {"apply"}}
EXAMPLE_ACCOUNTS = tfstack.REPO / "tests" / "infra" / "fixtures" / "example-accounts.toml"
SNOWFLAKE_USER = "snowflake-storage-integration-stand-in"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def write_overlay(path: Path, env: str, region: str, network: Network) -> Path:
    """INFRA_CONFIG_OVERLAY for the emulator: the example account values, with moto's account and network."""
    example = tomllib.loads(EXAMPLE_ACCOUNTS.read_text())[env]
    example["aws"] = {**example.get("aws", {}), "account_id": emulator.ACCOUNT_ID, "region": region}
    example["network"] = {
        **example.get("network", {}),
        "vpc_id": network.vpc_id,
        "private_subnet_ids": list(network.private_subnet_ids),
        "vpc_cidr": network.cidr,
    }
    lines: list[str] = []

    def emit(prefix: str, table: dict[str, Any]) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
        for k, v in table.items():
            if isinstance(v, dict):
                emit(f"{prefix}.{k}", v)

    for section, table in example.items():
        emit(f"{env}.{section}", table)
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Deployment:
    moto: MotoServer
    network: Network
    work_root: Path
    copy: tfstack.EmulatorCopy
    tf: tfstack.Terraform
    timings: dict[str, float]
    state_bucket: str
    provider_version: str
    snowflake_creds: Credentials | None = None
    snowflake_outputs: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    # ---------------------------------------------------------------------------------------- the steps
    def step(self, name: str) -> tfstack.Step:
        """Run `name` once, after its prerequisites; fails when a prerequisite it needs failed."""
        self._ensure(name)
        if name not in self.tf.steps:
            pytest.fail(f"terraform {name} {self.failed[name]}")
        return self.tf.steps[name]

    def _ensure(self, name: str) -> bool:
        if name not in self.done:
            self.done.add(name)
            for before in RUN_FIRST[name]:
                if not self._ensure(before) and before not in SOFT.get(name, set()):
                    self.failed[name] = f"not run: {before} failed ({self.failed[before]})"
                    return False
            started = time.monotonic()
            step = getattr(self, f"_{name}")()
            self.timings[f"terraform {name}"] = time.monotonic() - started
            if step.returncode != 0:
                self.failed[name] = f"exit {step.returncode}: {first_error(step)}"
        return name not in self.failed

    def _init(self) -> tfstack.Step:
        return self.tf.run("init", "init", "-input=false", timeout=300)

    def _validate(self) -> tfstack.Step:
        return self.tf.run("validate", "validate")

    def _plan_fresh(self) -> tfstack.Step:
        """A plan before the Snowflake stack has any state (the first deploy of an environment)."""
        if self.snowflake_outputs:
            pytest.fail("plan_fresh must run before the Snowflake stack state is written")
        return self.tf.run("plan_fresh", "plan", "-input=false", "-lock-timeout=60s", timeout=600)

    def _plan(self) -> tfstack.Step:
        self.write_snowflake_state()
        return self.tf.run("plan", "plan", "-input=false", "-lock-timeout=60s", "-out=tfplan", timeout=600)

    def _apply(self) -> tfstack.Step:
        return self.tf.run("apply", "apply", "-input=false", "-lock-timeout=60s", "tfplan", timeout=900)

    def _replan(self) -> tfstack.Step:
        return self.tf.run(
            "replan", "plan", "-input=false", "-lock-timeout=60s", "-detailed-exitcode", timeout=600
        )

    def _destroy(self) -> tfstack.Step:
        self.moto.enforce_iam(False)  # in case a least-privilege test was interrupted inside enforcement
        return self.tf.run(
            "destroy", "destroy", "-input=false", "-lock-timeout=60s", "-auto-approve", timeout=900
        )

    # ------------------------------------------------------------------------- the Snowflake stack's state
    def remote_outputs(self) -> dict[str, set[str]]:
        """state key -> the outputs of that remote state the stack reads."""
        config = self.copy.config
        text = json.dumps(config)
        out: dict[str, set[str]] = {}
        for name, body in config.get("data", {}).get("terraform_remote_state", {}).items():
            used = set(re.findall(rf"data\.terraform_remote_state\.{re.escape(name)}\.outputs\.(\w+)", text))
            out[body["config"]["key"]] = used
        return out

    def write_snowflake_state(self) -> None:
        """What applying the Snowflake stack leaves (make bootstrap applies it first): its outputs, with
        emulator stand-ins for Snowflake-owned AWS identities. Snowflake's IAM user lives in Snowflake's AWS
        account; its stand-in is a user of the emulator account, because moto evaluates a role's trust policy
        only for callers of the role's own account."""
        for key, outputs in self.remote_outputs().items():
            values = {o: self._snowflake_value(o) for o in sorted(outputs)}
            state = {
                "version": 4,
                "terraform_version": "1.11.4",
                "serial": 1,
                "lineage": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
                "outputs": {k: {"value": v, "type": "string"} for k, v in values.items()},
                "resources": [],
                "check_results": None,
            }
            self.moto.client("s3").put_object(
                Bucket=self.state_bucket, Key=key, Body=json.dumps(state).encode()
            )
            self.snowflake_outputs.update(values)

    def _snowflake_value(self, output: str) -> str:
        if output.endswith("iam_user_arn"):
            iam = self.moto.client("iam")
            user = iam.create_user(UserName=SNOWFLAKE_USER)["User"]
            iam.put_user_policy(
                UserName=SNOWFLAKE_USER,
                PolicyName="assume-storage-role",
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
                    }
                ),
            )
            key = iam.create_access_key(UserName=SNOWFLAKE_USER)["AccessKey"]
            self.snowflake_creds = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
            return str(user["Arn"])
        if output.endswith("sqs_arn"):
            queue = self.moto.client("sqs").create_queue(QueueName=f"sf-snowpipe-{output}")["QueueUrl"]
            attributes = self.moto.client("sqs").get_queue_attributes(
                QueueUrl=queue, AttributeNames=["QueueArn"]
            )
            return str(attributes["Attributes"]["QueueArn"])
        raise AssertionError(
            f"the AWS stack reads Snowflake output {output!r}: add an emulator stand-in for it in "
            "tests/infra_e2e/deployment.py (_snowflake_value)"
        )

    # ------------------------------------------------------------------------------------- after apply
    def outputs(self) -> dict[str, Any]:
        return self.tf.output()

    def state(self) -> dict[str, Any]:
        return self.tf.state()


def first_error(step: tfstack.Step) -> str:
    """The first `Error: ...` line terraform printed (the short reason for reports)."""
    for line in (step.stderr + "\n" + step.stdout).splitlines():
        if line.startswith("Error:"):
            return line[len("Error:") :].strip()
    return (step.stderr.strip().splitlines() or ["(no output)"])[-1]


def state_bucket() -> str:
    return str(names.state_bucket(emulator.ACCOUNT_ID))
