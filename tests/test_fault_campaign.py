"""The small fault campaign `make test` runs (scripts/fault-campaign.sh 20 --quick): twenty randomized
live runs against the local OKX venue with injected faults and SIGKILL of the bot, each checked from
the venue's own books. Every count below is a safety property; any non-zero one is a real bug."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ccxt")

ROOT = Path(__file__).resolve().parent.parent


def test_small_fault_campaign_has_no_duplicate_order_lost_fill_or_balance_difference(tmp_path):
    summary_file = tmp_path / "summary.json"
    done = subprocess.run(["bash", str(ROOT / "scripts" / "fault-campaign.sh"), "20", "--quick", "--jobs", "10",
                           "--seed", "500", "--dir", str(tmp_path / "runs"), "--summary", str(summary_file)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                               "PYTHONPATH": str(ROOT)} | ({"PY": sys.executable}))
    assert summary_file.is_file(), done.stdout + done.stderr
    data = json.loads(summary_file.read_text())
    s = data["summary"]
    assert s["runs"] == 20
    problems = {k: s[k] for k in ("duplicated", "orphans", "lost", "phantom", "mismatched", "balance",
                                  "unfinished", "verify", "traceback")}
    assert problems == dict.fromkeys(problems, 0), done.stdout[-3000:]
    assert s["kills"] > 0 and s["venue_fills"] > 0  # the campaign really killed bots and really traded
    assert s["unsettled"] <= 2, done.stdout[-3000:]
    assert done.returncode == 0
