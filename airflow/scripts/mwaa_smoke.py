"""Smoke checks after a deployment: the environment is AVAILABLE, every DAG imported, the four DAGs exist.

    python airflow/scripts/mwaa_smoke.py --environment sportscards-dev [--timeout-minutes 60]

Uses MWAA's CLI endpoint (create_cli_token); AWS credentials come from the caller's OIDC role.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from typing import Any

EXPECTED_DAGS = {
    "events_backfill_to_s3",
    "s3_to_snowflake_load_raw",
    "dbt_transform_and_test",
    "data_quality",
}


def wait_available(mwaa: Any, name: str, timeout_s: float) -> dict[str, Any]:
    """MWAA applies a new requirements/plugins version by restarting; wait until it settles."""
    deadline = time.monotonic() + timeout_s
    while True:
        env: dict[str, Any] = mwaa.get_environment(Name=name)["Environment"]
        status = env["Status"]
        # right after update_environment the status can still read AVAILABLE: also wait for the update
        if status == "AVAILABLE" and env.get("LastUpdate", {}).get("Status", "SUCCESS") == "SUCCESS":
            return env
        if env.get("LastUpdate", {}).get("Status") == "FAILED":
            raise SystemExit(f"MWAA environment {name}: last update failed: {env['LastUpdate']}")
        if status in {"UPDATE_FAILED", "CREATE_FAILED", "UNAVAILABLE"}:
            raise SystemExit(f"MWAA environment {name} is {status}: {env.get('LastUpdate', {})}")
        if time.monotonic() > deadline:
            raise SystemExit(f"MWAA environment {name} still {status} after {timeout_s / 60:.0f} minutes")
        time.sleep(30)


def airflow_cli(mwaa: Any, name: str, command: str) -> str:
    import requests

    token = mwaa.create_cli_token(Name=name)
    response = requests.post(
        f"https://{token['WebServerHostname']}/aws_mwaa/cli",
        headers={"Authorization": f"Bearer {token['CliToken']}", "Content-Type": "text/plain"},
        data=command,
        timeout=60,
    )
    response.raise_for_status()
    body = response.json()
    stderr = base64.b64decode(body.get("stderr", "")).decode()
    if stderr.strip():
        print(stderr, file=sys.stderr)
    return base64.b64decode(body["stdout"]).decode()


def check(dag_list_json: str, import_errors_json: str) -> list[str]:
    """Problems found (empty = healthy). Pure, so it is unit-tested."""
    problems = []
    errors = json.loads(import_errors_json or "[]")
    if errors:
        problems.append(f"DAG import errors: {errors}")
    dags = {d["dag_id"] for d in json.loads(dag_list_json or "[]")}
    missing = EXPECTED_DAGS - dags
    if missing:
        problems.append(f"DAGs missing: {sorted(missing)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environment", required=True)
    parser.add_argument("--timeout-minutes", type=float, default=60)
    args = parser.parse_args(argv)
    import boto3

    mwaa = boto3.client("mwaa")
    wait_available(mwaa, args.environment, args.timeout_minutes * 60)
    problems = check(
        airflow_cli(mwaa, args.environment, "dags list -o json"),
        airflow_cli(mwaa, args.environment, "dags list-import-errors -o json"),
    )
    for problem in problems:
        print(f"smoke: {problem}", file=sys.stderr)
    print("smoke: ok" if not problems else "smoke: FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
