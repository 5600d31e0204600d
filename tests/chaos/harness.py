"""The chaos harness: one private pipeline per scenario, run through the real `cardpipe` CLI and dbt as
subprocesses, and the accounting that turns its end state into one row of the chaos table.

Expected state comes from the project's oracle (`cardpipe.generator.oracle`) over every body the scenario's
producers sent; nothing here re-derives the gold rules. See docs/reliability.md for what each column means.
"""

from __future__ import annotations

import base64
import gzip
import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pika
import psycopg2
import psycopg2.extras
from cardpipe.bronze.store import open_store
from cardpipe.config import BronzeSettings, RabbitSettings
from cardpipe.contracts import names
from cardpipe.contracts.codec import DecodedEvent, decode
from cardpipe.generator import Rates, generate
from cardpipe.generator.oracle import Expected, accepted_events, compute
from cardpipe.generator.stream import GeneratedEvent
from cardpipe.publisher import publish_events
from support.dbt_vars import scd2_beginning_of_time

ROOT = Path(__file__).resolve().parents[2]
CARDPIPE = ROOT / ".venv" / "bin" / "cardpipe"
DBT_DIR = ROOT / "dbt"
DBT = DBT_DIR / ".venv" / "bin" / "dbt"
SHARED_AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"
SHARED_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
SEED = 11
LATE_SEED = 9011  # late journal rows: another day's traffic, so their event ids are new
RATES = Rates(duplicate=0.05, late=0.05, malformed=0.02)
STAGING = (
    "order_placed", "order_status_changed", "batch_started", "batch_completed",
    "card_created", "card_updated",
)  # fmt: skip


@dataclass(frozen=True)
class Size:
    """How big a run is: `short` inside `make test`, `full` for `make chaos`."""

    name: str
    history: int
    live: int
    kills: int


SHORT = Size("short", history=1200, live=1200, kills=2)
FULL = Size("full", history=4000, live=4000, kills=4)


@dataclass
class Row:
    """One line of the chaos table (see docs/reliability.md for the definitions)."""

    fault: str
    produced: int = 0
    bronze: int = 0
    distinct_raw: int = 0
    counted: int = 0
    expected: int = 0
    quarantined: int = 0
    dead_lettered: int = 0
    lost: int = 0
    double_counted: int = 0
    wrong_values: int = 0
    recover_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)  # broken invariants besides lost / double-counted
    notes: list[str] = field(default_factory=list)  # what happened (kills landed, retries, reruns)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.double_counted == 0 and self.wrong_values == 0 and not self.failures


class Pipeline:
    """A private pipeline: own queue names on a broker, own journal database, own bronze and DuckDB."""

    def __init__(
        self,
        work: Path,
        *,
        amqp_url: str = SHARED_AMQP,
        pg_admin_dsn: str = SHARED_PG,
        bronze_env: dict[str, str] | None = None,
        read_bronze: BronzeSettings | None = None,
        dbt_target: Path | None = None,
    ) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        (work / "logs").mkdir(exist_ok=True)
        tag = f"chaos.{uuid.uuid4().hex[:8]}"
        self.amqp_url = amqp_url
        self.queue, self.dlq = f"{tag}.q", f"{tag}.dlq"
        self.exchanges = (f"{tag}.x", f"{tag}.dlx")
        self.db = f"chaos_{uuid.uuid4().hex[:10]}"
        self.pg_admin_dsn = pg_admin_dsn
        admin = psycopg2.connect(pg_admin_dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.db}"')
        admin.close()
        self.pg_dsn = pg_admin_dsn.rsplit("/", 1)[0] + f"/{self.db}"
        self.duckdb_path = work / "warehouse.duckdb"
        self.bronze_dir = work / "bronze"
        self.dbt_target = dbt_target or work / "dbt-target"
        self.env = {
            **os.environ,
            "RABBITMQ_URL": amqp_url,
            "RABBITMQ_EXCHANGE": self.exchanges[0],
            "RABBITMQ_QUEUE": self.queue,
            "RABBITMQ_DEAD_LETTER_EXCHANGE": self.exchanges[1],
            "RABBITMQ_DEAD_LETTER_QUEUE": self.dlq,
            "RABBITMQ_PREFETCH": "500",
            "POSTGRES_DSN": self.pg_dsn,
            "BRONZE_BACKEND": "local",
            "BRONZE_DIR": str(self.bronze_dir),
            "WAREHOUSE_KIND": "duckdb",
            "WAREHOUSE_DUCKDB_PATH": str(self.duckdb_path),
            "DUCKDB_PATH": str(self.duckdb_path),
            "CARDPIPE_DATA_DIR": str(work),
            "CARDPIPE_LOG_FORMAT": "json",
            "BATCH_MAX_EVENTS": "100",
            "DBT_TARGET": "local",
            "DBT_LOG_PATH": str(work / "dbt-logs"),
            "DBT_TARGET_PATH": str(self.dbt_target),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_USE_COLORS": "false",
            **(bronze_env or {}),
        }
        self.read_bronze = read_bronze or BronzeSettings(backend="local", dir=self.bronze_dir)
        self.sent: list[bytes] = []  # every body the producers of this scenario sent (once each)
        self.notes: list[str] = []
        self.failures: list[str] = []
        self._n = 0

    # ------------------------------------------------------------------ processes

    def _log(self, name: str) -> Path:
        self._n += 1
        return self.work / "logs" / f"{self._n:03d}-{name}.log"

    def cardpipe(
        self, *args: str, check: bool = True, timeout: float = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(CARDPIPE), *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self._log(args[0]).write_text(result.stdout + result.stderr)
        if check and result.returncode != 0:
            raise RuntimeError(f"cardpipe {' '.join(args)} exited {result.returncode}:\n{tail(result)}")
        return result

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """A CLI in its own session (so a kill takes its workers with it), output in a log file."""
        path = self._log(args[0])
        proc = subprocess.Popen(
            [str(CARDPIPE), *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = path  # type: ignore[attr-defined]
        return proc

    def dbt_cmd(self, *args: str) -> list[str]:
        return [str(DBT), *args, "--profiles-dir", ".", "--project-dir", "."]

    def spawn_dbt(self, *args: str) -> subprocess.Popen[bytes]:
        log = self._log("dbt").open("wb")
        return subprocess.Popen(
            self.dbt_cmd(*args), cwd=DBT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def dbt(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.dbt_cmd(*args), cwd=DBT_DIR, env=self.env, capture_output=True, text=True, timeout=900,
            check=False,
        )  # fmt: skip
        self._log("dbt").write_text(result.stdout + result.stderr)
        return result

    # ------------------------------------------------------------------ producers (recorded for the oracle)

    def rates_args(self, seed: int = SEED) -> list[str]:
        return [
            "--seed", str(seed), "--duplicate-rate", str(RATES.duplicate), "--late-rate", str(RATES.late),
            "--malformed-rate", str(RATES.malformed),
        ]  # fmt: skip

    def seed_history(self, events: int) -> None:
        self.cardpipe("seed-journal", "--events", str(events), *self.rates_args())
        self.sent += bodies("history", events)

    def publish(self, events: int, seed: int = SEED, *, retries: int = 5) -> None:
        """Publish the live stream; a publisher that fails (broker gone) is re-run whole: same bytes again."""
        for attempt in range(retries + 1):
            result = self.cardpipe("publish", "--events", str(events), *self.rates_args(seed), check=False)
            if result.returncode == 0:
                break
            self.notes.append(f"publish exited {result.returncode}, re-published (attempt {attempt + 2})")
            time.sleep(1)
        else:
            raise RuntimeError(f"publish kept failing:\n{tail(result)}")
        self.sent += bodies("live", events, seed)

    def trickle(self, events: int, seed: int = SEED, rate: float = 300.0) -> Trickle:
        """Publish the live stream from a background thread at about `rate` msg/s (the project's publisher
        with a throttled source), so faults hit a consumer in the middle of a stream, not an idle one."""
        trickle = Trickle(self.rabbit_settings(), events, seed, rate)
        self.sent += bodies("live", events, seed)
        return trickle

    def rabbit_settings(self) -> RabbitSettings:
        return RabbitSettings(
            url=self.amqp_url,
            exchange=self.exchanges[0],
            queue=self.queue,
            dead_letter_exchange=self.exchanges[1],
            dead_letter_queue=self.dlq,
        )

    def consume(self, idle: float = 2.0, *, env: dict[str, str] | None = None, timeout: float = 600) -> int:
        result = self.cardpipe(
            "consume", "--until-idle", "--idle-seconds", str(idle), check=False, env=env, timeout=timeout
        )
        return result.returncode

    def late_rows(self, events: int, seed: int) -> tuple[Any, list[bytes]]:
        """Insert journal rows in a transaction left open (their seqs reserved now, committed later)."""
        generated = list(generate("live", events, seed=seed, rates=RATES))
        conn = psycopg2.connect(self.pg_dsn)
        with conn.cursor() as cur:
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO journal.events (event_id, event_type, occurred_at, producer, body) VALUES %s",
                [(e.event_id, e.event_type, e.occurred_at, e.producer, e.body) for e in generated],
            )
        return conn, [e.body for e in generated]

    def commit_late(self, conn: Any, late: list[bytes]) -> None:
        conn.commit()
        conn.close()
        self.sent += late

    # ------------------------------------------------------------------ end state

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.duckdb_path), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def finish(self, fault: str, fault_end: float, *, load: bool = True) -> Row:
        """Load and dbt build (what an operator runs after any incident), then account for every event."""
        if load:
            result = self.cardpipe("load", check=False)
            if result.returncode != 0:
                self.failures.append(f"final load exited {result.returncode}: {tail(result, 400)}")
        build = self.dbt("build")
        recovered = time.monotonic() - fault_end
        if build.returncode != 0:
            failing = [ln.strip() for ln in build.stdout.splitlines() if "FAIL " in ln or "ERROR " in ln]
            self.failures.append(f"dbt build exited {build.returncode}: {'; '.join(failing[:4])[:600]}")
        row = account(self, fault)
        row.recover_seconds = round(recovered, 1)
        row.failures += self.failures
        row.notes += self.notes
        return row

    def dead_lettered(self) -> int:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        except pika.exceptions.AMQPError:
            return 0
        try:
            channel = connection.channel()
            return int(channel.queue_declare(self.dlq, passive=True).method.message_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0
        finally:
            if connection.is_open:
                connection.close()

    def close(self) -> None:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
            channel = connection.channel()
            for queue in (self.queue, self.dlq):
                channel.queue_delete(queue)
            for exchange in self.exchanges:
                channel.exchange_delete(exchange)
            connection.close()
        except pika.exceptions.AMQPError:
            pass
        try:
            admin = psycopg2.connect(self.pg_admin_dsn)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            admin.close()
        except psycopg2.Error:
            pass


class Trickle:
    """A throttled live publisher thread; a publish that fails (broker restart) is retried whole."""

    def __init__(self, settings: RabbitSettings, events: int, seed: int, rate: float) -> None:
        self.settings, self.events, self.seed, self.rate = settings, events, seed, rate
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, name="trickle", daemon=True)
        self.thread.start()

    def _throttled(self) -> Iterator[GeneratedEvent]:
        pause = 1.0 / self.rate
        for event in generate("live", self.events, seed=self.seed, rates=RATES):
            time.sleep(pause)
            yield event

    def _run(self) -> None:
        for _attempt in range(20):
            try:
                publish_events(self.settings, self._throttled(), window=50)
                return
            except Exception as exc:  # broker restarted under the publisher: send everything again
                self.errors.append(f"{exc.__class__.__name__}")
                time.sleep(1)

    def join(self, timeout: float = 600) -> None:
        self.thread.join(timeout)


def last_error(proc: subprocess.Popen[bytes]) -> str:
    """The last line a spawned CLI wrote (its error, when it failed), shortened."""
    lines = Path(proc.log_path).read_text(errors="replace").strip().splitlines()  # type: ignore[attr-defined]
    return (lines[-1] if lines else "")[:300]


def tail(result: subprocess.CompletedProcess[str], chars: int = 3000) -> str:
    return (result.stdout + result.stderr)[-chars:]


def bodies(stream: str, events: int, seed: int = SEED) -> list[bytes]:
    return [e.body for e in generate(stream, events, seed=seed, rates=RATES)]  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- accounting


def _bronze_event_lines(settings: BronzeSettings) -> int:
    store = open_store(settings)
    lines = 0
    for key in store.list(names.EVENTS_PREFIX):
        lines += gzip.decompress(store.get(key)).count(b"\n")
    return lines


# The instant dim_card backdates a SKU's first version to: the dbt project's var, its one owner.
SCD2_BEGINNING = scd2_beginning_of_time()


def _expected_keys(sent: Iterable[bytes], expected: Expected) -> dict[str, dict[Any, Any]]:
    """Mart keys and values the oracle's accepted events and gold numbers imply (no rule re-derived)."""
    orders: dict[Any, Any] = dict(expected.order_lines)
    batches = {b.batch_id: (b.planned, b.produced, b.defective) for b in expected.batches.values()}
    # dim_card backdates each SKU's first version to the beginning of time (its catalog rows; inferred
    # members of SKUs without catalog events are not versions)
    cards = {
        (v.sku, SCD2_BEGINNING if i == 0 else v.valid_from): (v.player_name, v.team)
        for vs in expected.versions.values()
        for i, v in enumerate(vs)
    }
    return {"fct_orders": orders, "fct_batch_performance": batches, "dim_card": cards}


MART_SQL = {
    "fct_orders": "SELECT order_id, line_number, quantity, gross_revenue, net_revenue, order_status "
    "FROM marts.fct_orders",
    "fct_batch_performance": "SELECT batch_id, planned_units, produced_units, defective_units "
    "FROM marts.fct_batch_performance",
    "dim_card": "SELECT sku, valid_from, player_name, team FROM marts.dim_card WHERE NOT is_inferred",
}
KEY_WIDTH = {"fct_orders": 2, "fct_batch_performance": 1, "dim_card": 2}


def _has_marts(p: Pipeline) -> bool:
    try:
        return bool(
            p.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts'")[0][0]
        )
    except duckdb.Error:
        return False


def account(p: Pipeline, fault: str) -> Row:
    """Compare the end state with the oracle, event by event and mart key by mart key."""
    expected = compute(p.sent)
    expected_ids = {e.event_id for e in accepted_events(p.sent, Expected())}
    rejected = {base64.b64encode(b).decode() for b in p.sent if not isinstance(decode(b), DecodedEvent)}
    row = Row(fault=fault, produced=len(p.sent), expected=len(expected_ids))
    row.bronze = _bronze_event_lines(p.read_bronze)
    row.dead_lettered = p.dead_lettered()
    if not p.duckdb_path.exists() or not _has_marts(p):
        row.lost = len(expected_ids) + len(rejected)
        row.failures.append("no warehouse / marts at the end")
        return row
    raw_ids = {r[0] for r in p.query("SELECT DISTINCT event_id FROM raw.events")}
    row.distinct_raw = len(raw_ids)
    quarantined = {r[0] for r in p.query("SELECT DISTINCT raw_b64 FROM raw.quarantine")}
    row.quarantined = len(quarantined)
    dead = p.query("SELECT count(*) FROM raw.quarantine WHERE reason = 'dead_lettered'")[0][0]
    row.dead_lettered += int(dead)
    # Events the marts are computed from: the deduplicated staging models, one row per event id.
    staged: Counter[str] = Counter()
    for model in STAGING:
        staged.update(r[0] for r in p.query(f"SELECT event_id FROM staging.stg_events__{model}"))
    staged_ids = set(staged)
    row.counted = len(staged_ids & expected_ids)
    lost = len(expected_ids - staged_ids) + len(rejected - quarantined)
    double = sum(n - 1 for n in staged.values()) + len(staged_ids - expected_ids)
    wrong = 0
    # Mart facts, key by key: each expected key exactly once, with the oracle's values.
    for mart, want in _expected_keys(p.sent, expected).items():
        width = KEY_WIDTH[mart]
        rows = p.query(MART_SQL[mart])
        seen: Counter[Any] = Counter()
        for r in rows:
            key = r[0] if width == 1 else tuple(r[:width])
            seen[key] += 1
            values = tuple(r[width:])
            if key in want and _norm(values) != _norm(want[key]):
                wrong += 1
        lost += len(want.keys() - seen.keys())
        double += sum(n - 1 for n in seen.values()) + len(seen.keys() - want.keys())
    demand = {
        currency: (int(units), Decimal(gross))
        for currency, units, gross in p.query(
            "SELECT currency_code, sum(units_ordered), sum(gross_revenue) "
            "FROM marts.fct_daily_demand GROUP BY 1"
        )
    }
    want_demand = {c: (s.units, s.gross) for c, s in expected.by_currency.items()}
    if demand != want_demand:
        wrong += 1
        row.notes.append(f"fct_daily_demand per currency {demand} != oracle {want_demand}")
    row.lost, row.double_counted, row.wrong_values = lost, double, wrong
    return row


def _norm(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(Decimal(v) if isinstance(v, (Decimal, float)) else v for v in values)


# ---------------------------------------------------------------------------- the table

COLUMNS = (
    "fault", "events produced", "landed in bronze", "distinct in RAW", "counted in the marts", "quarantined",
    "dead-lettered", "lost", "double-counted", "time to recover (s)",
)  # fmt: skip


def cells(row: Row) -> list[str]:
    return [
        row.fault, f"{row.produced:,}", f"{row.bronze:,}", f"{row.distinct_raw:,}",
        f"{row.counted:,} / {row.expected:,}", f"{row.quarantined:,}", f"{row.dead_lettered:,}",
        f"{row.lost:,}", f"{row.double_counted:,}", f"{row.recover_seconds:.1f}",
    ]  # fmt: skip


def markdown(rows: list[Row], descriptions: dict[str, str]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    out += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    problems = [r for r in rows if not r.ok]
    if problems:
        out.append("")
        out += [
            f"- **{r.fault}**: {'; '.join(r.failures) or 'marts differ from the oracle'}" for r in problems
        ]
    out.append("")
    out += [f"- `{r.fault}`: {descriptions.get(r.fault, '')} {'; '.join(r.notes)}".rstrip() for r in rows]
    return "\n".join(out) + "\n"
