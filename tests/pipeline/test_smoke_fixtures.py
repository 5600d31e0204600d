from cardpipe.bronze.store import open_store
from cardpipe.config import BronzeSettings


def test_store_roundtrip_and_listing(bronze_settings: BronzeSettings) -> None:
    store = open_store(bronze_settings)
    store.put("raw/events/a/1.ndjson.gz", b"one")
    store.put("raw/events/b/2.ndjson.gz", b"two")
    store.put("raw/events/a/1.ndjson.gz", b"one again")  # overwrite, not a second object
    assert list(store.list("raw/events/")) == ["raw/events/a/1.ndjson.gz", "raw/events/b/2.ndjson.gz"]
    assert store.get("raw/events/a/1.ndjson.gz") == b"one again"
    assert store.exists("raw/events/b/2.ndjson.gz")
    assert not store.exists("raw/events/c/3.ndjson.gz")
