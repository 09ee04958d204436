"""Importers: exchange and CSV files -> normalised ledger events (pure parsing), written through
:func:`taxreport.importers.base.write_batch`, the same door the rebalancer uses."""
