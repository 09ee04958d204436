"""Year-end exports: one module per format.

* :mod:`.koinly` — Koinly "Universal" CSV; :mod:`.cointracker` — CoinTracker CSV (both built from the
  neutral transaction rows of :mod:`.txrows`);
* :mod:`.form8949` — US Form 8949 CSV; :mod:`.hmrc` — UK HMRC-style computation CSV;
* :mod:`.xlsx` — the openpyxl workbook; :mod:`.pdf` (+ :mod:`.charts`) — the PDF year-end summary.

:mod:`.cells` neutralises user-supplied text against spreadsheet formula injection; every exporter
writes its cells through it. Heavy libraries (openpyxl, matplotlib, weasyprint) are imported only
inside the functions that need them.
"""
