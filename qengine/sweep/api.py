"""A sweep from files to report: ``plan_sweep`` checks everything before anything starts,
``run_planned`` runs it on a Dask client, writes the rows, then the summary, heatmaps and page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import Client

from qengine.config import EngineConfig, config_from_mapping, read_toml
from qengine.errors import ConfigError

from . import summary as S
from .grid import GridSpec, load_grid
from .runner import SweepReport, run_sweep
from .store import ResultStore
from .tasks import TaskFn, TaskSpec, plan_tasks, run_task, splits_for

#: Ranks parameter sets when neither --metric nor the grid's [summary] metric says otherwise.
DEFAULT_METRIC = "pnl_quote"


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepPlan:
    """A validated sweep: the base config, the grid, the files, one task per (set, split)."""

    base: dict[str, Any]
    grid: GridSpec
    files: tuple[str, ...]
    tasks: tuple[TaskSpec, ...]

    def manifest(self, task_fn: TaskFn) -> dict[str, Any]:
        """What the rows depend on besides the parameter sets (a resumed sweep must match)."""
        g = self.grid
        return {"config": self.base, "backtest": g.backtest, "instrument": g.instrument,
                "split": {"mode": g.split.mode, "window_s": g.split.window_s},
                "files": list(self.files),
                "task": f"{task_fn.__module__}.{task_fn.__qualname__}"}


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepResult:
    out_dir: Path
    report: SweepReport
    rows: list[dict[str, Any]]
    metric: str
    ranked: list[S.Ranked]
    walk_forward: list[S.WalkForwardStep]
    heatmaps: list[Path]
    html: Path | None


def read_config_mapping(path: str | Path | None) -> dict[str, Any]:
    """The TOML tables of ``quote.toml``, validated as an ``EngineConfig``."""
    if path is None:
        return {}
    data = read_toml(path)
    config_from_mapping(data)
    return data


def plan_sweep(config: str | Path | None, data: Sequence[str | Path], grid: str | Path,
               ) -> SweepPlan:
    """Validate the config, the grid and the data files; plan the tasks.

    Raises ``ConfigError`` (config or grid: names the key and value) or ``ValueError`` (data).
    """
    base = read_config_mapping(config)
    spec = load_grid(grid, base)
    if not data:
        raise ValueError("--data: at least one file")
    files = []
    for f in data:
        path = Path(f)
        if not path.is_file():
            raise ValueError(f"--data: no such file: {f}")
        files.append(str(path.resolve()))
    tasks = plan_tasks(spec, base, splits_for(spec, files))
    return SweepPlan(base=base, grid=spec, files=tuple(files), tasks=tuple(tasks))


def check_quoting(plan: SweepPlan, metric: str | None) -> str:
    """For qengine's own quoting (``run_task``): every instrument is in the instrument table and
    the metric is one of ``compute_stats``'s; returns the metric to rank by.

    Raises ``ConfigError`` naming the instrument or the metric (and the known ones).
    """
    from qengine.backtest.instruments import resolve_instrument
    from qengine.backtest.stats import STAT_KEYS

    default = EngineConfig().instrument
    for name in sorted({t.instrument or t.config.get("instrument", default) for t in plan.tasks}):
        try:
            resolve_instrument(name)
        except ConfigError as exc:
            raise ConfigError(f"backtest.instrument: {exc}") from None
    chosen = metric or plan.grid.metric or DEFAULT_METRIC
    if chosen not in STAT_KEYS:
        raise ConfigError(f"metric {chosen!r} (--metric or summary.metric) is not a statistic; "
                          f"one of {', '.join(STAT_KEYS)}")
    return chosen


def run_planned(plan: SweepPlan, client: Client, out_dir: str | Path, *,
                task_fn: TaskFn = run_task, resume: bool = False, metric: str | None = None,
                minimize: bool | None = None, plots: bool = True,
                progress: bool | None = None) -> SweepResult:
    """Run the plan's tasks not done yet, then rank, plot and write ``index.html``."""
    out = Path(out_dir)
    store = ResultStore(out, plan.manifest(task_fn), resume=resume)
    report = run_sweep(client, plan.tasks, store, task_fn=task_fn, progress=progress)
    table = store.compact()
    keys = {t.key for t in plan.tasks}
    rows = [r for r in table.to_pylist() if r["key"] in keys]
    return summarize(plan, out, report, rows, metric=metric or plan.grid.metric or DEFAULT_METRIC,
                     minimize=plan.grid.minimize if minimize is None else minimize, plots=plots)


def summarize(plan: SweepPlan, out: Path, report: SweepReport, rows: list[dict[str, Any]], *,
              metric: str, minimize: bool, plots: bool) -> SweepResult:
    names = list(plan.grid.params)
    ranked = S.rank(rows, names, metric, minimize=minimize)
    steps = (S.walk_forward(rows, names, metric, minimize=minimize)
             if plan.grid.split.mode == "walk_forward" else [])
    heatmaps: list[Path] = []
    page = None
    if plots and ranked:
        heatmaps = S.write_heatmaps(rows, names, metric, ranked[0].params, out)
    if plots:
        sections = [(f"Best {plan.grid.top} parameter sets by {metric}"
                     f" ({'lowest' if minimize else 'highest'} mean over splits)",
                     S.best_table(ranked, names, metric, plan.grid.top))]
        if steps:
            sections.append(("Walk-forward: best set on each window, tested on the next",
                             S.walk_forward_table(steps, names, metric)))
        sections.append(("Failed tasks", (["key", "split", "params", "error"],
                                          [[e["key"], e["split"], e["params"], e["error"]]
                                           for e in report.errors])))
        page = S.write_html(out / "index.html", title="qengine sweep", facts=facts(plan, report),
                            sections=sections, images=heatmaps)
    return SweepResult(out_dir=out, report=report, rows=rows, metric=metric, ranked=ranked,
                       walk_forward=steps, heatmaps=heatmaps, html=page)


def facts(plan: SweepPlan, report: SweepReport) -> dict[str, Any]:
    return {"files": ", ".join(Path(f).name for f in plan.files),
            "split": plan.grid.split.mode, "parameter sets": len(plan.grid.points()),
            "tasks": report.total, "run now": report.done, "skipped (resumed)": report.skipped,
            "failed": len(report.errors), "wall s": report.wall_s,
            "numba compilations in tasks": report.compiles}

