"""Adding a country is one module (README, "Adding a country"): a tiny country written to a temporary
directory, put on the ``taxreport.jurisdictions`` package path, runs through ``taxreport gains`` and the
one engine with nothing else changed. Also: no module reads the contract with ``getattr``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import taxreport.jurisdictions as jurisdictions_pkg
from taxreport.cli.main import root
from taxreport.jurisdictions.base import codes, get

REPO = Path(__file__).resolve().parent.parent
DEMO = str(REPO / "sample_exports" / "demo_trades.csv")

# The whole country, as a user would write it from the README recipe: a policy (data) and one hook.
# "Freedonia": USD, calendar year on UTC dates, FIFO per account, held more than 2 years = exempt,
# a $500 allowance from 2020 on (subtracted from the net taxable gain).
FREEDONIA = '''
"""Freedonia (test-only country): capital gains of individuals. Sources: none, it is made up."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from taxreport.jurisdictions.base import Breakdown, DisposalResult, Note, Policy, Pooling, Totals, YearTable
from taxreport.jurisdictions.calendar import TaxYear
from taxreport.jurisdictions.engine import Assessment, Context, Jurisdiction, LotRules
from taxreport.jurisdictions.holding import Holding, HoldingEffect
from taxreport.jurisdictions.summary import totals
from taxreport.lots.valuation import SwapCost

ALLOWANCE: YearTable[Decimal] = YearTable("Freedonian allowance", ((2020, Decimal(500)),))


@dataclass(frozen=True)
class FdBreakdown(Breakdown):
    taxable: Totals = field(default_factory=Totals)
    exempt: Totals = field(default_factory=Totals)
    allowance_used: Decimal = Decimal(0)


POLICY = Policy(code="fd", name="Freedonia", currency="USD", timezone="UTC", tax_year=TaxYear(),
                methods=("fifo",), pooling=Pooling.ACCOUNT, swap_cost=SwapCost.GIVEN,
                holding=Holding(2, HoldingEffect.EXEMPT), allowance=ALLOWANCE, gift_is_disposal=True)


class FdRules(LotRules):
    def assess(self, ctx: Context, reported: list[DisposalResult], whole_year: list[DisposalResult]) -> Assessment:
        taxable = totals(r for r in reported if not r.exempt)
        allowance = ALLOWANCE.at(ctx.first_year)
        used = min(allowance, max(taxable.gain, Decimal(0)))
        return Assessment(allowance, max(taxable.gain - allowance, Decimal(0)),
                          FdBreakdown(taxable, totals(r for r in reported if r.exempt), used),
                          [Note("Freedonia: held more than 2 years is exempt", "rule")])


JURISDICTION = Jurisdiction(POLICY, FdRules())
'''


@pytest.fixture
def freedonia(tmp_path, monkeypatch):
    folder = tmp_path / "countries"
    folder.mkdir()
    (folder / "fd.py").write_text(FREEDONIA, encoding="utf-8")
    monkeypatch.setattr(jurisdictions_pkg, "__path__", [*jurisdictions_pkg.__path__, str(folder)])
    yield
    sys.modules.pop("taxreport.jurisdictions.fd", None)


def test_a_sixth_country_is_one_module_and_runs_gains_through_the_engine(freedonia, tmp_path):
    assert "fd" in codes() and get("fd").name == "Freedonia"
    db = str(tmp_path / "l.sqlite3")
    runner = CliRunner()
    assert runner.invoke(root, ["--db", db, "import", "csv", DEMO], catch_exceptions=False).exit_code == 0
    r = runner.invoke(root, ["--db", db, "gains", "-j", "fd", "-y", "2024", "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    # The same three 2024 sales as the US demo (tests/test_gains_cli.py, FIFO per account, all held < 2
    # years): gains 2738.45 + 2183.59 + 9277.50 = 14199.54, all taxable; less the $500 allowance: 13699.54.
    assert (data["jurisdiction"], data["currency"], data["method"], data["year"]) == ("fd", "USD", "fifo", "2024")
    assert (data["gain"], data["allowance"], data["taxable_gain"]) == ("14199.54", "500.00", "13699.54")
    assert data["breakdown"]["taxable"] == {"proceeds": "27322.65", "cost": "13123.11", "gain": "14199.54",
                                            "gains": "14199.54", "losses": "0.00", "count": "3"}
    assert data["breakdown"]["exempt"]["count"] == "0" and data["breakdown"]["allowance_used"] == "500.00"
    assert data["year_start"] == "2024-01-01T00:00:00Z"  # UTC midnight: the policy's zone
    assert "Freedonia: held more than 2 years is exempt" in data["notes"]
    # the policy is enforced by the engine: a method it does not list is refused, and so is a year
    # before its allowance table
    r = runner.invoke(root, ["--db", db, "gains", "-j", "fd", "-y", "2024", "--method", "hifo"])
    assert r.exit_code != 0 and "not allowed for Freedonia" in r.output
    r = runner.invoke(root, ["--db", db, "gains", "-j", "fd", "-y", "2019"])
    assert r.exit_code != 0 and "no Freedonian allowance on file for tax year 2019" in r.output


def test_no_module_reads_the_jurisdiction_contract_with_getattr():
    contract = ("lookahead_days", "pools_per_person", "swap_cost", "timezone", "methods", "currency", "pooling")
    offenders = []
    for path in (REPO / "taxreport").rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"getattr\([^)]*[\"'](%s)[\"']" % "|".join(contract), line):
                offenders.append(f"{path.relative_to(REPO)}:{n}")
    assert offenders == []
