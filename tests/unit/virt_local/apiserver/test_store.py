"""The store's write path against real SQLite with faults injected at the storage boundary: nothing is
visible before its commit, a failed commit changes nothing, one failure in a group commit fails only
its own write, a write behind an in-flight one is checked against committed state, and the revision
clients are told is a committed one."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from virt_local.apiserver import errors
from virt_local.apiserver.storage import Storage, _Submission
from virt_local.apiserver.store import Store, TooLarge, Watcher

CM = ("", "configmaps")


class FaultyStorage(Storage):
    """Real SQLite; a transaction touching a key in `full_keys` fails as on a full disk (`fail_once`:
    only until one submission of that key has been failed), and `gate` (when cleared) holds the
    writer thread before each transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.full_keys: set[str] = set()
        self.fail_once: set[str] = set()
        self.gate = threading.Event()
        self.gate.set()

    def _transaction(self, group: list[_Submission]) -> None:
        self.gate.wait(30)
        keys = {w.key for sub in group for w in sub.writes}
        if keys & (self.full_keys | self.fail_once):
            if len(group) == 1:
                self.fail_once -= keys
            raise sqlite3.OperationalError("database or disk is full")
        super()._transaction(group)


def cm(name: str, data: str = "x", rv: str | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"uid-{name}"}
    if rv is not None:
        md["resourceVersion"] = rv
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": {"k": data}}


def key(name: str) -> str:
    return f"|configmaps|default|{name}"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[FaultyStorage]:
    s = FaultyStorage(tmp_path / "state.db")
    s.start(asyncio.get_running_loop())
    try:
        yield s
    finally:
        s.gate.set()
        s.stop()


@pytest.fixture
def store(storage: FaultyStorage) -> Store:
    return Store(storage)


def watch_all(store: Store) -> Watcher:
    return store.add_watcher(CM, None, lambda e: True, None)


def drain(w: Watcher) -> list[bytes]:
    out = []
    while not w.queue.empty():
        line = w.queue.get_nowait()
        assert line is not None
        out.append(line)
    return out


async def wait_for_in_flight(store: Store, storage: FaultyStorage, n: int) -> None:
    """Let the writing tasks run to their commit: `n` objects then have writes queued (the writer
    thread is gated, so none can complete)."""
    await asyncio.sleep(0)
    assert store.in_flight() == n


async def test_a_write_is_invisible_until_committed(store: Store, storage: FaultyStorage) -> None:
    w = watch_all(store)
    before = store.revision
    storage.gate.clear()
    task = asyncio.create_task(store.put(CM, cm("a"), create=True))
    await wait_for_in_flight(store, storage, 1)
    assert store.get(CM, "default", "a") is None
    assert store.list(CM, None) == []
    assert store.revision == before, "the revision told to clients includes an uncommitted write"
    assert drain(w) == []
    storage.gate.set()
    entry = await task
    assert store.get(CM, "default", "a") is not None
    assert store.revision == entry.rv
    assert [b'"type":"ADDED"' in line for line in drain(w)] == [True]


@pytest.mark.parametrize("op", ["create", "update", "delete"])
async def test_a_failed_commit_changes_nothing(store: Store, storage: FaultyStorage, op: str) -> None:
    if op != "create":
        await store.put(CM, cm("a", "old"), create=True)
    stored = store.get(CM, "default", "a")
    revision = store.revision
    w = watch_all(store)
    drain(w)
    storage.full_keys.add(key("a"))
    with pytest.raises(errors.ApiError) as info:
        if op == "create":
            await store.put(CM, cm("a"), create=True)
        elif op == "update":
            assert stored is not None
            await store.put(CM, cm("a", "new", rv=str(stored.rv)))
        else:
            assert stored is not None
            await store.delete(CM, cm("a", "old", rv=str(stored.rv)))
    assert (info.value.code, info.value.reason) == (500, "InternalError")
    assert "no space left on the disk of" in info.value.message and "state.db" in info.value.message
    assert store.get(CM, "default", "a") is stored
    assert store.revision == revision
    assert store.in_flight() == 0
    assert drain(w) == []
    # space returns: the same write now succeeds (a failed create left nothing to collide with)
    storage.full_keys.clear()
    if op == "create":
        assert (await store.put(CM, cm("a"), create=True)).rv > revision
    elif op == "update":
        assert stored is not None
        await store.put(CM, cm("a", "new", rv=str(stored.rv)))
        assert store.get(CM, "default", "a") is not None
    else:
        assert stored is not None
        await store.delete(CM, cm("a", "old", rv=str(stored.rv)))
        assert store.get(CM, "default", "a") is None


async def test_one_failure_in_a_group_commit_fails_only_its_write(store: Store, storage: FaultyStorage) -> None:
    storage.full_keys.add(key("big"))
    storage.gate.clear()
    names = ["s1", "big", "s2", "s3"]
    tasks = [asyncio.create_task(store.put(CM, cm(n), create=True)) for n in names]
    await wait_for_in_flight(store, storage, len(names))
    storage.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    outcome = {n: "failed" if isinstance(r, errors.ApiError) else "ok" for n, r in zip(names, results, strict=True)}
    assert outcome == {"s1": "ok", "big": "failed", "s2": "ok", "s3": "ok"}
    assert sorted(e.name for e in store.list(CM, None)) == ["s1", "s2", "s3"]
    # what was acknowledged is what a restart finds
    reloaded = Store(storage)
    reloaded.load()
    assert sorted(e.name for e in reloaded.list(CM, None)) == ["s1", "s2", "s3"]
    assert reloaded.revision == store.revision


async def test_a_create_behind_a_failing_create_succeeds(store: Store, storage: FaultyStorage) -> None:
    storage.fail_once.add(key("a"))
    storage.gate.clear()
    first = asyncio.create_task(store.put(CM, cm("a", "first"), create=True))
    await wait_for_in_flight(store, storage, 1)
    second = asyncio.create_task(store.put(CM, cm("a", "second"), create=True))
    await asyncio.sleep(0)
    storage.gate.set()
    with pytest.raises(errors.ApiError):
        await first
    entry = await second
    assert entry.obj()["data"] == {"k": "second"}


async def test_a_write_behind_a_committed_one_is_checked_again(store: Store, storage: FaultyStorage) -> None:
    base = await store.put(CM, cm("a", "v1"), create=True)
    storage.gate.clear()
    first = asyncio.create_task(store.put(CM, cm("a", "v2", rv=str(base.rv))))
    await wait_for_in_flight(store, storage, 1)
    second = asyncio.create_task(store.put(CM, cm("a", "v3", rv=str(base.rv))))
    dup = asyncio.create_task(store.put(CM, cm("a", "again"), create=True))
    await asyncio.sleep(0)
    storage.gate.set()
    await first
    with pytest.raises(errors.ApiError) as conflict:
        await second
    with pytest.raises(errors.ApiError) as exists:
        await dup
    assert (conflict.value.code, conflict.value.reason) == (409, "Conflict")
    assert (exists.value.code, exists.value.reason) == (409, "AlreadyExists")
    cur = store.get(CM, "default", "a")
    assert cur is not None and cur.obj()["data"] == {"k": "v2"}


async def test_a_watch_from_a_revision_not_reached_is_refused(store: Store) -> None:
    await store.put(CM, cm("a"), create=True)
    store.add_watcher(CM, None, lambda e: True, store.revision)
    with pytest.raises(TooLarge, match="Too large resource version"):
        store.add_watcher(CM, None, lambda e: True, store.revision + 1)


def file_modes(d: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in d.iterdir()}


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


async def test_database_files_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    (tmp_path / "state.db-wal").write_bytes(b"")  # left world-readable by an older version
    s = Storage(tmp_path / "state.db")
    s.start(asyncio.get_running_loop())
    try:
        store = Store(s)
        await store.put(CM, cm("a"), create=True)
        modes = file_modes(tmp_path)
    finally:
        s.stop()
    assert modes == {"state.db": 0o600, "state.db-wal": 0o600, "state.db-shm": 0o600}
