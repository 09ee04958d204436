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


def test_every_report_of_the_year_shows_the_same_local_dates(tmp_path):
    # A sale at 2025-01-01T03:00Z is on 31 Dec 2024 in New York (the US module's zone): it belongs to
    # 2024, and Form 8949, the PDF and the workbook all date it 2024-12-31 (before, the PDF and the
    # workbook said 2025-01-01, "UTC").
    import io

    import openpyxl
    from pypdf import PdfReader

    db = str(tmp_path / "l.sqlite3")
    path = write(tmp_path, "t.csv", HEADER + "2024-06-05T15:00:00Z,a,buy,BTC,USD,1,100,,,1\n"
                 "2025-01-01T03:00:00Z,a,sell,BTC,USD,1,150,,,2\n")
    run(db, "import", "csv", path)
    assert run(db, "export", "all", "-j", "us", "-y", "2024", "--out", str(tmp_path / "x")).exit_code == 0
    form = (tmp_path / "x" / "form8949-2024.csv").read_text()
    assert "06/05/2024,12/31/2024,150.00,100.00,,,50.00" in form
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO((tmp_path / "x" / "taxreport-us-2024.pdf")
                                                                  .read_bytes())).pages)
    assert "2024-12-31" in text and "2025-01-01" not in text.split("Disposals")[-1].split("Open lots")[0]
    assert "local dates in America/New_York" in text
    ws = openpyxl.load_workbook(tmp_path / "x" / "taxreport-us-2024.xlsx")["Disposals"]
    header = [c.value for c in ws[1]]
    assert header[2] == "Date sold (America/New_York)"
    from datetime import datetime

    assert [c.value for c in ws[2]][2] == datetime(2024, 12, 31)
