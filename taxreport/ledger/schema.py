"""The ledger's tables (SQLAlchemy Core). Every number is stored as canonical decimal text, never
as a float column (SQLite has no exact decimal type)."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

# The append-only, hash-chained event table. ``seq`` is 1, 2, 3… with no gaps.
events = Table(
    "events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("natural_key", String(400), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("time", String(27), nullable=False, index=True),
    Column("accounts", String(400), nullable=False),  # ",okx:main,okx:funding,"
    Column("assets", String(400), nullable=False),  # ",BTC,USDT,"
    Column("order_ref", String(100), nullable=True, index=True),
    Column("payload", Text, nullable=False),  # canonical JSON of the event
    Column("content_hash", String(64), nullable=False),
    Column("actor", String(100), nullable=False),  # importer:okx, rebalancer, manual…
    Column("reason", Text, nullable=False),
    Column("recorded_at", String(27), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row (id = 1): the chain head. Writers lock it, so appends are serialised and a deleted tail
# row is detected by ``ledger verify``.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Exchange rates and prices: 1 ``base`` = ``rate`` ``quote`` at ``time`` (UTC), from ``source``.
rates = Table(
    "rates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("base", String(20), nullable=False),
    Column("quote", String(20), nullable=False),
    Column("time", String(27), nullable=False),
    Column("rate", String(80), nullable=False),
    Column("source", String(100), nullable=False),
    UniqueConstraint("base", "quote", "time", "source", name="uq_rates_pair_time_source"),
    Index("ix_rates_pair_time", "base", "quote", "time"),
)

# OHLCV candles for backtests and charts.
candles = Table(
    "candles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False),
    Column("symbol", String(40), nullable=False),  # BTC/USDT
    Column("timeframe", String(10), nullable=False),  # 1d, 1h
    Column("time", String(27), nullable=False),  # open time, UTC
    Column("open", String(80), nullable=False),
    Column("high", String(80), nullable=False),
    Column("low", String(80), nullable=False),
    Column("close", String(80), nullable=False),
    Column("volume", String(80), nullable=False),
    UniqueConstraint("source", "symbol", "timeframe", "time", name="uq_candles"),
)
