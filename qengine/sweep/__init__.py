"""Parameter sweeps of the backtester on Dask (``qengine sweep``).

``grid`` reads and validates ``grid.toml``; ``tasks`` plans one task per (parameter set, data
split) and runs one on a worker; ``data`` loads a split on the worker; ``store`` writes the rows
to Parquet as they finish; ``runner`` drives Dask; ``summary`` ranks, plots and writes the page.
"""
