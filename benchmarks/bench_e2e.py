#!/usr/bin/env python3
"""End-to-end benchmark against the peers (issue 14), as a user runs each tool: separate CLI calls.

    .venv/bin/python benchmarks/bench_e2e.py 100000 --runs 3          # taxreport vs RP2 and BittyTax
    .venv/bin/python benchmarks/bench_e2e.py 1000000 --runs 1 --no-peers --seven-only   # the 1M target
    .venv/bin/python benchmarks/bench_e2e.py 1000000 --runs 1 --no-peers --year-all

One seeded history (:mod:`history`: BTC/ETH/SOL against one fiat, 2022-01-01..2024-12-31) is written as
taxreport's canonical CSV, RP2's ODS + ini and BittyTax's CSV (:mod:`peers`). Each run, in alternating
order (run 2 reverses run 1, and so on):

* **taxreport US**: a fresh SQLite ledger; ``import csv`` then ``gains -j us -y Y --timezone UTC --format json``
  for 2022, 2023, 2024 (UTC dates, as RP2 uses the timestamps' own zone); then one more ``gains`` call on
  the unchanged ledger (the "repeated gains" figure).
* **RP2**: ``rp2_us -m fifo`` once (it reports every year in one run; writing its ODS input is not timed).
* **taxreport UK**: a fresh ledger; ``import csv`` then ``gains -j uk -y Y`` for 2021-22 .. 2024-25.
* **BittyTax**: ``bittytax --nopdf -ty Y`` for the same four tax years (each call re-reads the file).
* **taxreport US+UK, 7 calls** (``--seven``; ``--seven-only``: this job alone, the issue's 1M target "import
  plus every year of US and UK (7 CLI calls) under 60 s in total, under 2 GB peak; a repeated ``gains`` under
  2 s"): one fresh ledger, ``import csv`` of the USD history, ``prices import`` of a daily USD->GBP rate
  (1,200 rows, seeded; so the UK years are valued in GBP), then the 3 US years and the 4 UK tax years as 7
  ``gains --format json`` calls, then the last one again on the unchanged ledger. The total counts the import,
  the rates import and the 7 calls (each step is printed too); the repeated call is reported apart.

Reported: the median wall time of each job over the runs, the peak resident memory of its largest single
process (``wait4`` rusage), and the ratio. Then the numbers are checked: RP2's per-year proceeds, cost and
gain (read back with RP2's own code) must equal taxreport's to the cent; BittyTax's SA108 summary (proceeds,
allowable costs) and net gain are compared with taxreport's and the differences printed in pence. The peers
live in ``benchmarks/.peers`` (``--peers DIR``), installed on first use with pip (PyPI is the only network
access; both then run offline).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from history import generate, write_taxreport_csv  # noqa: E402
from peers import (  # noqa: E402
    RP2_TOTALS,
    bittytax_totals,
    ensure_venv,
    write_bittytax_input,
    write_rp2_input,
)

US_YEARS = ("2022", "2023", "2024")
UK_YEARS = ("2021-22", "2022-23", "2023-24", "2024-25")
BITTYTAX_YEARS = ("2022", "2023", "2024", "2025")  # BittyTax names a UK tax year by the year it ends
CENT = Decimal("0.01")


@dataclass
class Step:
    args: list[str]
    seconds: float
    max_rss_mb: float
    output: str


@dataclass
class Job:
    name: str
    runs: list[list[Step]] = field(default_factory=list)

    def totals(self, skip_last: bool = False) -> list[float]:
        return [sum(s.seconds for s in (r[:-1] if skip_last else r)) for r in self.runs]

    def peak_mb(self) -> float:
        return max(s.max_rss_mb for r in self.runs for s in r)


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Step:
    out = cwd / ".step-output"
    with out.open("w") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out.read_text(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(args)}\n{text[-3000:]}")
    return Step(args, seconds, usage.ru_maxrss / 1024, text)


def taxreport_job(bin_dir: Path, work: Path, csv: Path, jurisdiction: str, years: tuple[str, ...],
                  extra: list[str], repeat: bool) -> list[Step]:
    """A fresh ledger and a fresh ``$TAXREPORT_HOME`` (so no derived result of an earlier run is reused):
    ``import csv``, one ``gains`` call per year (``years == ("all",)``: one ``gains --year all``), then, with
    ``repeat``, the last call again on the unchanged ledger."""
    db = work / f"{jurisdiction}.sqlite3"
    for p in work.glob(f"{jurisdiction}.sqlite3*"):
        p.unlink()
    home = work / f"home-taxreport-{jurisdiction}"
    shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ, TAXREPORT_HOME=str(home))
    tr = str(bin_dir / "taxreport")
    steps = [run([tr, "--db", str(db), "import", "csv", str(csv)], work, env)]
    for y in years:
        steps.append(run([tr, "--db", str(db), "gains", "-j", jurisdiction, "-y", y, *extra, "--format", "json"], work,
                         env))
    if repeat:
        steps.append(run([tr, "--db", str(db), "gains", "-j", jurisdiction, "-y", years[-1], *extra, "--format",
                          "json"], work, env))
    return steps


def write_usd_gbp_rates(path: Path, seed: int) -> None:
    """A daily USD->GBP rate from 2021-12-25 to 2025-04-10 (4 decimals, a seeded walk around 0.79): what a
    UK filer whose exchange history is in US dollars imports (``taxreport prices import``)."""
    import random
    from datetime import date, timedelta

    rng = random.Random(seed)
    rate, day = Decimal("0.7900"), date(2021, 12, 25)
    with path.open("w") as fh:
        fh.write("timestamp,base,quote,rate\n")
        while day <= date(2025, 4, 10):
            rate = min(max(rate + Decimal(rng.randint(-40, 40)) / 10000, Decimal("0.7000")), Decimal("0.9000"))
            fh.write(f"{day.isoformat()},USD,GBP,{rate}\n")
            day += timedelta(days=1)


def seven_calls_job(bin_dir: Path, work: Path, csv: Path, rates: Path) -> list[Step]:
    """One fresh ledger: import the USD history and the USD->GBP rates, then every US year and every UK tax
    year as separate ``gains`` calls (7), then the last call again (the repeated-``gains`` figure)."""
    db = work / "both.sqlite3"
    for p in work.glob("both.sqlite3*"):
        p.unlink()
    home = work / "home-taxreport-both"
    shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ, TAXREPORT_HOME=str(home))
    tr = str(bin_dir / "taxreport")
    steps = [run([tr, "--db", str(db), "import", "csv", str(csv)], work, env),
             run([tr, "--db", str(db), "prices", "import", str(rates)], work, env)]
    calls = [["us", y, "--timezone", "UTC"] for y in US_YEARS] + [["uk", y] for y in UK_YEARS]
    for j, y, *extra in calls + [calls[-1]]:
        steps.append(run([tr, "--db", str(db), "gains", "-j", j, "-y", y, *extra, "--format", "json"], work, env))
    return steps


def cents(value: str | Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-peers", action="store_true", help="time taxreport only")
    ap.add_argument("--peers", type=Path, default=HERE / ".peers", help="the peers' venv (created on first use)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/taxreport-bench"))
    ap.add_argument("--only", choices=("us", "uk"), default=None)
    ap.add_argument("--year-all", action="store_true",
                    help="also time import + one `gains --year all` call per country")
    ap.add_argument("--seven", action="store_true",
                    help="also time one import + every US year and every UK tax year as 7 calls on that ledger")
    ap.add_argument("--seven-only", action="store_true", help="only the --seven job (the issue's 1M target)")
    args = ap.parse_args()
    if args.seven_only:
        args.seven, args.no_peers = True, True

    work = args.work / str(args.n)
    work.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    t0 = time.perf_counter()
    rows = list(generate(args.n, args.seed))
    write_taxreport_csv(iter(rows), work / "us.csv", "USD")
    write_taxreport_csv(iter(rows), work / "uk.csv", "GBP")
    do_us, do_uk = (args.only in (None, "us"), args.only in (None, "uk")) if not args.seven_only else (False, False)
    if args.seven:
        write_usd_gbp_rates(work / "usd-gbp.csv", args.seed)
    peers_bin = None
    if not args.no_peers:
        peers_bin = ensure_venv(args.peers)
        if do_us:
            write_rp2_input(rows, work / "rp2.ods", work / "rp2.ini")
        if do_uk:
            write_bittytax_input(rows, work / "bittytax.csv", work / "home")
    print(f"{args.n:,} trades ({sum(r.side == 'sell' for r in rows):,} sells), inputs written in "
          f"{time.perf_counter() - t0:.1f} s (not timed); {args.runs} run(s), alternating")
    del rows

    jobs: dict[str, Job] = {}
    order = []
    if do_us:
        order.append(("taxreport US", lambda: taxreport_job(bin_dir, work, work / "us.csv", "us", US_YEARS,
                                                            ["--timezone", "UTC"], True)))
        if peers_bin:
            rp2_out = work / "rp2-out"
            order.append(("RP2", lambda: [run([str(peers_bin / "rp2_us"), "-m", "fifo", "-o", str(rp2_out),
                                               str(work / "rp2.ini"), str(work / "rp2.ods")], work)]))
    if do_us and args.year_all:
        order.append(("taxreport US all", lambda: taxreport_job(bin_dir, work, work / "us.csv", "us", ("all",),
                                                                ["--timezone", "UTC"], False)))
    if do_uk:
        order.append(("taxreport UK", lambda: taxreport_job(bin_dir, work, work / "uk.csv", "uk", UK_YEARS, [],
                                                            True)))
    if do_uk and args.year_all:
        order.append(("taxreport UK all", lambda: taxreport_job(bin_dir, work, work / "uk.csv", "uk", ("all",), [],
                                                                False)))
    if do_uk and peers_bin:  # (was inside the --year-all branch: without --year-all BittyTax never ran)
        env = dict(os.environ, HOME=str(work / "home"))
        order.append(("BittyTax", lambda: [run([str(peers_bin / "bittytax"), "--nopdf", "-ty", y,
                                                str(work / "bittytax.csv")], work, env)
                                           for y in BITTYTAX_YEARS]))
    if args.seven:
        order.append(("taxreport US+UK 7 calls", lambda: seven_calls_job(bin_dir, work, work / "us.csv",
                                                                       work / "usd-gbp.csv")))
    for i in range(args.runs):
        for name, job in (order if i % 2 == 0 else list(reversed(order))):
            steps = job()
            jobs.setdefault(name, Job(name)).runs.append(steps)
            repeats = name in ("taxreport US", "taxreport UK", "taxreport US+UK 7 calls")
            repeat = f", repeated gains {steps[-1].seconds:.2f} s" if repeats else ""
            total = sum(s.seconds for s in (steps[:-1] if repeats else steps))
            print(f"  run {i + 1} {name:13s} {total:8.2f} s  (" + ", ".join(f"{s.seconds:.2f}" for s in steps)
                  + f"){repeat}  peak {max(s.max_rss_mb for s in steps):.0f} MB", flush=True)

    print(f"\nmachine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; load average now {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| work | taxreport | peer | ratio |\n|---|---|---|---|")
    pairs = [("us", "taxreport US", "RP2", len(US_YEARS)), ("uk", "taxreport UK", "BittyTax", len(UK_YEARS))]
    for code, ours, peer, years in pairs:
        if ours not in jobs:
            continue
        mine = statistics.median(jobs[ours].totals(skip_last=True))
        repeated = statistics.median(r[-1].seconds for r in jobs[ours].runs)
        cell = f"{mine:.1f} s, {jobs[ours].peak_mb():.0f} MB"
        if peer in jobs:
            theirs = statistics.median(jobs[peer].totals())
            print(f"| {args.n:,} trades: import + {code.upper()} gains for {years} years | {cell} | {peer} "
                  f"{theirs:.1f} s, {jobs[peer].peak_mb():.0f} MB | {theirs / mine:.1f}x |")
        else:
            print(f"| {args.n:,} trades: import + {code.upper()} gains for {years} years | {cell} | | |")
        print(f"| {args.n:,} trades: a repeated {code.upper()} `gains` on the unchanged ledger | {repeated:.2f} s | | |")

    seven = jobs.get("taxreport US+UK 7 calls")
    if seven is not None:
        total = statistics.median(seven.totals(skip_last=True))
        calls = statistics.median(sum(s.seconds for s in r[2:-1]) for r in seven.runs)
        print(f"| {args.n:,} trades: import + every US and UK year ({len(US_YEARS) + len(UK_YEARS)} `gains` calls on "
              f"one ledger; USD->GBP rates imported too) | {total:.1f} s (the 7 calls {calls:.1f} s), peak "
              f"{seven.peak_mb():.0f} MB | | |")
        print(f"| {args.n:,} trades: a repeated `gains` on that unchanged ledger | "
              f"{statistics.median(r[-1].seconds for r in seven.runs):.2f} s | | |")
    for code, name in (("US", "taxreport US all"), ("UK", "taxreport UK all")):
        if name in jobs:
            mine = statistics.median(jobs[name].totals())
            print(f"| {args.n:,} trades: import + one `gains --year all` ({code}) | {mine:.1f} s, "
                  f"{jobs[name].peak_mb():.0f} MB | | |")
    if "taxreport US" in jobs and "taxreport UK" in jobs:
        both = statistics.median(jobs["taxreport US"].totals(skip_last=True)) + \
            statistics.median(jobs["taxreport UK"].totals(skip_last=True))
        peak = max(jobs["taxreport US"].peak_mb(), jobs["taxreport UK"].peak_mb())
        print(f"| {args.n:,} trades: 2 imports (USD and GBP histories) + every US and UK year "
              f"({len(US_YEARS) + len(UK_YEARS)} calls) | {both:.1f} s, peak {peak:.0f} MB | | |")

    failures = 0
    if "taxreport US" in jobs and "RP2" in jobs:
        ours = {json.loads(s.output)["year"]: json.loads(s.output) for s in jobs["taxreport US"].runs[-1][1:-1]}
        script = work / "rp2_totals.py"
        script.write_text(RP2_TOTALS)
        theirs = json.loads(subprocess.run([str(peers_bin / "python"), str(script), str(work / "rp2.ini"),
                                            str(work / "rp2.ods")], capture_output=True, text=True, cwd=work,
                                           check=True).stdout)
        print("\nUS FIFO vs RP2 (to the cent):")
        for y in US_YEARS:
            for key in ("proceeds", "cost", "gain"):
                a, b = cents(ours[y][key]), cents(theirs.get(y, {}).get(key, "0"))
                ok = a == b
                failures += not ok
                print(f"  {y} {key:9s} taxreport {a:>16} RP2 {b:>16} {'same' if ok else 'DIFFERENT'}")
    if "taxreport UK" in jobs and "BittyTax" in jobs:
        ours = {json.loads(s.output)["year"]: json.loads(s.output) for s in jobs["taxreport UK"].runs[-1][1:-1]}
        print("\nUK vs BittyTax (pence apart; BittyTax rounds each line to the penny):")
        for y, _bt_year, step in zip(UK_YEARS, BITTYTAX_YEARS, jobs["BittyTax"].runs[-1]):
            bt = bittytax_totals(step.output)
            b = ours[y]["breakdown"]
            mine = {"proceeds": b["sa108_disposal_proceeds"], "cost": b["sa108_allowable_costs"],
                    "gain": ours[y]["gain"]}
            theirs = {"proceeds": bt.get("proceeds", "0"), "cost": bt.get("cost", "0"),
                      "gain": str(Decimal(bt.get("proceeds", "0")) - Decimal(bt.get("cost", "0")))}
            for key in ("proceeds", "cost", "gain"):
                diff = (cents(mine[key]) - cents(theirs[key])) * 100
                failures += abs(diff) > Decimal(100)  # "within pennies": more than £1 apart is a failure
                print(f"  {y} {key:9s} taxreport {cents(mine[key]):>16} BittyTax {cents(theirs[key]):>16} "
                      f"{diff:+.0f}p")
    for code in ("US", "UK"):
        if f"taxreport {code} all" in jobs and f"taxreport {code}" in jobs:
            every = json.loads(jobs[f"taxreport {code} all"].runs[-1][1].output)
            single = [json.loads(s.output) for s in jobs[f"taxreport {code}"].runs[-1][1:-1]]
            same = every == single
            failures += not same
            print(f"\n{code}: `gains --year all` ({', '.join(y['year'] for y in every)}) equals the one-year calls: "
                  f"{'same' if same else 'DIFFERENT'}")
    shutil.rmtree(work / "rp2-out", ignore_errors=True)
    if failures:
        raise SystemExit(f"{failures} figure(s) differ")


if __name__ == "__main__":
    main()
