"""The rebalancing engine: baskets, the pure planner, the crash-safe executor, backtests."""
