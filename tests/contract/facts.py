"""Cross-tool name facts: what names.py says, and what each tool's artifact actually holds.

`collect(artifacts)` reads every tool's own output or source (the synthesized Terraform JSON of both stacks,
dbt's
project, sources, profiles and parsed manifest, the DuckDB DDL, the workflows, .env.example, Makefile
fragments,
cardpipe's runtime defaults and generated SQL) and returns one Fact per name with every place it was observed.
`check(facts)` lists each disagreement. Pure functions over text, so test_names.py can mutate one artifact at
a
time and prove every observation bites.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from cardpipe.contracts import names, raw_tables
from cardpipe.contracts.codec import Reason

ENV = "dev"  # the environment synthesized for the contract (all three share the code paths)


@dataclass(frozen=True)
class Observation:
    source: str  # artifact key (see Artifacts) or "cardpipe:<what>" for runtime values
    value: Any
    needle: str | None = None  # text of the value inside the artifact, for the mutation test
    swap: str | None = None  # what the mutation test puts instead (default: an `x` after its last letter)


@dataclass
class Fact:
    name: str
    expected: Any
    observed: list[Observation] = field(default_factory=list)

    def see(self, source: str, value: Any, needle: str | None = None, swap: str | None = None) -> None:
        self.observed.append(Observation(source, value, needle, swap))


Artifacts = dict[str, str]  # source key -> text


def _resources(doc: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return list(doc.get("resource", {}).get(rtype, {}).values())


def _addr(doc: dict[str, Any], rtype: str, attr: str, **match: Any) -> str:
    """`${type.id.attr}` of the single resource matching `match` (or a marker if none/many)."""
    hits = [
        rid
        for rid, r in doc.get("resource", {}).get(rtype, {}).items()
        if all(r.get(k) == v for k, v in match.items())
    ]
    return f"${{{rtype}.{hits[0]}.{attr}}}" if len(hits) == 1 else f"<{len(hits)} {rtype} matching {match}>"


def _statements(policy: str) -> list[dict[str, Any]]:
    return json.loads(policy)["Statement"]  # type: ignore[no-any-return]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_statements(doc: dict[str, Any], role_name: str) -> list[dict[str, Any]]:
    ref = _addr(doc, "aws_iam_role", "id", name=role_name)
    return [
        st
        for p in _resources(doc, "aws_iam_role_policy")
        if p["role"] == ref
        for st in _statements(p["policy"])
    ]


def _put_prefixes(doc: dict[str, Any], role_name: str, bucket_ref: str) -> list[str]:
    return sorted(
        r.removeprefix(f"{bucket_ref}/").removesuffix("*")
        for st in _role_statements(doc, role_name)
        if "s3:PutObject" in _as_list(st["Action"])
        for r in _as_list(st["Resource"])
    )


def _duckdb_columns(ddl: str) -> dict[str, list[tuple[str, str]]]:
    """Column (name, type) lists of the CREATE TABLE statements of a DuckDB migration (text only)."""
    tables: dict[str, list[tuple[str, str]]] = {}
    for match in re.finditer(r"CREATE TABLE IF NOT EXISTS raw\.(\w+) \((.*?)\n\);", ddl, re.S):
        cols = []
        for raw_line in match.group(2).splitlines():
            line = raw_line.split("--")[0].strip().rstrip(",")
            if line:
                col, typ = line.split()[:2]
                cols.append((col.upper(), typ))
        tables[match.group(1).upper()] = cols
    return tables


def _workflow_terraform_versions(text: str) -> list[str]:
    doc = yaml.safe_load(text)
    return [
        str(step.get("with", {}).get("terraform_version"))
        for job in doc.get("jobs", {}).values()
        for step in job.get("steps", [])
        if str(step.get("uses", "")).startswith("hashicorp/setup-terraform")
    ]


def collect(artifacts: Artifacts, runtime: dict[str, Any]) -> list[Fact]:
    """Every cross-tool name with where it was seen. `runtime` holds cardpipe's values (conftest.runtime)."""
    aws = json.loads(artifacts["infra.aws"])
    sf = json.loads(artifacts["infra.snowflake"])
    account = runtime["account_id"]
    raw_bucket = names.bucket_name(ENV, "raw", account)
    facts: list[Fact] = []

    def fact(name: str, expected: Any) -> Fact:
        facts.append(Fact(name, expected))
        return facts[-1]

    # --- broker topology
    # -------------------------------------------------------------------------------------
    f = fact("queue", names.QUEUE)
    f.see("cardpipe:settings", runtime["queue"])
    for mapping in _resources(aws, "aws_lambda_event_source_mapping"):
        f.see("infra.aws", mapping["queues"][0], mapping["queues"][0])
    f.see("env.example", _env_example(artifacts["env.example"]).get("RABBITMQ_QUEUE"), names.QUEUE)
    f = fact("vhost", names.VHOST)
    for mapping in _resources(aws, "aws_lambda_event_source_mapping"):
        vhost = next(
            (c["uri"] for c in mapping["source_access_configuration"] if c["type"] == "VIRTUAL_HOST"), None
        )
        f.see("infra.aws", vhost, f'"uri": "{vhost}"', f'"uri": "{vhost}x"')
    f.see("cardpipe:settings", runtime["vhost"])
    for key, expected in (
        ("exchange", names.EXCHANGE),
        ("dead_letter_exchange", names.DEAD_LETTER_EXCHANGE),
        ("dead_letter_queue", names.DEAD_LETTER_QUEUE),
    ):
        f = fact(key, expected)
        f.see("cardpipe:settings", runtime[key])
        f.see("env.example", _env_example(artifacts["env.example"]).get(f"RABBITMQ_{key.upper()}"), expected)
    f = fact("delivery_limit", str(names.DELIVERY_LIMIT))
    f.see("cardpipe:settings", str(runtime["delivery_limit"]))
    f.see(
        "env.example",
        _env_example(artifacts["env.example"]).get("RABBITMQ_DELIVERY_LIMIT"),
        f"={names.DELIVERY_LIMIT}",
    )
    # the source queue's x-arguments: what cardpipe declares (locally and from the broker_topology DAG on
    # Amazon MQ, both through sources.rabbit.declare_topology) is names.source_queue_arguments, at-least-once
    # dead-lettering included
    f = fact(
        "source_queue_arguments",
        names.source_queue_arguments(names.DEAD_LETTER_EXCHANGE, names.DELIVERY_LIMIT),
    )
    f.see("cardpipe:settings", runtime["queue_arguments"])
    # the policy that gives a queue declared with the old arguments the same dead-lettering: the fix cardpipe
    # prints (sources.rabbit.policy_fix, also the broker_topology DAG's error) and the command in
    # docs/operations.md must both be names.dead_letter_policy under names.DEAD_LETTER_POLICY
    policy = {"name": names.DEAD_LETTER_POLICY, **names.dead_letter_policy(names.QUEUE)}
    f = fact("dead_letter_policy", policy)
    f.see("cardpipe:policy_fix", runtime["dead_letter_policy_fix"])
    f.see("docs.operations", set_policy(artifacts["docs.operations"]), names.DEAD_LETTER_POLICY)
    f.see(
        "docs.operations",
        set_policy(artifacts["docs.operations"]),
        f'"overflow":"{names.QUEUE_OVERFLOW}"',
        '"overflow":"drop-head"',
    )
    # the policy's definition is the queue's own dead-lettering arguments without their `x-` prefix
    f = fact("dead_letter_policy_definition", names.dead_letter_policy(names.QUEUE)["definition"])
    f.see(
        "cardpipe:settings",
        {
            k.removeprefix("x-"): v
            for k, v in runtime["queue_arguments"].items()
            if k in {"x-dead-letter-strategy", "x-overflow"}
        },
    )
    f = fact("max_message_bytes", f"max_message_size = {names.MAX_MESSAGE_BYTES}")
    for conf in _resources(aws, "aws_mq_configuration"):
        f.see("infra.aws", conf["data"].strip(), str(names.MAX_MESSAGE_BYTES))
    f = fact("mq_engine_version", names.MQ_ENGINE_VERSION)
    for broker in _resources(aws, "aws_mq_broker"):
        f.see("infra.aws", broker["engine_version"], f'"engine_version": "{broker["engine_version"]}"')

    # --- bronze: bucket, prefixes, stage
    # -----------------------------------------------------------------------
    raw_ref = _addr(aws, "aws_s3_bucket", "bucket", bucket=raw_bucket)
    raw_arn = _addr(aws, "aws_s3_bucket", "arn", bucket=raw_bucket)
    f = fact("raw_bucket_in_lambda_env", raw_ref)
    for fn in _resources(aws, "aws_lambda_function"):
        f.see("infra.aws", fn["environment"]["variables"].get(names.ENV_BRONZE_S3_BUCKET), raw_bucket)
    f = fact("raw_bucket_in_mwaa_settings", raw_ref)
    for env in _resources(aws, "aws_mwaa_environment"):
        f.see(
            "infra.aws",
            env["airflow_configuration_options"].get(names.mwaa_option(names.ENV_BRONZE_S3_BUCKET)),
            raw_bucket,
        )
    f = fact("stage_url", names.stage_url(raw_bucket))
    for stage in _resources(sf, "snowflake_stage_external_s3"):
        f.see("infra.snowflake", stage["url"], "/raw/")
    for integ in _resources(sf, "snowflake_storage_integration_aws"):
        f.see("infra.snowflake", integ["storage_allowed_locations"][0], "/raw/")
    f = fact(
        "loader_stage_paths",
        [
            names.stage_path(p)
            for p in (names.EVENTS_PREFIX, names.QUARANTINE_PREFIX, names.JOURNAL_COUNTS_PREFIX)
        ],
    )
    f.see("cardpipe:snowflake_sql", runtime["stage_paths"])
    f = fact(
        "bronze_prefixes",
        [names.EVENTS_PREFIX, names.QUARANTINE_PREFIX, names.CONTROL_PREFIX, names.CHECKPOINT_PREFIX],
    )
    f.see("cardpipe:layout", runtime["layout_prefixes"])
    f = fact(
        "lambda_writes",
        sorted(names.source_prefix(p, "live") for p in (names.EVENTS_PREFIX, names.QUARANTINE_PREFIX)),
    )
    f.see("infra.aws", _put_prefixes(aws, names.resource_name(ENV, "ingest-lambda"), raw_arn), "source=live/")
    f = fact(
        "backfill_writes",
        sorted(
            [
                names.source_prefix(names.EVENTS_PREFIX, "backfill"),
                names.source_prefix(names.QUARANTINE_PREFIX, "backfill"),
                names.CHECKPOINT_PREFIX,
                names.CONTROL_PREFIX,
            ]
        ),
    )
    f.see(
        "infra.aws", _put_prefixes(aws, names.resource_name(ENV, "mwaa-execution"), raw_arn), "_checkpoints/"
    )
    f.see("cardpipe:layout", sorted(runtime["backfill_write_prefixes"]))
    f = fact("control_records_where_the_loader_reads", names.JOURNAL_COUNTS_PREFIX)
    f.see("cardpipe:backfill", runtime["control_record_prefix"])

    # --- environment variables one tool sets and cardpipe reads
    # ---------------------------------------------------
    readable = set(runtime["settings_env_names"]) | {names.ENV_DBT_TARGET, names.ENV_ALERTS_TOPIC_ARN}
    f = fact("lambda_env_names_are_settings", [])
    for fn in _resources(aws, "aws_lambda_function"):
        unknown = sorted(set(fn["environment"]["variables"]) - readable)
        f.see("infra.aws", unknown, next(iter(fn["environment"]["variables"])))
    f = fact("mwaa_options_are_settings", [])
    for env in _resources(aws, "aws_mwaa_environment"):
        keys = [
            k for k in env["airflow_configuration_options"] if k.startswith(f"{names.MWAA_SETTINGS_SECTION}.")
        ]
        unknown = sorted(k for k in keys if k.split(".", 1)[1].upper() not in readable)
        f.see("infra.aws", unknown, keys[0])

    # --- secrets backend and connections
    # -----------------------------------------------------------------------
    f = fact(
        "secrets_prefixes",
        {
            "connections_prefix": names.secrets_prefix(ENV, "connections"),
            "variables_prefix": names.secrets_prefix(ENV, "variables"),
        },
    )
    for env in _resources(aws, "aws_mwaa_environment"):
        f.see(
            "infra.aws",
            json.loads(env["airflow_configuration_options"].get("secrets.backend_kwargs", "{}")),
            "/airflow/connections",
        )
    f = fact("connection_secrets", sorted(names.connection_secret(ENV, c) for c in names.CONNECTIONS))
    secrets = sorted(
        s["name"]
        for s in _resources(aws, "aws_secretsmanager_secret")
        if "/airflow/connections/" in s["name"]
    )
    f.see("infra.aws", secrets, names.CONN_SNOWFLAKE_LOADER)

    # --- Snowflake objects
    # -------------------------------------------------------------------------------------
    f = fact("snowflake_database", names.snowflake_database(ENV))
    for db in _resources(sf, "snowflake_database"):
        f.see("infra.snowflake", db["name"], db["name"])
    for env in _resources(aws, "aws_mwaa_environment"):
        f.see(
            "infra.aws",
            env["airflow_configuration_options"].get(names.mwaa_option(names.ENV_SNOWFLAKE_DATABASE)),
            names.snowflake_database(ENV),
        )
    f = fact("snowflake_schemas", sorted(names.SNOWFLAKE_SCHEMAS))
    f.see("infra.snowflake", sorted(s["name"] for s in _resources(sf, "snowflake_schema")), '"name": "MARTS"')
    project = yaml.safe_load(artifacts["dbt.project"])
    layers = project["models"][project["name"]]
    f = fact("dbt_layer_schemas", dict(names.DBT_LAYER_SCHEMAS))
    f.see(
        "dbt.project",
        {
            layer: str(cfg.get("+schema", "")).upper()
            for layer, cfg in layers.items()
            if isinstance(cfg, dict) and "+schema" in cfg
        },
        "+schema: marts",
    )
    manifest = json.loads(artifacts["dbt.manifest"])
    f = fact("dbt_built_schemas_exist", [])
    built = {
        n["schema"].upper()
        for n in manifest["nodes"].values()
        if n["resource_type"] in {"model", "seed", "snapshot"}
    }
    f.see("dbt.manifest", sorted(built - set(names.SNOWFLAKE_SCHEMAS)), '"schema": "marts"')
    f = fact("dbt_source_schema", names.RAW_SCHEMA)
    sources = yaml.safe_load(artifacts["dbt.sources"])["sources"]
    f.see("dbt.sources", sources[0]["schema"].upper(), "schema: raw")
    f.see("cardpipe:settings", runtime["snowflake_schema"])
    f = fact("dbt_source_tables_are_raw_tables", sorted(t.name for t in raw_tables.TABLES))
    f.see("dbt.sources", sorted(t["name"].upper() for t in sources[0]["tables"]), "- name: load_audit")
    # quarantine reasons are partition values and SQL filters: dbt's accepted_values on raw.quarantine.reason
    # is exactly contracts.codec.Reason (the decoder's and the landing path's)
    f = fact("quarantine_reasons", sorted(str(r) for r in Reason))
    quarantine = next(t for t in sources[0]["tables"] if t["name"] == "quarantine")
    reason_column = next(c for c in quarantine["columns"] if c["name"] == "reason")
    accepted = next(t["accepted_values"] for t in reason_column["data_tests"] if "accepted_values" in t)
    f.see("dbt.sources", sorted(accepted["arguments"]["values"]), "unserializable, dead_lettered]")
    f = fact("dbt_profile_schema_exists", True)
    profiles = artifacts["dbt.profiles"]
    default_schema = re.search(r"schema: \"\{\{ env_var\('SNOWFLAKE_SCHEMA', '(\w+)'\) \}\}\"", profiles)
    f.see(
        "dbt.profiles",
        bool(default_schema) and default_schema.group(1).upper() in names.SNOWFLAKE_SCHEMAS,
        "env_var('SNOWFLAKE_SCHEMA', '",
    )
    f = fact("roles_and_warehouses", dict(names.ROLE_WAREHOUSES))
    roles = {r["name"] for r in _resources(sf, "snowflake_account_role")}
    whs = {w["name"] for w in _resources(sf, "snowflake_warehouse")}
    f.see(
        "infra.snowflake",
        {r: w for r, w in names.ROLE_WAREHOUSES.items() if r in roles and w in whs},
        '"name": "TRANSFORM_WH"',
    )
    # dbt's heavy marts switch to the large warehouse (snowflake_warehouse): infra must create it and let
    # TRANSFORMER use it, and dbt must name that warehouse (var default, and what the parsed models carry).
    large = [names.TRANSFORM_LARGE_WAREHOUSE]
    f = fact("transform_large_warehouse", large)
    wh_names = {
        f"${{snowflake_warehouse.{rid}.name}}": w["name"]
        for rid, w in sf.get("resource", {}).get("snowflake_warehouse", {}).items()
    }
    transformer_ref = _addr(sf, "snowflake_account_role", "name", name=names.TRANSFORMER)
    transformer_whs = {
        wh_names.get(g["on_account_object"]["object_name"], g["on_account_object"]["object_name"])
        for g in _resources(sf, "snowflake_grant_privileges_to_account_role")
        if g["account_role_name"] == transformer_ref
        and g.get("on_account_object", {}).get("object_type") == "WAREHOUSE"
        and "USAGE" in g["privileges"]
    }
    f.see(
        "infra.snowflake",
        sorted(transformer_whs - {names.ROLE_WAREHOUSES[names.TRANSFORMER]}),
        f'"name": "{names.TRANSFORM_LARGE_WAREHOUSE}"',
    )
    f.see(
        "dbt.project",
        [str(project.get("vars", {}).get(names.DBT_VAR_LARGE_WAREHOUSE))],
        f"{names.DBT_VAR_LARGE_WAREHOUSE}: {names.TRANSFORM_LARGE_WAREHOUSE}",
    )
    routed = {
        n["config"].get("snowflake_warehouse")
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["config"].get("snowflake_warehouse")
    }
    f.see("dbt.manifest", sorted(routed), f'"snowflake_warehouse": "{names.TRANSFORM_LARGE_WAREHOUSE}"')
    f = fact("loader_identity", {"role": names.LOADER, "warehouse": names.ROLE_WAREHOUSES[names.LOADER]})
    f.see("cardpipe:settings", runtime["snowflake_identity"])
    for env in _resources(aws, "aws_mwaa_environment"):
        opts = env["airflow_configuration_options"]
        f.see(
            "infra.aws",
            {
                "role": opts.get(names.mwaa_option(names.ENV_SNOWFLAKE_ROLE)),
                "warehouse": opts.get(names.mwaa_option(names.ENV_SNOWFLAKE_WAREHOUSE)),
            },
            '"LOAD_WH"',
        )
    f = fact("stage_and_file_format", {"stage": names.STAGE, "file_format": names.FILE_FORMAT})
    f.see("cardpipe:settings", runtime["stage_objects"])
    f.see(
        "infra.snowflake",
        {
            "stage": next((s["name"] for s in _resources(sf, "snowflake_stage_external_s3")), None),
            "file_format": next((s["name"] for s in _resources(sf, "snowflake_file_format_json")), None),
        },
        names.FILE_FORMAT,
    )
    for table in raw_tables.TABLES:
        f = fact(f"raw_columns_{table.name.lower()}", [(c.name, c.snowflake_type) for c in table.columns])
        cols = next((t["column"] for t in _resources(sf, "snowflake_table") if t["name"] == table.name), [])
        f.see("infra.snowflake", [(c["name"], c["type"]) for c in cols], table.columns[-1].name)
        g = fact(f"duckdb_columns_{table.name.lower()}", [(c.name, c.duckdb_type) for c in table.columns])
        g.see(
            "duckdb.ddl",
            _duckdb_columns(artifacts["duckdb.ddl"]).get(table.name, []),
            table.columns[0].name.lower(),
        )
        h = fact(f"dbt_source_columns_{table.name.lower()}", table.column_names())
        src = next((t for t in sources[0]["tables"] if t["name"].upper() == table.name), {})
        h.see(
            "dbt.sources",
            [c["name"].upper() for c in src.get("columns", [])],
            f"- name: {table.columns[-1].name.lower()}",
        )
        if table.name in runtime["copy_columns"]:
            k = fact(
                f"copy_columns_{table.name.lower()}",
                sorted(set(runtime["copy_columns"][table.name]) - set(table.column_names())),
            )
            k.expected = []
            k.see(
                "cardpipe:snowflake_sql",
                sorted(set(runtime["copy_columns"][table.name]) - set(table.column_names())),
            )
    f = fact("loaded_at_default", "CURRENT_TIMESTAMP()")
    events = next(
        (t for t in _resources(sf, "snowflake_table") if t["name"] == names.RAW_EVENTS_TABLE), {"column": []}
    )
    loaded_at = next((c for c in events["column"] if c["name"] == "LOADED_AT"), {})
    f.see("infra.snowflake", loaded_at.get("default", {}).get("expression"), "CURRENT_TIMESTAMP()")

    # --- MWAA, Airflow and toolchain versions
    # -------------------------------------------------------------------
    f = fact("mwaa_environment", names.mwaa_environment(ENV))
    for env in _resources(aws, "aws_mwaa_environment"):
        f.see("infra.aws", env["name"], f'"name": "{env["name"]}"')
    mk_default = re.search(r"^MWAA_ENVIRONMENT \?= (\S+)", artifacts["mk.airflow"], re.M)
    f.see(
        "mk.airflow",
        mk_default.group(1).replace("$(ENV)", ENV) if mk_default else None,
        "MWAA_ENVIRONMENT ?= ",
    )
    f = fact("airflow_version", names.AIRFLOW_VERSION)
    for env in _resources(aws, "aws_mwaa_environment"):
        f.see("infra.aws", env["airflow_version"], f'"airflow_version": "{env["airflow_version"]}"')
    pin = re.search(r'"apache-airflow==([^"]+)"', artifacts["airflow.pyproject"])
    f.see("airflow.pyproject", pin.group(1) if pin else None, "apache-airflow==")
    mk_version = re.search(r"^AIRFLOW_VERSION := (\S+)", artifacts["mk.airflow"], re.M)
    f.see("mk.airflow", mk_version.group(1) if mk_version else None, "AIRFLOW_VERSION := ")
    f = fact("terraform_version", names.TERRAFORM_VERSION)
    for version in _workflow_terraform_versions(artifacts["workflow.promote"]) or [
        "<no setup-terraform step>"
    ]:
        f.see("workflow.promote", version, version if version != "None" else "hashicorp/setup-terraform")
    f = fact("workflow_reads_existing_outputs", [])
    text = artifacts["workflow.promote"]
    used = set(re.findall(r"output -raw (\w+)", text))
    for listed in re.findall(r"tf\.py [^\n]*?\boutputs((?: +\w+)+)", text):
        used |= set(listed.split())
    f.see("workflow.promote", sorted(used - set(aws.get("output", {}))), f" {min(used)}" if used else None)
    return facts


def _env_example(text: str) -> dict[str, str]:
    out = {}
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def check(facts: Iterable[Fact]) -> list[str]:
    """One line per observation that disagrees with names.py (empty: every tool agrees)."""
    problems = []
    for f in facts:
        if not f.observed:
            problems.append(f"{f.name}: observed nowhere (a collector lost its artifact)")
        for obs in f.observed:
            if obs.value != f.expected:
                problems.append(f"{f.name}: {obs.source} has {obs.value!r}, names.py says {f.expected!r}")
    return problems


_SET_POLICY = re.compile(
    r"rabbitmqctl set_policy --apply-to (\S+) --priority (\d+) (\S+)\s*\\?\s*'([^']+)'\s+'([^']+)'"
)


def set_policy(text: str) -> dict[str, Any] | None:
    """The first `rabbitmqctl set_policy` command in a text, as names.dead_letter_policy's dict + its name."""
    match = _SET_POLICY.search(text)
    if match is None:
        return None
    apply_to, priority, name, pattern, definition = match.groups()
    try:
        parsed: Any = json.loads(definition)
    except ValueError:
        parsed = definition
    return {
        "name": name,
        "pattern": pattern,
        "apply-to": apply_to,
        "definition": parsed,
        "priority": int(priority),
    }


def mutate(text: str, needle: str, swap: str | None = None) -> str:
    """Change every occurrence of `needle` in an artifact, as a one-sided rename would: by default an `x` goes
    in
    after the needle's last letter or digit (`"name": "MARTS"` -> `"name": "MARTSx"`)."""
    if swap is None:
        last = max(i for i, ch in enumerate(needle) if ch.isalnum())
        swap = needle[: last + 1] + "x" + needle[last + 1 :]
    return text.replace(needle, swap)
