"""Exchanges: one interface (:mod:`.base`), a ccxt adapter and a paper (simulated) exchange."""
