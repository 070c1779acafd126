"""Failures in ops and sources: dropped and counted, budgets, and what PipelineFailure carries."""

from __future__ import annotations

import logging
import pickle
import threading
import time

import pytest

from spdl.pipeline import PipelineBuilder, PipelineFailure


@pytest.fixture
def no_thread_left():
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while {t for t in threading.enumerate() if t not in before} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {t for t in threading.enumerate() if t not in before} == set()


def _fail_on_multiples_of(n):
    def op(x):
        if x % n == 0:
            raise ValueError(f"bad item {x}")
        return x

    return op


def test_failed_items_are_dropped_logged_once_and_counted(caplog, no_thread_left):
    caplog.set_level(logging.WARNING, logger="spdl.pipeline")
    pipeline = (
        PipelineBuilder()
        .add_source(range(100))
        .pipe(_fail_on_multiples_of(10), concurrency=4, name="check")
        .add_sink(3)
        .build(max_failures=-1)
    )
    with pipeline.auto_stop():
        out = list(pipeline)
    assert sorted(out) == [x for x in range(100) if x % 10]
    stats = pipeline.stats().stage("check")
    assert stats.num_failures == 10
    assert stats.num_tasks == 100
    # Nothing vanishes: every item was delivered or counted as failed.
    assert len(out) + stats.num_failures == 100
    records = [r for r in caplog.records if "bad item" in r.getMessage()]
    assert len(records) == 10
    assert all("'check'" in r.getMessage() for r in records)
    assert {r.getMessage().split("on item ")[1].split(":")[0] for r in records} == {
        str(x) for x in range(0, 100, 10)
    }


def test_stage_budget_fails_the_pipeline_with_causes(no_thread_left):
    pipeline = (
        PipelineBuilder()
        .add_source(range(1000))
        .pipe(lambda x: x, name="ok")
        .pipe(_fail_on_multiples_of(5), name="flaky", max_failures=2)
        .add_sink(3)
        .build()
    )
    delivered = []
    with pytest.raises(PipelineFailure) as info, pipeline.auto_stop():
        for x in pipeline:
            delivered.append(x)
    err = info.value
    assert "flaky" in str(err) and "max_failures=2" in str(err)
    assert err.num_failures == 3
    assert [name for name, _ in err.causes] == ["flaky"] * 3
    assert [str(e) for _, e in err.causes] == ["bad item 0", "bad item 5", "bad item 10"]
    assert isinstance(err.__cause__, ValueError)
    assert len(delivered) < 1000
    # The error survives pickling (it crosses process boundaries).
    again = pickle.loads(pickle.dumps(err))
    assert again.num_failures == 3 and str(again.causes[0][1]) == "bad item 0"


def test_pipeline_budget_counts_all_stages(no_thread_left):
    pipeline = (
        PipelineBuilder()
        .add_source(range(1000))
        .pipe(_fail_on_multiples_of(7), name="a")
        .pipe(_fail_on_multiples_of(11), name="b")
        .add_sink(3)
        .build(max_failures=4)
    )
    with pytest.raises(PipelineFailure, match="max_failures=4") as info:
        list(pipeline)
    assert info.value.num_failures == 5
    assert {name for name, _ in info.value.causes} == {"a", "b"}


def test_zero_budget_fails_on_first_error(no_thread_left):
    pipeline = (
        PipelineBuilder()
        .add_source(range(10))
        .pipe(_fail_on_multiples_of(3))
        .add_sink(3)
        .build(max_failures=0)
    )
    with pytest.raises(PipelineFailure) as info:
        list(pipeline)
    assert info.value.num_failures == 1


def test_generator_and_async_failures_are_counted(no_thread_left):
    def gen(x):
        yield x
        if x % 2:
            raise KeyError(x)
        yield x + 0.5

    async def coro(x):
        if x == 3:
            raise RuntimeError("three")
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(range(6))
        .pipe(coro, name="coro")
        .pipe(gen, name="gen", output_order="input")
        .add_sink(3)
        .build()
    )
    out = list(pipeline)
    assert out == [0, 0.5, 1, 2, 2.5, 4, 4.5, 5]
    stats = pipeline.stats()
    assert stats.stage("coro").num_failures == 1
    assert stats.stage("gen").num_failures == 2


def test_source_exception_fails_the_pipeline(no_thread_left):
    def source():
        yield 1
        yield 2
        raise OSError("disk gone")

    pipeline = PipelineBuilder().add_source(source()).pipe(lambda x: x).add_sink(3).build()
    got = []
    with pytest.raises(PipelineFailure, match="disk gone") as info:
        for x in pipeline:
            got.append(x)
    assert info.value.causes[0][0] == "source"
    assert isinstance(info.value.causes[0][1], OSError)
    assert got in ([], [1], [1, 2])


def test_async_source_exception_fails_the_pipeline(no_thread_left):
    async def source():
        yield 1
        raise OSError("stream cut")

    pipeline = PipelineBuilder().add_source(source()).add_sink(3).build()
    with pytest.raises(PipelineFailure, match="stream cut"):
        list(pipeline)


def test_unpicklable_repr_does_not_hide_the_error(caplog, no_thread_left):
    class Weird:
        def __repr__(self):
            raise RuntimeError("no repr")

    def op(x):
        raise ValueError("real error")

    caplog.set_level(logging.WARNING, logger="spdl.pipeline")
    out = list(PipelineBuilder().add_source([Weird()]).pipe(op).add_sink(1).build())
    assert out == []
    assert any("real error" in r.getMessage() for r in caplog.records)
