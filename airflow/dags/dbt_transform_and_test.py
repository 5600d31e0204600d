"""Build and test silver and gold with dbt whenever the loader announces new RAW data.

Triggered by the RAW_EVENTS asset. Source freshness runs first (a stale RAW stops the run before models
are rebuilt on old data); then Cosmos renders every model with its tests as one `dbt build` task each (a
failed test stops everything downstream: write-audit-publish) from dbt's manifest.json,
built ahead by `make dbt-manifest` (CI / packaging), so parsing this file never runs dbt. dbt runs in its
own venv (dbt_executable_path) as a subprocess, both when rendering and when executing. On Snowflake dbt runs
as TRANSFORMER, from the Airflow connection of that name (never the loader's identity).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task
from cardpipe.contracts import names
from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior, TestIndirectSelection
from sportscards_lib import dbt
from sportscards_lib.assets import MARTS, RAW_EVENTS
from sportscards_lib.defaults import default_args

if not dbt.DBT_MANIFEST_PATH.exists():
    raise FileNotFoundError(
        f"dbt manifest not found at {dbt.DBT_MANIFEST_PATH}: run `make dbt-manifest` first"
    )


@dag(
    dag_id=names.DAG_DBT,
    schedule=[RAW_EVENTS],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # incremental models must not be built by two runs at once
    default_args=default_args(retries=1, timeout_minutes=60),
    dagrun_timeout=timedelta(hours=3),
    tags=["sportscards", "dbt"],
    doc_md=__doc__,
)
def dbt_transform_and_test() -> None:
    @task(retries=0)
    def source_freshness() -> None:
        """`dbt source freshness`: fails the run when RAW is older than the error threshold."""
        dbt.run_dbt("source", "freshness")

    transform = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            manifest_path=dbt.DBT_MANIFEST_PATH,
            project_name=dbt.project_name(),
        ),
        # DuckDB: profiles.yml; Snowflake: TRANSFORMER's connection (sportscards_lib.dbt.profile_config)
        profile_config=dbt.profile_config(),
        execution_config=ExecutionConfig(
            dbt_project_path=dbt.DBT_PROJECT_DIR,
            dbt_executable_path=dbt.DBT_EXECUTABLE_PATH,
            invocation_mode=InvocationMode.SUBPROCESS,
            test_indirect_selection=TestIndirectSelection.BUILDABLE,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            dbt_executable_path=dbt.DBT_EXECUTABLE_PATH,
            invocation_mode=InvocationMode.SUBPROCESS,
            # data-quality tests belong to the data_quality DAG; everything else runs right after its model
            exclude=["tag:data_quality"],
            # Write-audit-publish: one `dbt build` task per model runs the model and then its tests, so a
            # failing test stops every model downstream before it is rebuilt on bad rows (and before
            # publish_marts announces anything). A test spanning two models runs with the later of the two
            # (indirect selection "buildable", set in execution_config): never before both exist.
            test_behavior=TestBehavior.BUILD,
        ),
        operator_args={"install_deps": False, "env": dbt.dbt_env_static(), "append_env": True},
        default_args={"retries": 1},
    )

    @task(outlets=[MARTS])
    def publish_marts() -> None:
        """Announce fresh marts (data_quality and downstream consumers schedule on this asset)."""

    source_freshness() >> transform >> publish_marts()


dbt_transform_and_test()
