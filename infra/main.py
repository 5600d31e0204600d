"""Synthesize the stacks of an environment (ENV=dev|staging|prod|all) into cdktf.out/: `python main.py`.

`python main.py --order` prints the stack names in apply order without loading jsii (mk/infra.mk uses it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cardinfra.config import ENVIRONMENTS, get_config


def main(argv: list[str]) -> int:
    env = os.environ.get("ENV", "dev")
    envs = list(ENVIRONMENTS) if env == "all" else [env]
    configs = [get_config(e) for e in envs]
    if "--order" in argv:
        print(" ".join(name for cfg in configs for name in cfg.stack_order))
        return 0
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
