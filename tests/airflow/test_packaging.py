"""MWAA packaging: pins agree with MWAA's constraints, artifacts have the layout MWAA expects, no secrets."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from conftest import REPO

SCRIPTS = REPO / "airflow" / "scripts"


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pkg = _module("mwaa_package")
smoke = _module("mwaa_smoke")


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


def test_startup_refuses_secrets_and_quotes_values() -> None:
    out = pkg.render_startup("T=__ENV__\n__EXPORTS__\n", "dev", "# c\nA_B=x y'z\n")
    assert out == "T=dev\nexport A_B='x y'\"'\"'z'\n"
    with pytest.raises(ValueError, match="secret"):
        pkg.render_startup("__EXPORTS__", "dev", "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE=x\n")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_package_layout(tmp_path: Path, env: str) -> None:
    """`mwaa_package.py --no-wheels` (the wheel download needs PyPI; `make mwaa-package` does it)."""
    if not (REPO / "dbt" / "target" / "manifest.json").exists():
        pytest.skip("dbt manifest missing (dbt/target/manifest.json): run `make dbt-manifest`")
    subprocess.run(
        [sys.executable, str(SCRIPTS / "mwaa_package.py"), "--env", env, "--out", str(tmp_path), "--no-wheels"],  # noqa: E501
        check=True, capture_output=True,
    )  # fmt: skip
    out = tmp_path / env
    assert sorted(p.name for p in out.iterdir()) == ["dags", "plugins.zip", "requirements.txt", "startup.sh"]
    req = (out / "requirements.txt").read_text().splitlines()
    assert '--constraint "/usr/local/airflow/dags/mwaa-3.3.1.txt"' in req
    assert "--no-index" in req and "--find-links /usr/local/airflow/plugins" in req
    assert any(line.startswith("astronomer-cosmos==") for line in req)
    assert not any(line.startswith("apache-airflow") for line in req)
    names = zipfile.ZipFile(out / "plugins.zip").namelist()
    assert any(n.startswith("cardpipe-") and n.endswith(".whl") for n in names)
    dags = out / "dags"
    for dag_file in (
        "events_backfill_to_s3.py",
        "s3_to_snowflake_load_raw.py",
        "dbt_transform_and_test.py",
        "data_quality.py",
        "sportscards_lib/dbt.py",
        "mwaa-3.3.1.txt",
        "dbt/dbt_project.yml",
        "dbt/target/manifest.json",
        "dbt/requirements-dbt.txt",
    ):
        assert (dags / dag_file).is_file(), dag_file
    assert not (dags / "dbt" / ".venv").exists()
    assert "dbt-snowflake==" in (dags / "dbt" / "requirements-dbt.txt").read_text()
    startup = (out / "startup.sh").read_text()
    assert f"export DBT_TARGET={env}" in startup and f"sportscards-{env}-raw" in startup
    subprocess.run(["bash", "-n", str(out / "startup.sh")], check=True)


def test_smoke_check_logic() -> None:
    dags = (
        '[{"dag_id": "events_backfill_to_s3"}, {"dag_id": "s3_to_snowflake_load_raw"}, '
        '{"dag_id": "dbt_transform_and_test"}, {"dag_id": "data_quality"}]'
    )
    assert smoke.check(dags, "[]") == []
    problems = smoke.check('[{"dag_id": "data_quality"}]', '[{"filepath": "x.py", "error": "boom"}]')
    assert len(problems) == 2 and "import errors" in problems[0] and "missing" in problems[1]
