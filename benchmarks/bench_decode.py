"""The ledger read's decode alone (issue 14, round 6): ``decode_payloads`` (msgspec runs) against the decode before it
(``_decode_as_before``: orjson and the generated builders), on the payloads of a ledger file, chunk by chunk as the
ledger reads them (``taxreport.ledger.store.CHUNK`` rows), with the collector paused as the read pauses it. Prints
the best CPU time (``time.process_time``) of each over ``--runs`` alternating runs, the load average, and checks that
both give equal events.

    .venv/bin/python benchmarks/bench_decode.py /tmp/p1m/both.sqlite3 --runs 3

The file is opened read-only (``mode=ro``) and never written.
"""

from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import time
from typing import Callable, Sequence

from taxreport.ledger.store import CHUNK
from taxreport.model import codec


def _decode_all(decode: Callable[[Sequence[str]], list], chunks: list[list[str]]) -> tuple[float, list]:
    out: list = []
    start = time.process_time()
    for chunk in chunks:
        out.extend(decode(chunk))
    return time.process_time() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", help="a SQLite ledger file (opened read-only)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    conn = sqlite3.connect(f"file:{args.ledger}?mode=ro", uri=True)
    texts = [row[0] for row in conn.execute("SELECT payload FROM events ORDER BY seq")]
    conn.close()
    chunks = [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]
    gc.disable()
    best = {"msgspec (decode_payloads)": float("inf"), "before (_decode_as_before)": float("inf")}
    for _ in range(args.runs):
        for name, decode in (("msgspec (decode_payloads)", codec.decode_payloads),
                             ("before (_decode_as_before)", codec._decode_as_before)):
            seconds, events = _decode_all(decode, chunks)
            best[name] = min(best[name], seconds)
            del events
    new, old = _decode_all(codec.decode_payloads, chunks)[1], _decode_all(codec._decode_as_before, chunks)[1]
    assert new == old, "the two decodes differ"
    print(f"{len(texts):,} payloads, chunks of {CHUNK}, best of {args.runs} CPU, load {os.getloadavg()}")
    for name, seconds in best.items():
        print(f"  {name:28s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
