"""``taxreport gains``: the capital gains summary of one tax year, as a table or JSON.

Imports no pandas, ccxt, matplotlib or weasyprint (tests/test_gains_cli.py checks it)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterator

import click

from taxreport.cli.common import format_option, json_text, open_ledger, print_table
from taxreport.cli.fit import Col, echo_line
from taxreport.cli.gains_options import check_currency, gains_options, request_from_flags

__all__ = ["check_currency", "document_pieces", "gains", "summary_document", "summary_json"]


@click.command("gains")
@click.option("--jurisdiction", "-j", required=True, help="Country code: us, uk, de, au, ca.")
@click.option("--year", "-y", required=True,
              help="Tax year as the country writes it: 2024 (US, DE, CA) or 2024-25 (UK 6 Apr-5 Apr, AU 1 Jul-30 Jun); "
                   "'all': every tax year of the ledger in one command (one row per year and totals; JSON: a list "
                   "of the one-year objects).")
@click.option("--detail", is_flag=True, help="List every disposal with its matched lots.")
@gains_options()
@format_option()
@click.pass_context
def gains(ctx: click.Context, jurisdiction: str, year: str, detail: bool, fmt: str, **flags: Any) -> None:
    """Capital gains of one tax year: disposals, proceeds, cost, gains, losses, allowance, taxable gain.

    Every amount is in the tax currency, computed exactly and rounded to the cent only when shown.
    A missing exchange rate or selling more than is held is an error listing every gap.

    \b
    Examples:
      taxreport gains --jurisdiction us --year 2024
      taxreport gains --jurisdiction uk --year 2024-25 --detail
      taxreport gains -j de -y 2024 --via USD --format json
      taxreport gains -j us -y 2025 --method hifo --account kraken:main
      taxreport gains -j us -y 2025 --universal-until 2025-01-01
      taxreport gains -j us -y 2024 --peg USDT=USD --method specific --lots my-lots.csv
      taxreport gains -j uk -y all            # every tax year of the ledger, one row each, and totals
      taxreport gains -j us -y all --format json

    A repeated call on an unchanged ledger reads the stored result (see "Speed" in the README;
    TAXREPORT_CACHE=0 turns that off).
    """
    if fmt == "json":  # a repeated call on an unchanged ledger: the stored document, nothing else imported
        stored = _stored_document(ctx, _document_key(jurisdiction, year, flags))
        if stored is not None:
            click.echo(stored)
            return
    from taxreport.gains import gains_for

    request = request_from_flags(jurisdiction, year, flags)
    ledger = open_ledger(ctx, readonly=True, must_exist=True)
    every_year = year.strip().lower() == "all"
    if fmt == "json":
        # the document itself is kept per ledger state, like the summary (taxreport/ledger/derived.py)
        def key(one_year: str) -> dict[str, Any]:
            return _document_key(jurisdiction, one_year, flags) or {"request": repr(replace(request, year=one_year))}
        if every_year:
            def document() -> str:
                from taxreport.gains_years import gains_all_years

                return json_text([summary_json(s) for s in gains_all_years(ledger, request)])
            click.echo(_cached_document(ledger, key(year), document))  # bytes: written as they are stored
            return
        _print_document(ledger, request, key(year), key)
        return
    if every_year:
        from taxreport.gains_years import gains_all_years

        _print_years(gains_all_years(ledger, request))
        return
    summary = gains_for(ledger, request)
    # Without --detail the table shows the disposals' count alone: their JSON (most of a repeated call's time at
    # 1M trades, ~4 s of 149,000 disposals) is not made for it (issue 14 round 6: sum9).
    _print(summary_json(summary) if detail else _summary_json(summary, [{}] * len(summary.disposals)), detail)


DOCUMENT = "gains --format json"  # the derived cache's name of a year's JSON document


def _document_key(jurisdiction: str, year: str, flags: dict[str, Any]) -> dict[str, Any] | None:
    """The derived-cache key of a ``--format json`` document: the command's own flags (the request is a pure
    function of them, taxreport/cli/gains_options.py), so a repeated call finds its document before building
    the request or opening the ledger. None with ``--lots`` (the request then also holds a file's content)."""
    if flags.get("lots_file"):
        return None
    return {"flags": [jurisdiction.strip().lower(), year.strip(), sorted(flags.items())]}


def _stored_document(ctx: click.Context, key: dict[str, Any] | None) -> bytes | None:
    """The stored document of ``key`` for the ledger's current state, without opening the ledger (SQLite
    files only; taxreport/ledger/derived.py stored_document). None: run the command as usual."""
    if key is None:
        return None
    from taxreport.cli.common import ledger_url
    from taxreport.ledger.derived import stored_document

    try:
        url = ledger_url(ctx)
    except Exception:  # noqa: BLE001 - open_ledger reports it as usual
        return None
    return stored_document(url, DOCUMENT, key)


def _cached_document(ledger: Any, key: dict[str, Any], make: Callable[[], str]) -> bytes:
    from taxreport.ledger.derived import cache_for

    return cache_for(ledger).get_or_compute_bytes(DOCUMENT, key, lambda: make().encode())


def _print_document(ledger: Any, request: Any, asked: dict[str, Any], key: Callable[[str], dict[str, Any]]) -> None:
    """``gains --format json`` of one year: the stored document, or the year computed (with the other years of
    the ledger, each stored: :func:`_store_document`) and its document stored and written out. A big year's
    document is stored by a writer child (:meth:`DerivedCache.later`) while this process matches the other years,
    and written out from the stored bytes once that child ended (before the command returns); otherwise (small,
    no idle core, the cache off) it is stored and written out here as soon as it is made, in pieces
    (:func:`summary_document`), without holding the whole document."""
    from taxreport.gains import gains_for_as
    from taxreport.ledger.derived import cache_for

    with ledger.pinned():
        cache = cache_for(ledger)
        found = cache.lookup_bytes(DOCUMENT, asked)
        if found is not None:
            click.echo(found)  # bytes: written as they are stored
            return

        def shown(summary: Any) -> None:
            def here() -> None:  # the document stored and written out here, piece by piece, as it is made
                def printed() -> Iterator[bytes]:  # each piece written out as the cache writes it, then dropped
                    for piece in document_pieces(summary):
                        click.echo(piece, nl=False)
                        yield piece
                pieces = printed()
                cache.put_bytes(DOCUMENT, asked, pieces)
                for _ in pieces:  # what the cache did not take (off, or its file could not be written)
                    pass
                click.echo(b"")

            def there() -> None:  # in a writer child: stored only (the child never writes to stdout)
                cache.put_bytes(DOCUMENT, asked, document_pieces(summary))

            def after() -> None:  # here, once the child stored it: the stored bytes written out as click.echo
                import sys          # writes bytes (the text stream flushed, then its binary buffer); else made here

                sys.stdout.flush()
                binary = getattr(sys.stdout, "buffer", None)
                if binary is None or not cache.copy_stored(DOCUMENT, asked, binary):
                    here()
            # made on another core while this process matches the other years (issue 14 round 7)
            cache.later(there, size=len(summary.disposals), holds=summary, here=here, after=after)

        gains_for_as(ledger, request, shown, each_year=_store_document(ledger, key))


def _store_document(ledger: Any, key: Callable[[str], dict[str, Any]]) -> Callable[[Any, Any], object]:
    """Stores the ``--format json`` document of each other year a one-year miss computes (taxreport/gains.py
    gains_for), under the key :func:`_cached_document` reads, so the next year's call prints it as it is."""
    from taxreport.ledger.derived import cache_for

    def store(one: Any, summary: Any) -> object:
        return cache_for(ledger).put_bytes(DOCUMENT, key(one.year), document_pieces(summary))
    return store


def _print_years(summaries: list[Any]) -> None:
    """``gains --year all`` as a table: one row per tax year, then the totals; each note once, with its years."""
    from taxreport.gains_years import totals
    from taxreport.model.money import money_str

    if not summaries:
        return
    first = summaries[0]
    cur = first.currency
    rows = [(s.year, str(len(s.disposals)), money_str(s.proceeds), money_str(s.cost), money_str(s.gains),
             money_str(s.losses), money_str(s.gain), money_str(s.allowance), money_str(s.taxable_gain))
            for s in summaries]
    t = totals(summaries)
    rows.append(("total", str(sum(len(s.disposals) for s in summaries)), money_str(t["proceeds"]),
                 money_str(t["cost"]), money_str(t["gains"]), money_str(t["losses"]), money_str(t["gain"]), "",
                 money_str(t["taxable_gain"])))
    title = (f"{first.jurisdiction.upper()} capital gains, every tax year of the ledger, {cur}, method "
             f"{first.method}")
    from taxreport.simulated import banner_note

    if any(banner_note(s.notes) for s in summaries):  # the SIMULATED banner, by its note code (issue #12)
        title = "SIMULATED (not a tax figure): " + title
    # on 80 columns the count and the allowance go first, then gains and losses (their sum is the net gain;
    # --format json and the one-year tables have them all): a figure is never split (5000.0 / 0 before)
    print_table(title, [Col("tax year"), Col("disposals", "right", drop=1), Col("proceeds", "right"),
                        Col("cost", "right"), Col("gains", "right", drop=2), Col("losses", "right", drop=2),
                        Col("net gain", "right"), Col("allowance / threshold", "right", drop=1),
                        Col("taxable gain", "right")], rows)
    years_of: dict[str, list[str]] = {}
    for s in summaries:
        for note in s.notes:
            years_of.setdefault(str(note), []).append(s.year)
    for note, years in years_of.items():
        where = "" if len(years) == len(summaries) else f" ({', '.join(years)})"
        echo_line(f"note{where}: {note}")


def _money(value: Any) -> Any:
    from decimal import Decimal

    from taxreport.model.money import money_str

    if isinstance(value, Decimal):
        return money_str(value)
    if isinstance(value, dict):
        return {k: (str(int(v)) if k == "count" else _money(v)) for k, v in value.items()}
    return value


def summary_json(summary) -> dict[str, Any]:  # noqa: ANN001 - YearSummary
    """The ``--format json`` document (amounts rounded to the cent here, quantities exact)."""
    return _summary_json(summary, [_disposal_json(d) for d in summary.disposals])


def _summary_json(summary, disposals: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: ANN001 - YearSummary
    """:func:`summary_json` with ``disposals`` as its list of disposals."""
    from taxreport.jurisdictions.income import income_json
    from taxreport.model.money import money_str
    from taxreport.simulated import banner_note

    return {
        "jurisdiction": summary.jurisdiction, "currency": summary.currency, "method": summary.method,
        "year": summary.year, "year_start": summary.year_start, "year_end": summary.year_end,
        "proceeds": money_str(summary.proceeds), "cost": money_str(summary.cost), "gain": money_str(summary.gain),
        "gains": money_str(summary.gains), "losses": money_str(summary.losses),
        "allowance": money_str(summary.allowance), "taxable_gain": money_str(summary.taxable_gain),
        "breakdown": _money(summary.breakdown.as_dict()),  # the typed breakdown's fields, same keys
        "disposals": disposals,
        "notes": list(summary.notes),
        # events helper (issue #12): income as income; SIMULATED when simulated accounts were put in
        "income": income_json(summary.income) if summary.income is not None else None,
        "simulated": bool(banner_note(summary.notes)),  # the banner by its note code
    }


def _disposal_json(d) -> dict[str, Any]:  # noqa: ANN001 - DisposalResult
    """One disposal of the ``--format json`` document."""
    from taxreport.model.money import decimal_str, money_str

    return {
        "time": d.time, "account": d.account, "asset": d.asset, "quantity": decimal_str(d.quantity),
        "proceeds": money_str(d.proceeds), "cost": money_str(d.cost), "gain": money_str(d.gain),
        "term": d.term, "rule": d.rule, "exempt": d.exempt, "ref": d.event_key, "role": d.role,
        **({"adjustment": money_str(d.adjustment), "adjustment_code": d.adjustment_code}
           if d.adjustment or d.adjustment_code else {}),
        "lots": [{"quantity": decimal_str(m.quantity), "cost": money_str(m.cost), "acquired_at": m.acquired_at,
                  "account": m.account, "lot": m.lot_ref, "rule": m.rule} for m in d.lots],
    }


DISPOSALS_PER_PIECE = 4096  # disposals turned into JSON at a time by summary_document


def summary_document(summary) -> list[bytes]:  # noqa: ANN001 - YearSummary
    """The bytes of ``json_text(summary_json(summary))`` as a list of pieces (see :func:`document_pieces`)."""
    return list(document_pieces(summary))


def document_pieces(summary) -> Iterator[bytes]:  # noqa: ANN001 - YearSummary
    """The bytes of ``json_text(summary_json(summary))``, in pieces made one at a time (their concatenation is
    that document, byte for byte), so the whole document never exists as Python objects, nor as text, nor as
    bytes: the disposals are turned into dicts and encoded :data:`DISPOSALS_PER_PIECE` at a time (a 1M-trade
    year is ~130 MB of JSON; its dicts were ~210 MB more, and its str and bytes copies 260 MB). The pieces are
    what orjson writes for the whole document with ``OPT_INDENT_2``: the document without its disposals, then
    each block of disposals encoded as a top-level list, its brackets removed and every line indented two more
    spaces (a JSON string never holds a raw newline, so every newline is a line of the layout). A document
    whose outline orjson refuses is written by :func:`json_text`, as before; a block of disposals it refuses (a
    lone surrogate in a name) raises what the former writer raised for it. Each block is written by
    :class:`taxreport.cli.gains_document.DisposalWriter` (field by field, msgspec's encoder and layout: the same
    bytes), and by the dicts-and-orjson writer only when it declines the block (a value of another type)."""
    import orjson

    from taxreport.cli.common import _ORJSON_OPTIONS, _json_default

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS)

    disposals = summary.disposals
    slot = b'\n  "disposals": [],\n'
    try:
        outline = dumps(_summary_json(summary, []))
        at = outline.find(slot)  # the top-level key (indented two spaces), once: keys are unique
        if disposals and (at < 0 or outline.find(slot, at + 1) >= 0):
            raise TypeError("unexpected layout")
    except (orjson.JSONEncodeError, TypeError):
        yield json_text(summary_json(summary)).encode()
        return
    if not disposals:
        yield outline
        return
    from taxreport.cli.gains_document import DisposalWriter

    yield outline[:at] + b'\n  "disposals": [\n'
    writer = DisposalWriter()
    for i in range(0, len(disposals), DISPOSALS_PER_PIECE):
        part = disposals[i:i + DISPOSALS_PER_PIECE]
        text = writer.block(part)
        if text is not None:
            if i:
                yield b",\n"
            yield text
            continue
        try:  # a value of an unexpected type or a string orjson must look at: the general writer
            block = dumps([_disposal_json(d) for d in part])  # b"[\n  {...}\n]"
        except (orjson.JSONEncodeError, TypeError) as exc:
            json_text(summary_json(summary)).encode()  # raises what the former writer raised (UnicodeEncodeError)
            from taxreport.errors import TaxreportError

            raise TaxreportError(f"the gains document cannot be written as JSON ({exc})") from None
        yield (b",\n  " if i else b"  ") + block[2:-2].replace(b"\n", b"\n  ")
    yield b"\n  ],\n" + outline[at + len(slot):]


def _print(data: dict[str, Any], detail: bool) -> None:
    cur = data["currency"]
    title = f"{data['jurisdiction'].upper()} capital gains, tax year {data['year']}, {cur}, method {data['method']}"
    rows = [("year start (UTC)", data["year_start"].isoformat()),
            ("year end (UTC, exclusive)", data["year_end"].isoformat()),
            ("disposals", str(len(data["disposals"]))), ("proceeds", data["proceeds"]), ("cost", data["cost"]),
            ("gains", data["gains"]), ("losses", data["losses"]), ("net gain", data["gain"]),
            ("allowance / threshold", data["allowance"]), ("taxable gain", data["taxable_gain"])]
    for key, value in data["breakdown"].items():
        if isinstance(value, dict) and "gain" in value:
            rows.append((f"{key}: proceeds / cost / gain ({value.get('count', '')} rows)",
                         f"{value['proceeds']} / {value['cost']} / {value['gain']}"))
        elif not isinstance(value, dict):
            rows.append((key, str(value)))
        elif value and all(isinstance(v, dict) for v in value.values()):  # e.g. the SA108 30 Oct 2024 split
            rows.extend((f"{key}: {k}", ", ".join(f"{a}={b}" for a, b in v.items())) for k, v in value.items())
        else:
            rows.append((key, ", ".join(f"{k}={v}" for k, v in value.items())))
    if data.get("simulated"):  # events helper (issue #12)
        title = "SIMULATED (not a tax figure): " + title
    income = data.get("income")
    if income and income["items"]:  # events helper (issue #12)
        rows.append((f"income ({income['category']})", income["total"]))
        rows.extend((f"  income: {k}", v) for k, v in income["by_type"].items())
        if income["not_income"] != "0.00":
            rows.append(("  received, not income here", income["not_income"]))
        rows.append(("  taxable income", income["taxable"]))
    print_table(title, [Col("", wrap=True), Col(cur, "right", wrap=True, unit=", ")], rows)
    if detail:
        drows = []
        for d in data["disposals"]:
            head = [d["time"], d["account"], d["asset"], d["quantity"], d["proceeds"], d["cost"], d["gain"],
                    d["term"] or d["rule"], d["ref"]]
            for i, m in enumerate(d["lots"] or [{}]):
                lot = (f"{m['quantity']} @ {m['cost']} {m['rule']}"
                       f"{' ' + str(m['acquired_at'].date()) if m.get('acquired_at') else ''} "
                       f"{m['lot'] or '(pool)'}") if m else ""
                drows.append((head if i == 0 else [""] * len(head)) + [lot])
        # on 80 columns the ref goes first, then the account, then the lots (--format json has them all)
        print_table("Disposals and matched lots", [
            Col("time", wrap=True), Col("account", drop=2), Col("asset"), Col("quantity", "right"),
            Col("proceeds", "right"), Col("cost", "right"), Col("gain", "right"), Col("term/rule"),
            Col("ref", drop=1), Col("lots", wrap=True, drop=3)], drows)
    for note in data["notes"]:
        echo_line(f"note: {note}")
