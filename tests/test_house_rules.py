"""House rules that keep the codebase in shape, enforced as tests.

- imports only point down the layers (kernels <- strategy <- io <- engine <- cli, and strategy <-
  backtest <- sweep <- cli: the backtester sits beside io and never sees io, the engine or the
  simulator, the sweep runs the backtester on Dask just below the command line;
  io <- sim <- cli: the simulator is a venue beside io that nothing below the command line imports);
- inside the engine, imports point down its own order of modules (``ENGINE_ORDER``), nothing
  outside it imports its private modules, the leaf modules import only leaves, and the whole
  import graph has no cycle (``python -m pytest tests/test_house_rules.py -q`` checks it all);
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
BACKTEST_KERNEL_MODULES = ("book", "queue", "matching", "pipes", "local", "runner", "strategies",
                           "quoting_layout", "quoting_listener", "quoting_orders",
                           "quoting_strategy", "quoting_decisions")
# Kernels whose independent twin is hftbacktest itself (tests/backtest/test_differential.py
# runs both on the same rows and compares every fill): the scheduler and the strategies.
DIFFERENTIAL_KERNELS = {"runner.run", "strategies.idle", "strategies.glft_grid",
                        "strategies.scripted"}


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _layer(module: str) -> float:
    """Layer of a dotted module: 0 kernels, 0.5 strategy (config -> kernel arrays, shared by the
    engine and the backtester), 1 io, backtest or sim, 2 engine, 2.5 sweep (the backtester on
    Dask), 3 cli (with ``cli_backtest`` and ``cli_sweep``, the backtest and sweep commands, ``run``
    and ``venue``, the session's script entry and its venue); lower never imports higher (io,
    backtest and sim are side by side, see the tests below)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] == "kernels":
        return 0
    if len(parts) > 1 and parts[1] == "strategy":
        return 0.5  # the quoting setup shared by the engine and the backtester
    if len(parts) > 1 and parts[1] in {"io", "backtest", "sim"}:
        return 1
    if len(parts) > 1 and parts[1] == "sweep":
        return 2.5
    if len(parts) > 1 and parts[1] in {"cli", "cli_backtest", "cli_sweep", "__main__", "run",
                                       "venue"}:
        return 3
    # event_rows: the recorded-market-data row format, written by the simulator's recorder and
    # read by the backtester (numpy only), so neither imports the other.
    leaves = {"_version", "units", "errors", "config", "event_rows"}
    if module == "qengine" or (len(parts) > 1 and parts[1] in leaves):
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


def test_io_never_imports_kernels_the_engine_or_the_simulator():
    offenders = [
        f"{path.relative_to(ROOT)} -> {target}"
        for path in _modules(PACKAGE / "io")
        for target in _imports(path)
        if target.startswith("qengine")
        and (_layer(target) not in {-1, 1} or target.startswith("qengine.sim"))
    ]
    assert offenders == []


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _within(target: str, package: str) -> bool:
    return target == package or target.startswith(f"{package}.")


def _imports_beyond(subpackage: str, layers: set[int], packages: tuple[str, ...]) -> list[str]:
    """Imports of ``qengine.<subpackage>`` into the package outside ``layers`` and ``packages``."""
    return [
        f"{path.relative_to(ROOT)} -> {target}"
        for path in _modules(PACKAGE / subpackage)
        for target in _imports(path)
        if _within(target, "qengine") and _layer(target) not in layers
        and not any(_within(target, package) for package in packages)
    ]


def _importers_below_the_cli(subpackage: str, also: tuple[str, ...] = ()) -> list[str]:
    """Modules outside ``qengine.<subpackage>``, the cli layer and the ``also`` subpackages that
    import it."""
    return [
        f"{path.relative_to(ROOT)} -> {target}"
        for path in _modules(PACKAGE)
        if subpackage not in path.relative_to(PACKAGE).parts and _layer(_module_name(path)) != 3
        and path.relative_to(PACKAGE).parts[0] not in also
        for target in _imports(path)
        if _within(target, f"qengine.{subpackage}")
    ]


def test_backtest_imports_only_kernels_the_strategy_leaf_helpers_and_itself():
    assert _imports_beyond("backtest", {-1, 0, 0.5}, ("qengine.backtest",)) == []


def test_strategy_imports_only_kernels_and_leaf_helpers():
    assert _imports_beyond("strategy", {-1, 0}, ("qengine.strategy",)) == []


def test_only_the_cli_and_the_sweep_import_the_backtester():
    assert _importers_below_the_cli("backtest", also=("sweep",)) == []


def test_sweep_imports_only_the_backtester_strategy_kernels_leaf_helpers_and_itself():
    assert _imports_beyond("sweep", {-1, 0, 0.5}, ("qengine.sweep", "qengine.backtest")) == []


def test_only_the_cli_imports_the_sweep():
    assert _importers_below_the_cli("sweep") == []


def test_simulator_imports_only_io_leaf_helpers_and_itself():
    assert _imports_beyond("sim", {-1}, ("qengine.io", "qengine.sim")) == []


def test_only_the_cli_imports_the_simulator():
    assert _importers_below_the_cli("sim") == []


def _importable_below_cli() -> list[str]:
    """Every module of the package outside the simulator and the command line."""
    return [_module_name(path) for path in _modules(PACKAGE)
            if "sim" not in path.relative_to(PACKAGE).parts and _layer(_module_name(path)) < 3]


def test_importing_io_or_the_engine_does_not_load_the_simulator():
    # A fresh interpreter: the test process has long imported the simulator.
    modules = ["qengine.io", "qengine.engine", *_importable_below_cli()]
    script = textwrap.dedent(
        """
        import importlib, json, sys
        culprit = None
        for name in sys.argv[1:]:
            importlib.import_module(name)
            if any(m == "qengine.sim" or m.startswith("qengine.sim.") for m in sys.modules):
                culprit = name
                break
        print(json.dumps({"culprit": culprit, "imported": len(sys.argv) - 1}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True,
                         text=True, check=True, timeout=300)
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["culprit"] is None


def test_the_package_never_imports_perf():
    # perf/ is not shipped: run it as ``python -m perf`` from a checkout.
    offenders = [
        f"{path.relative_to(ROOT)} -> {target}"
        for path in _modules(PACKAGE)
        for target in _imports(path)
        if target == "perf" or target.startswith("perf.")
    ]
    assert offenders == []
    assert "sys.path" not in (PACKAGE / "cli.py").read_text()


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


# -- the engine's own layers, and the import graph as a whole ------------------------------------

#: The engine's modules, lowest first: each imports only engine modules to its left. ``__init__``
#: (``open_engine``, ``Engine``) is the face; the others are private.
ENGINE_ORDER = ("_state", "_ticker_lane", "_gate", "_account", "_listener", "_token_bucket",
                "_our_orders", "_order_wire", "_reconcile", "_orders", "_risk", "_quoter",
                "_services", "_session", "_status", "__init__")
#: Leaf modules: anyone may import them; they import no qengine module but each other.
LEAVES = {"qengine._version", "qengine.errors", "qengine.units", "qengine.clock",
          "qengine.config", "qengine.telemetry", "qengine.event_rows"}


def import_graph() -> dict[str, set[str]]:
    """Every qengine module and the qengine modules it imports (any import, at any depth of
    the file: deferred and ``TYPE_CHECKING`` imports count too)."""
    modules = {_module_name(path): path for path in _modules(PACKAGE)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for target in _imports(path):
            # ``from pkg import name`` names a module when one exists by that name.
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                targets.add(target)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (its modules in order), or ``[]`` when there is none.

    A package's ``__init__`` that imports its own submodules is not a cycle by itself: the
    edge from a submodule to its own package is dropped (Python loads the package first).
    """
    edges = {name: {t for t in targets if not name.startswith(t + ".")}
             for name, targets in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        stack.append(name)
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return []

    for name in sorted(edges):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []


def test_the_import_graph_has_no_cycle():
    assert find_cycle(import_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"p": {"p.x"}, "p.x": {"p"}}) == []  # a package and its own submodule


def test_engine_modules_import_only_engine_modules_below_them():
    modules = {path.stem: path for path in sorted((PACKAGE / "engine").glob("*.py"))}
    assert sorted(modules) == sorted(ENGINE_ORDER)  # a new module gets its place in the order
    offenders = []
    for stem, path in modules.items():
        for target in _imports(path):
            if not target.startswith("qengine.engine"):
                continue
            other = target.removeprefix("qengine.engine").lstrip(".").split(".")[0] or "__init__"
            if other not in ENGINE_ORDER or ENGINE_ORDER.index(other) >= ENGINE_ORDER.index(stem):
                offenders.append(f"{stem} -> {target}")
    assert offenders == []


def test_outside_the_engine_only_its_face_is_imported():
    offenders = [
        f"{path.relative_to(ROOT)} -> {target}"
        for path in _modules(PACKAGE)
        if "engine" not in path.relative_to(PACKAGE).parts
        for target in _imports(path)
        if target.startswith("qengine.engine.")
    ]
    assert offenders == []


def test_leaf_modules_import_only_leaves():
    graph = import_graph()
    offenders = [f"{leaf} -> {target}" for leaf in sorted(LEAVES)
                 for target in sorted(graph[leaf]) if target not in LEAVES]
    assert offenders == []


def test_the_engine_face_is_pinned():
    import qengine.engine

    assert sorted(qengine.engine.__all__) == ["Engine", "open_engine"]
    assert all(hasattr(qengine.engine, name) for name in qengine.engine.__all__)


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
    # (and the strategy setup and the config it translates, shared with the engine, and the
    # event row format, a leaf shared with the simulator's recorder)
    allowed = ("qengine.backtest", "qengine.kernels", "qengine.errors", "qengine.units",
               "qengine.strategy", "qengine.config", "qengine.event_rows")
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
def test_second_process_loads_every_kernel_from_the_disk_cache():
    # The cache the suite and users share (next to the sources), usually filled by the warm-up in
    # tests/conftest.py. An empty cache (every kernel compiled, then loaded) is the cold-start
    # bench's case, checked by tests/test_perf_smoke.py.
    script = textwrap.dedent(
        """
        import json
        from qengine import kernels
        from tests._kernel_cache import kernels_by_module, load_counts
        report = kernels.warm_up()  # the public face: the kernels of qengine.kernels
        every = [d for group in kernels_by_module().values() for d in group]
        print(json.dumps({"public": [report.kernels, report.cache_hits, report.compiled],
                          **load_counts(every)}))
        """
    )
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    runs = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
            check=True, timeout=900,
        )
        import json

        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first, second = runs
    public = first["public"][0]
    assert 0 < public < first["kernels"]  # the backtester and the engine have kernels too
    assert first["hits"] + first["compiled"] == first["kernels"]
    assert second == {"public": [public, public, 0], "kernels": first["kernels"],
                      "hits": first["kernels"], "compiled": 0}


def test_public_api_lists_are_pinned():
    import qengine
    from qengine import kernels

    assert sorted(kernels.__all__) == [
        "QuoteState", "WarmUpReport", "build_ladder", "codes", "dtypes", "glft_ask_depth",
        "glft_bid_depth", "intensity_fit", "intensity_update", "legacy_skew", "legacy_spread",
        "make_level_multipliers", "make_quote_params", "new_quote_state", "optimal_spread",
        "quote_pipeline", "reservation_price", "vol_sigma", "vol_update", "warm_up",
    ]
    # The face is the validated wrappers; raw kernels (dispatchers) only where scalar.
    from qengine.kernels import _jit, research

    raw = {name for name in kernels.__all__ if getattr(kernels, name) in _jit.REGISTRY}
    assert raw == {"glft_ask_depth", "glft_bid_depth", "legacy_skew", "legacy_spread",
                   "optimal_spread", "reservation_price"}
    assert kernels.quote_pipeline is research.quote_pipeline
    assert all(hasattr(kernels, name) for name in kernels.__all__)
    assert sorted(qengine.__all__) == [
        "ConfigError", "ConnectionConfig", "EngineConfig", "QEngineError", "QuoteConfig",
        "RiskConfig", "SimulatorSettings", "StartupError", "TelemetryConfig", "__version__",
        "load_config", "open_engine", "run_engine",
    ]
    assert all(hasattr(qengine, name) for name in qengine.__all__)
    import qengine.io

    assert sorted(qengine.io.__all__) == [
        "Credentials", "ThalexClient", "demo_credentials", "load_credentials",
        "open_thalex_client", "url_for_network",
    ]
    assert all(hasattr(qengine.io, name) for name in qengine.io.__all__)
    import qengine.sim

    assert sorted(qengine.sim.__all__) == [
        "AccountState", "FaultConfig", "IndexSpec", "InstrumentSpec", "MarketRecorder",
        "MarketTap", "Simulator", "SimulatorConfig", "WireTap", "serve_simulator",
        "thalex_instruments",
    ]
    assert all(hasattr(qengine.sim, name) for name in qengine.sim.__all__)


#: Unit suffixes a ``QUOTE_PARAMS`` field may end in (see the ``QUOTE_PARAMS`` comment in dtypes).
QUOTE_PARAM_UNITS = ("_ticks", "_lots", "_coins", "_quote", "_ns", "_s", "_bps", "_per_s",
                     "_per_tick", "_per_sqrt_s", "_sqrt_s", "_trades", "_per_tick_unit", "_count",
                     "_code", "_ratio")


def test_every_quote_param_carries_its_unit_in_its_name():
    from qengine.kernels.dtypes import QUOTE_PARAMS
    from qengine.kernels.params import QUOTE_PARAM_DEFAULTS

    assert [n for n in QUOTE_PARAMS.names if not n.endswith(QUOTE_PARAM_UNITS)] == []
    assert list(QUOTE_PARAM_DEFAULTS) == list(QUOTE_PARAMS.names)
