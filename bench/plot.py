"""Turn the benchmarks' JSON (``bench/results/*.json``) into PNG charts and Markdown tables.

Any benchmark that stores ``_harness.measure``/``summarize`` results is understood: a
*measurement* is a dict with ``median``, ``min`` and ``max`` (and usually ``unit`` and
``runs``). Its place in the JSON names it:

    {"ours": {"noop": {"1 stage": M, ...}}, "peer": {"noop": {"1 stage": M, ...}}}
      series    chart      bar

A path of three keys or more is (series, chart..., bar): every series becomes a colour, so
"ours" and "peer" sit side by side per bar. When the top-level keys are metrics instead (each
holds a single unit and the units differ, as in ``{"frames per second": {"1080p h264":
{"pyav": M, ...}}, "peak RSS": {...}}``), the path is (chart, bar..., series): one chart per
metric, one group of bars per configuration, one colour per contender. Two keys are (chart, bar),
one key is (bar) on a chart named after the file. The ``machine`` facts are printed under each
table.

For each chart it writes ``OUT/<file>__<chart>.png`` (horizontal bars at the median, whiskers from
min to max) and ``OUT/<file>__<chart>.md`` (a table with the median, the spread and, with two
series, their ratio), ready for ``{include}`` in ``docs/performance.md``.

Usage::

    python bench/plot.py                       # bench/results -> docs/_static/bench
    python bench/plot.py --results DIR --out DIR

Needs matplotlib (``pip install matplotlib``); nothing else, and never imports ``spdl``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_RESULTS = BENCH_DIR / "results"
DEFAULT_OUT = BENCH_DIR.parent / "docs" / "_static" / "bench"
_SKIP_KEYS = {"machine"}
_MACHINE_FACTS = ("python", "machine", "cpu", "cpus", "ffmpeg")  # what a reader needs to compare


def is_measurement(node: object) -> bool:
    """Whether ``node`` is one timing summary (``median``, ``min`` and ``max`` numbers)."""
    return isinstance(node, dict) and all(
        isinstance(node.get(k), (int, float)) for k in ("median", "min", "max")
    )


def walk(node: object, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """Every measurement under ``node`` with its path of keys, in document order."""
    if is_measurement(node):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            if not path and key in _SKIP_KEYS:
                continue
            yield from walk(value, (*path, str(key)))


def _metric_first(found: list[tuple[tuple[str, ...], dict]]) -> bool:
    """Whether the top-level keys are metrics: each holds one unit, and the units differ."""
    units: dict[str, set[str]] = {}
    for path, m in found:
        units.setdefault(path[0], set()).add(str(m.get("unit", "")))
    return all(len(u) == 1 for u in units.values()) and len(set().union(*units.values())) > 1


def charts(data: dict, name: str) -> dict[str, dict[str, dict[str, dict]]]:
    """``{chart: {bar: {series: measurement}}}`` for one result file (see the module doc)."""
    out: dict[str, dict[str, dict[str, dict]]] = {}
    found = list(walk(data))
    metric_first = _metric_first([(p, m) for p, m in found if len(p) >= 3])
    for path, m in found:
        if len(path) >= 3 and metric_first:
            chart, bar, series = path[0], " / ".join(path[1:-1]), path[-1]
        elif len(path) >= 3:
            series, chart, bar = path[0], " / ".join(path[1:-1]), path[-1]
        elif len(path) == 2:
            series, chart, bar = "", path[0], path[1]
        else:
            series, chart, bar = "", name, path[0] if path else name
        series = _series_label(data, series)
        out.setdefault(chart, {}).setdefault(bar, {})[series] = m
    return {name: bars for chart, bars in out.items() for name, bars in [_one_group(chart, bars)]}


def _series_label(data: dict, series: str) -> str:
    """``"ours"``/``"peer"`` say little in a legend: name them by the ``spdl`` version they ran
    (``{"ours": {"spdl": "0.1.0", ...}}`` gives ``"spdl 0.1.0 (ours)"``)."""
    node = data.get(series)
    if isinstance(node, dict) and isinstance(node.get("spdl"), str):
        return f"spdl {node['spdl']} ({series})"
    return series


def _one_group(chart: str, bars: dict[str, dict[str, dict]]) -> tuple[str, dict]:
    """A chart of one group of coloured bars reads better as plain bars, the group in the title."""
    if len(bars) != 1:
        return chart, bars
    ((bar, per),) = bars.items()
    if not any(per):
        return chart, bars
    return f"{chart}, {bar}", {series: {"": m} for series, m in per.items()}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "all"


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def table(bars: dict[str, dict[str, dict]], machine: dict | None) -> str:
    """A Markdown table: one row per bar, median and [min, max] per series, and their ratio."""
    series = list(dict.fromkeys(s for per in bars.values() for s in per))
    unit = next((m.get("unit", "") for per in bars.values() for m in per.values()), "")
    head = ["", *[f"{s or 'median'} ({unit})" if unit else (s or "median") for s in series]]
    if len(series) == 2:
        head.append(f"{series[0]} / {series[1]}")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
    for bar, per in bars.items():
        cells = [bar]
        for s in series:
            m = per.get(s)
            cells.append(
                "" if m is None else f"{_fmt(m['median'])} [{_fmt(m['min'])}, {_fmt(m['max'])}]"
            )
        if len(series) == 2:
            a, b = per.get(series[0]), per.get(series[1])
            cells.append(f"{a['median'] / b['median']:.2f}x" if a and b and b["median"] else "")
        lines.append("| " + " | ".join(cells) + " |")
    runs = sorted({m.get("runs") for per in bars.values() for m in per.values() if m.get("runs")})
    note = (
        "Median of " + "/".join(map(str, runs)) + " runs, [min, max] in brackets." if runs else ""
    )
    if machine:
        facts = ", ".join(f"{k} {v}" for k, v in machine.items() if k in _MACHINE_FACTS)
        note = f"{note} Measured on: {facts}.".strip()
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def plot(bars: dict[str, dict[str, dict]], title: str, path: Path) -> None:
    """Horizontal bars at the medians with min-max whiskers, one colour per series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = list(dict.fromkeys(s for per in bars.values() for s in per))
    labels = list(bars)
    unit = next((m.get("unit", "") for per in bars.values() for m in per.values()), "")
    height = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(labels) * max(1, len(series) * 0.6)))
    for i, s in enumerate(series):
        ys, medians, lo, hi = [], [], [], []
        for j, bar in enumerate(labels):
            m = bars[bar].get(s)
            if m is None:
                continue
            ys.append(j + (i - (len(series) - 1) / 2) * height)
            medians.append(m["median"])
            lo.append(m["median"] - m["min"])
            hi.append(m["max"] - m["median"])
        ax.barh(ys, medians, height=height, xerr=[lo, hi], capsize=3, label=s or None)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"median ({unit}), whiskers: min to max" if unit else "median")
    ax.set_title(title)
    if any(series):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(results: Path, out: Path) -> list[Path]:
    """Write a PNG and a Markdown table per chart of every JSON file in ``results``."""
    written = []
    for result in sorted(results.glob("*.json")):
        try:
            data = json.loads(result.read_text())
        except ValueError as e:
            print(f"[plot] skipping {result.name}: not JSON ({e})", file=sys.stderr)
            continue
        found = charts(data, result.stem)
        if not found:
            print(f"[plot] skipping {result.name}: no measurements", file=sys.stderr)
            continue
        for chart, bars in found.items():
            stem = f"{result.stem}__{_slug(chart)}"
            plot(bars, f"{result.stem}: {chart}", out / f"{stem}.png")
            (out / f"{stem}.md").write_text(table(bars, data.get("machine")))
            written += [out / f"{stem}.png", out / f"{stem}.md"]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="JSON folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where PNG/MD files go")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        print(f"[plot] no results folder {args.results}: run a benchmark first", file=sys.stderr)
        return 1
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("[plot] needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 1
    written = render(args.results, args.out)
    for path in written:
        print(path)
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
