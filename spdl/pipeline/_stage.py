"""One stage of a pipeline: its op, how it runs, and the state the scheduler keeps for it.

A stage owns the queue at its output. Every item the stage has taken from upstream and not yet
handed to the next stage holds one of the stage's ``slots`` (``concurrency + buffer``): while it
is in flight, while its result waits for its turn (``output_order="input"``), and while it sits
in the output queue. That one counter is what makes memory bounded and backpressure work.
"""

from __future__ import annotations

import functools
import inspect
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from ._stats import _Histogram

# What an op is, which decides how a task is driven.
SYNC_FN = 0  # op(item) -> result
SYNC_GEN = 1  # op(item) yields results
ASYNC_FN = 2  # await op(item) -> result
ASYNC_GEN = 3  # async for result in op(item)
SOURCE = 4  # the source's iterator: a generator the stage holds from the start
ASYNC_SOURCE = 5  # the source's async iterator

# Where a stage's tasks run.
RUNNER = 0  # runner loops submitted to a ThreadPoolExecutor (the shared pool or the stage's)
LOOP = 1  # runner coroutines on the pipeline's event-loop thread
FUTURE = 2  # one future per item on another Executor (e.g. ProcessPoolExecutor)


def classify(op: Callable) -> int:
    """Which of ``SYNC_FN``, ``SYNC_GEN``, ``ASYNC_FN``, ``ASYNC_GEN`` ``op`` is.

    Functions, ``functools.partial`` objects, bound methods and callable objects (through their
    ``__call__``) are recognised.
    """
    if not callable(op):
        raise TypeError(f"A pipeline op must be callable, got {type(op).__name__}")
    candidates = [op]
    if not (inspect.isroutine(op) or isinstance(op, functools.partial)):
        candidates.append(type(op).__call__.__get__(op))
    for target in candidates:
        if inspect.isasyncgenfunction(target):
            return ASYNC_GEN
        if inspect.iscoroutinefunction(target):
            return ASYNC_FN
        if inspect.isgeneratorfunction(target):
            return SYNC_GEN
    return SYNC_FN


def op_name(op: Callable) -> str:
    """A readable default stage name for ``op``."""
    while isinstance(op, functools.partial):
        op = op.func
    return getattr(op, "__name__", None) or type(op).__name__


def collect_outputs(op: Callable, item: object) -> list:
    """Run generator ``op`` on ``item`` and return its outputs as a list (for process pools)."""
    return list(op(item))


class Stage:
    """The scheduler's record of one stage. Every mutable field is guarded by the engine lock."""

    __slots__ = (
        "blocked_since",
        "busy",
        "concurrency",
        "down",
        "executing",
        "executor",
        "failures",
        "finished",
        "flush",
        "get_wait",
        "hist",
        "inflight",
        "kind",
        "launch",
        "max_failures",
        "mode",
        "name",
        "next_emit",
        "next_seq",
        "num_got",
        "op",
        "ordered",
        "out",
        "parked",
        "pending",
        "put_wait",
        "ready_since",
        "ready_total",
        "remote_op",
        "reserved",
        "resume_at",
        "running",
        "slots",
        "starting",
        "starved_since",
        "up",
    )

    def __init__(
        self,
        *,
        name: str,
        kind: int,
        op: Callable | None,
        concurrency: int,
        buffer: int,
        executor: Executor | None,
        ordered: bool,
        max_failures: int | None,
        flush: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.op = op
        self.concurrency = concurrency
        self.executor = executor
        self.ordered = ordered
        self.max_failures = max_failures
        self.flush = flush
        if kind in (ASYNC_FN, ASYNC_GEN, ASYNC_SOURCE):
            self.mode = LOOP
        elif executor is None or isinstance(executor, ThreadPoolExecutor):
            self.mode = RUNNER
        else:
            self.mode = FUTURE
        # How a runner of a RUNNER stage is started: set by the engine when it starts (the fast,
        # Future-less path of the pipeline's own pool, or the stage's executor's submit).
        self.launch: Callable | None = None
        self.remote_op = functools.partial(collect_outputs, op) if kind == SYNC_GEN else op
        self.slots = concurrency + buffer
        # A stage stopped by a full output queue restarts once this many slots are free again,
        # so that it then runs a batch of items instead of one per wake-up.
        self.resume_at = max(1, self.slots // 2)
        self.up: Stage | None = None
        self.down: Stage | None = None
        self.out: deque = deque()
        self.reserved = 0  # slots held by tasks and by results waiting for their turn
        self.running = 0  # runners (or futures) started and not yet exited
        self.starting = 0  # runners started that have not yet looked for work
        self.executing = 0  # runners inside a task (from taking it to reporting its end)
        self.inflight = 0  # items taken and not finished, parked generators included
        self.parked: dict[int, list] = {}  # seq -> [item, generator, seconds so far]
        self.pending: dict[int, list] = {}  # seq -> [values, done] (output_order="input")
        self.next_seq = 0
        self.next_emit = 0
        self.finished = False
        self.hist = _Histogram()
        self.failures = 0
        self.busy = 0.0
        # Statistics of the output queue.
        self.num_got = 0
        self.ready_since = 0.0
        self.ready_total = 0.0
        self.blocked_since: float | None = None
        self.put_wait = 0.0
        self.starved_since: float | None = None
        self.get_wait = 0.0

    def __repr__(self) -> str:
        return f"<Stage {self.name} running={self.running} inflight={self.inflight}>"
