"""Synthesize the stacks of one environment (ENV=dev|staging|prod) into cdktf.out/: `python main.py`.

`python main.py --order` prints the stack names in apply order without loading jsii (used by mk/infra.mk).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cardinfra.config import get_config  # noqa: E402


def main(argv: list[str]) -> int:
    cfg = get_config(os.environ.get("ENV", "dev"))
    if "--order" in argv:
        from cardinfra.app import stack_order

        print(" ".join(stack_order(cfg)))
        return 0
    from cardinfra.app import build, new_app

    app = new_app(os.environ.get("CDKTF_OUTDIR", str(Path(__file__).resolve().parent / "cdktf.out")))
    build(app, cfg)
    app.synth()
    print(f"synthesized {cfg.env}: {app.outdir}/stacks/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
