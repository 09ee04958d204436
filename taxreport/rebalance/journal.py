"""The rebalancer's journal: every trigger, plan, order intent, order state change, fill and
completion of a basket, written to the ledger (the hash-chained audit trail) as it happens.

Natural keys make every write idempotent, so a recovered run never writes a record twice:

=====================  ===================================  ============================================
record_type            external_id                          written
=====================  ===================================  ============================================
``rebalance.trigger``  ``<basket>:<rebalance id>:trigger``  why the rebalance runs (schedule, drift…)
``rebalance.plan``     ``<basket>:<rebalance id>:plan``     the orders it means to place, and the dust
``order.intent``       ``<exchange>:<cid>:intent``          BEFORE the order is sent
``order.update``       ``<exchange>:<cid>:<status>``        ``accepted`` (exchange order id known), then
                                                            one terminal status: ``closed``,
                                                            ``canceled``, ``rejected`` or ``missing``
                                                            (never reached the exchange)
``rebalance.done``     ``<basket>:<rebalance id>:done``     summary: completed, failed or interrupted
``basket.invest`` /    ``<basket>:<time>:invest|stop``      ``basket invest`` and ``basket stop``
``basket.stop``
=====================  ===================================  ============================================

``rebalance.outcome`` (``<basket>:<rebalance id>:outcome``) is written by the runner
(:mod:`taxreport.rebalance.runner`) after every ``rebalance.done`` of a run that traded: ``completed``
or ``incomplete`` (a leg did not fill) and why, with the BASKET's own value and cash after it (the
done record's ``value_after`` is the whole account's). An incomplete run is redone at the next check;
``<basket>:<rebalance id>:resolved`` closes one whose redo found nothing left to trade.

**Incremental reading.** :meth:`Journal.sync` reads only the ledger rows written since the last sync
(by ``seq``) and feeds them to the basket's :class:`~taxreport.rebalance.holdings.BasketBook`, which
keeps the basket's holdings and what recovery needs (unfinished intents and rebalances). The book is
checkpointed in ``<data dir>/books/`` (a cache: checked against the ledger's hash at its ``seq`` and
rebuilt from the ledger when it does not match), so a check costs the same in week 1 and week 52.

Fills are :class:`~taxreport.model.events.Trade` events (``source`` = exchange name, ``external_id`` =
exchange trade id, ``order_id`` = client order id, fee and fee asset exactly as the fill says): fills,
not orders, are the truth for cost basis. A terminal ``order.update`` is written only after every
fill of the order has been written, so an intent without one is exactly "unfinished".
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from taxreport.exchanges.base import Fill, Market, Order
from taxreport.model.events import Event, Record, Trade, format_time, parse_time
from taxreport.rebalance.holdings import BasketBook

TERMINAL = ("closed", "canceled", "rejected", "missing")
RECORD_SOURCE = "rebalancer"


@dataclass(frozen=True)
class Intent:
    client_order_id: str
    rebalance_id: str
    leg: int
    attempt: int
    symbol: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    time: datetime


class Journal:
    """Reads and writes one basket's records in the ledger (actor ``rebalancer:<basket>``)."""

    # Set for a basket that identifies lots at each sale (taxreport.rebalance.lot_identification): the
    # records it returns for a sell fill are written in the fill's own transaction.
    lot_identifier: Callable[[Trade], list[Event]] | None = None

    def __init__(self, ledger, basket: str, account: str, exchange_name: str,
                 clock: Callable[[], datetime] | None = None, *, quote: str = "USDT",
                 checkpoint: bool = True) -> None:
        self.ledger, self.basket, self.account, self.exchange_name = ledger, basket, account, exchange_name
        self.actor = f"rebalancer:{basket}"
        self.clock = clock or (lambda: datetime.now(UTC))
        self.quote = quote
        self.checkpoint = checkpoint
        self._book: BasketBook | None = None
        self._saved_seq = -1

    # --- the incremental book ----------------------------------------------------------------
    def _book_path(self) -> Path:
        from taxreport.config import data_dir

        tag = hashlib.sha256(f"{self.ledger.url}|{self.actor}|{self.account}".encode()).hexdigest()[:16]
        return data_dir() / "books" / f"{self.basket}-{tag}.json"

    def _load_book(self) -> BasketBook:
        fresh = BasketBook(self.basket, self.account, self.quote)
        if not self.checkpoint:
            return fresh
        path = self._book_path()
        try:
            book = BasketBook.from_state(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return fresh
        if book.account != self.account or book.basket != self.basket or book.last_seq <= 0:
            return fresh
        from sqlalchemy import select

        from taxreport.ledger import schema

        c = schema.events.c
        with self.ledger.engine.connect() as conn:
            stored = conn.execute(select(c.hash).where(c.seq == book.last_seq)).scalar_one_or_none()
        if stored != book.last_hash:  # another ledger, or a rebuilt one: the cache is worthless
            return fresh
        self._saved_seq = book.last_seq
        return book

    def sync(self) -> BasketBook:
        """Feed the book every event of this basket written since the last sync (by ledger seq)."""
        from sqlalchemy import select

        from taxreport.ledger import schema
        from taxreport.model.codec import event_from_payload

        if self._book is None:
            self._book = self._load_book()
        book = self._book
        c = schema.events.c
        stmt = (select(c.seq, c.payload, c.hash).where(c.seq > book.last_seq, c.actor == self.actor)
                .order_by(c.seq))
        with self.ledger.engine.connect() as conn:
            for row in conn.execute(stmt):
                book.apply(event_from_payload(json.loads(row.payload)))
                book.last_seq, book.last_hash = row.seq, row.hash
        if self.checkpoint and book.last_seq != self._saved_seq:
            self._save_book(book)
        return book

    def _save_book(self, book: BasketBook) -> None:
        path = self._book_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(book.to_state(), sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
            self._saved_seq = book.last_seq
        except OSError:
            pass  # a cache: the next process rebuilds it from the ledger

    @property
    def book(self) -> BasketBook:
        return self.sync()

    # --- writing ----------------------------------------------------------------------------
    def write(self, events: Iterable[Event], reason: str) -> int:
        """Append the events not yet in the ledger (by natural key), in one transaction."""
        items = list(events)
        if not items:
            return 0
        have = self.ledger.existing_keys([e.natural_key for e in items])
        new = [e for e in items if e.natural_key not in have]
        if not new:
            return 0
        return self.ledger.append(new, actor=self.actor, reason=reason).added_count

    def record(self, record_type: str, external_id: str, data: Mapping[str, Any], *, order_id: str | None = None,
               reason: str | None = None) -> bool:
        """Write one record unless its key exists; True if written."""
        rec = Record(time=self.clock(), source=RECORD_SOURCE, external_id=external_id, record_type=record_type,
                     account=self.account, order_id=order_id, data=dict(data))
        return self.write([rec], reason or f"{record_type} of basket {self.basket}") > 0

    def rebalance_record(self, rebalance_id: str, step: str, record_type: str, data: Mapping[str, Any]) -> bool:
        return self.record(record_type, f"{self.basket}:{rebalance_id}:{step}", data)

    def has_rebalance_record(self, rebalance_id: str, step: str) -> bool:
        return self.ledger.has_key(f"record:{RECORD_SOURCE}:{self.basket}:{rebalance_id}:{step}")

    def intent(self, cid: str, rebalance_id: str, leg: int, attempt: int, asset: str, symbol: str, side: str,
               type_: str, amount: Decimal, price: Decimal | None, expires_at: datetime | None = None) -> bool:
        data = {"basket": self.basket, "rebalance_id": rebalance_id, "leg": leg, "attempt": attempt,
                "asset": asset, "symbol": symbol, "side": side, "type": type_, "amount": amount, "price": price,
                "exchange": self.exchange_name}
        if expires_at is not None:  # the request's expTime: after it the venue cannot carry it out
            data["expires_at"] = format_time(expires_at)
        return self.record("order.intent", f"{self.exchange_name}:{cid}:intent", data, order_id=cid,
                           reason=f"order intent before sending {cid}")

    def update(self, cid: str, status: str, order: Order | None = None, **extra: Any) -> bool:
        data: dict[str, Any] = {"status": status}
        if order is not None:
            data.update(exchange_order_id=order.id, exchange_status=order.status, filled=order.filled)
        data.update(extra)
        return self.record("order.update", f"{self.exchange_name}:{cid}:{status}", data, order_id=cid,
                           reason=f"order {cid} {status}")

    def fill_trade(self, fill: Fill, market: Market) -> Trade:
        return Trade(time=fill.time, source=self.exchange_name, external_id=fill.trade_id, account=self.account,
                     side=fill.side, base=market.base, quote=market.quote, quantity=fill.amount, price=fill.price,
                     fee=fill.fee, fee_asset=fill.fee_asset,
                     order_id=fill.client_order_id, note=fill.taker_or_maker)

    def fills(self, fills: Iterable[Fill], markets: Mapping[str, Market],
              on_each: Callable[[], None] | None = None) -> int:
        """Write fills not yet recorded, one transaction each (so a crash loses none written)."""
        written = 0
        for fill in fills:
            trade = self.fill_trade(fill, markets[fill.symbol])
            extra: list[Event] = []
            if self.lot_identifier is not None and trade.side == "sell" and not self.ledger.has_key(trade.natural_key):
                extra = self.lot_identifier(trade)  # tax-aware basket: lots identified AT the sale, same transaction
            n = min(self.write([trade, *extra], f"fill of order {fill.client_order_id}"), 1)  # fills, not records
            written += n
            if n and on_each is not None:
                on_each()
        return written

    # --- reading ----------------------------------------------------------------------------
    def records(self, record_type: str | None = None, *, all_accounts: bool = False) -> list[Record]:
        """This basket's records in ledger order: of this journal's account (paper, sandbox and live
        runs of one basket keep separate books) unless ``all_accounts``."""
        out = []
        for row in self.ledger.rows(kinds=["record"], actor_prefix=self.actor):
            ev = row.event
            if (row.actor == self.actor and isinstance(ev, Record)
                    and (all_accounts or ev.account == self.account)
                    and (record_type is None or ev.record_type == record_type)):
                out.append(ev)
        return out

    def order_states(self) -> tuple[list[Intent], dict[str, dict[str, Any]]]:
        """The UNFINISHED intents of this basket, and per client order id the statuses seen so far
        (``{"accepted": True}`` when the exchange acknowledged it). From the incremental book: what
        recovery needs, in time independent of the journal's length (:meth:`all_order_states`
        reads everything)."""
        book = self.sync()
        intents = [self._intent(i) for i in book.open_intents.values()
                   if i.get("exchange", self.exchange_name) == self.exchange_name]
        return intents, {cid: {"accepted": True} for cid in book.accepted}

    @staticmethod
    def _intent(d: Mapping[str, Any]) -> Intent:
        return Intent(d["client_order_id"], d["rebalance_id"], int(d["leg"]), int(d["attempt"]), d["symbol"],
                      d["side"], d["type"], Decimal(d["amount"]), None if d["price"] is None else Decimal(d["price"]),
                      d["time"])

    def all_order_states(self) -> tuple[list[Intent], dict[str, dict[str, Record]]]:
        """Every intent of this exchange, and per client order id its updates by status (full read)."""
        intents, updates = [], defaultdict(dict)
        for rec in self.records():
            if rec.record_type == "order.intent" and rec.data.get("exchange") == self.exchange_name:
                d = rec.data
                intents.append(Intent(rec.order_id, d["rebalance_id"], int(d["leg"]), int(d["attempt"]),
                                      d["symbol"], d["side"], d["type"], Decimal(d["amount"]),
                                      None if d["price"] is None else Decimal(d["price"]), rec.time))
            elif rec.record_type == "order.update" and rec.external_id.startswith(f"{self.exchange_name}:"):
                updates[rec.order_id][rec.data["status"]] = rec
        return intents, dict(updates)

    def unfinished_intents(self) -> list[Intent]:
        return self.order_states()[0]

    def unfinished_rebalances(self) -> list[str]:
        return list(self.sync().open_runs)

    def trades_of(self, cid: str) -> list[Trade]:
        return [e for e in self.ledger.events(kinds=["trade"], order_ref=cid) if isinstance(e, Trade)
                and e.source == self.exchange_name]

    def recorded_fill_ids(self, cid: str) -> set[str]:
        return {t.external_id for t in self.trades_of(cid)}

    # --- added for the OKX-safe executor (issue 10) -------------------------------------------
    def order_records(self, cid: str) -> list[Record]:
        """The intent and every update of one client order id, in ledger order (read by its order id)."""
        return [e for e in self.ledger.events(kinds=["record"], order_ref=cid) if isinstance(e, Record)
                and e.source == RECORD_SOURCE and e.external_id.startswith(f"{self.exchange_name}:{cid}:")]

    def intent_expiry(self, cid: str) -> datetime | None:
        """The ``expTime`` the order was sent with (None for intents written before it was recorded)."""
        for rec in self.order_records(cid):
            if rec.record_type == "order.intent" and rec.data.get("expires_at"):
                return parse_time(str(rec.data["expires_at"]))
        return None

    def exchange_order_id(self, cid: str) -> str | None:
        """The venue's order id, if an update recorded it."""
        for rec in self.order_records(cid):
            if rec.record_type == "order.update" and rec.data.get("exchange_order_id"):
                return str(rec.data["exchange_order_id"])
        return None


def running_accounts(ledger, basket: str) -> list[str]:
    """Accounts in which ``basket`` is running (its last basket.invest is later than its last
    basket.stop). Reads the basket's invest/stop records (rare: ``basket create --force`` only)."""
    last: dict[str, str] = {}
    for row in ledger.rows(kinds=["record"], actor_prefix=f"rebalancer:{basket}"):
        ev = row.event
        if row.actor == f"rebalancer:{basket}" and isinstance(ev, Record) and ev.account \
                and ev.record_type in ("basket.invest", "basket.stop"):
            last[ev.account] = ev.record_type
    return sorted(a for a, kind in last.items() if kind == "basket.invest")


def basket_accounts(ledger, basket) -> list[dict[str, Any]]:
    """Every account ``basket`` has records in, with its state, invested money, value (own holdings
    at the prices its last check saw; None if never checked) and last run (``basket list``)."""
    from sqlalchemy import select

    from taxreport.ledger import schema

    c = schema.events.c
    with ledger.engine.connect() as conn:
        accounts = sorted({a for (raw,) in conn.execute(select(c.accounts).where(
            c.actor == f"rebalancer:{basket.name}", c.kind == "record").distinct()) for a in raw.strip(",").split(",") if a})
    out = []
    for account in accounts:
        journal = Journal(ledger, basket.name, account, "-", quote=basket.quote)
        book = journal.sync()
        if book.state == "new":
            continue
        from taxreport.rebalance.runner import RunnerState, state_path

        marks = RunnerState.load(state_path(journal)).marks
        prices = marks[-1][1] if marks else None
        value = None
        if prices is not None:
            value = Decimal(0)
            for asset, qty in book.holdings.items():
                if asset == basket.quote or asset in ("USDT", "USDC") and asset not in prices:
                    value += qty
                elif asset in prices:
                    value += qty * prices[asset]
        last = book.last_trade_run
        out.append({"account": account, "state": book.state, "invested": book.invested, "value": value,
                    "holdings": dict(book.holdings),
                    "last_run": None if last is None else {"time": last.time, "rebalance_id": last.rebalance_id,
                                                          "status": last.status}})
    return out
