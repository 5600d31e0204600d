"""Synthesize the stacks of an environment (ENV=dev|staging|prod|all) into cdktf.out/: `python main.py`.

`python main.py --order` prints the stack names in apply order without loading jsii or the configuration
(mk/infra.mk uses it). A configuration problem exits 2 with every value to fix.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cardinfra.config import ENVIRONMENTS, ConfigError, get_config, stack_order


def main(argv: list[str]) -> int:
    env = os.environ.get("ENV", "dev")
    envs = list(ENVIRONMENTS) if env == "all" else [env]
    unknown = [e for e in envs if e not in ENVIRONMENTS]
    if unknown:
        print(
            f"unknown environment {unknown[0]!r}: use one of {', '.join(ENVIRONMENTS)} (ENV=dev)",
            file=sys.stderr,
        )
        return 2
    if "--order" in argv:  # needs no configuration: names only
        print(" ".join(name for e in envs for name in stack_order(e)))
        return 0
    try:
        configs = [get_config(e) for e in envs]
    except ConfigError as exc:
        print(f"infra: {exc}", file=sys.stderr)
        return 2
    from cardinfra.app import build, new_app  # noqa: PLC0415 (loads jsii: only when synthesizing)

    outdir = os.environ.get("CDKTF_OUTDIR", str(Path(__file__).resolve().parent / "cdktf.out"))
    for cfg in configs:  # one jsii process for all environments (ENV=all): startup dominates synth time
        app = new_app(outdir)
        build(app, cfg)
        app.synth()
        print(f"synthesized {cfg.env}: {outdir}/stacks/{{{','.join(cfg.stack_order)}}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
