"""Private servers for fault tests: each has its own name, ports and data directory, so a test may stop,
restart or kill it without touching the shared RabbitMQ (5672) and PostgreSQL (5432) other suites use."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
RABBIT_HOME = "/var/lib/rabbitmq"  # the rabbitmq user's home: its Erlang cookie is what rabbitmqctl needs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _chown_tree(path: Path, user: str) -> None:
    shutil.chown(path, user, user)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            shutil.chown(os.path.join(root, name), user, user)


class PrivateRabbit:
    """A RabbitMQ node of its own (node name, AMQP and distribution ports, mnesia and logs in a temp dir).

    The shared node's /etc/rabbitmq config is bypassed (own RABBITMQ_CONFIG_FILE and CONF_ENV_FILE); no
    plugins, so no management port clashes. `restart()` stops and starts the same node on the same data:
    durable quorum queues and their messages survive, as on a real broker restart.
    """

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-rabbit-"))
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"chaos_{os.getpid()}_{self.port}@localhost"
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.dir / "env.conf").write_text("")
        _chown_tree(self.dir, "rabbitmq")
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": RABBIT_HOME,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "env.conf"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _as_rabbitmq(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        cmd = ["runuser", "-u", "rabbitmq", "--", "env", *(f"{k}={v}" for k, v in self._env().items()), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def ctl(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return self._as_rabbitmq(str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args, timeout=timeout)

    def start(self, timeout: float = 60) -> None:
        started = self._as_rabbitmq(str(RABBIT_BIN / "rabbitmq-server"), "-detached")
        if started.returncode != 0:
            raise RuntimeError(f"rabbitmq-server -detached failed: {started.stderr[-2000:]}")
        deadline = time.monotonic() + timeout
        while True:  # -detached returns before the node registers with epmd: await_startup until it has
            ready = self.ctl("await_startup", "--timeout", "30")
            if ready.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"private RabbitMQ {self.node} did not start: {ready.stderr[-2000:]}")
            time.sleep(0.5)
        wait_port(self.port)

    def stop(self) -> None:
        self.ctl("stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class PrivatePostgres:
    """A PostgreSQL cluster of its own: initdb in a temp dir owned by `postgres` (initdb refuses root), its
    own port and socket dir, trust auth. `restart(mode)` is a real restart (`immediate` = crash-like)."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"
        )

    def _as_postgres(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.dir,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout[-1500:]}{result.stderr[-1500:]}")
        return result

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options, *args
        )

    def start(self) -> None:
        self._pg_ctl("-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-w", "-m", mode, "stop")

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class MotoServer:
    """moto's S3 server as its own process on 127.0.0.1 (as tests/pipeline/conftest.py's moto_server)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
