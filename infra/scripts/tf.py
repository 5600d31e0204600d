"""The one Terraform driver: `make plan/apply/destroy/bootstrap` and the promotion workflow both call it.

    tf.py --env dev plan [--only STACK] [--plan-bucket B --plan-id ID] [--input PATH ...]
    tf.py --env dev apply [--confirm apply-prod]
    tf.py --env dev destroy [--confirm destroy-prod]
    tf.py --env dev order | outputs NAME... | settings
Common options: --stacks-dir (default infra/cdktf.out/stacks), --order "a b" (default: the environment's stack
order from infra/cardinfra/config.py), --terraform BIN.

`plan` saves a plan per stack (`-out=tfplan`) in apply order, writes a readable `tfplan.txt` (`terraform show
-no-color`: sensitive values masked) and `tfplan.sha256`, prints a summary, and records everything the plan
depends on in `<stacks dir>/plans.json`. A saved plan holds sensitive values in clear text, so with
--plan-bucket the binary plans go to the environment's state bucket (SSE-KMS,
`plans/<env>/<id>/<stack>/tfplan`) and are removed locally: the workflow's artifact carries only the text,
the checksums and the manifest.
`apply` applies exactly those plans (downloaded again when not local, checksum verified), refuses a missing,
already-applied or stale plan with the command to run, and refuses prod without `--confirm apply-prod`.
`destroy` destroys in reverse order (`-auto-approve` after the prod guard). `settings` prints, as GitHub
step outputs, the names the workflow derives from the environment's TOML (region, roles, state bucket, dbt
identity); `outputs` prints chosen non-sensitive outputs of a stack (the AWS stack by default).
Standard library only, except boto3 for the plan store (infra/.venv has it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INFRA = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(INFRA))

from cardinfra.names import names  # noqa: E402

MANIFEST = "plans.json"
PLAN = "tfplan"
PLAN_TEXT = "tfplan.txt"
PLAN_SUM = "tfplan.sha256"
CONFIG = "cdk.tf.json"
CONFIRM = {"apply": "apply-prod", "destroy": "destroy-prod"}
LOCK_TIMEOUT = "-lock-timeout=5m"


class DriverError(SystemExit):
    """A refusal with what to do next (exit status 1); never carries a secret."""

    def __init__(self, message: str) -> None:
        super().__init__(f"tf: {message}")  # SystemExit with a message: printed to stderr, exit status 1


@dataclass(frozen=True)
class Ctx:
    env: str
    stacks_dir: Path
    order: list[str]
    terraform: str

    def make(self, target: str) -> str:
        return f"make {target} ENV={self.env}"


# ------------------------------------------------------------------------------------------------ helpers


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def fingerprint(path: Path) -> str:
    """sha256 of a file, or of a directory's files (names + contents, sorted; __pycache__ ignored)."""
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        return "missing"
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0" + sha256_file(item).encode())
    return digest.hexdigest()


def _tf_env() -> dict[str, str]:
    return {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}


def run_tf(ctx: Ctx, stack: str, *args: str, quiet: bool = False) -> str:
    """Run terraform in a stack directory. Streams stdout + stderr and returns them, or (quiet) returns stdout
    alone, so machine-readable output (`show -json`, `output -json`) is never mixed with warnings."""
    cmd = [ctx.terraform, f"-chdir={ctx.stacks_dir / stack}", *args]
    if quiet:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_tf_env(), check=False)
        if proc.returncode != 0:
            sys.stdout.write(proc.stdout + proc.stderr)
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout + proc.stderr)
        return proc.stdout
    stream = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_tf_env(), bufsize=1
    )
    assert stream.stdout is not None
    lines = []
    for line in stream.stdout:
        lines.append(line)
        sys.stdout.write(line)
        sys.stdout.flush()
    out = "".join(lines)
    if stream.wait() != 0:
        raise subprocess.CalledProcessError(stream.returncode, cmd, out)
    return out


def terraform_version(ctx: Ctx) -> str:
    out = subprocess.run(
        [ctx.terraform, "version", "-json"], check=True, capture_output=True, text=True, env=_tf_env()
    ).stdout
    return str(json.loads(out)["terraform_version"])


def init(ctx: Ctx, stack: str) -> None:
    if not (ctx.stacks_dir / stack / CONFIG).is_file():
        raise DriverError(f"{ctx.stacks_dir / stack / CONFIG} is missing: run `{ctx.make('synth')}` first")
    try:
        run_tf(ctx, stack, "init", "-input=false", quiet=True)
    except subprocess.CalledProcessError:
        raise DriverError(f"terraform init failed in {ctx.stacks_dir / stack} (output above)") from None


def summarize(plan_json: dict[str, Any]) -> dict[str, Any]:
    """Counts and addresses of a `terraform show -json` plan. Pure; keeps no attribute values (they may be
    sensitive): only addresses and actions."""
    counts = {"add": 0, "change": 0, "destroy": 0}
    changes = []
    for rc in plan_json.get("resource_changes", []):
        actions = rc.get("change", {}).get("actions", [])
        if actions in (["no-op"], ["read"]) or not actions:
            continue
        if "create" in actions:
            counts["add"] += 1
        if "delete" in actions:
            counts["destroy"] += 1
        if actions == ["update"]:
            counts["change"] += 1
        kind = "replace" if len(actions) == 2 else actions[0]
        changes.append({"address": rc["address"], "action": kind})
    outputs = sorted(
        name
        for name, oc in plan_json.get("output_changes", {}).items()
        if oc.get("actions", ["no-op"]) != ["no-op"]
    )
    return {**counts, "changes": changes, "outputs": outputs}


def _summary_line(stack: str, s: dict[str, Any]) -> str:
    return f"{stack}: {s['add']} to add, {s['change']} to change, {s['destroy']} to destroy"


_SYMBOL = {"create": "+", "update": "~", "delete": "-", "replace": "-/+"}


def print_summary(stacks: list[dict[str, Any]]) -> None:
    print("\n== plan summary (apply order)")
    for st in stacks:
        print(_summary_line(st["name"], st["summary"]))
        for change in st["summary"]["changes"]:
            print(f"    {_SYMBOL.get(change['action'], '?'):>3} {change['address']} ({change['action']})")
        if st["summary"]["outputs"]:
            print(f"    outputs changing: {', '.join(st['summary']['outputs'])}")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a") as fh:
            fh.write("### Terraform plan\n\n| stack | add | change | destroy |\n|---|---|---|---|\n")
            for st in stacks:
                s = st["summary"]
                fh.write(f"| `{st['name']}` | {s['add']} | {s['change']} | {s['destroy']} |\n")
            fh.write(
                "\nFull text per stack: `tfplan.txt` in the deploy artifact (sensitive values masked).\n"
            )


def load_manifest(ctx: Ctx) -> dict[str, Any]:
    path = ctx.stacks_dir / MANIFEST
    if not path.is_file():
        raise DriverError(f"no saved plans in {ctx.stacks_dir}: run `{ctx.make('plan')}` first")
    manifest: dict[str, Any] = json.loads(path.read_text())
    if manifest.get("env") != ctx.env:
        raise DriverError(
            f"the saved plans in {ctx.stacks_dir} are for {manifest.get('env')!r}, not {ctx.env!r}: "
            f"run `{ctx.make('plan')}`"
        )
    return manifest


def save_manifest(ctx: Ctx, manifest: dict[str, Any]) -> None:
    tmp = ctx.stacks_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(ctx.stacks_dir / MANIFEST)


def guard(ctx: Ctx, action: str, confirm: str | None) -> None:
    """Prod refuses apply/destroy without the explicit confirmation word."""
    if ctx.env == "prod" and confirm != CONFIRM[action]:
        raise DriverError(
            f"refusing to {action} prod: run `make {action} ENV=prod CONFIRM={CONFIRM[action]}` "
            "if you really mean it"
        )


def _s3() -> Any:
    import boto3  # noqa: PLC0415 (only the plan store needs it)

    return boto3.client("s3")


def plan_key(env: str, plan_id: str, stack: str) -> str:
    return f"{names.TERRAFORM_PLANS_PREFIX}{env}/{plan_id}/{stack}/{PLAN}"


# ----------------------------------------------------------------------------------------------- commands


def cmd_plan(ctx: Ctx, args: argparse.Namespace) -> None:
    stacks = select(ctx, args.only)
    if bool(args.plan_bucket) != bool(args.plan_id):
        raise DriverError("--plan-bucket and --plan-id go together (the workflow sets both)")
    (ctx.stacks_dir / MANIFEST).unlink(missing_ok=True)  # a failed plan leaves nothing to apply
    for stack in ctx.order:
        for name in (PLAN, PLAN_TEXT, PLAN_SUM):
            (ctx.stacks_dir / stack / name).unlink(missing_ok=True)
    version = terraform_version(ctx)
    if version != names.TERRAFORM_VERSION:
        print(f"tf: warning: terraform {version} here, the workflow pins {names.TERRAFORM_VERSION}")
    inputs = {str(p): fingerprint(Path(p)) for p in args.input}
    missing = [p for p, h in inputs.items() if h == "missing"]
    if missing:
        raise DriverError(f"plan inputs missing: {', '.join(missing)} (make plan builds them)")
    records: list[dict[str, Any]] = []
    for stack in stacks:
        print(f"== {stack}: terraform plan")
        init(ctx, stack)
        try:
            run_tf(ctx, stack, "plan", "-input=false", LOCK_TIMEOUT, f"-out={PLAN}")
        except subprocess.CalledProcessError:
            raise DriverError(f"terraform plan failed for {stack} (output above)") from None
        stack_dir = ctx.stacks_dir / stack
        (stack_dir / PLAN_TEXT).write_text(run_tf(ctx, stack, "show", "-no-color", PLAN, quiet=True))
        summary = summarize(json.loads(run_tf(ctx, stack, "show", "-json", PLAN, quiet=True)))
        digest = sha256_file(stack_dir / PLAN)
        (stack_dir / PLAN_SUM).write_text(f"{digest}  {PLAN}\n")
        records.append(
            {
                "name": stack,
                "sha256": digest,
                "config_sha256": sha256_file(stack_dir / CONFIG),
                "summary": summary,
                "applied": False,
            }
        )
    store = None
    if args.plan_bucket:
        store = {"bucket": args.plan_bucket, "plan_id": args.plan_id}
        s3 = _s3()
        for rec in records:
            key = plan_key(ctx.env, args.plan_id, rec["name"])
            path = ctx.stacks_dir / rec["name"] / PLAN
            s3.put_object(
                Bucket=args.plan_bucket,
                Key=key,
                Body=path.read_bytes(),
                ServerSideEncryption="aws:kms",
                Metadata={"sha256": rec["sha256"]},
            )
            path.unlink()  # the binary plan (sensitive values in clear) never leaves the state bucket again
            print(f"tf: stored the {rec['name']} plan at s3://{args.plan_bucket}/{key} (SSE-KMS)")
    manifest = {
        "env": ctx.env,
        "terraform_version": version,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "store": store,
        "inputs": inputs,
        "stacks": records,
    }
    save_manifest(ctx, manifest)
    print_summary(records)
    upstream = [r["name"] for r in records[:-1] if r["summary"]["outputs"]]
    if upstream:
        print(
            f"\nnote: outputs of {', '.join(upstream)} change; the stacks after it were planned against the"
            " current values. After this apply, plan and apply again (make bootstrap does plan+apply stack by"
            " stack)."
        )
    confirm = f" CONFIRM={CONFIRM['apply']}" if ctx.env == "prod" else ""
    print(
        f"\nsaved {len(records)} plan(s); review them (tfplan.txt per stack), then: "
        f"make apply ENV={ctx.env}{confirm}"
    )


def _fetch_plan(ctx: Ctx, manifest: dict[str, Any], rec: dict[str, Any]) -> Path:
    path: Path = ctx.stacks_dir / str(rec["name"]) / PLAN
    if not path.is_file():
        store = manifest.get("store")
        if not store:
            raise DriverError(f"the saved plan {path} is missing: run `{ctx.make('plan')}` again")
        key = plan_key(ctx.env, store["plan_id"], rec["name"])
        print(f"tf: fetching s3://{store['bucket']}/{key}")
        body = _s3().get_object(Bucket=store["bucket"], Key=key)["Body"].read()
        path.write_bytes(body)
    actual = sha256_file(path)
    if actual != rec["sha256"]:
        path.unlink()
        raise DriverError(
            f"{rec['name']}: the saved plan's sha256 is {actual}, the reviewed plan's is {rec['sha256']}: "
            f"refusing to apply a plan nobody reviewed; run `{ctx.make('plan')}` again"
        )
    return path


def cmd_apply(ctx: Ctx, args: argparse.Namespace) -> None:
    guard(ctx, "apply", args.confirm)
    manifest = load_manifest(ctx)
    pending = [rec for rec in manifest["stacks"] if not rec["applied"]]
    if not pending:
        raise DriverError(f"the saved plans were applied already: run `{ctx.make('plan')}` for new ones")
    version = terraform_version(ctx)
    if version != manifest["terraform_version"]:
        raise DriverError(
            f"the plans were made with terraform {manifest['terraform_version']}, this is {version}: a saved "
            f"plan only applies with the version that made it (names.TERRAFORM_VERSION = "
            f"{names.TERRAFORM_VERSION})"
        )
    stale = [p for p, h in manifest["inputs"].items() if fingerprint(Path(p)) != h]
    stale += [
        str(ctx.stacks_dir / rec["name"] / CONFIG)
        for rec in pending
        if not (ctx.stacks_dir / rec["name"] / CONFIG).is_file()
        or sha256_file(ctx.stacks_dir / rec["name"] / CONFIG) != rec["config_sha256"]
    ]
    if stale:
        raise DriverError(
            f"stale plans: {', '.join(stale)} changed since `make plan`; run `{ctx.make('plan')}` again"
        )
    for rec in pending:  # every plan fetched and verified before the first one is applied
        _fetch_plan(ctx, manifest, rec)
    for rec in pending:
        stack = rec["name"]
        print(f"== {stack}: terraform apply (saved plan)")
        init(ctx, stack)
        try:
            run_tf(ctx, stack, "apply", "-input=false", LOCK_TIMEOUT, PLAN)
        except subprocess.CalledProcessError as exc:
            if "Saved plan is stale" in (exc.output or ""):
                raise DriverError(
                    f"{stack}: the saved plan is stale (the state changed since it was made): "
                    f"run `{ctx.make('plan')}` again"
                ) from None
            raise DriverError(f"terraform apply failed for {stack} (output above)") from None
        (ctx.stacks_dir / stack / PLAN).unlink(missing_ok=True)
        rec["applied"] = True
        save_manifest(ctx, manifest)
    print(f"\napplied {len(pending)} saved plan(s) for {ctx.env}")


def cmd_destroy(ctx: Ctx, args: argparse.Namespace) -> None:
    guard(ctx, "destroy", args.confirm)
    (ctx.stacks_dir / MANIFEST).unlink(missing_ok=True)  # saved plans are meaningless after a destroy
    for stack in reversed(select(ctx, args.only)):
        print(f"== {stack}: terraform destroy")
        init(ctx, stack)
        try:
            run_tf(ctx, stack, "destroy", "-input=false", "-auto-approve", LOCK_TIMEOUT)
        except subprocess.CalledProcessError:
            raise DriverError(f"terraform destroy failed for {stack} (output above)") from None


def cmd_outputs(ctx: Ctx, args: argparse.Namespace) -> None:
    stack = args.stack or ctx.order[-1]
    init(ctx, stack)
    outputs = json.loads(run_tf(ctx, stack, "output", "-json", quiet=True))
    lines = []
    for name in args.names:
        out = outputs.get(name)
        if out is None:
            raise DriverError(f"{stack} has no output {name!r} (outputs: {', '.join(sorted(outputs))})")
        if out.get("sensitive") or not isinstance(out.get("value"), str):
            raise DriverError(f"{stack} output {name!r} is sensitive or not a string: not printed")
        lines.append(f"{name}={out['value']}")
    print("\n".join(lines))


def settings(env: str) -> dict[str, str]:
    """What the promotion derives from the environment's TOML and names.py (no GitHub variables needed)."""
    from cardinfra.config import ConfigError, get_config  # noqa: PLC0415

    try:
        cfg = get_config(env)  # validates the TOML: fails naming every value to set
    except ConfigError as exc:
        raise SystemExit(f"tf: {exc}") from None
    role = f"arn:aws:iam::{cfg.aws_account_id}:role/"
    return {
        "aws_region": cfg.region,
        "aws_account_id": cfg.aws_account_id,
        "state_bucket": cfg.state_bucket,
        "plan_role_arn": role + names.github_role(env, "plan"),
        "deploy_role_arn": role + names.github_role(env, "deploy"),
        "snowflake_account": f"{cfg.snowflake.organization_name}-{cfg.snowflake.account_name}",
        "dbt_user": names.service_user(env, names.TRANSFORMER),
        "dbt_role": names.TRANSFORMER,
        "dbt_warehouse": names.ROLE_WAREHOUSES[names.TRANSFORMER],
        "dbt_database": names.snowflake_database(env),
    }


def select(ctx: Ctx, only: Sequence[str] | None) -> list[str]:
    if not only:
        return list(ctx.order)
    unknown = [s for s in only if s not in ctx.order]
    if unknown:
        raise DriverError(
            f"unknown stack(s) {', '.join(unknown)}: {ctx.env}'s stacks are {' '.join(ctx.order)}"
        )
    return [s for s in ctx.order if s in only]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--env", required=True, choices=names.ENVIRONMENTS)
    parser.add_argument("--stacks-dir", type=Path, default=INFRA / "cdktf.out" / "stacks")
    parser.add_argument("--order", help="stack names in apply order (default: from the environment's config)")
    parser.add_argument("--terraform", default=os.environ.get("TERRAFORM", "terraform"))
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan")
    p.add_argument("--only", nargs="*")
    p.add_argument("--plan-bucket", default="")
    p.add_argument("--plan-id", default="")
    p.add_argument("--input", action="append", default=[], help="file or dir the plan reads (fingerprinted)")
    a = sub.add_parser("apply")
    a.add_argument("--confirm")
    d = sub.add_parser("destroy")
    d.add_argument("--confirm")
    d.add_argument("--only", nargs="*")
    o = sub.add_parser("outputs")
    o.add_argument("names", nargs="+")
    o.add_argument("--stack")
    sub.add_parser("order")
    sub.add_parser("settings")
    args = parser.parse_args(argv)

    if args.cmd == "settings":
        print("\n".join(f"{k}={v}" for k, v in settings(args.env).items()))
        return 0
    if args.order:
        order = args.order.split()
    else:
        from cardinfra.config import stack_order  # noqa: PLC0415 (names only: no configuration needed)

        order = stack_order(args.env)
    ctx = Ctx(args.env, args.stacks_dir, order, args.terraform)
    if args.cmd == "order":
        print(" ".join(order))
        return 0
    {"plan": cmd_plan, "apply": cmd_apply, "destroy": cmd_destroy, "outputs": cmd_outputs}[args.cmd](
        ctx, args
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
