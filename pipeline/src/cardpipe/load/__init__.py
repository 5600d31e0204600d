"""Bronze -> warehouse RAW (DuckDB locally, Snowflake in the cloud): exactly the contract of
docs/bronze-and-raw.md, with per-file audit rows committed together with the file's rows."""

from cardpipe.load.plan import LoadResult
from cardpipe.load.runner import LoadError, run_load, run_replay

__all__ = ["LoadError", "LoadResult", "run_load", "run_replay"]
