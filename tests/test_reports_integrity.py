"""Reports an accountant signs: no report from a ledger whose hash chain does not verify."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import text

from taxreport.cli.main import root
from taxreport.ledger import Ledger

HEADER = "timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"


def run(db, *args):  # noqa: ANN001, ANN002, ANN201
    return CliRunner().invoke(root, ["--db", db, *args], catch_exceptions=False)


def write(tmp_path, name, body):  # noqa: ANN001, ANN201
    path = tmp_path / name
    path.write_text(body)
    return str(path)


def test_a_tampered_ledger_yields_no_report(tmp_path):
    db = str(tmp_path / "l.sqlite3")
    # Every report says its figures come from the hash-chained ledger: once a row is edited, gains and
    # every export refuse with one line naming the row, and write nothing.
    path = write(tmp_path, "t.csv", HEADER + "2024-01-05T10:00:00Z,a,buy,BTC,USD,1,100,,,1\n"
                 "2024-03-06T10:00:00Z,a,sell,BTC,USD,1,150,,,2\n")
    run(db, "import", "csv", path)
    out = tmp_path / "out"
    assert run(db, "export", "koinly", "-y", "2024", "--out", str(tmp_path / "ok.csv")).exit_code == 0
    engine = Ledger(f"sqlite:///{db}").engine
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET payload = replace(payload, '\"150\"', '\"999\"') WHERE seq = 2"))
    for args in (["gains", "-j", "us", "-y", "2024"],
                 ["export", "koinly", "-y", "2024", "--out", str(out / "k.csv")],
                 ["export", "form8949", "-y", "2024", "--out", str(out / "f.csv")],
                 ["export", "pdf", "-j", "us", "-y", "2024", "--out", str(out / "r.pdf")],
                 ["export", "all", "-j", "us", "-y", "2024", "--out", str(out)]):
        result = CliRunner().invoke(root, ["--db", db, *args])
        assert result.exit_code == 1, args
        assert result.output.strip().startswith("error: the ledger's hash chain does not verify (row 2 was edited"), \
            result.output
        assert "Traceback" not in result.output
    assert not out.exists()
