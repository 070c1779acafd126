"""The pipeline engine: what comes out, in which order, how many at once, and how much is held."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest

from spdl.pipeline import Pipeline, PipelineBuilder


def _threads_settle(before: set[threading.Thread], timeout: float = 5.0) -> set[threading.Thread]:
    """Threads alive now that were not alive before (waiting a little for any to exit)."""
    deadline = time.monotonic() + timeout
    while True:
        extra = {t for t in threading.enumerate() if t not in before and t.is_alive()}
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.01)


@pytest.fixture
def no_thread_left():
    """Fails the test if it leaves any thread running."""
    before = set(threading.enumerate())
    yield
    assert _threads_settle(before) == set()


def _run(builder: PipelineBuilder, **build) -> list:
    pipeline = builder.add_sink(3).build(**build)
    with pipeline.auto_stop():
        return list(pipeline)


def test_sync_function_values(no_thread_left):
    out = _run(PipelineBuilder().add_source(range(50)).pipe(lambda x: x * 3, concurrency=4))
    assert sorted(out) == [x * 3 for x in range(50)]


def test_none_results_are_dropped(no_thread_left):
    out = _run(
        PipelineBuilder()
        .add_source(range(20))
        .pipe(lambda x: x if x % 2 else None, output_order="input")
    )
    assert out == list(range(1, 20, 2))


def test_generator_op_yields_each_output(no_thread_left):
    def expand(x):
        for i in range(x % 4):
            yield (x, i)

    out = _run(PipelineBuilder().add_source(range(30)).pipe(expand, output_order="input"))
    assert out == [(x, i) for x in range(30) for i in range(x % 4)]


def test_generator_op_concurrent_in_input_order_with_tiny_sink(no_thread_left):
    # Each item yields more outputs than the stage has slots: generators must park and resume.
    def expand(x):
        for i in range(20):
            time.sleep(random.random() * 0.0005)
            yield (x, i)

    pipeline = (
        PipelineBuilder()
        .add_source(range(25))
        .pipe(expand, concurrency=4, output_order="input")
        .add_sink(1)
        .build(num_threads=6)
    )
    with pipeline.auto_stop():
        out = list(pipeline)
    assert out == [(x, i) for x in range(25) for i in range(20)]


def test_coroutine_and_async_generator_ops(no_thread_left):
    async def double(x):
        await asyncio.sleep(0.001 * (x % 3))
        return 2 * x

    async def twice(x):
        for i in range(2):
            await asyncio.sleep(0)
            yield x + i

    out = _run(
        PipelineBuilder()
        .add_source(range(40))
        .pipe(double, concurrency=8, output_order="input")
        .pipe(twice, concurrency=3, output_order="input")
    )
    assert out == [2 * x + i for x in range(40) for i in range(2)]


def test_coroutines_run_concurrently_on_one_loop_thread(no_thread_left):
    seen = set()

    async def wait(x):
        seen.add(threading.get_ident())
        await asyncio.sleep(0.2)
        return x

    t0 = time.monotonic()
    out = _run(PipelineBuilder().add_source(range(20)).pipe(wait, concurrency=20))
    elapsed = time.monotonic() - t0
    assert sorted(out) == list(range(20))
    assert len(seen) == 1 and threading.get_ident() not in seen
    assert elapsed < 2.0  # 20 x 0.2 s one after the other would be 4 s


def test_callable_objects(no_thread_left):
    class Add:
        def __init__(self, n):
            self.n = n

        def __call__(self, x):
            return x + self.n

    class AsyncAdd:
        async def __call__(self, x):
            return x + 100

    out = _run(
        PipelineBuilder()
        .add_source(range(10))
        .pipe(Add(5), output_order="input")
        .pipe(AsyncAdd(), output_order="input")
    )
    assert out == [x + 105 for x in range(10)]


def test_async_source(no_thread_left):
    async def numbers():
        for i in range(30):
            await asyncio.sleep(0)
            yield i

    out = _run(PipelineBuilder().add_source(numbers()).pipe(lambda x: -x, output_order="input"))
    assert out == [-x for x in range(30)]


def test_empty_source(no_thread_left):
    out = _run(PipelineBuilder().add_source([]).pipe(lambda x: x).aggregate(3))
    assert out == []


def test_source_only(no_thread_left):
    assert _run(PipelineBuilder().add_source(iter("abc"))) == ["a", "b", "c"]


def test_aggregate_and_disaggregate(no_thread_left):
    out = _run(PipelineBuilder().add_source(range(10)).aggregate(4))
    assert out == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    out = _run(PipelineBuilder().add_source(range(10)).aggregate(4, drop_last=True))
    assert out == [[0, 1, 2, 3], [4, 5, 6, 7]]
    out = _run(PipelineBuilder().add_source(range(10)).aggregate(3).disaggregate())
    assert out == list(range(10))


def test_output_order_input_under_random_durations(no_thread_left):
    rng = random.Random(0)
    delays = [rng.random() * 0.01 for _ in range(200)]

    def work(i):
        time.sleep(delays[i])
        return i

    ordered = _run(
        PipelineBuilder().add_source(range(200)).pipe(work, concurrency=8, output_order="input"),
        num_threads=9,
    )
    assert ordered == list(range(200))
    completion = _run(
        PipelineBuilder().add_source(range(200)).pipe(work, concurrency=8), num_threads=9
    )
    assert sorted(completion) == list(range(200))
    assert completion != list(range(200))  # with random durations, completion order differs


def test_output_order_input_does_not_serialise_the_stage(no_thread_left):
    # The first item is slow; the others must still run meanwhile (not wait for it).
    def work(i):
        time.sleep(0.5 if i == 0 else 0.01)
        return i

    t0 = time.monotonic()
    out = _run(
        PipelineBuilder().add_source(range(9)).pipe(work, concurrency=4, output_order="input"),
        num_threads=5,
    )
    assert out == list(range(9))
    assert time.monotonic() - t0 < 0.5 + 0.3


@pytest.mark.parametrize("k", [1, 3, 8])
def test_concurrency_is_reached_and_never_exceeded(k, no_thread_left):
    lock = threading.Lock()
    now = 0
    peak = 0

    def work(x):
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        time.sleep(0.01)
        with lock:
            now -= 1
        return x

    out = _run(PipelineBuilder().add_source(range(10 * k)).pipe(work, concurrency=k))
    assert sorted(out) == list(range(10 * k))
    assert peak == k


def test_threads_really_overlap(no_thread_left):
    # Ops that release the GIL (sleep) with concurrency 4 take a quarter of the serial time.
    t0 = time.monotonic()
    _run(PipelineBuilder().add_source(range(16)).pipe(lambda x: time.sleep(0.1), concurrency=4))
    assert time.monotonic() - t0 < 0.1 * 16 / 2


def test_backpressure_bounds_items_in_the_pipeline(no_thread_left):
    produced = 0

    def source():
        nonlocal produced
        for i in range(10_000):
            produced += 1
            yield i

    pipeline = (
        PipelineBuilder()
        .add_source(source())
        .pipe(lambda x: x, concurrency=2)
        .pipe(lambda x: x, concurrency=3)
        .add_sink(2)
        .build(num_threads=6)
    )
    # Every stage holds at most `capacity` items it took and did not hand on (in flight,
    # waiting for order, or queued), so the items produced but not consumed are bounded by the
    # sum of the capacities.
    bound = sum(q.capacity for q in pipeline.stats().queues)
    assert bound == (1 + 8) + (2 + 8) + (3 + 2)
    consumed = 0
    with pipeline.auto_stop():
        for _ in pipeline:
            consumed += 1
            time.sleep(0.002)  # a slow consumer
            assert produced - consumed <= bound
            if consumed == 300:
                break
    assert produced < 300 + bound + 1


def test_100k_items_through_three_stages(no_thread_left):
    n = 100_000
    pipeline = (
        PipelineBuilder()
        .add_source(range(n))
        .pipe(lambda x: x + 1, concurrency=2)
        .pipe(lambda x: x * 2, concurrency=4)
        .pipe(lambda x: x - 1, output_order="input")
        .add_sink(8)
        .build(num_threads=8)
    )
    total = 0
    count = 0
    with pipeline.auto_stop():
        for value in pipeline:
            total += value
            count += 1
    assert count == n
    assert total == sum(2 * (x + 1) - 1 for x in range(n))
    stats = pipeline.stats()
    assert [t.num_tasks for t in stats.tasks] == [n, n, n, n]
    assert [q.num_items for q in stats.queues] == [n, n, n, n]


def test_get_item_timeout_and_end(no_thread_left):
    gate = threading.Event()

    def wait(x):
        gate.wait(5)
        return x

    pipeline = PipelineBuilder().add_source([1]).pipe(wait).add_sink(1).build()
    with pipeline.auto_stop():
        with pytest.raises(TimeoutError):
            pipeline.get_item(timeout=0.1)
        gate.set()
        assert pipeline.get_item(timeout=5) == 1
        with pytest.raises(EOFError):
            pipeline.get_item(timeout=5)


def test_builder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="add_source"):
        PipelineBuilder().pipe(abs)
    builder = PipelineBuilder().add_source(range(3))
    with pytest.raises(ValueError, match="concurrency"):
        builder.pipe(abs, concurrency=0)
    with pytest.raises(ValueError, match="output_order"):
        builder.pipe(abs, output_order="random")
    with pytest.raises(TypeError, match="callable"):
        builder.pipe(3)
    with pytest.raises(TypeError, match="iterable"):
        PipelineBuilder().add_source(5)
    with pytest.raises(ValueError, match="source"):
        PipelineBuilder().build()


def test_pipeline_runs_once(no_thread_left):
    pipeline = PipelineBuilder().add_source(range(5)).add_sink(2).build()
    assert isinstance(pipeline, Pipeline)
    assert list(pipeline) == [0, 1, 2, 3, 4]
    assert list(pipeline) == []


def _cube(x):
    return x**3


def _pid_pairs(x):
    import os

    yield (x, os.getpid())
    yield (-x, os.getpid())


def test_process_pool_stage(no_thread_left):
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        out = _run(
            PipelineBuilder()
            .add_source(range(30))
            .pipe(_cube, executor=pool, concurrency=2, output_order="input")
            .pipe(_pid_pairs, executor=pool, concurrency=2, output_order="input")
        )
    assert [v for v, _ in out] == [s * x**3 for x in range(30) for s in (1, -1)]
    pids = {pid for _, pid in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_own_thread_pool_stage(no_thread_left):
    from concurrent.futures import ThreadPoolExecutor

    names = set()

    def where(x):
        names.add(threading.current_thread().name)
        return x

    with ThreadPoolExecutor(2, thread_name_prefix="mine") as pool:
        out = _run(PipelineBuilder().add_source(range(20)).pipe(where, executor=pool))
    assert sorted(out) == list(range(20))
    assert names and all(n.startswith("mine") for n in names)


@pytest.mark.parametrize("output_order", ["completion", "input"])
def test_backpressure_bounds_a_generator_stage(output_order, no_thread_left):
    # One input item expands into 1,000 outputs; a slow consumer must stop the generators
    # (parked between outputs), not let them fill memory.
    made = 0
    lock = threading.Lock()

    def expand(x):
        nonlocal made
        for i in range(1000):
            with lock:
                made += 1
            yield (x, i)

    pipeline = (
        PipelineBuilder()
        .add_source(range(4))
        .pipe(expand, concurrency=3, output_order=output_order)
        .add_sink(2)
        .build(num_threads=4)
    )
    expand_capacity = pipeline.stats().queues[1].capacity
    assert expand_capacity == 3 + 2
    consumed = 0
    seen = []
    with pipeline.auto_stop():
        for value in pipeline:
            consumed += 1
            seen.append(value)
            if consumed % 50 == 0:
                time.sleep(0.01)  # let the producers run ahead as far as they can
                # Outputs made and not consumed sit in the stage's slots (+1: an ordered
                # stage's head may go on into an empty queue).
                assert made - consumed <= expand_capacity + 1
            if consumed == 500:
                break
    if output_order == "input":
        assert seen == [(0, i) for i in range(500)]
