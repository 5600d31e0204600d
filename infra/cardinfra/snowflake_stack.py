"""Snowflake stack of one environment: database, schemas, warehouses, roles, users, integration, stage, RAW
DDL.

Ownership follows Snowflake's RBAC practice: one provider per system role. SYSADMIN creates and owns the data
objects (database, schemas, warehouses, RAW tables, file format, stage, storage integration: the runbook
grants
SYSADMIN `CREATE INTEGRATION`), USERADMIN the roles and users, SECURITYADMIN every grant, and ACCOUNTADMIN
only
the resource monitor (nobody else can create one). This stack owns RAW's DDL (from cardpipe's raw_tables.py);
the loader only verifies it. dbt (TRANSFORMER) creates and owns what it builds in STAGING, INTERMEDIATE,
MARTS.
"""

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
from cdktn_provider_snowflake.provider import SnowflakeProvider
from cdktn_provider_snowflake.resource_monitor import ResourceMonitor
from cdktn_provider_snowflake.schema import Schema
from cdktn_provider_snowflake.service_user import ServiceUser
from cdktn_provider_snowflake.stage_external_s3 import StageExternalS3, StageExternalS3FileFormat
from cdktn_provider_snowflake.storage_integration_aws import StorageIntegrationAws
from cdktn_provider_snowflake.table import Table, TableColumn, TableColumnDefault
from cdktn_provider_snowflake.warehouse import Warehouse
from constructs import Construct

from cardinfra.backend import use_s3_backend
from cardinfra.config import EnvConfig
from cardinfra.names import names, raw_tables

# What the loader's statements need on each RAW table (cardpipe.load.snowflake_load): COPY inserts, the audit
# and
# journal-count replacements delete, replay truncates (which also clears COPY's load metadata).
LOADER_TABLE_PRIVILEGES = ["SELECT", "INSERT", "DELETE", "TRUNCATE"]
OUTPUT_INTEGRATION_USER = "storage_integration_iam_user_arn"
OUTPUT_INTEGRATION_EXTERNAL_ID = "storage_integration_external_id"
PROVIDER_ROLES = ("SYSADMIN", "SECURITYADMIN", "USERADMIN", "ACCOUNTADMIN")


def stack_name(cfg: EnvConfig) -> str:
    return cfg.stack_order[0]


class SnowflakeStack(TerraformStack):
    """Applied before the AWS stack: its output (Snowflake's IAM user) feeds the AWS role's trust."""

    def __init__(self, scope: Construct, cfg: EnvConfig) -> None:
        name = stack_name(cfg)
        super().__init__(scope, name)
        self.cfg = cfg
        use_s3_backend(self, cfg, name)
        self.providers = self._providers()
        sysadmin, useradmin, accountadmin = (
            self.providers["SYSADMIN"],
            self.providers["USERADMIN"],
            self.providers["ACCOUNTADMIN"],
        )
        sf = cfg.snowflake
        db_name = cfg.snowflake_database
        self.database = Database(
            self,
            "database",
            name=db_name,
            data_retention_time_in_days=7 if cfg.env == "prod" else 1,
            provider=sysadmin,
        )
        self.schemas = {
            s: Schema(self, f"schema-{s.lower()}", database=self.database.name, name=s, provider=sysadmin)
            for s in names.SNOWFLAKE_SCHEMAS
        }

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
            provider=accountadmin,
        )
        # SYSADMIN owns the warehouses; assigning them to the monitor needs MODIFY on it (granted here).
        monitor_grant = GrantPrivilegesToAccountRole(
            self,
            "grant-sysadmin-monitor",
            account_role_name="SYSADMIN",
            privileges=["MONITOR", "MODIFY"],
            on_account_object=GrantPrivilegesToAccountRoleOnAccountObject(
                object_type="RESOURCE MONITOR", object_name=monitor.name
            ),
            provider=accountadmin,
        )
        self.warehouses = {
            wh: Warehouse(
                self,
                f"wh-{wh.lower()}",
                name=wh,
                warehouse_size=sf.warehouse_size(wh),
                auto_suspend=sf.auto_suspend_seconds,
                auto_resume="true",
                initially_suspended=True,
                resource_monitor=monitor.name,
                provider=sysadmin,
                depends_on=[monitor_grant],
            )
            for wh in names.WAREHOUSES
        }
        self.roles = {
            r: AccountRole(self, f"role-{r.lower()}", name=r, provider=useradmin)
            for r in names.ROLE_WAREHOUSES
        }
        for role_name, role in self.roles.items():
            self._grant_role(f"rollup-{role_name.lower()}", role.name, parent_role_name="SYSADMIN")
            warehouse = self.warehouses[names.ROLE_WAREHOUSES[role_name]]
            self._grant_account_object(
                f"{role_name.lower()}-wh", role.name, "WAREHOUSE", warehouse.name, ["USAGE"]
            )
            # Warehouses a role may switch to (dbt's per-model snowflake_warehouse): USAGE, never a default.
            for extra in names.ROLE_EXTRA_WAREHOUSES.get(role_name, ()):
                self._grant_account_object(
                    f"{role_name.lower()}-{extra.lower()}",
                    role.name,
                    "WAREHOUSE",
                    self.warehouses[extra].name,
                    ["USAGE"],
                )
            self._grant_account_object(
                f"{role_name.lower()}-db", role.name, "DATABASE", self.database.name, ["USAGE"]
            )
            user = ServiceUser(
                self,
                f"user-{role_name.lower()}",
                name=names.service_user(cfg.env, role_name),
                default_role=role.name,
                default_warehouse=warehouse.name,
                rsa_public_key=sf.public_key(role_name),
                comment=f"{role_name} service user (key-pair auth only)",
                provider=useradmin,
            )
            # References (not literals) so terraform creates the user and role before the grant.
            self._grant_role(f"user-grant-{role_name.lower()}", role.name, user_name=user.name)

        self.tables = self._raw_tables()
        self._grants()
        self._stage()

    # -- providers -------------------------------------------------------------------------------------------
    def _providers(self) -> dict[str, SnowflakeProvider]:
        """One provider per system role; credentials come from the environment of whoever applies
        (SNOWFLAKE_USER, SNOWFLAKE_PRIVATE_KEY, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: docs/infra.md)."""
        sf = self.cfg.snowflake
        return {
            role: SnowflakeProvider(
                self,
                f"snowflake-{role.lower()}",
                alias=role.lower(),
                organization_name=sf.organization_name,
                account_name=sf.account_name,
                authenticator="SNOWFLAKE_JWT",
                role=role,
                preview_features_enabled=["snowflake_table_resource"],
            )
            for role in PROVIDER_ROLES
        }

    # -- RAW DDL (the one owner on Snowflake) ---------------------------------------------------------------
    def _raw_tables(self) -> dict[str, Table]:
        raw = self.schemas[names.RAW_SCHEMA]
        tables = {}
        for table in raw_tables.TABLES:
            tables[table.name] = Table(
                self,
                f"raw-{table.name.lower()}",
                database=self.database.name,
                schema=raw.name,
                name=table.name,
                comment=table.comment,
                column=[
                    TableColumn(
                        # The provider quotes column names itself (so the reserved ROWS is created as "ROWS").
                        name=c.name,
                        type=c.snowflake_type,
                        nullable=c.nullable,
                        default=TableColumnDefault(expression=c.default) if c.default else None,
                    )
                    for c in table.columns
                ],
                provider=self.providers["SYSADMIN"],
            )
        return tables

    # -- grants ----------------------------------------------------------------------------------------------
    def _grants(self) -> None:
        """LOADER writes RAW; TRANSFORMER reads RAW and builds dbt's schemas; REPORTER (Sigma) reads MARTS."""
        raw = self.schemas[names.RAW_SCHEMA]
        loader, transformer, reporter = (
            self.roles[r].name for r in (names.LOADER, names.TRANSFORMER, names.REPORTER)
        )
        self._grant_schema("loader-raw", loader, raw.fully_qualified_name, ["USAGE"])
        self._grant_schema("transformer-raw", transformer, raw.fully_qualified_name, ["USAGE"])
        for table_name, table in self.tables.items():
            key = table_name.lower()
            self._grant_schema_object(
                f"loader-{key}", loader, "TABLE", table.fully_qualified_name, LOADER_TABLE_PRIVILEGES
            )
            self._grant_schema_object(
                f"transformer-{key}", transformer, "TABLE", table.fully_qualified_name, ["SELECT"]
            )
        for layer_schema in names.DBT_LAYER_SCHEMAS.values():
            schema = self.schemas[layer_schema]
            self._grant_schema(
                f"transformer-{layer_schema.lower()}",
                transformer,
                schema.fully_qualified_name,
                ["USAGE", "CREATE TABLE", "CREATE VIEW"],
            )
        reporting = self.schemas[names.REPORTING_SCHEMA].fully_qualified_name
        self._grant_schema("reporter-marts", reporter, reporting, ["USAGE"])
        for plural in ("TABLES", "VIEWS"):
            k = plural.lower()
            self._grant(
                f"grant-reporter-marts-all-{k}",
                reporter,
                ["SELECT"],
                on_schema_object=GrantPrivilegesToAccountRoleOnSchemaObject(
                    all=GrantPrivilegesToAccountRoleOnSchemaObjectAll(
                        object_type_plural=plural, in_schema=reporting
                    )
                ),
            )
            self._grant(
                f"grant-reporter-marts-future-{k}",
                reporter,
                ["SELECT"],
                on_schema_object=GrantPrivilegesToAccountRoleOnSchemaObject(
                    future=GrantPrivilegesToAccountRoleOnSchemaObjectFuture(
                        object_type_plural=plural, in_schema=reporting
                    )
                ),
            )

    # -- stage on the raw bucket -----------------------------------------------------------------------------
    def _stage(self) -> None:
        cfg = self.cfg
        sysadmin = self.providers["SYSADMIN"]
        raw = self.schemas[names.RAW_SCHEMA]
        url = names.stage_url(cfg.bucket("raw"))
        integration = StorageIntegrationAws(
            self,
            "storage-integration",
            name=names.storage_integration(cfg.env),
            enabled=True,
            storage_provider="S3",
            storage_aws_role_arn=cfg.snowflake_role_arn,
            storage_aws_external_id=cfg.snowflake_external_id,
            storage_allowed_locations=[url],
            provider=sysadmin,
        )
        file_format = FileFormatJson(
            self,
            "file-format",
            database=self.database.name,
            schema=raw.name,
            name=names.FILE_FORMAT,
            compression="GZIP",
            provider=sysadmin,
        )
        stage = StageExternalS3(
            self,
            "stage",
            database=self.database.name,
            schema=raw.name,
            name=names.STAGE,
            url=url,
            storage_integration=integration.name,
            file_format=StageExternalS3FileFormat(format_name=file_format.fully_qualified_name),
            provider=sysadmin,
        )
        loader = self.roles[names.LOADER].name
        self._grant_schema_object("loader-stage", loader, "STAGE", stage.fully_qualified_name, ["USAGE"])
        self._grant_schema_object(
            "loader-ff", loader, "FILE FORMAT", file_format.fully_qualified_name, ["USAGE"]
        )
        description = integration.describe_output.get(0)
        TerraformOutput(self, OUTPUT_INTEGRATION_USER, value=description.iam_user_arn)
        TerraformOutput(self, OUTPUT_INTEGRATION_EXTERNAL_ID, value=description.external_id)
        TerraformOutput(self, "database_name", value=self.database.name)

    # -- grant helpers (every grant is made by SECURITYADMIN, which holds MANAGE GRANTS)
    # ----------------------
    def _grant(self, id_: str, role: str, privileges: list[str], **target: object) -> None:
        GrantPrivilegesToAccountRole(
            self,
            id_,
            account_role_name=role,
            privileges=privileges,
            provider=self.providers["SECURITYADMIN"],
            **target,  # type: ignore[arg-type]
        )

    def _grant_role(self, id_: str, role: str, **to: str) -> None:
        GrantAccountRole(self, id_, role_name=role, provider=self.providers["SECURITYADMIN"], **to)

    def _grant_account_object(self, id_: str, role: str, kind: str, name: str, privileges: list[str]) -> None:
        self._grant(
            f"grant-{id_}",
            role,
            privileges,
            on_account_object=GrantPrivilegesToAccountRoleOnAccountObject(object_type=kind, object_name=name),
        )

    def _grant_schema(self, id_: str, role: str, schema: str, privileges: list[str]) -> None:
        self._grant(
            f"grant-{id_}-schema",
            role,
            privileges,
            on_schema=GrantPrivilegesToAccountRoleOnSchema(schema_name=schema),
        )

    def _grant_schema_object(self, id_: str, role: str, kind: str, name: str, privileges: list[str]) -> None:
        self._grant(
            f"grant-{id_}",
            role,
            privileges,
            on_schema_object=GrantPrivilegesToAccountRoleOnSchemaObject(object_type=kind, object_name=name),
        )
