"""Iterables and pipelines run in a child process: streaming, re-iteration, errors, teardown."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import time

import pytest

from spdl.pipeline import (
    PipelineBuilder,
    PipelineFailure,
    iterate_in_subprocess,
    run_pipeline_in_subprocess,
)


def _numbers_with_pid(n):
    for i in range(n):
        yield (i, os.getpid())


def _make_numbers(n=20):
    return _numbers_with_pid(n)


def _endless():
    return itertools.count()


def _raises():
    yield 1
    raise ValueError("broken in the child")


def _dies():
    yield 1
    os._exit(7)


def _square(x):
    return x * x


def _fail_on_three(x):
    if x == 3:
        raise KeyError(x)
    return x


def test_items_come_from_another_process():
    iterable = iterate_in_subprocess(_make_numbers)
    try:
        out = list(iterable)
        assert [i for i, _ in out] == list(range(20))
        pids = {pid for _, pid in out}
        assert len(pids) == 1 and os.getpid() not in pids
    finally:
        iterable.close()


def test_reiteration_after_a_full_pass_and_after_a_break():
    iterable = iterate_in_subprocess(_endless, buffer_size=2)
    try:
        first = list(itertools.islice(iterable, 5))
        second = list(itertools.islice(iterable, 3))  # islice breaks out of the loop
        assert first == [0, 1, 2, 3, 4]
        assert second == [0, 1, 2]  # a fresh fn() call, the same child
        process = iterable._holder[0].process
        assert process.is_alive()
    finally:
        iterable.close()
    assert not iterable._holder
    iterable.close()  # idempotent


def test_child_exception_is_raised_in_the_parent_and_the_iterable_survives():
    iterable = iterate_in_subprocess(_raises)
    try:
        got = []
        with pytest.raises(ValueError, match="broken in the child"):
            for x in iterable:
                got.append(x)
        assert got == [1]
        with pytest.raises(ValueError):
            list(iterable)
    finally:
        iterable.close()


def test_dead_child_is_detected_not_waited_for():
    iterable = iterate_in_subprocess(_dies)
    try:
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match="exit code 7"):
            list(iterable)
        assert time.monotonic() - t0 < 10
    finally:
        iterable.close()


def test_close_stops_a_child_blocked_on_a_full_queue():
    iterable = iterate_in_subprocess(_endless, buffer_size=1)
    it = iter(iterable)
    assert next(it) == 0
    process = iterable._holder[0].process
    t0 = time.monotonic()
    iterable.close()
    assert time.monotonic() - t0 < 5
    assert process.exitcode is not None
    with pytest.raises(RuntimeError, match="closed"):
        iter(iterable)
    with pytest.raises(RuntimeError, match="closed"):
        next(it)


def test_pipeline_in_subprocess_streams_and_reiterates():
    builder = (
        PipelineBuilder()
        .add_source(range(50))
        .pipe(_square, concurrency=4, output_order="input")
        .add_sink(3)
    )
    iterable = run_pipeline_in_subprocess(builder, num_threads=4)
    try:
        assert list(iterable) == [x * x for x in range(50)]
        assert list(iterable) == [x * x for x in range(50)]
    finally:
        iterable.close()


def test_pipeline_failure_in_subprocess_reaches_the_parent():
    builder = PipelineBuilder().add_source(range(10)).pipe(_fail_on_three).add_sink(3)
    iterable = run_pipeline_in_subprocess(builder, max_failures=0)
    try:
        with pytest.raises(PipelineFailure) as info:
            list(iterable)
        assert isinstance(info.value.causes[0][1], KeyError)
    finally:
        iterable.close()


def test_interpreter_exit_closes_the_child(tmp_path):
    script = textwrap.dedent(
        """
        import itertools, sys
        from spdl.pipeline import iterate_in_subprocess
        it = iterate_in_subprocess(itertools.count)
        for x in it:
            print(x, flush=True)
            if x == 2:
                break
        print(it._holder[0].process.pid, flush=True)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines[:3] == ["0", "1", "2"]
    child = int(lines[3])
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def _slow_numbers():
    yield 0
    time.sleep(30)
    yield 1


def test_timeout_waiting_for_the_child():
    iterable = iterate_in_subprocess(_slow_numbers, timeout=3, close_timeout=1)
    try:
        got = []
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            for x in iterable:
                got.append(x)
        assert got == [0]
        assert time.monotonic() - t0 < 20
    finally:
        t0 = time.monotonic()
        iterable.close()
        assert time.monotonic() - t0 < 5  # the sleeping child is terminated, not waited for
