"""The derived cache's reads of a SQLite ledger's files (taxreport/ledger/derived.py ``_file_witness``,
``_content_digest``) must not drop this process's SQLite locks: fcntl(2), "If a process closes any file
descriptor referring to a file, then all of the process's locks on that file are released". A reader whose
wal-index (``-shm``) locks were dropped looks to another process like no reader at all, and that process may
then reset the wal-index under the reader's mapping (the reader dies of SIGBUS) or checkpoint over its snapshot."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from taxreport.ledger import derived

# SQLite's wal-index lock bytes start at offset 120 of the -shm file; byte 128 is the "DMS" (dead man switch):
# every connection holds a shared lock on it while it has the database open, and a connection that can lock it
# exclusively concludes it is alone and rebuilds the wal-index (sqlite3 src/os_unix.c, unixLockSharedMemory).
PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
    print("free")
except OSError:
    print("held")
"""


def _dms_lock(shm: str) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, shm], capture_output=True, text=True, check=True).stdout.strip()


def test_reading_the_witness_and_the_digest_keeps_this_process_s_sqlite_locks(tmp_path):
    db = tmp_path / "ledger.sqlite3"
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1)")
    writer.commit()
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT x FROM t").fetchall() == [(1,)]
    shm = str(db) + "-shm"
    assert _dms_lock(shm) == "held"  # this process's connections hold it
    for _ in range(2):
        files = derived._file_witness(db)
        assert files is not None and len(files[0]) == 4  # database, -wal (frames), its -shm header, -journal absent
        assert derived._content_digest(db) is not None
    assert _dms_lock(shm) == "held"  # still held: the reads above did not close a descriptor of these files
    assert reader.execute("SELECT x FROM t").fetchall() == [(1,)]
    reader.execute("COMMIT")
    reader.close()
    writer.close()


def test_a_replaced_file_is_read_afresh(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"one")
    first = derived._kept_fd(path)
    assert derived._kept_fd(path) == first  # the same descriptor, kept
    path.unlink()
    path.write_bytes(b"two!")
    again = derived._kept_fd(path)
    assert os.pread(again, 10, 0) == b"two!"
