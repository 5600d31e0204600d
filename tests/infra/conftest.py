"""Synthesize every environment once per session (jsii is slow); tests assert many properties on it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(Path.home() / ".cache" / "jsii"))
# Fictional accounts and network ids for every environment (the committed TOML files leave them empty).
EXAMPLE_ACCOUNTS = Path(__file__).resolve().parent / "fixtures" / "example-accounts.toml"
os.environ["INFRA_CONFIG_OVERLAY"] = str(EXAMPLE_ACCOUNTS)

import cdktn  # noqa: E402 (after the environment above)
from cardinfra.app import build, new_app  # noqa: E402
from cardinfra.config import ENVIRONMENTS, EnvConfig, get_config  # noqa: E402


@dataclass(frozen=True)
class Synth:
    """One environment's stacks: cdktn.Testing.synth strings (for the cdktn matchers) and parsed JSON."""

    cfg: EnvConfig
    aws: str
    snowflake: str

    @property
    def aws_json(self) -> dict[str, Any]:
        return json.loads(self.aws)  # type: ignore[no-any-return]

    @property
    def snowflake_json(self) -> dict[str, Any]:
        return json.loads(self.snowflake)  # type: ignore[no-any-return]

    def resources(self, stack: str, rtype: str) -> dict[str, dict[str, Any]]:
        doc = self.aws_json if stack == "aws" else self.snowflake_json
        return doc["resource"].get(rtype, {})  # type: ignore[no-any-return]

    def find(self, stack: str, rtype: str, **match: Any) -> tuple[str, dict[str, Any]]:
        """The one resource of a type whose attributes equal `match` (resource id, attributes)."""
        hits = [
            (rid, r)
            for rid, r in self.resources(stack, rtype).items()
            if all(r.get(k) == v for k, v in match.items())
        ]
        assert len(hits) == 1, f"{rtype} {match}: {len(hits)} matches"
        return hits[0]

    def ref(self, stack: str, rtype: str, attr: str, **match: Any) -> str:
        """Terraform reference `${type.id.attr}` to the one resource matching `match`."""
        rid, _ = self.find(stack, rtype, **match)
        return f"${{{rtype}.{rid}.{attr}}}"


@pytest.fixture(scope="session")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdktf.out")


@pytest.fixture(scope="session")
def synths(outdir: Path) -> dict[str, Synth]:
    """All three environments, same code path as `make synth` (files land in `outdir` for checkov)."""
    out: dict[str, Synth] = {}
    for env in ENVIRONMENTS:
        cfg = get_config(env)
        app = new_app(str(outdir))
        snowflake, aws = build(app, cfg)
        app.synth()
        out[env] = Synth(cfg, cdktn.Testing.synth(aws, True), cdktn.Testing.synth(snowflake, True))
    return out


@pytest.fixture(params=ENVIRONMENTS)
def synth(request: pytest.FixtureRequest, synths: dict[str, Synth]) -> Synth:
    return synths[request.param]
