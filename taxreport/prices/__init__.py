"""Prices and FX rates: the rate store over the ledger's ``rates`` table (:mod:`.store`), CSV and ECB
import (:mod:`.csv_import`), ccxt OHLCV fetching (:mod:`.fetch`) and the lookup rule used to value
everything in a tax currency (:mod:`.rates`)."""
