"""Schema migrations with Alembic, run automatically when a ledger is opened.

Alembic is imported only when the database is not yet at the newest revision, so opening an
up-to-date ledger stays fast.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

MIGRATIONS = Path(__file__).with_name("migrations")


def head_revision() -> str:
    # The newest revision file name starts with its id (0001_initial.py -> "0001").
    names = sorted(p.name for p in (MIGRATIONS / "versions").glob("[0-9]*.py"))
    return names[-1].split("_", 1)[0]


def _create_fresh(engine: Engine) -> bool:
    """A database with no table at all is given the newest schema straight from :mod:`schema` (the tables the
    migrations build, which ``tests/test_migrations.py`` compares), its head row and Alembic's version stamp,
    without importing Alembic (~0.2 s of every import into a new ledger). Anything else is upgraded by Alembic."""
    from taxreport.ledger import schema

    with engine.begin() as conn:
        if inspect(conn).get_table_names():
            return False
        schema.metadata.create_all(conn)
        conn.execute(schema.ledger_head.insert().values(id=1, seq=0, hash="0" * 64))
        # Alembic's own version table, as its ``stamp`` writes it (alembic/runtime/migration.py)
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                          "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"))
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head_revision()})
    return True


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    if current_revision(engine) == head_revision():
        return
    if _create_fresh(engine):
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
