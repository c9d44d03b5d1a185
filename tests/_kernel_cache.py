"""Fill numba's on-disk kernel cache once, on every core, before the tests run.

On an empty cache (a clean clone in CI) the test process and every subprocess a test starts
would compile the kernels they use on first use, one core at a time, and processes that start
together compile the same kernels twice. ``tests/conftest.py`` runs warmers first instead:
``python -m tests._kernel_cache CLAIMS_DIR`` imports every qengine module (so every kernel is
registered, the backtester's and the engine's private ones too) and loads the kernels of each
module it claims, a claim being a file created with ``O_EXCL`` in ``CLAIMS_DIR``; several
warmers so share the work without a coordinator. Two warmers that compile a shared callee at
once are safe: numba writes each cache file under a temporary name and renames it into place.
Each warmer prints one JSON line: kernels loaded, how many came from the cache, seconds.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path
from typing import Any


def kernels_by_module() -> dict[str, list[Any]]:
    """Every registered kernel of the package, grouped by the module that defines it."""
    import qengine
    from qengine.kernels import _jit

    for info in pkgutil.walk_packages(qengine.__path__, "qengine."):
        if not info.name.endswith(".__main__"):
            importlib.import_module(info.name)
    groups: dict[str, list[Any]] = {}
    for dispatcher in _jit.REGISTRY:
        groups.setdefault(dispatcher.py_func.__module__, []).append(dispatcher)
    return groups


def load_counts(dispatchers: list[Any]) -> dict[str, int]:
    """Load ``dispatchers`` (compiling what the cache lacks); count cache hits and compilations."""
    from qengine.kernels import _jit

    _jit.load(*dispatchers)
    return {"kernels": len(dispatchers),
            "hits": sum(sum(d.stats.cache_hits.values()) for d in dispatchers),
            "compiled": sum(sum(d.stats.cache_misses.values()) for d in dispatchers)}


def _claim(claims: Path, module: str) -> bool:
    try:
        os.close(os.open(claims / module, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def main(claims: Path) -> int:
    """One warmer: load the kernels of every module not yet claimed by another warmer."""
    import json

    started = time.perf_counter()
    totals = {"kernels": 0, "hits": 0, "compiled": 0}
    for module, group in kernels_by_module().items():
        if _claim(claims, module):  # one module at a time: the others stay free to claim
            for key, value in load_counts(group).items():
                totals[key] += value
    print(json.dumps({**totals, "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
