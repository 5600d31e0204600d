"""Why fct_orders has no incremental_predicates, run on DuckDB.

fct_orders is delete+insert by order_id: every row of a touched order is deleted, then its re-derived rows are
inserted. A predicate ANDed to that DELETE keeps every old row it is false on, beside the new ones. A re-sent
order (R4: the latest placement by occurred_at wins) moves the order to a later order_date, so the new rows'
dates bound the old rows' dates from above, never from below: the natural pruning predicate
`order_date >= (select min(order_date) from <new rows>)` keeps the old line. The story: order R1 placed at
23:30 UTC on 2026-03-02, re-sent at 00:30 on 03-03 with another quantity.

- With the project's own config the incremental run gives exactly the hand-computed rows.
- With that predicate added (a copy of dbt_project.yml) the old 03-02 line stays beside the new one. That
  proves dbt-duckdb 1.11 applies incremental_predicates to its delete+insert (duckdb__get_delete_insert_
  merge_sql appends them to the DELETE; the rendered DELETE is checked too) and that the story catches an
  unsafe predicate: adding one to _orders.yml fails the first test.

The copy's macros give incremental tmp relations Snowflake's fixed name (`<model>__dbt_tmp`; dbt-duckdb adds a
timestamp) so that a predicate can name the new rows, as it can on Snowflake.
"""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from conftest import DBT, DBT_DIR
from raw_fixture import RawWriter, card, card_created, order_placed, ts

LOAD_GAP = timedelta(hours=100)
NAIVE_PREDICATE = "order_date >= (select min(s.order_date) from fct_orders__dbt_tmp as s)"
FIXED_TMP_NAME = """
{#- Test copy only: Snowflake's tmp relation name (no timestamp), so a predicate can name the new rows. -#}
{% macro duckdb__make_temp_relation(base_relation, suffix) %}
  {% do return(base_relation.incorporate(
      path={"identifier": base_relation.identifier ~ suffix, "schema": none, "database": none})) %}
{% endmacro %}
"""
# (order_id, line_number) -> (order_date, quantity, unit_price) after the re-send
EXPECTED = {
    ("R1", 1): ("2026-03-03", 3, D("10.000000000")),
    ("K1", 1): ("2026-03-01", 1, D("7.500000000")),
    ("N1", 1): ("2026-03-04", 1, D("12.000000000")),
}


def _project(work: Path, predicates: list[str] | None) -> Path:
    """A private copy of the project: the repository's models, tests and seeds; optional predicates."""
    path = work / "project"
    path.mkdir()
    for name in ("models", "tests", "seeds"):
        (path / name).symlink_to(DBT_DIR / name)
    (path / "macros").mkdir()
    for macro in (DBT_DIR / "macros").iterdir():
        (path / "macros" / macro.name).symlink_to(macro)
    (path / "macros" / "test_fixed_tmp_name.sql").write_text(FIXED_TMP_NAME)
    project = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())
    if predicates:
        marts = project["models"]["sportscards"]["marts"]
        marts["fct_orders"] = {"+incremental_predicates": predicates}
    (path / "dbt_project.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    (path / "profiles.yml").write_text((DBT_DIR / "profiles.yml").read_text())
    return path


def _dbt(project: Path, db: Path, work: Path, *args: str) -> None:
    proc = subprocess.run(
        [str(DBT), *args, "--profiles-dir", str(project), "--project-dir", str(project)],
        check=False,
        cwd=project,
        env={
            **os.environ,
            "DUCKDB_PATH": str(db),
            "DBT_TARGET": "local",
            "DBT_LOG_PATH": str(work / "logs"),
            "DBT_TARGET_PATH": str(work / "target"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def _story(work: Path, predicates: list[str] | None) -> dict[str, Any]:
    """Load, build, re-send R1 a day later, build incrementally; the rows and the DELETE dbt sent."""
    work.mkdir()
    db = work / "warehouse.duckdb"
    project = _project(work, predicates)
    raw = RawWriter(db)
    raw.create_schema()
    # K1 is an older order the incremental run must not touch (it re-derives R1 and N1 only, from the files of
    # the new load_batch); a touched older order would lower the predicate's bound and hide the defect.
    raw.advance(-2 * LOAD_GAP)
    a_card = card("A", "Mike Trout", "Angels", "9.99")
    raw.event("card_created", card_created(a_card), ts("2026-02-01T00:00:00"))
    raw.event("order_placed", order_placed("K1", "C1", "web", [("A", 1, "7.50")]), ts("2026-03-01T12:00:00"))
    raw.flush()
    raw.advance(LOAD_GAP)
    raw.event("order_placed", order_placed("R1", "C2", "web", [("A", 1, "10.00")]), ts("2026-03-02T23:30:00"))
    raw.flush()
    _dbt(project, db, work, "run", "--select", "+fct_orders")
    raw.advance(LOAD_GAP)
    # R4: the producer re-sends R1 (a later occurred_at, past UTC midnight): it replaces the first placement.
    raw.event("order_placed", order_placed("R1", "C2", "web", [("A", 3, "10.00")]), ts("2026-03-03T00:30:00"))
    raw.event("order_placed", order_placed("N1", "C3", "web", [("A", 1, "12.00")]), ts("2026-03-04T09:00:00"))
    raw.flush()
    _dbt(project, db, work, "run", "--select", "+fct_orders")
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select order_id, line_number, cast(order_date as varchar), quantity, unit_price "
            "from marts.fct_orders order by order_id, line_number, order_date"
        ).fetchall()
    delete = (work / "target/run/sportscards/models/marts/fct_orders.sql").read_text()
    return {"rows": rows, "delete": delete}


@pytest.fixture(scope="module")
def stories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    if not DBT.exists():
        pytest.fail("dbt/.venv is missing: run `make dbt-setup` first")
    work = tmp_path_factory.mktemp("fct-orders-predicates")
    return {
        "project": _story(work / "project-config", None),
        "naive": _story(work / "naive-predicate", [NAIVE_PREDICATE]),
    }


def test_the_project_config_replaces_a_re_sent_order_that_moved_date(stories: dict[str, Any]) -> None:
    story = stories["project"]
    assert "delete from" in story["delete"] and "fct_orders__dbt_tmp" in story["delete"]
    assert {(r[0], r[1]): r[2:] for r in story["rows"]} == EXPECTED
    assert len(story["rows"]) == len(EXPECTED)  # no stale line beside the new one


def test_a_min_order_date_predicate_leaves_the_old_line(stories: dict[str, Any]) -> None:
    """dbt-duckdb applies the predicate (it is in the DELETE), and it keeps R1's 03-02 line: a duplicate
    (order_id, line_number) and revenue counted twice, on two days."""
    story = stories["naive"]
    assert NAIVE_PREDICATE in story["delete"], story["delete"]
    assert story["rows"] == [
        ("K1", 1, "2026-03-01", 1, D("7.500000000")),
        ("N1", 1, "2026-03-04", 1, D("12.000000000")),
        ("R1", 1, "2026-03-02", 1, D("10.000000000")),  # stale: the first placement
        ("R1", 1, "2026-03-03", 3, D("10.000000000")),
    ]
