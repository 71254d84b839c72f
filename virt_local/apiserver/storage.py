"""Durable storage for the embedded API server: SQLite in WAL mode, written by one thread.

Every write carries the global revision it produced. Writes are queued to a dedicated thread that
commits them in groups (one transaction for whatever is queued), so throughput does not depend on
one fsync per object; a caller's future resolves only after its transaction committed, and the
server acknowledges a write to its client only then. WAL with `synchronous=NORMAL` survives a
`kill -9` of the process without losing a committed transaction.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, rv INTEGER NOT NULL, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Write:
    key: str
    rv: int
    value: bytes | None  # None deletes


class Storage:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._queue: queue.SimpleQueue[tuple[list[Write], int, asyncio.Future[None]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def revision(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()
        return int(row[0]) if row else 0

    def meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (name, value))

    def load(self) -> Iterator[tuple[str, int, bytes]]:
        cur = self._db.execute("SELECT key, rv, value FROM objects")
        while rows := cur.fetchmany(2000):
            yield from rows

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, writes: list[Write], revision: int) -> asyncio.Future[None]:
        assert self._loop is not None, "storage not started"
        fut: asyncio.Future[None] = self._loop.create_future()
        self._queue.put((writes, revision, fut))
        return fut

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._db.close()

    def _resolve(self, fut: asyncio.Future[None], exc: BaseException | None) -> None:
        if fut.done():
            return
        if exc is None:
            fut.set_result(None)
        else:
            fut.set_exception(exc)

    def _run(self) -> None:
        assert self._loop is not None
        loop = self._loop
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < 512:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            exc: BaseException | None = None
            try:
                self._db.execute("BEGIN")
                for writes, _, _ in batch:
                    for w in writes:
                        if w.value is None:
                            self._db.execute("DELETE FROM objects WHERE key=?", (w.key,))
                        else:
                            self._db.execute(
                                "INSERT OR REPLACE INTO objects(key, rv, value) VALUES (?, ?, ?)",
                                (w.key, w.rv, w.value),
                            )
                self._db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('revision', ?)",
                                 (str(batch[-1][1]),))
                self._db.execute("COMMIT")
            except BaseException as e:  # noqa: BLE001 - reported to every waiting writer
                exc = e
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            for _, _, fut in batch:
                try:
                    loop.call_soon_threadsafe(self._resolve, fut, exc)
                except RuntimeError:
                    return  # loop closed
