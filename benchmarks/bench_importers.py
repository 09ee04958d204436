#!/usr/bin/env python3
"""Time and peak memory of every importer at N rows (issue 14): ``import csv``, ``koinly``, ``bittytax``,
``okx`` (the legacy T1 trade history) and ``mapped`` (the Kraken-style mapping of tests/fixtures/mapped),
each a fresh SQLite ledger and one CLI call, on the bench history (:mod:`history`) written in each format.

    .venv/bin/python benchmarks/bench_importers.py 100000 [--work /tmp/taxreport-importers] [--taxreport BIN]

``--taxreport`` picks another build's CLI (e.g. main's ``.venv/bin/taxreport``) for a before/after table.
Reported per importer: wall seconds, peak RSS of the process (``wait4``), rows and events added.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from history import Row, generate, write_taxreport_csv  # noqa: E402
from peers import write_bittytax_rows  # noqa: E402

KOINLY_HEADER = ["Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency", "Fee Amount",
                 "Fee Currency", "Net Worth Amount", "Net Worth Currency", "Label", "Description", "TxHash"]
MAPPING = """# Kraken-style trades export (as tests/fixtures/mapped/kraken.toml)
source = "kraken"

[time]
column = "time"
format = "%Y-%m-%d %H:%M:%S.%f"
zone = "UTC"

[columns]
side = "type"
symbol = "pair"
quantity = "vol"
cost = "cost"
fee = "fee"
id = "txid"
order_id = "ordertxid"

[symbol]
separator = "/"

[fee]
asset = "quote"
"""


def write_koinly(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(KOINLY_HEADER)
        for r in rows:
            when = r.time.strftime("%Y-%m-%d %H:%M:%S UTC")
            fee = (r.fee, "USD") if r.fee else ("", "")
            if r.side == "buy":
                w.writerow([when, r.gross, "USD", r.quantity, r.asset, *fee, "", "", "", "", f"h{r.index}"])
            else:
                w.writerow([when, r.quantity, r.asset, r.gross, "USD", *fee, "", "", "", "", f"h{r.index}"])


def write_bittytax(rows: list[Row], path: Path) -> None:
    write_bittytax_rows(rows, path)


def write_okx_t1(rows: list[Row], path: Path) -> None:
    """OKX's legacy trade history (tests/fixtures/okx/t1_no_bom.csv's columns): one row per fill, the amount
    signed, total and fee with their unit, newest first as OKX writes it."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["Order ID", "Trade ID", "Trade Time", "Pairs", "Amount", "Price", "Total", "taker/maker", "Fee",
                    "unit"])
        for r in reversed(rows):
            pair = f"{r.asset.lower()}_usdt"
            fee = f"-{r.fee} USDT" if r.fee else "0 USDT"
            if r.side == "buy":
                w.writerow([r.index, 10**9 + r.index, r.time.strftime("%Y-%m-%d %H:%M:%S"), pair, r.quantity, r.price,
                            f"-{r.gross} USDT", "taker", fee, r.asset])
            else:
                w.writerow([r.index, 10**9 + r.index, r.time.strftime("%Y-%m-%d %H:%M:%S"), pair, f"-{r.quantity}",
                            r.price, f"{r.gross} USDT", "taker", fee, r.asset])


def write_mapped(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["txid", "ordertxid", "pair", "time", "type", "ordertype", "price", "cost", "fee", "vol"])
        for r in rows:
            w.writerow([f"T{r.index}", f"O{r.index}", f"{r.asset}/EUR", r.time.strftime("%Y-%m-%d %H:%M:%S.%f"),
                        r.side, "limit", r.price, r.gross, r.fee, r.quantity])


def run(args: list[str], cwd: Path) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        raise SystemExit(f"{' '.join(args)} failed:\n{out}{err}")
    return seconds, usage.ru_maxrss / 1024, out.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("--work", type=Path, default=Path("/tmp/taxreport-importers"))
    ap.add_argument("--taxreport", type=Path, default=Path(sys.executable).with_name("taxreport"))
    ap.add_argument("--only", help="comma-separated importers to run (csv,koinly,bittytax,okx,mapped)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = list(generate(args.n))
    files = {"csv": args.work / f"canonical-{args.n}.csv", "koinly": args.work / f"koinly-{args.n}.csv",
             "bittytax": args.work / f"bittytax-{args.n}.csv", "okx": args.work / f"okx-t1-{args.n}.csv",
             "mapped": args.work / f"kraken-{args.n}.csv"}
    writers = {"csv": lambda p: write_taxreport_csv(iter(rows), p, "USD"), "koinly": lambda p: write_koinly(rows, p),
               "bittytax": lambda p: write_bittytax(rows, p), "okx": lambda p: write_okx_t1(rows, p),
               "mapped": lambda p: write_mapped(rows, p)}
    (args.work / "kraken.toml").write_text(MAPPING)
    commands = {"csv": ["csv"], "koinly": ["koinly", "--account", "bench:main"], "bittytax": ["bittytax"],
                "okx": ["okx", "--account", "okx:main"],
                "mapped": ["mapped", "--mapping", "kraken.toml", "--account", "kraken:main"]}
    chosen = args.only.split(",") if args.only else list(files)
    load = os.getloadavg()
    print(f"{args.n:,} rows per file; {args.taxreport}; {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("| importer | wall | peak RSS | ledger |")
    print("|---|---|---|---|")
    for name in chosen:
        path = files[name]
        if not path.exists():
            writers[name](path)
        db = args.work / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        seconds, peak, out = run([str(args.taxreport), "--db", str(db), "import", *commands[name], str(path),
                                  "--format", "json"], args.work)
        summary = json.loads(out)
        summary = summary[0] if isinstance(summary, list) else summary
        print(f"| import {name} | {seconds:.2f} s | {peak:.0f} MB | {summary.get('rows')} rows, "
              f"{summary.get('added')} added |")


if __name__ == "__main__":
    main()
