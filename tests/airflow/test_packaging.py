"""MWAA packaging: pins agree with MWAA's constraints, artifacts have the layout MWAA expects, no secrets."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from cardpipe.contracts import names
from conftest import REPO

SCRIPTS = REPO / "airflow" / "scripts"


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pkg = _module("mwaa_package")


def test_airflow_lock_agrees_with_the_mwaa_constraints() -> None:
    constraints = pkg.parse_pins(pkg.CONSTRAINTS.read_text())
    assert constraints["apache-airflow"] == "3.3.1"
    locked = pkg._locked(REPO / "airflow")
    assert pkg.conflicts(locked, constraints) == {}


def test_extra_pins_skip_what_the_image_has() -> None:
    locked = {
        "apache-airflow": "3.3.1",
        "apache-airflow-core": "3.3.1",
        "requests": "2.0",
        "duckdb": "1.4",
        "astronomer-cosmos": "1.15.1",
        "cardpipe": "0.1.0",
    }
    assert pkg.extra_pins(locked, {"requests": "2.0"}) == {"astronomer-cosmos": "1.15.1", "duckdb": "1.4"}
    assert pkg.conflicts({"requests": "2.1"}, {"requests": "2.0"}) == {"requests": ("2.1", "2.0")}
    assert pkg.parse_pins("# c\nFoo_Bar==1.2 ; python_version >= '3'\n--no-index\nbaz>=1\n") == {
        "foo-bar": "1.2"
    }


def test_startup_is_rendered_from_the_package_paths_only() -> None:
    template = (REPO / "airflow" / "mwaa" / "startup.sh.tmpl").read_text()
    out = pkg.render_startup(template)
    assert "@@" not in out and pkg.MWAA_PLUGINS in out
    with pytest.raises(ValueError, match="@@ENV@@"):
        pkg.render_startup("DBT_TARGET=@@ENV@@\n")


def test_no_per_environment_settings_in_the_repo() -> None:
    """They come from infra as MWAA configuration options; a copy here drifts (it lacked the bucket's account
    suffix)."""
    assert not (REPO / "airflow" / "mwaa" / "environments").exists()


def _build(out: Path, env: str) -> Path:
    subprocess.run(
        [sys.executable, str(SCRIPTS / "mwaa_package.py"), "--env", env, "--out", str(out), "--no-wheels"],
        check=True, capture_output=True,
    )  # fmt: skip
    return out / env


_MWAA_PATH = re.compile(r"/usr/local/airflow/[A-Za-z0-9_./-]*")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`mwaa_package.py --no-wheels` for two environments and a rebuild (the wheel download needs PyPI;
    `make mwaa-package` does it)."""
    if not (REPO / "dbt" / "target" / "manifest.json").exists():
        pytest.skip("dbt manifest missing (dbt/target/manifest.json): run `make dbt-manifest`")
    root = tmp_path_factory.mktemp("mwaa")
    return {
        "dev": _build(root / "a", "dev"),
        "prod": _build(root / "a", "prod"),
        "dev2": _build(root / "b", "dev"),
    }


def test_package_layout(built: dict[str, Path]) -> None:
    out = built["dev"]
    assert sorted(p.name for p in out.iterdir()) == ["dags", "plugins.zip", "requirements.txt", "startup.sh"]
    req = (out / "requirements.txt").read_text().splitlines()
    assert f'--constraint "/usr/local/airflow/plugins/{pkg.CONSTRAINTS.name}"' in req
    assert "--no-index" in req and "--find-links /usr/local/airflow/plugins" in req
    assert any(line.startswith("astronomer-cosmos==") for line in req)
    assert not any(line.startswith("apache-airflow") for line in req)
    plugins = zipfile.ZipFile(out / "plugins.zip")
    names_in_zip = plugins.namelist()
    assert any(n.startswith("cardpipe-") and n.endswith(".whl") for n in names_in_zip)
    assert pkg.CONSTRAINTS.name in names_in_zip and pkg.DBT_REQUIREMENTS in names_in_zip
    assert "dbt-snowflake==" in plugins.read(pkg.DBT_REQUIREMENTS).decode()
    assert plugins.read(pkg.CONSTRAINTS.name) == pkg.CONSTRAINTS.read_bytes()
    dags = out / "dags"
    for dag_file in (
        *(f"{dag_id}.py" for dag_id in names.DAG_IDS),
        "sportscards_lib/dbt.py",
        "sportscards_lib/settings.py",
        "dbt/dbt_project.yml",
        "dbt/profiles.yml",
        "dbt/target/manifest.json",
    ):
        assert (dags / dag_file).is_file(), dag_file
    assert not (dags / "dbt" / ".venv").exists()
    subprocess.run(["bash", "-n", str(out / "startup.sh")], check=True)


def test_requirements_and_startup_reference_only_plugins_zip(built: dict[str, Path]) -> None:
    """MWAA installs requirements and runs startup.sh before any DAG is synced (Terraform creates it with an
    empty dags/): every MWAA path they use must be in plugins.zip (or the venv startup.sh creates)."""
    out = built["dev"]
    zipped = set(zipfile.ZipFile(out / "plugins.zip").namelist())
    for name in ("requirements.txt", "startup.sh"):
        text = (out / name).read_text()
        assert "/usr/local/airflow/dags" not in text, name
        for found in _MWAA_PATH.findall(text):
            path = found.rstrip("/.")
            if path.startswith(pkg.MWAA_DBT_VENV):
                continue
            assert path.startswith(pkg.MWAA_PLUGINS), (name, path)
            inner = path[len(pkg.MWAA_PLUGINS) :].lstrip("/")
            assert not inner or inner in zipped, (name, path)


def test_one_bundle_serves_every_environment_and_rebuilds_identically(built: dict[str, Path]) -> None:
    """No environment value in the runtime artifacts; reproducible bytes, so an unchanged bundle does not make
    mwaa_sync.py restart MWAA."""
    for name in ("requirements.txt", "startup.sh", "plugins.zip"):
        dev = (built["dev"] / name).read_bytes()
        assert dev == (built["prod"] / name).read_bytes(), name
        assert dev == (built["dev2"] / name).read_bytes(), name
    startup = (built["dev"] / "startup.sh").read_text()
    assert "export" in startup and "BRONZE" not in startup and "SNOWFLAKE" not in startup
    assert "sportscards-dev" not in startup and "DBT_TARGET" not in startup
