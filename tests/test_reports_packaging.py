"""The wheel is complete: ``pip install .`` into a clean virtual environment, then ``export pdf`` from the
installed package (templates ship inside it as ``taxreport/templates``).

Marked ``packaging`` (excluded from the default run for the suite's time; ``make test-packaging`` runs
it). To avoid downloading every dependency again, the clean environment sees the development
environment's third-party packages through a plain path entry (no ``.pth`` of that folder is
processed, so the editable taxreport there is invisible) and gets taxreport itself only from the wheel.
"""

from __future__ import annotations

import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.packaging
def test_pip_install_then_export_pdf_in_a_clean_venv(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
                   check=True, capture_output=True, text=True)
    [wheel] = list(wheels.glob("taxreport-*.whl"))
    env_dir = tmp_path / "clean"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "devdeps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, text=True)
    work = tmp_path / "work"
    work.mkdir()
    exe = str(env_dir / "bin" / "taxreport")
    where = subprocess.run([str(py), "-c", "import taxreport; print(taxreport.__file__)"], cwd=work, check=True,
                           capture_output=True, text=True).stdout
    assert str(env_dir) in where  # the wheel's copy, not the checkout's
    db = str(work / "l.sqlite3")
    subprocess.run([exe, "--db", db, "import", "csv", str(REPO / "sample_exports" / "demo_trades.csv")], cwd=work,
                   check=True, capture_output=True, text=True)
    out = subprocess.run([exe, "--db", db, "export", "pdf", "-j", "us", "-y", "2024", "--out", "r.pdf"], cwd=work,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (work / "r.pdf").read_bytes()[:5] == b"%PDF-"
