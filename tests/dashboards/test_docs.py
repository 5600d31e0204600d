"""`make docs`: dbt's docs site carries the lineage to the dashboards, one exposure per page, each pointing at
a page the dashboard build writes; and the catalog knows the marts' columns."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "dashboards"))

from dashgen.pages import PAGES


@pytest.fixture(scope="module")
def docs(warehouse: Any) -> Path:
    target = warehouse.work / "docs"
    warehouse.run("docs", "generate", "--static", "--target-path", str(target))
    return target


def test_docs_site_has_an_exposure_per_dashboard_page(docs: Path, offline_build: dict[str, Any]) -> None:
    assert (docs / "index.html").exists() and (docs / "static_index.html").exists()
    manifest = json.loads((docs / "manifest.json").read_text())
    exposures = manifest["exposures"]
    pages = {Path(urlparse(e["url"]).path).name: e for e in exposures.values()}
    assert set(pages) == {p.file_name for p in PAGES}
    for file_name, exposure in pages.items():
        assert (offline_build["out"] / file_name).exists(), f"{exposure['name']} points at a page not built"
        assert exposure["depends_on"]["nodes"], exposure["name"]
    # lineage: the product page hangs off fct_orders and dim_card
    product = pages["product.html"]["unique_id"]
    assert {"model.sportscards.fct_orders", "model.sportscards.dim_card"} <= set(
        manifest["parent_map"][product]
    )


def test_catalog_documents_the_marts_columns(docs: Path) -> None:
    catalog = json.loads((docs / "catalog.json").read_text())["nodes"]
    manifest = json.loads((docs / "manifest.json").read_text())["nodes"]
    orders = "model.sportscards.fct_orders"
    assert {"currency_code", "net_revenue"} <= {c.lower() for c in catalog[orders]["columns"]}
    assert manifest[orders]["columns"]["net_revenue"]["description"]
