"""bench/plot.py: benchmark JSON to charts and tables, whatever the benchmark's nesting."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "bench" / "plot.py"
_spec = importlib.util.spec_from_file_location("bench_plot", _PATH)
plot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plot)


def _m(median, lo, hi, unit="items/s"):
    return {"median": median, "min": lo, "max": hi, "iqr": 1.0, "runs": 5, "unit": unit}


RESULT = {
    "machine": {"python": "3.11", "cpus": 2},
    "ours": {"decode": {"1 thread": _m(100, 90, 110), "4 threads": _m(400, 380, 420)}},
    "peer": {"decode": {"1 thread": _m(50, 45, 55), "4 threads": _m(100, 95, 105)}},
    "notes": "free text is ignored",
}


def test_measurements_are_grouped_by_chart_bar_and_series():
    charts = plot.charts(RESULT, "decode_bench")
    assert list(charts) == ["decode"]
    assert list(charts["decode"]) == ["1 thread", "4 threads"]
    assert charts["decode"]["4 threads"]["peer"]["median"] == 100
    flat = plot.charts({"a": _m(1, 1, 1), "b": _m(2, 1, 3)}, "flat")
    assert list(flat) == ["flat"] and set(flat["flat"]) == {"a", "b"}
    two = plot.charts({"latency": {"p50": _m(1, 1, 1)}}, "x")
    assert two == {"latency": {"p50": {"": _m(1, 1, 1)}}}


def test_series_are_named_by_the_spdl_version_they_ran():
    versioned = {
        "ours": {"spdl": "0.1.0", **RESULT["ours"]},
        "peer": {"spdl": "0.8.0", **RESULT["peer"]},
    }
    bars = plot.charts(versioned, "x")["decode"]["1 thread"]
    assert list(bars) == ["spdl 0.1.0 (ours)", "spdl 0.8.0 (peer)"]


def test_table_has_medians_spread_and_the_ratio_of_two_series():
    text = plot.table(plot.charts(RESULT, "x")["decode"], RESULT["machine"])
    rows = text.splitlines()
    assert rows[0] == "|  | ours (items/s) | peer (items/s) | ours / peer |"
    assert rows[2] == "| 1 thread | 100 [90, 110] | 50 [45, 55] | 2.00x |"
    assert rows[3].endswith("| 4.00x |")
    assert "Median of 5 runs" in text and "cpus 2" in text


def test_render_writes_a_png_and_a_table_per_chart(tmp_path):
    pytest.importorskip("matplotlib")
    results = tmp_path / "results"
    results.mkdir()
    (results / "decode_bench.json").write_text(json.dumps(RESULT))
    (results / "broken.json").write_text("{not json")
    out = tmp_path / "out"
    written = plot.render(results, out)
    assert sorted(p.name for p in written) == [
        "decode_bench__decode.md",
        "decode_bench__decode.png",
    ]
    assert (out / "decode_bench__decode.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.main(["--results", str(tmp_path / "missing"), "--out", str(out)]) == 1


def test_metric_first_results_give_one_chart_per_metric_with_a_colour_per_contender():
    # The media benchmarks' layout: {metric: {configuration: {contender: measurement}}}.
    result = {
        "frames per second": {
            "1080p, 1 thread": {
                "cli": _m(90, 88, 92, "frames/s"),
                "ours": _m(95, 94, 96, "frames/s"),
            },
            "720p, 1 thread": {
                "cli": _m(200, 190, 210, "frames/s"),
                "ours": _m(210, 200, 220, "frames/s"),
            },
        },
        "peak RSS": {
            "1080p, 1 thread": {"cli": _m(150, 150, 151, "MiB"), "ours": _m(90, 90, 91, "MiB")}
        },
    }
    charts = plot.charts(result, "video")
    assert list(charts["frames per second"]) == ["1080p, 1 thread", "720p, 1 thread"]
    assert charts["frames per second"]["720p, 1 thread"]["ours"]["median"] == 210
    # A metric with a single configuration becomes plain bars, the configuration in the title.
    assert charts["peak RSS, 1080p, 1 thread"] == {
        "cli": {"": _m(150, 150, 151, "MiB")},
        "ours": {"": _m(90, 90, 91, "MiB")},
    }
    # Every chart holds one unit.
    for bars in charts.values():
        assert len({m["unit"] for per in bars.values() for m in per.values()}) == 1
