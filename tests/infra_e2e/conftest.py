"""`make infra-e2e`: the synthesized AWS stack applied by real Terraform to a moto server, then the platform's
code run under the roles it created with moto's IAM enforcement on.

One session = one moto server, one network, one synthesized environment (dev, pointed at the emulator by an
INFRA_CONFIG_OVERLAY), one Terraform working copy. The modules run in file order: test_1 (init .. empty
re-plan), test_2 (least privilege, after apply), test_3 (destroy). The terminal summary lists what the
emulator copy had to leave out or adjust, with the reasons, and where the time went.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cardpipe.contracts import names

from . import emulator, tfstack
from .deployment import ENV, Deployment, state_bucket, write_overlay

REGION = "us-east-1"
SUMMARY: dict[str, Any] = {"timings": {}, "notes": []}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Lifecycle order whatever order files were given in: terraform up, least privilege, destroy."""
    here = Path(__file__).parent

    def rank(item: pytest.Item) -> int:
        path = Path(str(item.fspath))
        return {"test_1": 1, "test_2": 2, "test_3": 3}.get(path.name[:6], 0) if path.parent == here else 0

    items.sort(key=rank)


@pytest.fixture(scope="session")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("infra-e2e needs terraform on PATH (1.11+): not found")
    mirror = tfstack.find_mirror()
    if mirror is None:
        pytest.skip(
            "infra-e2e needs a filesystem mirror of hashicorp/aws (no registry access): none found under "
            f"{', '.join(tfstack.MIRROR_ROOTS)} or by `find / -xdev -name 'terraform-provider-aws*'`; "
            "set TF_PROVIDER_MIRROR=<mirror root>"
        )
    if not tfstack.INFRA_PY.exists():
        pytest.fail(f"{tfstack.INFRA_PY} is missing: run `make infra-setup`")
    mirror_root, version = mirror
    timings: dict[str, float] = SUMMARY["timings"]
    root = tmp_path_factory.mktemp("infra-e2e")
    started = time.monotonic()
    moto = emulator.MotoServer(root / "moto.log", REGION)
    timings["moto server start"] = time.monotonic() - started
    try:
        started = time.monotonic()
        network = emulator.create_network(moto)
        bucket = state_bucket()
        SUMMARY["seeded"] = emulator.create_state_bucket(moto, bucket, ENV)
        overlay = write_overlay(root / "emulator-accounts.toml", ENV, REGION, network)
        timings["network + state bucket"] = time.monotonic() - started

        started = time.monotonic()
        stacks = tfstack.synthesize(ENV, overlay, root / "cdktf.out")
        timings["synthesis (infra/main.py)"] = time.monotonic() - started
        copy = tfstack.prepare(
            stacks / names.resource_name(ENV, "aws"), root / "work", moto.url, provider_version=version
        )
        tf = tfstack.Terraform(
            copy.workdir, tfstack.cli_config(root / "terraform.rc", mirror_root), moto.url, REGION, binary
        )
        deployment = Deployment(moto, network, root / "work", copy, tf, timings, bucket, version)
        SUMMARY["deployment"] = deployment
        SUMMARY["mirror"] = f"{mirror_root} (hashicorp/aws {version})"
        yield deployment
    finally:
        moto.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    deployment: Deployment | None = SUMMARY.get("deployment")
    if deployment is None:
        return
    write = terminalreporter.write_line
    terminalreporter.section("infra-e2e: emulator copy of the AWS stack")
    write(f"moto server {deployment.moto.url}; provider mirror {SUMMARY['mirror']}")
    write(f"endpoints pointed at moto: {', '.join(deployment.copy.services)}")
    write(f"NOT CREATED on the emulator ({len(deployment.copy.exclusions)}):")
    for item in deployment.copy.exclusions:
        write(f"  - {item.address}: {item.reason}")
    write(f"ADJUSTED in the emulator copy ({len(deployment.copy.adjustments)}):")
    for adj in deployment.copy.adjustments:
        write(f"  - {adj.address}: {adj.change} ({adj.reason})")
    write(f"stand-in files uploaded: {', '.join(deployment.copy.stand_ins) or 'none'}")
    for step, reason in deployment.failed.items():
        write(f"terraform {step} FAILED: {reason}")
    for note in SUMMARY["notes"]:
        write(f"note: {note}")
    terminalreporter.section("infra-e2e: timings")
    for what, seconds in SUMMARY["timings"].items():
        write(f"  {what:<46} {seconds:6.1f} s")
    apply = deployment.tf.steps.get("apply")
    if apply is not None:
        slow = sorted(apply.resource_times().items(), key=lambda kv: -kv[1])[:5]
        write("  slowest resources to create: " + ", ".join(f"{a} {s:.0f}s" for a, s in slow))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Least-privilege runs in the timing summary (the Terraform steps are timed by the deployment)."""
    if report.when == "call" and "infra_e2e/test_2_" in report.nodeid:
        SUMMARY["timings"][report.nodeid.rsplit("::", 1)[-1].removeprefix("test_")[:44]] = report.duration
