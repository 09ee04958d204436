"""The paper exchange's state as JSON (Decimals as exact text, times as UTC text): what
:meth:`PaperExchange.save`/:meth:`PaperExchange.load` write and read, so a paper basket keeps its
balances, orders, fills and id counters across processes.

On disk the state is two files, so that a save costs what changed, not the basket's whole history (issue #14:
a check saves the state about ten times; rewriting every order and fill ever made each time grew with the
basket's age): ``NAME.json``, rewritten atomically at every save, holds everything but the closed orders and
the fills; ``NAME.json.archive.jsonl``, append-only, holds each fill and each closed order once (a closed order
never changes again), one JSON object a line, with the order's place among all orders. The head names how many
bytes of the archive are its own: a save that stopped after appending to the archive and before replacing
the head leaves a tail no head names, which loading ignores and the next save cuts off. A state file written
whole (before this format) is read as before; its first save starts the archive."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from taxreport.errors import InputError
from taxreport.exchanges.base import Fill, Market, OrderRequest
from taxreport.model.events import format_time, parse_time
from taxreport.model.money import decimal_str, parse_decimal


def _order(o: Any) -> dict[str, Any]:
    s = decimal_str
    return {"id": o.id, "client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side,
            "type": o.type, "amount": s(o.amount), "price": None if o.price is None else s(o.price),
            "time": format_time(o.time), "filled": s(o.filled), "status": o.status,
            "reserved": s(o.reserved), "updated": format_time(o.updated or o.time)}


def _fill(f: Fill) -> dict[str, Any]:
    s = decimal_str
    return {"trade_id": f.trade_id, "order_id": f.order_id, "client_order_id": f.client_order_id,
            "symbol": f.symbol, "side": f.side, "amount": s(f.amount), "price": s(f.price),
            "fee": s(f.fee), "fee_asset": f.fee_asset, "time": format_time(f.time),
            "taker_or_maker": f.taker_or_maker}


def to_state(self, *, orders: list[dict[str, Any]] | None = None,
             fills: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON-ready state of a paper exchange (``orders``/``fills``: put these instead of all of them)."""
    s = decimal_str
    return {
        "version": 1, "name": self.name, "now": format_time(self.now), "spread_bps": s(self.spread_bps),
        "touch_fill_ratio": s(self.touch_fill_ratio), "latency": s(self.latency),
        "order_history_seconds": self.order_history_seconds, "counters": dict(self.counters),
        "id_prefix": self.id_prefix,
        "fundings": [{"ref": f["ref"], "asset": f["asset"], "quantity": s(f["quantity"]),
                      "time": format_time(f["time"])} for f in self.fundings],
        "markets": {k: {"base": m.base, "quote": m.quote, "amount_step": s(m.amount_step),
                        "price_tick": s(m.price_tick),
                        "min_amount": None if m.min_amount is None else s(m.min_amount),
                        "min_cost": None if m.min_cost is None else s(m.min_cost),
                        "maker_fee": s(m.maker_fee), "taker_fee": s(m.taker_fee)}
                    for k, m in self.markets.items()},
        "balances": {a: s(q) for a, q in self.balances.items()},
        "prices": {k: s(v) for k, v in self.prices.items()},
        "price_log": {k: [[format_time(t), s(p)] for t, p in log] for k, log in self.price_log.items()},
        "orders": [_order(o) for o in self.orders.values()] if orders is None else orders,
        "fills": [_fill(f) for f in self.fills] if fills is None else fills,
        "fill_lag": s(self.fill_lag),
        "delayed": [{"arrives": format_time(x.arrives), "client_order_id": x.request.client_order_id,
                     "symbol": x.request.symbol, "side": x.request.side, "type": x.request.type,
                     "amount": s(x.request.amount),
                     "price": None if x.request.price is None else s(x.request.price),
                     "expires_at": None if x.request.expires_at is None else format_time(x.request.expires_at)}
                    for x in self.delayed],
    }


def from_state(cls, state: dict[str, Any]):
    """Rebuild a paper exchange (of class ``cls``) from :func:`to_state` output, exactly."""
    from taxreport.exchanges.paper import _Delayed, _PaperOrder

    d = parse_decimal
    def opt(v: object) -> Decimal | None:
        return None if v is None else d(v)
    markets = {k: Market(k, m["base"], m["quote"], d(m["amount_step"]), d(m["price_tick"]), opt(m["min_amount"]),
                         opt(m["min_cost"]), d(m["maker_fee"]), d(m["taker_fee"]))
               for k, m in state["markets"].items()}
    ex = cls(markets=markets, balances={a: d(q) for a, q in state["balances"].items()},
             prices={k: d(v) for k, v in state["prices"].items()}, name=state.get("name", "paper"),
             spread_bps=d(state["spread_bps"]), touch_fill_ratio=d(state["touch_fill_ratio"]),
             latency=d(state["latency"]), now=parse_time(state["now"]),
             order_history_seconds=state.get("order_history_seconds"), counters=dict(state["counters"]),
             id_prefix=state.get("id_prefix", ""),
             fundings=[{"ref": f["ref"], "asset": f["asset"], "quantity": d(f["quantity"]),
                        "time": parse_time(f["time"])} for f in state.get("fundings", [])])
    for o in state["orders"]:
        ex.orders[o["id"]] = _PaperOrder(o["id"], o["client_order_id"], o["symbol"], o["side"], o["type"],
                                         d(o["amount"]), opt(o["price"]), parse_time(o["time"]), d(o["filled"]),
                                         o["status"], d(o["reserved"]), parse_time(o["updated"]))
    ex.fills = [Fill(f["trade_id"], f["order_id"], f["client_order_id"], f["symbol"], f["side"], d(f["amount"]),
                     d(f["price"]), d(f["fee"]), f["fee_asset"], parse_time(f["time"]), f["taker_or_maker"])
                for f in state["fills"]]
    ex.fill_lag = d(state.get("fill_lag", "0"))
    ex.price_log = {k: [(parse_time(t), d(p)) for t, p in log] for k, log in state.get("price_log", {}).items()}
    ex.delayed = [_Delayed(OrderRequest(x["client_order_id"], x["symbol"], x["side"], x["type"], d(x["amount"]),
                                        opt(x["price"]),
                                        None if x["expires_at"] is None else parse_time(x["expires_at"])),
                           parse_time(x["arrives"])) for x in state.get("delayed", [])]
    return ex



ARCHIVE_SUFFIX = ".archive.jsonl"


@dataclass
class _Archived:
    """What the archive of ``path`` holds: its own bytes, the fills (a prefix of the list), the closed orders
    (every order before ``orders_done`` in the exchange's order, and the ids of later ones)."""

    path: Path
    size: int = 0
    fills: int = 0
    orders_done: int = 0
    order_ids: set[str] = field(default_factory=set)


def save_state(ex, target: Path) -> None:
    """Write the state (module doc): new fills and newly closed orders appended to the archive, then the head
    replaced atomically (temp file + rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    archive = target.with_name(target.name + ARCHIVE_SUFFIX)
    book: _Archived | None = ex.archived
    if book is None or book.path != archive or (book.size and not archive.exists()):
        book = _Archived(archive)  # a new archive for this file (every fill and closed order written again)
    lines = [json.dumps({"fill": _fill(f)}, sort_keys=True) for f in ex.fills[book.fills:]]
    orders = list(ex.orders.values())
    head: list[dict[str, Any]] = []
    done = book.orders_done
    for pos in range(book.orders_done, len(orders)):
        o = orders[pos]
        if o.id in book.order_ids:
            pass
        elif o.status != "open":
            lines.append(json.dumps({"order": _order(o), "pos": pos}, sort_keys=True))
            book.order_ids.add(o.id)
        else:
            head.append({**_order(o), "pos": pos})
        if done == pos and o.id in book.order_ids:
            done = pos + 1
    book.order_ids -= {o.id for o in orders[book.orders_done:done]}
    book.orders_done = done
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    with open(archive, "r+b" if archive.exists() and book.size else "wb") as fh:
        fh.seek(book.size)
        fh.truncate()
        fh.write(data)
    book.size += len(data)
    book.fills = len(ex.fills)
    ex.archived = book
    state = to_state(ex, orders=head, fills=[])
    state["archive"] = {"file": archive.name, "bytes": book.size}
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, target)


def _with_archive(state: dict[str, Any], path: Path) -> tuple[dict[str, Any], _Archived | None]:
    """The whole state from a head and its archive (module doc)."""
    meta = state.get("archive")
    if meta is None:
        return state, None
    archive = path.with_name(str(meta["file"]))
    size = int(meta["bytes"])
    raw = archive.read_bytes()[:size] if size else b""
    if len(raw) < size:
        raise ValueError(f"{archive.name} holds {len(raw)} bytes, the state names {size}")
    fills: list[dict[str, Any]] = []
    placed: list[tuple[int, dict[str, Any]]] = []
    for line in raw.decode("utf-8").splitlines():
        item = json.loads(line)
        if "fill" in item:
            fills.append(item["fill"])
        else:
            placed.append((int(item["pos"]), item["order"]))
    ids = {o["id"] for _, o in placed}
    placed += [(int(o.pop("pos")), o) for o in state["orders"]]
    placed.sort(key=lambda x: x[0])
    whole = {**state, "orders": [o for _, o in placed], "fills": fills + list(state["fills"])}
    whole.pop("archive")
    done = 0
    while done < len(placed) and placed[done][1]["id"] in ids:
        done += 1
    book = _Archived(archive, size, len(fills), done, {o["id"] for _, o in placed[done:]} & ids)
    return whole, book


def load_state(cls, path: Path):
    from taxreport.importers.base import read_text

    text = read_text(path)  # unreadable or not UTF-8: InputError naming the file (and the byte)
    try:
        state, book = _with_archive(json.loads(text), path)
        ex = from_state(cls, state)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise InputError(f"cannot read paper exchange state: {exc}", file=str(path)) from exc
    ex.state_path = path
    ex.archived = book
    return ex
