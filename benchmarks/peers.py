"""The peers of the end-to-end benchmark (issue 14): RP2 (US) and BittyTax (UK), installed from PyPI into a
throwaway venv (``benchmarks/.peers``, git-ignored) and run offline on the history of :mod:`history`.

Inputs written here, from the same rows as taxreport's canonical CSV:

* RP2 (https://github.com/eprbell/rp2, ``docs/input_files.md``): one sheet per asset with an ``IN`` table
  (buys: ``spot_price`` = price, ``crypto_in`` = quantity, ``fiat_fee`` = the USD fee, which RP2 adds to the
  cost basis) and an ``OUT`` table (sells: ``crypto_out_no_fee`` = quantity, ``crypto_fee`` = 0,
  ``fiat_out_no_fee`` = gross minus the USD fee, i.e. the net proceeds taxreport reports, and ``spot_price`` =
  net proceeds / quantity so RP2's consistency check stays quiet), plus the ``.ini`` configuration mapping
  those columns. RP2 reads numeric cells as floats and rounds them to 11 decimals (``ods_parser.py``):
  exact for these 8-decimal quantities and 2-decimal prices.
  The ODS file is written directly (a zip of ``content.xml``), as a spreadsheet would save it.
* BittyTax (https://github.com/BittyTax/BittyTax, README "Transaction records"): one ``Trade`` record per
  row (``Buy Quantity/Asset``, ``Sell Quantity/Asset``, ``Fee Quantity/Asset`` in GBP, ``Wallet``,
  ``Timestamp``), run per tax year with ``-ty YEAR --nopdf`` (no holdings valuation, so no price lookups),
  with ``$HOME`` pointing at a folder holding this benchmark's ``bittytax.conf`` (its defaults, offline).

The figures each peer computes are read back with the peer's own code, outside the timed runs
(:data:`RP2_TOTALS`, :func:`bittytax_totals`).
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Iterable
from xml.sax.saxutils import escape

from history import Row

PEERS = {"rp2": "1.7.2", "BittyTax": "0.6.0"}


def ensure_venv(folder: Path) -> Path:
    """The peers' venv (created and filled with the pinned versions on first use); returns its bin folder."""
    bin_dir = folder / "bin"
    stamp = folder / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q",
                        *(f"{name}=={version}" for name, version in PEERS.items())], check=True)
        stamp.write_text("\n".join(f"{n}=={v}" for n, v in PEERS.items()) + "\n")
    return bin_dir


# --- RP2 -------------------------------------------------------------------------------------------

RP2_INI = """[general]
assets = {assets}
exchanges = Bench
holders = Bench

[in_header]
timestamp = 0
asset = 1
exchange = 2
holder = 3
transaction_type = 4
spot_price = 5
crypto_in = 6
fiat_fee = 7
unique_id = 8

[out_header]
timestamp = 0
asset = 1
exchange = 2
holder = 3
transaction_type = 4
spot_price = 5
crypto_out_no_fee = 6
crypto_fee = 7
fiat_out_no_fee = 8
unique_id = 9

[intra_header]
timestamp = 0
asset = 1
from_exchange = 2
from_holder = 3
to_exchange = 4
to_holder = 5
spot_price = 6
crypto_sent = 7
crypto_received = 8
"""

_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""
_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
       'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
       'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"')
_STYLES = f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-styles {_NS}><office:styles/></office:document-styles>\n'
_META = ('<?xml version="1.0" encoding="UTF-8"?>\n<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:'
         'xmlns:office:1.0" office:version="1.2"><office:meta/></office:document-meta>\n')


def _cell(value: object) -> str:
    if isinstance(value, Decimal):
        return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                f'<text:p>{value}</text:p></table:table-cell>')
    text = escape(str(value))
    return f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'


def _row(values: Iterable[object]) -> str:
    return "<table:table-row>" + "".join(_cell(v) for v in values) + "</table:table-row>\n"


def write_rp2_input(rows: Iterable[Row], ods: Path, ini: Path) -> None:
    """The RP2 ``.ods`` input (one sheet per asset, IN and OUT tables) and its ``.ini`` configuration."""
    ins: dict[str, list[str]] = {}
    outs: dict[str, list[str]] = {}
    for r in rows:
        stamp = r.time.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        if r.side == "buy":
            ins.setdefault(r.asset, []).append(_row((stamp, r.asset, "Bench", "Bench", "BUY", r.price, r.quantity,
                                                     r.fee, f"t{r.index}")))
        else:
            net = r.gross - r.fee
            spot = (net / r.quantity).quantize(Decimal("1E-11"))
            outs.setdefault(r.asset, []).append(_row((stamp, r.asset, "Bench", "Bench", "SELL", spot, r.quantity,
                                                      Decimal(0), net, f"t{r.index}")))
    assets = sorted(ins)
    in_head = _row(("timestamp", "asset", "exchange", "holder", "type", "spot", "crypto_in", "fiat_fee", "id"))
    out_head = _row(("timestamp", "asset", "exchange", "holder", "type", "spot", "crypto_out", "crypto_fee",
                     "fiat_out", "id"))
    with zipfile.ZipFile(ods, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", _MANIFEST)
        z.writestr("styles.xml", _STYLES)
        z.writestr("meta.xml", _META)
        with z.open("content.xml", "w", force_zip64=True) as fh:
            fh.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {_NS}>'
                     '<office:body><office:spreadsheet>\n'.encode())
            for asset in assets:
                fh.write(f'<table:table table:name="{asset}">\n'.encode())
                fh.write((_row(("IN",)) + in_head).encode())
                for line in ins[asset]:
                    fh.write(line.encode())
                fh.write(_row(("TABLE END",)).encode())
                if outs.get(asset):
                    fh.write((_row(("OUT",)) + out_head).encode())
                    for line in outs[asset]:
                        fh.write(line.encode())
                    fh.write(_row(("TABLE END",)).encode())
                fh.write(b"</table:table>\n")
            fh.write(b"</office:spreadsheet></office:body></office:document-content>\n")
    ini.write_text(RP2_INI.format(assets=", ".join(assets)))


# Run with the peers' python after the timed run: RP2's own per-year totals (its ComputedData), as JSON.
RP2_TOTALS = r"""
import json, sys
from rp2.abstract_country import AbstractCountry
from rp2.accounting_engine import AccountingEngine
from rp2.configuration import Configuration
from rp2.ods_parser import open_ods, parse_ods
from rp2.plugin.accounting_method.fifo import AccountingMethod
from rp2.plugin.country.us import US
from rp2.tax_engine import compute_tax
from rp2.rp2_decimal import ZERO
from prezzemolo.avl_tree import AVLTree

config = Configuration(configuration_path=sys.argv[1], country=US())
methods = AVLTree()
methods.insert_node(1970, AccountingMethod())
engine = AccountingEngine(years_2_methods=methods)
handle = open_ods(configuration=config, input_file_path=sys.argv[2])
years = {}
for asset in sorted(config.assets):
    data = compute_tax(configuration=config, accounting_engine=engine,
                       input_data=parse_ods(configuration=config, asset=asset, input_file_handle=handle))
    for y in data.yearly_gain_loss_list:
        t = years.setdefault(str(y.year), {"proceeds": ZERO, "cost": ZERO, "gain": ZERO})
        t["proceeds"] += y.fiat_amount
        t["cost"] += y.fiat_cost_basis
        t["gain"] += y.fiat_gain_loss
print(json.dumps({k: {n: str(v) for n, v in t.items()} for k, t in years.items()}))
"""


# --- BittyTax --------------------------------------------------------------------------------------

BITTYTAX_HEADER = ["Type", "Buy Quantity", "Buy Asset", "Buy Value", "Sell Quantity", "Sell Asset", "Sell Value",
                   "Fee Quantity", "Fee Asset", "Fee Value", "Wallet", "Timestamp", "Note"]

# The packaged defaults (bittytax/config/bittytax.conf of 0.6.0) offline: no price data source at all (each
# source fetches its symbol list when created, even if no price is needed);
# every trade is against GBP, so no price is ever looked up, and -ty skips the holdings valuation.
BITTYTAX_CONF = """local_currency: 'GBP'
local_timezone: 'Europe/London'
date_is_day_first: True
fiat_list: ['GBP', 'EUR', 'USD']
crypto_list: ['BTC', 'ETH', 'SOL']
trade_asset_type: 2
trade_allowable_cost_type: 2
transaction_fee_allowable_cost: True
audit_hide_empty: False
show_empty_wallets: False
transfers_include: False
transfer_fee_disposal: True
transfer_fee_allowable_cost: False
fiat_income: False
lost_buyback: True
large_data: False
legacy_report: False
data_source_select: {}
data_source_fiat: []
data_source_crypto: []
"""


def write_bittytax_input(rows: Iterable[Row], path: Path, home: Path) -> None:
    write_bittytax_rows(rows, path)
    (home / ".bittytax").mkdir(parents=True, exist_ok=True)
    (home / ".bittytax" / "bittytax.conf").write_text(BITTYTAX_CONF)


def write_bittytax_rows(rows: Iterable[Row], path: Path) -> None:
    """The history as BittyTax's own CSV (one ``Trade`` row each, GBP the fiat)."""
    import csv

    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(BITTYTAX_HEADER)
        for r in rows:
            stamp = r.time.strftime("%Y-%m-%dT%H:%M:%SZ")
            fee = (r.fee, "GBP", "") if r.fee else ("", "", "")
            if r.side == "buy":
                w.writerow(["Trade", r.quantity, r.asset, "", r.gross, "GBP", "", *fee, "Bench", stamp, ""])
            else:
                w.writerow(["Trade", r.gross, "GBP", "", r.quantity, r.asset, "", *fee, "Bench", stamp, ""])


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def bittytax_totals(output: str) -> dict[str, str]:
    """Disposal proceeds, allowable costs, gains and losses of the year from the "Summary" block of
    ``bittytax --nopdf`` terminal output (GBP, as printed: rounded to the penny)."""
    text = _ANSI.sub("", output)
    labels = {"proceeds": r"Disposal proceeds:", "cost": r"Allowable costs \(including the",
              "gains": r"Gains in the year, before losses:", "losses": r"Losses in the year:",
              "disposals": r"Number of disposals:"}
    found: dict[str, str] = {}
    for key, label in labels.items():
        m = re.search(label + r"\s+\*?£?(-?[\d,]+(?:\.\d+)?)", text)
        if m:
            found[key] = m.group(1).replace(",", "")
    return found
