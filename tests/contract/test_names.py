"""One source of cross-tool names: every tool agrees with names.py, each comparison bites, and no code spells
a
name that names.py owns.

The mutation tests change one name on one side only (in one artifact, or in one runtime value) and require the
contract to report exactly that fact: a comparison that cannot fail is not a contract.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cardpipe.contracts import names
from facts import Artifacts, check, collect, mutate

ROOT = Path(__file__).resolve().parents[2]
CODE = [
    "pipeline/src/cardpipe",
    "airflow/dags",
    "airflow/scripts",
    "infra/cardinfra",
    "infra/scripts",
    "infra/main.py",
    "bench",
    "scripts",
]
OWNERS = {"pipeline/src/cardpipe/contracts/names.py", "pipeline/src/cardpipe/contracts/raw_tables.py"}


def test_every_tool_agrees_with_names_py(artifacts: Artifacts, runtime: dict[str, Any]) -> None:
    problems = check(collect(artifacts, runtime))
    assert problems == [], "\n".join(problems)


def test_each_artifact_observation_bites(artifacts: Artifacts, runtime: dict[str, Any]) -> None:
    """Rename the value in one artifact only: the contract must name that fact."""
    facts = collect(artifacts, runtime)
    toothless = []
    tried = 0
    for fact in facts:
        for obs in fact.observed:
            if obs.source not in artifacts or obs.needle is None:
                continue
            tried += 1
            changed = mutate(artifacts[obs.source], obs.needle, obs.swap)
            if changed == artifacts[obs.source]:
                toothless.append(f"{fact.name}: needle {obs.needle!r} not found in {obs.source}")
                continue
            problems = check(collect({**artifacts, obs.source: changed}, runtime))
            if not any(p.startswith(f"{fact.name}:") for p in problems):
                toothless.append(f"{fact.name}: renaming {obs.needle!r} in {obs.source} went unnoticed")
    assert toothless == [], "\n".join(toothless)
    assert tried >= 40, tried  # every artifact-backed fact was exercised


def test_each_runtime_observation_bites(artifacts: Artifacts, runtime: dict[str, Any]) -> None:
    """cardpipe's own values (settings defaults, generated SQL paths, layout) are compared too."""
    facts = collect(artifacts, runtime)
    keys = {k for k in runtime if k not in {"account_id", "settings_env_names"}}
    for key in sorted(keys):
        value = runtime[key]
        if isinstance(value, dict):
            bent: Any = {k: f"{v}x" for k, v in value.items()} if value else {"x": "x"}
        elif isinstance(value, list):
            bent = [*value[:-1], f"{value[-1]}x"] if value else ["x"]
        else:
            bent = f"{value}x"
        problems = check(collect(artifacts, {**runtime, key: bent}))
        assert problems, f"changing cardpipe's {key} went unnoticed"
    assert facts


def _owned_literals() -> dict[str, str]:
    """Distinctive string values names.py owns (value -> constant name)."""
    owned = {}
    for attr in dir(names):
        value = getattr(names, attr)
        # ENV_* are cardpipe's own setting names (cardpipe.config owns them; names.py lists those infra sets);
        # PROJECT is a word used in tags and package names.
        if attr.startswith("ENV_") or value == names.PROJECT:
            continue
        if attr.isupper() and isinstance(value, str) and len(value) >= 6 and not value.isdigit():
            owned[value] = attr
    return owned


def _string_constants(tree: ast.AST) -> list[tuple[int, str]]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_code_spells_a_name_that_names_py_owns() -> None:
    owned = _owned_literals()
    found = []
    for base in CODE:
        path = ROOT / base
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in files:
            rel = file.relative_to(ROOT).as_posix()
            if rel in OWNERS or "/sportscards/" in rel or ".venv" in rel or "/build/" in rel:
                continue
            for line, value in _string_constants(ast.parse(file.read_text())):
                if value in owned:
                    found.append(f"{rel}:{line}: {value!r} is names.{owned[value]}")
    assert found == [], "\n".join(found)


def test_the_literal_scan_bites(tmp_path: Path) -> None:
    tree = ast.parse(f'QUEUE = "{names.QUEUE}"\n"""a docstring naming {names.QUEUE} is fine"""\n')
    assert [v for _, v in _string_constants(tree) if v in _owned_literals()] == [names.QUEUE]


@pytest.mark.parametrize("field", ["expected"])
def test_check_reports_a_fact_nobody_observed(
    field: str, artifacts: Artifacts, runtime: dict[str, Any]
) -> None:
    fact = collect(artifacts, runtime)[0]
    assert check([replace(fact, observed=[])]) == [
        f"{fact.name}: observed nowhere (a collector lost its artifact)"
    ]
