"""The sentences of a ``gains`` document that changed on purpose after main's hashes were computed: the tests that
compare a document with a hash main's code computed (tests/test_gains_years_differential.py, test_gains_document.py,
test_engine_main_423411f.py) put main's sentence back with :func:`as_main` before hashing, and nothing else.

* Round 11: the specific-identification note counts the disposals matched FIFO per asset
  (:func:`taxreport.lots.matching.fallback_note`, checked by tests/test_specific_fallback_note.py):
  "... had no named lots and were matched FIFO: USDT 12, BTC 1" was "... had no named lots and were matched FIFO".
"""

from __future__ import annotations

import re

_PER_ASSET = re.compile(r"(specific identification: \d+ disposal\(s\) had no named lots and were matched FIFO): "
                        r"[A-Za-z0-9_.:/-]+ \d+(?:, [A-Za-z0-9_.:/-]+ \d+)*(?=\")")


def as_main(document: str) -> str:
    """``document`` (a ``gains --format json`` text) with main's sentences."""
    return _PER_ASSET.sub(r"\1", document)
