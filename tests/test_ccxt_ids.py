"""Deterministic client order ids (OKX clOrdId: 1-32 letters and digits, duplicates rejected)."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from taxreport.rebalance.ids import client_order_id, is_valid_client_order_id


def test_pinned_values_never_change():
    # Pinned: a restarted (or upgraded) executor must find yesterday's orders by these ids.
    # "tr" + first 30 hex digits of sha256("core\x1f20261125T040000Z\x1f0\x1f0")
    assert client_order_id("core", "20261125T040000Z", 0, 0) == "trbe57b36e2d48f0611742213c0bf53c"
    assert client_order_id("core", "20261125T040000Z", 0, 0) == \
        "tr" + hashlib.sha256(b"core\x1f20261125T040000Z\x1f0\x1f0").hexdigest()[:30]
    assert client_order_id("core", "20261125T040000Z", 0, 1) == "tref428121e3e1e4c75c446e9e3b6e5d"
    assert client_order_id("core", "20261125T040000Z", 1, 0) == "trc86ff00a0955d48f08d38a27f2e1fa"


def test_okx_format_and_uniqueness():
    ids = {client_order_id(b, r, leg, a) for b, r, leg, a in
           itertools.product(["core", "core2", "x"], ["r1", "r2", "20261125T040000Z"], range(20), range(5))}
    assert len(ids) == 3 * 3 * 20 * 5  # all different
    assert all(len(i) == 32 and i.isalnum() and i.isascii() and is_valid_client_order_id(i) for i in ids)


def test_parts_cannot_run_into_each_other():
    assert client_order_id("a1", "2", 0, 0) != client_order_id("a", "12", 0, 0)
    assert client_order_id("core", "r", "1", 0) == client_order_id("core", "r", 1, 0)


def test_bad_parts_refused():
    with pytest.raises(ValueError):
        client_order_id("core", "r", 0, -1)
    with pytest.raises(ValueError):
        client_order_id("core", "", 0, 0)
    with pytest.raises(ValueError):
        client_order_id("core", "r", 0, True)
    assert not is_valid_client_order_id("tr-abc") and not is_valid_client_order_id("x" * 33)
