"""``Engine``: runs a chain of stages on ``concurrent.futures`` executors.

The engine is one class put together from mixins, one concern per module: ``_schedule`` (slots
and wake-ups), ``_ordering`` (output order), ``_runners`` (sync runners on a thread pool),
``_futures`` (one future per item on another executor), ``_coroutines`` (the event-loop
thread) and ``_shutdown`` (stop, accounting, interpreter exit). This module holds the state
they share, starting, the consumer side, failures and statistics.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque

from ._common import _LG, _MAX_CAUSES, _NEW, _RUNNING, _perf, _tls
from ._coroutines import Coroutines
from ._executor import DaemonThreadPoolExecutor
from ._failure import PipelineFailure
from ._futures import FutureTasks
from ._ordering import Ordering
from ._runners import SyncRunners
from ._schedule import Scheduling
from ._shutdown import _LIVE, Shutdown
from ._stage import LOOP, RUNNER, Stage
from ._stats import LoggingStatsHook, PipelineStats, QueuePerfStats, StatsHook, TaskPerfStats

__all__ = ["Engine"]

# Seconds a waiting consumer sleeps before it looks for a stage held up by a long task.
_RESCUE_AFTER = 0.02


class Engine(Scheduling, Ordering, SyncRunners, FutureTasks, Coroutines, Shutdown):
    """Runs a chain of stages. ``stages[0]`` is the source; the last stage's queue is the sink.

    Args:
        stages: The stages in order, as built by ``PipelineBuilder``.
        num_threads: Size of the shared ``DaemonThreadPoolExecutor``.
        max_failures: Failures allowed over all stages before the pipeline fails (-1: no limit).
        report_stats_interval: Seconds between reports to ``hook`` (<= 0: only the final one).
        hook: Receives the statistics.
    """

    def __init__(
        self,
        stages: list[Stage],
        *,
        num_threads: int,
        max_failures: int,
        report_stats_interval: float,
        hook: StatsHook | None,
    ) -> None:
        for up, down in itertools.pairwise(stages):
            up.down = down
            down.up = up
        self._stages = stages
        self._source = stages[0]
        self._last = stages[-1]
        self._num_threads = num_threads
        self._max_failures = max_failures
        self._interval = report_stats_interval
        self._hook = hook if hook is not None else LoggingStatsHook()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._state = _NEW
        self._stopping = False  # runners take no new work once set
        self._consumer_waiting = False
        self._active = 0  # runners and futures of all stages not yet exited
        self._num_failures = 0
        self._causes: deque[tuple[str, BaseException]] = deque(maxlen=_MAX_CAUSES)
        self._failure: str | None = None
        self._pool: DaemonThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()
        # Futures of FUTURE stages not yet accounted for: future -> (stage, seq, item, t0).
        self._futures: dict = {}
        self._reporter: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._stopped = threading.Event()
        self._t_start = 0.0
        self._t_stop: float | None = None
        # (produced, delivered, failed, discarded), counted once by stop() (see _count_items).
        self._tally: tuple[int, int, int, int] | None = None

    def start(self) -> None:
        """Create the threads and start pulling from the source. Does nothing the second time."""
        with self._lock:
            if self._state != _NEW:
                return
            self._state = _RUNNING
            self._t_start = _perf()
        self._pool = DaemonThreadPoolExecutor(self._num_threads, thread_name_prefix="spdl-pipeline")
        for st in self._stages:
            if st.mode == RUNNER:
                if st.executor is None:
                    st.executor = self._pool
                    st.launch = self._pool.run_soon
                else:
                    st.launch = st.executor.submit
        if any(st.mode == LOOP for st in self._stages):
            self._loop = asyncio.new_event_loop()
            ready = threading.Event()
            self._loop_thread = threading.Thread(
                target=self._loop_main, args=(ready,), name="spdl-pipeline-loop", daemon=True
            )
            self._loop_thread.start()
            ready.wait()
        if self._interval > 0:
            self._reporter = threading.Thread(
                target=self._report_main, name="spdl-pipeline-stats", daemon=True
            )
            self._reporter.start()
        _LIVE.add(self)
        starts: list = []
        with self._lock:
            self._kick(self._source, starts)
        self._launch(starts)

    @property
    def started(self) -> bool:
        """Whether ``start`` (or ``stop``) was called."""
        return self._state != _NEW

    def get(self, timeout: float | None) -> object:
        """The next output. Raises ``EOFError`` at the end, ``TimeoutError``, ``PipelineFailure``."""
        starts: list = []
        last = self._last
        deadline = None if timeout is None else _perf() + timeout
        with self._lock:
            while True:
                if self._failure is not None:
                    break
                if self._state != _RUNNING:
                    raise EOFError("The pipeline is stopped.")
                if last.out:
                    value = last.out.popleft()
                    self._taken(last, starts)
                    break
                if last.finished:
                    raise EOFError("The pipeline has no more items.")
                remaining = None
                if deadline is not None:
                    remaining = deadline - _perf()
                    if remaining <= 0:
                        raise TimeoutError(f"No item arrived within {timeout} seconds.")
                self._consumer_waiting = True
                t0 = _perf()
                try:
                    notified = self._cond.wait(
                        _RESCUE_AFTER if remaining is None else min(remaining, _RESCUE_AFTER)
                    )
                finally:
                    self._consumer_waiting = False
                    last.get_wait += _perf() - t0
                if not notified and not last.out:
                    self._rescue(starts)
                    if starts:  # started outside the lock, as everywhere
                        self._lock.release()
                        try:
                            self._launch(starts)
                        finally:
                            self._lock.acquire()
                        starts = []
        if self._failure is not None:
            self.stop()
            tally = self._tally
            raise PipelineFailure(
                self._failure,
                list(self._causes),
                self._num_failures if tally is None else tally[2],
                num_discarded=0 if tally is None else tally[3],
            )
        if starts:
            self._launch(starts)
        return value

    def _task_failed(self, st: Stage, exc: BaseException) -> None:
        """Count a failure of ``st`` (already logged); fail the pipeline past the budgets."""
        if self._tally is not None:
            # A task abandoned by stop() ended after the items were counted: its item is
            # already among the discarded ones.
            return
        st.failures += 1
        self._num_failures += 1
        self._causes.append((st.name, exc))
        if st.max_failures is not None and 0 <= st.max_failures < st.failures:
            self._fail(
                f"Stage {st.name!r} failed {st.failures} times, more than its "
                f"max_failures={st.max_failures}."
            )
        elif 0 <= self._max_failures < self._num_failures:
            self._fail(
                f"{self._num_failures} tasks failed, more than the pipeline's "
                f"max_failures={self._max_failures}."
            )

    def _fail(self, message: str) -> None:
        if self._failure is None:
            self._failure = message
            _LG.error("Pipeline failed: %s", message)
        self._stopping = True
        self._cond.notify_all()

    def stats(self) -> PipelineStats:
        """A consistent snapshot of every stage's and queue's statistics."""
        with self._lock:
            if self._state == _NEW:
                now = start = 0.0
            else:
                now = self._t_stop if self._t_stop is not None else _perf()
                start = self._t_start
            elapsed = now - start
            tasks = []
            queues = []
            for st in self._stages:
                hist = st.hist
                count = hist.count
                tasks.append(
                    TaskPerfStats(
                        name=st.name,
                        concurrency=st.concurrency,
                        num_tasks=count,
                        num_failures=st.failures,
                        mean_time=hist.total / count if count else 0.0,
                        p90_time=hist.percentile(0.9),
                        p99_time=hist.percentile(0.99),
                        busy=min(1.0, st.busy / (elapsed * st.concurrency)) if elapsed else 0.0,
                    )
                )
                ready = st.ready_total + (now - st.ready_since if st.out else 0.0)
                put_wait = st.put_wait
                if st.blocked_since is not None and self._t_stop is None:
                    put_wait += now - st.blocked_since
                get_wait = st.get_wait
                if st.starved_since is not None and self._t_stop is None:
                    get_wait += now - st.starved_since
                num_put = st.num_got + len(st.out)
                queues.append(
                    QueuePerfStats(
                        name=f"{st.name}->",
                        num_items=st.num_got,
                        qps=st.num_got / elapsed if elapsed else 0.0,
                        mean_put_wait=put_wait / num_put if num_put else 0.0,
                        mean_get_wait=get_wait / st.num_got if st.num_got else 0.0,
                        occupancy=min(1.0, ready / elapsed) if elapsed else 0.0,
                        capacity=st.slots,
                    )
                )
            if self._tally is not None:
                produced, delivered, failed, discarded = self._tally
            else:
                produced, delivered, failed, _ = self._count_items()
                discarded = 0
        return PipelineStats(
            elapsed=elapsed,
            tasks=tasks,
            queues=queues,
            num_produced=produced,
            num_delivered=delivered,
            num_failures=failed,
            num_discarded=discarded,
        )

    def _call_hook(self, *, final: bool) -> None:
        try:
            self._hook.report(self.stats(), final=final)
        except Exception:
            _LG.exception("The stats hook raised")

    def _report_main(self) -> None:
        _tls.engine = self
        while not self._stop_event.wait(self._interval):
            self._call_hook(final=False)
