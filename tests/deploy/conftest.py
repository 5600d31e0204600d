"""Deploy-path fixtures: real terraform on tiny provider-less stacks, moto servers over HTTP on 127.0.0.1.

The scripts under test (infra/scripts/*.py) run as subprocesses in infra/.venv, exactly as `make` runs them;
these tests (root venv) drive them through the Makefile targets where there is one and inspect the results.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA_PY = REPO / "infra" / ".venv" / "bin" / "python"
EXAMPLE_OVERLAY = REPO / "tests" / "infra" / "fixtures" / "example-accounts.toml"
EXAMPLE_ACCOUNT = "111111111111"  # dev's account id in the example overlay
TERRAFORM = shutil.which("terraform")

needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH (1.11.4 expected)")
needs_infra_venv = pytest.mark.skipif(
    not INFRA_PY.exists(), reason="infra/.venv missing: run make infra-setup"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(**env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto server did not start")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server for the session: the example overlay's dev account, AWS managed policies loaded."""
    proc, url = start_moto(MOTO_ACCOUNT_ID=EXAMPLE_ACCOUNT, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def aws_env(url: str, **extra: str) -> dict[str, str]:
    """Environment for a subprocess talking to moto (never real AWS: dummy keys, endpoint forced)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in {"ENV", "CONFIRM", "MAKEFLAGS"}
    }
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        INFRA_CONFIG_OVERLAY=str(EXAMPLE_OVERLAY),
        TF_CLI_CONFIG_FILE=os.devnull,  # no ~/.terraformrc here: keep terraform quiet about it
    )
    env.update(extra)
    return env


def make(
    *args: str, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """`make <args>` at the repo root; stdout and stderr together (what a user reads)."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO,
        env=env if env is not None else {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_stack(directory: Path, doc: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cdk.tf.json").write_text(json.dumps(doc, indent=1))


def tf_state(path: Path) -> dict[str, object]:
    return json.loads(path.read_text()) if path.exists() else {}
