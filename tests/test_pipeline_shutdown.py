"""Every way a pipeline ends leaves no thread behind and no call hanging."""

from __future__ import annotations

import _thread
import asyncio
import gc
import itertools
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import pytest

from spdl.pipeline import PipelineBuilder


@pytest.fixture
def no_thread_left():
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while {t for t in threading.enumerate() if t not in before} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {t for t in threading.enumerate() if t not in before} == set()


async def _async_identity(x):
    await asyncio.sleep(0.001)
    return x


def _endless(with_async: bool = True):
    """An infinite pipeline with sync, generator and async stages."""

    def pairs(x):
        yield x
        yield x

    builder = (
        PipelineBuilder()
        .add_source(itertools.count())
        .pipe(lambda x: x + 1, concurrency=2)
        .pipe(pairs)
    )
    if with_async:
        builder.pipe(_async_identity, concurrency=4)
    return builder.add_sink(2).build(num_threads=4)


def _our_threads():
    return [t for t in threading.enumerate() if t.name.startswith("spdl-pipeline")]


def test_stop_mid_run(no_thread_left):
    pipeline = _endless()
    pipeline.start()
    assert pipeline.get_item(timeout=5) >= 1
    assert _our_threads()
    t0 = time.monotonic()
    pipeline.stop()
    assert time.monotonic() - t0 < 2
    assert _our_threads() == []
    pipeline.stop()  # idempotent
    with pytest.raises(EOFError):
        pipeline.get_item(timeout=1)


def test_stop_before_start(no_thread_left):
    pipeline = _endless()
    pipeline.stop()
    assert list(pipeline) == []


def test_leaving_auto_stop(no_thread_left):
    pipeline = _endless()
    with pipeline.auto_stop():
        for i, _ in enumerate(pipeline):
            if i == 50:
                break
    assert _our_threads() == []


def test_breaking_out_of_the_loop(no_thread_left):
    pipeline = _endless()
    pipeline.start()
    for i, _ in enumerate(pipeline):
        if i == 50:
            break
    # No stop() call: leaving the loop stopped it.
    assert _our_threads() == []


def test_garbage_collection_of_a_running_pipeline(no_thread_left):
    pipeline = _endless()
    pipeline.start()
    pipeline.get_item(timeout=5)
    ref = weakref.ref(pipeline)
    del pipeline
    gc.collect()
    assert ref() is None
    assert _our_threads() == []


@pytest.fixture
def sigint_handled():
    """``_thread.interrupt_main`` does nothing while SIGINT is ignored, as it is under a runner
    started in the background without job control: handle it as an interactive run does."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_keyboard_interrupt_in_the_consumer(no_thread_left, sigint_handled):
    def slow(x):
        time.sleep(0.05)
        return x

    pipeline = (
        PipelineBuilder().add_source(itertools.count()).pipe(slow).add_sink(1).build(num_threads=2)
    )
    timer = threading.Timer(0.3, _thread.interrupt_main)
    with pytest.raises(KeyboardInterrupt):
        timer.start()
        for _ in pipeline:
            pass
    timer.join()
    assert _our_threads() == []


def test_stop_cancels_coroutines_promptly(no_thread_left):
    async def forever(x):
        await asyncio.sleep(3600)

    pipeline = PipelineBuilder().add_source(range(10)).pipe(forever, concurrency=5).build()
    pipeline.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    pipeline.stop()
    assert time.monotonic() - t0 < 1
    assert pipeline.stats().stage("forever").num_tasks == 0


def test_stop_waits_for_a_running_sync_op_within_its_timeout(no_thread_left):
    started = threading.Event()

    def slow(x):
        started.set()
        time.sleep(0.3)
        return x

    pipeline = PipelineBuilder().add_source(range(3)).pipe(slow).add_sink(1).build()
    pipeline.start()
    assert started.wait(5)
    t0 = time.monotonic()
    pipeline.stop()
    assert time.monotonic() - t0 < 1.0


def test_stop_from_another_thread_wakes_the_consumer(no_thread_left):
    def never(x):
        time.sleep(0.01)

    pipeline = PipelineBuilder().add_source(itertools.count()).pipe(never).add_sink(1).build()
    threading.Timer(0.2, pipeline.stop).start()
    t0 = time.monotonic()
    assert list(pipeline) == []
    assert time.monotonic() - t0 < 2


def test_stop_from_inside_an_op(no_thread_left):
    holder = {}

    def op(x):
        if x == 5:
            holder["p"].stop()
        return x

    pipeline = PipelineBuilder().add_source(range(1000)).pipe(op).add_sink(1).build()
    holder["p"] = pipeline
    out = list(pipeline)
    assert len(out) < 1000
    del holder["p"]


_EXIT_SCRIPT = """
import itertools, sys, threading, asyncio
from spdl.pipeline import PipelineBuilder

async def coro(x):
    await asyncio.sleep(0.001)
    return x

p = (PipelineBuilder().add_source(itertools.count()).pipe(lambda x: x, concurrency=3)
     .pipe(coro, concurrency=2).add_sink(2).build())
p.start()
print(p.get_item(timeout=10), flush=True)
{tail}
"""


@pytest.mark.parametrize(
    ("tail", "code"), [("", 0), ("sys.exit(3)", 3), ("raise KeyboardInterrupt", -2)]
)
def test_interpreter_exit_with_a_running_pipeline(tail, code):
    # The script never stops its pipeline: interpreter exit must, without hanging on the
    # pool's worker threads and without errors during shutdown.
    script = textwrap.dedent(_EXIT_SCRIPT).format(tail=tail)
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert time.monotonic() - t0 < 15
    # One item arrived (which one depends on thread timing: the first stage has 3 runners).
    assert proc.stdout.strip().isdigit(), proc.stdout
    assert proc.returncode == code
    assert "Exception ignored" not in proc.stderr
    assert proc.stderr.count("Traceback") == (1 if code == -2 else 0), proc.stderr


def test_stop_closes_parked_generators(no_thread_left):
    started = []
    closed = []

    def expand(x):
        started.append(x)
        try:
            for i in range(1000):
                yield (x, i)
        finally:
            closed.append(x)

    pipeline = (
        PipelineBuilder()
        .add_source(range(3))
        .pipe(expand, concurrency=3, output_order="input")
        .add_sink(1)
        .build(num_threads=4)
    )
    pipeline.start()
    assert pipeline.get_item(timeout=5) == (0, 0)
    time.sleep(0.1)  # the generators fill their slots and park
    pipeline.stop()
    gc.collect()
    # Every generator that started ran its finally (it was closed, not left suspended).
    assert started and sorted(closed) == sorted(started)


def test_stop_with_an_endless_async_source(no_thread_left):
    async def ticks():
        for i in itertools.count():
            await asyncio.sleep(0)
            yield i

    pipeline = PipelineBuilder().add_source(ticks()).pipe(lambda x: x).add_sink(2).build()
    with pipeline.auto_stop():
        got = [pipeline.get_item(timeout=5) for _ in range(20)]
    assert sorted(got) == list(range(20))
    assert _our_threads() == []
