"""The chaos scenarios: each builds a private pipeline, injects one fault into real processes, recovers the
way an operator (or a supervisor) would, then `finish()` loads, runs dbt and accounts against the oracle."""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
from cardpipe.bronze.layout import checkpoint_key
from cardpipe.config import BronzeSettings
from cardpipe.contracts import names
from harness import LATE_SEED, Pipeline, Row, Size, last_error
from support.faults import (
    ERROR_500,
    ERROR_503,
    RESET,
    SLOW,
    FaultPlan,
    FaultProxy,
    children,
    fill,
    kill_group,
    small_tmpfs,
)
from support.servers import MotoServer, PrivatePostgres, PrivateRabbit

Scenario = Callable[[Path, Size], Row]
RNG = random.Random(20261202)


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def objects(root: Path, sub: str = f"{names.EVENTS_PREFIX}source=live") -> int:
    base = root / sub
    if not base.exists():
        return 0
    return sum(1 for _, _, files in os.walk(base) for f in files if not f.startswith("."))


def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


@contextlib.contextmanager
def pipeline(work: Path, **kwargs: object) -> Iterator[Pipeline]:
    p = Pipeline(work, **kwargs)  # type: ignore[arg-type]
    try:
        yield p
    finally:
        p.close()


def _checkpoint(p: Pipeline, window: str = "all") -> dict[str, object] | None:
    path = p.bronze_dir / checkpoint_key("backfill", window)
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------- scenarios


def baseline(work: Path, size: Size) -> Row:
    """No fault: the reference run (and the pipeline the mutation checks corrupt)."""
    with pipeline(work) as p:
        p.seed_history(size.history)
        p.publish(size.live)
        p.consume()
        p.cardpipe("backfill")
        return p.finish("none (baseline)", time.monotonic())


def consumer_sigkill(work: Path, size: Size) -> Row:
    """SIGKILL the consumer (and its landing worker) k times mid-stream, restart it each time."""
    with pipeline(work) as p:
        p.seed_history(size.history)
        trickle = p.trickle(size.live, rate=size.live / (1.5 * size.kills + 2))
        running = 0
        for _ in range(size.kills):
            before = objects(p.bronze_dir)
            consumer = p.spawn("consume", "--until-idle", "--idle-seconds", "5", "--workers", "1")
            wait_for(lambda: objects(p.bronze_dir) > before, 60)  # noqa: B023 - evaluated at once
            time.sleep(RNG.uniform(0.1, 1.0))
            if consumer.poll() is None:
                running += 1
            kill_group(consumer)
        fault_end = time.monotonic()
        trickle.join()
        p.notes.append(f"{running}/{size.kills} kills hit a consumer in the middle of the stream")
        if p.consume() != 0:
            p.failures.append("the restarted consumer failed")
        p.cardpipe("backfill")
        return p.finish("consumer SIGKILL x k", fault_end)


def _landing_workers(consumer_pid: int) -> list[int]:
    """consumer -> forkserver -> workers (forked from the forkserver, so they share its command line)."""
    found = []
    for child in children(consumer_pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"forkserver" in cmdline:
            found += children(child)
    return found


def landing_worker_kill(work: Path, size: Size) -> Row:
    """Kill only the landing worker process (`consume --workers 1`); the consumer must not ack its batch."""
    with pipeline(work) as p:
        p.seed_history(size.history)
        trickle = p.trickle(size.live, rate=size.live / (2.0 * size.kills + 2))
        killed = 0
        exits = []
        for _ in range(size.kills):
            before = objects(p.bronze_dir)
            consumer = p.spawn("consume", "--until-idle", "--idle-seconds", "5", "--workers", "1")
            wait_for(lambda: objects(p.bronze_dir) > before, 60)  # noqa: B023
            time.sleep(RNG.uniform(0.1, 0.6))
            for pid in _landing_workers(consumer.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
                    killed += 1
            rc = wait_exit(consumer, 60)
            exits.append(rc)
            if rc is None:
                p.failures.append("the consumer hung after its landing worker was killed")
                kill_group(consumer)
        fault_end = time.monotonic()
        trickle.join()
        p.notes.append(f"{killed} worker kills; consumer exit codes {exits} (restarted each time)")
        if p.consume() != 0:
            p.failures.append("the restarted consumer failed")
        p.cardpipe("backfill")
        return p.finish("landing worker killed", fault_end)


def broker_restart(work: Path, size: Size) -> Row:
    """Restart a private RabbitMQ node (own node name, ports, data dir) while events stream through it."""
    rabbit = PrivateRabbit()
    rabbit.start()
    try:
        with pipeline(work, amqp_url=rabbit.url) as p:
            p.seed_history(size.history)
            consumer = p.spawn("consume", "--workers", "1")
            trickle = p.trickle(size.live, rate=size.live / 8)
            wait_for(lambda: objects(p.bronze_dir) > 0, 60)
            restarts = max(1, size.kills // 2)
            for _ in range(restarts):
                time.sleep(RNG.uniform(0.5, 1.5))
                rabbit.restart()
            fault_end = time.monotonic()
            trickle.join()
            if trickle.errors:
                p.notes.append(f"publisher re-sent the stream after {trickle.errors} (same bytes)")
            survived = consumer.poll() is None
            if survived:
                # Let it drain, then stop it the way an operator would (SIGTERM flushes and acks).
                wait_for(lambda: _queue_depth(p) == 0, 120, 0.5)
                time.sleep(3)
                consumer.terminate()
                wait_exit(consumer, 60)
            else:
                p.failures.append(
                    f"consumer exited {consumer.returncode} on the broker restart instead of reconnecting: "
                    f"{last_error(consumer)}"
                )
            if p.consume() != 0:
                p.failures.append("a consumer started after the restart failed")
            p.cardpipe("backfill")
            p.notes.append(f"{restarts} broker restart(s)")
            return p.finish("broker restarted", fault_end)
    finally:
        rabbit.close()


def _queue_depth(p: Pipeline) -> int:
    import pika  # noqa: PLC0415

    try:
        conn = pika.BlockingConnection(pika.URLParameters(p.amqp_url))
        try:
            return int(conn.channel().queue_declare(p.queue, passive=True).method.message_count)
        finally:
            conn.close()
    except pika.exceptions.AMQPError:
        return -1


def postgres_restart(work: Path, size: Size) -> Row:
    """Crash-restart (pg_ctl -m immediate) a private PostgreSQL cluster in the middle of a backfill."""
    pg = PrivatePostgres()
    pg.start()
    try:
        with pipeline(work, pg_admin_dsn=pg.dsn) as p:
            p.seed_history(size.history)
            p.publish(size.live)
            p.consume()
            chunk = max(20, size.history // 40)
            backfill = p.spawn("backfill", "--chunk-rows", str(chunk))
            hit = wait_for(lambda: int((_checkpoint(p) or {}).get("last_seq", 0)) > 0, 60, 0.01)  # type: ignore[call-overload]
            pg.restart("immediate")
            fault_end = time.monotonic()
            rc = wait_exit(backfill, 300)
            p.notes.append("restart hit a running backfill" if hit else "restart missed the backfill")
            if rc != 0:
                p.failures.append(
                    f"backfill exited {rc} on the PostgreSQL restart instead of retrying: "
                    f"{last_error(backfill)}"
                )
                p.cardpipe("backfill")  # the operator resumes it
            return p.finish("PostgreSQL restarted", fault_end)
    finally:
        pg.close()


def s3_faults(work: Path, size: Size) -> Row:
    """Bronze on S3 (moto) behind a proxy injecting 500/503, slow answers, resets and one hanging PUT."""
    moto = MotoServer()
    bucket = f"chaos-{uuid.uuid4().hex[:10]}"
    creds = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(creds)
    boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1").create_bucket(Bucket=bucket)
    # The short run injects fewer faults, to keep `make test` short.
    odds = 0.03 if size.name == "full" else 0.02
    plan = FaultPlan(
        rates={ERROR_500: odds, ERROR_503: odds, SLOW: odds / 2, RESET: odds},
        slow_seconds=1.0 if size.name == "full" else 0.5,
        hang_puts=1,
    )
    proxy = FaultProxy(moto.port, plan)
    env = {
        **creds,
        "BRONZE_BACKEND": "s3",
        "BRONZE_S3_BUCKET": bucket,
        "BRONZE_S3_PREFIX": "sportscards",
        "BRONZE_S3_ENDPOINT_URL": proxy.url,
    }
    direct = BronzeSettings(backend="s3", s3_bucket=bucket, s3_prefix="sportscards", s3_endpoint_url=moto.url)
    try:
        with pipeline(work, bronze_env=env, read_bronze=direct) as p:
            p.seed_history(size.history)
            p.publish(size.live)
            started = time.monotonic()
            for step in (("consume", "--until-idle", "--idle-seconds", "2"), ("backfill",), ("load",)):
                for attempt in range(4):
                    result = p.cardpipe(*step, check=False, timeout=900)
                    if result.returncode == 0:
                        break
                    p.notes.append(
                        f"{step[0]} exited {result.returncode} under S3 faults (re-run {attempt + 1})"
                    )
                else:
                    p.failures.append(f"{step[0]} never succeeded under S3 faults")
            p.notes.append(f"injected {dict(proxy.counts)} in {time.monotonic() - started:.0f}s of faulty S3")
            proxy.plan = FaultPlan()
            return p.finish("S3 faults (500/503/slow/reset/hang)", time.monotonic())
    finally:
        proxy.close()
        moto.close()


def disk_full(work: Path, size: Size) -> Row:
    """The local bronze directory is a small tmpfs that fills up while the consumer writes."""
    with small_tmpfs(work / "bronze", "64m") as mount, pipeline(work) as p:
        p.seed_history(size.history)
        p.publish(size.live)
        filler = fill(mount, leave_bytes=48 * 1024)
        consumer = p.spawn("consume", "--until-idle", "--idle-seconds", "2", "--workers", "1")
        rc = wait_exit(consumer, 20)
        filler.unlink()
        fault_end = time.monotonic()
        if rc is None:
            p.notes.append("consumer kept running (retrying) through ENOSPC")
            rc = wait_exit(consumer, 300)
        else:
            p.notes.append(f"consumer exited {rc} on ENOSPC without acking; restarted after space was freed")
        if p.consume() != 0:
            p.failures.append("the consumer failed after space was freed")
        p.cardpipe("backfill")
        leftovers = [f for _, _, fs in os.walk(mount) for f in fs if f.startswith(".") and f.endswith(".tmp")]
        if leftovers:
            p.failures.append(f"{len(leftovers)} temp file(s) left in bronze after ENOSPC")
        row = p.finish("disk full (tmpfs)", fault_end)
        return row


def loader_sigkill(work: Path, size: Size) -> Row:
    """SIGKILL `cardpipe load` k times while it loads many small files, then re-run it."""
    with pipeline(work, bronze_env={"BATCH_MAX_EVENTS": "40"}) as p:
        p.seed_history(size.history)
        p.publish(size.live)
        p.consume()
        p.cardpipe("backfill", "--chunk-rows", str(max(20, size.history // 50)))
        landed = 0
        for _ in range(size.kills):
            loader = p.spawn("load")
            time.sleep(RNG.uniform(0.8, 1.8))
            if loader.poll() is None:
                landed += 1
            kill_group(loader)
        fault_end = time.monotonic()
        p.notes.append(f"{landed}/{size.kills} kills landed mid-load")
        return p.finish("loader SIGKILL x k", fault_end)


def dbt_sigkill(work: Path, size: Size) -> Row:
    """A first full build, then new events, then SIGKILL the incremental `dbt build` k times and re-run it."""
    with pipeline(work) as p:
        p.seed_history(size.history)
        p.publish(size.live // 2)
        p.consume()
        p.cardpipe("backfill")
        p.cardpipe("load")
        first = p.dbt("build")
        if first.returncode != 0:
            p.failures.append("first dbt build failed")
        p.publish(size.live // 2, seed=LATE_SEED + 7)
        p.consume()
        p.cardpipe("load")
        landed = 0
        for _ in range(size.kills):
            build = p.spawn_dbt("build")
            time.sleep(RNG.uniform(3.0, 7.0))
            if build.poll() is None:
                landed += 1
            kill_group(build)
        fault_end = time.monotonic()
        p.notes.append(f"{landed}/{size.kills} kills landed mid-build")
        return p.finish("dbt build SIGKILL x k", fault_end, load=False)


def backfill_rerun_late_rows(work: Path, size: Size) -> Row:
    """Rows committed late into an already backfilled chunk; the operator re-runs the window."""
    with pipeline(work) as p:
        p.seed_history(size.history)
        late_conn, late = p.late_rows(max(10, size.history // 20), LATE_SEED)  # seqs reserved, uncommitted
        after_conn, after = p.late_rows(max(10, size.history // 20), LATE_SEED + 1)
        p.commit_late(after_conn, after)  # higher seqs commit first
        p.publish(size.live)
        p.consume()
        p.cardpipe("backfill")
        p.cardpipe("load")
        p.dbt("build")
        p.commit_late(late_conn, late)  # now below seqs the backfill has read
        fault_end = time.monotonic()
        result = p.cardpipe("backfill", check=False)
        if result.returncode != 0:
            p.notes.append(f"re-run backfill exited {result.returncode}")
        p.notes.append(f"{len(late)} rows committed late below the backfilled seqs")
        return p.finish("backfill re-run after late journal rows", fault_end)


def backfill_resume_late_commit(work: Path, size: Size) -> Row:
    """Backfill SIGKILLed after some chunks; rows then commit late below its checkpoint; it is resumed."""
    with pipeline(work) as p:
        p.seed_history(size.history)
        late_conn, late = p.late_rows(max(10, size.history // 20), LATE_SEED)
        after_conn, after = p.late_rows(size.history, LATE_SEED + 1)
        p.commit_late(after_conn, after)
        late_seq_hi = size.history + len(late)
        p.publish(size.live)
        p.consume()
        chunk = max(10, size.history // 60)
        backfill = p.spawn("backfill", "--chunk-rows", str(chunk))
        hit = wait_for(
            lambda: int((_checkpoint(p) or {}).get("last_seq", 0)) > late_seq_hi + chunk,  # type: ignore[call-overload]
            120,
            0.005,
        )
        running = backfill.poll() is None
        kill_group(backfill)
        p.commit_late(late_conn, late)
        fault_end = time.monotonic()
        checkpoint = _checkpoint(p) or {}
        p.notes.append(
            f"backfill killed at checkpoint seq {checkpoint.get('last_seq')} "
            f"({'mid-run' if hit and running else 'after it finished'}); {len(late)} rows committed late "
            f"with seqs <= {late_seq_hi}"
        )
        result = p.cardpipe("backfill", check=False)
        if result.returncode != 0:
            p.notes.append(f"resumed backfill exited {result.returncode}")
        return p.finish("backfill resumed after late commits", fault_end)


SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "baseline": (baseline, "no fault; the reference."),
    "consumer_sigkill": (consumer_sigkill, consumer_sigkill.__doc__ or ""),
    "landing_worker_kill": (landing_worker_kill, landing_worker_kill.__doc__ or ""),
    "broker_restart": (broker_restart, broker_restart.__doc__ or ""),
    "postgres_restart": (postgres_restart, postgres_restart.__doc__ or ""),
    "s3_faults": (s3_faults, s3_faults.__doc__ or ""),
    "disk_full": (disk_full, disk_full.__doc__ or ""),
    "loader_sigkill": (loader_sigkill, loader_sigkill.__doc__ or ""),
    "dbt_sigkill": (dbt_sigkill, dbt_sigkill.__doc__ or ""),
    "backfill_rerun_late_rows": (backfill_rerun_late_rows, backfill_rerun_late_rows.__doc__ or ""),
    "backfill_resume_late_commit": (backfill_resume_late_commit, backfill_resume_late_commit.__doc__ or ""),
}
