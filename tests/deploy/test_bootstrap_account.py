"""`make bootstrap-account` (infra/scripts/bootstrap_account.py) against a moto server: the state bucket's
controls, the GitHub OIDC provider, the plan/deploy roles and their trust, idempotency and drift reset."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from cardpipe.contracts import names
from conftest import EXAMPLE_ACCOUNT, INFRA_PY, REPO, aws_env, make, needs_infra_venv, start_moto

pytestmark = needs_infra_venv

REPOSITORY = "sportscards/platform"  # github.repository of the example overlay
STAGING_ACCOUNT = "222222222222"
STATE_BUCKET = names.state_bucket(EXAMPLE_ACCOUNT)
HOST = names.GITHUB_OIDC_HOST

_spec = importlib.util.spec_from_file_location(
    "bootstrap_account", REPO / "infra/scripts/bootstrap_account.py"
)
assert _spec and _spec.loader
bootstrap_account = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bootstrap_account)


def _client(service: str, url: str, creds: dict[str, str] | None = None) -> Any:
    creds = creds or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", **creds)


def run_bootstrap(url: str, env: str = "dev", **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INFRA_PY), "infra/scripts/bootstrap_account.py", "--env", env],
        cwd=REPO,
        env=aws_env(url, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _doc(value: Any) -> Any:
    return json.loads(unquote(value)) if isinstance(value, str) else value


@pytest.fixture
def dev(moto_url: str) -> str:
    """The dev account bootstrapped (through the make target a user runs)."""
    proc = make("bootstrap-account", "ENV=dev", env=aws_env(moto_url))
    assert proc.returncode == 0, proc.stdout
    return moto_url


def test_state_bucket_is_versioned_encrypted_private_and_tls_only(dev: str) -> None:
    s3 = _client("s3", dev)
    assert s3.get_bucket_versioning(Bucket=STATE_BUCKET)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=STATE_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert (
        rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms" and rule["BucketKeyEnabled"]
    )
    block = s3.get_public_access_block(Bucket=STATE_BUCKET)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    assert s3.get_bucket_ownership_controls(Bucket=STATE_BUCKET)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    statements = {
        s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=STATE_BUCKET)["Policy"])["Statement"]
    }
    tls = statements["DenyInsecureTransport"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["SavedPlansOnlySseKms"]["Resource"].endswith(f"/{names.TERRAFORM_PLANS_PREFIX}*")
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=STATE_BUCKET)["Rules"]}
    assert rules["saved-plans-expire"]["Expiration"]["Days"] == bootstrap_account.PLANS_EXPIRE_DAYS


def test_github_oidc_provider_has_the_aws_audience(dev: str) -> None:
    iam = _client("iam", dev)
    arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    github = [a for a in arns if a.endswith(f"/{HOST}")]
    assert len(github) == 1
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=github[0])
    assert provider["ClientIDList"] == [names.GITHUB_OIDC_AUDIENCE]


@pytest.mark.parametrize(("kind", "github_env"), [("plan", "dev-plan"), ("deploy", "dev")])
def test_each_role_trusts_only_its_github_environment(dev: str, kind: str, github_env: str) -> None:
    iam = _client("iam", dev)
    role = iam.get_role(RoleName=names.github_role("dev", kind))["Role"]  # type: ignore[arg-type]
    (statement,) = _doc(role["AssumeRolePolicyDocument"])["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{EXAMPLE_ACCOUNT}:oidc-provider/{HOST}"}
    assert statement["Condition"] == {
        "StringEquals": {
            f"{HOST}:aud": "sts.amazonaws.com",
            # no wildcard, no branch or pull-request subjects
            f"{HOST}:sub": f"repo:{REPOSITORY}:environment:{github_env}",
        }
    }
    assert role["MaxSessionDuration"] == bootstrap_account.MAX_SESSION_SECONDS[kind]


def test_plan_role_is_read_only_plus_state_lock_and_its_own_plans(dev: str) -> None:
    iam = _client("iam", dev)
    name = names.github_role("dev", "plan")
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
    assert attached == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    doc = _doc(iam.get_role_policy(RoleName=name, PolicyName="terraform-plan")["PolicyDocument"])
    writes = {
        r
        for s in doc["Statement"]
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
        if "s3:PutObject" in s["Action"]
    }
    assert writes == {
        f"arn:aws:s3:::{STATE_BUCKET}/dev/*.tflock",
        f"arn:aws:s3:::{STATE_BUCKET}/{names.TERRAFORM_PLANS_PREFIX}dev/*",
    }


def test_deploy_role_can_run_the_promotion_steps(dev: str) -> None:
    iam = _client("iam", dev)
    name = names.github_role("dev", "deploy")
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
    assert attached == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    doc = _doc(iam.get_role_policy(RoleName=name, PolicyName="promotion")["PolicyDocument"])
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    mwaa = names.mwaa_environment("dev")
    assert by_sid["MwaaRestApiAsViewer"]["Action"] == "airflow:InvokeRestApi"
    assert (
        by_sid["MwaaRestApiAsViewer"]["Resource"]
        == f"arn:aws:airflow:us-east-1:{EXAMPLE_ACCOUNT}:role/{mwaa}/Viewer"
    )
    artifacts = names.bucket_name("dev", "mwaa-artifacts", EXAMPLE_ACCOUNT)
    assert f"arn:aws:s3:::{artifacts}/*" in by_sid["ArtifactsBucket"]["Resource"]
    assert (
        "s3:ListBucket" in by_sid["ArtifactsBucket"]["Action"]
    )  # a missing dbt manifest is a 404, not a 403


def test_second_run_changes_nothing(dev: str) -> None:
    iam = _client("iam", dev)
    before = {k: iam.get_role(RoleName=names.github_role("dev", k))["Role"] for k in ("plan", "deploy")}  # type: ignore[arg-type]
    out = _ok(run_bootstrap(dev))
    assert "bootstrap: 0 change(s)" in out, out
    after = {k: iam.get_role(RoleName=names.github_role("dev", k))["Role"] for k in ("plan", "deploy")}  # type: ignore[arg-type]
    for kind in before:
        assert after[kind]["RoleId"] == before[kind]["RoleId"]  # not recreated
    providers = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert len([p for p in providers if p["Arn"].endswith(f"/{HOST}")]) == 1


def test_drift_is_reset(dev: str) -> None:
    iam, s3 = _client("iam", dev), _client("s3", dev)
    plan_role = names.github_role("dev", "plan")
    widened = json.loads(json.dumps(bootstrap_account.trust_policy("x", REPOSITORY, "dev-plan")))
    widened["Statement"][0]["Principal"]["Federated"] = f"arn:aws:iam::{EXAMPLE_ACCOUNT}:oidc-provider/{HOST}"
    widened["Statement"][0]["Condition"] = {"StringLike": {f"{HOST}:sub": f"repo:{REPOSITORY}:*"}}
    iam.update_assume_role_policy(RoleName=plan_role, PolicyDocument=json.dumps(widened))
    iam.attach_role_policy(RoleName=plan_role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.update_role(RoleName=plan_role, MaxSessionDuration=43200)
    s3.put_bucket_versioning(Bucket=STATE_BUCKET, VersioningConfiguration={"Status": "Suspended"})

    out = _ok(run_bootstrap(dev))
    assert "trust reset to dev-plan only" in out
    assert "detached arn:aws:iam::aws:policy/AdministratorAccess" in out
    assert "versioning enabled" in out
    role = iam.get_role(RoleName=plan_role)["Role"]
    assert role["MaxSessionDuration"] == bootstrap_account.MAX_SESSION_SECONDS["plan"]
    (statement,) = _doc(role["AssumeRolePolicyDocument"])["Statement"]
    assert statement["Condition"]["StringEquals"][f"{HOST}:sub"] == f"repo:{REPOSITORY}:environment:dev-plan"
    assert "bootstrap: 0 change(s)" in _ok(run_bootstrap(dev))


def test_refuses_credentials_of_another_account(moto_url: str) -> None:
    proc = run_bootstrap(moto_url, "staging")  # moto's default credentials are the dev account's
    assert proc.returncode != 0
    assert f"for account {EXAMPLE_ACCOUNT}, but staging is {STAGING_ACCOUNT}" in proc.stderr
    iam = _client("iam", moto_url)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=names.github_role("staging", "plan"))


def test_adopts_an_existing_github_provider() -> None:
    """Accounts often have the GitHub provider already (another team's workflows): reused, not duplicated.
    A moto server of its own, as the staging account (moto's server mode has one account per process).
    Not executed here: adding the audience to a provider that lacks it (moto 5.2 answers
    AddClientIDToOpenIDConnectProvider with a 500)."""
    proc, url = start_moto(MOTO_ACCOUNT_ID=STAGING_ACCOUNT, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    try:
        iam = _client("iam", url)
        existing = iam.create_open_id_connect_provider(
            Url=f"https://{HOST}",
            ClientIDList=["some-other-audience", "sts.amazonaws.com"],
            ThumbprintList=["a" * 40],
        )["OpenIDConnectProviderArn"]
        out = _ok(run_bootstrap(url, "staging"))
        assert "created role sportscards-staging-github-deploy" in out
        assert "OIDC provider" not in out  # neither created nor changed
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=existing)
        assert set(provider["ClientIDList"]) == {"some-other-audience", "sts.amazonaws.com"}
        role = iam.get_role(RoleName=names.github_role("staging", "deploy"))["Role"]
        trust = _doc(role["AssumeRolePolicyDocument"])
        assert trust["Statement"][0]["Principal"]["Federated"] == existing
        assert "bootstrap: 0 change(s)" in _ok(run_bootstrap(url, "staging"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_unfilled_configuration_fails_naming_what_to_set(moto_url: str) -> None:
    env = aws_env(moto_url)
    del env["INFRA_CONFIG_OVERLAY"]  # the repository's TOML files leave account values empty
    proc = subprocess.run(
        [str(INFRA_PY), "infra/scripts/bootstrap_account.py", "--env", "dev"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "aws.account_id" in proc.stderr and "github.repository" in proc.stderr


def test_every_stack_gets_an_empty_state_so_a_fresh_environment_plans(dev: str) -> None:
    """Issue 8: the AWS stack reads the Snowflake stack's remote state, and Terraform fails on a missing state
    object (its `defaults` apply only to an existing state). The bootstrap seeds one per stack, once."""
    s3 = _client("s3", dev)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=STATE_BUCKET).get("Contents", [])}
    assert {f"dev/sportscards-dev-{stack}/terraform.tfstate" for stack in ("snowflake", "aws")} <= keys
    state = bootstrap_account.genesis_state()
    assert state["version"] == 4 and state["outputs"] == {} and state["resources"] == []
    assert state["terraform_version"] == names.TERRAFORM_VERSION


def test_seeding_never_overwrites_a_state(moto_url: str) -> None:
    s3 = _client("s3", moto_url)
    s3.create_bucket(Bucket="seed-test")
    s3.put_object(Bucket="seed-test", Key="dev/a/terraform.tfstate", Body=b'{"serial": 7}')
    written = bootstrap_account.seed_stack_states(
        s3, "seed-test", ["dev/a/terraform.tfstate", "dev/b/terraform.tfstate"]
    )
    assert written == ["dev/b/terraform.tfstate"]
    assert s3.get_object(Bucket="seed-test", Key="dev/a/terraform.tfstate")["Body"].read() == b'{"serial": 7}'
    assert (
        json.loads(s3.get_object(Bucket="seed-test", Key="dev/b/terraform.tfstate")["Body"].read())["serial"]
        == 0
    )
    assert bootstrap_account.seed_stack_states(s3, "seed-test", ["dev/b/terraform.tfstate"]) == []
