"""The derived-state cache (taxreport/ledger/derived.py): a result is computed once per ledger state and
never served after any append, any new rate, or any change of the code; the cached value is the same
number, to the cent, as a fresh computation."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from taxreport.cli.gains_cmd import summary_json
from taxreport.errors import LedgerError
from taxreport.gains import GainsRequest, compute_gains, gains_for
from taxreport.ledger import Ledger, derived
from taxreport.ledger.derived import DerivedCache
from taxreport.model import D, Trade
from taxreport.prices.store import RateRow, write_rates

T0 = datetime(2024, 1, 2, tzinfo=timezone.utc)


def trade(i: int, side: str, qty: str, price: str) -> Trade:
    return Trade(time=T0 + timedelta(days=i), source="test", external_id=str(i), account="kraken:main", side=side,
                 base="BTC", quote="USD", quantity=D(qty), price=D(price), fee=D("1"), fee_asset="USD")


@pytest.fixture(autouse=True)
def settled(monkeypatch):
    """Every call here happens as if a minute after the last write (a SQLite state younger than
    SETTLE_SECONDS is not stored; test_a_state_still_settling_is_not_stored checks that on the real clock)."""
    monkeypatch.setattr(derived, "_now", lambda: time.time() + 60)


@pytest.fixture
def led(tmp_path):
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as ledger:
        yield ledger


def gains_2024(ledger: Ledger, cache: DerivedCache, calls: list[int]) -> Decimal:
    def compute():
        calls.append(1)
        return compute_gains(ledger, jurisdiction="us", year="2024")
    return cache.get_or_compute("gains", {"j": "us", "year": "2024"}, compute).gain


def test_a_result_is_computed_once_per_ledger_state_and_again_after_any_append(led, tmp_path):
    cache, calls = DerivedCache(led, tmp_path / "cache"), []
    led.append([trade(0, "buy", "1", "100"), trade(1, "sell", "0.5", "300")], actor="importer:t", reason="r")
    # FIFO: sell 0.5 BTC at 300 (proceeds 150 - 1 fee = 149) out of 1 BTC bought for 100 + 1 fee (cost 101,
    # half of it 50.5): gain 149 - 50.5 = 98.5
    assert gains_2024(led, cache, calls) == D("98.5") and len(calls) == 1
    assert gains_2024(led, cache, calls) == D("98.5") and len(calls) == 1  # served from the cache
    assert gains_2024(led, DerivedCache(led, tmp_path / "cache"), calls) == D("98.5") and len(calls) == 1
    # another process appends: a new state, so the result is computed again (and is different)
    with Ledger(led.url) as other:
        other.append([trade(2, "sell", "0.5", "50")], actor="importer:t", reason="r")
    # second sale: 25 - 1 = 24 proceeds, cost 50.5: -26.5; year total 98.5 - 26.5 = 72
    assert gains_2024(led, cache, calls) == D("72") and len(calls) == 2
    assert gains_2024(led, cache, calls) == D("72") and len(calls) == 2
    assert len(list(cache.folder.glob("*.pickle"))) == 1  # the old state's entry was removed
    assert cache.hits == 2 and cache.misses == 2  # (one more hit went to the second instance)


def test_new_rates_and_changed_code_are_new_states_too(led, tmp_path, monkeypatch):
    cache, calls = DerivedCache(led, tmp_path / "cache"), []
    led.append([trade(0, "buy", "1", "100")], actor="importer:t", reason="r")
    first = derived.ledger_state(led)
    write_rates(led, [RateRow("USD", "GBP", T0, D("0.8"), "test")])
    assert derived.ledger_state(led) != first
    second = derived.ledger_state(led)
    monkeypatch.setattr(derived, "_code_version", "an edited rule")
    assert derived.ledger_state(led) != second
    cache.get_or_compute("x", {}, lambda: calls.append(1))
    cache.get_or_compute("x", {}, lambda: calls.append(1))
    cache.get_or_compute("x", {"other": "request"}, lambda: calls.append(1))
    assert len(calls) == 2


def test_a_corrupt_or_unwritable_cache_only_costs_a_recomputation(led, tmp_path, monkeypatch):
    cache, calls = DerivedCache(led, tmp_path / "cache"), []
    assert cache.get_or_compute("x", {}, lambda: calls.append(1) or 42) == 42
    (entry,) = cache.folder.glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    assert cache.get_or_compute("x", {}, lambda: calls.append(1) or 42) == 42 and len(calls) == 2
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    off = DerivedCache(led, tmp_path / "cache")
    assert off.get_or_compute("x", {}, lambda: calls.append(1) or 42) == 42 and len(calls) == 3


# --- gains_for through the cache (the hook in taxreport/gains.py) -------------------------------------------

def request(year: str = "2024") -> GainsRequest:
    return GainsRequest(jurisdiction="us", year=year)


def history(ledger: Ledger) -> None:
    ledger.append([trade(0, "buy", "1", "100"), trade(1, "sell", "0.5", "300")], actor="importer:t", reason="r")


def count_walks(monkeypatch) -> list[int]:
    walks: list[int] = []
    original = Ledger.verified_events

    def walk(self):  # noqa: ANN001, ANN202
        walks.append(1)
        return original(self)
    monkeypatch.setattr(Ledger, "verified_events", walk)
    return walks


def test_a_repeated_gains_for_is_served_without_walking_the_chain_and_equals_a_fresh_one(any_ledger, monkeypatch):
    history(any_ledger)
    walks = count_walks(monkeypatch)
    first = gains_for(any_ledger, request())
    # same sale as above: proceeds 300 x 0.5 - 1 = 149, cost (100 + 1) / 2 = 50.5, gain 98.5
    assert (first.proceeds, first.cost, first.gain) == (D("149"), D("50.5"), D("98.5")) and len(walks) == 1
    with Ledger(any_ledger.url) as again:  # a new command on the unchanged ledger
        second = gains_for(again, request())
        assert again._derived_cache.hits == 1
    assert len(walks) == 1  # no walk on a hit
    assert summary_json(second) == summary_json(first)
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    with Ledger(any_ledger.url) as fresh:
        assert summary_json(gains_for(fresh, request())) == summary_json(first)
    assert len(walks) == 2
    gains_for(any_ledger, request("2025"))  # another request is another entry
    assert len(walks) == 3


def test_any_append_is_a_new_state(any_ledger, monkeypatch):
    history(any_ledger)
    walks = count_walks(monkeypatch)
    assert gains_for(any_ledger, request()).gain == D("98.5")
    with Ledger(any_ledger.url) as other:
        other.append([trade(2, "sell", "0.5", "50")], actor="importer:t", reason="r")
    # second sale: 25 - 1 = 24 proceeds, cost 50.5: -26.5; year 98.5 - 26.5 = 72
    assert gains_for(any_ledger, request()).gain == D("72") and len(walks) == 2
    assert gains_for(any_ledger, request()).gain == D("72") and len(walks) == 2


def edit_behind_the_chain(url: str) -> None:
    """What a user with a database tool does: rewrite an earlier row's payload (sold 0.5 -> 0.4), leaving its
    hash, the row count and the chain head as they were."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET payload = replace(payload, '\"0.5\"', '\"0.4\"') WHERE seq = 2"))
    engine.dispose()


def test_a_row_edited_behind_the_chain_is_refused_although_the_head_and_count_are_unchanged(any_ledger):
    history(any_ledger)
    assert gains_for(any_ledger, request()).gain == D("98.5")  # verified and stored
    head, count = any_ledger.head(), any_ledger.count()
    edit_behind_the_chain(any_ledger.url)
    assert (any_ledger.head(), any_ledger.count()) == (head, count)
    for led in (any_ledger, Ledger(any_ledger.url)):
        with pytest.raises(LedgerError, match="row 2 was edited"):
            gains_for(led, request())
    assert not any_ledger.verify().ok


def test_a_state_read_right_after_a_write_is_stored_and_served_only_while_its_content_is_unchanged(tmp_path,
                                                                                                     monkeypatch):
    """On the real clock, right after the ledger was written and closed (file times younger than
    SETTLE_SECONDS, no log open): the state is stored at once with a digest of the files' content, and a hit
    is served only while the content is byte for byte the same. An edit behind the chain made in the same
    clock tick (here: file witnesses held as they were, as a coarse clock leaves them) is a miss, and the
    walk refuses the ledger. While a log is held (an open writer), the wal-index change counter witnesses
    every commit: no content is read."""
    monkeypatch.setattr(derived, "_now", time.time)  # the real clock: the ledger was written just now
    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    digests: list[int] = []
    original_digest = derived._content_digest

    def counted_digest(path):  # noqa: ANN001, ANN202
        digests.append(1)
        return original_digest(path)
    monkeypatch.setattr(derived, "_content_digest", counted_digest)
    with Ledger(url) as writer:
        history(writer)
        walks = count_walks(monkeypatch)
        gains_for(writer, request())
        gains_for(writer, request())
        assert len(walks) == 1 and writer._derived_cache.hits == 1  # the open log's counter covers it
        assert digests == []
    with Ledger(url) as fresh:  # closed: the log was checkpointed into the file just now
        assert derived._young(derived._file_witness(fresh_path := tmp_path / "s.sqlite3")[1], time.time())
        assert gains_for(fresh, request()).gain == D("98.5")
        assert len(walks) == 2 and digests  # a new command (new code state for the closed file): walked once
    held = derived._file_witness(fresh_path)
    with Ledger(url) as again:
        assert gains_for(again, request()).gain == D("98.5")
        assert len(walks) == 2 and again._derived_cache.hits == 1  # same content: served without a walk
    monkeypatch.setattr(derived, "_file_witness", lambda path: held)  # the edit below leaves every time as is
    edit_behind_the_chain(url)
    with Ledger(url) as edited:
        with pytest.raises(LedgerError, match="row 2 was edited"):
            gains_for(edited, request())
    assert len(walks) == 3
    assert derived.ledger_state(Ledger("sqlite://")) is None  # an in-memory ledger is never cached


def test_a_young_state_is_marked_settled_once_a_later_read_finds_its_files_old_and_its_content_the_same(
        tmp_path, monkeypatch):
    monkeypatch.setattr(derived, "_now", time.time)
    url = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    with Ledger(url) as writer:
        history(writer)
    with Ledger(url) as fresh:
        gains_for(fresh, request())
        state = fresh._derived_cache.folder
    (record,) = state.glob("*.state")
    assert json.loads(record.read_text())["digest"] is not None  # stored young, with its content digest
    monkeypatch.setattr(derived, "_now", lambda: time.time() + 60)  # a minute later
    digests: list[int] = []
    original_digest = derived._content_digest
    monkeypatch.setattr(derived, "_content_digest", lambda path: digests.append(1) or original_digest(path))
    with Ledger(url) as later:
        assert gains_for(later, request()).gain == D("98.5") and later._derived_cache.hits == 1
    assert digests == [1]  # the content read once, to settle the record
    assert json.loads(record.read_text()) == {"digest": None}
    with Ledger(url) as settled:
        assert gains_for(settled, request()).gain == D("98.5") and settled._derived_cache.hits == 1
    assert digests == [1]  # a settled state reads no content


def test_a_repeated_gains_json_command_prints_the_stored_document_and_a_tampered_ledger_is_refused(tmp_path,
                                                                                                   monkeypatch):
    from click.testing import CliRunner

    import taxreport.gains
    from taxreport.cli.main import root

    db = str(tmp_path / "cli.sqlite3")
    with Ledger(f"sqlite:///{db}") as led:
        history(led)
    args = ["--db", db, "gains", "-j", "us", "-y", "2024", "--format", "json"]
    first = CliRunner().invoke(root, args)
    assert first.exit_code == 0 and '"gain": "98.50"' in first.output

    def no_computation(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("computed again on an unchanged ledger")
    with monkeypatch.context() as m:
        m.setattr(taxreport.gains, "gains_for", no_computation)
        again = CliRunner().invoke(root, args)
        assert again.exit_code == 0, again.output
        assert again.output == first.output
    edit_behind_the_chain(f"sqlite:///{db}")
    refused = CliRunner().invoke(root, args)
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines()[-1].startswith("error: the ledger's hash chain does not verify (row 2 "
                                                               "was edited")


# --- a one-year miss fills every year (taxreport/gains.py gains_for) -----------------------------------------

def two_years(ledger: Ledger) -> None:
    """A buy and a sale in 2024, a sale in 2025 (days counted from 2 Jan 2024)."""
    ledger.append([trade(0, "buy", "1", "100"), trade(1, "sell", "0.5", "300"), trade(400, "sell", "0.25", "500")],
                  actor="importer:t", reason="r")


def test_a_one_year_miss_stores_every_year_and_the_next_year_is_a_hit_equal_to_a_fresh_one(any_ledger, monkeypatch):
    two_years(any_ledger)
    walks = count_walks(monkeypatch)
    first = gains_for(any_ledger, request("2024"))
    # 2024: proceeds 300 x 0.5 - 1 = 149, cost (100 + 1) / 2 = 50.5, gain 98.5
    assert (first.proceeds, first.cost, first.gain) == (D("149"), D("50.5"), D("98.5")) and len(walks) == 1
    with Ledger(any_ledger.url) as again:  # a new command asks for the other year: stored by the first one
        second = gains_for(again, request("2025"))
        assert (again._derived_cache.hits, again._derived_cache.misses) == (1, 0)
    assert len(walks) == 1
    # 2025: proceeds 500 x 0.25 - 1 = 124, cost (100 + 1) / 4 = 25.25, gain 98.75
    assert (second.proceeds, second.cost, second.gain) == (D("124"), D("25.25"), D("98.75"))
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    with Ledger(any_ledger.url) as fresh:  # each year computed alone, as before
        assert summary_json(gains_for(fresh, request("2025"))) == summary_json(second)
        assert summary_json(gains_for(fresh, request("2024"))) == summary_json(first)


def test_another_year_that_cannot_be_computed_is_not_stored_and_its_own_call_names_the_error(led, monkeypatch):
    from taxreport.errors import MissingDataError

    two_years(led)
    led.append([Trade(time=T0 + timedelta(days=401), source="test", external_id="x", account="kraken:main",
                      side="sell", base="BTC", quote="EUR", quantity=D("0.1"), price=D("400"), fee=D("0"),
                      fee_asset="EUR")], actor="importer:t", reason="r")  # 2025: no EUR->USD rate
    first = gains_for(led, request("2024"))
    assert first.gain == D("98.5")
    with Ledger(led.url) as again, pytest.raises(MissingDataError, match="EUR->USD"):
        gains_for(again, request("2025"))


def test_a_one_year_json_miss_stores_the_other_years_documents_byte_for_byte(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import taxreport.gains
    from taxreport.cli.main import root

    db = str(tmp_path / "docs.sqlite3")
    with Ledger(f"sqlite:///{db}") as led:
        two_years(led)

    def args(year: str) -> list[str]:
        return ["--db", db, "gains", "-j", "us", "-y", year, "--format", "json"]
    first = CliRunner().invoke(root, args("2024"))
    assert first.exit_code == 0 and '"gain": "98.50"' in first.output

    def no_computation(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("computed again on an unchanged ledger")
    with monkeypatch.context() as m:  # 2025's document was stored by the 2024 call: printed as it is
        m.setattr(taxreport.gains, "gains_for", no_computation)
        stored = CliRunner().invoke(root, args("2025"))
        assert stored.exit_code == 0, stored.output
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    fresh = CliRunner().invoke(root, args("2025"))
    assert fresh.exit_code == 0 and stored.output == fresh.output and '"gain": "98.75"' in fresh.output


def test_a_call_right_after_an_import_waits_for_nothing_and_stores_every_year(tmp_path, monkeypatch):
    """On the real clock: a closed ledger written just now; a one-year call sleeps not at all and stores every
    year it computed (witnessed by the content, see above)."""
    monkeypatch.setattr(derived, "_now", time.time)
    url = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    with Ledger(url) as writer:
        two_years(writer)

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"waited {seconds} s")
    monkeypatch.setattr(time, "sleep", no_sleep)
    with Ledger(url) as fresh:  # closed: the log was checkpointed into the file just now
        assert derived._young(derived._file_witness(tmp_path / "w.sqlite3")[1], time.time())
        assert derived.ledger_state(fresh) is not None
        assert gains_for(fresh, request("2024")).gain == D("98.5")
    with Ledger(url) as again:
        assert gains_for(again, request("2025")).gain == D("98.75")
        assert (again._derived_cache.hits, again._derived_cache.misses) == (1, 0)


def test_a_repeated_gains_json_prints_the_stored_document_without_opening_the_ledger_or_importing_sqlalchemy(
        tmp_path):
    """The hit path of ``gains --format json`` (taxreport/ledger/derived.py stored_document): the state read
    with the sqlite3 module, the document printed byte for byte, no SQLAlchemy and no engine imported; any
    change of the ledger is a miss there and the command runs as usual (here: a new row, a new figure)."""
    import subprocess
    import sys

    db = tmp_path / "hit.sqlite3"
    with Ledger(f"sqlite:///{db}") as led:
        two_years(led)
    script = ("import sys, time\nfrom taxreport.ledger import derived\n"
              "derived._now = lambda: time.time() + 60  # as if a minute after the last write\n"
              "from taxreport.cli.main import root\n"
              "try:\n    root.main(sys.argv[1:], prog_name='taxreport')\n"
              "finally:\n    print('imported:', sorted(m.split('.')[0] for m in sys.modules if m.startswith(("
              "'sqlalchemy', 'taxreport.gains', 'taxreport.jurisdictions')))[:1], file=sys.stderr)\n")

    def run(year: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", script, "--db", str(db), "gains", "-j", "us", "-y", year,
                               "--format", "json"], capture_output=True, text=True, timeout=120)
    first = run("2024")
    assert first.returncode == 0, first.stderr
    assert '"gain": "98.50"' in first.stdout and "imported: ['sqlalchemy']" in first.stderr  # computed
    for year in ("2024", "2025"):  # 2025 was stored by the 2024 call
        hit = run(year)
        assert hit.returncode == 0 and "imported: []" in hit.stderr, hit.stderr
    assert run("2024").stdout == first.stdout
    with Ledger(f"sqlite:///{db}") as led:
        led.append([trade(401, "sell", "0.25", "100")], actor="importer:t", reason="r")
    # 2025 now: 124 - 25.25 = 98.75, plus the new sale 100 x 0.25 - 1 = 24 against 25.25: -1.25; 97.50
    changed = run("2025")
    assert changed.returncode == 0 and '"gain": "97.50"' in changed.stdout
    assert "imported: ['sqlalchemy']" in changed.stderr


def many_trades(quote: str, n: int = 120) -> list[Trade]:
    """Buys and sales (several a day, so UK same-day and 30-day matching occur) with quantities and prices of
    varied exponents."""
    import random

    rng = random.Random(7)
    out: list[Trade] = []
    held = D(0)
    for i in range(n):
        when = T0 + timedelta(hours=7 * i)
        price = D(rng.randint(100, 900)) / D(rng.choice([1, 10, 100]))
        if held > D("0.1") and rng.random() < 0.5:
            qty = (held * D(rng.randint(5, 60)) / 100).quantize(D("0.00000001"))
            side, held = "sell", held - qty
        else:
            qty = D(rng.randint(10**5, 10**6)) / D(10 ** rng.randint(3, 5))
            side, held = "buy", held + qty
        out.append(Trade(time=when, source="test", external_id=f"m{i}", account="kraken:main", side=side, base="BTC",
                         quote=quote, quantity=qty, price=price, fee=D(rng.randint(0, 300)) / 100, fee_asset=quote))
    return out


@pytest.mark.parametrize(("jurisdiction", "quote", "year"), [("us", "USD", "2024"), ("uk", "GBP", "2023-24"),
                                                              ("de", "EUR", "2024"), ("au", "AUD", "2023-24"),
                                                              ("ca", "CAD", "2024")])
def test_a_stored_summary_reads_back_exactly_the_computed_one(led, jurisdiction, quote, year):
    """The stored form (disposals and their lots as columns, taxreport/ledger/derived.py _Block) reads back the
    very summary: every field, Decimal exponents and time zones included (repr compares them), and the same
    document."""
    import io

    led.append(many_trades(quote), actor="importer:t", reason="r")
    summary = compute_gains(led, jurisdiction=jurisdiction, year=year)
    assert len(summary.disposals) >= derived.BLOCK_MIN
    buffer = io.BytesIO()
    derived._write_pickle(summary, buffer)
    back = derived._read_pickle(io.BytesIO(buffer.getvalue()))
    assert isinstance(derived._pack(summary).disposals, derived._Block)  # stored as columns
    assert type(back.disposals) is list and all(type(d) is type(summary.disposals[0]) for d in back.disposals)
    assert repr(back) == repr(summary) and back == summary
    assert summary_json(back) == summary_json(summary)

