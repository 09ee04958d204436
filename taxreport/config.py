"""Where things live: the ledger database URL, the config directory, basket files.

The database is ``--db`` (a SQLAlchemy URL or a plain file path), else ``$TAXREPORT_DB``, else a
SQLite file in the user data directory (platformdirs). Secrets (exchange keys, notification URLs) come
from the environment or from ``secrets.toml`` in the config directory, read by :func:`read_secrets` only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

APP_NAME = "taxreport"


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(os.environ.get("TAXREPORT_HOME") or user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    from platformdirs import user_config_dir

    home = os.environ.get("TAXREPORT_HOME")
    return Path(home) / "config" if home else Path(user_config_dir(APP_NAME, appauthor=False))


def shown_path(path: Path) -> str:
    """A path as taxreport writes it into its output (``rebalance plan --format json``'s ``basket_file``):
    a file under ``$TAXREPORT_HOME`` as ``$TAXREPORT_HOME/…`` (the variable that located it, so the output
    does not depend on where that home is; ``os.path.expandvars`` gives the path back), any other path as it
    is (as the user gave it on the command line, or where the platform's config directory put it)."""
    home = os.environ.get("TAXREPORT_HOME")
    if home:
        try:
            return "$TAXREPORT_HOME/" + path.absolute().relative_to(Path(home).absolute()).as_posix()
        except ValueError:
            pass  # not under the home
    return str(path)


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


def read_secrets() -> tuple[Path, dict[str, Any]] | None:
    """``secrets.toml`` in the config directory (path and tables), or None when there is none. A file
    readable by other users is refused; a parse error never quotes the file (it may hold a key)."""
    from taxreport.errors import InputError, TaxreportError

    path = config_dir() / "secrets.toml"
    if not path.is_file():
        return None
    if os.name != "nt" and path.stat().st_mode & 0o077:
        raise TaxreportError(f"refusing to read {path}: it is readable by other users (run `chmod 600 {path}`)")
    import tomllib

    try:
        return path, tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read secrets file ({exc.__class__.__name__})", file=str(path)) from None
