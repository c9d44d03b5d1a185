"""qengine's benchmark suite (``python -m perf``, ``make perf``; the package never imports it).

Private helpers start with an underscore.
"""
