"""Zip a Lambda package reproducibly (sorted entries, fixed timestamps): a stable source_code_hash."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
SKIP_SUFFIXES = (".pyc",)
SKIP_DIRS = {"__pycache__"}


def zip_dir(src: Path, dest: Path) -> int:
    files = sorted(
        p
        for p in src.rglob("*")
        if p.is_file() and not p.name.endswith(SKIP_SUFFIXES) and not SKIP_DIRS & set(p.parts)
    )
    if not any(p.relative_to(src).parts[0] == "cardpipe" for p in files):
        raise SystemExit(f"{src} has no cardpipe package: run `make lambda-package` from the repository root")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(str(path.relative_to(src)), date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return len(files)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit("usage: zip_lambda.py <package dir> <zip>")
    src, dest = Path(argv[0]), Path(argv[1])
    count = zip_dir(src, dest)
    print(f"wrote {dest} ({count} files, {dest.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
