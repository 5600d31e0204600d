"""Fault tools: an HTTP proxy that injects S3 failures, a size-limited tmpfs, process-tree kills."""

from __future__ import annotations

import http.client
import os
import random
import signal
import socket
import struct
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from support.servers import free_port

# What the proxy can do to one request.
OK, ERROR_500, ERROR_503, SLOW, RESET, HANG = "ok", "500", "503", "slow", "reset", "hang"
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "trailer"}
_S3_ERRORS = {ERROR_500: (500, "InternalError"), ERROR_503: (503, "SlowDown")}


@dataclass
class FaultPlan:
    """Per-request fault odds (seeded, so a run is reproducible). `hang_puts`: that many PUTs are held open
    without an answer until the client gives up (or `hang_seconds` passed), a PUT that never completes."""

    rates: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 1.5
    hang_puts: int = 0
    hang_seconds: float = 600.0
    seed: int = 1

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def pick(self, method: str) -> str:
        with self._lock:
            if method == "PUT" and self.hang_puts > 0:
                self.hang_puts -= 1
                return HANG
            roll = self._rng.random()
            for action, rate in self.rates.items():
                if roll < rate:
                    return action
                roll -= rate
            return OK


class FaultProxy:
    """Reverse proxy in front of an S3 endpoint (moto): clients point BRONZE_S3_ENDPOINT_URL at `url`.

    Runs in the test process (threads); `plan` can be swapped at any time; `counts` says what was injected.
    """

    def __init__(self, upstream_port: int, plan: FaultPlan | None = None) -> None:
        self.upstream_port = upstream_port
        self.plan = plan or FaultPlan()
        self.counts: Counter[str] = Counter()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = proxy.plan.pick(self.command)
                proxy.counts[action] += 1
                if action == RESET:
                    # SO_LINGER 0: close() sends a TCP RST, the client sees "connection reset by peer".
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if action == HANG:
                    self._hang()
                    return
                if action in _S3_ERRORS:
                    status, code = _S3_ERRORS[action]
                    payload = (
                        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                        f"<Message>injected by the chaos proxy</Message></Error>"
                    ).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if action == SLOW:
                    time.sleep(proxy.plan.slow_seconds)
                self._forward(body)

            def _hang(self) -> None:
                """Never answer: wait until the client gives up (its read timeout) or hang_seconds pass."""
                self.close_connection = True
                self.connection.settimeout(1.0)
                deadline = time.monotonic() + proxy.plan.hang_seconds
                while time.monotonic() < deadline:
                    try:
                        if not self.connection.recv(1, socket.MSG_PEEK):
                            return  # the client gave up
                    except TimeoutError:
                        continue
                    except OSError:
                        return

            def _forward(self, body: bytes) -> None:
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response_only(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def small_tmpfs(path: Path, size: str = "2m") -> Iterator[Path]:
    """A size-limited tmpfs at `path` (root only): writes beyond `size` fail with ENOSPC."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path, leave_bytes: int) -> Path:
    """Fill the file system of `path` with a filler file until only about `leave_bytes` are free."""
    filler = path / "filler.bin"
    stats = os.statvfs(path)
    free = stats.f_bavail * stats.f_frsize
    with filler.open("wb") as handle:
        remaining = max(0, free - leave_bytes)
        while remaining > 0:
            chunk = min(remaining, 1 << 20)
            handle.write(b"\0" * chunk)
            remaining -= chunk
    return filler


def children(pid: int) -> list[int]:
    """Direct children of a process (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = children(todo.pop())
        out.extend(kids)
        todo.extend(kids)
    return out


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started with start_new_session=True and everything it started."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
