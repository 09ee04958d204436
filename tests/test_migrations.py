"""Schema migrations: a new database is created at the newest Alembic revision, reopening it runs
nothing, and the migrated schema matches the SQLAlchemy table definitions."""

from sqlalchemy import inspect

from taxreport.ledger import Ledger
from taxreport.ledger.migrate import current_revision, head_revision


def test_new_database_is_at_head_and_matches_schema(any_ledger):
    assert current_revision(any_ledger.engine) == head_revision()
    tables = set(inspect(any_ledger.engine).get_table_names())
    assert {"events", "ledger_head", "rates", "candles", "alembic_version"} <= tables
    cols = {c["name"] for c in inspect(any_ledger.engine).get_columns("events")}
    assert {"seq", "natural_key", "payload", "actor", "reason", "prev_hash", "hash"} <= cols
    # No float columns anywhere: money is stored as text.
    for table in ("events", "rates", "candles"):
        for col in inspect(any_ledger.engine).get_columns(table):
            assert "FLOAT" not in str(col["type"]).upper() and "REAL" not in str(col["type"]).upper()


def test_reopening_keeps_data_and_revision(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    Ledger(url).close()
    again = Ledger(url)
    assert current_revision(again.engine) == head_revision()
    assert again.verify().ok and again.count() == 0
    again.close()


def _schema_of(engine) -> dict:
    """Every table's columns (name, type, nullable, primary key), indexes, unique constraints and rows that
    the schema itself writes (the head row, the version stamp)."""
    from sqlalchemy import text

    insp = inspect(engine)
    out = {}
    for table in sorted(insp.get_table_names()):
        out[table] = (
            [(c["name"], str(c["type"]), c["nullable"], c.get("primary_key")) for c in insp.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)),
            sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)),
            insp.get_pk_constraint(table)["constrained_columns"],
        )
    with engine.connect() as conn:
        out["rows"] = (conn.execute(text("SELECT id, seq, hash FROM ledger_head")).all(),
                       conn.execute(text("SELECT version_num FROM alembic_version")).all())
    return out


def test_a_new_ledger_made_without_alembic_equals_the_migrated_one(tmp_path, monkeypatch):
    """A new, empty database gets the schema from ``schema.metadata`` and the version stamp directly (no Alembic
    import); it must be exactly what running the migrations builds, or the shortcut would fork the schema."""
    import sys

    from taxreport.ledger import migrate

    for mod in [m for m in sys.modules if m == "alembic" or m.startswith("alembic.")]:
        monkeypatch.delitem(sys.modules, mod)
    fresh = Ledger(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert "alembic" not in sys.modules  # the shortcut imported nothing of Alembic
    monkeypatch.setattr(migrate, "_create_fresh", lambda engine: False)
    migrated = Ledger(f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
    assert "alembic" in sys.modules  # this one ran the migrations
    assert _schema_of(fresh.engine) == _schema_of(migrated.engine)
    assert _schema_of(fresh.engine)["rows"] == ([(1, 0, "0" * 64)], [(head_revision(),)])
    fresh.close()
    migrated.close()
