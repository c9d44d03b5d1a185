"""What a quoting process's resident memory is made of (Linux ``/proc``), for ``bench_memory``.

Two views:

* :func:`rss_by_mapping`: the RSS of the running process summed per kind of mapping
  (``/proc/self/smaps``): llvmlite's LLVM library, numba's and numpy's extension modules, the
  interpreter, other shared libraries, and anonymous memory (the Python heap: objects, module
  code, numba's loaded machine code and type caches, our arrays);
* :func:`rss_import_steps`: a fresh interpreter importing the engine's dependencies one layer at
  a time, with the RSS after each (what each layer adds; anonymous and file-backed together).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

_KINDS = (("llvmlite (LLVM)", ("llvmlite",)), ("numba extensions", ("/numba/",)),
          ("numpy extensions and BLAS", ("/numpy/", "numpy.libs", "openblas")),
          ("interpreter", ("libpython", "/bin/python", "lib-dynload")),
          ("other shared libraries", (".so",)))


ANONYMOUS = "anonymous (Python heap, numba code, arrays)"


def _kind(path: str) -> str:
    if path.startswith(("[stack", "[vdso", "[vvar", "[vsyscall")):
        return "stacks and kernel pages"
    if not path or path.startswith("["):
        return ANONYMOUS
    for kind, needles in _KINDS:
        if any(needle in path for needle in needles):
            return kind
    return "other files"


def rss_by_mapping(smaps: str | None = None) -> dict[str, float]:
    """MiB of RSS per kind of mapping of this process (or of the given smaps text)."""
    text = smaps if smaps is not None else Path("/proc/self/smaps").read_text()
    out: Counter[str] = Counter()
    kind = "other files"
    for line in text.splitlines():
        first = line.split(maxsplit=1)[0] if line else ""
        if "-" in first and not first.endswith(":"):  # a mapping header: range perms ... path
            parts = line.split(maxsplit=5)
            kind = _kind(parts[5].strip() if len(parts) > 5 else "")
        elif first == "Rss:":
            out[kind] += int(line.split()[1]) / 1024.0
    return {k: round(v, 1) for k, v in out.most_common()}


_STEPS = (
    ("interpreter", ""),
    ("+ numpy", "import numpy"),
    ("+ numba and llvmlite", "import numba"),
    ("+ trio, orjson, jwt/cryptography", "import trio, orjson, jwt, cryptography"),
    ("+ qengine kernels (loaded from the numba cache)", "import qengine.kernels as k; k.warm_up()"),
    ("+ qengine engine, io, simulator venue", "import qengine.engine, qengine.io, qengine.venue"),
)


def rss_import_steps() -> dict[str, float]:
    """RSS (MiB) of a fresh interpreter after each layer of imports (cumulative)."""
    lines = ["import orjson, sys", "def rss():",
             "    for l in open('/proc/self/status'):",
             "        if l.startswith('VmRSS:'): return int(l.split()[1]) / 1024.0",
             "out = {}"]
    for name, code in _STEPS:
        if code:
            lines.append(code)
        lines.append(f"out[{name!r}] = round(rss(), 1)")
    lines.append("sys.stdout.buffer.write(orjson.dumps(out))")
    proc = subprocess.run([sys.executable, "-c", "\n".join(lines)], capture_output=True,
                          check=True, timeout=300)
    result: dict[str, Any] = orjson.loads(proc.stdout)
    return result
