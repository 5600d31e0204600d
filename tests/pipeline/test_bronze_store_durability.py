"""New partition directories are durable: LocalStore.put fsyncs the parent of every directory it may have
created, up to the store root, not only the object's own directory.

A real power cut cannot be simulated here, so this is a unit test of the code path: os.fsync is wrapped to
record which paths its file descriptors point at (/proc/self/fd), and the writes themselves are real."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cardpipe.bronze.store import LocalStore

KEY = "raw/events/source=live/event_type=order_placed/dt=2026-03-01/hour=12/live-x.ndjson.gz"
SAME_DIR_KEY = KEY.replace("live-x", "live-y")
NEW_HOUR_KEY = KEY.replace("hour=12", "hour=13")


@pytest.fixture
def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Paths os.fsync was called on, in order (the real fsync still runs)."""
    seen: list[Path] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        seen.append(final_name(Path(os.readlink(f"/proc/self/fd/{fd}"))))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    return seen


def final_name(path: Path) -> Path:
    """An object's bytes are fsynced under its temp name '.<name>.<random>.tmp': the name it is renamed to."""
    if path.name.startswith(".") and path.name.endswith(".tmp"):
        return path.with_name(path.name[1:].rsplit(".", 2)[0])
    return path


def directories(paths: list[Path]) -> set[Path]:
    return {p for p in paths if p.is_dir()}


def test_put_into_new_partition_fsyncs_every_new_directory_parent_up_to_the_root(
    tmp_path: Path, fsynced: list[Path]
) -> None:
    root = tmp_path / "bronze"
    store = LocalStore(root)
    store.put(KEY, b"data")
    target = root / KEY
    assert target.read_bytes() == b"data"
    assert target in fsynced  # the object's bytes
    chain = [target.parent, *target.parent.parents]
    expected = {d for d in chain if d.is_relative_to(root) or d == root.parent}
    # the object's directory (its rename) and, for each directory up to and including the root, its parent
    assert directories(fsynced) == expected


def test_later_puts_fsync_only_what_is_new(tmp_path: Path, fsynced: list[Path]) -> None:
    root = tmp_path / "bronze"
    store = LocalStore(root)
    store.put(KEY, b"first")
    fsynced.clear()
    store.put(SAME_DIR_KEY, b"second")  # same partition: the object and its directory's rename only
    assert fsynced == [root / SAME_DIR_KEY, (root / SAME_DIR_KEY).parent]
    fsynced.clear()
    store.put(NEW_HOUR_KEY, b"third")  # a new hour= directory: its parent (dt=...) too
    new_dir = (root / NEW_HOUR_KEY).parent
    assert directories(fsynced) == {new_dir, new_dir.parent}


def test_directories_made_by_another_process_are_made_sure_of_once(
    tmp_path: Path, fsynced: list[Path]
) -> None:
    """A directory that already exists may have been created by a concurrent writer that has not fsynced its
    parent yet: a fresh store (another process) fsyncs each parent once before relying on it."""
    root = tmp_path / "bronze"
    (root / KEY).parent.mkdir(parents=True)
    LocalStore(root).put(KEY, b"data")
    assert root.parent in directories(fsynced)
    assert (root / KEY).parent.parent in directories(fsynced)


def test_a_failed_directory_fsync_is_retried_by_the_next_put(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "bronze"
    store = LocalStore(root)
    real_fsync = os.fsync
    calls: list[Path] = []
    failures = [OSError("EIO")]

    def failing_on_root_parent(fd: int) -> None:
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        calls.append(path)
        if path == root and failures:
            raise failures.pop()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_on_root_parent)
    with pytest.raises(OSError, match="EIO"):
        store.put(KEY, b"data")
    calls.clear()
    store.put(KEY, b"data")
    assert root in calls  # not skipped: raw/ was never recorded as durable
