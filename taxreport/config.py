"""Where things live: the ledger database URL, the config directory, basket files.

The database is ``--db`` (a SQLAlchemy URL or a plain file path), else ``$TAXREPORT_DB``, else a
SQLite file in the user data directory (platformdirs). Secrets never live here: exchange keys come
from the environment (see :mod:`taxreport.exchanges`).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "taxreport"


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(os.environ.get("TAXREPORT_HOME") or user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    from platformdirs import user_config_dir

    home = os.environ.get("TAXREPORT_HOME")
    return Path(home) / "config" if home else Path(user_config_dir(APP_NAME, appauthor=False))


def database_url(value: str | None = None) -> str:
    """Resolve the ledger URL: explicit value, then ``$TAXREPORT_DB``, then the default file."""
    raw = value or os.environ.get("TAXREPORT_DB")
    if not raw:
        path = data_dir() / "ledger.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if "://" in raw:
        return raw
    path = Path(raw).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"
