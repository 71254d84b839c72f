"""Durable storage for the embedded API server: SQLite in WAL mode, written by one thread.

Every write carries the global revision it produced. Writes are queued to a dedicated thread that
commits them in groups (one transaction for whatever is queued), so throughput does not depend on
one fsync per object; a caller's future resolves only after its transaction committed, and the
server acknowledges a write to its client only then. WAL with `synchronous=NORMAL` survives a
`kill -9` of the process without losing a committed transaction.

A group whose transaction fails (the disk is full, one write is too large for the space left) is
rolled back and its submissions are retried one transaction each, so each gets its own answer: one
that cannot be stored does not fail the others, and none is reported committed unless it is. A
failure is a `WriteFailed` naming the database file; nothing of a failed submission is kept, and
the next write tries again, so the store recovers by itself once space returns.

The database and the WAL and shared-memory files SQLite creates next to it are owner-only (0600):
the database file is created with that mode before SQLite opens it, and SQLite gives its companion
files the database file's mode.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .file_modes import create_private, restrict

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, rv INTEGER NOT NULL, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
GROUP_MAX = 512

log = logging.getLogger("virt_local.apiserver.storage")


@dataclass(frozen=True)
class Write:
    key: str
    rv: int
    value: bytes | None  # None deletes


class WriteFailed(Exception):
    """A submission was not committed; `disk_full` when SQLite had no space left to write it."""

    def __init__(self, message: str, *, disk_full: bool) -> None:
        super().__init__(message)
        self.message = message
        self.disk_full = disk_full


@dataclass
class _Submission:
    writes: list[Write]
    revision: int
    future: asyncio.Future[None]
    error: WriteFailed | None = field(default=None)


class Storage:
    def __init__(self, path: Path) -> None:
        self.path = path
        create_private(path)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        for companion in ("-wal", "-shm"):
            # left by an older version or an unclean stop with a wider mode, and reused by SQLite
            restrict(path.with_name(path.name + companion))
        self._queue: queue.SimpleQueue[_Submission | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failing = False  # the last submission failed (logged once until one succeeds)

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
        """Queue `writes` (one atomic submission); `revision` is the highest revision among them.
        The future fails with `WriteFailed` if they were not committed."""
        assert self._loop is not None, "storage not started"
        fut: asyncio.Future[None] = self._loop.create_future()
        self._queue.put(_Submission(writes, revision, fut))
        return fut

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._db.close()

    # ---- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        assert self._loop is not None
        loop = self._loop
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            group = [item]
            while len(group) < GROUP_MAX:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                group.append(nxt)
            self._commit_group(group)
            self._log_transition(group)
            try:
                loop.call_soon_threadsafe(_resolve, group)
            except RuntimeError:
                return  # loop closed

    def _commit_group(self, group: list[_Submission]) -> None:
        try:
            self._transaction(group)
            return
        except Exception as e:  # noqa: BLE001 - every failure becomes the submissions' answer
            if len(group) == 1:
                group[0].error = self._failure(e)
                return
        for sub in group:
            try:
                self._transaction([sub])
            except Exception as e:  # noqa: BLE001
                sub.error = self._failure(e)

    def _transaction(self, group: list[_Submission]) -> None:
        db = self._db
        try:
            db.execute("BEGIN")
            for sub in group:
                for w in sub.writes:
                    if w.value is None:
                        db.execute("DELETE FROM objects WHERE key=?", (w.key,))
                    else:
                        db.execute("INSERT OR REPLACE INTO objects(key, rv, value) VALUES (?, ?, ?)",
                                   (w.key, w.rv, w.value))
            db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('revision', ?)", (str(group[-1].revision),))
            db.execute("COMMIT")
        except Exception:
            if db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise

    def _log_transition(self, group: list[_Submission]) -> None:
        failed = [sub.error for sub in group if sub.error is not None]
        if failed and not self._failing:
            log.error("%s; writes fail until this is fixed (reads are still served)", failed[0])
        elif not failed and self._failing:
            log.info("storage: writes to %s succeed again", self.path)
        self._failing = group[-1].error is not None

    def _failure(self, e: Exception) -> WriteFailed:
        code = getattr(e, "sqlite_errorname", "")
        if code == "SQLITE_FULL" or "disk is full" in str(e):
            return WriteFailed(f"storage: no space left on the disk of {self.path} ({e}); the write was not "
                               f"stored; free space on that disk and retry", disk_full=True)
        return WriteFailed(f"storage: writing {self.path} failed ({e}); the write was not stored", disk_full=False)


def _resolve(group: list[_Submission]) -> None:
    # in submission order: the store applies and publishes writes in revision order
    for sub in group:
        if sub.future.done():
            continue
        if sub.error is None:
            sub.future.set_result(None)
        else:
            sub.future.set_exception(sub.error)
