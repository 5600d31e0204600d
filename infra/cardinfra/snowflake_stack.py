"""Snowflake stack of one environment: database, schemas, warehouses, roles, users, stage and pipe."""

from __future__ import annotations

from cdktn import TerraformOutput, TerraformStack
from cdktn_provider_snowflake.account_role import AccountRole
from cdktn_provider_snowflake.database import Database
from cdktn_provider_snowflake.file_format_json import FileFormatJson
from cdktn_provider_snowflake.grant_account_role import GrantAccountRole
from cdktn_provider_snowflake.grant_privileges_to_account_role import (
    GrantPrivilegesToAccountRole,
    GrantPrivilegesToAccountRoleOnAccountObject,
    GrantPrivilegesToAccountRoleOnSchema,
    GrantPrivilegesToAccountRoleOnSchemaObject,
    GrantPrivilegesToAccountRoleOnSchemaObjectAll,
    GrantPrivilegesToAccountRoleOnSchemaObjectFuture,
)
from cdktn_provider_snowflake.pipe import Pipe
from cdktn_provider_snowflake.provider import SnowflakeProvider
from cdktn_provider_snowflake.resource_monitor import ResourceMonitor
from cdktn_provider_snowflake.schema import Schema
from cdktn_provider_snowflake.service_user import ServiceUser
from cdktn_provider_snowflake.stage_external_s3 import StageExternalS3, StageExternalS3FileFormat
from cdktn_provider_snowflake.storage_integration_aws import StorageIntegrationAws
from cdktn_provider_snowflake.table import Table, TableColumn
from cdktn_provider_snowflake.warehouse import Warehouse
from constructs import Construct

from cardinfra.backend import use_s3_backend
from cardinfra.config import EnvConfig

SCHEMAS = ("RAW", "STAGING", "MART")
# role -> (warehouse, service user). Names are the ones the loader, dbt and Sigma use.
ROLES = {"LOADER": "LOAD_WH", "TRANSFORMER": "TRANSFORM_WH", "REPORTER": "BI_WH"}
STAGE = "BRONZE_STAGE"
FILE_FORMAT = "NDJSON_GZ"
PIPE = "EVENTS_PIPE"
EVENTS_COLUMNS = (
    ("EVENT_ID", "VARCHAR"),
    ("EVENT_TYPE", "VARCHAR"),
    ("SCHEMA_VERSION", "NUMBER(38,0)"),
    ("OCCURRED_AT", "TIMESTAMP_TZ"),
    ("PRODUCER", "VARCHAR"),
    ("PAYLOAD", "VARIANT"),
    ("SOURCE", "VARCHAR"),
    ("INGESTED_AT", "TIMESTAMP_TZ"),
    ("RAW_B64", "VARCHAR"),
    ("FILE_NAME", "VARCHAR"),
    ("LOADED_AT", "TIMESTAMP_TZ"),
)


def stack_name(cfg: EnvConfig) -> str:
    return cfg.stack_order[0]


def copy_statement(db: str) -> str:
    """Snowpipe COPY: one RAW.EVENTS row per bronze line, same columns as the batch loader writes."""
    columns = ", ".join(name for name, _ in EVENTS_COLUMNS)
    values = ", ".join(
        [
            "$1:event_id::VARCHAR",
            "$1:event_type::VARCHAR",
            "$1:schema_version::NUMBER",
            "$1:occurred_at::TIMESTAMP_TZ",
            "$1:producer::VARCHAR",
            "$1:payload",
            "$1:ingest.source::VARCHAR",
            "$1:ingest.ingested_at::TIMESTAMP_TZ",
            "$1:raw_b64::VARCHAR",
            "METADATA$FILENAME",
            "CURRENT_TIMESTAMP()",
        ]
    )
    return (
        f"COPY INTO {db}.RAW.EVENTS ({columns}) FROM (SELECT {values} FROM @{db}.RAW.{STAGE}/raw/events/) "
        f"FILE_FORMAT = (FORMAT_NAME = '{db}.RAW.{FILE_FORMAT}')"
    )


class SnowflakeStack(TerraformStack):
    """Applied before the AWS stack: its outputs (Snowflake's IAM user, the pipe's SQS) feed the AWS trust."""

    def __init__(self, scope: Construct, cfg: EnvConfig) -> None:
        name = stack_name(cfg)
        super().__init__(scope, name)
        sf = cfg.snowflake
        use_s3_backend(self, cfg, name)
        # Credentials come from the environment of whoever applies (SNOWFLAKE_USER, SNOWFLAKE_PRIVATE_KEY...).
        SnowflakeProvider(
            self,
            "snowflake",
            organization_name=sf.organization_name,
            account_name=sf.account_name,
            authenticator="SNOWFLAKE_JWT",
            role="ACCOUNTADMIN",
            preview_features_enabled=["snowflake_pipe_resource", "snowflake_table_resource"],
        )
        db_name = cfg.snowflake_database
        db = Database(
            self, "database", name=db_name, data_retention_time_in_days=7 if cfg.env == "prod" else 1
        )
        schemas = {s: Schema(self, f"schema-{s.lower()}", database=db.name, name=s) for s in SCHEMAS}

        monitor = ResourceMonitor(
            self,
            "monitor",
            name=f"{db_name}_MONITOR",
            credit_quota=sf.credit_quota,
            frequency="MONTHLY",
            start_timestamp="IMMEDIATELY",
            notify_triggers=[75, 90],
            suspend_trigger=100,
            suspend_immediate_trigger=110,
        )
        sizes = {"LOAD_WH": sf.load_wh_size, "TRANSFORM_WH": sf.transform_wh_size, "BI_WH": sf.bi_wh_size}
        warehouses = {
            wh: Warehouse(
                self,
                f"wh-{wh.lower()}",
                name=wh,
                warehouse_size=size,
                auto_suspend=sf.auto_suspend_seconds,
                auto_resume="true",
                initially_suspended=True,
                resource_monitor=monitor.name,
            )
            for wh, size in sizes.items()
        }
        roles = {r: AccountRole(self, f"role-{r.lower()}", name=r) for r in ROLES}
        for r, role in roles.items():
            GrantAccountRole(self, f"rollup-{r.lower()}", role_name=role.name, parent_role_name="SYSADMIN")
            self._grant_account_object(
                f"{r.lower()}-wh", role.name, "WAREHOUSE", warehouses[ROLES[r]].name, ["USAGE"]
            )
            self._grant_account_object(f"{r.lower()}-db", role.name, "DATABASE", db.name, ["USAGE"])
        keys = {
            "LOADER": sf.loader_public_key,
            "TRANSFORMER": sf.transformer_public_key,
            "REPORTER": sf.reporter_public_key,
        }
        for r, role in roles.items():
            user = ServiceUser(
                self,
                f"user-{r.lower()}",
                name=f"{db_name}_{r}_SVC",
                default_role=role.name,
                default_warehouse=warehouses[ROLES[r]].name,
                rsa_public_key=keys[r],
                comment=f"{r} service user (key-pair auth only)",
            )
            # References (not literals) so terraform creates the user and role before the grant.
            GrantAccountRole(self, f"user-grant-{r.lower()}", role_name=role.name, user_name=user.name)

        raw, staging, mart = schemas["RAW"], schemas["STAGING"], schemas["MART"]
        # LOADER writes RAW; TRANSFORMER reads RAW and owns STAGING/MART objects; REPORTER reads MART.
        self._schema_grants(
            "loader-raw",
            roles["LOADER"].name,
            raw.fully_qualified_name,
            ["USAGE", "CREATE TABLE"],
            {"TABLES": ["SELECT", "INSERT"]},
        )
        self._schema_grants(
            "transformer-raw",
            roles["TRANSFORMER"].name,
            raw.fully_qualified_name,
            ["USAGE"],
            {"TABLES": ["SELECT"]},
        )
        for key, s in (("staging", staging), ("mart", mart)):
            self._schema_grants(
                f"transformer-{key}",
                roles["TRANSFORMER"].name,
                s.fully_qualified_name,
                ["USAGE", "CREATE TABLE", "CREATE VIEW"],
                {"TABLES": ["SELECT"], "VIEWS": ["SELECT"]},
            )
        self._schema_grants(
            "reporter-mart",
            roles["REPORTER"].name,
            mart.fully_qualified_name,
            ["USAGE"],
            {"TABLES": ["SELECT"], "VIEWS": ["SELECT"]},
        )

        integration = StorageIntegrationAws(
            self,
            "storage-integration",
            name=f"{db_name}_S3",
            enabled=True,
            storage_provider="S3",
            storage_aws_role_arn=cfg.snowflake_role_arn,
            storage_aws_external_id=cfg.snowflake_external_id,
            storage_allowed_locations=[f"s3://{cfg.bucket('raw')}/raw/"],
        )
        self._grant_account_object(
            "loader-integration", roles["LOADER"].name, "INTEGRATION", integration.name, ["USAGE"]
        )
        file_format = FileFormatJson(
            self,
            "file-format",
            database=db.name,
            schema=raw.name,
            name=FILE_FORMAT,
            compression="GZIP",
        )
        stage = StageExternalS3(
            self,
            "stage",
            database=db.name,
            schema=raw.name,
            name=STAGE,
            url=f"s3://{cfg.bucket('raw')}/raw/",
            storage_integration=integration.name,
            file_format=StageExternalS3FileFormat(format_name=file_format.fully_qualified_name),
        )
        self._grant_schema_object(
            "loader-stage", roles["LOADER"].name, "STAGE", stage.fully_qualified_name, ["USAGE"]
        )
        self._grant_schema_object(
            "loader-ff", roles["LOADER"].name, "FILE FORMAT", file_format.fully_qualified_name, ["USAGE"]
        )
        events = Table(
            self,
            "events",
            database=db.name,
            schema=raw.name,
            name="EVENTS",
            column=[TableColumn(name=n, type=t) for n, t in EVENTS_COLUMNS],
            comment="One row per bronze line (at-least-once); staging deduplicates",
        )
        pipe = Pipe(
            self,
            "pipe",
            database=db.name,
            schema=raw.name,
            name=PIPE,
            auto_ingest=True,
            copy_statement=copy_statement(db_name),
            depends_on=[stage, events],
        )
        TerraformOutput(
            self, "storage_integration_iam_user_arn", value=integration.describe_output.get(0).iam_user_arn
        )
        TerraformOutput(self, "pipe_sqs_arn", value=pipe.notification_channel)

    def _grant_account_object(self, id_: str, role: str, kind: str, name: str, privileges: list[str]) -> None:
        GrantPrivilegesToAccountRole(
            self,
            f"grant-{id_}",
            account_role_name=role,
            privileges=privileges,
            on_account_object=GrantPrivilegesToAccountRoleOnAccountObject(object_type=kind, object_name=name),
        )

    def _grant_schema_object(self, id_: str, role: str, kind: str, name: str, privileges: list[str]) -> None:
        GrantPrivilegesToAccountRole(
            self,
            f"grant-{id_}",
            account_role_name=role,
            privileges=privileges,
            on_schema_object=GrantPrivilegesToAccountRoleOnSchemaObject(object_type=kind, object_name=name),
        )

    def _schema_grants(
        self, id_: str, role: str, schema: str, schema_privs: list[str], objects: dict[str, list[str]]
    ) -> None:
        """Schema privileges plus grants on all existing and all future objects of each kind."""
        GrantPrivilegesToAccountRole(
            self,
            f"grant-{id_}-schema",
            account_role_name=role,
            privileges=schema_privs,
            on_schema=GrantPrivilegesToAccountRoleOnSchema(schema_name=schema),
        )
        for plural, privs in objects.items():
            k = plural.lower()
            GrantPrivilegesToAccountRole(
                self,
                f"grant-{id_}-all-{k}",
                account_role_name=role,
                privileges=privs,
                on_schema_object=GrantPrivilegesToAccountRoleOnSchemaObject(
                    all=GrantPrivilegesToAccountRoleOnSchemaObjectAll(
                        object_type_plural=plural, in_schema=schema
                    )
                ),
            )
            GrantPrivilegesToAccountRole(
                self,
                f"grant-{id_}-future-{k}",
                account_role_name=role,
                privileges=privs,
                on_schema_object=GrantPrivilegesToAccountRoleOnSchemaObject(
                    future=GrantPrivilegesToAccountRoleOnSchemaObjectFuture(
                        object_type_plural=plural, in_schema=schema
                    )
                ),
            )
