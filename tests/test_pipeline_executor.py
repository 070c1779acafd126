"""The pipeline's own thread pool: daemon workers, the Executor contract, and bounded stop()."""

from __future__ import annotations

import gc
import logging
import threading
import time
from concurrent.futures import CancelledError

import pytest

from spdl.pipeline import PipelineBuilder
from spdl.pipeline._executor import DaemonThreadPoolExecutor


def _ours(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


def _wait_gone(prefix: str, timeout: float = 5.0) -> list[threading.Thread]:
    deadline = time.monotonic() + timeout
    while _ours(prefix) and time.monotonic() < deadline:
        time.sleep(0.01)
    return _ours(prefix)


def test_submit_returns_results_and_exceptions_on_daemon_threads():
    pool = DaemonThreadPoolExecutor(3, thread_name_prefix="t-exec-a")
    futures = [pool.submit(pow, 2, i) for i in range(50)]
    assert [f.result(timeout=5) for f in futures] == [2**i for i in range(50)]
    bad = pool.submit(int, "x")
    with pytest.raises(ValueError):
        bad.result(timeout=5)
    workers = _ours("t-exec-a")
    assert 1 <= len(workers) <= 3
    assert all(t.daemon for t in workers)
    pool.shutdown(wait=True)
    assert _ours("t-exec-a") == []
    with pytest.raises(RuntimeError):
        pool.submit(pow, 2, 2)


def test_never_more_threads_than_max_workers_and_they_run_together():
    pool = DaemonThreadPoolExecutor(4, thread_name_prefix="t-exec-b")
    barrier = threading.Barrier(4, timeout=5)
    # Four tasks that each wait for the other three: they finish only if they overlap.
    futures = [pool.submit(barrier.wait) for _ in range(4)]
    assert sorted(f.result(timeout=10) for f in futures) == [0, 1, 2, 3]
    futures = [pool.submit(time.sleep, 0.001) for _ in range(100)]
    for f in futures:
        f.result(timeout=10)
    assert len(_ours("t-exec-b")) <= 4
    pool.shutdown(wait=True)
    assert _ours("t-exec-b") == []


def test_shutdown_cancels_queued_futures_and_leaves_a_stuck_worker_behind():
    pool = DaemonThreadPoolExecutor(1, thread_name_prefix="t-exec-c")
    release = threading.Event()
    running = pool.submit(release.wait, 30)
    queued = [pool.submit(pow, 2, i) for i in range(5)]
    t0 = time.monotonic()
    pool.shutdown(wait=False, cancel_futures=True)
    assert time.monotonic() - t0 < 1
    assert all(f.cancelled() for f in queued)
    with pytest.raises(CancelledError):
        queued[0].result()
    assert not running.done()
    (worker,) = _ours("t-exec-c")
    assert worker.daemon  # a stuck worker never blocks interpreter exit
    release.set()
    assert running.result(timeout=5) is True
    assert _wait_gone("t-exec-c") == []


def test_run_soon_runs_without_a_future_and_survives_an_exception():
    pool = DaemonThreadPoolExecutor(2, thread_name_prefix="t-exec-d")
    done = threading.Event()

    def boom():
        raise RuntimeError("dropped")

    assert pool.run_soon(boom) is None
    pool.run_soon(done.set)
    assert done.wait(5)
    pool.shutdown(wait=True)
    assert _ours("t-exec-d") == []


def test_an_executor_dropped_without_shutdown_ends_its_threads():
    pool = DaemonThreadPoolExecutor(2, thread_name_prefix="t-exec-e")
    assert pool.submit(pow, 3, 3).result(timeout=5) == 27
    assert _ours("t-exec-e")
    del pool
    gc.collect()
    assert _wait_gone("t-exec-e") == []


def test_stop_with_a_stuck_op_is_bounded_and_names_the_stage(caplog):
    release = threading.Event()
    started = threading.Event()

    def hang(x):
        if x == 2:
            started.set()
            release.wait(30)  # stands for an op that never returns
        return x

    before = set(threading.enumerate())
    pipeline = (
        PipelineBuilder()
        .add_source(range(100))
        .pipe(hang, concurrency=2, name="hangs")
        .add_sink(2)
        .build(num_threads=3)
    )
    pipeline.start()
    try:
        assert started.wait(5)
        caplog.set_level(logging.WARNING, logger="spdl.pipeline")
        t0 = time.monotonic()
        pipeline.stop(timeout=0.3)
        assert time.monotonic() - t0 < 1.5, "stop() waited on a stuck op past its timeout"
        warnings = [r.getMessage() for r in caplog.records if "abandoned" in r.getMessage()]
        assert len(warnings) == 1
        assert "1 task(s) still running" in warnings[0]
        assert "stage 'hangs' (1)" in warnings[0]
        # The idle workers end on their own; the stuck one is all that is left, a daemon.
        deadline = time.monotonic() + 5
        while True:
            left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
            if len(left) <= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert len(left) == 1 and left[0].daemon
    finally:
        release.set()
    assert _wait_gone("spdl-pipeline") == []
