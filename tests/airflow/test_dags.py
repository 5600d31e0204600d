# ruff: noqa: PLC0415  (Airflow and the DAG helpers are imported inside tests, after conftest set AIRFLOW_HOME)
"""DagBag loads cleanly and every DAG has the shape, schedule and policies the docs promise."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from cardpipe.contracts import names
from conftest import REPO

EXPECTED = set(names.DAG_IDS)
MANIFEST = REPO / "dbt" / "target" / "manifest.json"


def _deps(dag: Any) -> set[tuple[str, str]]:
    return {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}


def test_dagbag_has_no_import_errors(dagbag: Any) -> None:
    if not MANIFEST.exists():
        pytest.skip("dbt manifest missing (dbt/target/manifest.json): run `make dbt-manifest`")
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


def test_dbt_dag_without_manifest_fails_with_instructions(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing manifest is an import error that says how to build it, not a silently empty DAG."""
    from airflow.dag_processing.dagbag import BundleDagBag
    from conftest import DAGS

    monkeypatch.setenv("DBT_MANIFEST_PATH", str(tmp_path / "missing.json"))
    import importlib

    import sportscards_lib.dbt

    importlib.reload(sportscards_lib.dbt)
    try:
        bag = BundleDagBag(dag_folder=str(DAGS / "dbt_transform_and_test.py"), bundle_path=DAGS)
        (error,) = bag.import_errors.values()
        assert "make dbt-manifest" in error
    finally:
        monkeypatch.delenv("DBT_MANIFEST_PATH")
        importlib.reload(sportscards_lib.dbt)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED - {"dbt_transform_and_test"}))
def test_every_task_retries_times_out_and_alerts(dagbag: Any, dag_id: str) -> None:
    from sportscards_lib.defaults import alert_on_failure

    dag = dagbag.get_dag(dag_id)
    assert dag is not None, dagbag.import_errors
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    for task in dag.tasks:
        assert task.execution_timeout is not None and task.execution_timeout <= timedelta(hours=1), (
            task.task_id
        )
        callbacks = task.on_failure_callback
        assert callbacks == alert_on_failure or alert_on_failure in (callbacks or []), task.task_id
        assert task.retries >= 1 or task.task_id == "source_freshness", task.task_id


def test_backfill_dag_maps_chunks_dynamically(dagbag: Any) -> None:
    dag = dagbag.get_dag("events_backfill_to_s3")
    assert not dag.timetable.can_be_scheduled  # manual: an explicit window per run
    assert {t.task_id for t in dag.tasks} == {"plan", "land_chunk", "finish"}
    assert _deps(dag) == {("plan", "land_chunk"), ("land_chunk", "finish")}
    assert dag.get_task("land_chunk").is_mapped
    assert set(dag.params.keys()) == {"since", "until", "chunk_rows"}
    assert dag.get_task("land_chunk").retries == 3


def test_load_dag_emits_the_raw_asset(dagbag: Any) -> None:
    from sportscards_lib.assets import RAW_EVENTS

    dag = dagbag.get_dag("s3_to_snowflake_load_raw")
    assert dag.timetable.expression == "*/15 * * * *"
    assert _deps(dag) == {("drain_live_queue", "load_raw"), ("drain_dead_letters", "load_raw")}
    load = dag.get_task("load_raw")
    assert RAW_EVENTS in load.outlets
    assert load.trigger_rule == "none_failed"  # runs when the optional drain was skipped
    assert dag.params["drain_live_queue"] is False


def test_dbt_dag_runs_on_the_raw_asset_freshness_first_through_cosmos(dagbag: Any) -> None:
    if not MANIFEST.exists():
        pytest.skip("dbt manifest missing (dbt/target/manifest.json): run `make dbt-manifest`")
    from cosmos.constants import InvocationMode
    from sportscards_lib import dbt
    from sportscards_lib.assets import MARTS, RAW_EVENTS

    dag = dagbag.get_dag("dbt_transform_and_test")
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert list(dag.timetable.asset_condition.objects) == [RAW_EVENTS]
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.")]
    # Write-audit-publish: one `dbt build` task per model of the manifest (the model, then its tests; a test
    # spanning two models with the later one: indirect selection "buildable"), no test task after all models.
    manifest = json.loads(MANIFEST.read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    seeds = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "seed"}
    builds = {t.task_id for t in dbt_tasks}
    assert (
        models
        and seeds
        and builds == {f"dbt.{m}_model_build" for m in models} | {f"dbt.{s}_seed_build" for s in seeds}
    )
    for task in dbt_tasks:
        assert type(task).__name__ == "DbtBuildLocalOperator", task.task_id
        assert task.indirect_selection == "buildable", task.task_id
        assert "tag:data_quality" in (task.exclude if isinstance(task.exclude, list) else [task.exclude])
    # A mart is built only after its parents' builds (and so their tests) succeeded.
    fct_orders = dag.get_task("dbt.fct_orders_model_build")
    assert {"dbt.dim_card_model_build", "dbt.dim_date_model_build"} <= fct_orders.upstream_task_ids
    leaves = {t.task_id for t in dbt_tasks if not t.downstream_task_ids & builds}
    assert {d for leaf in leaves for d in dag.get_task(leaf).downstream_task_ids} == {"publish_marts"}
    roots = {t.task_id for t in dag.roots}
    assert roots == {"source_freshness"}
    assert [t.task_id for t in dag.leaves] == ["publish_marts"]
    assert MARTS in dag.get_task("publish_marts").outlets
    for task in dbt_tasks:
        assert str(task.dbt_executable_path) == str(dbt.DBT_EXECUTABLE_PATH)
        assert task.invocation_mode == InvocationMode.SUBPROCESS
        assert "data_quality" not in task.task_id and "reconciliation" not in task.task_id


def test_data_quality_runs_after_marts_and_daily(dagbag: Any) -> None:
    from sportscards_lib.assets import MARTS

    dag = dagbag.get_dag("data_quality")
    assert list(dag.timetable.asset_condition.objects) == [MARTS]
    assert dag.timetable.timetable.expression == "0 6 * * *"  # a silent pipeline still gets checked daily
    assert {t.task_id for t in dag.tasks} == {"source_freshness", "quality_tests", "dead_letter_queue_empty"}
    assert {t.task_id for t in dag.leaves} == {
        "source_freshness",
        "quality_tests",
        "dead_letter_queue_empty",
    }  # each failure fails the run
