# ruff: noqa: PLC0415  (Airflow and the DAG helpers are imported inside tests, after conftest set AIRFLOW_HOME)
"""dbt on Snowflake runs as TRANSFORMER with its own key, rendered by Cosmos from the Airflow connection;
the loader's identity (which cardpipe exports for the load) never reaches dbt. `local` keeps profiles.yml.

The profile is the one Cosmos writes (ProfileConfig.ensure_profile), then handed to the real dbt
(dbt-snowflake in dbt/.venv) through sportscards_lib.dbt.run_dbt, the path the freshness and data-quality
tasks take.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cardpipe.contracts import names
from conftest import REPO, encrypted_key_pem, snowflake_connection

DBT_EXE = REPO / "dbt" / ".venv" / "bin" / "dbt"
LOADER_USER = names.service_user("dev", names.LOADER)
TRANSFORMER_USER = names.service_user("dev", names.TRANSFORMER)


@pytest.fixture
def identities(restore_environ: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Both connections defined (Airflow's environment secrets backend), and the loader's identity already in
    the worker's environment, as after cardpipe_settings() ran in the same process."""
    loader_pem, transformer_pem = encrypted_key_pem("loader-pw"), encrypted_key_pem("transformer-pw")
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{names.CONN_SNOWFLAKE_LOADER.upper()}",
        json.dumps(snowflake_connection(LOADER_USER, "loader-pw", loader_pem)),
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{names.CONN_SNOWFLAKE_TRANSFORMER.upper()}",
        # a role/warehouse in the connection must not win over TRANSFORMER's
        json.dumps(
            snowflake_connection(TRANSFORMER_USER, "transformer-pw", transformer_pem, role="X", warehouse="Y")
        ),
    )
    for name, value in {
        "SNOWFLAKE_USER": LOADER_USER,
        "SNOWFLAKE_ROLE": names.LOADER,
        "SNOWFLAKE_WAREHOUSE": names.ROLE_WAREHOUSES[names.LOADER],
        "SNOWFLAKE_PRIVATE_KEY": loader_pem,
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "loader-pw",
    }.items():
        monkeypatch.setenv(name, value)
    return {"loader_pem": loader_pem, "transformer_pem": transformer_pem}


def _rendered(target: str) -> tuple[dict[str, Any], dict[str, str]]:
    from sportscards_lib import dbt

    with dbt.profile_config(target).ensure_profile() as (path, env):
        profile = yaml.safe_load(Path(path).read_text())
    return profile[dbt.profile_name()]["outputs"][target], env


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_snowflake_profile_is_transformer_from_its_connection(
    identities: dict[str, str], target: str
) -> None:
    from cryptography.hazmat.primitives import serialization

    out, env = _rendered(target)
    assert out["type"] == "snowflake"
    assert out["user"] == TRANSFORMER_USER
    assert out["role"] == names.TRANSFORMER
    assert out["warehouse"] == names.ROLE_WAREHOUSES[names.TRANSFORMER]
    assert out["database"] == names.snowflake_database(target)
    assert out["schema"] in names.DBT_LAYER_SCHEMAS.values()  # a schema infra creates and TRANSFORMER owns
    # secrets are env_var() references in the file, their values only in the environment of the dbt process
    key_var = out["private_key"].split("'")[1]
    pass_var = out["private_key_passphrase"].split("'")[1]
    assert env[key_var].strip() == identities["transformer_pem"].strip()
    serialization.load_pem_private_key(env[key_var].encode(), password=env[pass_var].encode())
    rendered = json.dumps(out) + json.dumps(env)
    assert LOADER_USER not in rendered and identities["loader_pem"].strip() not in rendered
    assert names.LOADER not in {out["role"], out["warehouse"]}


def test_dbt_subprocess_never_sees_the_loader_identity(identities: dict[str, str]) -> None:
    from sportscards_lib import dbt

    _, profile_env = _rendered("dev")
    env = dbt.subprocess_env("dev", profile_env)
    assert not [k for k in env if k.startswith("SNOWFLAKE_")]
    assert identities["loader_pem"] not in env.values()
    assert env[names.ENV_DBT_TARGET] == "dev"


def test_local_target_keeps_profiles_yml(restore_environ: None) -> None:
    from sportscards_lib import dbt

    config = dbt.profile_config("local")
    assert Path(str(config.profiles_yml_filepath)) == dbt.DBT_PROFILES_DIR / "profiles.yml"
    assert config.profile_mapping is None


def test_the_dbt_dag_uses_the_same_profile_config(
    airflow_db: Path, restore_environ: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsed with DBT_TARGET=dev (from the MWAA option), every Cosmos task renders from TRANSFORMER."""
    import importlib

    from airflow.dag_processing.dagbag import BundleDagBag
    from conftest import DAGS

    if not (REPO / "dbt" / "target" / "manifest.json").exists():
        pytest.skip("dbt manifest missing (dbt/target/manifest.json): run `make dbt-manifest`")
    import sportscards_lib.dbt

    monkeypatch.delenv(names.ENV_DBT_TARGET, raising=False)
    monkeypatch.setenv(names.airflow_config_env(names.mwaa_option(names.ENV_DBT_TARGET)), "dev")
    importlib.reload(sportscards_lib.dbt)
    try:
        bag = BundleDagBag(dag_folder=str(DAGS / f"{names.DAG_DBT}.py"), bundle_path=DAGS)
        assert not bag.import_errors, bag.import_errors
        dbt_tasks = [t for t in bag.get_dag(names.DAG_DBT).tasks if t.task_id.startswith("dbt.")]
        assert dbt_tasks
        for task in dbt_tasks:
            mapping = task.profile_config.profile_mapping
            assert mapping.conn_id == names.CONN_SNOWFLAKE_TRANSFORMER, task.task_id
            assert mapping.profile_args["role"] == names.TRANSFORMER
            assert task.profile_config.target_name == "dev"
    finally:
        monkeypatch.undo()
        importlib.reload(sportscards_lib.dbt)


def test_run_dbt_hands_the_rendered_transformer_profile_to_dbt_snowflake(
    identities: dict[str, str], tmp_path: Path
) -> None:
    """The freshness/quality path end to end up to the warehouse: dbt-snowflake loads the rendered profile
    and parses the project for the dev target (`dbt parse` needs no connection)."""
    from sportscards_lib import dbt

    if not DBT_EXE.exists() or dbt.DBT_EXECUTABLE_PATH != DBT_EXE:
        pytest.skip("dbt venv missing (dbt/.venv/bin/dbt): run `make dbt-setup`")
    target_path = tmp_path / "target"
    dbt.run_dbt(
        "parse", "--target-path", str(target_path), "--log-path", str(tmp_path / "logs"), target="dev"
    )
    manifest = json.loads((target_path / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "snowflake"
    # the models build into the schemas infra creates
    schemas = {n["schema"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert schemas <= {s.lower() for s in names.DBT_LAYER_SCHEMAS.values()} | set(
        names.DBT_LAYER_SCHEMAS.values()
    )
    assert {n["database"] for n in manifest["nodes"].values() if n["resource_type"] == "model"} == {
        names.snowflake_database("dev")
    }
