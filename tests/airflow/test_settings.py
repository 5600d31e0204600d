# ruff: noqa: PLC0415  (Airflow and the DAG helpers are imported inside tests, after conftest set AIRFLOW_HOME)
"""What MWAA gives the DAGs reaches cardpipe: infra's configuration options and Secrets Manager connections.

The options are set the way MWAA sets them (AIRFLOW__SPORTSCARDS__<NAME>, from names.mwaa_option); the
connections go through Airflow's real secrets machinery: its environment backend (AIRFLOW_CONN_*) in-process,
and, end to end, the SecretsManagerBackend configured exactly as infra configures it (names.SECRETS_BACKEND,
prefixes from names.secrets_prefix) against a moto server, in a fresh Airflow process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cardpipe.contracts import names
from conftest import DAGS, encrypted_key_pem, snowflake_connection

ACCOUNT_ID = "123456789012"
RAW_BUCKET = names.bucket_name("dev", "raw", ACCOUNT_ID)
KMS_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/0b3c6f1e-1111-2222-3333-444455556666"
TOPIC_ARN = f"arn:aws:sns:eu-west-1:{ACCOUNT_ID}:{names.alerts_topic('dev')}"
# What infra passes as MWAA configuration options (names.mwaa_option(VAR) -> value), for the dev environment.
INFRA_OPTIONS = {
    names.ENV_BRONZE_BACKEND: "s3",
    names.ENV_BRONZE_S3_BUCKET: RAW_BUCKET,
    names.ENV_BRONZE_S3_REGION: "eu-west-1",
    names.ENV_BRONZE_S3_KMS_KEY_ID: KMS_ARN,
    names.ENV_WAREHOUSE_KIND: "snowflake",
    names.ENV_SNOWFLAKE_DATABASE: names.snowflake_database("dev"),
    names.ENV_SNOWFLAKE_ROLE: names.LOADER,
    names.ENV_SNOWFLAKE_WAREHOUSE: names.ROLE_WAREHOUSES[names.LOADER],
    names.ENV_DBT_TARGET: "dev",
    names.ENV_LOG_FORMAT: "json",
    names.ENV_ALERTS_TOPIC_ARN: TOPIC_ARN,
}
LOADER_USER = names.service_user("dev", names.LOADER)
TRANSFORMER_USER = names.service_user("dev", names.TRANSFORMER)


def _set_options(monkeypatch: pytest.MonkeyPatch, options: dict[str, str]) -> None:
    """As MWAA does: option `sportscards.<var>` -> environment variable AIRFLOW__SPORTSCARDS__<VAR>."""
    for var, value in options.items():
        monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv(names.airflow_config_env(names.mwaa_option(var)), value)


def test_option_env_is_what_mwaa_sets_for_an_option() -> None:
    from sportscards_lib.settings import OPTION_ENV_PREFIX, option_env

    assert option_env(names.ENV_BRONZE_S3_BUCKET) == "AIRFLOW__SPORTSCARDS__BRONZE_S3_BUCKET"
    assert OPTION_ENV_PREFIX == "AIRFLOW__SPORTSCARDS__"


def test_every_option_fills_only_unset_variables(
    restore_environ: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generic: any option reaches its variable, including one no list names; a set variable wins."""
    from sportscards_lib.settings import apply_mwaa_options

    _set_options(monkeypatch, {"SOME_FUTURE_SETTING": "x", names.ENV_SNOWFLAKE_ROLE: names.LOADER})
    monkeypatch.setenv(names.ENV_SNOWFLAKE_ROLE, "MY_ROLE")
    applied = apply_mwaa_options()
    assert applied == {"SOME_FUTURE_SETTING": "x"}
    assert os.environ["SOME_FUTURE_SETTING"] == "x"
    assert os.environ[names.ENV_SNOWFLAKE_ROLE] == "MY_ROLE"


def test_infra_options_and_loader_connection_make_cardpipe_settings(
    restore_environ: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything infra sets reaches cardpipe.Settings; the loader's key pair comes from its connection."""
    from cardpipe.load.snowflake_load import private_key_der
    from sportscards_lib.settings import cardpipe_settings

    for name in (
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PRIVATE_KEY",
        "SNOWFLAKE_PRIVATE_KEY_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", raising=False)
    _set_options(monkeypatch, INFRA_OPTIONS)
    pem = encrypted_key_pem("loader-pass")
    conn = snowflake_connection(LOADER_USER, "loader-pass", pem, role="IGNORED_ROLE")
    monkeypatch.setenv(f"AIRFLOW_CONN_{names.CONN_SNOWFLAKE_LOADER.upper()}", json.dumps(conn))

    settings = cardpipe_settings()
    assert settings.bronze.backend == "s3"
    assert settings.bronze.s3_bucket == RAW_BUCKET  # with the account suffix, from infra
    assert settings.bronze.s3_region == "eu-west-1"
    assert settings.bronze.s3_kms_key_id == KMS_ARN
    assert settings.warehouse.kind == "snowflake"
    assert settings.log_format == "json"
    sf = settings.snowflake
    assert (sf.account, sf.user) == ("xy12345.eu-west-1", LOADER_USER)
    assert (sf.role, sf.warehouse) == (names.LOADER, names.ROLE_WAREHOUSES[names.LOADER])  # infra's wins
    assert sf.database == names.snowflake_database("dev")
    assert sf.private_key_path is None
    assert private_key_der(sf)  # the key pair cardpipe got decrypts: key and passphrase belong together


def test_base64_private_key_content_is_accepted_and_garbage_fails_naming_the_connection(
    restore_environ: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    from cardpipe.config import ConfigError
    from sportscards_lib.settings import cardpipe_settings

    for name in (
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PRIVATE_KEY",
        "SNOWFLAKE_PRIVATE_KEY_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(names.ENV_WAREHOUSE_KIND, "snowflake")
    pem = encrypted_key_pem("pw-123456")
    conn = snowflake_connection(LOADER_USER, "pw-123456", base64.b64encode(pem.encode()).decode())
    env_conn = f"AIRFLOW_CONN_{names.CONN_SNOWFLAKE_LOADER.upper()}"
    monkeypatch.setenv(env_conn, json.dumps(conn))
    assert cardpipe_settings().snowflake.private_key == pem

    for name in (
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PRIVATE_KEY",
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(env_conn, json.dumps(snowflake_connection(LOADER_USER, "pw", "not a key")))
    with pytest.raises(ConfigError, match=names.CONN_SNOWFLAKE_LOADER) as err:
        cardpipe_settings()
    assert "not a key" not in str(err.value)


def test_snowflake_without_any_identity_fails_naming_the_connection(
    restore_environ: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardpipe.config import ConfigError
    from sportscards_lib.settings import cardpipe_settings

    for name in (
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PRIVATE_KEY",
        "SNOWFLAKE_PRIVATE_KEY_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv(f"AIRFLOW_CONN_{names.CONN_SNOWFLAKE_LOADER.upper()}", raising=False)
    monkeypatch.setenv(names.ENV_WAREHOUSE_KIND, "snowflake")
    with pytest.raises(ConfigError, match=names.CONN_SNOWFLAKE_LOADER):
        cardpipe_settings()


def test_every_variable_the_glue_sets_is_a_cardpipe_setting() -> None:
    """The joint between the DAG glue and cardpipe.config: a renamed setting on either side fails here."""
    from cardpipe.config import Settings
    from sportscards_lib import settings as glue

    read: set[str] = set()
    for field in Settings.model_fields.values():
        model: Any = field.default_factory or type(field.default)
        config = getattr(model, "model_config", {})
        for name, sub in getattr(model, "model_fields", {}).items():
            read.add((sub.alias or f"{config.get('env_prefix', '')}{name}").upper())
    read |= {f"CARDPIPE_{name}".upper() for name in Settings.model_fields}
    set_by_glue = {
        *glue.CONNECTION_ENV.values(),
        *glue.SNOWFLAKE_IDENTITY_ENV,
        *glue.SNOWFLAKE_EXTRA_ENV.values(),
    }
    assert set_by_glue - read == set()
    # and every cardpipe setting infra passes as an MWAA option is one cardpipe reads
    assert set(INFRA_OPTIONS) - read - {names.ENV_DBT_TARGET, names.ENV_ALERTS_TOPIC_ARN} == set()


# ------------------------------------------------------------ end to end: Secrets Manager backend on moto

_PROBE = """
import json, os, sys
sys.path.append(sys.argv[1])
from cardpipe.load.snowflake_load import private_key_der
from sportscards_lib import dbt, defaults
from sportscards_lib.settings import cardpipe_settings

topic_option = os.environ.pop(sys.argv[2])
variable_topic = defaults.alerts_topic_arn()          # no option: the Airflow Variable (Secrets Manager)
os.environ[sys.argv[2]] = topic_option
s = cardpipe_settings()
with dbt.profile_config("dev").ensure_profile() as (path, env):
    profile = path.read_text()
print(json.dumps({
    "postgres": s.postgres.dsn, "rabbit": s.rabbitmq.url, "bucket": s.bronze.s3_bucket,
    "account": s.snowflake.account, "user": s.snowflake.user, "role": s.snowflake.role,
    "key_decrypts": bool(private_key_der(s.snowflake)),
    "variable_topic": variable_topic, "option_topic": defaults.alerts_topic_arn(),
    "profile": profile, "profile_env": env,
}))
"""


def test_secrets_manager_backend_as_infra_configures_it(
    airflow_db: Path, aws_env: str, tmp_path: Path
) -> None:
    """A fresh Airflow process with MWAA's secrets configuration and infra's options: journal, broker, loader,
    transformer and the alerts variable all come out of Secrets Manager under names.secrets_prefix."""
    import boto3
    import yaml

    env_name = "dev"
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    loader_pem, transformer_pem = encrypted_key_pem("loader-pw"), encrypted_key_pem("transformer-pw")
    journal = "postgresql://journal_reader:s3cr%40t@journal.internal:5432/journal"
    broker = "amqps://sportscards-admin:p%2Fw@b-1234.mq.eu-west-1.amazonaws.com:5671/%2F"
    secrets = {
        names.connection_secret(env_name, names.CONN_JOURNAL): journal,
        names.connection_secret(env_name, names.CONN_RABBITMQ): broker,
        names.connection_secret(env_name, names.CONN_SNOWFLAKE_LOADER): json.dumps(
            snowflake_connection(LOADER_USER, "loader-pw", loader_pem)
        ),
        names.connection_secret(env_name, names.CONN_SNOWFLAKE_TRANSFORMER): json.dumps(
            snowflake_connection(TRANSFORMER_USER, "transformer-pw", transformer_pem, role=names.LOADER)
        ),
        names.variable_secret(env_name, names.VAR_ALERTS_TOPIC): "arn:aws:sns:eu-west-1:1:from-variable",
    }
    for secret_id, value in secrets.items():
        sm.create_secret(Name=secret_id, SecretString=value)

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("AIRFLOW_CONN_", "AIRFLOW_VAR_", "SNOWFLAKE_", "POSTGRES_", "RABBITMQ_", "BRONZE_")
        )
        and k not in {"WAREHOUSE_KIND", "DBT_TARGET", "CARDPIPE_LOG_FORMAT"}
    }
    env.update(
        {
            names.airflow_config_env("secrets.backend"): names.SECRETS_BACKEND,
            names.airflow_config_env("secrets.backend_kwargs"): json.dumps(
                {
                    "connections_prefix": names.secrets_prefix(env_name, "connections"),
                    "variables_prefix": names.secrets_prefix(env_name, "variables"),
                }
            ),
            **{names.airflow_config_env(names.mwaa_option(k)): v for k, v in INFRA_OPTIONS.items()},
        }
    )
    option_topic_env = names.airflow_config_env(names.mwaa_option(names.ENV_ALERTS_TOPIC_ARN))
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, str(DAGS), option_topic_env],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    out = json.loads(probe.stdout.strip().splitlines()[-1])

    assert out["postgres"].split("://", 1)[1] == journal.split("://", 1)[1]
    import pika

    params = pika.URLParameters(out["rabbit"])
    assert (params.host, params.port, params.virtual_host) == ("b-1234.mq.eu-west-1.amazonaws.com", 5671, "/")
    assert params.credentials.username == "sportscards-admin" and params.credentials.password == "p/w"
    assert params.ssl_options is not None  # amqps: TLS to Amazon MQ
    assert out["bucket"] == RAW_BUCKET
    assert (out["account"], out["user"], out["role"]) == ("xy12345.eu-west-1", LOADER_USER, names.LOADER)
    assert out["key_decrypts"] is True
    assert out["variable_topic"] == "arn:aws:sns:eu-west-1:1:from-variable"
    assert out["option_topic"] == TOPIC_ARN

    # dbt's profile: the TRANSFORMER connection, TRANSFORMER's role and warehouse (not the connection's role)
    target = yaml.safe_load(out["profile"])["sportscards"]["outputs"]["dev"]
    assert target["user"] == TRANSFORMER_USER
    assert (target["role"], target["warehouse"]) == (
        names.TRANSFORMER,
        names.ROLE_WAREHOUSES[names.TRANSFORMER],
    )
    assert target["database"] == names.snowflake_database("dev")
    key_env = target["private_key"].split("'")[1]  # "{{ env_var('COSMOS_CONN_SNOWFLAKE_PRIVATE_KEY') }}"
    assert out["profile_env"][key_env].strip() == transformer_pem.strip()
    assert loader_pem.strip() not in json.dumps(out["profile_env"]) and LOADER_USER not in out["profile"]
