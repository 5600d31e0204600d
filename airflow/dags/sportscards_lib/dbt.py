"""Where dbt lives for these DAGs, and who dbt is on Snowflake.

Paths: locally they resolve inside the repository (dbt/, dbt/.venv/bin/dbt); on MWAA the dbt project is
shipped inside the DAG bundle (dags/dbt/) and startup.sh builds the venv at /usr/local/airflow/dbt_venv.
Each can be overridden with the environment variable of the same name; DBT_TARGET also comes from the MWAA
option `sportscards.dbt_target` (infra sets it to the environment).

Identity: the `local` target runs on DuckDB from profiles.yml. The environment targets (dev/staging/prod) run
on Snowflake as TRANSFORMER with its own key: Cosmos renders the profile from the Airflow connection
names.CONN_SNOWFLAKE_TRANSFORMER, with role, warehouse, database and schema fixed from names.py, so neither
the loader's identity (LOADER, set for cardpipe) nor anything in the worker's environment can leak into dbt.
The Cosmos task group and the plain dbt tasks (freshness, data-quality tests) use the same ProfileConfig.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cardpipe.contracts import names

from sportscards_lib.settings import setting

if TYPE_CHECKING:
    from cosmos import ProfileConfig

_DAGS = Path(__file__).resolve().parents[1]
_REPO_DBT = _DAGS.parents[1] / "dbt"


def _first_existing(*candidates: Path) -> Path:
    return next((p for p in candidates if p.exists()), candidates[-1])


DBT_PROJECT_DIR = Path(os.environ.get("DBT_PROJECT_DIR") or _first_existing(_DAGS / "dbt", _REPO_DBT))
DBT_EXECUTABLE_PATH = Path(
    os.environ.get("DBT_EXECUTABLE_PATH")
    or _first_existing(Path("/usr/local/airflow/dbt_venv/bin/dbt"), DBT_PROJECT_DIR / ".venv" / "bin" / "dbt")
)
DBT_PROFILES_DIR = Path(os.environ.get("DBT_PROFILES_DIR") or DBT_PROJECT_DIR)
DBT_TARGET = setting(names.ENV_DBT_TARGET) or "local"
DBT_MANIFEST_PATH = Path(os.environ.get("DBT_MANIFEST_PATH") or DBT_PROJECT_DIR / "target" / "manifest.json")
# dbt's target schema on Snowflake: every model sets its own layer schema (generate_schema_name takes it as
# is), so this only receives what has none (e.g. stored test failures); TRANSFORMER owns it.
SNOWFLAKE_TARGET_SCHEMA = names.DBT_LAYER_SCHEMAS["staging"]
QUERY_TAG = "sportscards-dbt"
# Variables the dbt subprocess must never inherit on Snowflake targets: the loader's identity (cardpipe's).
_LOADER_ENV_PREFIX = "SNOWFLAKE_"


def is_snowflake_target(target: str) -> bool:
    """The environment targets of profiles.yml are Snowflake; anything else (`local`) is DuckDB."""
    return target in names.ENVIRONMENTS


def profile_name() -> str:
    """The `profile:` of dbt_project.yml (Cosmos needs it by name)."""
    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return str(project["profile"])


def project_name() -> str:
    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return str(project["name"])


def transformer_profile_args(target: str) -> dict[str, str]:
    """Everything but the credentials, fixed here so the connection cannot make dbt run as another role."""
    return {
        "role": names.TRANSFORMER,
        "warehouse": names.ROLE_WAREHOUSES[names.TRANSFORMER],
        "database": setting(names.ENV_SNOWFLAKE_DATABASE) or names.snowflake_database(target),
        "schema": SNOWFLAKE_TARGET_SCHEMA,
        "query_tag": QUERY_TAG,
    }


def profile_config(target: str | None = None) -> ProfileConfig:
    """The dbt profile for `target`: profiles.yml for DuckDB, the TRANSFORMER connection for Snowflake."""
    from cosmos import ProfileConfig
    from cosmos.profiles import SnowflakeEncryptedPrivateKeyPemProfileMapping

    target = target or DBT_TARGET
    if not is_snowflake_target(target):
        return ProfileConfig(
            profile_name=profile_name(),
            target_name=target,
            profiles_yml_filepath=DBT_PROFILES_DIR / "profiles.yml",
        )
    return ProfileConfig(
        profile_name=profile_name(),
        target_name=target,
        profile_mapping=SnowflakeEncryptedPrivateKeyPemProfileMapping(
            conn_id=names.CONN_SNOWFLAKE_TRANSFORMER,
            profile_args=transformer_profile_args(target),
        ),
    )


def dbt_env(target: str | None = None) -> dict[str, str]:
    """Environment for dbt: the target, and for DuckDB the file the loader wrote (profiles read DUCKDB_PATH).

    Environment only (MWAA options included), no connection lookups: also used at parse time by Cosmos."""
    from sportscards_lib.settings import apply_mwaa_options

    target = target or DBT_TARGET
    env = {names.ENV_DBT_TARGET: target}
    if not is_snowflake_target(target):
        from cardpipe.config import WarehouseSettings

        apply_mwaa_options()
        duckdb_path = WarehouseSettings().duckdb_path
        env["DUCKDB_PATH"] = os.environ.get("DUCKDB_PATH") or str(duckdb_path.resolve())
    return env


def dbt_env_static() -> dict[str, str]:
    """Parse-time environment of the Cosmos operators (same as dbt_env: no connection lookups)."""
    return dbt_env()


def dbt_command(*args: str, profiles_dir: Path | None = None, target: str | None = None) -> list[str]:
    """argv for one dbt invocation against the configured project, profiles and target."""
    return [
        str(DBT_EXECUTABLE_PATH),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(profiles_dir or DBT_PROFILES_DIR),
        "--target",
        target or DBT_TARGET,
    ]


def subprocess_env(target: str, profile_env: dict[str, str]) -> dict[str, str]:
    """The dbt child's environment: the worker's, minus the loader's Snowflake settings on Snowflake targets,
    plus the target and the rendered profile's secrets."""
    base = dict(os.environ)
    if is_snowflake_target(target):
        base = {k: v for k, v in base.items() if not k.startswith(_LOADER_ENV_PREFIX)}
    return {**base, **dbt_env(target), **profile_env}


def run_dbt(*args: str, target: str | None = None) -> None:
    """Run dbt in its own venv as a subprocess, with the profile Cosmos renders for this target; output goes
    to the task log; non-zero exit fails the task."""
    import subprocess

    target = target or DBT_TARGET
    with profile_config(target).ensure_profile() as (profile_path, profile_env):
        completed = subprocess.run(
            dbt_command(*args, profiles_dir=Path(profile_path).parent, target=target),
            env=subprocess_env(target, profile_env),
            cwd=DBT_PROJECT_DIR,
            check=False,
        )
    if completed.returncode != 0:
        raise RuntimeError(
            f"dbt {' '.join(args)} failed with exit code {completed.returncode} (see log above)"
        )
