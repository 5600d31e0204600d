"""Object keys of the bronze zone (documented in docs/bronze-and-raw.md). Pure functions, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from cardpipe.contracts import names

Source = Literal["live", "backfill"]

# The prefixes are part of the cross-tool contract (IAM policies, the Snowflake stage): names.py owns them.
EVENTS_PREFIX = names.EVENTS_PREFIX
QUARANTINE_PREFIX = names.QUARANTINE_PREFIX
CONTROL_PREFIX = names.CONTROL_PREFIX
CHECKPOINT_PREFIX = names.CHECKPOINT_PREFIX
SUFFIX = names.BRONZE_SUFFIX


def hour_partition(ts: datetime) -> str:
    return f"dt={ts:%Y-%m-%d}/hour={ts:%H}"


def events_key(source: Source, event_type: str, occurred_hour: datetime, name: str) -> str:
    """Events are partitioned by the hour they occurred (UTC), so late arrivals land in their own hour."""
    partition = f"source={source}/event_type={event_type}/{hour_partition(occurred_hour)}"
    return f"{EVENTS_PREFIX}{partition}/{name}{SUFFIX}"


def quarantine_key(source: Source, reason: str, ingested_hour: datetime, name: str) -> str:
    """Quarantine is partitioned by ingestion hour: a rejected event may have no usable occurred_at."""
    partition = f"source={source}/reason={reason}/{hour_partition(ingested_hour)}"
    return f"{QUARANTINE_PREFIX}{partition}/{name}{SUFFIX}"


def control_key(kind: str, name: str) -> str:
    return f"{CONTROL_PREFIX}{kind}/{name}"


def checkpoint_key(job: str, name: str) -> str:
    return f"{CHECKPOINT_PREFIX}{job}/{name}.json"
