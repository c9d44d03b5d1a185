"""Backtesting on recorded market data with the kernels that quote live."""
