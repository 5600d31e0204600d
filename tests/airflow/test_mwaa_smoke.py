# ruff: noqa: PLC0415  (boto3 and Airflow are imported inside tests, after conftest set AIRFLOW_HOME)
"""mwaa_smoke.py: the pure check, and the requests it makes through mwaa:InvokeRestApi.

botocore's Stubber validates every request against the real MWAA service model (InvokeRestApi: Name, Path,
Method, QueryParameters), so a wrong parameter fails here, not in the first promotion. The response shapes are
checked against Airflow 3's own REST API models (the collections the paths return).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cardpipe.contracts import names
from conftest import REPO

ENV = names.mwaa_environment("dev")


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "airflow" / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


smoke = _module("mwaa_smoke")


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    import boto3
    from botocore.stub import Stubber

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("mwaa", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _dag(dag_id: str, paused: bool = False) -> dict[str, Any]:
    return {"dag_id": dag_id, "is_paused": paused, "is_stale": False}


def _page(stubber: Any, path: str, key: str, items: list[Any], total: int, offset: int, limit: int) -> None:
    stubber.add_response(
        "invoke_rest_api",
        {"RestApiStatusCode": 200, "RestApiResponse": {key: items, "total_entries": total}},
        expected_params={
            "Name": ENV,
            "Path": path,
            "Method": "GET",
            "QueryParameters": {"limit": limit, "offset": offset},
        },
    )


def test_expected_dags_are_the_ids_the_dag_files_use(dagbag: Any) -> None:
    assert smoke.EXPECTED_DAGS == set(names.DAG_IDS) == set(dagbag.dag_ids)


def test_check_logic() -> None:
    assert smoke.check(names.DAG_IDS, []) == []
    problems = smoke.check([names.DAG_DATA_QUALITY], [{"filename": "x.py", "stack_trace": "boom"}])
    assert len(problems) == 2 and "import errors" in problems[0] and "x.py" in problems[0]
    assert "missing" in problems[1] and names.DAG_BROKER_TOPOLOGY in problems[1]


def test_smoke_paginates_dags_and_import_errors(stubbed: tuple[Any, Any]) -> None:
    client, stubber = stubbed
    dags = [_dag(d) for d in names.DAG_IDS] + [_dag("someone_elses")]
    for offset in range(0, len(dags), 2):
        _page(stubber, "/dags", "dags", dags[offset : offset + 2], len(dags), offset, 2)
    _page(stubber, "/importErrors", "import_errors", [], 0, 0, 2)
    assert smoke.smoke(client, ENV, page_size=2) == []


def test_smoke_reports_missing_dags_and_import_errors(stubbed: tuple[Any, Any]) -> None:
    client, stubber = stubbed
    _page(stubber, "/dags", "dags", [_dag(names.DAG_LOAD_RAW, paused=True)], 1, 0, 100)
    error = {
        "import_error_id": 1,
        "filename": "dbt_transform_and_test.py",
        "bundle_name": "dags-folder",
        "stack_trace": "FileNotFoundError: dbt manifest",
        "timestamp": "2026-01-01T00:00:00Z",
    }
    _page(stubber, "/importErrors", "import_errors", [error], 1, 0, 100)
    problems = smoke.smoke(client, ENV)
    assert any("dbt_transform_and_test.py" in p for p in problems)
    assert any("missing" in p and names.DAG_EVENTS_BACKFILL in p for p in problems)


def test_api_refusal_is_a_clear_failure(stubbed: tuple[Any, Any]) -> None:
    client, stubber = stubbed
    stubber.add_client_error(
        "invoke_rest_api",
        service_error_code="RestApiClientException",
        service_message="Forbidden",
        http_status_code=403,
        expected_params={
            "Name": ENV,
            "Path": "/dags",
            "Method": "GET",
            "QueryParameters": {"limit": 100, "offset": 0},
        },
    )
    with pytest.raises(smoke.SmokeError, match="GET /dags"):
        smoke.smoke(client, ENV)


def test_wait_available_follows_an_update_to_success_or_failure(stubbed: tuple[Any, Any]) -> None:
    client, stubber = stubbed

    def env(status: str, update: str) -> dict[str, Any]:
        return {"Environment": {"Name": ENV, "Status": status, "LastUpdate": {"Status": update}}}

    for status, update in [("UPDATING", "PENDING"), ("AVAILABLE", "PENDING"), ("AVAILABLE", "SUCCESS")]:
        stubber.add_response("get_environment", env(status, update), {"Name": ENV})
    assert smoke.wait_available(client, ENV, 60, poll_s=0)["Status"] == "AVAILABLE"
    stubber.add_response("get_environment", env("AVAILABLE", "FAILED"), {"Name": ENV})
    with pytest.raises(smoke.SmokeError, match="last update failed"):
        smoke.wait_available(client, ENV, 60, poll_s=0)


def test_response_keys_are_airflow_3s_collections() -> None:
    """`dags`, `import_errors` and `total_entries` are the fields of Airflow's own response models."""
    from airflow.api_fastapi.core_api.datamodels.dags import DAGCollectionResponse
    from airflow.api_fastapi.core_api.datamodels.import_error import ImportErrorCollectionResponse

    assert {"dags", "total_entries"} <= set(DAGCollectionResponse.model_fields)
    assert {"import_errors", "total_entries"} <= set(ImportErrorCollectionResponse.model_fields)


def test_no_webserver_call_is_left() -> None:
    """The PRIVATE_ONLY webserver is unreachable from a hosted runner: only the MWAA API may be used."""
    source = Path(smoke.__file__).read_text()
    assert "create_cli_token" not in source and "requests" not in source
