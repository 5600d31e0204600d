"""Smoke checks after a deployment: environment AVAILABLE, no DAG import errors, every expected DAG present.

    python airflow/scripts/mwaa_smoke.py --environment sportscards-dev \
        [--timeout-minutes 60] [--parse-minutes 10]

The webserver of a PRIVATE_ONLY environment is unreachable from a hosted runner, so the Airflow REST API is
called through MWAA's own API (`mwaa:InvokeRestApi`, boto3 `invoke_rest_api`), which needs only AWS
credentials (the caller's OIDC role: airflow:GetEnvironment and airflow:InvokeRestApi). Airflow 3 API paths,
paginated with limit/offset. The expected DAG ids are names.DAG_IDS, the ids the DAG files use.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from typing import Any

from cardpipe.contracts import names

EXPECTED_DAGS = frozenset(names.DAG_IDS)
PAGE_SIZE = 100


class SmokeError(SystemExit):
    """The check could not run (API refused, environment broken): exit non-zero with the reason."""


def wait_available(mwaa: Any, name: str, timeout_s: float, *, poll_s: float = 30) -> dict[str, Any]:
    """MWAA applies a new requirements/plugins version by restarting; wait until it settles."""
    deadline = time.monotonic() + timeout_s
    while True:
        env: dict[str, Any] = mwaa.get_environment(Name=name)["Environment"]
        status = env["Status"]
        # right after update_environment the status can still read AVAILABLE: also wait for the update
        if status == "AVAILABLE" and env.get("LastUpdate", {}).get("Status", "SUCCESS") == "SUCCESS":
            return env
        if env.get("LastUpdate", {}).get("Status") == "FAILED":
            raise SmokeError(f"MWAA environment {name}: last update failed: {env['LastUpdate']}")
        if status in {"UPDATE_FAILED", "CREATE_FAILED", "UNAVAILABLE"}:
            raise SmokeError(f"MWAA environment {name} is {status}: {env.get('LastUpdate', {})}")
        if time.monotonic() > deadline:
            raise SmokeError(f"MWAA environment {name} still {status} after {timeout_s / 60:.0f} minutes")
        time.sleep(poll_s)


def rest_get(mwaa: Any, name: str, path: str, query: dict[str, Any]) -> dict[str, Any]:
    """One GET of the Airflow REST API through mwaa:InvokeRestApi; a non-2xx answer is a SmokeError."""
    from botocore.exceptions import ClientError

    try:
        response = mwaa.invoke_rest_api(Name=name, Path=path, Method="GET", QueryParameters=query)
    except ClientError as exc:
        status = exc.response.get("RestApiStatusCode") or exc.response.get("ResponseMetadata", {}).get(
            "HTTPStatusCode"
        )
        detail = exc.response.get("RestApiResponse") or exc.response.get("Error", {}).get("Message")
        raise SmokeError(f"Airflow API GET {path} on {name} failed ({status}): {detail}") from None
    status = response.get("RestApiStatusCode", 200)
    if not 200 <= status < 300:
        raise SmokeError(
            f"Airflow API GET {path} on {name} answered {status}: {response.get('RestApiResponse')}"
        )
    return dict(response.get("RestApiResponse") or {})


def rest_list(mwaa: Any, name: str, path: str, items_key: str, *, page_size: int = PAGE_SIZE) -> list[Any]:
    """Every item of a paginated Airflow collection (`{items_key: [...], "total_entries": n}`)."""
    items: list[Any] = []
    while True:
        page = rest_get(mwaa, name, path, {"limit": page_size, "offset": len(items)})
        batch = page.get(items_key)
        if not isinstance(batch, list):
            raise SmokeError(f"Airflow API GET {path} answered without {items_key!r}: keys {sorted(page)}")
        items.extend(batch)
        total = int(page.get("total_entries", len(items)))
        if not batch or len(items) >= total:
            return items


def check(dag_ids: Iterable[str], import_errors: list[dict[str, Any]]) -> list[str]:
    """Problems found (empty = healthy). Pure, so it is unit-tested."""
    problems = []
    if import_errors:
        files = sorted({str(e.get("filename", "?")) for e in import_errors})
        problems.append(f"DAG import errors in {files}: {[e.get('stack_trace', e) for e in import_errors]}")
    missing = EXPECTED_DAGS - set(dag_ids)
    if missing:
        problems.append(f"DAGs missing: {sorted(missing)}")
    return problems


def smoke(mwaa: Any, name: str, *, page_size: int = PAGE_SIZE) -> list[str]:
    """Read every DAG and import error through the REST API and check them."""
    dags = rest_list(mwaa, name, "/dags", "dags", page_size=page_size)
    errors = rest_list(mwaa, name, "/importErrors", "import_errors", page_size=page_size)
    paused = sorted(d["dag_id"] for d in dags if d.get("dag_id") in EXPECTED_DAGS and d.get("is_paused"))
    if paused:
        print(f"smoke: note: paused DAGs (they will not be scheduled): {paused}", file=sys.stderr)
    return check((d["dag_id"] for d in dags), errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environment", required=True, help="MWAA environment name, e.g. sportscards-dev")
    parser.add_argument("--timeout-minutes", type=float, default=60, help="wait this long for AVAILABLE")
    parser.add_argument(
        "--parse-minutes",
        type=float,
        default=10,
        help="re-check this long while DAGs are missing or failing: MWAA syncs dags/ from S3 and lists new "
        "files only every few minutes, so a fresh deployment needs a moment",
    )
    args = parser.parse_args(argv)
    import boto3

    mwaa = boto3.client("mwaa")
    wait_available(mwaa, args.environment, args.timeout_minutes * 60)
    deadline = time.monotonic() + args.parse_minutes * 60
    while (problems := smoke(mwaa, args.environment)) and time.monotonic() < deadline:
        print(f"smoke: not yet healthy ({len(problems)} problems), checking again in 30 s", file=sys.stderr)
        time.sleep(30)
    for problem in problems:
        print(f"smoke: {problem}", file=sys.stderr)
    print("smoke: ok" if not problems else "smoke: FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
