"""Artifacts of every tool, produced the way each tool produces them: infra synthesized by its own venv, dbt's
manifest parsed by dbt, the rest read from the repository; plus cardpipe's runtime values."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cardpipe.bronze import layout
from cardpipe.config import Settings
from cardpipe.contracts import names
from cardpipe.ingest import control_record_key
from cardpipe.load import snowflake_sql
from cardpipe.load.plan import KINDS, PREFIXES
from cardpipe.sources import rabbit as rabbit_topology
from facts import ENV, Artifacts, set_policy
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ACCOUNTS = ROOT / "tests" / "infra" / "fixtures" / "example-accounts.toml"


def _synthesize(out: Path) -> tuple[str, str]:
    env = {
        **os.environ,
        "ENV": ENV,
        "CDKTF_OUTDIR": str(out),
        "INFRA_CONFIG_OVERLAY": str(EXAMPLE_ACCOUNTS),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_RUNTIME_PACKAGE_CACHE_ROOT": os.environ.get(
            "JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(Path.home() / ".cache" / "jsii")
        ),
    }
    subprocess.run(
        [str(ROOT / "infra" / ".venv" / "bin" / "python"), "main.py"],
        cwd=ROOT / "infra",
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    stacks = out / "stacks"
    return (
        (stacks / names.resource_name(ENV, "aws") / "cdk.tf.json").read_text(),
        (stacks / names.resource_name(ENV, "snowflake") / "cdk.tf.json").read_text(),
    )


def _dbt_manifest(out: Path) -> str:
    """`dbt parse` for the Snowflake target of the environment (no connection is made)."""
    env = {
        **os.environ,
        "DBT_TARGET": ENV,
        "SNOWFLAKE_ACCOUNT": "contract-test",
        "SNOWFLAKE_USER": "contract-test",
        "SNOWFLAKE_ROLE": names.TRANSFORMER,
        "SNOWFLAKE_WAREHOUSE": names.ROLE_WAREHOUSES[names.TRANSFORMER],
        "SNOWFLAKE_DATABASE": names.snowflake_database(ENV),
        "SNOWFLAKE_PRIVATE_KEY_PATH": "/dev/null",
        "DBT_LOG_PATH": str(out / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = ROOT / "dbt" / ".venv" / "bin" / "dbt"
    subprocess.run(
        [str(dbt), "parse", "--project-dir", ".", "--profiles-dir", ".", "--target", ENV,
         "--target-path", str(out / "target")],
        cwd=ROOT / "dbt", env=env, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return (out / "target" / "manifest.json").read_text()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    tmp = tmp_path_factory.mktemp("contract")
    aws, snowflake = _synthesize(tmp / "cdktf.out")
    read = {
        "dbt.project": "dbt/dbt_project.yml",
        "dbt.sources": "dbt/models/staging/_sources.yml",
        "dbt.profiles": "dbt/profiles.yml",
        "env.example": ".env.example",
        "workflow.promote": ".github/workflows/promote.yml",
        "mk.airflow": "mk/airflow.mk",
        "airflow.pyproject": "airflow/pyproject.toml",
        "docs.operations": "docs/operations.md",
    }
    out = {key: (ROOT / path).read_text() for key, path in read.items()}
    # Every DuckDB migration in order: the newest CREATE TABLE of a table declares it.
    out["duckdb.ddl"] = "".join(
        p.read_text() for p in sorted((ROOT / "pipeline/src/cardpipe/load/sql/duckdb").glob("V*.sql"))
    )
    out["infra.tf_driver"] = "".join(
        p.read_text() for p in sorted((ROOT / "infra" / "scripts").glob("*")) if p.is_file()
    )
    out["infra.aws"], out["infra.snowflake"] = aws, snowflake
    out["dbt.manifest"] = _dbt_manifest(tmp)
    return out


def _settings_env_names() -> list[str]:
    """Every environment variable cardpipe's Settings read (prefix + field, or the field's alias)."""
    found = []

    def walk(model: type[BaseSettings]) -> None:
        prefix = str(model.model_config.get("env_prefix", ""))
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
                walk(annotation)
            else:
                found.append((field.alias or f"{prefix}{name}").upper())

    walk(Settings)
    return found


def _prefix_up_to_source(key: str) -> str:
    return key[: key.index("source=backfill/") + len("source=backfill/")]


@pytest.fixture(scope="session")
def runtime() -> dict[str, Any]:
    s = Settings()
    rabbit = s.rabbitmq
    when = datetime(2026, 1, 1, tzinfo=UTC)
    stage_paths = []
    copy_columns = {}
    for kind in KINDS:
        statement = snowflake_sql.copy_sql(
            kind,
            s.snowflake.stage,
            s.snowflake.file_format,
            root=snowflake_sql.stage_root(s.bronze.s3_prefix),
            keys=[f"{PREFIXES[kind]}x.ndjson.gz"],
            force=False,
        )
        path = re.search(r"\n    FROM @[\w.$]+/(\S+)\n", statement)
        stage_paths.append(path.group(1) if path else "<no stage path in COPY>")
        match = re.search(r"COPY INTO RAW\.(\w+) \(([^)]*)\)", statement)
        if match:
            copy_columns[match.group(1)] = [c.strip() for c in match.group(2).split(",")]
    vhost = rabbit.url.rsplit("/", 1)[-1].replace("%2F", "/")
    return {
        "account_id": tomllib.loads(EXAMPLE_ACCOUNTS.read_text())[ENV]["aws"]["account_id"],
        "queue": rabbit.queue,
        "vhost": vhost,
        "exchange": rabbit.exchange,
        "dead_letter_exchange": rabbit.dead_letter_exchange,
        "dead_letter_queue": rabbit.dead_letter_queue,
        "delivery_limit": rabbit.delivery_limit,
        "queue_arguments": rabbit_topology.queue_arguments(rabbit),
        "dead_letter_policy_fix": set_policy(rabbit_topology.policy_fix(rabbit)),
        "snowflake_schema": s.snowflake.schema_,
        "snowflake_identity": {"role": s.snowflake.role, "warehouse": s.snowflake.warehouse},
        "stage_objects": {
            "stage": s.snowflake.stage.split(".")[-1],
            "file_format": s.snowflake.file_format.split(".")[-1],
        },
        "stage_paths": stage_paths,
        "copy_columns": copy_columns,
        "layout_prefixes": [
            layout.EVENTS_PREFIX,
            layout.QUARANTINE_PREFIX,
            layout.CONTROL_PREFIX,
            layout.CHECKPOINT_PREFIX,
        ],
        "backfill_write_prefixes": [
            _prefix_up_to_source(layout.events_key("backfill", "card_created", when, "n")),
            _prefix_up_to_source(layout.quarantine_key("backfill", "undecodable", when, "n")),
            layout.checkpoint_key("job", "n").split("job/")[0],
            layout.control_key("kind", "n").split("kind/")[0],
        ],
        "settings_env_names": _settings_env_names(),
        "control_record_prefix": control_record_key("w").removesuffix("w" + names.BRONZE_SUFFIX),
    }
