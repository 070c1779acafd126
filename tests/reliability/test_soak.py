"""The short thread soak CI runs: 8 threads of mixed demux/decode/convert on shared inputs give
exactly the single-threaded results. ``make soak SECONDS=N`` runs it for longer."""

from __future__ import annotations

import os

import pytest

from fuzz import soak

SECONDS = float(os.environ.get("SPDL_SOAK_SECONDS", "15"))


def test_eight_threads_match_one(tmp_path):
    io = pytest.importorskip("spdl.io")
    if not hasattr(io, "decode_packets"):
        pytest.skip("no decode entry point in this spdl.io yet")
    report = soak.run_soak(seconds=SECONDS, threads=8, media_dir=tmp_path)
    summary = report.as_dict()
    assert report.stuck_threads == 0, summary
    assert report.errors == [], summary
    assert report.mismatches == [], summary
    # Every thread got through many operations, and most distinct operations ran at least once.
    assert report.operations >= 8 * 10, summary
    assert summary["distinct_operations"] >= 10, summary
