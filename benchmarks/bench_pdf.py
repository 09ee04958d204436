"""Benchmark: the PDF report at scale (issues #13 and #14).

Two parts:

1. ``render``: the PDF of a synthetic US tax year with N disposals (3 assets, 2 accounts, quantities with 8
   decimals, amounts with 3, short and long terms, dates over the year) and M open lots (summarised per
   asset and account), written by :func:`taxreport.reports.pdf.export`, as ``export pdf`` does after the
   gains. Reports seconds, pages and bytes. Target: 10,000 disposals in under 5 s; readable at 100,000.
2. ``--e2e N``: as a user runs it, separate CLI calls on a fresh SQLite ledger: ``import csv`` of N seeded
   trades (benchmarks/history.py), then ``export pdf`` and ``export all`` for US 2023, then ``gains`` of the
   same year. Target: ``export all`` for 100,000 trades under 30 s. The year's summary is computed once, by
   ``export pdf``, and kept in the derived cache: ``export all`` and the ``gains`` after it read it (each
   export still walks the chain once for the rows it writes). ``--cold`` runs ``export all`` first, before
   anything is stored (the figure of an ``export all`` that computes the year itself).

    .venv/bin/python benchmarks/bench_pdf.py 10000 100000 --open-lots 50000
    .venv/bin/python benchmarks/bench_pdf.py --e2e 100000

Peak memory is the process's maximum RSS (the CLI calls: of the child processes). The CLI calls also
report their CPU time (user + system, the forked workbook writer included): on a shared, loaded machine
the wall time overstates what an idle one takes.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def synthetic_summary(n: int, open_lots: int, seed: int = 1):  # noqa: ANN201 - YearSummary
    from taxreport.jurisdictions.base import DisposalResult, YearSummary
    from taxreport.lots.types import LotMatch, OpenLot

    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 5, tzinfo=timezone.utc)
    step = 365 * 86400 / max(n, 1)
    assets = {"BTC": 60000, "ETH": 3000, "SOL": 150}
    disposals = []
    proceeds = cost = gains = losses = Decimal(0)
    for i in range(n):
        asset = rng.choice(list(assets))
        quantity = Decimal(rng.randint(1, 10**8)) / Decimal(10**8) * (Decimal(10) if asset == "SOL" else 1)
        p = (quantity * assets[asset] * Decimal(rng.randint(800, 1200)) / 1000).quantize(Decimal("0.001"))
        c = (quantity * assets[asset] * Decimal(rng.randint(800, 1200)) / 1000).quantize(Decimal("0.001"))
        account = ("okx:main", "kraken:main")[i % 2]
        when = start + timedelta(seconds=int(i * step))
        lot = LotMatch(quantity=quantity, cost=c, acquired_at=when - timedelta(days=rng.randint(1, 700)),
                       account=account, lot_ref=f"trade:bench:{i}#1", rule="fifo")
        term = "long" if (when - lot.acquired_at).days > 365 else "short"
        disposals.append(DisposalResult(time=when, account=account, asset=asset, quantity=quantity, proceeds=p,
                                        cost=c, gain=p - c, lots=(lot,), rule="fifo", term=term,
                                        event_key=f"trade:bench:{i}"))
        proceeds, cost = proceeds + p, cost + c
        gains, losses = (gains + p - c, losses) if p >= c else (gains, losses + c - p)
    lots = [OpenLot(account=("okx:main", "kraken:main")[i % 2], asset=list(assets)[i % 3],
                    quantity=Decimal("0.00123456"), cost=Decimal("12.345"),
                    acquired_at=start + timedelta(minutes=i), lot_ref=f"lot:{i}") for i in range(open_lots)]
    return YearSummary(jurisdiction="us", currency="USD", method="fifo", year="2024", year_start=start,
                       year_end=datetime(2025, 1, 1, 5, tzinfo=timezone.utc), disposals=disposals,
                       proceeds=proceeds, cost=cost, gain=proceeds - cost, gains=gains, losses=losses,
                       allowance=Decimal(0), taxable_gain=proceeds - cost, open_lots=lots,
                       notes=["prices: synthetic (benchmark)"], timezone="America/New_York")


def bench_render(n: int, open_lots: int, out_dir: Path) -> None:
    from pypdf import PdfReader

    from taxreport.reports import data as report_data
    from taxreport.reports import pdf

    summary = synthetic_summary(n, open_lots)
    t0 = time.perf_counter()
    data = report_data.collect(summary, [])
    path = pdf.export(data, out_dir / f"bench-{n}.pdf")
    seconds = time.perf_counter() - t0
    pages = len(PdfReader(str(path)).pages)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {n:,} | {open_lots:,} | {seconds:.2f} s | {pages:,} | {path.stat().st_size / 1e6:.1f} MB | "
          f"{rss:,.0f} MB (process so far) |", flush=True)


def _run(args: list[str], cwd: Path) -> float:
    import os

    env = dict(os.environ, TAXREPORT_HOME=str(cwd / "home"))  # a fresh derived cache (nothing stored before)
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")
    return time.perf_counter() - t0


def bench_e2e(n: int, out_dir: Path, cold: bool = False) -> None:
    import history

    exe = str(ROOT / ".venv" / "bin" / "taxreport")
    csv_path = out_dir / f"history-{n}.csv"
    history.write_taxreport_csv(history.generate(n), csv_path, "USD")
    db = str(out_dir / f"bench-{n}.sqlite3")
    steps = [("import csv", [exe, "--db", db, "import", "csv", str(csv_path)]),
             ("export pdf -j us -y 2023", [exe, "--db", db, "export", "pdf", "-j", "us", "-y", "2023", "--out",
                                           str(out_dir / "e2e.pdf")]),
             ("export all -j us -y 2023", [exe, "--db", db, "export", "all", "-j", "us", "-y", "2023", "--out",
                                           str(out_dir / "all")]),
             ("gains -j us -y 2023 --format json (after the exports)", [exe, "--db", db, "gains", "-j", "us", "-y",
                                                                        "2023", "--format", "json"])]
    if cold:  # export all before anything is stored
        steps.insert(1, steps.pop(2))
    print("| history | CLI call | wall time | CPU time (user+sys, all processes) | peak RSS |\n|---|---|---:|---:|---:|")
    for name, args in steps:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds = _run(args, out_dir)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rss = after.ru_maxrss / 1024
        print(f"| {n:,} trades | `{name}` | {seconds:.2f} s | {cpu:.2f} s | {rss:,.0f} MB (largest call so far) |",
              flush=True)
    from pypdf import PdfReader

    print(f"PDF pages: {len(PdfReader(str(out_dir / 'e2e.pdf')).pages):,}; files of export all:",
          ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted((out_dir / "all").iterdir())))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("disposals", nargs="*", type=int, help="disposal counts to render (default 10000 100000)")
    ap.add_argument("--open-lots", type=int, default=50000, help="open lots at year end (summarised in the PDF)")
    ap.add_argument("--e2e", type=int, default=0, help="also run import + export pdf + export all on N trades")
    ap.add_argument("--cold", action="store_true", help="--e2e: export all right after the import (computes the year)")
    ap.add_argument("--keep", action="store_true", help="keep the output folder (its path is printed)")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="taxreport-bench-pdf-"))
    counts = args.disposals or ([] if args.e2e else [10000, 100000])
    if args.e2e:  # first, while this process is small (a child's peak RSS counts the memory it forked from)
        bench_e2e(args.e2e, out, args.cold)
    if counts:
        print("| disposals | open lots | export pdf | pages | size | peak RSS |\n|---:|---:|---:|---:|---:|---:|")
        for n in counts:
            bench_render(n, args.open_lots, out)
    print(f"output in {out}" if args.keep else "")
    if not args.keep:
        import shutil

        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
