"""What a sweep found: the best parameter sets by a metric, the walk-forward result, heatmaps of
two-parameter slices (PNG, matplotlib Agg) and one self-contained HTML page.

- Ranking: each parameter set's metric is averaged over its data splits (files or windows);
  sets are ranked by that mean (``minimize`` for metrics where lower is better).
- Walk-forward ("fit" = choose): on window k the set with the best metric is chosen; its result
  on window k + 1, which took no part in the choice, is the out-of-sample result reported.
- A heatmap shows the mean metric over two parameters while every other parameter stays at its
  value in the best set (a slice through the best point).
"""

from __future__ import annotations

import base64
import html
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Ranked:
    """One parameter set and its metric over the splits it ran on."""

    params: dict[str, Any]
    mean: float
    low: float
    high: float
    splits: int


@dataclass(frozen=True, slots=True)
class WalkForwardStep:
    fit_window: str
    test_window: str
    params: dict[str, Any]
    fit_metric: float
    test_metric: float


def _value(row: Row, metric: str) -> float:
    v = row.get(metric)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def _point(row: Row, names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(_hashable(row.get(n)) for n in names)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _order(value: float, minimize: bool) -> float:
    """Sort key: best first, NaN last."""
    if math.isnan(value):
        return math.inf
    return value if minimize else -value


def check_metric(rows: Sequence[Row], metric: str, names: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the statistics there are when ``metric`` is not one."""
    if rows and metric not in rows[0]:
        stats = sorted(k for k, v in rows[0].items() if isinstance(v, int | float)
                       and k not in names and not k.startswith(("task_", "window_")))
        raise ValueError(f"metric {metric!r} is not a statistic of the results: {stats}")


def rank(rows: Sequence[Row], names: Sequence[str], metric: str, *, minimize: bool = False,
         ) -> list[Ranked]:
    """Every parameter set of ``rows``, best first by the mean of ``metric`` over its splits."""
    check_metric(rows, metric, names)
    groups: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        groups.setdefault(_point(row, names), []).append(_value(row, metric))
    ranked = []
    for point, values in groups.items():
        finite = [v for v in values if not math.isnan(v)]
        mean = sum(finite) / len(finite) if finite else math.nan
        ranked.append(Ranked(dict(zip(names, point, strict=True)), mean,
                             min(finite, default=math.nan), max(finite, default=math.nan),
                             len(values)))
    ranked.sort(key=lambda r: _order(r.mean, minimize))
    return ranked


def walk_forward(rows: Sequence[Row], names: Sequence[str], metric: str, *,
                 minimize: bool = False) -> list[WalkForwardStep]:
    """Choose the best set on each window, report it on the next one (windows in time order)."""
    check_metric(rows, metric, names)
    by_window: dict[str, dict[tuple[Any, ...], Row]] = {}
    starts: dict[str, int] = {}
    for row in rows:
        by_window.setdefault(row["split"], {})[_point(row, names)] = row
        starts[row["split"]] = row.get("window_start_ns") or 0
    windows = sorted(by_window, key=lambda w: (starts[w], w))
    steps = []
    for fit, test in itertools.pairwise(windows):
        candidates = sorted(by_window[fit].items(),
                            key=lambda item: (_order(_value(item[1], metric), minimize),
                                              item[1]["key"]))
        point, fit_row = candidates[0]
        test_row = by_window[test].get(point)
        steps.append(WalkForwardStep(
            fit, test, dict(zip(names, point, strict=True)), _value(fit_row, metric),
            _value(test_row, metric) if test_row is not None else math.nan))
    return steps


def slice_matrix(rows: Sequence[Row], names: Sequence[str], metric: str, x: str, y: str,
                 best: Mapping[str, Any]) -> tuple[list[Any], list[Any], list[list[float]]]:
    """Mean ``metric`` over (y, x) values with every other parameter at ``best``'s value."""
    fixed = {n: _hashable(best[n]) for n in names if n not in (x, y)}
    xs = sorted({_hashable(r.get(x)) for r in rows}, key=_sort_key)
    ys = sorted({_hashable(r.get(y)) for r in rows}, key=_sort_key)
    cells: dict[tuple[Any, Any], list[float]] = {}
    for row in rows:
        if all(_hashable(row.get(n)) == v for n, v in fixed.items()):
            value = _value(row, metric)
            if not math.isnan(value):
                cells.setdefault((_hashable(row.get(x)), _hashable(row.get(y))), []).append(value)
    matrix = [[sum(c) / len(c) if (c := cells.get((vx, vy))) else math.nan for vx in xs]
              for vy in ys]
    return xs, ys, matrix


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def write_heatmaps(rows: Sequence[Row], names: Sequence[str], metric: str,
                   best: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """One PNG per pair of parameters that take two values or more."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    varied = [n for n in names if len({_hashable(r.get(n)) for r in rows}) > 1]
    paths = []
    for i, x in enumerate(varied):
        for y in varied[i + 1:]:
            xs, ys, matrix = slice_matrix(rows, names, metric, x, y, best)
            fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(xs), 1.2 + 0.6 * len(ys)),
                                   layout="constrained")
            image = ax.imshow(matrix, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(len(xs)), [_fmt(v) for v in xs])
            ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys])
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            others = ", ".join(f"{n}={_fmt(best[n])}" for n in names if n not in (x, y))
            ax.set_title(f"{metric}, mean over splits" + (f"\n({others})" if others else ""),
                         fontsize=9)
            for r, line in enumerate(matrix):
                for c, value in enumerate(line):
                    red, green, blue, _ = image.cmap(image.norm(value))
                    light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
                    ax.text(c, r, _fmt(value), ha="center", va="center", fontsize=7,
                            color="black" if light else "white")
            fig.colorbar(image, ax=ax, label=metric)
            path = out_dir / f"heatmap_{_slug(x)}__{_slug(y)}.png"
            fig.savefig(path, dpi=100)
            plt.close(fig)
            paths.append(path)
    return paths


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def text_table(header: Sequence[str], lines: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table for the terminal."""
    cells = [list(header)] + [[_fmt(v) for v in line] for line in lines]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
                     for row in cells)


def best_table(ranked: Sequence[Ranked], names: Sequence[str], metric: str, top: int,
               ) -> tuple[list[str], list[list[Any]]]:
    header = ["rank", *names, f"{metric} mean", "min", "max", "splits"]
    lines = [[i + 1, *(r.params[n] for n in names), r.mean, r.low, r.high, r.splits]
             for i, r in enumerate(ranked[:top])]
    return header, lines


def walk_forward_table(steps: Sequence[WalkForwardStep], names: Sequence[str], metric: str,
                       ) -> tuple[list[str], list[list[Any]]]:
    header = ["fit", "test", *names, f"{metric} fit", f"{metric} test"]
    lines = [[s.fit_window, s.test_window, *(s.params[n] for n in names), s.fit_metric,
              s.test_metric] for s in steps]
    return header, lines


def _html_table(header: Sequence[str], lines: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in line) + "</tr>"
                   for line in lines)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_html(path: Path, *, title: str, facts: Mapping[str, Any],
               sections: Sequence[tuple[str, tuple[Sequence[str], Sequence[Sequence[Any]]]]],
               images: Sequence[Path]) -> Path:
    """One self-contained page: the facts, the tables, the images inlined as base64."""
    parts = [f"<h1>{html.escape(title)}</h1>", "<dl>"]
    parts += [f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(_fmt(v))}</dd>"
              for k, v in facts.items()]
    parts.append("</dl>")
    for heading, (header, lines) in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(_html_table(header, lines) if lines else "<p>(none)</p>")
    if images:
        parts.append("<h2>Two-parameter slices</h2>")
    for image in images:
        data = base64.b64encode(image.read_bytes()).decode()
        parts.append(f'<figure><img alt="{html.escape(image.stem)}" '
                     f'src="data:image/png;base64,{data}"><figcaption>'
                     f"{html.escape(image.stem)}</figcaption></figure>")
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
             "dt{font-weight:bold;float:left;clear:left;width:12em}dd{margin-left:13em}")
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>"
                    f"{html.escape(title)}</title><style>{style}</style></head><body>"
                    + "\n".join(parts) + "</body></html>\n")
    return path
