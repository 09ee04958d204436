"""The filing forms obey their own printed arithmetic, from the CLI (QA round 12, the accountant's journey).

A client ledger (bot trades quoted in USDT, a USD account, an own transfer with a fee, a gift, a withdrawal
fee; amounts with sub-cent parts as real fills have) exported with ``taxreport export form8949|hmrc``:

* Form 8949, column (h) heading: "Gain or (loss). Subtract column (e) from column (d) and combine the
  result with column (g)"; line 2: "Totals. Add the amounts in columns (d), (e), (g), and (h) (subtract
  negative amounts). Enter each total here and include on your Schedule D, line 1b (if Box A above is
  checked), line 2 (if Box B above is checked), or line 3 (if Box C above is checked)" (IRS Form 8949).
  Before the fix the 2024 row "1.5 ETH" printed (d) 3447.05, (e) 3003.00 and (h) 444.04 (the exact
  gain 444.041997 rounded on its own), and the 2025 box K totals printed (e) 10341.09 and (h) 7379.41
  under rows adding up to 10341.08 and 7379.42.
* The HMRC computation: allowable costs = matched cost + disposal costs and gain = proceeds - allowable
  costs on every printed row (before: 2024-25 row 1 printed 2729.34 - 1910.24 as 819.11), SA108's
  "Number of disposals" box, and in 2024-25 the gains and losses before / on or after 30 October 2024
  (both missing before).
* Cross-check: the (d) and (e) totals and SA108's proceeds and allowable costs equal ``taxreport gains
  --format json`` to the cent.
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root

EVENTS = """\
type,timestamp,account,asset,quantity,side,base,quote,price,fee,fee_asset,cost,cost_currency,income_type,value,value_currency,to_account,id
deposit,2023-03-01T10:00:00Z,okx:bot,USDT,20000,,,,,,,20000,USD,,,,,dep-1
trade,2023-03-02T12:00:00Z,okx:bot,,0.3,buy,BTC,USDT,23000,6.9,USDT,,,,,,,t-1
trade,2023-03-02T12:01:00Z,okx:bot,,4,buy,ETH,USDT,1600,0.004,ETH,,,,,,,t-2
trade,2023-11-20T12:01:00Z,kraken:main,,0.2,buy,BTC,USD,37000.37,7.41,USD,,,,,,,k-1
trade,2024-02-10T09:00:00Z,okx:bot,,0.1,sell,BTC,USDT,47000,4.7,USDT,,,,,,,t-3
trade,2024-08-05T16:20:00Z,okx:bot,,1.5,sell,ETH,USDT,2300.33,3.45,USDT,,,,,,,t-4
trade,2024-08-06T01:20:00Z,okx:bot,,0.05,buy,BTC,USDT,54000.11,0.00005,BTC,,,,,,,t-5
trade,2024-12-31T23:30:00Z,kraken:main,,0.1,sell,BTC,USD,35000,3.5,USD,,,,,,,k-2
trade,2025-03-03T10:00:00Z,okx:bot,,0.15,sell,BTC,USDT,90000,13.5,USDT,,,,,,,t-6
transfer,2025-04-01T10:00:00Z,okx:bot,ETH,1,,,,,0.01,,,,,,,kraken:main,tr-1
gift-out,2025-05-01T10:00:00Z,kraken:main,ETH,0.5,,,,,,,,,,900,USD,,g-1
withdrawal,2025-06-01T10:00:00Z,kraken:main,BTC,0.05,,,,,0.0004,,,,,,,,w-1
trade,2025-07-15T14:00:00Z,okx:bot,,1.4,sell,ETH,USDT,3000,6,USDT,,,,,,,t-7
"""
D = Decimal
COLS = ["(d) Proceeds", "(e) Cost or other basis", "(g) Amount of adjustment", "(h) Gain or (loss)"]


def _run(db: Path, *args: str) -> str:
    result = CliRunner().invoke(root, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("qaforms")
    (tmp / "events.csv").write_text(EVENTS)
    lines = ["date,base,quote,rate"]  # SYNTHETIC daily rates: 1 USD = 0.79 GBP; BTC 50,000 and ETH 2,000 USD
    day = date(2023, 1, 1)
    while day <= date(2025, 12, 31):
        lines += [f"{day},USD,GBP,0.79", f"{day},BTC,USD,50000", f"{day},ETH,USD,2000"]
        day += timedelta(days=1)
    (tmp / "rates.csv").write_text("\n".join(lines) + "\n")
    db = tmp / "l.sqlite3"
    _run(db, "import", "csv", str(tmp / "events.csv"))
    _run(db, "prices", "import", str(tmp / "rates.csv"))
    return db


def _num(text: str) -> Decimal:
    return D(text or "0")


@pytest.mark.parametrize("year", ["2024", "2025"])
def test_form8949_rows_and_totals_hold_their_own_arithmetic(ledger: Path, tmp_path: Path, year: str) -> None:
    out = tmp_path / f"f-{year}.csv"
    _run(ledger, "export", "form8949", "-y", year, "--peg", "USDT=USD", "--out", str(out))
    gains = json.loads(_run(ledger, "gains", "-j", "us", "-y", year, "--peg", "USDT=USD", "--format", "json"))
    sums: dict[tuple[str, str], dict[str, Decimal]] = {}
    totals = []
    for row in csv.DictReader(out.open()):
        key = (row["Part"], row["Box"])
        if row["(a) Description of property"] == "Totals":
            assert {c: _num(row[c]) for c in COLS} == sums.pop(key), key  # line 2 = sum of the printed rows
            totals.append(row)
            continue
        d, e, g, h = (_num(row[c]) for c in COLS)
        assert d - e + g == h, row  # column (h) = (d) - (e) + (g) of the printed cells
        acc = sums.setdefault(key, {c: D(0) for c in COLS})
        for c, v in zip(COLS, (d, e, g, h)):
            acc[c] += v
    assert not sums and totals
    terms = {"I": "short", "II": "long"}
    for row in totals:  # one box per term here: its (d) and (e) totals are the gains command's, to the cent
        part = gains["breakdown"][terms[row["Part"]]]
        assert (row["(d) Proceeds"], row["(e) Cost or other basis"]) == (part["proceeds"], part["cost"])


def test_form8949_2024_loss_row_printed_consistently(ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    _run(ledger, "export", "form8949", "-y", "2024", "--peg", "USDT=USD", "--out", str(out))
    eth = next(r for r in csv.DictReader(out.open()) if r["(a) Description of property"] == "1.5 ETH")
    # proceeds 1.5 x 2300.33 = 3450.495 - 3.45 fee = 3447.045 -> 3447.05; cost: the 4 ETH bought for USDT are
    # valued at their market value 4 x 2000 = 8000 and the 0.004 ETH fee leaves 3.996 ETH, so 1.5 ETH cost
    # 8000 x 1.5 / 3.996 = 3003.003003 -> 3003.00; (h) = 3447.05 - 3003.00 = 444.05 (the exact gain
    # 444.041997 printed on its own, 444.04, was what the row showed before)
    assert (eth["(d) Proceeds"], eth["(e) Cost or other basis"], eth["(h) Gain or (loss)"]) == \
        ("3447.05", "3003.00", "444.05")


def test_hmrc_rows_hold_their_arithmetic_and_sa108_boxes(ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "h.csv"
    _run(ledger, "export", "hmrc", "-y", "2024-25", "--via", "USD", "--peg", "USDT=USD", "--out", str(out))
    gains = json.loads(_run(ledger, "gains", "-j", "uk", "-y", "2024-25", "--via", "USD", "--peg", "USDT=USD",
                            "--format", "json"))
    rows = list(csv.DictReader(out.open()))
    parts = [r for r in rows if r["#"] != "Total"]
    for r in parts:
        assert _num(r["Matched cost"]) + _num(r["Disposal costs"]) == _num(r["Allowable costs"]), r
        assert _num(r["Disposal proceeds"]) - _num(r["Allowable costs"]) == _num(r["Gain or loss"]), r
    totals = {r["Token"]: r for r in rows if r["#"] == "Total"}
    b = gains["breakdown"]
    assert totals["Number of disposals (SA108)"]["Matching rule"] == str(b["sa108_number_of_disposals"]) == "5"
    proceeds = totals["Total disposal proceeds (SA108)"]["Disposal proceeds"]
    allowable = totals["Total allowable costs (SA108)"]["Allowable costs"]
    assert (proceeds, allowable) == (b["sa108_disposal_proceeds"], b["sa108_allowable_costs"])
    assert D(proceeds) == sum((_num(r["Disposal proceeds"]) for r in parts), D(0))
    assert D(allowable) == sum((_num(r["Allowable costs"]) for r in parts), D(0))
    assert totals["Gains in the year, before losses (SA108)"]["Gain or loss"] == b["sa108_gains_before_losses"]
    assert totals["Annual exempt amount"]["Gain or loss"] == "3000.00"  # 2024-25 AEA (gov.uk CGT allowances)
    # 2024-25: the CGT rates changed on 30 October 2024 and SA108 2024-25 asks for the gains and losses on or
    # after it apart (box 51's adjustment): the ETH sale (5 Aug) and the USDT disposal (6 Aug, a loss) before;
    # the BTC sales of 31 Dec and 3 Mar and the 1 Apr transfer fee on or after
    split = b["sa108_rate_change_split"]
    assert totals["Gains before 30 Oct 2024"]["Gain or loss"] == split["before 30 Oct 2024"]["gains"]
    assert totals["Losses before 30 Oct 2024"]["Gain or loss"] == "-" + split["before 30 Oct 2024"]["losses"]
    assert totals["Gains on or after 30 Oct 2024"]["Gain or loss"] == split["on or after 30 Oct 2024"]["gains"]
    assert split["before 30 Oct 2024"]["count"] == "2" and split["on or after 30 Oct 2024"]["count"] == "3"


def test_form8949_command_shows_the_schedule_d_lines(ledger: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Form 8949 line 2: "include on your Schedule D, line 1b (if Box A or Box G above is checked), line 2 (if
    # Box B or Box H above is checked), or line 3 (if Box C or Box I above is checked)"; Part II: "line 8b (if
    # Box D or Box J ...), line 9 (if Box E or Box K ...), or line 10 (if Box F or Box L above is checked)"
    from taxreport.reports.form8949 import SCHEDULE_D_LINE

    assert SCHEDULE_D_LINE == {"A": "1b", "G": "1b", "B": "2", "H": "2", "C": "3", "I": "3",
                               "D": "8b", "J": "8b", "E": "9", "K": "9", "F": "10", "L": "10"}
    monkeypatch.setenv("COLUMNS", "200")  # one table line per row
    out = _run(ledger, "export", "form8949", "-y", "2024", "--peg", "USDT=USD", "--out", str(tmp_path / "f.csv"))
    table = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in out.splitlines() if line.startswith("│")}
    # 2024, no 1099: box C (short) on line 3, box F (long) on line 10; the figures are the CSV's Totals rows
    assert table["3"] == ["Part I, box C", "1", "4695.30", "5002.30", "0.00", "-307.00"]
    assert table["10"] == ["Part II, box F", "3", "9443.55", "9406.75", "0.00", "36.80"]
    totals = [r for r in csv.DictReader((tmp_path / "f.csv").open()) if r["(a) Description of property"] == "Totals"]
    assert [(r["Box"], r["(h) Gain or (loss)"]) for r in totals] == [("C", "-307.00"), ("F", "36.80")]
    empty = _run(ledger, "export", "form8949", "-y", "2026", "--peg", "USDT=USD", "--out", str(tmp_path / "e.csv"))
    assert "no disposals in the year" in empty and (tmp_path / "e.csv").read_text().count("\n") == 1
