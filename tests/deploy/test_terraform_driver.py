"""`make plan/apply/destroy/bootstrap` with real terraform on tiny provider-less stacks (local backend).

The targets are called as a user calls them; TF_STACKS_DIR / TF_STACK_ORDER point the driver at the test's
stacks and PLAN_DEPS= / DESTROY_DEPS= skip synthesizing the real ones, so what is tested is the Makefile
wiring plus infra/scripts/tf.py running terraform 1.11.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import boto3
import pytest
from conftest import (
    INFRA_PY,
    REPO,
    aws_env,
    make,
    needs_infra_venv,
    needs_terraform,
    tf_state,
    write_stack,
)

pytestmark = [needs_terraform, needs_infra_venv]

SECRET = "hunter2-broker-password"
ORDER = "first second"


class Stacks:
    """Two stacks in apply order; `second` optionally reads `first`'s outputs from its state, like the AWS
    stack reads the Snowflake stack's."""

    def __init__(self, root: Path, *, dependent: bool) -> None:
        self.root = root
        self.dir = root / "stacks"
        self.state = root / "state"
        self.state.mkdir(parents=True)
        self.write_first("v1")
        second: dict[str, object] = {
            "terraform": {"backend": {"local": {"path": str(self.state / "second.tfstate")}}}
        }
        if dependent:
            second["data"] = {
                "terraform_remote_state": {
                    "first": {"backend": "local", "config": {"path": str(self.state / "first.tfstate")}}
                }
            }
            second["resource"] = {
                "terraform_data": {"y": {"input": "${data.terraform_remote_state.first.outputs.value}"}}
            }
        else:
            second["resource"] = {"terraform_data": {"y": {"input": "independent"}}}
        write_stack(self.dir / "second", second)

    def write_first(self, value: str) -> None:
        write_stack(
            self.dir / "first",
            {
                "terraform": {"backend": {"local": {"path": str(self.state / "first.tfstate")}}},
                "variable": {"password": {"type": "string", "default": SECRET, "sensitive": True}},
                "resource": {
                    "terraform_data": {"x": {"input": value}, "broker_user": {"input": "${var.password}"}}
                },
                "output": {
                    "value": {"value": "${terraform_data.x.output}"},
                    "password": {"value": "${terraform_data.broker_user.output}", "sensitive": True},
                },
            },
        )

    def args(self, env: str = "dev", **extra: str) -> list[str]:
        base = {
            "ENV": env,
            "TF_STACKS_DIR": str(self.dir),
            "TF_STACK_ORDER": ORDER,
            "PLAN_DEPS": "",
            "DESTROY_DEPS": "",
            "TF_PLAN_INPUTS": "",
        }
        base.update(extra)
        return [f"{k}={v}" for k, v in base.items()]

    def resources(self, stack: str) -> list[str]:
        state = tf_state(self.state / f"{stack}.tfstate")
        return sorted(
            f"{r['type']}.{r['name']}" for r in state.get("resources", []) if r["mode"] == "managed"
        )

    def manifest(self) -> dict[str, object]:
        return json.loads((self.dir / "plans.json").read_text())


@pytest.fixture
def stacks(tmp_path: Path) -> Stacks:
    return Stacks(tmp_path, dependent=False)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


def _refused(proc: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert proc.returncode != 0, proc.stdout
    for text in expected:
        assert text in proc.stdout, (text, proc.stdout)
    return proc.stdout


def test_apply_without_a_saved_plan_is_refused_with_what_to_run(stacks: Stacks) -> None:
    _refused(make("apply", *stacks.args()), "no saved plans", "run `make plan ENV=dev` first")
    assert stacks.resources("first") == [] and stacks.resources("second") == []


def test_plan_saves_a_plan_per_stack_in_order_and_apply_applies_exactly_those(stacks: Stacks) -> None:
    out = _ok(make("plan", *stacks.args()))
    assert out.index("== first: terraform plan") < out.index("== second: terraform plan")
    assert "first: 2 to add, 0 to change, 0 to destroy" in out
    assert "second: 1 to add, 0 to change, 0 to destroy" in out
    assert "+ terraform_data.x (create)" in out
    assert "make apply ENV=dev" in out
    for stack in ("first", "second"):
        plan = stacks.dir / stack / "tfplan"
        assert (
            hashlib.sha256(plan.read_bytes()).hexdigest()
            in (stacks.dir / stack / "tfplan.sha256").read_text()
        )
        assert (
            "Terraform will perform the following actions" in (stacks.dir / stack / "tfplan.txt").read_text()
        )
    assert stacks.resources("first") == []  # planning changed nothing

    out = _ok(make("apply", *stacks.args()))
    assert out.index("== first: terraform apply") < out.index("== second: terraform apply")
    assert stacks.resources("first") == ["terraform_data.broker_user", "terraform_data.x"]
    assert stacks.resources("second") == ["terraform_data.y"]
    assert not (stacks.dir / "first" / "tfplan").exists()
    _refused(make("apply", *stacks.args()), "applied already", "make plan ENV=dev")


def test_plan_text_masks_what_the_binary_plan_holds_in_clear(stacks: Stacks) -> None:
    """Why binary plans never go into a GitHub artifact: they carry sensitive values, the text does not."""
    _ok(make("plan", *stacks.args()))
    text = (stacks.dir / "first" / "tfplan.txt").read_text()
    assert "(sensitive value)" in text and SECRET not in text
    with zipfile.ZipFile(stacks.dir / "first" / "tfplan") as plan:
        assert any(SECRET.encode() in plan.read(name) for name in plan.namelist())
    assert SECRET not in (stacks.dir / "plans.json").read_text()


def test_apply_refuses_a_plan_whose_stack_changed_since(stacks: Stacks) -> None:
    _ok(make("plan", *stacks.args()))
    stacks.write_first("v2")  # e.g. `make synth` after the plan was reviewed
    _refused(make("apply", *stacks.args()), "stale plans", "cdk.tf.json", "make plan ENV=dev")
    assert stacks.resources("first") == []


def test_apply_refuses_a_plan_whose_inputs_changed_since(stacks: Stacks, tmp_path: Path) -> None:
    artifact = tmp_path / "lambda.zip"
    artifact.write_bytes(b"one build")
    _ok(make("plan", *stacks.args(TF_PLAN_INPUTS=str(artifact))))
    artifact.write_bytes(b"another build")  # e.g. `make lambda-package` after the plan
    _refused(make("apply", *stacks.args(TF_PLAN_INPUTS=str(artifact))), "stale plans", str(artifact))
    assert stacks.resources("first") == []


def test_apply_refuses_a_plan_the_state_moved_past(stacks: Stacks, tmp_path: Path) -> None:
    """Terraform's own staleness check (state serial) surfaces with the command to run."""
    _ok(make("plan", *stacks.args()))
    kept = tmp_path / "kept"
    kept.mkdir()
    shutil.copy(stacks.dir / "plans.json", kept)
    for stack in ("first", "second"):
        shutil.copy(stacks.dir / stack / "tfplan", kept / stack)
    _ok(make("apply", *stacks.args()))
    shutil.copy(kept / "plans.json", stacks.dir)  # the same reviewed plans, once more
    for stack in ("first", "second"):
        shutil.copy(kept / stack, stacks.dir / stack / "tfplan")
    _refused(make("apply", *stacks.args()), "first: the saved plan is stale", "make plan ENV=dev")


def test_apply_refuses_a_plan_that_is_not_the_reviewed_one(stacks: Stacks) -> None:
    _ok(make("plan", *stacks.args()))
    with (stacks.dir / "second" / "tfplan").open("ab") as fh:
        fh.write(b"\0")
    _refused(make("apply", *stacks.args()), "second: the saved plan's sha256", "nobody reviewed")
    assert stacks.resources("first") == []  # verified before anything is applied


def test_prod_apply_needs_explicit_confirmation(stacks: Stacks) -> None:
    _refused(make("apply", *stacks.args("prod")), "refusing to apply prod", "CONFIRM=apply-prod")
    _ok(make("plan", *stacks.args("prod")))
    _refused(make("apply", *stacks.args("prod"), "CONFIRM=yes"), "refusing to apply prod")
    # the driver guards on its own too (the workflow calls it through make, a user could call it directly)
    driver = [str(INFRA_PY), "infra/scripts/tf.py", "--env", "prod", "--stacks-dir", str(stacks.dir)]
    direct = subprocess.run(
        [*driver, "--order", ORDER, "apply"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert direct.returncode != 0 and "CONFIRM=apply-prod" in direct.stderr
    assert stacks.resources("first") == []
    _ok(make("apply", *stacks.args("prod"), "CONFIRM=apply-prod"))
    assert stacks.resources("second") == ["terraform_data.y"]


def test_destroy_really_destroys_in_reverse_order(stacks: Stacks) -> None:
    _ok(make("plan", *stacks.args()))
    _ok(make("apply", *stacks.args()))
    out = _ok(make("destroy", *stacks.args()))
    assert out.index("== second: terraform destroy") < out.index("== first: terraform destroy")
    assert stacks.resources("first") == [] and stacks.resources("second") == []
    assert not (stacks.dir / "plans.json").exists()  # no saved plan survives a destroy


def test_prod_destroy_needs_explicit_confirmation(stacks: Stacks) -> None:
    _ok(make("plan", *stacks.args("prod")))
    _ok(make("apply", *stacks.args("prod"), "CONFIRM=apply-prod"))
    _refused(make("destroy", *stacks.args("prod")), "refusing to destroy prod")
    assert stacks.resources("first") != []
    _ok(make("destroy", *stacks.args("prod"), "CONFIRM=destroy-prod"))
    assert stacks.resources("first") == []


def test_outputs_prints_plain_outputs_and_never_sensitive_ones(stacks: Stacks) -> None:
    _ok(make("plan", *stacks.args()))
    _ok(make("apply", *stacks.args()))

    def outputs(*names: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(INFRA_PY), "infra/scripts/tf.py", "--env", "dev", "--stacks-dir", str(stacks.dir)]
        cmd += ["--order", ORDER, "outputs", "--stack", "first", *names]
        return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)

    assert outputs("value").stdout.strip() == "value=v1"
    hidden = outputs("value", "password")
    assert (
        hidden.returncode != 0
        and "sensitive" in hidden.stderr
        and SECRET not in hidden.stdout + hidden.stderr
    )
    assert "no output 'nope'" in outputs("nope").stderr


def test_fresh_environment_cannot_be_planned_in_one_go_but_bootstraps_stack_by_stack(
    tmp_path: Path, moto_url: str
) -> None:
    """The second stack reads the first's state: `make plan` on a fresh environment fails (the defect), `make
    bootstrap` bootstraps the account on moto, then plans + applies each stack in turn."""
    stacks = Stacks(tmp_path, dependent=True)
    env = aws_env(moto_url)
    _refused(make("plan", *stacks.args(), env=env), "Unable to find remote state", "plan failed for second")

    out = _ok(make("bootstrap", *stacks.args(), env=env))
    assert "state bucket  sportscards-tfstate-111111111111" in out  # account bootstrapped first
    assert out.index("== first: terraform apply") < out.index("== second: terraform plan")
    assert stacks.resources("second") == ["terraform_data.y"]
    managed = [r for r in tf_state(stacks.state / "second.tfstate")["resources"] if r["mode"] == "managed"]  # type: ignore[attr-defined]
    assert (
        managed[0]["instances"][0]["attributes"]["input"]["value"] == "v1"
    )  # first's output, applied before

    again = _ok(make("bootstrap", *stacks.args(), env=env))  # idempotent: account and stacks unchanged
    assert "bootstrap: 0 change(s)" in again
    assert "first: 0 to add, 0 to change, 0 to destroy" in again
    assert "second: 0 to add, 0 to change, 0 to destroy" in again


def test_prod_bootstrap_needs_explicit_confirmation(stacks: Stacks, moto_url: str) -> None:
    _refused(make("bootstrap", *stacks.args("prod"), env=aws_env(moto_url)), "refusing to apply prod")


def test_plans_go_to_s3_with_sse_kms_and_are_verified_on_the_way_back(stacks: Stacks, moto_url: str) -> None:
    env = aws_env(moto_url)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="x",
    )
    bucket = "plan-store-test"
    s3.create_bucket(Bucket=bucket)
    store = {"TF_PLAN_BUCKET": bucket, "TF_PLAN_ID": "4242-1"}
    out = _ok(make("plan", *stacks.args(**store), env=env))
    manifest = stacks.manifest()
    for rec in manifest["stacks"]:  # type: ignore[attr-defined]
        name = rec["name"]
        key = f"plans/dev/4242-1/{name}/tfplan"
        assert f"s3://{bucket}/{key}" in out
        assert not (stacks.dir / name / "tfplan").exists()  # nothing sensitive left for the artifact
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == rec["sha256"]

    # someone swaps the stored plan for another one: nothing is applied
    first_plan = s3.get_object(Bucket=bucket, Key="plans/dev/4242-1/first/tfplan")["Body"].read()
    good_second = s3.get_object(Bucket=bucket, Key="plans/dev/4242-1/second/tfplan")["Body"].read()
    s3.put_object(Bucket=bucket, Key="plans/dev/4242-1/second/tfplan", Body=first_plan)
    _refused(make("apply", *stacks.args(), env=env), "second: the saved plan's sha256")
    assert stacks.resources("first") == []

    s3.put_object(Bucket=bucket, Key="plans/dev/4242-1/second/tfplan", Body=good_second)
    out = _ok(make("apply", *stacks.args(), env=env))
    assert "fetching s3://plan-store-test/plans/dev/4242-1/second/tfplan" in out
    assert stacks.resources("second") == ["terraform_data.y"]
