"""The AWS emulator side of `make infra-e2e`: a moto server process, the network an account already has, IAM.

moto runs as its own process over HTTP on 127.0.0.1 (real requests, real SigV4 signatures): Terraform, boto3
and the platform's code all talk to it as they would talk to AWS. IAM enforcement is a switch of the running
server (`/moto-api/reset-auth`), so Terraform can build the stack with the emulator's root credentials and the
platform's code can then run under the roles Terraform created, with every request checked.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# moto's default account: requests signed with keys moto does not know are served as this account.
ACCOUNT_ID = "123456789012"
ADMIN_KEY = {"aws_access_key_id": "e2e-admin", "aws_secret_access_key": "e2e-admin"}
BOOTSTRAP_SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "scripts" / "bootstrap_account.py"
OPERATOR = "e2e-operator"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Credentials:
    """Temporary (or access-key) credentials of one identity on the emulator."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def boto(self) -> dict[str, str]:
        out = {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        if self.session_token:
            out["aws_session_token"] = self.session_token
        return out

    def environ(self) -> dict[str, str]:
        """The variables boto3 (inside the platform's code) reads."""
        out = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            out["AWS_SESSION_TOKEN"] = self.session_token
        return out


class MotoServer:
    """`python -m moto.server` on a free 127.0.0.1 port, for one test session."""

    def __init__(self, log_path: Path, region: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.region = region
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"moto server did not listen on {self.url} within 30 s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no moto log)"

    def client(self, service: str, creds: Credentials | None = None, **extra: Any) -> Any:
        """A boto3 client on the emulator: the admin (before enforcement) unless creds are given."""
        keys = creds.boto() if creds else ADMIN_KEY
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url,
            region_name=self.region,
            config=Config(retries={"max_attempts": 2}),
            **keys,
            **extra,
        )

    # -- IAM enforcement ---------------------------------------------------------------------------------
    def _reset_auth(self, value: str) -> dict[str, str]:
        """moto_api reset_auth_response: INITIAL_NO_AUTH_ACTION_COUNT = float(body); 0 = check all."""
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=value.encode(),
            method="POST",
            # A form content type would make Flask swallow the body (request.data == b"").
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            result: dict[str, str] = json.loads(response.read())
        return result

    def enforce_iam(self, on: bool) -> None:
        self._reset_auth("0" if on else "inf")

    @contextmanager
    def iam_enforced(self) -> Iterator[None]:
        """Every request inside is authenticated (signature, key) and authorized by the caller's policies."""
        self.enforce_iam(True)
        try:
            yield
        finally:
            self.enforce_iam(False)


@dataclass(frozen=True)
class Network:
    """What the network team owns in a real account and the stacks only reference."""

    vpc_id: str
    cidr: str
    private_subnet_ids: tuple[str, ...]


def create_network(moto: MotoServer, cidr: str = "10.10.0.0/16", subnets: int = 3) -> Network:
    """A VPC with private subnets in distinct AZs, each associated with its own route table (no IGW)."""
    ec2 = moto.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
        ec2.modify_vpc_attribute(VpcId=vpc_id, **{attribute: {"Value": True}})
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:subnets]
    base = cidr.split(".")
    subnet_ids = []
    for i, zone in enumerate(zones):
        subnet_cidr = f"{base[0]}.{base[1]}.{i * 16}.0/20"
        subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=subnet_cidr, AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)
        subnet_ids.append(subnet_id)
    return Network(vpc_id=vpc_id, cidr=cidr, private_subnet_ids=tuple(subnet_ids))


def create_state_bucket(moto: MotoServer, bucket: str, env: str) -> list[str]:
    """The account's Terraform state bucket and its stacks' empty states, as `make bootstrap-account` leaves
    them before the first plan (the seeding is the bootstrap script's own function). Returns the seeded
    keys."""
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    spec = importlib.util.spec_from_file_location("bootstrap_account", BOOTSTRAP_SCRIPT)
    assert spec is not None and spec.loader is not None
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    keys = [f"{env}/{stack}/terraform.tfstate" for stack in bootstrap.stack_order(env)]
    return list(bootstrap.seed_stack_states(s3, bucket, keys))


def create_operator(moto: MotoServer) -> Credentials:
    """An IAM user allowed sts:AssumeRole only: the identity the harness takes the stack's roles with."""
    iam = moto.client("iam")
    iam.create_user(UserName=OPERATOR)
    iam.put_user_policy(
        UserName=OPERATOR,
        PolicyName="assume-roles-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=OPERATOR)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def assume(moto: MotoServer, caller: Credentials, role_arn: str, session: str, **extra: str) -> Credentials:
    response = moto.client("sts", caller).assume_role(RoleArn=role_arn, RoleSessionName=session, **extra)
    c = response["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
