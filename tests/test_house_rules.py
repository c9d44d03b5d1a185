"""House rules that keep the codebase in shape, enforced as tests.

- imports only point down the layers (kernels <- io <- engine <- cli, and kernels <- backtest <-
  cli: the backtester sits beside io and never sees io, the engine or the simulator);
- every kernel uses the one decorator and has a pure-Python twin in ``tests/reference``;
- no ``print`` or logging inside kernels;
- a second process loads every kernel from numba's on-disk cache.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qengine"
KERNELS = PACKAGE / "kernels"
REFERENCE = ROOT / "tests" / "reference"
NON_KERNEL_MODULES = {"__init__", "_jit", "dtypes", "codes"}
BACKTEST = PACKAGE / "backtest"
# Backtest modules holding jitted code; twins live in tests/reference/backtest/.
BACKTEST_KERNEL_MODULES = ("book", "queue", "matching", "pipes", "local", "runner", "strategies")
# Kernels whose independent twin is hftbacktest itself (tests/backtest/test_differential.py
# runs both on the same rows and compares every fill): the scheduler and the strategies.
DIFFERENTIAL_KERNELS = {"runner.run", "strategies.idle", "strategies.glft_grid",
                        "strategies.scripted"}


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _layer(module: str) -> int:
    """Layer of a dotted module: 0 kernels, 1 io or backtest, 2 engine, 3 cli; lower never imports
    higher (io and backtest are side by side, see the tests below)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] == "kernels":
        return 0
    if len(parts) > 1 and parts[1] in {"io", "backtest"}:
        return 1
    if len(parts) > 1 and parts[1] in {"cli", "__main__"}:
        return 3
    if module == "qengine" or (len(parts) > 1 and parts[1] in {"_version", "units", "errors"}):
        return -1  # leaf helpers anyone may use
    return 2


def _imports(path: Path) -> list[str]:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if module.endswith(".__init__"):
        module = module[: -len(".__init__")]
        package = module
    else:
        package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                found.append(target)
                if not node.module:
                    found += [f"{target}.{alias.name}" for alias in node.names]
            elif node.module:
                found.append(node.module)
    return found


def test_imports_point_down_the_layers():
    offenders = []
    for path in _modules(PACKAGE):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        mine = _layer(module)
        for target in _imports(path):
            if not target.startswith("qengine"):
                continue
            theirs = _layer(target)
            if mine >= 0 and theirs > mine:
                offenders.append(f"{module} -> {target}")
    assert offenders == []


def test_io_never_imports_kernels_or_the_engine():
    offenders = [
        f"{path.relative_to(ROOT)} -> {target}"
        for path in _modules(PACKAGE / "io")
        for target in _imports(path)
        if target.startswith("qengine") and _layer(target) not in {-1, 1}
    ]
    assert offenders == []


def test_backtest_imports_only_kernels_leaf_helpers_and_itself():
    offenders = [
        f"{path.relative_to(ROOT)} -> {target}"
        for path in _modules(PACKAGE / "backtest")
        for target in _imports(path)
        if target.startswith("qengine")
        and _layer(target) not in {-1, 0}
        and not target.startswith("qengine.backtest")
    ]
    assert offenders == []


def test_only_the_cli_imports_the_backtester():
    offenders = [
        f"{path.relative_to(ROOT)} -> {target}"
        for path in _modules(PACKAGE)
        if "backtest" not in path.relative_to(PACKAGE).parts
        and _layer(".".join(path.relative_to(ROOT).with_suffix("").parts)) != 3
        for target in _imports(path)
        if target.startswith("qengine.backtest")
    ]
    assert offenders == []


def test_kernels_import_only_numpy_numba_and_themselves():
    allowed_roots = {"numpy", "numba", "math", "__future__", "typing", "collections", "qengine"}
    offenders = []
    for path in _modules(KERNELS):
        if path.name == "__init__.py":
            continue  # the package init only orchestrates warm-up (importlib, time)
        for target in _imports(path):
            root = target.split(".")[0]
            outside = root == "qengine" and not target.startswith("qengine.kernels")
            if root not in allowed_roots or outside:
                offenders.append(f"{path.name}: {target}")
    assert offenders == []


def _kernel_functions(path: Path) -> list[tuple[str, str]]:
    """(function name, decorator name) for every decorated top-level function."""
    result = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                name = (target.attr if isinstance(target, ast.Attribute)
                        else getattr(target, "id", ""))
                result.append((node.name, name))
    return result


def _kernel_modules() -> list[Path]:
    return [p for p in sorted(KERNELS.glob("*.py")) if p.stem not in NON_KERNEL_MODULES]


def _backtest_kernel_modules() -> list[Path]:
    return [BACKTEST / f"{name}.py" for name in BACKTEST_KERNEL_MODULES]


def test_every_kernel_uses_the_house_decorator():
    offenders = [
        f"{path.name}:{fn} uses @{deco}"
        for path in _kernel_modules() + _backtest_kernel_modules()
        for fn, deco in _kernel_functions(path)
        if deco not in {"kernel", "helper"}
    ]
    assert offenders == []
    source = "\n".join(p.read_text() for p in _kernel_modules() + _backtest_kernel_modules())
    assert "njit" not in source
    assert "fastmath" not in source


def test_every_kernel_has_a_reference_twin():
    missing = []
    for path in _kernel_modules():
        twin_path = REFERENCE / path.name
        twin_names = set()
        if twin_path.exists():
            body = ast.parse(twin_path.read_text()).body
            twin_names = {n.name for n in body if isinstance(n, ast.FunctionDef)}
        for fn, deco in _kernel_functions(path):
            if deco == "kernel" and fn not in twin_names:
                missing.append(f"{path.stem}.{fn}")
    assert missing == []


def test_every_backtest_kernel_has_a_reference_twin_or_a_differential_test():
    missing = []
    for path in _backtest_kernel_modules():
        twin_path = REFERENCE / "backtest" / path.name
        twin_names = set()
        if twin_path.exists():
            body = ast.parse(twin_path.read_text()).body
            twin_names = {n.name for n in body if isinstance(n, ast.FunctionDef)}
        for fn, deco in _kernel_functions(path):
            name = f"{path.stem}.{fn}"
            if deco == "kernel" and fn not in twin_names and name not in DIFFERENTIAL_KERNELS:
                missing.append(name)
    assert missing == []


def test_backtest_imports_only_kernels_and_itself():
    allowed = ("qengine.backtest", "qengine.kernels", "qengine.errors", "qengine.units")
    offenders = [
        f"{path.name}: {target}"
        for path in _modules(BACKTEST)
        for target in _imports(path)
        if target.startswith("qengine") and not target.startswith(allowed)
    ]
    assert offenders == []


def test_no_print_or_logging_in_kernels():
    offenders = []
    for path in _modules(KERNELS) + _backtest_kernel_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                owner = getattr(getattr(func, "value", None), "id", "")
                if name == "print" or owner in {"logging", "logger", "log"}:
                    offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                if "logging" in names:
                    offenders.append(f"{path.name}:{node.lineno} imports logging")
    assert offenders == []


@pytest.mark.slow
def test_second_process_loads_every_kernel_from_the_disk_cache(tmp_path):
    script = textwrap.dedent(
        """
        import json
        from qengine import kernels
        report = kernels.warm_up()
        print(json.dumps({"kernels": report.kernels, "hits": report.cache_hits,
                          "compiled": report.compiled}))
        """
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    runs = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True,
            timeout=900,
        )
        import json

        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["kernels"] > 0
    assert first["compiled"] == first["kernels"]
    assert second["compiled"] == 0
    assert second["hits"] == second["kernels"]


def test_public_api_lists_are_pinned():
    import qengine
    from qengine import kernels

    assert sorted(kernels.__all__) == [
        "WarmUpReport", "apply_adjustments", "build_ladder", "candle_signals", "candle_update",
        "codes", "dtypes", "glft_ask_depth", "glft_bid_depth", "intensity_fit", "intensity_reset",
        "intensity_update", "legacy_skew", "legacy_spread", "make_level_multipliers",
        "make_quote_params", "optimal_spread", "predict_adjustments", "quote_pipeline",
        "reservation_price", "ring_latest", "ring_push", "ring_window_by_count",
        "ring_window_by_time", "vamp_update", "vamp_value", "vol_expire", "vol_sigma", "vol_update",
        "warm_up",
    ]
    assert all(hasattr(kernels, name) for name in kernels.__all__)
    assert sorted(qengine.__all__) == [
        "ConfigError", "ConnectionConfig", "EngineConfig", "QEngineError", "QuoteConfig",
        "RiskConfig", "SimulatorSettings", "StartupError", "TelemetryConfig", "__version__",
        "load_config", "open_engine", "run_engine",
    ]
    assert all(hasattr(qengine, name) for name in qengine.__all__)
    import qengine.io

    assert sorted(qengine.io.__all__) == [
        "Credentials", "SimulatorConfig", "ThalexClient", "demo_credentials", "load_credentials",
        "open_thalex_client", "serve_simulator", "url_for_network",
    ]
