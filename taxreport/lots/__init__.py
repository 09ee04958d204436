"""Lots: valued acquisitions and disposals, and the pure matching methods that pair them."""
