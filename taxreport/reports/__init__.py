"""Year-end exports: one module per format.

* :mod:`.koinly` — Koinly "Universal" CSV; :mod:`.cointracker` — CoinTracker CSV (both built from the
  neutral transaction rows of :mod:`.txrows`);
* :mod:`.form8949` — US Form 8949 CSV; :mod:`.hmrc` — UK HMRC-style computation CSV;
* :mod:`.xlsx` — the workbook (XlsxWriter); :mod:`.pdf` (+ :mod:`.charts`, :mod:`.appendix`) — the PDF: summary and appendices.

:mod:`.cells` neutralises user-supplied text against spreadsheet formula injection; every exporter
writes its cells through it. Heavy libraries (XlsxWriter, matplotlib, weasyprint, reportlab, pypdf) are imported only
inside the functions that need them.
"""
