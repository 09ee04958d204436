"""A local, OKX-compatible trading venue (``taxreport venue okx``): ccxt's real ``okx`` class talks
to it over HTTP on 127.0.0.1, for the fault campaign and for rehearsing a basket offline.

* :mod:`taxreport.venue.faults` — the ``--faults`` specification and the seeded fault dice.
* :mod:`taxreport.venue.okx` — the venue's books (state on disk) and OKX v5 semantics.
* :mod:`taxreport.venue.server` — the HTTP server: routing, signature check, fault injection.
"""
