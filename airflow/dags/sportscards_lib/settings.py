"""cardpipe settings inside a task: environment first, then Airflow connections (Secrets Manager on MWAA).

cardpipe reads plain environment variables. On MWAA the secrets are Airflow connections served by the
Secrets Manager backend; this maps each documented connection onto the variable cardpipe reads, only when
that variable is not already set, so a laptop or CI run needs no Airflow connection at all.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cardpipe.config import Settings

# Airflow connection id -> environment variable cardpipe reads (the connection's URI).
CONNECTION_ENV = {
    "sportscards_journal": "POSTGRES_DSN",
    "sportscards_rabbitmq": "RABBITMQ_URL",
}
# Airflow connection id -> Snowflake settings taken from its fields (key-pair auth, no password).
SNOWFLAKE_CONNECTION = "sportscards_snowflake"


def _connection_uri(conn_id: str) -> str | None:
    from airflow.sdk import Connection

    try:
        return str(Connection.get(conn_id).get_uri())
    except Exception:  # not defined: the environment default applies
        return None


def _export_snowflake() -> None:
    if os.environ.get("SNOWFLAKE_ACCOUNT"):
        return
    from airflow.sdk import Connection

    try:
        conn = Connection.get(SNOWFLAKE_CONNECTION)
    except Exception:
        return
    extra = conn.extra_dejson
    values = {
        "SNOWFLAKE_ACCOUNT": extra.get("account"),
        "SNOWFLAKE_USER": conn.login,
        "SNOWFLAKE_ROLE": extra.get("role"),
        "SNOWFLAKE_WAREHOUSE": extra.get("warehouse"),
        "SNOWFLAKE_DATABASE": extra.get("database"),
        "SNOWFLAKE_PRIVATE_KEY_PATH": extra.get("private_key_file"),
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": conn.password,
    }
    for name, value in values.items():
        if value:
            os.environ[name] = str(value)


def cardpipe_settings() -> Settings:
    """Validated cardpipe Settings for this task (fails fast with the variable to fix)."""
    for conn_id, env in CONNECTION_ENV.items():
        if not os.environ.get(env):
            uri = _connection_uri(conn_id)
            if uri:
                os.environ[env] = uri
    if os.environ.get("WAREHOUSE_KIND") == "snowflake":
        _export_snowflake()
    from cardpipe.config import load_settings

    return load_settings()
