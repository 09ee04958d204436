"""Derived state computed once per ledger state: a file cache of results (matched lots, a year's summary,
anything picklable) keyed by what the ledger holds, so a second year, a second export or a re-run on an
unchanged ledger reuses the work instead of redoing it from the beginning of time.

The key of an entry is the **ledger state** plus the caller's ``name`` and ``key`` (the request: country,
year, method, options…). The ledger state is:

* the chain head (last ``seq`` and its hash) and the row count: any append, by anyone, changes it;
* the rate store's row count and largest id (rates are only ever inserted);
* the code: taxreport's version and the size and modification time of every module, so an upgrade or an
  edited rule never reads a result an older rule computed.

So an entry is never stale: it is found only while all of that is unchanged (an edit made behind the hash
chain's back is what ``ledger verify`` detects; verify never uses this cache). A computation cached here
must depend only on the ledger's events and rates and on ``key``.

Entries live in the user cache directory (``$TAXREPORT_HOME/cache`` when set), one folder per ledger URL;
writing an entry removes that ledger's entries of other states, so the folder holds one state's results.
A cache that cannot be written (read-only home) or read (corrupt file) is ignored: the result is computed.
``TAXREPORT_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from taxreport.ledger import schema

T = TypeVar("T")
_PACKAGE = Path(__file__).resolve().parent.parent
_code_version: str | None = None


def code_version() -> str:
    """taxreport's version plus the size and mtime of each of its modules (computed once per process)."""
    global _code_version
    if _code_version is None:
        from taxreport import __version__

        h = hashlib.sha256(__version__.encode())
        for path in sorted(_PACKAGE.rglob("*.py")):
            st = path.stat()
            h.update(f"{path.relative_to(_PACKAGE)}:{st.st_size}:{st.st_mtime_ns};".encode())
        _code_version = h.hexdigest()
    return _code_version


def cache_root() -> Path:
    home = os.environ.get("TAXREPORT_HOME")
    if home:
        return Path(home) / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("taxreport", appauthor=False))


def ledger_state(ledger: Any) -> str:
    """The fingerprint described in the module docstring, read in one transaction."""
    events, rates = schema.events, schema.rates
    with ledger.engine.connect() as conn:
        head = conn.execute(select(schema.ledger_head.c.seq, schema.ledger_head.c.hash)
                            .where(schema.ledger_head.c.id == 1)).one()
        count = conn.execute(select(func.count()).select_from(events)).scalar_one()
        rate_count, rate_max = conn.execute(select(func.count(), func.max(rates.c.id))).one()
    return hashlib.sha256(json.dumps([int(head[0]), str(head[1]), int(count), int(rate_count), rate_max,
                                      code_version()]).encode()).hexdigest()


class DerivedCache:
    """``DerivedCache(ledger).get_or_compute(name, key, compute)``: ``compute()`` once per ledger state."""

    def __init__(self, ledger: Any, folder: Path | None = None) -> None:
        self.ledger = ledger
        url_id = hashlib.sha256(str(ledger.url).encode()).hexdigest()[:24]
        self.folder = (folder or cache_root()) / "derived" / url_id
        self.enabled = os.environ.get("TAXREPORT_CACHE", "1").strip() != "0"
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, name: str, key: Mapping[str, Any], compute: Callable[[], T]) -> T:
        if not self.enabled:
            return compute()
        state = ledger_state(self.ledger)
        entry = hashlib.sha256(json.dumps([name, key], sort_keys=True, default=repr).encode()).hexdigest()
        path = self.folder / f"{state[:32]}-{entry[:32]}.pickle"
        try:
            with path.open("rb") as fh:
                value: T = pickle.load(fh)
            self.hits += 1
            return value
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError):
            pass
        self.misses += 1
        value = compute()
        self._store(path, state[:32], value)
        return value

    def _store(self, path: Path, state: str, value: object) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in self.folder.glob("*.pickle"):
                if not old.name.startswith(state):
                    old.unlink(missing_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            return  # a cache that cannot be written only costs the recomputation next time
