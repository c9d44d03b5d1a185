"""``grid.toml``: which config keys a sweep varies, how it splits the data, the backtest options.

::

    [params]                      # any EngineConfig key, dotted; a list or a range
    "quote.gamma" = [0.001, 0.01, 0.1]
    "quote.levels" = { start = 1, stop = 3, step = 1 }   # 1, 2, 3 (stop included)

    [split]                       # optional; default mode = "all"
    mode = "walk_forward"         # "all" | "per_file" | "walk_forward"
    window_s = 120                # walk_forward: consecutive windows of this length

    [backtest]                    # optional: options of qengine.backtest.run
    instrument = "BTCUSDT"        # or { "btc*" = "BTCUSDT", "eth*" = "ETHUSDT" } by file name
    latency_ms = 10.0
    queue = "riskaverse"          # or "powerprob:N"
    partial_fills = false
    record_interval_ms = 100.0
    # wake_interval_ms = 100.0    # wake at a fixed cadence (default: on every row and reply)

    [summary]                     # optional
    metric = "pnl_quote"          # the statistic that ranks parameter sets
    minimize = false
    top = 10

A range holds ``start, start + step, ...`` up to ``stop`` included (within a millionth of a step);
floats are rounded to 12 significant decimals so 0.1 + 0.2 stays 0.3. Every combination of the
parameters is validated against :class:`qengine.config.EngineConfig` (on top of the base config)
before anything starts; an error names the key and the value.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qengine.config import config_from_mapping, read_toml
from qengine.errors import ConfigError

SPLIT_MODES = ("all", "per_file", "walk_forward")
_RANGE_KEYS = {"start", "stop", "step"}
_MAX_POINTS = 1_000_000
_BACKTEST_DEFAULTS: dict[str, Any] = {
    "latency_ms": 10.0, "queue": "riskaverse", "partial_fills": False, "record_interval_ms": 100.0,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class SplitSpec:
    """How the data files are cut into backtests: all together, one per file, or walk-forward
    windows of ``window_s`` seconds (fit on window k, test on window k + 1)."""

    mode: str = "all"
    window_s: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class GridSpec:
    """A validated grid: parameter values in the config's own types, in file order."""

    params: dict[str, tuple[Any, ...]]
    split: SplitSpec = field(default_factory=SplitSpec)
    #: Keyword options of ``qengine.backtest.run`` (without ``instrument``).
    backtest: dict[str, Any] = field(default_factory=lambda: dict(_BACKTEST_DEFAULTS))
    #: Instrument name for every file, or (pattern, name) pairs matched on the file name.
    instrument: str | tuple[tuple[str, str], ...] | None = None
    metric: str = ""
    minimize: bool = False
    top: int = 10

    def points(self) -> list[dict[str, Any]]:
        """Every parameter set (the cartesian product), in a stable order."""
        names = list(self.params)
        return [dict(zip(names, values, strict=True))
                for values in itertools.product(*(self.params[n] for n in names))]

    def instrument_for(self, path: str | Path) -> str | None:
        """The instrument name of a data file (None: the config's ``instrument``)."""
        if self.instrument is None or isinstance(self.instrument, str):
            return self.instrument
        name = Path(path).name
        for pattern, instrument in self.instrument:
            if fnmatch.fnmatch(name, pattern):
                return instrument
        raise ConfigError(f"backtest.instrument: no pattern matches the data file {name!r}")


def load_grid(path: str | Path, base: Mapping[str, Any]) -> GridSpec:
    """Read and validate ``grid.toml`` against the base config mapping (``quote.toml``'s tables).

    Raises
    ------
    ConfigError
        Missing or invalid file, an unknown key, a bad value or range; the message names it.
    """
    return grid_from_mapping(read_toml(path, "grid file"), base)


def grid_from_mapping(data: Mapping[str, Any], base: Mapping[str, Any]) -> GridSpec:
    """Build a :class:`GridSpec` from parsed TOML; see :func:`load_grid`."""
    unknown = sorted(set(data) - {"params", "split", "backtest", "summary"})
    if unknown:
        raise ConfigError(f"grid: unknown table {unknown[0]!r} (expected params, split, "
                          "backtest, summary)")
    raw = _table(data, "params")
    if not raw:
        raise ConfigError("grid: [params] must name at least one config key to vary")
    params = {key: _values(key, value) for key, value in _flatten(raw, "")}
    params = _validated(params, base)
    instrument, backtest = _backtest_options(_table(data, "backtest"))
    summary = _table(data, "summary")
    _only(summary, {"metric", "minimize", "top"}, "summary")
    metric = summary.get("metric", "")
    minimize = summary.get("minimize", False)
    top = summary.get("top", 10)
    _expect(isinstance(metric, str), "summary.metric", metric, "a statistic's name")
    _expect(isinstance(minimize, bool), "summary.minimize", minimize, "true or false")
    _expect(_is_int(top) and top >= 1, "summary.top", top, "an integer >= 1")
    return GridSpec(params=params, split=_split(_table(data, "split")), backtest=backtest,
                    instrument=instrument, metric=metric, minimize=minimize, top=top)


def _table(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"grid: [{name}] must be a table")
    return dict(value)


def _only(table: Mapping[str, Any], allowed: set[str], name: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{name}.{key}: unknown key (expected one of {sorted(allowed)})")


def _expect(ok: bool, key: str, value: Any, what: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: must be {what}, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _flatten(table: Mapping[str, Any], prefix: str) -> list[tuple[str, Any]]:
    """``quote.gamma = [...]`` parses as nested tables; ``"quote.gamma" = [...]`` does not."""
    out = []
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and not _RANGE_KEYS & set(value):
            out += _flatten(value, f"{dotted}.")
        else:
            out.append((dotted, value))
    return out


def _values(key: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, list):
        _expect(len(value) > 0, key, value, "a non-empty list of values or a range")
        if len(set(map(repr, value))) != len(value):
            raise ConfigError(f"{key}: the list {value!r} repeats a value")
        return tuple(value)
    if isinstance(value, Mapping):
        return _range(key, value)
    raise ConfigError(f"{key}: must be a list of values or a range {{start, stop, step}}, "
                      f"got {value!r}")


def _range(key: str, spec: Mapping[str, Any]) -> tuple[Any, ...]:
    if set(spec) != _RANGE_KEYS:
        raise ConfigError(f"{key}: a range needs exactly start, stop and step, got {dict(spec)!r}")
    start, stop, step = spec["start"], spec["stop"], spec["step"]
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        _expect(_is_number(v), f"{key}.{name}", v, "a finite number")
    if step <= 0 or stop < start:
        raise ConfigError(f"{key}: range needs step > 0 and stop >= start, got {dict(spec)!r}")
    count = math.floor((stop - start) / step + 1e-6) + 1
    if count > _MAX_POINTS:
        raise ConfigError(f"{key}: range {dict(spec)!r} has {count} values (> {_MAX_POINTS})")
    if all(_is_int(v) for v in (start, stop, step)):
        return tuple(start + i * step for i in range(count))
    return tuple(float(f"{start + i * step:.12g}") for i in range(count))


def _validated(params: dict[str, tuple[Any, ...]], base: Mapping[str, Any],
               ) -> dict[str, tuple[Any, ...]]:
    """Each value alone, then every combination, on top of ``base``; values come back in the
    config's types (an int given for a float key becomes a float)."""
    typed: dict[str, tuple[Any, ...]] = {}
    for key, values in params.items():
        typed[key] = tuple(_config_value(key, _apply(base, {key: v})) for v in values)
    total = math.prod(len(v) for v in typed.values())
    if total > _MAX_POINTS:
        raise ConfigError(f"grid: {total} parameter sets (> {_MAX_POINTS})")
    names = list(typed)
    for values in itertools.product(*(typed[n] for n in names)):
        point = dict(zip(names, values, strict=True))
        try:
            config_from_mapping(_nested(base, point))
        except ConfigError as exc:
            raise ConfigError(f"grid: the parameter set {point} is invalid: {exc}") from None
    return typed


def _apply(base: Mapping[str, Any], point: Mapping[str, Any]) -> Any:
    try:
        return config_from_mapping(_nested(base, point))
    except ConfigError as exc:
        (key, value), = point.items()
        raise ConfigError(f"{key} = {value!r}: {exc}") from None


def _config_value(key: str, config: Any) -> Any:
    value = config
    for part in key.split("."):
        value = getattr(value, part)
    return list(value) if isinstance(value, tuple) else value


def _nested(base: Mapping[str, Any], point: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` (TOML tables) with dotted ``point`` keys set; ``base`` is not modified."""
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in base.items()}
    for dotted, value in point.items():
        section, _, key = dotted.rpartition(".")
        if section and "." in section:
            raise ConfigError(f"{dotted}: unknown key")
        target = out.setdefault(section, {}) if section else out
        if not isinstance(target, dict):
            raise ConfigError(f"{dotted}: unknown key ({section} is not a table)")
        target[key] = value
    return out


def config_mapping(base: Mapping[str, Any], point: Mapping[str, Any]) -> dict[str, Any]:
    """The config mapping of one parameter set (``base`` with ``point`` applied)."""
    return _nested(base, point)


def _split(table: Mapping[str, Any]) -> SplitSpec:
    _only(table, {"mode", "window_s"}, "split")
    mode = table.get("mode", "all")
    _expect(mode in SPLIT_MODES, "split.mode", mode, f"one of {SPLIT_MODES}")
    window = table.get("window_s")
    if mode == "walk_forward":
        _expect(_is_number(window) and window > 0, "split.window_s", window,
                "a number of seconds > 0 (walk_forward needs it)")
        return SplitSpec(mode=mode, window_s=float(window))
    if window is not None:
        raise ConfigError(f"split.window_s: only for mode = 'walk_forward' (mode is {mode!r})")
    return SplitSpec(mode=mode)


def _backtest_options(table: Mapping[str, Any],
                      ) -> tuple[str | tuple[tuple[str, str], ...] | None, dict[str, Any]]:
    _only(table, {"instrument", "wake_interval_ms", *_BACKTEST_DEFAULTS}, "backtest")
    options = {**_BACKTEST_DEFAULTS, **{k: v for k, v in table.items() if k != "instrument"}}
    for name in ("latency_ms", "record_interval_ms", "wake_interval_ms"):
        if name in options:
            v = options[name]
            positive = name != "latency_ms"
            _expect(_is_number(v) and (v > 0 if positive else v >= 0), f"backtest.{name}", v,
                    "a number of milliseconds" + (" > 0" if positive else " >= 0"))
            options[name] = float(v)
    _expect(isinstance(options["partial_fills"], bool), "backtest.partial_fills",
            options["partial_fills"], "true or false")
    _check_queue(options["queue"])
    return _instrument(table.get("instrument")), options


def _check_queue(queue: Any) -> None:
    ok = queue == "riskaverse"
    if isinstance(queue, str) and queue.startswith("powerprob"):
        _, _, n = queue.partition(":")
        try:
            ok = not n or float(n) > 0
        except ValueError:
            ok = False
    _expect(ok, "backtest.queue", queue, "'riskaverse' or 'powerprob:N' (N > 0)")


def _instrument(value: Any) -> str | tuple[tuple[str, str], ...] | None:
    if value is None or isinstance(value, str):
        _expect(value is None or bool(value), "backtest.instrument", value, "a non-empty name")
        return value
    if isinstance(value, Mapping) and value:
        pairs = tuple(value.items())
        for pattern, name in pairs:
            _expect(isinstance(name, str) and bool(name), f"backtest.instrument.{pattern}",
                    name, "an instrument name")
        return pairs
    raise ConfigError(f"backtest.instrument: must be a name or a table of file-name patterns "
                      f"to names, got {value!r}")

