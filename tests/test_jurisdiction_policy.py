"""The declarative country policy and the typed results (taxreport/jurisdictions/base.py, engine.py):
tax-year labels and bounds, year tables, typed notes, and the JSON layout of a typed breakdown."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from taxreport.errors import InputError
from taxreport.jurisdictions.base import Note, Pooling, Totals, YearTable, codes, get
from taxreport.jurisdictions.calendar import TaxYear
from taxreport.jurisdictions.holding import Holding, HoldingEffect
from taxreport.jurisdictions.uk import PeriodTotals, UkBreakdown
from taxreport.lots.valuation import SwapCost

D = Decimal


def test_every_country_is_a_policy_with_its_own_data():
    assert codes() == ["au", "ca", "de", "uk", "us"]
    p = {c: get(c).policy for c in codes()}
    # pooling: UK and CA pool per person (--account refused), AU over all accounts, US/DE per account
    assert {c: x.pooling for c, x in p.items()} == {"au": Pooling.UNIVERSAL, "ca": Pooling.PERSON,
                                                   "de": Pooling.ACCOUNT, "uk": Pooling.PERSON, "us": Pooling.ACCOUNT}
    # look-ahead: UK 30-day rule, CA superficial-loss period; nothing else looks past the year
    assert {c: x.lookahead_days for c, x in p.items()} == {"au": 0, "ca": 30, "de": 0, "uk": 30, "us": 0}
    assert p["us"].swap_cost is SwapCost.RECEIVED and {p[c].swap_cost for c in ("uk", "de", "au", "ca")} == {
        SwapCost.GIVEN}
    assert p["us"].holding == Holding(1, HoldingEffect.TERM) and p["de"].holding.effect is HoldingEffect.EXEMPT
    assert p["uk"].holding is None and p["ca"].holding is None
    assert (p["us"].forms, p["uk"].forms) == (("form8949",), ("hmrc",))
    assert not p["us"].gift_is_disposal and not p["de"].gift_is_disposal and p["uk"].gift_is_disposal


def test_tax_year_labels_and_local_bounds():
    uk = TaxYear(4, 6)
    assert (uk.label("2024-2025"), uk.first_year("2024-25"), uk.label_of(2019)) == ("2024-25", 2024, "2019-20")
    # 6 April 2024 00:00 in London is 5 April 23:00 UTC (BST)
    assert uk.bounds("2024-25", "Europe/London") == (datetime(2024, 4, 5, 23, tzinfo=timezone.utc),
                                                     datetime(2025, 4, 5, 23, tzinfo=timezone.utc))
    with pytest.raises(InputError, match="second year must follow"):
        uk.bounds("2024-26", "Europe/London")
    with pytest.raises(InputError, match="calendar year"):
        TaxYear().bounds("2024-25", "UTC")


def test_a_year_table_names_what_is_missing_never_guesses():
    table = YearTable("allowance", ((2020, D(10)), (2023, D(5))), last=2024)
    assert (table.at(2020), table.at(2022), table.at(2024)) == (D(10), D(10), D(5))
    with pytest.raises(InputError, match="no allowance on file for tax year 2019 \\(known: 2020 to 2024\\)"):
        table.at(2019)
    with pytest.raises(InputError, match="tax year 2025-26 \\(known: 2020-21 to 2024-25\\)"):
        table.at(2025, TaxYear(4, 6))


def test_a_note_is_text_with_a_code_and_survives_pickling():
    n = Note("no wash-sale rule", "rule")
    assert (n, n.code, n.text, n.startswith("no")) == ("no wash-sale rule", "rule", "no wash-sale rule", True)
    back = pickle.loads(pickle.dumps(n))
    assert (back, back.code, type(back)) == (n, "rule", Note)
    assert Note(n).code == "rule" and Note("x").code == "info"


def test_a_typed_breakdown_is_written_under_its_field_names_none_left_out():
    b = UkBreakdown(annual_exempt_amount=D(3000), allowance_used=D(100), losses_brought_forward=D(0),
                    losses_brought_forward_used=D(0), losses_carried_forward=D(0), sa108_number_of_disposals=1,
                    sa108_disposal_proceeds=D(900), sa108_allowable_costs=D(800), sa108_gains_before_losses=D(100),
                    sa108_losses_in_year=D(0), cost_by_rule={"s104": D(800)})
    d = b.as_dict()
    assert list(d) == ["annual_exempt_amount", "allowance_used", "losses_brought_forward",
                       "losses_brought_forward_used", "losses_carried_forward", "sa108_number_of_disposals",
                       "sa108_disposal_proceeds", "sa108_allowable_costs", "sa108_gains_before_losses",
                       "sa108_losses_in_year", "cost_by_rule"]  # the split is None: left out
    split = UkBreakdown(**{**b.__dict__, "sa108_rate_change_split": {"before": PeriodTotals(D(1), D(0), D(1), 1)}})
    assert split.as_dict()["sa108_rate_change_split"] == {"before": {"gains": D(1), "losses": D(0), "net": D(1),
                                                                     "count": 1}}
    assert Totals(gain=D(2), count=3).as_dict() == {"proceeds": D(0), "cost": D(0), "gain": D(2), "gains": D(0),
                                                    "losses": D(0), "count": 3}
