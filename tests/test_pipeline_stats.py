"""Statistics: the percentile estimator, per-stage and per-queue numbers, and the report hook."""

from __future__ import annotations

import logging
import random
import threading
import time

import pytest

from spdl.pipeline import PipelineBuilder, PipelineStats, StatsHook
from spdl.pipeline._stats import _Histogram


def test_histogram_percentiles_are_close_and_memory_is_bounded():
    rng = random.Random(1)
    values = [rng.lognormvariate(-7, 1.5) for _ in range(200_000)]
    hist = _Histogram()
    for v in values:
        hist.add(v)
    values.sort()
    for q in (0.5, 0.9, 0.99):
        exact = values[int(q * len(values)) - 1]
        assert hist.percentile(q) == pytest.approx(exact, rel=0.04)
    assert hist.total / hist.count == pytest.approx(sum(values) / len(values))
    assert len(hist) < 600  # buckets, whatever the number of values
    assert _Histogram().percentile(0.9) == 0.0


def test_task_and_queue_stats_point_at_the_slow_stage():
    def fast(x):
        return x

    def slow(x):
        time.sleep(0.004)
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(range(100))
        .pipe(fast, name="fast")
        .pipe(slow, name="slow")
        .pipe(fast, name="after")
        .add_sink(3)
        .build(num_threads=3)
    )
    with pipeline.auto_stop():
        assert len(list(pipeline)) == 100
    stats = pipeline.stats()
    assert [t.name for t in stats.tasks] == ["source", "fast", "slow", "after"]
    slow_stats = stats.stage("slow")
    assert slow_stats.num_tasks == 100 and slow_stats.num_failures == 0
    assert 0.004 <= slow_stats.mean_time < 0.05
    assert slow_stats.p90_time >= 0.004 * 0.96 and slow_stats.p99_time >= slow_stats.p90_time
    assert slow_stats.busy > 0.5
    assert stats.stage("fast").mean_time < slow_stats.mean_time / 4
    queues = {q.name: q for q in stats.queues}
    # Upstream of the bottleneck, data is always ready and the producer waits for room;
    # downstream of it, the queue is mostly empty and its consumer waits for data.
    assert queues["fast->"].occupancy > 0.8
    assert queues["fast->"].mean_put_wait > 0.001
    assert queues["slow->"].occupancy < 0.5
    assert queues["slow->"].mean_get_wait > 0.001
    assert all(q.num_items == 100 for q in stats.queues)
    assert queues["slow->"].qps == pytest.approx(100 / stats.elapsed)
    text = str(stats)
    assert "slow" in text and "p99 ms" in text


class _Collect(StatsHook):
    def __init__(self):
        self.reports: list[tuple[PipelineStats, bool]] = []
        self.threads: set[str] = set()

    def report(self, stats, *, final):
        self.reports.append((stats, final))
        self.threads.add(threading.current_thread().name)


def test_hook_reports_periodically_and_at_the_end():
    hook = _Collect()

    def slow(x):
        time.sleep(0.01)
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(range(40))
        .pipe(slow)
        .add_sink(3)
        .build(report_stats_interval=0.1, stats_hook=hook)
    )
    with pipeline.auto_stop():
        list(pipeline)
    finals = [final for _, final in hook.reports]
    assert finals.count(True) == 1 and finals[-1] is True
    assert finals.count(False) >= 2  # ~0.4 s at one report per 0.1 s
    assert hook.reports[-1][0].stage("slow").num_tasks == 40
    counts = [s.stage("slow").num_tasks for s, _ in hook.reports]
    assert counts == sorted(counts)


def test_default_hook_logs_the_table(caplog):
    caplog.set_level(logging.INFO, logger="spdl.pipeline")
    pipeline = PipelineBuilder().add_source(range(5)).pipe(abs, name="absolute").build()
    list(pipeline)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "spdl.pipeline.stats")
    assert "absolute" in text and "(final)" in text


def test_a_failing_hook_does_not_break_the_pipeline(caplog):
    class Broken(StatsHook):
        def report(self, stats, *, final):
            raise RuntimeError("hook down")

    pipeline = PipelineBuilder().add_source(range(5)).add_sink(1).build(stats_hook=Broken())
    assert list(pipeline) == [0, 1, 2, 3, 4]
    assert any("hook" in r.getMessage() for r in caplog.records)
