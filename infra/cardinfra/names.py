"""The platform's cross-tool names, owned by `pipeline/src/cardpipe/contracts/names.py`.

The infrastructure has its own venv (jsii, provider bindings) without the pipeline's dependencies, so it puts
`pipeline/src` on the import path and imports only the standard-library contract modules: the stacks and the
code that runs in them read every queue, bucket, prefix, schema, role and setting name from the same place.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PIPELINE_SRC = Path(__file__).resolve().parents[2] / "pipeline" / "src"
if str(_PIPELINE_SRC) not in sys.path:
    sys.path.insert(0, str(_PIPELINE_SRC))

from cardpipe.contracts import names, raw_tables  # noqa: E402

__all__ = ["names", "raw_tables"]
