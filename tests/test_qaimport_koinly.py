"""QA round 12 (helper qaimport): a Koinly Universal CSV with two kinds of bad rows names both in one run
(before: the bad cell only; the unknown label appeared only once the first was fixed)."""

from __future__ import annotations

from click.testing import CliRunner

from taxreport.cli.main import root

HEADER = ("Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,Fee Currency,"
          "Net Worth Amount,Net Worth Currency,Label,Description,TxHash\n")


def test_bad_cell_and_bad_meaning_are_reported_together(tmp_path):
    path = tmp_path / "koinly.csv"
    path.write_text(HEADER +
                    '2024-01-05 10:00 UTC,,,"1,000.50",USDT,,,"1,000.50",USD,,,\n'   # thousands separator
                    "2024-01-06 10:00:00,1000,USDT,0.025,BTC,1E-5,BTC,,,,,\n"           # fine
                    "2024-01-07T10:00:00Z,0.01,BTC,,,,,,,Staking,,\n")                   # staking sent out?
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    res = CliRunner().invoke(root, ["--db", db, "import", "koinly", str(path), "--account", "koinly:w"])
    assert res.exit_code == 1
    assert "refused, nothing was written (2 problems)" in res.output
    assert (f"{path}:2: Received Amount: '1,000.50' has a comma; use '.' as decimal point and no separators"
            in res.output)
    assert f"{path}:4: Label: 'Staking' is not a withdrawal label this importer knows" in res.output
    assert res.output.index(f"{path}:2:") < res.output.index(f"{path}:4:")
