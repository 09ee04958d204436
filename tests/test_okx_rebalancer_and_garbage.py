"""OKX import: fills the rebalancer already recorded are not counted twice; garbage never crashes
with a traceback nor writes anything."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxreport.errors import TaxreportError
from taxreport.exchanges.base import Fill, Market, Order
from taxreport.importers.okx import import_okx_file
from taxreport.ledger import Ledger
from taxreport.rebalance.journal import Journal

from conftest import FIXTURES

OKX = FIXTURES / "okx"
D = Decimal
OKX_ORDER = "2968046098831663104"  # the Order id in tests/fixtures/okx/t4.csv
MARKET = Market("BTC/EUR", "BTC", "EUR", D("0.00000001"), D("0.1"), None, None, D("0.0008"), D("0.001"))


def _fill(trade_id: str, amount: str, when: datetime) -> Fill:
    return Fill(trade_id=trade_id, order_id=OKX_ORDER, client_order_id="core1r1l0a0", symbol="BTC/EUR",
                side="buy", amount=D(amount), price=D("95264.8"), fee=D("0.00016091"), fee_asset="BTC",
                time=when)


WHEN = datetime(2025, 10, 20, 10, 44, 26, 412000, tzinfo=timezone.utc)


def test_fill_of_a_rebalancer_order_is_reported_not_imported(ledger):
    journal = Journal(ledger, "core", "okx:main", "okx")
    order = Order(OKX_ORDER, "core1r1l0a0", "BTC/EUR", "buy", "market", D("0.06436375"), None,
                  D("0.06436375"), "closed", WHEN)
    journal.update("core1r1l0a0", "accepted", order)
    journal.fills([_fill("7001", "0.06436375", WHEN)], {"BTC/EUR": MARKET})
    before = ledger.count()
    summary = import_okx_file(ledger, str(OKX / "t4.csv"))
    assert (summary.added, summary.duplicates) == (0, 0)
    ((origin, reason),) = summary.already_recorded
    assert origin.endswith("t4.csv:2,3")
    assert reason == f"already recorded by the rebalancer: OKX order {OKX_ORDER} is its order core1r1l0a0"
    assert ledger.count() == before


def test_same_fill_without_order_record_is_recognised(ledger):
    # no order.update record (e.g. a crash between fill and record): the fill itself matches
    Journal(ledger, "core", "okx:main", "okx").fills([_fill("7001", "0.06436375", WHEN)], {"BTC/EUR": MARKET})
    summary = import_okx_file(ledger, str(OKX / "t4.csv"))
    assert summary.added == 0
    ((_, reason),) = summary.already_recorded
    assert reason == "already recorded by the rebalancer: same fill as trade:okx:7001"


def test_different_fill_or_other_account_is_imported(ledger):
    journal = Journal(ledger, "core", "okx:main", "okx")
    journal.fills([_fill("7001", "0.05", WHEN)], {"BTC/EUR": MARKET})  # another quantity
    assert import_okx_file(ledger, str(OKX / "t4.csv")).added == 1
    # a matching fill in ANOTHER account does not hide this account's fill
    other = Journal(ledger, "core2", "okx:sub", "okx")
    other.fills([_fill("7002", "0.06436375", WHEN)], {"BTC/EUR": MARKET})
    s = import_okx_file(ledger, str(OKX / "t4_multifill.csv"))
    assert s.added == 3 and not s.already_recorded


# --- garbage -------------------------------------------------------------------------------------

T4H = ("id,Order id,Time,Trade Type,Symbol,Action,Amount,Trading Unit,Filled Price,PnL,Fee,Fee Unit,"
       "Position Change,Position Balance,Balance Change,Balance,Balance Unit")
NUMERIC_COLUMNS = (6, 8, 10, 14)  # Amount, Filled Price, Fee, Balance Change

cell = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(["", "0E-8", "1e999", "NaN", "-0", "Spot", "Transfer", "Buy", "Sell", "BTC-USDT",
                     "2025-01-01 00:00:00", "2025-13-40 25:61:61", "\ufeff", "1,5", "Infinity", "BTC",
                     "1E+999999", "9999-12-31 23:59:59", "0001-01-01 00:00:00", "-1E-999999"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=8).map(str),
)
rows = st.lists(st.lists(cell, min_size=0, max_size=19), min_size=1, max_size=6)


@pytest.fixture(scope="module")
def shared_ledger(tmp_path_factory):
    led = Ledger(f"sqlite:///{tmp_path_factory.mktemp('garbage') / 'l.sqlite3'}")
    yield led
    led.close()


def _csv(cells: list[str]) -> str:
    return ",".join('"' + c.replace('"', '""') + '"' if any(x in c for x in ',"\n\r') else c for c in cells)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(["", "\ufeff", "UID:1,Account Type:Main,Time Zone:UTC+8\n", "UID:2,,,\n"]),
       header=st.sampled_from([T4H, "id,Time,Type,Amount,Before Balance,After Balance,Symbol",
                               "time,type,size,balance,fee,currency", "garbage,header"]),
       body=rows)
def test_garbage_rows_never_crash_and_never_write(shared_ledger, tmp_path_factory, prefix, header, body):
    path = tmp_path_factory.mktemp("g") / "garbage.csv"
    path.write_text(prefix + header + "\n" + "\n".join(_csv(r) for r in body) + "\n", encoding="utf-8")
    before = shared_ledger.count()
    try:
        summary = import_okx_file(shared_ledger, str(path))
    except TaxreportError:
        assert shared_ledger.count() == before
    else:  # garbage that happens to be a valid file is fine; it must then add what it says
        assert shared_ledger.count() == before + summary.added


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_random_bytes_never_crash(shared_ledger, tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("b") / "bytes.csv"
    path.write_bytes(raw)
    before = shared_ledger.count()
    with pytest.raises(TaxreportError):
        import_okx_file(shared_ledger, str(path))
    assert shared_ledger.count() == before


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(min_value=0, max_value=5), column=st.sampled_from(NUMERIC_COLUMNS),
       junk=st.text(alphabet="abcxyz!?# ", min_size=1, max_size=8))
def test_one_bad_number_refuses_the_whole_file(shared_ledger, tmp_path_factory, row, column, junk):
    lines = (OKX / "t4_multifill.csv").read_text(encoding="utf-8").splitlines()
    cells = lines[2 + row].split(",")
    cells[column] = junk
    lines[2 + row] = ",".join(cells)
    path = tmp_path_factory.mktemp("c") / "bad.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = shared_ledger.count()
    with pytest.raises(TaxreportError) as info:
        import_okx_file(shared_ledger, str(path))
    assert f"bad.csv:{3 + row}: " in str(info.value)
    assert shared_ledger.count() == before


def test_deposit_already_recorded_by_hand_is_not_doubled(ledger):
    from taxreport.model.events import Deposit

    # f2.csv line 3: Deposit 0.0001 BTC at 2025-10-31 11:54:20 UTC+8 = 03:54:20 UTC
    ledger.append([Deposit(time=datetime(2025, 10, 31, 3, 58, tzinfo=timezone.utc), source="manual",
                           external_id="dep-1", account="okx:main", asset="BTC", quantity=D("0.0001"))],
                  actor="manual:test", reason="recorded by hand")
    summary = import_okx_file(ledger, str(OKX / "f2.csv"))
    assert summary.added == 4  # the other deposit, the withdrawal and two income rows
    ((origin, reason),) = summary.already_recorded
    assert origin.endswith("f2.csv:3")
    assert reason == "already recorded: same deposit as deposit:manual:dep-1 (2025-10-31 03:58:00Z)"
    again = import_okx_file(ledger, str(OKX / "f2.csv"))
    assert (again.added, again.duplicates, len(again.already_recorded)) == (0, 4, 1)


@pytest.mark.parametrize("column, value, reason", [
    (6, "1E+999999", "'1E+999999' is out of range"),
    (14, "-1E-999999", "'-1E-999999' is out of range"),
    (2, "9999-12-31 23:59:59", "is not a valid date and time"),  # UTC-5 -> past year 9999
])
def test_extreme_values_are_input_errors(ledger, tmp_path, column, value, reason):
    lines = (OKX / "t4_overlap_janfeb.csv").read_text(encoding="utf-8").splitlines()
    cells = lines[2].split(",")
    cells[column] = value
    lines[2] = ",".join(cells)
    path = tmp_path / "x.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TaxreportError) as info:
        import_okx_file(ledger, str(path))
    assert "x.csv:3: " in str(info.value) and reason in str(info.value)
    assert ledger.count() == 0
