"""All runtime configuration in one typed place (pydantic-settings).

Every setting has a default that works on a laptop with RabbitMQ and PostgreSQL on localhost.
Values come from the environment or a `.env` file (see `.env.example`). A bad value fails at start-up
with a message naming the variable to fix, never halfway through a run.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cardpipe.contracts import names


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore", frozen=True)


class ConfigError(Exception):
    """Raised for configuration a run cannot start with; the message says what to change."""


class RabbitSettings(BaseSettings):
    model_config = _config("RABBITMQ_")

    url: str = Field("amqp://guest:guest@127.0.0.1:5672/%2F", description="AMQP URL of the broker")
    exchange: str = names.EXCHANGE
    queue: str = names.QUEUE
    dead_letter_exchange: str = names.DEAD_LETTER_EXCHANGE
    dead_letter_queue: str = names.DEAD_LETTER_QUEUE
    # Unacked messages the broker sends ahead. The consumer's batches are at most prefetch / (1 + workers)
    # events (BATCH_MAX_EVENTS caps them): 10000 gives 5000-event batches, and each batch costs a few objects
    # (fsync or PUT) whatever its size. Measured by `make bench-ingest`: 2000 (1000-event batches) lands
    # ~40% fewer msg/s. Crash redelivery and memory (~2 MB of bodies) scale with it.
    prefetch: int = Field(10000, ge=1, le=65535)
    # A message redelivered this many times is dead-lettered by the quorum queue (poison protection).
    delivery_limit: int = Field(names.DELIVERY_LIMIT, ge=1)


class PostgresSettings(BaseSettings):
    model_config = _config("POSTGRES_")

    dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    journal_schema: str = "journal"


class BronzeSettings(BaseSettings):
    model_config = _config("BRONZE_")

    backend: Literal["local", "s3"] = "local"
    dir: Path = Path(".data/bronze")
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    # SSE-KMS key id or ARN; when unset objects use the bucket's default encryption.
    s3_kms_key_id: str | None = None
    # S3 client bounds: a PUT that never completes fails after the read timeout and is retried (botocore
    # "standard" retries, attempts including the first) instead of hanging the consumer forever.
    s3_connect_timeout: float = Field(5.0, gt=0)
    s3_read_timeout: float = Field(30.0, gt=0)
    s3_max_attempts: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> BronzeSettings:
        if self.backend == "s3" and not self.s3_bucket:
            raise ValueError("BRONZE_BACKEND=s3 needs BRONZE_S3_BUCKET (the raw-zone bucket name)")
        return self


class BatchSettings(BaseSettings):
    """Micro-batch bounds of the live consumer: a batch is flushed when any bound is reached."""

    model_config = _config("BATCH_")

    max_events: int = Field(5000, ge=1)
    max_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_age_seconds: float = Field(2.0, gt=0)


class WarehouseSettings(BaseSettings):
    model_config = _config("WAREHOUSE_")

    kind: Literal["duckdb", "snowflake"] = "duckdb"
    duckdb_path: Path = Path(".data/warehouse.duckdb")


class SnowflakeSettings(BaseSettings):
    """Key-pair auth only: the private key is a PEM file (SNOWFLAKE_PRIVATE_KEY_PATH, a laptop) or the PEM
    text itself (SNOWFLAKE_PRIVATE_KEY, from a secret: MWAA workers have no key file); exactly one of them."""

    model_config = _config("SNOWFLAKE_")

    account: str | None = None
    user: str | None = None
    role: str = names.LOADER
    warehouse: str = names.ROLE_WAREHOUSES[names.LOADER]
    database: str | None = None
    schema_: str = Field(names.RAW_SCHEMA, alias="SNOWFLAKE_SCHEMA")
    private_key_path: Path | None = None
    private_key: str | None = Field(None, repr=False)
    private_key_passphrase: str | None = Field(None, repr=False)
    stage: str = f"{names.RAW_SCHEMA}.{names.STAGE}"
    file_format: str = f"{names.RAW_SCHEMA}.{names.FILE_FORMAT}"


class Settings(BaseSettings):
    model_config = _config("CARDPIPE_")

    data_dir: Path = Path(".data")
    log_format: Literal["auto", "json", "console"] = "auto"
    # pika's own loggers (each failed connection attempt at ERROR, with a traceback): cardpipe reports them.
    pika_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "CRITICAL"
    rabbitmq: RabbitSettings = Field(default_factory=RabbitSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    bronze: BronzeSettings = Field(default_factory=BronzeSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    snowflake: SnowflakeSettings = Field(default_factory=SnowflakeSettings)


def load_settings() -> Settings:
    """Read and validate settings; turns pydantic's error into a ConfigError naming the variables."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration ({problems}); fix the environment or .env") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
