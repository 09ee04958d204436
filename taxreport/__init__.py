"""taxreport: run a crypto rebalancing basket, keep an exact audited ledger, file the gains.

Data flows ``importers/ -> ledger/ -> lots/ -> jurisdictions/ -> reports/``; ``rebalance/`` and
``exchanges/`` write to the ledger through the same door as the importers (``Ledger.append``).
"""

__version__ = "0.1.0"
