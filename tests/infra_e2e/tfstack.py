"""The Terraform side of `make infra-e2e`: synthesize a stack, make an emulator copy of it, run terraform.

The copy differs from what `make plan` deploys only in ways this module spells out and the tests assert:
- `zz_emulator_override.tf.json` (Terraform merges `*_override.tf.json`): provider, S3 backend and remote
  state pointed at the emulator, the AWS provider version relaxed to the local mirror's, plus the adjustments
  of IGNORED_ATTRIBUTES and of bucket policies (each with the emulator behaviour that makes it necessary);
- resources of types the emulator cannot create (UNSUPPORTED) are removed from `cdk.tf.json`, with everything
  that references them (computed from the JSON), and reported;
- files the stack uploads (`${path.module}/...`: Lambda zip, MWAA bundle) are small stand-ins: the emulator
  never runs them, the tests run the real code in-process under the roles instead.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
INFRA_PY = INFRA / ".venv" / "bin" / "python"
OVERRIDE_FILE = "zz_emulator_override.tf.json"
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
MIRROR_ROOTS = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)

# ------------------------------------------------------------------------------------- what moto cannot do
# Each rule: resource type -> function(resource body) returning why the emulator cannot create it, or None.
# The reasons quote what moto 5.2.5 answered when the resource was left in (tests assert the exact list).


def _mq_event_source(body: dict[str, Any]) -> str | None:
    if "aws_mq_broker." in json.dumps(body.get("event_source_arn", "")):
        return (
            "moto's CreateEventSourceMapping accepts SQS, DynamoDB stream and Kinesis sources only; for an "
            "Amazon MQ broker it answers `ResourceNotFoundException: Invalid EventSourceArn`"
        )
    return None


UNSUPPORTED: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "aws_mwaa_environment": lambda _: (
        "moto has no MWAA API: CreateEnvironment is sent to `api.<endpoint>` (`dial tcp: lookup "
        "api.127.0.0.1: no such host`) and moto serves no `mwaa` service under any host"
    ),
    "aws_lambda_event_source_mapping": _mq_event_source,
}

# Attributes moto accepts but never returns: a second plan would always show them as changes.
# resource type -> [(attribute, applies to this resource body?, why)]
IGNORED_ATTRIBUTES: dict[str, list[tuple[str, Callable[[dict[str, Any]], bool], str]]] = {
    "aws_lambda_function": [
        (
            "dead_letter_config",
            lambda body: "dead_letter_config" in body,
            "moto's Lambda accepts DeadLetterConfig but drops it (GetFunction never returns it): every plan "
            "would re-add it",
        ),
    ],
    **{
        f"aws_vpc_security_group_{kind}_rule": [
            (
                "description",
                lambda body: "description" in body and "referenced_security_group_id" in body,
                "moto keeps a rule's description only for CIDR rules (SecurityGroupRule.description reads "
                "ip_range): a rule that references a security group comes back without it",
            ),
        ]
        for kind in ("ingress", "egress")
    },
}

# moto evaluates bucket policies on object requests (s3/responses.py, _key_response) but implements only the
# StringEquals condition operator (iam/policy_conditions.py): a Deny with any other operator, e.g.
# `Bool aws:SecureTransport = false`, matches EVERY request, over TLS or not. Such statements are dropped from
# the copy (and listed); Allow statements are kept (moto treats their conditions as met).
MOTO_CONDITION_OPERATORS = {"StringEquals"}


@dataclass
class Adjustment:
    address: str
    change: str
    reason: str


@dataclass
class Exclusion:
    address: str
    reason: str


@dataclass
class EmulatorCopy:
    """The prepared stack directory and everything that was changed to run it on the emulator."""

    workdir: Path
    exclusions: list[Exclusion]
    adjustments: list[Adjustment]
    stand_ins: list[str]
    services: list[str]
    config: dict[str, Any]  # cdk.tf.json as terraform runs it (after exclusions)
    original: dict[str, Any]  # cdk.tf.json as synthesized


# ------------------------------------------------------------------------------------------- synthesis


def synthesize(env: str, overlay: Path, outdir: Path) -> Path:
    """`infra/main.py` for one environment into outdir (what `make synth` runs); returns the stacks dir."""
    run_env = {
        **os.environ,
        "ENV": env,
        "INFRA_CONFIG_OVERLAY": str(overlay),
        "CDKTF_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_RUNTIME_PACKAGE_CACHE_ROOT": os.environ.get(
            "JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(Path.home() / ".cache" / "jsii")
        ),
    }
    result = subprocess.run(
        [str(INFRA_PY), "main.py"],
        check=False,
        cwd=INFRA,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"synthesis of {env} failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return outdir / "stacks"


# ----------------------------------------------------------------------------------------- tools present


def find_mirror() -> tuple[Path, str] | None:
    """(mirror root, aws provider version) of a filesystem mirror holding hashicorp/aws, if one exists."""
    candidates = [Path(os.environ["TF_PROVIDER_MIRROR"])] if os.environ.get("TF_PROVIDER_MIRROR") else []
    candidates += [Path(p).expanduser() for p in MIRROR_ROOTS]
    for root in candidates:
        found = sorted(root.glob(f"{AWS_PROVIDER}/*/*/terraform-provider-aws*"))
        if found:
            return root, found[-1].parents[1].name
    try:  # the brief's way to find it: anywhere on this filesystem
        out = subprocess.run(
            ["find", "/", "-xdev", "-name", "terraform-provider-aws*", "-path", f"*{AWS_PROVIDER}/*"],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()
    except subprocess.TimeoutExpired:
        return None
    for hit in sorted(out):
        path = Path(hit)
        # <root>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/terraform-provider-aws_...
        return path.parents[5], path.parents[1].name
    return None


def cli_config(path: Path, mirror: Path) -> Path:
    """Providers from the mirror only; nothing is ever fetched from a registry."""
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        f'    include = ["{AWS_PROVIDER}"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/*/*", "registry.opentofu.org/*/*"]\n'
        "  }\n"
        "}\n"
    )
    return path


# ---------------------------------------------------------------------------------- reference graph


def blocks(config: dict[str, Any]) -> dict[str, Any]:
    """address -> body for every resource, data source, local and output of a synthesized stack."""
    out: dict[str, Any] = {}
    for rtype, items in config.get("resource", {}).items():
        for name, body in items.items():
            out[f"{rtype}.{name}"] = body
    for dtype, items in config.get("data", {}).items():
        for name, body in items.items():
            out[f"data.{dtype}.{name}"] = body
    for name, value in config.get("locals", {}).items():
        out[f"local.{name}"] = value
    for name, body in config.get("output", {}).items():
        out[f"output.{name}"] = body
    return out


def _strip_meta(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_meta(v) for k, v in value.items() if k != "//"}
    if isinstance(value, list):
        return [_strip_meta(v) for v in value]
    return value


def references(config: dict[str, Any]) -> dict[str, set[str]]:
    """address -> addresses it refers to (interpolations and depends_on)."""
    all_blocks = blocks(config)
    patterns = {a: re.compile(rf"(?<![\w.-]){re.escape(a)}(?![\w-])") for a in all_blocks}
    out: dict[str, set[str]] = {}
    for address, body in all_blocks.items():
        text = json.dumps(_strip_meta(body))
        out[address] = {other for other, pat in patterns.items() if other != address and pat.search(text)}
    return out


def dependents(config: dict[str, Any], roots: Iterable[str]) -> dict[str, str]:
    """Every block that (transitively) references one of roots -> the root-side address it references."""
    refs = references(config)
    gone = set(roots)
    removed: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for address, targets in refs.items():
            hit = sorted(targets & gone)
            if address not in gone and hit:
                removed[address] = hit[0]
                gone.add(address)
                changed = True
    return removed


def _delete(config: dict[str, Any], address: str) -> None:
    parts = address.split(".")
    if parts[0] == "data":
        section, key, name = "data", parts[1], parts[2]
    elif parts[0] in ("local", "output"):
        bucket = config["locals" if parts[0] == "local" else "output"]
        del bucket[parts[1]]
        if not bucket:
            del config["locals" if parts[0] == "local" else "output"]
        return
    else:
        section, key, name = "resource", parts[0], parts[1]
    del config[section][key][name]
    if not config[section][key]:
        del config[section][key]


# ------------------------------------------------------------------------------------------ the copy

# Resource type prefix -> the provider's endpoint key, where the type does not start with it.
ENDPOINT_OF_PREFIX = {
    "aws_security_group": "ec2",
    "aws_vpc": "ec2",
    "aws_subnet": "ec2",
    "aws_route": "ec2",
    "aws_network_interface": "ec2",
    "aws_prefix_list": "ec2",
    "aws_ec2_managed_prefix_list": "ec2",
    "aws_cloudwatch_log": "logs",
    "aws_cloudwatch_event": "events",
    "aws_cloudwatch_metric_alarm": "cloudwatch",
    "aws_caller_identity": "sts",
    "aws_region": "ec2",
    "aws_partition": "sts",
    "aws_iam": "iam",
    "aws_s3control": "s3control",
}
# Endpoint keys of the provider (5.x/6.x) whose name is a resource type prefix (`aws_<key>_...`).
ENDPOINT_KEYS = (
    "s3",
    "kms",
    "lambda",
    "mq",
    "mwaa",
    "secretsmanager",
    "sqs",
    "sns",
    "ssm",
    "sts",
    "xray",
    "dynamodb",
    "kinesis",
    "events",
    "scheduler",
    "cloudwatch",
    "ec2",
    "acm",
    "route53",
    "glue",
    "athena",
    "firehose",
)
# Always pointed at the emulator: the provider itself calls STS (account id) and IAM.
BASE_ENDPOINTS = ("sts", "iam", "s3")


def endpoint_for(rtype: str) -> str | None:
    """The provider endpoint key a resource or data source type talks to (None = unknown: add it here)."""
    for prefix, key in sorted(ENDPOINT_OF_PREFIX.items(), key=lambda kv: -len(kv[0])):
        if rtype == prefix or rtype.startswith(prefix + "_"):
            return key
    for key in sorted(ENDPOINT_KEYS, key=len, reverse=True):
        if rtype == f"aws_{key}" or rtype.startswith(f"aws_{key}_"):
            return key
    return None


def aws_types(config: dict[str, Any]) -> set[str]:
    types = {t for t in config.get("resource", {}) if t.startswith("aws_")}
    return types | {t for t in config.get("data", {}) if t.startswith("aws_")}


def _stand_in(path: Path) -> None:
    """Deterministic small file (same hash on every plan) standing in for a built artifact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    note = f"infra-e2e stand-in for {path.name}: the emulator stores it, never runs it\n"
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            info = zipfile.ZipInfo("STAND_IN.txt", date_time=(2026, 1, 1, 0, 0, 0))
            archive.writestr(info, note)
    else:
        path.write_text(note)


def _policy_adjustment(body: dict[str, Any]) -> tuple[str, list[str]] | None:
    """The bucket policy without Deny statements whose conditions moto cannot evaluate (and their Sids)."""
    try:
        policy = json.loads(body["policy"])
    except (KeyError, TypeError, ValueError):
        return None
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept, dropped = [], []
    for statement in statements:
        operators = set(statement.get("Condition", {}))
        if statement.get("Effect") == "Deny" and operators - MOTO_CONDITION_OPERATORS:
            dropped.append(f"{statement.get('Sid', '?')} ({', '.join(sorted(operators))})")
        else:
            kept.append(statement)
    if not dropped:
        return None
    policy["Statement"] = kept
    return json.dumps(policy, sort_keys=True), dropped


def _emulated(block: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """S3 backend / remote state settings pointed at the emulator (credentials come from the environment)."""
    return {
        **block,
        "endpoints": {"s3": endpoint, "sts": endpoint, "iam": endpoint, "dynamodb": endpoint},
        "use_path_style": True,
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": True,
        "skip_region_validation": True,
    }


def prepare(stack_dir: Path, work_root: Path, endpoint: str, provider_version: str) -> EmulatorCopy:
    """Copy a synthesized stack for the emulator (see the module docstring); work_root mirrors the repo."""
    relative = stack_dir.relative_to(stack_dir.parents[2])  # cdktf.out/stacks/<stack>
    workdir = work_root / "infra" / relative
    shutil.copytree(stack_dir, workdir)
    original = json.loads((workdir / "cdk.tf.json").read_text())
    config = copy.deepcopy(original)

    # 1. Resource types the emulator cannot create, and whatever references them.
    exclusions: list[Exclusion] = []
    roots: list[str] = []
    for rtype, rule in UNSUPPORTED.items():
        for name, body in config.get("resource", {}).get(rtype, {}).items():
            reason = rule(body)
            if reason:
                roots.append(f"{rtype}.{name}")
                exclusions.append(Exclusion(f"{rtype}.{name}", reason))
    for address, via in sorted(dependents(config, roots).items()):
        exclusions.append(Exclusion(address, f"references {via}"))
    for item in exclusions:
        _delete(config, item.address)
    if os.environ.get("H1_DEV_LOGGING_FIX"):  # DEV-ONLY, remove
        pol = [
            f"aws_s3_bucket_policy.{n}"
            for n in config["resource"]["aws_s3_bucket_policy"]
            if "access-logs" in n
        ]
        for body in config["resource"].get("aws_s3_bucket_logging", {}).values():
            body["depends_on"] = body.get("depends_on", []) + pol
    (workdir / "cdk.tf.json").write_text(json.dumps(config, indent=2))

    # 2. Adjustments, all in the override file.
    adjustments: list[Adjustment] = []
    resource_override: dict[str, dict[str, Any]] = {}
    for rtype, rules in IGNORED_ATTRIBUTES.items():
        for name, body in config.get("resource", {}).get(rtype, {}).items():
            present = [(attribute, why) for attribute, applies, why in rules if applies(body)]
            if present:
                ignored = list(body.get("lifecycle", {}).get("ignore_changes", [])) + [a for a, _ in present]
                resource_override.setdefault(rtype, {})[name] = {"lifecycle": {"ignore_changes": ignored}}
                adjustments += [
                    Adjustment(f"{rtype}.{name}", f"lifecycle.ignore_changes += {a}", why)
                    for a, why in present
                ]
    for name, body in config.get("resource", {}).get("aws_s3_bucket_policy", {}).items():
        adjusted = _policy_adjustment(body)
        if adjusted:
            policy, dropped = adjusted
            resource_override.setdefault("aws_s3_bucket_policy", {})[name] = {"policy": policy}
            adjustments.append(
                Adjustment(
                    f"aws_s3_bucket_policy.{name}",
                    f"Deny statement dropped: {', '.join(dropped)}",
                    "moto evaluates bucket policies on object requests but implements only StringEquals: "
                    "this conditional Deny would deny every request",
                )
            )

    # 3. Provider, backend and remote state on the emulator; the provider version the mirror has.
    types = aws_types(config) | aws_types(original)
    services = sorted({s for s in (endpoint_for(t) for t in types) if s} | set(BASE_ENDPOINTS))
    providers = config.get("provider", {}).get("aws", [{}])
    provider_override = [
        {
            **({"alias": p["alias"]} if "alias" in p else {}),
            "endpoints": [dict.fromkeys(services, endpoint)],
            "skip_credentials_validation": True,
            "skip_metadata_api_check": True,
            # Not skipped: the provider asks the emulator's STS who it is, so allowed_account_ids (kept from
            # the stack) is really checked against the configured account.
            "skip_requesting_account_id": False,
            "s3_use_path_style": True,
        }
        for p in providers
    ]
    terraform = config.get("terraform", {})
    requirement = dict(terraform.get("required_providers", {}).get("aws", {"source": "hashicorp/aws"}))
    requirement["version"] = provider_version
    override: dict[str, Any] = {
        "terraform": {"required_providers": {"aws": requirement}},
        "provider": {"aws": provider_override},
    }
    if "s3" in terraform.get("backend", {}):
        override["terraform"]["backend"] = {"s3": _emulated(terraform["backend"]["s3"], endpoint)}
    remote = {
        name: {"config": _emulated(body["config"], endpoint)}
        for name, body in config.get("data", {}).get("terraform_remote_state", {}).items()
        if body.get("backend") == "s3"
    }
    if remote:
        override["data"] = {"terraform_remote_state": remote}
    if resource_override:
        override["resource"] = resource_override
    (workdir / OVERRIDE_FILE).write_text(json.dumps(override, indent=2))

    # 4. Stand-ins for the files the stack uploads.
    stand_ins = []
    for rel in sorted(set(re.findall(r"\$\{path\.module\}/([^\"\\)}\s]+)", json.dumps(config)))):
        target = (workdir / rel).resolve()
        if not target.is_relative_to(work_root.resolve()):
            raise AssertionError(
                f"the stack reads {rel!r}, outside the repository layout: cannot stand it in"
            )
        _stand_in(target)
        stand_ins.append(str(target.relative_to(work_root.resolve())))
    return EmulatorCopy(workdir, exclusions, adjustments, stand_ins, services, config, original)


# ------------------------------------------------------------------------------------------- terraform


@dataclass
class Step:
    name: str
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def explain(self) -> str:
        return (
            f"terraform {' '.join(self.argv)} exited {self.returncode} after {self.seconds:.1f} s\n"
            f"--- stderr ---\n{self.stderr[-8000:]}\n--- stdout (tail) ---\n{self.stdout[-4000:]}"
        )

    def resource_times(self) -> dict[str, float]:
        """address -> seconds from the `...: Creation complete after 1m2s` lines."""
        out: dict[str, float] = {}
        for address, text in re.findall(
            r"^(\S+): (?:Creation|Destruction) complete after (\S+)", self.stdout, re.M
        ):
            minutes = re.search(r"(\d+)m", text)
            seconds = re.search(r"(\d+)s", text)
            out[address] = (int(minutes.group(1)) * 60 if minutes else 0) + (
                int(seconds.group(1)) if seconds else 0
            )
        return out


@dataclass
class Terraform:
    workdir: Path
    cli_config: Path
    endpoint: str
    region: str
    binary: str = "terraform"
    steps: dict[str, Step] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        """None of the caller's AWS or Terraform configuration leaks in: no real account is ever reached."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
        env.update(
            TF_CLI_CONFIG_FILE=str(self.cli_config),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            AWS_ACCESS_KEY_ID="e2e-admin",
            AWS_SECRET_ACCESS_KEY="e2e-admin",
            AWS_REGION=self.region,
            AWS_DEFAULT_REGION=self.region,
            AWS_EC2_METADATA_DISABLED="true",
        )
        return env

    def run(self, name: str, *args: str, timeout: float = 600) -> Step:
        argv = [*args, "-no-color"]
        started = time.monotonic()
        result = subprocess.run(
            [self.binary, *argv],
            check=False,
            cwd=self.workdir,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        step = Step(name, argv, result.returncode, result.stdout, result.stderr, time.monotonic() - started)
        self.steps[name] = step
        return step

    def output(self) -> dict[str, Any]:
        step = self.run("output", "output", "-json")
        if step.returncode != 0:
            raise AssertionError(step.explain())
        return {k: v["value"] for k, v in json.loads(step.stdout).items()}

    def state(self) -> dict[str, Any]:
        """`terraform show -json`: address -> values of every managed resource."""
        step = self.run("show", "show", "-json")
        if step.returncode != 0:
            raise AssertionError(step.explain())
        root = json.loads(step.stdout).get("values", {}).get("root_module", {})
        return {r["address"]: r["values"] for r in root.get("resources", []) if r.get("mode") == "managed"}
