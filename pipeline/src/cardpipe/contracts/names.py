"""Every name that crosses a tool boundary, defined once.

The pipeline, the DAGs, the infrastructure stacks (their own venv: they put `pipeline/src` on sys.path and
import
this module alone), the workflows and dbt all agree on these names; `tests/contract` proves that every tool
still reads them from here or spells them the same way. Standard library only, no cardpipe imports: infra
must be able to load it without the pipeline's dependencies.

Kinds of names here: broker topology, bronze object layout, AWS resource names, Snowflake objects, Airflow
connection ids and MWAA settings, and the environment variables one tool sets for another.
"""

from __future__ import annotations

from typing import Final, Literal

PROJECT: Final = "sportscards"
EnvName = Literal["dev", "staging", "prod"]
ENVIRONMENTS: Final[tuple[EnvName, ...]] = ("dev", "staging", "prod")

# --------------------------------------------------------------------------- broker topology (RabbitMQ /
# Amazon MQ)
EXCHANGE: Final = "sportscards.events"
QUEUE: Final = "sportscards.events.bronze"
DEAD_LETTER_EXCHANGE: Final = "sportscards.events.dlx"
DEAD_LETTER_QUEUE: Final = "sportscards.events.dead"
VHOST: Final = "/"
# A message redelivered this many times is dead-lettered by the quorum queue (poison protection).
DELIVERY_LIMIT: Final = 20
# At-least-once dead-lettering (RabbitMQ 3.10+ quorum queues): a message is removed from the source queue only
# once the dead-letter queue confirmed it (the default, at-most-once, can drop it). It requires the
# reject-publish overflow behaviour. Both are queue arguments of new queues; a queue declared before them
# gets them from the policy DEAD_LETTER_POLICY (docs/operations.md, "Dead-letter queue").
DEAD_LETTER_STRATEGY: Final = "at-least-once"
QUEUE_OVERFLOW: Final = "reject-publish"
DEAD_LETTER_POLICY: Final = "sportscards-dead-lettering"


def source_queue_arguments(dead_letter_exchange: str, delivery_limit: int) -> dict[str, str | int]:
    """x-arguments of the quorum queue the consumers and the Lambda read (the broker_topology DAG, the local
    publisher and consumer all declare exactly these)."""
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": dead_letter_exchange,
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-strategy": DEAD_LETTER_STRATEGY,
        "x-overflow": QUEUE_OVERFLOW,
    }


def dead_letter_policy(queue: str) -> dict[str, object]:
    """The policy giving a queue declared before at-least-once dead-lettering the same behaviour, without
    redeclaring it (queue arguments are immutable; policies apply to a live queue, messages kept)."""
    return {
        "pattern": "^" + queue.replace(".", "\\.") + "$",
        "apply-to": "queues",  # "quorum_queues" is unknown before 3.12; the pattern names one queue anyway
        "definition": {"dead-letter-strategy": DEAD_LETTER_STRATEGY, "overflow": QUEUE_OVERFLOW},
        "priority": 1,
    }


# The Amazon MQ event source mapping hands Lambda at most 6 MB per invocation, base64-encoded (4/3 larger)
# with
# metadata; a bigger message is dropped without a trace. The broker refuses anything above this instead.
MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
AMQPS_PORT: Final = 5671
BROKER_ADMIN_USER: Final = "sportscards-admin"

# --------------------------------------------------------------------------- bronze layout (local dir or raw
# bucket)
# Every bronze key starts with BRONZE_ROOT; the Snowflake stage points at <bucket>/<prefix>/BRONZE_ROOT, so a
# key
# minus BRONZE_ROOT is its path inside the stage (stage_path).
BRONZE_ROOT: Final = "raw/"
EVENTS_PREFIX: Final = f"{BRONZE_ROOT}events/"
QUARANTINE_PREFIX: Final = f"{BRONZE_ROOT}quarantine/"
CONTROL_PREFIX: Final = f"{BRONZE_ROOT}_control/"
CHECKPOINT_PREFIX: Final = f"{BRONZE_ROOT}_checkpoints/"
JOURNAL_COUNTS_PREFIX: Final = f"{CONTROL_PREFIX}journal_counts/"
BRONZE_SUFFIX: Final = ".ndjson.gz"
SOURCES: Final = ("live", "backfill")


def source_prefix(base: str, source: str) -> str:
    """`raw/events/source=live/`: who writes where (the Lambda writes live, the backfill writes backfill)."""
    return f"{base}source={source}/"


def stage_path(bronze_prefix: str) -> str:
    """Path inside the Snowflake stage of a bronze prefix (`raw/events/` -> `events/`)."""
    if not bronze_prefix.startswith(BRONZE_ROOT):
        raise ValueError(f"{bronze_prefix!r} is not under the bronze root {BRONZE_ROOT!r}")
    return bronze_prefix[len(BRONZE_ROOT) :]


def stage_url(bucket: str, prefix: str = "") -> str:
    """URL of the external stage: the bronze root of the raw bucket (BRONZE_S3_PREFIX included)."""
    inner = prefix.strip("/")
    return f"s3://{bucket}/{inner + '/' if inner else ''}{BRONZE_ROOT}"


# --------------------------------------------------------------------------- AWS resource names
BUCKET_KINDS: Final = ("raw", "quarantine", "mwaa-artifacts", "access-logs")


def resource_name(env: str, suffix: str) -> str:
    """`sportscards-<env>-<suffix>`: account-scoped names (roles, queues, functions, security groups)."""
    return f"{PROJECT}-{env}-{suffix}"


def bucket_name(env: str, kind: str, account_id: str) -> str:
    """Bucket names are global: the account id makes them ours (nothing writes to somebody else's bucket)."""
    if kind not in BUCKET_KINDS:
        raise ValueError(f"unknown bucket kind {kind!r}: one of {', '.join(BUCKET_KINDS)}")
    return f"{PROJECT}-{env}-{kind}-{account_id}"


def state_bucket(account_id: str) -> str:
    """Terraform state of every stack of the account (created by `make bootstrap`)."""
    return f"{PROJECT}-tfstate-{account_id}"


def kms_alias(env: str) -> str:
    return f"alias/{resource_name(env, 'data')}"


def mwaa_environment(env: str) -> str:
    return f"{PROJECT}-{env}"


def alerts_topic(env: str) -> str:
    return resource_name(env, "alerts")


# Under the artifacts bucket: what MWAA reads, where bundles are kept, where dbt keeps its deployed manifest.
MWAA_DAGS_PREFIX: Final = "dags/"
MWAA_REQUIREMENTS_KEY: Final = "requirements.txt"
MWAA_PLUGINS_KEY: Final = "plugins.zip"
MWAA_STARTUP_KEY: Final = "startup.sh"
MWAA_BUNDLES_PREFIX: Final = "bundles/"
DBT_STATE_KEY: Final = "dbt-state/manifest.json"
LAMBDA_PACKAGE_KEY: Final = "lambda/cardpipe-ingest.zip"
TERRAFORM_PLANS_PREFIX: Final = "plans/"

# --------------------------------------------------------------------------- Snowflake objects
RAW_SCHEMA: Final = "RAW"
# dbt layer (folder under dbt/models) -> the Snowflake schema it builds into. dbt_project.yml spells these as
# lower-case `+schema:` values; generate_schema_name uses them as they are (unquoted identifiers fold to
# upper).
DBT_LAYER_SCHEMAS: Final = {"staging": "STAGING", "intermediate": "INTERMEDIATE", "marts": "MARTS"}
# The schema Sigma (REPORTER) reads.
REPORTING_SCHEMA: Final = "MARTS"
SNOWFLAKE_SCHEMAS: Final = (RAW_SCHEMA, *DBT_LAYER_SCHEMAS.values())

LOADER: Final = "LOADER"
TRANSFORMER: Final = "TRANSFORMER"
REPORTER: Final = "REPORTER"
# role -> its warehouse (the service user's default, and the one dbt's profile names)
ROLE_WAREHOUSES: Final = {LOADER: "LOAD_WH", TRANSFORMER: "TRANSFORM_WH", REPORTER: "BI_WH"}
# The larger transform warehouse: dbt's heavy marts run on it (`snowflake_warehouse`; dbt_project.yml spells
# it as the default of var DBT_VAR_LARGE_WAREHOUSE, tests/contract compares the parsed manifest with this),
# and a full refresh runs with SNOWFLAKE_WAREHOUSE set to it (docs/dbt.md). TRANSFORMER gets USAGE on it.
TRANSFORM_LARGE_WAREHOUSE: Final = "TRANSFORM_LARGE_WH"
DBT_VAR_LARGE_WAREHOUSE: Final = "transform_large_warehouse"
# role -> further warehouses it may use besides its own (USAGE only, never a user's default)
ROLE_EXTRA_WAREHOUSES: Final[dict[str, tuple[str, ...]]] = {TRANSFORMER: (TRANSFORM_LARGE_WAREHOUSE,)}
WAREHOUSES: Final = (*ROLE_WAREHOUSES.values(), TRANSFORM_LARGE_WAREHOUSE)

STAGE: Final = "BRONZE_STAGE"
FILE_FORMAT: Final = "NDJSON_GZ"
RAW_EVENTS_TABLE: Final = "EVENTS"
RAW_QUARANTINE_TABLE: Final = "QUARANTINE"
RAW_JOURNAL_COUNTS_TABLE: Final = "JOURNAL_COUNTS"
RAW_LOAD_AUDIT_TABLE: Final = "LOAD_AUDIT"


def snowflake_database(env: str) -> str:
    return f"{PROJECT.upper()}_{env.upper()}"


def service_user(env: str, role: str) -> str:
    """Key-pair-only service user of a role (TYPE = SERVICE)."""
    return f"{snowflake_database(env)}_{role}_SVC"


def storage_integration(env: str) -> str:
    return f"{snowflake_database(env)}_S3"


def snowflake_storage_role(env: str) -> str:
    """The AWS role Snowflake's storage integration assumes to read bronze."""
    return resource_name(env, "snowflake-storage")


def snowflake_external_id(env: str) -> str:
    """External id of the storage integration, required by the role's trust (not a secret)."""
    return f"{PROJECT}-{env}-snowflake-ingest"


# --------------------------------------------------------------------------- Airflow (MWAA) connections and
# settings
CONN_JOURNAL: Final = "sportscards_journal"
CONN_RABBITMQ: Final = "sportscards_rabbitmq"
CONN_SNOWFLAKE_LOADER: Final = "sportscards_snowflake_loader"
CONN_SNOWFLAKE_TRANSFORMER: Final = "sportscards_snowflake_transformer"
CONNECTIONS: Final = (CONN_JOURNAL, CONN_RABBITMQ, CONN_SNOWFLAKE_LOADER, CONN_SNOWFLAKE_TRANSFORMER)
VAR_ALERTS_TOPIC: Final = "sportscards_alerts_sns_topic_arn"
VARIABLES: Final = (VAR_ALERTS_TOPIC,)
# DAG ids: the DAG files use them and the post-deployment smoke check expects exactly these on MWAA.
DAG_EVENTS_BACKFILL: Final = "events_backfill_to_s3"
DAG_LOAD_RAW: Final = "s3_to_snowflake_load_raw"
DAG_DBT: Final = "dbt_transform_and_test"
DAG_DATA_QUALITY: Final = "data_quality"
DAG_BROKER_TOPOLOGY: Final = "broker_topology"
DAG_IDS: Final = (DAG_EVENTS_BACKFILL, DAG_LOAD_RAW, DAG_DBT, DAG_DATA_QUALITY, DAG_BROKER_TOPOLOGY)


def secrets_prefix(env: str, kind: Literal["connections", "variables"]) -> str:
    """Secrets Manager prefix of MWAA's secrets backend: `sportscards-<env>/airflow/connections`."""
    return f"{PROJECT}-{env}/airflow/{kind}"


def connection_secret(env: str, conn_id: str) -> str:
    return f"{secrets_prefix(env, 'connections')}/{conn_id}"


def variable_secret(env: str, name: str) -> str:
    return f"{secrets_prefix(env, 'variables')}/{name}"


SECRETS_BACKEND: Final = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
# MWAA turns the configuration option `sportscards.<name>` into the environment variable
# AIRFLOW__SPORTSCARDS__<NAME>; the DAGs' settings map it back to <NAME> (a cardpipe setting) when <NAME> is
# unset.
MWAA_SETTINGS_SECTION: Final = "sportscards"


def mwaa_option(env_var: str) -> str:
    """MWAA configuration option that carries a cardpipe environment variable (`BRONZE_S3_BUCKET` ->
    `sportscards.bronze_s3_bucket`)."""
    return f"{MWAA_SETTINGS_SECTION}.{env_var.lower()}"


def airflow_config_env(option: str) -> str:
    """The environment variable Airflow (and MWAA) derive from a `section.key` option."""
    section, _, key = option.partition(".")
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


# --------------------------------------------------------------------------- environment variables set across
# tools
# cardpipe settings that the Lambda function and MWAA set from infrastructure values (cardpipe.config reads
# them).
ENV_BRONZE_BACKEND: Final = "BRONZE_BACKEND"
ENV_BRONZE_S3_BUCKET: Final = "BRONZE_S3_BUCKET"
ENV_BRONZE_S3_PREFIX: Final = "BRONZE_S3_PREFIX"
ENV_BRONZE_S3_REGION: Final = "BRONZE_S3_REGION"
ENV_BRONZE_S3_KMS_KEY_ID: Final = "BRONZE_S3_KMS_KEY_ID"
ENV_WAREHOUSE_KIND: Final = "WAREHOUSE_KIND"
ENV_SNOWFLAKE_DATABASE: Final = "SNOWFLAKE_DATABASE"
ENV_SNOWFLAKE_ROLE: Final = "SNOWFLAKE_ROLE"
ENV_SNOWFLAKE_WAREHOUSE: Final = "SNOWFLAKE_WAREHOUSE"
ENV_LOG_FORMAT: Final = "CARDPIPE_LOG_FORMAT"
ENV_DBT_TARGET: Final = "DBT_TARGET"
ENV_ALERTS_TOPIC_ARN: Final = "SPORTSCARDS_ALERTS_TOPIC_ARN"

# --------------------------------------------------------------------------- toolchain pins shared by tools
TERRAFORM_VERSION: Final = "1.11.4"
AIRFLOW_VERSION: Final = "3.3.1"
MQ_ENGINE_VERSION: Final = "4.2"

# ------------------------------------------------------------------------- GitHub promotion <-> AWS bootstrap
# `make bootstrap` (infra/scripts/bootstrap_account.py) creates one OIDC role per GitHub Environment, each
# trusting only `repo:<owner/name>:environment:<that environment>`; promote.yml's jobs assume them.
GITHUB_OIDC_HOST: Final = "token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE: Final = "sts.amazonaws.com"
GithubRoleKind = Literal["plan", "deploy"]


def github_environment(env: str, kind: GithubRoleKind) -> str:
    """GitHub Environment of a promotion job: `<env>-plan` (read-only, no reviewers) or `<env>` (deploy)."""
    return f"{env}-plan" if kind == "plan" else env


def github_role(env: str, kind: GithubRoleKind) -> str:
    """IAM role that GitHub Environment's jobs assume (`sportscards-<env>-github-plan|deploy`)."""
    return resource_name(env, f"github-{kind}")
