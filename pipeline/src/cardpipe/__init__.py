"""cardpipe: ingestion and loading for the Sports Card Analytics Platform.

Layers, in the order data flows: contracts -> sources/generator -> ingest (bronze) -> load (RAW).
"""

__version__ = "0.1.0"
