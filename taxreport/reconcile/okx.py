"""Reconcile OKX's CSV history against the ledger (OKX's API returns only 3 months of fills, so the
CSV export is the only complete record).

Fills are matched in three passes, each pairing a fill at most once:

1. **same key**: the OKX fill was imported (``taxreport import okx``), so the ledger holds its key;
2. **order id**: OKX's ``Order id`` is the ``exchange_order_id`` of a rebalancer order (its
   ``order.update`` record) or a ledger trade's ``order_id``; within the order the ledger fill
   closest in quantity and price (relative differences summed), then time, is taken;
3. **same fill**: same side and pair, within ``time_window`` and quantity within 10% (a looser
   match would pair unrelated trades); the closest wins.

Times: OKX writes the Time column in the account's display time zone; each file is read by the importer's
own code (:func:`~taxreport.importers.okx.parse_okx_file`), so its ``Time Zone:`` line wins, else
``zone_if_none`` (``--time-zone``, as given to ``taxreport import okx``), else UTC, and the report names the
zone each file was read in and says when one was assumed.

A matched pair is *mismatched* when quantity, price or fee differ by more than ``tolerance``
(relative to the OKX value; fees also by at least 1e-8), side/fee asset differ, or their times are more than
``time_window`` apart (a pair matched by key or order id whose ledger time is off, e.g. a file imported in
another time zone than it is reconciled in: a wrong time can move a disposal into another day or tax year). Unpaired OKX
fills are "only in OKX" (made outside the bot, or missed by it); unpaired ledger trades in the
account and period are "only in the ledger".

Balances: both sides' events in the period are turned into movements by the same pure function
(:func:`taxreport.model.legs.legs_of`), summed per asset, and compared at the end of every UTC day;
the first day the running balances differ beyond tolerance is reported per asset.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Iterable, Sequence

from taxreport.errors import InputError
from taxreport.importers.okx import parse_okx_file
from taxreport.importers.okx.known import rebalancer_index
from taxreport.model.events import Event, Trade, format_time
from taxreport.model.legs import effective_events, legs_of
from taxreport.model.money import decimal_str
from taxreport.reconcile.report import BalanceRow, Difference, FillMatch, FillRef, ReconcileReport

DEFAULT_TOLERANCE = Decimal("0.000001")
DEFAULT_WINDOW = timedelta(seconds=60)
SAME_FILL_QUANTITY = Decimal("0.1")
FEE_FLOOR = Decimal("0.00000001")
BALANCE_FLOOR = Decimal("1E-12")


def reconcile_okx(ledger, files: Sequence[str], *, account: str, start: datetime | None = None,  # noqa: ANN001
                  end: datetime | None = None, tolerance: Decimal = DEFAULT_TOLERANCE,
                  time_window: timedelta = DEFAULT_WINDOW,
                  zone_if_none: tuple[tzinfo, str] | None = None) -> ReconcileReport:
    """Compare the OKX files with the ledger's ``account`` over [start, end) (default: the files' span).
    ``zone_if_none``: the Time column's zone for a file that names none (``--time-zone``), exactly as
    ``import okx`` reads it."""
    if tolerance < 0:
        raise InputError(f"must not be negative, got {tolerance}", field="--tolerance")
    okx_events: list[Event] = []
    okx_origins: list[str] = []
    not_compared: list[tuple[str, str]] = []
    gaps: list[tuple[str, str]] = []
    rounding: list[tuple[str, str]] = []
    variants = []
    zones: list[str] = []
    assumed: list[str] = []
    for path in files:
        batch = parse_okx_file(path, account=account, zone_if_none=zone_if_none)
        variants.append(batch.variant)
        zones.append(batch.zone_label)
        if zone_if_none is None and not batch.zone_label.endswith("(metadata line)"):
            assumed.append(path)
        okx_events += batch.events
        okx_origins += batch.origins
        not_compared += batch.ignored
        gaps += batch.gaps
        rounding += batch.rounding
    if not okx_events and (start is None or end is None):
        raise InputError("the OKX files hold no trades, deposits, withdrawals or income to compare; "
                         "give --from and --to to compare an empty period")
    start = start or min(e.time for e in okx_events)
    end = end or max(e.time for e in okx_events).replace(microsecond=0) + timedelta(seconds=1)
    keep = [i for i, e in enumerate(okx_events) if start <= e.time < end]
    okx_events = [okx_events[i] for i in keep]
    okx_origins = [okx_origins[i] for i in keep]

    ledger_rows = list(ledger.rows(account=account, start=start, end=end))
    reversals = [r.event for r in ledger.rows(kinds=["reversal"])]
    live = {e.natural_key for e in effective_events([r.event for r in ledger_rows] + reversals)}
    ledger_rows = [r for r in ledger_rows if r.event.natural_key in live and r.event.kind != "record"]
    ledger_events = [r.event for r in ledger_rows]

    okx_fills = [_ref("okx", e, o) for e, o in zip(okx_events, okx_origins) if isinstance(e, Trade)]
    ledger_fills = [_ref("ledger", r.event, f"ledger #{r.seq} {r.actor}") for r in ledger_rows
                    if isinstance(r.event, Trade)]
    index = rebalancer_index(ledger, account)
    matches, only_okx, only_ledger = _match(okx_fills, ledger_fills, index.order_ids, time_window)
    judged = [FillMatch(m.okx, m.ledger, m.how, _differences(m.okx, m.ledger, tolerance, time_window))
              for m in matches]
    balances = _balances(okx_events, ledger_events, account, tolerance)
    return ReconcileReport(
        account=account, files=tuple(files), variants=tuple(variants), start=start, end=end, tolerance=tolerance,
        matched=tuple(m for m in judged if m.ok), mismatched=tuple(m for m in judged if not m.ok),
        only_in_okx=tuple(sorted(only_okx, key=lambda r: r.time)),
        only_in_ledger=tuple(sorted(only_ledger, key=lambda r: r.time)),
        balances=tuple(balances), not_compared=tuple(not_compared), okx_gaps=tuple(gaps),
        okx_rounding=tuple(rounding), time_zones=tuple(zones), zone_assumed=tuple(assumed))


def _ref(side_of: str, t: Trade, origin: str) -> FillRef:
    return FillRef(side_of, t.natural_key, origin, t.time, t.side.value, t.base, t.quote, t.quantity, t.price,
                   t.fee, t.fee_asset, t.order_id)


def _match(okx: list[FillRef], led: list[FillRef], order_map: dict[str, str],
           window: timedelta) -> tuple[list[FillMatch], list[FillRef], list[FillRef]]:
    free = {r.key: r for r in led}
    matches: list[FillMatch] = []
    rest: list[FillRef] = []
    for o in okx:  # 1. same key
        if o.key in free:
            matches.append(FillMatch(o, free.pop(o.key), "same key"))
        else:
            rest.append(o)
    by_order: dict[str, list[FillRef]] = defaultdict(list)
    for r in free.values():
        if r.order_id:
            by_order[r.order_id].append(r)
    later: list[FillRef] = []
    for o in sorted(rest, key=lambda r: (r.time, r.quantity)):  # 2. order id
        ids = [i for i in (o.order_id, order_map.get(o.order_id or "")) if i]
        pool = [r for i in dict.fromkeys(ids) for r in by_order.get(i, []) if r.key in free]
        if pool:
            best = min(pool, key=lambda r: _distance(o, r))
            matches.append(FillMatch(o, free.pop(best.key), "order id"))
        else:
            later.append(o)
    only_okx: list[FillRef] = []
    for o in later:  # 3. same fill
        pool = [r for r in free.values() if (r.side, r.base, r.quote) == (o.side, o.base, o.quote)
                and abs(r.time - o.time) <= window
                and abs(r.quantity - o.quantity) <= o.quantity * SAME_FILL_QUANTITY]
        if pool:
            best = min(pool, key=lambda r: _distance(o, r))
            matches.append(FillMatch(o, free.pop(best.key), "same fill"))
        else:
            only_okx.append(o)
    return matches, only_okx, list(free.values())


def _distance(o: FillRef, r: FillRef) -> tuple:
    """How unlike two fills are: relative quantity + price difference first, then time, then key."""
    return (abs(r.quantity - o.quantity) / o.quantity + abs(r.price - o.price) / o.price, abs(r.time - o.time), r.key)


def _differences(o: FillRef, r: FillRef, tol: Decimal, window: timedelta) -> tuple[Difference, ...]:
    out: list[Difference] = []
    if abs(o.time - r.time) > window:
        out.append(Difference("time", format_time(o.time), format_time(r.time), None))
    if o.side != r.side:
        out.append(Difference("side", o.side, r.side, None))
    for name, a, b, floor in (("quantity", o.quantity, r.quantity, Decimal(0)),
                              ("price", o.price, r.price, Decimal(0)),
                              ("fee", o.fee, r.fee, FEE_FLOOR)):
        if abs(a - b) > max(abs(a) * tol, floor):
            out.append(Difference(name, decimal_str(a), decimal_str(b), a - b))
    if (o.fee or r.fee) and o.fee_asset != r.fee_asset:
        out.append(Difference("fee_asset", o.fee_asset or "", r.fee_asset or "", None))
    return tuple(out)


def _daily(events: Iterable[Event], account: str) -> dict[str, dict[date, Decimal]]:
    out: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for leg in legs_of(events):
        if leg.account == account:
            out[leg.asset][leg.time.date()] += leg.sign * leg.quantity
    return out


def _balances(okx: list[Event], led: list[Event], account: str, tol: Decimal) -> list[BalanceRow]:
    a, b = _daily(okx, account), _daily(led, account)
    rows = []
    for asset in sorted(set(a) | set(b)):
        days = sorted(set(a.get(asset, {})) | set(b.get(asset, {})))
        run_a = run_b = Decimal(0)
        first = None
        at_a = at_b = None
        for day in days:
            run_a += a.get(asset, {}).get(day, Decimal(0))
            run_b += b.get(asset, {}).get(day, Decimal(0))
            if first is None and abs(run_a - run_b) > max(max(abs(run_a), abs(run_b)) * tol, BALANCE_FLOOR):
                first, at_a, at_b = day, run_a, run_b
        rows.append(BalanceRow(asset, run_a, run_b, first, at_a, at_b))
    return rows
