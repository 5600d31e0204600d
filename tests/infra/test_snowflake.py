"""Snowflake stack: database, schemas, warehouses, roles and grants, users, integration, stage, pipe."""

from __future__ import annotations

import cdktn
from conftest import Synth


def test_database_and_schemas(synth: Synth) -> None:
    db = synth.cfg.snowflake_database
    assert cdktn.Testing.to_have_resource_with_properties(synth.snowflake, "snowflake_database", {"name": db})
    schemas = {r["name"] for r in synth.resources("snowflake", "snowflake_schema").values()}
    assert schemas == {"RAW", "STAGING", "MART"}


def test_warehouses_auto_suspend_under_resource_monitor(synth: Synth) -> None:
    sf = synth.cfg.snowflake
    warehouses = {r["name"]: r for r in synth.resources("snowflake", "snowflake_warehouse").values()}
    assert set(warehouses) == {"LOAD_WH", "TRANSFORM_WH", "BI_WH"}
    for wh in warehouses.values():
        assert wh["auto_suspend"] == sf.auto_suspend_seconds
        assert wh["initially_suspended"] is True
        assert wh["resource_monitor"] == "${snowflake_resource_monitor.monitor.name}"
    assert warehouses["TRANSFORM_WH"]["warehouse_size"] == sf.transform_wh_size
    (monitor,) = synth.resources("snowflake", "snowflake_resource_monitor").values()
    assert monitor["credit_quota"] == sf.credit_quota
    assert monitor["suspend_trigger"] == 100


def test_roles_roll_up_to_sysadmin(synth: Synth) -> None:
    roles = {r["name"] for r in synth.resources("snowflake", "snowflake_account_role").values()}
    assert roles == {"LOADER", "TRANSFORMER", "REPORTER"}
    parents = [
        g
        for g in synth.resources("snowflake", "snowflake_grant_account_role").values()
        if "parent_role_name" in g
    ]
    assert len(parents) == 3 and all(g["parent_role_name"] == "SYSADMIN" for g in parents)


def _grants(synth: Synth) -> list[dict]:  # type: ignore[type-arg]
    return list(synth.resources("snowflake", "snowflake_grant_privileges_to_account_role").values())


def test_least_privilege_and_future_grants(synth: Synth) -> None:
    grants = _grants(synth)
    assert not any(g.get("all_privileges") for g in grants)
    raw = "${snowflake_schema.schema-raw.fully_qualified_name}"
    mart = "${snowflake_schema.schema-mart.fully_qualified_name}"

    def future(role: str, schema: str) -> list[str]:
        return [
            p
            for g in grants
            if g["account_role_name"] == f"${{snowflake_account_role.role-{role}.name}}"
            and g.get("on_schema_object", {}).get("future", {}).get("in_schema") == schema
            for p in g["privileges"]
        ]

    assert sorted(future("loader", raw)) == ["INSERT", "SELECT"]
    assert future("transformer", raw) == ["SELECT"]
    assert sorted(future("reporter", mart)) == ["SELECT", "SELECT"]  # tables and views
    assert future("reporter", raw) == []  # Sigma never sees RAW
    assert future("loader", mart) == []


def test_service_users_key_pair_only(synth: Synth) -> None:
    users = synth.resources("snowflake", "snowflake_service_user")
    assert len(users) == 3
    for user in users.values():
        assert user["rsa_public_key"]
        assert "password" not in user
    assert cdktn.Testing.to_have_resource_with_properties(
        synth.snowflake,
        "snowflake_service_user",
        {
            "name": f"{synth.cfg.snowflake_database}_LOADER_SVC",
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


def test_integration_stage_format_and_auto_ingest_pipe(synth: Synth) -> None:
    cfg = synth.cfg
    (integration,) = synth.resources("snowflake", "snowflake_storage_integration_aws").values()
    assert integration["storage_aws_role_arn"] == cfg.snowflake_role_arn
    assert integration["storage_aws_external_id"] == cfg.snowflake_external_id
    assert integration["storage_allowed_locations"] == [f"s3://{cfg.bucket('raw')}/raw/"]
    (stage,) = synth.resources("snowflake", "snowflake_stage_external_s3").values()
    assert stage["name"] == "BRONZE_STAGE" and stage["url"] == f"s3://{cfg.bucket('raw')}/raw/"
    assert stage["storage_integration"] == "${snowflake_storage_integration_aws.storage-integration.name}"
    (ff,) = synth.resources("snowflake", "snowflake_file_format_json").values()
    assert ff["name"] == "NDJSON_GZ" and ff["compression"] == "GZIP"
    (pipe,) = synth.resources("snowflake", "snowflake_pipe").values()
    assert pipe["auto_ingest"] is True
    assert f"COPY INTO {cfg.snowflake_database}.RAW.EVENTS" in pipe["copy_statement"]
    assert f"@{cfg.snowflake_database}.RAW.BRONZE_STAGE/raw/events/" in pipe["copy_statement"]
    outputs = synth.snowflake_json["output"]
    assert set(outputs) == {"storage_integration_iam_user_arn", "pipe_sqs_arn"}
    columns = [c["name"] for c in synth.resources("snowflake", "snowflake_table")["events"]["column"]]
    assert columns[:2] == ["EVENT_ID", "EVENT_TYPE"] and "PAYLOAD" in columns
