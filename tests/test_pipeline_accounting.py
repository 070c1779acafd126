"""Every item the source produced is accounted for, however the pipeline ends:
``delivered + failed + discarded == produced`` (stages that map one item to one output)."""

from __future__ import annotations

import gc
import itertools
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


def _slowish(x):
    time.sleep(0.0005)
    return x


def _builder(source, *, fail_every=0, output_order="completion"):
    def check(x):
        if fail_every and x % fail_every == fail_every - 1:
            raise ValueError(f"bad {x}")
        return x

    return (
        PipelineBuilder()
        .add_source(source)
        .pipe(_slowish, concurrency=4, output_order=output_order)
        .pipe(check, concurrency=2, name="check")
        .pipe(_slowish, concurrency=3)
        .add_sink(4)
    )


def _balanced(stats, delivered: int) -> None:
    assert stats.num_delivered == delivered
    assert stats.num_failures == sum(t.num_failures for t in stats.tasks)
    assert stats.num_delivered + stats.num_failures + stats.num_discarded == stats.num_produced
    assert f"{stats.num_discarded} discarded" in str(stats)


@pytest.mark.parametrize("output_order", ["completion", "input"])
def test_a_pipeline_that_runs_to_the_end_discards_nothing(no_thread_left, output_order):
    pipeline = _builder(range(300), fail_every=10, output_order=output_order).build()
    with pipeline.auto_stop():
        out = list(pipeline)
    stats = pipeline.stats()
    assert stats.num_produced == 300
    assert stats.num_failures == 30
    assert stats.num_discarded == 0
    _balanced(stats, len(out))


def test_failure_budget_exceeded(no_thread_left):
    pipeline = _builder(itertools.count(), fail_every=5).build(max_failures=3)
    out = []
    with pytest.raises(PipelineFailure) as info, pipeline.auto_stop():
        for x in pipeline:
            out.append(x)
    stats = pipeline.stats()
    assert info.value.num_failures == stats.num_failures >= 4
    assert info.value.num_discarded == stats.num_discarded
    _balanced(stats, len(out))


def test_source_exception(no_thread_left):
    def source():
        yield from range(100)
        raise OSError("the listing broke")

    pipeline = _builder(source()).build()
    out = []
    with pytest.raises(PipelineFailure) as info, pipeline.auto_stop():
        for x in pipeline:
            out.append(x)
    stats = pipeline.stats()
    assert stats.num_produced == 100
    assert info.value.num_discarded == stats.num_discarded
    assert stats.num_failures == 0
    _balanced(stats, len(out))


def test_stop_mid_stream_from_another_thread(no_thread_left):
    pipeline = _builder(itertools.count()).build()
    pipeline.start()
    out = [pipeline.get_item(timeout=5) for _ in range(50)]
    pipeline.stop()
    stats = pipeline.stats()
    assert stats.num_produced >= 50
    _balanced(stats, len(out))
    # The numbers are frozen at stop: nothing that happens later changes them.
    time.sleep(0.05)
    assert pipeline.stats().num_discarded == stats.num_discarded
    assert pipeline.stats().num_produced == stats.num_produced


def test_stop_with_an_abandoned_op(no_thread_left):
    release = threading.Event()

    def stuck(x):
        if x == 20:
            release.wait(30)
        return x

    pipeline = (
        PipelineBuilder().add_source(range(100)).pipe(stuck, concurrency=2).add_sink(2).build()
    )
    pipeline.start()
    out = [pipeline.get_item(timeout=5) for _ in range(30)]
    try:
        pipeline.stop(timeout=0.2)
        stats = pipeline.stats()
        assert stats.num_discarded >= 1  # item 20, in its op
        _balanced(stats, len(out))
    finally:
        release.set()
    time.sleep(0.05)  # the abandoned op returns; the accounts stay as they were at stop
    assert pipeline.stats().num_discarded == stats.num_discarded


@pytest.mark.parametrize("how", ["break", "garbage_collected"])
def test_consumer_breaks_out(no_thread_left, how):
    pipeline = _builder(itertools.count()).build()
    out = []
    if how == "break":
        for x in pipeline:
            out.append(x)
            if len(out) == 40:
                break
        stats = pipeline.stats()
    else:
        engine = pipeline._engine
        for x in pipeline:
            out.append(x)
            if len(out) == 40:
                break
        del pipeline
        gc.collect()
        stats = engine.stats()
    assert stats.num_discarded > 0  # an endless source: the queues were full
    _balanced(stats, len(out))


def test_failure_pickles_with_its_counts():
    import pickle

    failure = PipelineFailure("m", [("s", ValueError("v"))], 3, num_discarded=7)
    again = pickle.loads(pickle.dumps(failure))
    assert (again.num_failures, again.num_discarded, str(again)) == (3, 7, "m")
