"""Run every page query, as rendered for Snowflake, through fakesnow (Snowflake SQL transpiled to DuckDB) on a
copy of the test warehouse; print the rows as JSON. Runs in dbt/.venv, which has fakesnow (dev group).
    dbt/.venv/bin/python tests/dashboards/fakesnow_run.py <db_dir with SPORTSCARDS.db> <dashboards dir>"""

from __future__ import annotations

import json
import sys
import warnings
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

warnings.filterwarnings("ignore")
MICRO = Decimal("0.000001")


def plain(value: Any) -> Any:
    """One comparable text per value, whichever engine returned it."""
    if isinstance(value, datetime):
        return (value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        # fakesnow hands DECIMAL sums back as floats (Snowflake itself keeps NUMBER(38, 9)): compare
        # numbers at six decimals, far below the two that are displayed.
        return format(Decimal(str(value)).quantize(MICRO).normalize(), "f")
    return value


def main() -> None:
    db_dir, dashboards = sys.argv[1], sys.argv[2]
    sys.path.insert(0, dashboards)
    import fakesnow  # noqa: PLC0415
    import snowflake.connector  # noqa: PLC0415
    from dashgen import queries  # noqa: PLC0415

    out: dict[str, Any] = {}
    with fakesnow.patch(db_path=db_dir):
        conn = snowflake.connector.connect(database="SPORTSCARDS", schema="MARTS")
        cur = conn.cursor()
        for name in queries.names():
            cur.execute(queries.sql(name, "snowflake"))
            out[name] = [[plain(v) for v in row] for row in cur.fetchall()]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
