"""The verified read alone (issue 14): ``Ledger(url).verified_events()`` on an existing ledger, a fresh ``Ledger``
each run (nothing cached), wall and CPU time of this process and of the verifying child, best of
``--runs``, and the load average before the first run. E.g. on the ledger ``bench_e2e.py`` leaves in ``--work``:

    python benchmarks/bench_verified_read.py /tmp/taxreport-bench/1000000/both.sqlite3 --runs 3

``--here`` walks the chain in this process (no verifying child), as before round 3, for comparison; ``--pipe`` sends
the rows to the child through its pipe (what a PostgreSQL ledger does; a SQLite file's child reads the file itself
since round 4).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--here", action="store_true", help="no verifying child (the chain hashed in this process)")
    how.add_argument("--pipe", action="store_true", help="the rows sent to the child through the pipe (round 3)")
    args = ap.parse_args()

    from taxreport.ledger import store, verify_worker
    from taxreport.ledger.store import Ledger

    if args.here:
        verify_worker.MIN_ROWS = 1 << 62
    if args.pipe:
        store._sqlite_file = lambda conn: None  # type: ignore[assignment]
    url = f"sqlite:///{args.db}"
    way = "in process" if args.here else "child, rows through the pipe" if args.pipe else "child reading the file"
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {way}")
    walls, cpus, child_cpus = [], [], []
    for _ in range(args.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        ledger = Ledger(url, readonly=True)
        start, cpu = time.perf_counter(), time.process_time()
        result, events = ledger.verified_events()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        child_cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        assert result.ok and len(events) == result.rows, result
        ledger.close()
        del events
    print(f"{result.rows:,} rows: wall best {min(walls):.2f} s (runs {', '.join(f'{w:.2f}' for w in walls)}), "
          f"this process's CPU best {min(cpus):.2f} s, the verifying child's CPU {min(child_cpus):.2f} s")


if __name__ == "__main__":
    main()
