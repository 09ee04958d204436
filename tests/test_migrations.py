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
