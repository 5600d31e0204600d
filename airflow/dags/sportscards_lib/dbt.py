"""Where dbt lives for these DAGs: project, its own venv's executable, profiles, target and manifest.

Locally these resolve inside the repository (dbt/, dbt/.venv/bin/dbt); on MWAA the dbt project is shipped
inside the DAG bundle (dags/dbt/) and startup.sh builds the venv at /usr/local/airflow/dbt_venv. Each can be
overridden with the environment variable of the same name.
"""

from __future__ import annotations

import os
from pathlib import Path

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
DBT_TARGET = os.environ.get("DBT_TARGET", "local")
DBT_MANIFEST_PATH = Path(os.environ.get("DBT_MANIFEST_PATH") or DBT_PROJECT_DIR / "target" / "manifest.json")


def profile_name() -> str:
    """The `profile:` of dbt_project.yml (Cosmos needs it by name)."""
    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return str(project["profile"])


def project_name() -> str:
    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return str(project["name"])


def dbt_env() -> dict[str, str]:
    """Environment for dbt subprocesses: the DuckDB file the loader wrote (profiles read DUCKDB_PATH)."""
    from sportscards_lib.settings import cardpipe_settings

    env = {"DBT_TARGET": DBT_TARGET}
    warehouse = cardpipe_settings().warehouse
    if warehouse.kind == "duckdb":
        env["DUCKDB_PATH"] = os.environ.get("DUCKDB_PATH") or str(warehouse.duckdb_path.resolve())
    return env


def dbt_env_static() -> dict[str, str]:
    """Parse-time variant of dbt_env for Cosmos operators: environment only, no connection lookups."""
    from cardpipe.config import load_settings

    env = {"DBT_TARGET": DBT_TARGET}
    warehouse = load_settings().warehouse
    if warehouse.kind == "duckdb":
        env["DUCKDB_PATH"] = os.environ.get("DUCKDB_PATH") or str(warehouse.duckdb_path.resolve())
    return env


def dbt_command(*args: str) -> list[str]:
    """argv for one dbt invocation against the configured project, profiles and target."""
    return [
        str(DBT_EXECUTABLE_PATH),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROFILES_DIR),
        "--target",
        DBT_TARGET,
    ]


def run_dbt(*args: str) -> None:
    """Run dbt in its own venv as a subprocess; output goes to the task log; non-zero exit fails the task."""
    import subprocess

    env = {**os.environ, **dbt_env()}
    completed = subprocess.run(dbt_command(*args), env=env, cwd=DBT_PROJECT_DIR, check=False)
    if completed.returncode != 0:
        raise RuntimeError(
            f"dbt {' '.join(args)} failed with exit code {completed.returncode} (see log above)"
        )
