"""Pipeline fault injection: random exceptions, slow and stuck stages, a consumer that breaks out,
KeyboardInterrupt, a process-pool worker killed mid-task, a failing source.

Each ends with every item delivered exactly once or counted as failed, no thread or process left
behind, and a clear error where the pipeline gives up.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import json
import logging
import multiprocessing
import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest

pipeline_mod = pytest.importorskip("spdl.pipeline")
if not hasattr(pipeline_mod, "PipelineBuilder"):
    pytest.skip("spdl.pipeline has no PipelineBuilder yet", allow_module_level=True)

import _fault_ops  # noqa: E402

from spdl.pipeline import PipelineBuilder, PipelineFailure  # noqa: E402

N = 400


def _new_threads(before: set, timeout: float = 5.0) -> list:
    """Threads started since ``before`` that are still alive after waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.02)


@pytest.fixture
def no_thread_left():
    """Fails the test if any thread it started is still alive 5 s after it ended."""
    before = set(threading.enumerate())
    yield
    gc.collect()
    left = _new_threads(before)
    assert not left, f"threads left running: {[t.name for t in left]}"


def _failing(fraction: float, salt: str) -> set[int]:
    """A fixed, random-looking set of items that fail."""
    return {i for i in range(N) if random.Random(f"{salt}:{i}").random() < fraction}


def _spdl_warnings(caplog, stage: str) -> int:
    return sum(
        1
        for r in caplog.records
        if r.name.startswith("spdl") and r.levelno >= logging.WARNING and stage in r.getMessage()
    )


@pytest.mark.parametrize("output_order", ["completion", "input"])
def test_random_exceptions_every_item_delivered_or_counted(no_thread_left, caplog, output_order):
    fail_a, fail_b = _failing(0.1, "a"), _failing(0.15, "b")

    def stage_a(x):
        time.sleep(random.random() * 1e-3)
        if x in fail_a:
            raise ValueError(f"injected failure on {x}")
        return x

    async def stage_b(x):
        await asyncio.sleep(random.random() * 1e-3)
        if x in fail_b:
            raise KeyError(x)
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(range(N))
        .pipe(stage_a, concurrency=4, name="flaky_a", output_order=output_order)
        .pipe(stage_b, concurrency=4, name="flaky_b", output_order=output_order)
        .add_sink(buffer_size=4)
        .build(num_threads=4, max_failures=-1)
    )
    with caplog.at_level(logging.WARNING, logger="spdl"), pipeline.auto_stop():
        delivered = list(pipeline)
    assert len(delivered) == len(set(delivered)), "an item was delivered twice"
    expected = [i for i in range(N) if i not in fail_a and i not in fail_b]
    if output_order == "input":
        assert delivered == expected
    else:
        assert sorted(delivered) == expected
    stats = pipeline.stats()
    assert stats.stage("flaky_a").num_failures == len(fail_a)
    assert stats.stage("flaky_b").num_failures == len(fail_b - fail_a)
    assert stats.stage("flaky_a").num_tasks == N
    assert len(delivered) + len(fail_a) + len(fail_b - fail_a) == N
    # Each failure is logged once, naming its stage.
    assert _spdl_warnings(caplog, "flaky_a") == len(fail_a)
    assert _spdl_warnings(caplog, "flaky_b") == len(fail_b - fail_a)


def test_failures_past_the_budget_raise_pipeline_failure_with_causes(no_thread_left):
    def always(x):
        raise RuntimeError(f"broken {x}")

    pipeline = (
        PipelineBuilder()
        .add_source(range(N))
        .pipe(always, concurrency=2, name="broken")
        .add_sink()
        .build(num_threads=2, max_failures=5)
    )
    with pytest.raises(PipelineFailure) as info, pipeline.auto_stop():
        list(pipeline)
    failure = info.value
    assert failure.num_failures > 5
    assert all(name == "broken" for name, _ in failure.causes)
    assert all(isinstance(e, RuntimeError) for _, e in failure.causes)
    assert "max_failures" in str(failure)


def test_source_exception_fails_the_pipeline(no_thread_left):
    def source():
        yield from range(10)
        raise OSError("the dataset went away")

    pipeline = PipelineBuilder().add_source(source()).pipe(lambda x: x).add_sink().build()
    got = []
    with pytest.raises(PipelineFailure) as info, pipeline.auto_stop():
        for x in pipeline:
            got.append(x)
    # Items still in flight when the source failed are dropped, but loudly: the failure is raised.
    assert len(got) == len(set(got)) and set(got) <= set(range(10))
    assert any(isinstance(e, OSError) for _, e in info.value.causes)


def test_slow_stage_keeps_order_and_loses_nothing(no_thread_left):
    rng = random.Random(5)
    delays = [rng.random() * 4e-3 for _ in range(N)]

    def slow(x):
        time.sleep(delays[x])
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(range(N))
        .pipe(slow, concurrency=8, output_order="input")
        .aggregate(7)
        .add_sink(buffer_size=2)
        .build(num_threads=8)
    )
    with pipeline.auto_stop():
        batches = list(pipeline)
    assert [x for b in batches for x in b] == list(range(N))
    assert [len(b) for b in batches] == [7] * (N // 7) + [N % 7]


def test_stuck_stage_times_out_and_stop_is_prompt(no_thread_left):
    release = threading.Event()

    def maybe_stuck(x):
        if x == 3:
            release.wait(30)  # stuck until the test lets it go
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(range(20))
        .pipe(maybe_stuck, concurrency=2)
        .add_sink()
        .build(num_threads=2)
    )
    pipeline.start()
    got = []
    try:
        with pytest.raises(TimeoutError):
            while True:
                got.append(pipeline.get_item(timeout=1.0))
        assert sorted(got) == [i for i in range(20) if i != 3]
        t0 = time.monotonic()
        pipeline.stop(timeout=0.5)
        assert time.monotonic() - t0 < 3.0, "stop() waited on a stuck op past its timeout"
    finally:
        release.set()  # the stuck op returns; then its thread must go away
    with pytest.raises(EOFError):
        pipeline.get_item(timeout=1.0)


@pytest.mark.parametrize("how", ["auto_stop", "garbage_collected"])
def test_consumer_breaks_out_of_an_endless_pipeline(no_thread_left, how):
    import itertools

    def work(x):
        time.sleep(1e-4)
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(itertools.count())
        .pipe(work, concurrency=4)
        .add_sink()
        .build(num_threads=4)
    )
    if how == "auto_stop":
        with pipeline.auto_stop():
            for x in pipeline:
                if x >= 50:
                    break
    else:
        for x in pipeline:
            if x >= 50:
                break
        del pipeline, x
        gc.collect()


def test_keyboard_interrupt_in_the_consumer_stops_everything(no_thread_left):
    import itertools

    pipeline = PipelineBuilder().add_source(itertools.count()).pipe(lambda x: x).add_sink().build()
    with pytest.raises(KeyboardInterrupt), pipeline.auto_stop():
        for x in pipeline:
            if x == 10:
                raise KeyboardInterrupt


_SIGINT_SCRIPT = textwrap.dedent(
    """
    import itertools, json, os, signal, sys, threading, time
    from spdl.pipeline import PipelineBuilder

    # A runner started in the background without job control passes SIGINT down as ignored,
    # and Python then never raises KeyboardInterrupt: handle it as an interactive run does.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def slow(x):
        time.sleep(0.05)
        return x

    before = set(threading.enumerate())
    pipeline = (PipelineBuilder().add_source(itertools.count()).pipe(slow, concurrency=4)
                .add_sink().build(num_threads=4))
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    got = 0
    try:
        with pipeline.auto_stop():
            for _ in pipeline:
                got += 1
    except KeyboardInterrupt:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
            if not left:
                break
            time.sleep(0.02)
        print(json.dumps({"interrupted": True, "got": got, "left": left}))
        if sys.argv[1] == "reraise":
            raise
    """
)


@pytest.mark.parametrize("mode", ["caught", "reraise"])
def test_real_sigint_interrupts_iteration_and_the_process_exits(mode):
    """A real Ctrl-C (SIGINT) while the consumer waits: iteration raises KeyboardInterrupt, every
    thread ends, and an uncaught interrupt lets the interpreter exit (no hang at shutdown)."""
    proc = subprocess.run(
        [sys.executable, "-c", _SIGINT_SCRIPT, mode], capture_output=True, text=True, timeout=60
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, proc.stderr
    result = json.loads(lines[-1])
    assert result["interrupted"] and result["got"] > 0
    assert result["left"] == []
    if mode == "caught":
        assert proc.returncode == 0, proc.stderr
    else:
        assert "KeyboardInterrupt" in proc.stderr
        assert proc.returncode != 0


def _children() -> set[int]:
    """Our child processes, except multiprocessing's resource tracker (one per interpreter,
    started by the first spawn and meant to live as long as we do)."""
    psutil = pytest.importorskip("psutil")
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(p.cmdline()):
                out.add(p.pid)
        except psutil.Error:  # exited while we looked
            pass
    return out


@pytest.mark.parametrize("max_failures", [0, 3, -1])
def test_process_pool_worker_killed_mid_task(no_thread_left, caplog, max_failures):
    """A worker of a stage's ProcessPoolExecutor dies (SIGKILL) on item 7. A broken pool can
    run no more tasks, so whatever the failure budget the pipeline fails at once, naming the
    stage and the dead worker; the items in flight there count as failed, every item the
    source produced is accounted for, and no thread or process is left behind."""
    before = _children()
    pool = concurrent.futures.ProcessPoolExecutor(
        2, mp_context=multiprocessing.get_context("spawn")
    )
    pipeline = (
        PipelineBuilder()
        .add_source(range(40))
        .pipe(_fault_ops.square_or_die, executor=pool, concurrency=2, name="in_pool")
        .add_sink()
        .build(num_threads=2, max_failures=max_failures)
    )
    delivered = []
    t0 = time.monotonic()
    try:
        with (
            caplog.at_level(logging.WARNING, logger="spdl"),
            pytest.raises(PipelineFailure) as info,
            pipeline.auto_stop(),
        ):
            for x in pipeline:
                delivered.append(x)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    assert time.monotonic() - t0 < 60
    failure = info.value
    message = str(failure)
    assert "'in_pool'" in message
    assert "worker process died" in message
    assert "SIGKILL" in message
    assert "BrokenProcessPool" in message
    broken = concurrent.futures.process.BrokenProcessPool
    assert failure.causes and all(isinstance(e, broken) for _, e in failure.causes)
    # Item 7 and whatever else was in flight in the stage (at most its concurrency).
    assert 1 <= failure.num_failures <= 2
    assert 49 not in delivered
    assert len(delivered) == len(set(delivered))
    assert set(delivered) <= {x * x for x in range(40)}
    stats = pipeline.stats()
    assert stats.stage("in_pool").num_failures == failure.num_failures == stats.num_failures
    assert stats.num_delivered == len(delivered)
    assert stats.num_discarded == failure.num_discarded
    assert 8 <= stats.num_produced <= 40
    assert stats.num_delivered + stats.num_failures + stats.num_discarded == stats.num_produced
    assert any("in_pool" in r.getMessage() and r.levelno >= logging.ERROR for r in caplog.records)
    deadline = time.monotonic() + 10
    while (_children() - before or multiprocessing.active_children()) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert not (_children() - before), "a pool process outlived the pipeline"
    assert multiprocessing.active_children() == []


def test_process_pool_stage_without_faults_delivers_everything(no_thread_left):
    with concurrent.futures.ProcessPoolExecutor(
        2, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        pipeline = (
            PipelineBuilder()
            .add_source(range(40))
            .pipe(_fault_ops.square, executor=pool, concurrency=4, output_order="input")
            .add_sink()
            .build(num_threads=2)
        )
        with pipeline.auto_stop():
            assert list(pipeline) == [x * x for x in range(40)]


_EXIT_SCRIPT = textwrap.dedent(
    """
    import itertools, sys, time
    from spdl.pipeline import PipelineBuilder

    def op(x):
        if sys.argv[1] == "stuck" and x == 5:
            time.sleep(3600)  # an op that never returns (a dead network mount, a stuck driver)
        return x

    pipeline = (PipelineBuilder().add_source(itertools.count()).pipe(op, concurrency=2)
                .add_sink().build(num_threads=2))
    it = iter(pipeline)
    for _ in range(8):
        next(it)
    print("leaving", flush=True)
    """
)


@pytest.mark.parametrize("mode", ["running", "stuck"])
def test_interpreter_exits_with_a_pipeline_still_running(mode):
    """The script leaves without stopping its pipeline: the interpreter must still exit, also
    when one op never returns (its daemon thread is abandoned, and the log says so)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _EXIT_SCRIPT, mode], capture_output=True, text=True, timeout=8
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the interpreter did not exit within 8 s")
    elapsed = time.monotonic() - t0
    assert "leaving" in proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    # With a stuck op, the exit hook waits 2 s for the running ops, then abandons it.
    assert elapsed < 6, f"exit took {elapsed:.1f} s"
    if mode == "stuck":
        assert "abandoned: stage 'op' (1)" in proc.stderr, proc.stderr
    else:
        assert "abandoned" not in proc.stderr, proc.stderr
