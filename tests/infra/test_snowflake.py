"""Snowflake stack: database, schemas, warehouses, roles and grants, users, integration, stage, RAW DDL."""

from __future__ import annotations

from typing import Any

import cdktn
from cardinfra.names import names, raw_tables
from conftest import Synth

DATA_OBJECTS = (
    "snowflake_database",
    "snowflake_schema",
    "snowflake_warehouse",
    "snowflake_table",
    "snowflake_file_format_json",
    "snowflake_stage_external_s3",
    "snowflake_storage_integration_aws",
)


def test_database_and_every_schema_dbt_builds_into(synth: Synth) -> None:
    """Defect: infra made RAW/STAGING/MART while dbt builds staging, intermediate, marts."""
    db = synth.cfg.snowflake_database
    assert cdktn.Testing.to_have_resource_with_properties(synth.snowflake, "snowflake_database", {"name": db})
    schemas = {r["name"] for r in synth.resources("snowflake", "snowflake_schema").values()}
    assert schemas == {"RAW", "STAGING", "INTERMEDIATE", "MARTS"} == set(names.SNOWFLAKE_SCHEMAS)


def test_providers_follow_snowflake_rbac(synth: Synth) -> None:
    """Defect: everything was created as ACCOUNTADMIN."""
    providers = {p["alias"]: p["role"] for p in synth.snowflake_json["provider"]["snowflake"]}
    assert providers == {r.lower(): r for r in ("SYSADMIN", "SECURITYADMIN", "USERADMIN", "ACCOUNTADMIN")}
    used: dict[str, set[str]] = {}
    for rtype, resources in synth.snowflake_json["resource"].items():
        for r in resources.values():
            used.setdefault(r["provider"], set()).add(rtype)
    assert used["snowflake.accountadmin"] == {
        "snowflake_resource_monitor",
        "snowflake_grant_privileges_to_account_role",
    }
    assert used["snowflake.sysadmin"] == set(DATA_OBJECTS)
    assert used["snowflake.useradmin"] == {"snowflake_account_role", "snowflake_service_user"}
    assert used["snowflake.securityadmin"] == {
        "snowflake_grant_privileges_to_account_role",
        "snowflake_grant_account_role",
    }
    (monitor_grant,) = [
        g
        for g in synth.resources("snowflake", "snowflake_grant_privileges_to_account_role").values()
        if g["provider"] == "snowflake.accountadmin"
    ]
    assert monitor_grant["account_role_name"] == "SYSADMIN"
    assert monitor_grant["on_account_object"]["object_type"] == "RESOURCE MONITOR"


def test_warehouses_auto_suspend_under_resource_monitor(synth: Synth) -> None:
    sf = synth.cfg.snowflake
    warehouses = {r["name"]: r for r in synth.resources("snowflake", "snowflake_warehouse").values()}
    assert set(warehouses) == set(names.WAREHOUSES) == {*names.ROLE_WAREHOUSES.values(), "TRANSFORM_LARGE_WH"}
    for wh in warehouses.values():
        assert wh["auto_suspend"] == sf.auto_suspend_seconds
        assert wh["initially_suspended"] is True
        assert wh["resource_monitor"] == "${snowflake_resource_monitor.monitor.name}"
    assert warehouses["TRANSFORM_WH"]["warehouse_size"] == sf.transform_wh_size
    assert warehouses["TRANSFORM_LARGE_WH"]["warehouse_size"] == sf.transform_large_wh_size
    (monitor,) = synth.resources("snowflake", "snowflake_resource_monitor").values()
    assert monitor["credit_quota"] == sf.credit_quota
    assert monitor["suspend_trigger"] == 100


def test_roles_roll_up_to_sysadmin(synth: Synth) -> None:
    roles = {r["name"] for r in synth.resources("snowflake", "snowflake_account_role").values()}
    assert roles == set(names.ROLE_WAREHOUSES)
    parents = [
        g
        for g in synth.resources("snowflake", "snowflake_grant_account_role").values()
        if "parent_role_name" in g
    ]
    assert len(parents) == 3 and all(g["parent_role_name"] == "SYSADMIN" for g in parents)


def _grants(synth: Synth) -> list[dict[str, Any]]:
    return list(synth.resources("snowflake", "snowflake_grant_privileges_to_account_role").values())


def _role(role: str) -> str:
    return f"${{snowflake_account_role.role-{role.lower()}.name}}"


def _schema(name: str) -> str:
    return f"${{snowflake_schema.schema-{name.lower()}.fully_qualified_name}}"


def test_raw_is_owned_here_with_the_contract_columns(synth: Synth) -> None:
    """Defect: RAW.EVENTS lacked the LOADED_AT default the loader's COPY relies on (NULL loaded_at)."""
    tables = {t["name"]: t for t in synth.resources("snowflake", "snowflake_table").values()}
    assert set(tables) == {t.name for t in raw_tables.TABLES}
    for contract in raw_tables.TABLES:
        columns = tables[contract.name]["column"]
        assert [c["name"] for c in columns] == contract.column_names()
        for col, spec in zip(columns, contract.columns, strict=True):
            assert col["type"] == spec.snowflake_type and col["nullable"] is spec.nullable, (
                contract.name,
                col,
            )
            assert col.get("default") == ({"expression": spec.default} if spec.default else None)
    loaded_at = tables["EVENTS"]["column"][-1]
    assert loaded_at == {
        "name": "LOADED_AT",
        "type": "TIMESTAMP_TZ",
        "nullable": False,
        "default": {"expression": "CURRENT_TIMESTAMP()"},
    }
    assert synth.resources("snowflake", "snowflake_pipe") == {}  # cardpipe load is RAW's one writer


def test_loader_gets_exactly_what_its_statements_need(synth: Synth) -> None:
    """Defect: LOADER had SELECT/INSERT only, yet the loader deletes (audit, journal counts), truncates."""
    for t in raw_tables.TABLES:
        (grant,) = [
            g
            for g in _grants(synth)
            if g["account_role_name"] == _role("LOADER")
            and g.get("on_schema_object", {}).get("object_name")
            == f"${{snowflake_table.raw-{t.name.lower()}.fully_qualified_name}}"
        ]
        assert sorted(grant["privileges"]) == ["DELETE", "INSERT", "SELECT", "TRUNCATE"]
    loader_schemas = [
        g for g in _grants(synth) if g["account_role_name"] == _role("LOADER") and "on_schema" in g
    ]
    assert [(g["on_schema"]["schema_name"], g["privileges"]) for g in loader_schemas] == [
        (_schema("RAW"), ["USAGE"])
    ]


def test_transformer_builds_the_dbt_schemas_and_reporter_reads_marts_only(synth: Synth) -> None:
    """Defect: REPORTER (Sigma) was granted a schema dbt never fills."""
    grants = _grants(synth)
    for layer in names.DBT_LAYER_SCHEMAS.values():
        (g,) = [
            x
            for x in grants
            if x["account_role_name"] == _role("TRANSFORMER")
            and x.get("on_schema", {}).get("schema_name") == _schema(layer)
        ]
        assert sorted(g["privileges"]) == ["CREATE TABLE", "CREATE VIEW", "USAGE"]
    reporter = [g for g in grants if g["account_role_name"] == _role("REPORTER")]
    schemas = {
        g.get("on_schema", {}).get("schema_name")
        or next(iter(g["on_schema_object"].values())).get("in_schema")
        for g in reporter
        if "on_schema" in g or "on_schema_object" in g
    }
    assert schemas == {_schema(names.REPORTING_SCHEMA)}
    future = [g for g in reporter if "future" in g.get("on_schema_object", {})]
    assert sorted(g["on_schema_object"]["future"]["object_type_plural"] for g in future) == [
        "TABLES",
        "VIEWS",
    ]
    assert not any(g.get("all_privileges") for g in grants)


def test_service_users_key_pair_only(synth: Synth) -> None:
    users = synth.resources("snowflake", "snowflake_service_user")
    assert len(users) == 3
    for user in users.values():
        assert user["rsa_public_key"] and "password" not in user
    assert cdktn.Testing.to_have_resource_with_properties(
        synth.snowflake,
        "snowflake_service_user",
        {
            "name": names.service_user(synth.cfg.env, "LOADER"),
            "default_warehouse": "${snowflake_warehouse.wh-load_wh.name}",
            "default_role": "${snowflake_account_role.role-loader.name}",
        },
    )
    grants = [
        g for g in synth.resources("snowflake", "snowflake_grant_account_role").values() if "user_name" in g
    ]
    assert sorted(g["user_name"] for g in grants) == [
        f"${{snowflake_service_user.user-{r}.name}}" for r in ("loader", "reporter", "transformer")
    ]


def test_stage_is_the_bronze_root_of_the_raw_bucket(synth: Synth) -> None:
    """Defect: stage `s3://<bucket>/raw/` + paths `raw/events/` meant raw/raw/events/: nothing loaded."""
    cfg = synth.cfg
    url = names.stage_url(cfg.bucket("raw"))
    assert url == f"s3://{cfg.bucket('raw')}/raw/"
    (integration,) = synth.resources("snowflake", "snowflake_storage_integration_aws").values()
    assert integration["storage_aws_role_arn"] == cfg.snowflake_role_arn
    assert integration["storage_aws_external_id"] == cfg.snowflake_external_id
    assert integration["storage_allowed_locations"] == [url]
    (stage,) = synth.resources("snowflake", "snowflake_stage_external_s3").values()
    assert stage["name"] == names.STAGE and stage["url"] == url
    assert stage["storage_integration"] == "${snowflake_storage_integration_aws.storage-integration.name}"
    (ff,) = synth.resources("snowflake", "snowflake_file_format_json").values()
    assert ff["name"] == names.FILE_FORMAT and ff["compression"] == "GZIP"
    assert set(synth.snowflake_json["output"]) == {
        "storage_integration_iam_user_arn",
        "storage_integration_external_id",
        "database_name",
    }


def _warehouse_usage(synth: Synth) -> dict[str, set[str]]:
    """Warehouse reference -> the roles granted USAGE on it."""
    usage: dict[str, set[str]] = {}
    for g in _grants(synth):
        target = g.get("on_account_object", {})
        if target.get("object_type") == "WAREHOUSE":
            assert g["privileges"] == ["USAGE"], g
            usage.setdefault(target["object_name"], set()).add(g["account_role_name"])
    return usage


def test_transformer_may_use_the_large_warehouse_dbt_routes_heavy_marts_to(synth: Synth) -> None:
    """dbt's `snowflake_warehouse` (fct_orders, fct_daily_demand) issues USE WAREHOUSE TRANSFORM_LARGE_WH as
    TRANSFORMER: without USAGE the heavy marts fail. Nobody else may use it, and it is nobody's default."""
    wh = {w: f"${{snowflake_warehouse.wh-{w.lower()}.name}}" for w in names.WAREHOUSES}
    assert _warehouse_usage(synth) == {
        wh["LOAD_WH"]: {_role("LOADER")},
        wh["TRANSFORM_WH"]: {_role("TRANSFORMER")},
        wh[names.TRANSFORM_LARGE_WAREHOUSE]: {_role("TRANSFORMER")},
        wh["BI_WH"]: {_role("REPORTER")},
    }
    users = synth.resources("snowflake", "snowflake_service_user").values()
    defaults = {u["default_warehouse"] for u in users}
    assert wh[names.TRANSFORM_LARGE_WAREHOUSE] not in defaults
    sizes = {"dev": "SMALL", "staging": "MEDIUM", "prod": "LARGE"}
    (large,) = [
        w
        for w in synth.resources("snowflake", "snowflake_warehouse").values()
        if w["name"] == names.TRANSFORM_LARGE_WAREHOUSE
    ]
    assert large["warehouse_size"] == sizes[synth.cfg.env]
    assert large["resource_monitor"] == "${snowflake_resource_monitor.monitor.name}"
