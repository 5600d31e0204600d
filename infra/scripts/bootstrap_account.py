"""Account bootstrap of one environment, before its first plan (`make bootstrap-account ENV=dev`).

Creates what the stacks cannot hold themselves, idempotently (a second run changes nothing; drift is reset):
- the Terraform state bucket `names.state_bucket(account)`: versioning, default SSE-KMS (aws/s3 key, bucket
  key), public access blocked, owner-enforced, TLS-only policy, saved plans only SSE-KMS, plans expire after
  30 days; state locking is S3-native (`use_lockfile`), so there is no DynamoDB table;
- an empty state for each stack of the environment that has none yet, so the AWS stack (which reads the
  Snowflake stack's outputs) plans before the Snowflake stack was ever applied;
- the GitHub Actions OIDC provider (token.actions.githubusercontent.com, audience sts.amazonaws.com)
  unless there is one;
- two roles per environment, each trusting only one GitHub Environment of the repository in the TOML:
  `names.github_role(env, "plan")` <- `repo:<repository>:environment:<env>-plan`: AWS managed
  ReadOnlyAccess, plus reading the state, taking its lock and writing saved plans under `plans/<env>/`;
  `names.github_role(env, "deploy")` <- `repo:<repository>:environment:<env>`: the policy Terraform applies
  with (AdministratorAccess by default: the stacks create IAM roles and KMS keys, which no narrower policy can
  grant without granting escalation), plus the promotion's own needs spelled out (saved plans, state, the
  MWAA bundle, dbt's manifest, UpdateEnvironment, InvokeRestApi for the smoke check) so they survive a
  narrower --deploy-policy.
Run with administrator credentials of the environment's account (AWS_PROFILE=...); other accounts are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

INFRA = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(INFRA))

from cardinfra.config import ConfigError, EnvConfig, get_config, stack_order, state_key  # noqa: E402
from cardinfra.names import names  # noqa: E402

# Session ceilings: promote.yml asks each job's role for timeout-minutes * 60 s (a test checks all three).
MAX_SESSION_SECONDS = {"plan": 3600, "deploy": 4 * 3600}
MANAGED_POLICIES = {
    "plan": "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "deploy": "arn:aws:iam::aws:policy/AdministratorAccess",
}
INLINE_POLICY = {"plan": "terraform-plan", "deploy": "promotion"}
# AWS validates GitHub's certificate itself now; the API still takes thumbprints: GitHub's published ones.
GITHUB_THUMBPRINTS = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
PLANS_EXPIRE_DAYS = 30
STATE_NONCURRENT_DAYS = 365
# Airflow role the smoke check's InvokeRestApi calls map to: it only reads DAGs and import errors.
SMOKE_AIRFLOW_ROLE = "Viewer"
TAGS = [{"Key": "Project", "Value": names.PROJECT}, {"Key": "ManagedBy", "Value": "make bootstrap-account"}]


# -------------------------------------------------------------------------------------- genesis states


def genesis_state() -> dict[str, Any]:
    """An empty state (what `terraform init` of a new stack would start from), so every stack can be planned
    before the others were applied: the AWS stack reads the Snowflake stack's outputs through
    `terraform_remote_state`, which fails on a missing state object but uses its `defaults` on an empty
    one."""
    return {
        "version": 4,
        "terraform_version": names.TERRAFORM_VERSION,
        "serial": 0,
        "lineage": str(uuid.uuid4()),
        "outputs": {},
        "resources": [],
        "check_results": None,
    }


def seed_stack_states(s3: Any, bucket: str, keys: list[str]) -> list[str]:
    """Write a genesis state at each key without a state (existing ones are never touched); returns those."""
    written = []
    for key in keys:
        # ListObjectsV2 (a bucket request) rather than HeadObject: it tells "absent" from "forbidden".
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        if any(item["Key"] == key for item in listed):
            continue
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(genesis_state(), indent=2).encode(),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
        )
        written.append(key)
    return written


# -------------------------------------------------------------------------------------- policies (pure)


def trust_policy(provider_arn: str, repository: str, github_environment: str) -> dict[str, Any]:
    """Only jobs of that repository running in that GitHub Environment, with AWS as the audience."""
    host = names.GITHUB_OIDC_HOST
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubEnvironmentOnly",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:aud": names.GITHUB_OIDC_AUDIENCE,
                        f"{host}:sub": f"repo:{repository}:environment:{github_environment}",
                    }
                },
            }
        ],
    }


def _s3(bucket: str, path: str = "") -> str:
    return f"arn:aws:s3:::{bucket}{'/' + path if path else ''}"


def plan_policy(cfg: EnvConfig) -> dict[str, Any]:
    """On top of ReadOnlyAccess: the state (read + lock) and writing this environment's saved plans."""
    state, env = cfg.state_bucket, cfg.env
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListState", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": _s3(state)},
            {
                "Sid": "ReadState",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": _s3(state, f"{env}/*"),
            },
            {
                "Sid": "StateLock",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": _s3(state, f"{env}/*.tflock"),
            },
            {
                "Sid": "SavePlans",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": _s3(state, f"{names.TERRAFORM_PLANS_PREFIX}{env}/*"),
            },
            {
                # the stack's aws_secretsmanager_random_password data source is read at every plan
                "Sid": "RandomPasswordHasNoResource",
                "Effect": "Allow",
                "Action": "secretsmanager:GetRandomPassword",
                "Resource": "*",
            },
        ],
    }


def deploy_policy(cfg: EnvConfig) -> dict[str, Any]:
    """The promotion's own calls besides `terraform apply` (which the managed policy covers)."""
    state, env, region, account = cfg.state_bucket, cfg.env, cfg.region, cfg.aws_account_id
    artifacts = cfg.bucket("mwaa-artifacts")
    mwaa = names.mwaa_environment(env)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadSavedPlans",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": _s3(state, f"{names.TERRAFORM_PLANS_PREFIX}{env}/*"),
            },
            {"Sid": "ListState", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": _s3(state)},
            {
                "Sid": "WriteState",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": _s3(state, f"{env}/*"),
            },
            {
                # mwaa_sync.py (bundle upload, live keys, stale DAG deletion), ci_dbt_build.sh (manifest).
                # ListBucket also makes a missing manifest a 404 rather than a 403.
                "Sid": "ArtifactsBucket",
                "Effect": "Allow",
                "Action": [
                    "s3:ListBucket",
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:PutObject",
                    "s3:DeleteObject",
                ],
                "Resource": [_s3(artifacts), _s3(artifacts, "*")],
            },
            {
                "Sid": "ArtifactsKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": f"arn:aws:kms:{region}:{account}:key/*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": names.kms_alias(env)},
                },
            },
            {
                "Sid": "MwaaEnvironment",
                "Effect": "Allow",
                "Action": ["airflow:GetEnvironment", "airflow:UpdateEnvironment"],
                "Resource": f"arn:aws:airflow:{region}:{account}:environment/{mwaa}",
            },
            {
                # the smoke check calls the Airflow REST API of the PRIVATE_ONLY web server via the MWAA API
                "Sid": "MwaaRestApiAsViewer",
                "Effect": "Allow",
                "Action": "airflow:InvokeRestApi",
                "Resource": f"arn:aws:airflow:{region}:{account}:role/{mwaa}/{SMOKE_AIRFLOW_ROLE}",
            },
        ],
    }


def state_bucket_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [_s3(bucket), _s3(bucket, "*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "SavedPlansOnlySseKms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": _s3(bucket, f"{names.TERRAFORM_PLANS_PREFIX}*"),
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            },
        ],
    }


def lifecycle_rules() -> list[dict[str, Any]]:
    return [
        {
            "ID": "saved-plans-expire",
            "Filter": {"Prefix": names.TERRAFORM_PLANS_PREFIX},
            "Status": "Enabled",
            "Expiration": {"Days": PLANS_EXPIRE_DAYS},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        },
        {
            "ID": "state-history",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": STATE_NONCURRENT_DAYS},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        },
    ]


# ---------------------------------------------------------------------------------------------- bootstrap


class Bootstrap:
    """Each `ensure_*` reads the current state and writes only what differs; `changes` lists what it wrote."""

    def __init__(self, cfg: EnvConfig, session: Any, deploy_policy_arn: str) -> None:
        self.cfg = cfg
        self.s3 = session.client("s3", region_name=cfg.region)
        self.iam = session.client("iam")
        self.sts = session.client("sts", region_name=cfg.region)
        self.deploy_policy_arn = deploy_policy_arn
        self.changes: list[str] = []

    def _changed(self, what: str) -> None:
        self.changes.append(what)
        print(f"bootstrap: {what}")

    @staticmethod
    def _code(exc: Exception) -> str:
        return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))

    def check_account(self) -> None:
        account = self.sts.get_caller_identity()["Account"]
        if account != self.cfg.aws_account_id:
            raise SystemExit(
                f"bootstrap: these credentials are for account {account}, but {self.cfg.env} is "
                f"{self.cfg.aws_account_id} (aws.account_id in infra/environments/{self.cfg.env}.toml): "
                "use the environment's administrator profile (AWS_PROFILE=...)"
            )

    # -- state bucket
    def _read(self, call: Any, missing_code: str, default: Any, **kwargs: Any) -> Any:
        """`call(**kwargs)`, or `default` when S3 says the configuration is not set (`missing_code`)."""
        try:
            return call(**kwargs)
        except Exception as exc:
            if self._code(exc) != missing_code:
                raise
            return default

    def ensure_state_bucket(self) -> None:
        bucket = self.cfg.state_bucket
        try:
            self.s3.head_bucket(Bucket=bucket)
        except Exception as exc:
            if self._code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise SystemExit(
                    f"bootstrap: bucket {bucket} exists but is not readable here ({exc})"
                ) from None
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.cfg.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.cfg.region}
            self.s3.create_bucket(**kwargs)
            self._changed(f"created state bucket {bucket}")
        if self.s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
            self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            self._changed(f"{bucket}: versioning enabled")
        self._ensure_encryption(bucket)
        self._ensure_private(bucket)
        # Before the bucket policy: on a new bucket the first states go in with the bucket's own defaults.
        self.ensure_stack_states()
        self._ensure_policy_and_lifecycle(bucket)

    def _ensure_encryption(self, bucket: str) -> None:
        wanted = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}
        config = self._read(
            self.s3.get_bucket_encryption,
            "ServerSideEncryptionConfigurationNotFoundError",
            {"ServerSideEncryptionConfiguration": {"Rules": []}},
            Bucket=bucket,
        )
        current = [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
                },
                "BucketKeyEnabled": bool(r.get("BucketKeyEnabled")),
            }
            for r in config["ServerSideEncryptionConfiguration"]["Rules"]
        ]
        if current != [wanted]:
            self.s3.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [wanted]}
            )
            self._changed(f"{bucket}: default encryption SSE-KMS")

    def _ensure_private(self, bucket: str) -> None:
        block = dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        )
        current = self._read(
            self.s3.get_public_access_block,
            "NoSuchPublicAccessBlockConfiguration",
            {"PublicAccessBlockConfiguration": {}},
            Bucket=bucket,
        )["PublicAccessBlockConfiguration"]
        if current != block:
            self.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
            self._changed(f"{bucket}: public access blocked")
        enforced = [{"ObjectOwnership": "BucketOwnerEnforced"}]
        ownership = self._read(
            self.s3.get_bucket_ownership_controls,
            "OwnershipControlsNotFoundError",
            {"OwnershipControls": {"Rules": []}},
            Bucket=bucket,
        )["OwnershipControls"]["Rules"]
        if ownership != enforced:
            self.s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": enforced})
            self._changed(f"{bucket}: ACLs disabled (bucket owner enforced)")

    def _ensure_policy_and_lifecycle(self, bucket: str) -> None:
        wanted = state_bucket_policy(bucket)
        current = self._read(
            self.s3.get_bucket_policy, "NoSuchBucketPolicy", {"Policy": "null"}, Bucket=bucket
        )
        if json.loads(current["Policy"]) != wanted:
            self.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted))
            self._changed(f"{bucket}: TLS-only, SSE-KMS-only-plans policy")
        rules = self._read(
            self.s3.get_bucket_lifecycle_configuration,
            "NoSuchLifecycleConfiguration",
            {"Rules": []},
            Bucket=bucket,
        )["Rules"]
        if _lifecycle_view(rules) != _lifecycle_view(lifecycle_rules()):
            self.s3.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": lifecycle_rules()}
            )
            self._changed(f"{bucket}: lifecycle (plans expire after {PLANS_EXPIRE_DAYS} days)")

    # -- GitHub OIDC provider
    def ensure_oidc_provider(self) -> str:
        host = names.GITHUB_OIDC_HOST
        for item in self.iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
            arn = item["Arn"]
            if not arn.endswith(f"/{host}"):
                continue
            provider = self.iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
            if names.GITHUB_OIDC_AUDIENCE not in provider.get("ClientIDList", []):
                self.iam.add_client_id_to_open_id_connect_provider(
                    OpenIDConnectProviderArn=arn, ClientID=names.GITHUB_OIDC_AUDIENCE
                )
                self._changed(f"OIDC provider {host}: audience {names.GITHUB_OIDC_AUDIENCE} added")
            return str(arn)
        arn = self.iam.create_open_id_connect_provider(
            Url=f"https://{host}",
            ClientIDList=[names.GITHUB_OIDC_AUDIENCE],
            ThumbprintList=GITHUB_THUMBPRINTS,
            Tags=TAGS,
        )["OpenIDConnectProviderArn"]
        self._changed(f"created OIDC provider {host}")
        return str(arn)

    # -- roles
    def ensure_role(self, kind: names.GithubRoleKind, provider_arn: str) -> str:
        cfg = self.cfg
        name = names.github_role(cfg.env, kind)
        github_env = names.github_environment(cfg.env, kind)
        trust = trust_policy(provider_arn, cfg.github_repository, github_env)
        max_session = MAX_SESSION_SECONDS[kind]
        try:
            role = self.iam.get_role(RoleName=name)["Role"]
        except self.iam.exceptions.NoSuchEntityException:
            role = self.iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                MaxSessionDuration=max_session,
                Description=f"GitHub Environment {github_env} of {cfg.github_repository}",
                Tags=TAGS,
            )["Role"]
            self._changed(f"created role {name}")
        else:
            current = role["AssumeRolePolicyDocument"]
            if isinstance(current, str):
                from urllib.parse import unquote  # noqa: PLC0415

                current = json.loads(unquote(current))
            if current != trust:
                self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
                self._changed(f"{name}: trust reset to {names.github_environment(cfg.env, kind)} only")
            if role.get("MaxSessionDuration") != max_session:
                self.iam.update_role(RoleName=name, MaxSessionDuration=max_session)
                self._changed(f"{name}: MaxSessionDuration {max_session}s")
        managed = self.deploy_policy_arn if kind == "deploy" else MANAGED_POLICIES["plan"]
        attached = {
            p["PolicyArn"] for p in self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        }
        if managed not in attached:
            self.iam.attach_role_policy(RoleName=name, PolicyArn=managed)
            self._changed(f"{name}: attached {managed}")
        for extra in sorted(attached - {managed}):
            self.iam.detach_role_policy(RoleName=name, PolicyArn=extra)
            self._changed(f"{name}: detached {extra}")
        inline_name = INLINE_POLICY[kind]
        wanted = plan_policy(cfg) if kind == "plan" else deploy_policy(cfg)
        try:
            doc = self.iam.get_role_policy(RoleName=name, PolicyName=inline_name)["PolicyDocument"]
            if isinstance(doc, str):
                from urllib.parse import unquote  # noqa: PLC0415

                doc = json.loads(unquote(doc))
        except self.iam.exceptions.NoSuchEntityException:
            doc = None
        if doc != wanted:
            self.iam.put_role_policy(RoleName=name, PolicyName=inline_name, PolicyDocument=json.dumps(wanted))
            self._changed(f"{name}: inline policy {inline_name}")
        for other in self.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            if other != inline_name:
                self.iam.delete_role_policy(RoleName=name, PolicyName=other)
                self._changed(f"{name}: removed inline policy {other}")
        return str(role["Arn"])

    def ensure_stack_states(self) -> None:
        keys = [state_key(self.cfg, stack) for stack in stack_order(self.cfg.env)]
        for key in seed_stack_states(self.s3, self.cfg.state_bucket, keys):
            self._changed(f"empty state at s3://{self.cfg.state_bucket}/{key} (the stack's first plan)")

    def run(self) -> dict[str, str]:
        self.check_account()
        self.ensure_state_bucket()
        provider = self.ensure_oidc_provider()
        return {kind: self.ensure_role(kind, provider) for kind in ("plan", "deploy")}


def _lifecycle_view(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parts of lifecycle rules this script sets, as S3 returns them (it adds defaults of its own)."""
    keep = ("ID", "Status", "Expiration", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload")
    view = []
    for rule in rules:
        item = {k: rule[k] for k in keep if k in rule}
        item["Prefix"] = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
        view.append(item)
    return sorted(view, key=lambda r: str(r.get("ID")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--env", required=True, choices=names.ENVIRONMENTS)
    parser.add_argument(
        "--deploy-policy",
        default=MANAGED_POLICIES["deploy"],
        help="managed policy ARN the deploy role applies Terraform with (default AdministratorAccess)",
    )
    args = parser.parse_args(argv)
    try:
        cfg = get_config(args.env)
    except ConfigError as exc:
        raise SystemExit(f"bootstrap: {exc}") from None
    import boto3  # noqa: PLC0415

    boot = Bootstrap(cfg, boto3.Session(), args.deploy_policy)
    roles = boot.run()
    print(f"bootstrap: {len(boot.changes)} change(s) in account {cfg.aws_account_id} for {cfg.env}")
    print(f"  state bucket  {cfg.state_bucket}")
    for kind, arn in roles.items():
        github_env = names.github_environment(cfg.env, "plan" if kind == "plan" else "deploy")
        print(f"  {kind:<6} role   {arn}  (GitHub Environment {github_env})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
