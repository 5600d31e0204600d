"""cardpipe settings inside a task: environment first, then MWAA options, then Airflow connections.

cardpipe reads plain environment variables. On MWAA two other sources feed them, and this module maps both
onto the variables cardpipe reads, only when that variable is not already set (so a laptop or CI run needs
neither):
- non-secret settings are MWAA configuration options `sportscards.<name>` set by infra, which MWAA exposes as
  AIRFLOW__SPORTSCARDS__<NAME> (names.mwaa_option / names.airflow_config_env): every one becomes <NAME>;
- secrets are Airflow connections served by the Secrets Manager backend (names.CONN_*).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from cardpipe.contracts import names

if TYPE_CHECKING:
    from cardpipe.config import RabbitSettings, Settings

# MWAA configuration options of the `sportscards` section arrive as AIRFLOW__SPORTSCARDS__<NAME>.
OPTION_ENV_PREFIX = names.airflow_config_env(names.mwaa_option(""))
# Airflow connection id -> environment variable cardpipe reads (the connection's URI).
CONNECTION_ENV = {
    names.CONN_JOURNAL: "POSTGRES_DSN",
    names.CONN_RABBITMQ: "RABBITMQ_URL",
}
# The loader's identity (key pair) as a whole: taken from the connection only when none of it is in the env,
# so an environment-configured identity is never mixed with parts of another one.
SNOWFLAKE_IDENTITY_ENV = (
    "SNOWFLAKE_ACCOUNT",
    "SNOWFLAKE_USER",
    "SNOWFLAKE_PRIVATE_KEY",
    "SNOWFLAKE_PRIVATE_KEY_PATH",
    "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
)
# connection extra key -> cardpipe variable, each filled on its own when unset (infra sets role and warehouse)
SNOWFLAKE_EXTRA_ENV = {
    "role": names.ENV_SNOWFLAKE_ROLE,
    "warehouse": names.ENV_SNOWFLAKE_WAREHOUSE,
    "database": names.ENV_SNOWFLAKE_DATABASE,
}


def option_env(name: str) -> str:
    """The variable MWAA sets for the cardpipe setting `name` (`BRONZE_S3_BUCKET` ->
    `AIRFLOW__SPORTSCARDS__BRONZE_S3_BUCKET`)."""
    return names.airflow_config_env(names.mwaa_option(name))


def setting(
    name: str, default: str | None = None, environ: MutableMapping[str, str] | None = None
) -> str | None:
    """A cardpipe setting, environment untouched: the variable, else its MWAA option, else default."""
    env = os.environ if environ is None else environ
    return env.get(name) or env.get(option_env(name)) or default


def apply_mwaa_options(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Copy every AIRFLOW__SPORTSCARDS__<NAME> onto <NAME> when <NAME> is unset; returns what was set.

    Generic on purpose: whatever cardpipe setting infra passes as an option reaches cardpipe, no list to keep
    in step with infra."""
    env = os.environ if environ is None else environ
    applied: dict[str, str] = {}
    for key, value in list(env.items()):
        if key.startswith(OPTION_ENV_PREFIX) and len(key) > len(OPTION_ENV_PREFIX):
            name = key[len(OPTION_ENV_PREFIX) :]
            if not env.get(name) and value:
                env[name] = applied[name] = value
    return applied


def _connection(conn_id: str) -> Any | None:
    """The Airflow connection (Secrets Manager on MWAA), or None when no backend defines it."""
    from airflow.sdk import Connection

    try:
        return Connection.get(conn_id)
    except Exception:  # not defined: the environment default applies
        return None


def _mask(value: str) -> None:
    """Hide a secret from every task log line from now on (Airflow's secrets masker)."""
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(value)
    except Exception:  # masking is best effort outside a task
        logging.getLogger(__name__).debug("secrets masker unavailable", exc_info=True)


def private_key_pem(value: str, conn_id: str) -> str:
    """`private_key_content` as PEM text: stored as PEM, or base64 of the PEM (the Snowflake provider's
    newer convention). Anything else fails here, naming the connection, never printing the value."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text + "\n"
    try:
        decoded = base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if decoded.lstrip().startswith("-----BEGIN"):
        return decoded.strip() + "\n"
    from cardpipe.config import ConfigError

    raise ConfigError(
        f"Airflow connection {conn_id}: extra.private_key_content must be the PEM private key "
        "(text starting with -----BEGIN, or its base64)"
    )


def _export_connection_uris(environ: MutableMapping[str, str], conn_ids: tuple[str, ...]) -> None:
    for conn_id in conn_ids:
        env = CONNECTION_ENV[conn_id]
        if environ.get(env):
            continue
        conn = _connection(conn_id)
        if conn is not None:
            environ[env] = str(conn.get_uri())


def _export_snowflake_loader(environ: MutableMapping[str, str]) -> None:
    """Loader identity from names.CONN_SNOWFLAKE_LOADER: login = service user, password = key passphrase,
    extra `account`, `private_key_content`, optionally `role`, `warehouse`, `database`."""
    identity_in_env = any(environ.get(name) for name in SNOWFLAKE_IDENTITY_ENV)
    conn = _connection(names.CONN_SNOWFLAKE_LOADER)
    if conn is None:
        if not identity_in_env:
            from cardpipe.config import ConfigError

            raise ConfigError(
                f"WAREHOUSE_KIND=snowflake needs the loader's identity: define the Airflow connection "
                f"{names.CONN_SNOWFLAKE_LOADER} (on MWAA the Secrets Manager secret "
                f"<env prefix>/{names.CONN_SNOWFLAKE_LOADER}) or set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and "
                "SNOWFLAKE_PRIVATE_KEY or SNOWFLAKE_PRIVATE_KEY_PATH"
            )
        return
    extra = conn.extra_dejson
    if not identity_in_env:
        key = extra.get("private_key_content")
        values = {
            "SNOWFLAKE_ACCOUNT": extra.get("account"),
            "SNOWFLAKE_USER": conn.login,
            "SNOWFLAKE_PRIVATE_KEY": private_key_pem(key, names.CONN_SNOWFLAKE_LOADER) if key else None,
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": conn.password,
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            from cardpipe.config import ConfigError

            raise ConfigError(
                f"Airflow connection {names.CONN_SNOWFLAKE_LOADER} lacks what {', '.join(missing)} needs "
                "(login = service user, password = key passphrase, extra.account, extra.private_key_content)"
            )
        for name, value in values.items():
            if name.startswith("SNOWFLAKE_PRIVATE_KEY"):
                _mask(str(value))
            environ[name] = str(value)
    for field, name in SNOWFLAKE_EXTRA_ENV.items():
        if not environ.get(name) and extra.get(field):
            environ[name] = str(extra[field])


def rabbit_settings() -> RabbitSettings:
    """Broker settings only (MWAA options and names.CONN_RABBITMQ): what the topology DAG needs, without
    requiring the journal or Snowflake secrets to exist yet."""
    apply_mwaa_options()
    _export_connection_uris(os.environ, (names.CONN_RABBITMQ,))
    from cardpipe.config import ConfigError, RabbitSettings

    try:
        return RabbitSettings()
    except ValueError as exc:
        raise ConfigError(f"invalid broker configuration: {exc}") from None


def cardpipe_settings() -> Settings:
    """Validated cardpipe Settings for this task (fails fast with the variable or connection to fix)."""
    apply_mwaa_options()
    _export_connection_uris(os.environ, tuple(CONNECTION_ENV))
    if os.environ.get(names.ENV_WAREHOUSE_KIND) == "snowflake":
        _export_snowflake_loader(os.environ)
    from cardpipe.config import load_settings

    return load_settings()
