"""The markdown report of a suite run: targets vs measured, latency tails, kernels, errors."""

from __future__ import annotations

from typing import Any

KERNEL_FIELDS = [
    "inloop_p50_ns", "inloop_p99_ns", "inloop_p999_ns", "inloop_max_ns",
    "python_p50_ns", "python_p99_ns", "python_p999_ns", "python_max_ns",
]


def get(entry: Any, dotted: str) -> Any:
    """The value at a dotted path inside nested dicts, or None."""
    for part in dotted.split("."):
        if not isinstance(entry, dict) or part not in entry:
            return None
        entry = entry[part]
    return entry


def fmt(value: Any, unit: str = "", scale: float = 1.0, digits: int = 0) -> str:
    """A number with thousands separators and a unit; ``n/a`` for None, yes/no for bools."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value / scale:,.{digits}f}{unit}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _neg(value: float | None) -> float | None:
    return None if value is None else -value


def target_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(metric, task list's bar, qengine target, measured, verdict) rows."""
    pipe, ingest = r.get("kernel.pipeline", {}), r.get("ingest", {})
    every = get(r.get("ingest_every", {}), "msgs_per_s")
    mem, log = r.get("memory", {}), r.get("logging", {})
    ttq, cold = r.get("tick_to_quote", {}), r.get("cold_start", {})
    loop_p50, py_p99 = get(pipe, "inloop_p50_ns"), get(pipe, "python_p99_ns")
    rate = get(ingest, "msgs_per_s")
    reductions = [get(mem, f"{k}_reduction_pct") for k in ("order", "quote", "sample")]
    growth = get(mem, "rss_growth_pct")
    volume, cpu = get(log, "volume_reduction_pct"), get(log, "cpu_reduction_pct")
    kept = get(log, "critical_events_kept")
    warm = get(cold, "warm_s")
    return [
        ("quote generation", "< 100 us", "pipeline p50 <= 1 us in-loop, p99 <= 5 us from Python",
         f"in-loop p50 {fmt(loop_p50, ' ns')}, Python p99 {fmt(py_p99, ' ns')}",
         _met(None if loop_p50 is None or py_p99 is None
              else loop_p50 <= 1_000 and py_p99 <= 5_000)),
        ("throughput", "10,000 msgs/s", ">= 150,000 msgs/s sustained on one core",
         f"{fmt(rate, ' msgs/s')} through the engine's path (mode "
         f"{get(ingest, 'mode') or 'n/a'}; at 50,000/s: p50 {fmt(get(ingest, 'p50_us'), ' us')}, "
         f"p99 {fmt(get(ingest, 'p99_us'), ' us')}); every ticker decoded: "
         f"{fmt(every, ' msgs/s')}",
         _met(None if rate is None else rate >= 150_000)),
        ("tick to quote", "(none)",
         "frame read -> order bytes: p50 <= 40 us at 1k; p50 <= 50 / p99 <= 150 us at 10k "
         "(rate reached)",
         f"at 1k: p50 {fmt(get(ttq, 'at_1k.read_p50_us'), ' us')} "
         f"({fmt(get(ttq, 'at_1k.achieved_msgs_per_s'))} msgs/s); at 10k: p50 "
         f"{fmt(get(ttq, 'at_10k.read_p50_us'), ' us')} / p99 "
         f"{fmt(get(ttq, 'at_10k.read_p99_us'), ' us')} "
         f"({fmt(get(ttq, 'at_10k.achieved_msgs_per_s'))} msgs/s"
         f"{'' if get(ttq, 'at_10k.rate_reached') else ', rate NOT reached'}); busy polling "
         f"(`connection.busy_poll`): at 1k p50 "
         f"{fmt(get(ttq, 'at_1k_busy_poll.read_p50_us'), ' us')}, at 10k p50 "
         f"{fmt(get(ttq, 'at_10k_busy_poll.read_p50_us'), ' us')} / p99 "
         f"{fmt(get(ttq, 'at_10k_busy_poll.read_p99_us'), ' us')}",
         _met(get(ttq, "meets_target"))),
        ("memory", "-40 to -60%", ">= -90% bytes per order, quote and price sample",
         "order {}, quote {}, sample {}".format(
             *(fmt(_neg(x), " %", digits=1) for x in reductions)),
         _met(None if None in reductions else min(reductions) >= 90.0)),
        ("memory over a session", "(none)", "RSS growth < 5 %",
         f"{fmt(get(mem, 'rss_mb_start'), ' MiB', digits=1)} -> "
         f"{fmt(get(mem, 'rss_mb_after'), ' MiB', digits=1)} "
         f"({fmt(growth, ' %', digits=2)}) over {fmt(get(mem, 'session_simulated_s'), ' s')} "
         f"simulated", _met(None if growth is None else growth < 5.0)),
        ("log volume", "-70 to -90%", ">= -95% with every critical event kept",
         f"{fmt(_neg(volume), ' %', digits=2)}, critical kept: {fmt(kept)}",
         _met(None if volume is None else volume >= 95.0 and bool(kept))),
        ("logging CPU", "-50 to -70%", ">= -90%", fmt(_neg(cpu), " %", digits=1),
         _met(None if cpu is None else cpu >= 90.0)),
        ("cold start", "(none)", "warm cache first quote <= 0.5 s",
         f"warm {fmt(warm, ' s', digits=3)} (numba's own floor: "
         f"{fmt(get(cold, 'numba_floor_s'), ' s', digits=3)}), cold (empty cache) "
         f"{fmt(get(cold, 'cold_s'), ' s', digits=2)}",
         _met(None if warm is None else warm <= 0.5)),
    ]


def _tail_rows(r: dict[str, Any]) -> list[str]:
    rows = []

    def add(name: str, entry: Any, prefix: str, scale: float, extra: str,
            suffix: str = "") -> None:
        values = [get(entry, f"{prefix}{p}{suffix}") for p in ("p50", "p99", "p999", "max")]
        if values[0] is not None:
            rows.append(f"| {name} | " + " | ".join(fmt(v, scale=scale) for v in values)
                        + f" | {extra} |")

    ttq = r.get("tick_to_quote", {})
    for key in ("at_1k", "at_10k", "at_1k_busy_poll", "at_10k_busy_poll"):
        e = ttq.get(key, {})
        add(f"tick_to_quote.{key} (feeder send -> action sent)", e, "", 1.0,
            f"{fmt(get(e, 'samples'))} samples, {fmt(get(e, 'achieved_msgs_per_s'))} msgs/s, "
            f"engine CPU {fmt(get(e, 'engine_cpu_pct'))} %", "_us")
        add(f"tick_to_quote.{key} (frame read -> action sent)", e, "read_", 1.0,
            f"engine histogram p50 {fmt(get(e, 'engine_p50_us'))}, "
            f"p99 {fmt(get(e, 'engine_p99_us'))}", "_us")
    ingest = r.get("ingest", {})
    add("ingest at 50,000 msgs/s (send -> state)", ingest.get("paced_latency_ns"), "", 1e3,
        f"backlog growing: {fmt(get(ingest, 'backlog_growing'))}")
    rpc = r.get("rpc_round_trip", {})
    add("rpc insert", rpc.get("insert_ns"), "", 1e3, f"{fmt(get(rpc, 'rounds'))} rounds")
    add("rpc cancel", rpc.get("cancel_ns"), "", 1e3, "")
    return rows


def backtest_rows(bt: dict[str, Any]) -> list[str]:
    """The side-by-side table of ``perf.bench_backtest`` (markdown lines)."""
    lines = [
        f"Events: {fmt(get(bt, 'events'))} rows, min of {fmt(get(bt, 'repeats'))} runs per "
        "engine and mode (JIT excluded; hftbacktest's construction outside its clock, qengine's "
        "whole `Backtest.run` inside). Ratio = qengine events/s over hftbacktest's (goal >= 1.5); "
        "CPU ratio is the same from thread CPU time.", "",
        "| mode | wake-ups | hftbacktest events/s | qengine events/s | ratio | CPU ratio "
        "| per decision hftbacktest | qengine | fills | |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for mode, e in bt.items():
        if not isinstance(e, dict) or "ratio" not in e:
            continue
        decision = [fmt(get(e, f"{engine}_per_decision_ns"), " ns") if "glft" in mode else ""
                    for engine in ("hftbacktest", "qengine")]
        rates = [fmt(e[f"{engine}_events_per_s"] / 1e6, " M", digits=2)
                 for engine in ("hftbacktest", "qengine")]
        lines.append(
            f"| {mode} | {fmt(e['wake_ups'])} | {rates[0]} | {rates[1]} "
            f"| {fmt(e['ratio'], digits=2)} | {fmt(e['cpu_ratio'], digits=2)} "
            f"| {decision[0]} | {decision[1]} "
            f"| {fmt(get(e, 'fills'))} | {_met(e['ratio'] >= 1.5)} |")
    start = bt.get("start", {})
    lines += [
        "", f"Fill check: {fmt(get(bt, 'fill_mismatches'))} mismatches (wake-ups, orders, cancels, "
        "rejects, fill sets and equity compared per mode)." + "".join(
            f"\n- {m}" for m in bt.get("mismatches", [])), "",
        f"Second-process start (fresh `python -c` to the first result of a "
        f"{fmt(get(start, 'rows'))}-row GLFT backtest, min of runs): qengine with a warm numba "
        f"cache {fmt(get(start, 'qengine_s'), ' s', digits=2)} (target < 1 s: "
        f"{_met(None if get(start, 'qengine_s') is None else start['qengine_s'] < 1.0)}; "
        f"{fmt(get(start, 'qengine_cpu_s'), ' s', digits=2)} of CPU in the child), hftbacktest "
        f"{fmt(get(start, 'hftbacktest_s'), ' s', digits=2)} "
        f"({fmt(get(start, 'hftbacktest_cpu_s'), ' s', digits=2)} of CPU).",
    ]
    return lines


def scale_rows(sc: dict[str, Any]) -> list[str]:
    """The scale run of ``perf.bench_backtest_scale`` (markdown lines)."""
    after = sc.get("rss_mb_after_file", {})
    rate = get(sc, "events_per_s")
    peak = sc.get("peak_rss_mb_after_file", {})
    return [
        f"{fmt(get(sc, 'files'))} files x {fmt(get(sc, 'rows_per_file'))} synthetic rows "
        f"({fmt(get(sc, 'events'))} events, written in "
        f"{fmt(get(sc, 'generate_s'), ' s', digits=1)}"
        f") streamed through qengine, GLFT grid at 100 ms: {fmt(get(sc, 'wall_s'), ' s', digits=1)}"
        f", {fmt(None if rate is None else rate / 1e6, ' M', digits=2)}"
        f" events/s, {fmt(get(sc, 'fills'))} fills, {fmt(get(sc, 'orders'))} orders.", "",
        "| after file | " + " | ".join(after) + " |", "|---|" + "---:|" * len(after),
        "| RSS MiB | " + " | ".join(fmt(v, digits=1) for v in after.values()) + " |",
        "| peak RSS MiB | " + " | ".join(fmt(v, digits=1) for v in peak.values()) + " |", "",
        f"Before the first file: RSS {fmt(get(sc, 'rss_mb_start'), ' MiB', digits=1)}, peak "
        f"{fmt(get(sc, 'peak_rss_mb_start'), ' MiB', digits=1)} (imports). From the "
        f"first to the last checkpoint RSS {fmt(get(sc, 'rss_growth_pct'), ' %', digits=1)}, peak "
        f"{fmt(get(sc, 'peak_growth_pct'), ' %', digits=1)}; peak from file 10 to the last "
        f"{fmt(get(sc, 'peak_growth_from_file_10_pct'), ' %', digits=1)}.",
    ]


def sweep_rows(sw: dict[str, Any]) -> list[str]:
    """The 1- and 2-worker sweeps of ``perf.bench_sweep`` (markdown lines)."""
    lines = [f"{fmt(get(sw, 'points'))}-point grid over {', '.join(sw.get('files', []))} "
             f"(task `{sw.get('task')}`) on an embedded cluster: speed-up 1 -> 2 workers "
             f"x{fmt(get(sw, 'speedup'), digits=2)} (goal >= 1.8), overhead "
             f"{fmt(get(sw, 'overhead_pct'), ' %', digits=1)} of task time with 1 worker "
             "(goal < 5 %).", "",
             "| workers | tasks | wall s | mean task s | task CPU/wall % | load % | scheduling % "
             "| overhead % | compilations | cluster start s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in (1, 2):
        w = sw.get(f"workers_{n}", {})
        lines.append(f"| {n} | {fmt(get(w, 'tasks'))} | {fmt(get(w, 'wall_s'), digits=2)} | "
                     f"{fmt(get(w, 'mean_task_s'), digits=3)} | "
                     f"{fmt(get(w, 'cpu_per_wall_pct'), digits=0)} | "
                     f"{fmt(get(w, 'load_pct'), digits=1)}"
                     f" | {fmt(get(w, 'scheduling_pct'), digits=1)} | "
                     f"{fmt(get(w, 'overhead_pct'), digits=1)} | {fmt(get(w, 'compiles'))} | "
                     f"{fmt(get(w, 'cluster_start_s'), digits=1)} |")
    return lines


def quoting_rows(bq: dict[str, Any]) -> list[str]:
    """qengine's own quoting in the backtester (``perf.bench_backtest_quoting``, markdown)."""
    lines = [
        f"examples/backtest.toml on {fmt(get(bq, 'events'))} BTCUSDT rows, events/s = rows / min "
        f"wall of {fmt(get(bq, 'repeats'))} (goal per feed: >= 2 M). Whole file "
        f"(`run(config, .gz)`, cached conversion): {fmt(get(bq, 'whole_file_s'), ' s', digits=2)}.",
        "", "| strategy | 100 ms events/s | feed events/s | feed fills |", "|---|---:|---:|---:|"]
    for name in ("as", "glft", "legacy", "reference_glft"):
        rates = [get(bq, f"{name}_{c}.events_per_s") for c in ("100ms", "feed")]
        lines.append(f"| {name} | " + " | ".join(
            fmt(None if r is None else r / 1e6, " M", digits=2) for r in rates)
            + f" | {fmt(get(bq, f'{name}_feed.fills'))} |")
    return lines


def markdown(payload: dict[str, Any]) -> str:
    """The targets table, latency tails, a kernel table and any errors, as markdown."""
    r, machine = payload["results"], payload["machine"]
    lines = [
        "# qengine perf", "",
        f"Date: {payload.get('date', 'n/a')}{' (quick run)' if payload.get('quick') else ''}. "
        f"Command: `{payload.get('command', 'n/a')}`.", "",
        f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('platform')}, "
        f"Python {machine.get('python')}, numpy {machine.get('numpy')}, numba "
        f"{machine.get('numba')}; load average at start {machine.get('loadavg', 'n/a')}.", "",
        "| metric | task list's bar | qengine target | measured | |", "|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in target_rows(r)]
    base = r.get("baseline.python_quote", {})
    lines += ["", f"Old-bot quote in Python: p50 {fmt(get(base, 'python_p50_ns'), ' ns')}, "
              f"p99 {fmt(get(base, 'python_p99_ns'), ' ns')}; fused pipeline is "
              f"x{fmt(get(base, 'speedup'), digits=1)} faster (Python-called p50s).", "",
              "## Latency tails (microseconds)", "",
              "| what | p50 | p99 | p99.9 | max | |", "|---|---|---|---|---|---|"]
    lines += _tail_rows(r)
    lines += ["", "## Kernels (nanoseconds)", "",
              "| kernel | in-loop p50 | p99 | p99.9 | max | Python p50 | p99 | p99.9 | max |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(k for k in r if k.startswith("kernel.")):
        e = r[key]
        if "error" in e:
            continue
        lines.append(f"| {key} | " + " | ".join(fmt(e.get(f)) for f in KERNEL_FIELDS) + " |")
    if "error" not in r.get("backtest", {"error": ""}):
        lines += ["", "## Backtester vs hftbacktest 2.4.4", "", *backtest_rows(r["backtest"])]
    if "error" not in r.get("backtest_scale", {"error": ""}):
        lines += ["", "## Backtester scale run", "", *scale_rows(r["backtest_scale"])]
    if "error" not in r.get("sweep", {"error": ""}):
        lines += ["", "## Parameter sweep on Dask", "", *sweep_rows(r["sweep"])]
    if "error" not in r.get("backtest_quoting", {"error": ""}):
        lines += ["", "## qengine's quoting in the backtester", "",
                  *quoting_rows(r["backtest_quoting"])]
    errors = [(k, v["error"]) for k, v in r.items() if isinstance(v, dict) and "error" in v]
    if errors:
        lines += ["", "## Errors", ""] + [f"- `{k}`: {msg}" for k, msg in errors]
    return "\n".join(lines) + "\n"
