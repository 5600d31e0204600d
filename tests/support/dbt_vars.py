"""The dbt project's vars, read from dbt/dbt_project.yml (their one owner), for tests that check the marts."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt" / "dbt_project.yml"


@cache
def dbt_vars() -> dict[str, Any]:
    return dict(yaml.safe_load(DBT_PROJECT.read_text())["vars"])


def scd2_beginning_of_time() -> datetime:
    """The instant dim_card backdates a SKU's first version (and an inferred member) to (R7/R8)."""
    return datetime.fromisoformat(dbt_vars()["scd2_beginning_of_time"])
