"""Initial schema: hash-chained events, chain head, rates, candles.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("natural_key", sa.String(400), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("time", sa.String(27), nullable=False, index=True),
        sa.Column("accounts", sa.String(400), nullable=False),
        sa.Column("assets", sa.String(400), nullable=False),
        sa.Column("order_ref", sa.String(100), nullable=True, index=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(27), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(
        sa.table("ledger_head", sa.column("id"), sa.column("seq"), sa.column("hash")),
        [{"id": 1, "seq": 0, "hash": "0" * 64}],
    )
    op.create_table(
        "rates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("base", sa.String(20), nullable=False),
        sa.Column("quote", sa.String(20), nullable=False),
        sa.Column("time", sa.String(27), nullable=False),
        sa.Column("rate", sa.String(80), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.UniqueConstraint("base", "quote", "time", "source", name="uq_rates_pair_time_source"),
    )
    op.create_index("ix_rates_pair_time", "rates", ["base", "quote", "time"])
    op.create_table(
        "candles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("symbol", sa.String(40), nullable=False),
        sa.Column("timeframe", sa.String(10), nullable=False),
        sa.Column("time", sa.String(27), nullable=False),
        sa.Column("open", sa.String(80), nullable=False),
        sa.Column("high", sa.String(80), nullable=False),
        sa.Column("low", sa.String(80), nullable=False),
        sa.Column("close", sa.String(80), nullable=False),
        sa.Column("volume", sa.String(80), nullable=False),
        sa.UniqueConstraint("source", "symbol", "timeframe", "time", name="uq_candles"),
    )


def downgrade() -> None:
    op.drop_table("candles")
    op.drop_index("ix_rates_pair_time", table_name="rates")
    op.drop_table("rates")
    op.drop_table("ledger_head")
    op.drop_table("events")
