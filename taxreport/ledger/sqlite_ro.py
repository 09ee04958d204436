"""A SQLite ledger file opened read-only, by the reader (:mod:`taxreport.ledger.store`) and by the verifying child
(:mod:`taxreport.ledger.verify_worker`, which imports only this, :mod:`taxreport.ledger.chain` and the standard
library): the one place that knows how.

``mode=ro`` first. A WAL-mode file in a folder this process cannot write has no ``-shm`` file to share, so SQLite
says "unable to open database file"; such a copy that has no pending ``-wal`` content (a closed ledger: SQLite
checkpoints and removes it on close) is opened as ``immutable``, which needs none. With pending content it cannot
be read here: :class:`PendingLog`. Nor can a file beside a rollback journal that holds anything (a write under way, or a
hot journal: a write killed midway, which only a connection that can write rolls back; ``immutable`` would read the
half-written file): :class:`HotJournal`."""

from __future__ import annotations

import os
import sqlite3
from urllib.parse import quote


class PendingLog(sqlite3.OperationalError):
    """The file cannot be opened ``mode=ro`` and its write-ahead log (``wal``) holds changes not yet in it."""

    def __init__(self, wal: str) -> None:
        super().__init__(f"{wal} holds changes not yet in the database file")
        self.wal = wal


class HotJournal(sqlite3.OperationalError):
    """The file cannot be opened ``mode=ro`` and its rollback journal (``-journal``) holds something: a write still
    under way (holding the file past the busy timeout) or one killed midway. "The SQLITE_READONLY_ROLLBACK error code
    indicates that a database cannot be opened because it has a hot journal that needs to be rolled back but cannot
    because the database is readonly." (https://www.sqlite.org/rescode.html)"""

    def __init__(self, journal: str) -> None:
        super().__init__(f"{journal} holds a write that is under way or did not finish")
        self.journal = journal


def connect_read_only(path: str, *, timeout: float, readonly_shm: bool = False,
                      check_same_thread: bool = True) -> sqlite3.Connection:
    """The SQLite file ``path`` (an absolute path) opened read-only, as the module docstring says. ``readonly_shm``:
    never write the ``-shm`` wal-index either (SQLite then reads the log without the shared index where it would
    have to reset it). ``timeout``: SQLite's busy timeout of the ``mode=ro`` connection."""
    uri = "file:" + quote(path) + "?mode=ro" + ("&readonly_shm=1" if readonly_shm else "")
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout, check_same_thread=check_same_thread)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        journal = path + "-journal"
        if os.path.exists(journal) and os.path.getsize(journal) > 0:
            raise HotJournal(journal) from None
        wal = path + "-wal"
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            raise PendingLog(wal) from None
        return sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None,
                               check_same_thread=check_same_thread)
