"""The bronze (raw) zone: an immutable store of gzip NDJSON objects, laid out by source, type and hour."""
