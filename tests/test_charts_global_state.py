"""Making a chart changes nothing global in matplotlib: a notebook that uses taxreport as a library keeps its
backend and its rcParams. The report's charts (taxreport/reports/charts.py) called ``matplotlib.use("Agg",
force=True)`` and ``plt.rcParams.update(...)`` (font size 8, DejaVu Sans, ...) and the backtest's
(taxreport/rebalance/backtest_charts.py) ``matplotlib.use("Agg")``; both now draw on
``matplotlib.figure.Figure`` + the Agg canvas, the report's style in ``matplotlib.rc_context`` only.

Run in a child interpreter: the user's own state (the ``svg`` backend, font size 11, a red axes edge) is set
there first, as a notebook would, and compared after each chart; this test process's matplotlib is untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHILD = r'''
import json, sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
sys.path.insert(0, sys.argv[1])
import matplotlib
matplotlib.use("svg")  # the user's backend
import matplotlib.pyplot as plt
matplotlib.rcParams.update({"font.size": 11, "axes.edgecolor": "red", "font.family": "serif"})
before = dict(matplotlib.rcParams.copy())
backend = matplotlib.get_backend()
figures = plt.get_fignums()
from taxreport.reports import charts
import test_backtest as tb
from taxreport.rebalance.backtest_charts import write_charts

start = datetime(2024, 4, 6, tzinfo=timezone.utc)
made = {
    "allocation": lambda: charts.allocation_chart([("BTC", D("52.6"), D(50)), ("ETH", D("47.4"), D(50))]),
    "value": lambda: charts.value_chart([(start + timedelta(days=i), D(10000 + i)) for i in range(9)], "USDT"),
    "gains": lambda: charts.gains_chart([("BTC", D("12345.6")), ("ETH", D("-2345.6"))], "GBP"),
    "backtest": lambda: write_charts(list(tb.run("buy-and-hold,weekly")[1].values()), tb.run("weekly")[0],
                                     sys.argv[2]),
}
out = {}
for name, make in made.items():
    make()
    after = dict(matplotlib.rcParams.copy())
    out[name] = {"changed": sorted(k for k in before if before[k] != after[k]),
                 "backend": matplotlib.get_backend(), "figures": plt.get_fignums()}
print(json.dumps({"backend": backend, "figures": figures, "charts": out}))
'''


def test_no_chart_changes_the_users_backend_or_rcparams(tmp_path):
    tests = Path(__file__).parent
    done = subprocess.run([sys.executable, "-c", CHILD, str(tests), str(tmp_path / "bt")], capture_output=True,
                          text=True, check=True, cwd=tests.parent)
    seen = json.loads(done.stdout)
    assert seen["backend"] == "svg" and seen["figures"] == []
    for name, state in seen["charts"].items():
        assert state == {"changed": [], "backend": "svg", "figures": []}, name  # no pyplot figure left open either
    assert sorted(p.name for p in (tmp_path / "bt").iterdir()) == [
        "backtest_drift.png", "backtest_drift.svg", "backtest_value.png", "backtest_value.svg"]
