"""Basket-owned holdings: what one basket owns inside a (possibly shared) exchange account.

OKX's Smart Portfolio isolates the money invested in a bot from the rest of the account. We do the
same from the ledger, which already holds everything the basket did:

* ``basket.invest`` records add what was invested (``amount`` of the quote asset, or the coins of
  ``assets`` for a paper basket started with coins) — that money now belongs to the basket;
* every fill the basket's own orders got (Trades written by actor ``rebalancer:<basket>`` in the
  basket's account) moves its holdings: a buy adds the base (less a fee charged in the base, as OKX
  does on spot buys) and spends ``quantity × price`` (plus a fee charged in the quote); a sell the
  reverse;
* ``basket.stop`` releases the holdings back to the account (they are no longer the basket's): after
  selling them (``basket stop``) or as they are (``--keep-assets``), as OKX's "stop and keep the
  assets" hands the coins back to the trading account. A later ``basket invest`` starts afresh, so a
  member removed in between is never orphaned inside the basket;
* everything else in the account — coins held before the basket, other baskets, manual trades,
  deposits — is NOT the basket's and is never planned, sold or counted.

:class:`BasketBook` is fed the basket's ledger events one at a time, in ledger order
(:meth:`BasketBook.apply`), so it is kept incrementally: a check reads only the events written since
the previous one (see :meth:`taxreport.rebalance.journal.Journal.sync`), never the whole journal.
It also indexes what recovery needs (unfinished order intents, unfinished rebalances) and the
basket's run history summary (last run, last completed run, redo reason), and can be saved as JSON
(every Decimal as exact text) so a new process continues from a checkpoint.

:func:`capped_balances` caps the holdings by what the account actually has, with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from taxreport.model.events import Event, Record, Trade
from taxreport.model.money import decimal_str

ZERO = Decimal(0)
TERMINAL = ("closed", "canceled", "rejected", "missing")
#: statuses of a rebalance that must be redone at the next check
REDO = ("failed", "interrupted", "incomplete")
DAY_EVENTS_KEPT = timedelta(days=2)


@dataclass
class RunInfo:
    """One finished rebalance as the book remembers it."""

    rebalance_id: str
    time: datetime
    status: str  # completed | skipped | failed | interrupted | incomplete
    why: str = ""


@dataclass
class BasketBook:
    """Incremental state of one basket in one ledger account (see the module docstring)."""

    basket: str
    account: str
    quote: str = ""
    last_seq: int = 0
    last_hash: str = ""
    holdings: dict[str, Decimal] = field(default_factory=dict)
    invested: Decimal = ZERO
    fees: dict[str, Decimal] = field(default_factory=dict)
    bought: Decimal = ZERO  # quote spent on buys, all time
    sold: Decimal = ZERO  # quote received for sells, all time
    state: str = "new"  # new | active | stopped
    state_time: datetime | None = None
    released: dict[str, Decimal] = field(default_factory=dict)  # what the last stop handed back
    # the last stop's outcome in the quote asset: the released holdings' value at the stop's prices, and
    # that value minus what had been invested (the bot's life P&L); None before a stop or for a stop
    # recorded without its value (taxreport before 0.x: the P&L of such a stop is unknown)
    released_value: Decimal | None = None
    stopped_pnl: Decimal | None = None
    open_intents: dict[str, dict[str, Any]] = field(default_factory=dict)  # cid -> intent data
    accepted: set[str] = field(default_factory=set)  # open intents the exchange acknowledged
    open_runs: dict[str, datetime] = field(default_factory=dict)  # rid -> trigger time
    run_intents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # open rid -> its intents
    run_status: dict[str, str] = field(default_factory=dict)  # cid of an open run -> terminal status
    last_run: RunInfo | None = None
    stopping: str | None = None  # rid of a `basket stop` sale not followed by basket.stop (unfinished)
    last_completed: RunInfo | None = None
    last_trade_run: RunInfo | None = None  # last run that was not a skip
    runs: int = 0
    day_events: list[tuple[datetime, dict[str, Decimal], Decimal]] = field(default_factory=list)

    # --- feeding ------------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Take one event of actor ``rebalancer:<basket>`` (ledger order). Others' events never
        reach here; events of another account are ignored."""
        if isinstance(event, Trade):
            if event.account == self.account:
                self._trade(event)
        elif isinstance(event, Record) and event.account == self.account:
            self._record(event)

    def _move(self, when: datetime, deltas: dict[str, Decimal], invested: Decimal = ZERO) -> None:
        for asset, delta in deltas.items():
            self.holdings[asset] = self.holdings.get(asset, ZERO) + delta
            if self.holdings[asset] == 0:
                del self.holdings[asset]
        self.day_events.append((when, deltas, invested))
        cutoff = when - DAY_EVENTS_KEPT
        while self.day_events and self.day_events[0][0] < cutoff:
            self.day_events.pop(0)

    def _trade(self, t: Trade) -> None:
        gross = t.quantity * t.price
        deltas: dict[str, Decimal] = {}
        if t.side.value == "buy":
            deltas[t.base], deltas[t.quote] = t.quantity, -gross
            self.bought += gross
        else:
            deltas[t.base], deltas[t.quote] = -t.quantity, gross
            self.sold += gross
        if t.fee and t.fee_asset:
            deltas[t.fee_asset] = deltas.get(t.fee_asset, ZERO) - t.fee
            self.fees[t.fee_asset] = self.fees.get(t.fee_asset, ZERO) + t.fee
        self._move(t.time, deltas)

    def _record(self, rec: Record) -> None:
        d, kind = rec.data, rec.record_type
        if kind == "basket.invest":
            amount = Decimal(d["amount"])
            quote = str(d.get("quote") or self.quote)
            assets = {a: Decimal(q) for a, q in (d.get("assets") or {quote: d["amount"]}).items()}
            self.invested += amount
            self._move(rec.time, assets, amount)
            self.state, self.state_time, self.released = "active", rec.time, {}
            self.stopping, self.released_value, self.stopped_pnl = None, None, None
        elif kind == "basket.stop":
            self.state, self.state_time, self.stopping = "stopped", rec.time, None
            self.released = dict(self.holdings)
            value = Decimal(d["released_value"]) if d.get("released_value") is not None else None
            self.released_value = value
            self.stopped_pnl = None if value is None else value - self.invested
            # the money taken out is what was released (today's P&L: value now - value at 00:00 - net money
            # put in since); a stop recorded without its value takes out what was invested, as before
            self._move(rec.time, {a: -q for a, q in self.holdings.items()}, -(value if value is not None else self.invested))
            self.invested = ZERO
        elif kind == "rebalance.trigger":
            rid = str(d["rebalance_id"])
            self.open_runs[rid] = rec.time
            self.run_intents.setdefault(rid, [])
            if d.get("liquidate") or str(d.get("reason", "")).startswith("basket stop"):
                self.stopping = rid  # the sale of `basket stop`; cleared by its basket.stop record
        elif kind == "order.intent" and rec.order_id:
            cid = rec.order_id
            self.open_intents[cid] = {**dict(d), "client_order_id": cid, "time": rec.time}
            self.run_intents.setdefault(str(d["rebalance_id"]), []).append(
                {"cid": cid, "leg": int(d["leg"]), "symbol": d["symbol"], "side": d["side"]})
        elif kind == "order.update" and rec.order_id:
            cid, status = rec.order_id, d.get("status")
            if status == "accepted" and cid in self.open_intents:
                self.accepted.add(cid)
            elif status in TERMINAL:
                self.open_intents.pop(cid, None)
                self.accepted.discard(cid)
                self.run_status[cid] = str(status)
        elif kind == "rebalance.done":
            rid = str(d["rebalance_id"])
            self.open_runs.pop(rid, None)
            for intent in self.run_intents.pop(rid, []):
                self.run_status.pop(intent["cid"], None)
            status = str(d["status"])
            why = str(d.get("error") or d.get("skipped") or d.get("message") or "")
            self._finished(RunInfo(rid, rec.time, status, why))
        elif kind == "rebalance.outcome":  # written by the runner after the executor's done record
            info = RunInfo(str(d["rebalance_id"]), rec.time, str(d["status"]), str(d.get("why", "")))
            if self.last_run is not None and self.last_run.rebalance_id == info.rebalance_id:
                info.time = self.last_run.time
            self._finished(info, counted=False)

    def _finished(self, info: RunInfo, counted: bool = True) -> None:
        self.last_run = info
        self.runs += 1 if counted else 0
        if info.status != "skipped":
            self.last_trade_run = info
        if info.status == "completed":
            self.last_completed = info
        elif self.last_completed is not None and self.last_completed.rebalance_id == info.rebalance_id:
            self.last_completed = None  # an outcome downgraded the "completed" done record

    # --- questions ----------------------------------------------------------------------------
    @property
    def redo(self) -> RunInfo | None:
        """The last run if it must be redone at the next check (failed, interrupted, incomplete)."""
        return self.last_run if self.last_run is not None and self.last_run.status in REDO else None

    def holdings_at(self, moment: datetime) -> tuple[dict[str, Decimal], Decimal]:
        """Holdings at ``moment`` (within the last two days) and the money invested since then."""
        out = dict(self.holdings)
        invested_since = ZERO
        for when, deltas, invested in self.day_events:
            if when >= moment:
                invested_since += invested
                for asset, delta in deltas.items():
                    out[asset] = out.get(asset, ZERO) - delta
        return {a: q for a, q in out.items() if q != 0}, invested_since

    # --- persistence --------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        def dec(m: Mapping[str, Decimal]) -> dict[str, str]:
            return {k: decimal_str(v) for k, v in m.items()}

        def run(r: RunInfo | None) -> dict[str, str] | None:
            return None if r is None else {"rebalance_id": r.rebalance_id, "time": r.time.isoformat(),
                                           "status": r.status, "why": r.why}

        return {
            "version": 1, "basket": self.basket, "account": self.account, "quote": self.quote,
            "last_seq": self.last_seq, "last_hash": self.last_hash, "holdings": dec(self.holdings),
            "invested": decimal_str(self.invested), "fees": dec(self.fees), "bought": decimal_str(self.bought),
            "sold": decimal_str(self.sold), "state": self.state,
            "state_time": self.state_time.isoformat() if self.state_time else None, "released": dec(self.released),
            "released_value": None if self.released_value is None else decimal_str(self.released_value),
            "stopped_pnl": None if self.stopped_pnl is None else decimal_str(self.stopped_pnl),
            "open_intents": {c: {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in i.items()}
                             for c, i in self.open_intents.items()},
            "accepted": sorted(self.accepted),
            "open_runs": {r: t.isoformat() for r, t in self.open_runs.items()},
            "run_intents": self.run_intents, "run_status": self.run_status,
            "last_run": run(self.last_run), "last_completed": run(self.last_completed),
            "last_trade_run": run(self.last_trade_run), "runs": self.runs, "stopping": self.stopping,
            "day_events": [[w.isoformat(), dec(d), decimal_str(i)] for w, d, i in self.day_events],
        }

    @classmethod
    def from_state(cls, s: Mapping[str, Any]) -> BasketBook:
        def dec(m: Mapping[str, str]) -> dict[str, Decimal]:
            return {k: Decimal(v) for k, v in m.items()}

        def run(r: Mapping[str, str] | None) -> RunInfo | None:
            return None if r is None else RunInfo(r["rebalance_id"], datetime.fromisoformat(r["time"]),
                                                  r["status"], r["why"])

        if s.get("version") != 1:
            raise ValueError("unknown basket book version")
        return cls(
            basket=s["basket"], account=s["account"], quote=s["quote"], last_seq=int(s["last_seq"]),
            last_hash=s["last_hash"], holdings=dec(s["holdings"]), invested=Decimal(s["invested"]),
            fees=dec(s["fees"]), bought=Decimal(s["bought"]), sold=Decimal(s["sold"]), state=s["state"],
            state_time=datetime.fromisoformat(s["state_time"]) if s["state_time"] else None,
            released=dec(s["released"]),
            released_value=Decimal(s["released_value"]) if s.get("released_value") is not None else None,
            stopped_pnl=Decimal(s["stopped_pnl"]) if s.get("stopped_pnl") is not None else None,
            open_intents={c: {**i, "time": datetime.fromisoformat(i["time"])} for c, i in s["open_intents"].items()},
            accepted=set(s["accepted"]),
            open_runs={r: datetime.fromisoformat(t) for r, t in s["open_runs"].items()},
            run_intents={r: [dict(i) for i in c] for r, c in s["run_intents"].items()}, run_status=dict(s["run_status"]),
            last_run=run(s["last_run"]), last_completed=run(s["last_completed"]),
            last_trade_run=run(s["last_trade_run"]), runs=int(s["runs"]), stopping=s.get("stopping"),
            day_events=[(datetime.fromisoformat(w), dec(d), Decimal(i)) for w, d, i in s["day_events"]],
        )


@dataclass(frozen=True)
class Shortfall:
    asset: str
    basket_holds: Decimal
    account_has: Decimal

    def message(self, basket: str, account: str) -> str:
        return (f"account {account} holds {decimal_str(self.account_has)} {self.asset} but basket {basket} "
                f"owns {decimal_str(self.basket_holds)}: planning with {decimal_str(self.account_has)} "
                "(coins moved or sold outside the bot? check `taxreport ledger balances`)")


def value_at(holdings: Mapping[str, Decimal], prices: Mapping[str, Decimal], quote: str) -> Decimal | None:
    """``holdings`` valued in ``quote`` at ``prices`` (the quote counts 1); None when a held asset has no price
    (the value is then unknown, never guessed: today's P&L at 00:00 UTC, the value a stop released)."""
    total = ZERO
    for asset, quantity in holdings.items():
        if asset == quote:
            total += quantity
        elif not quantity:
            continue
        elif asset in prices:
            total += quantity * prices[asset]
        else:
            return None
    return total


def capped_balances(holdings: Mapping[str, Decimal], account: Mapping[str, Decimal],
                    assets: list[str]) -> tuple[dict[str, Decimal], list[Shortfall]]:
    """Per asset ``min(basket holding, what the account has)``; a :class:`Shortfall` for every
    asset the account holds less of than the basket thinks it owns. Negative holdings (a fill the
    book has not seen the funding of) count as zero."""
    out: dict[str, Decimal] = {}
    short: list[Shortfall] = []
    for asset in assets:
        own = max(holdings.get(asset, ZERO), ZERO)
        have = max(account.get(asset, ZERO), ZERO)
        if have < own:
            short.append(Shortfall(asset, own, have))
        if min(own, have) > 0:
            out[asset] = min(own, have)
    return out, short
