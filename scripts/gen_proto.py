"""Generate the Python protobuf modules from proto/ (run by `make proto`).

Uses the protoc bundled in the pinned grpcio-tools wheel, so the output is the
same on every machine; the generated package `sportscards` is committed and
shipped inside the cardpipe wheel.
"""

from __future__ import annotations

import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
OUT = ROOT / "pipeline" / "src"
PACKAGE = OUT / "sportscards"


def main() -> int:
    if PACKAGE.exists():
        shutil.rmtree(PACKAGE)
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    include = str(resources.files("grpc_tools") / "_proto")
    rc = protoc.main(
        ["protoc", f"-I{PROTO}", f"-I{include}", f"--python_out={OUT}", f"--pyi_out={OUT}", *files]
    )
    if rc != 0:
        return int(rc)
    # Make every generated directory a regular package (stable imports, mypy-friendly).
    for directory in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    print(f"generated {len(files)} proto files into {PACKAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
