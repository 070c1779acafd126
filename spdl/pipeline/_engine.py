"""The scheduler: moves items from stage to stage on ``concurrent.futures`` executors.

There is no scheduler thread. A stage runs as *runners*: a runner is a function submitted to the
stage's thread pool (or a coroutine on the pipeline's event loop) that takes an item
from the upstream queue, runs the op, puts the result in the stage's output queue, and goes on
with the next item until there is no input or no room for output; then it returns its thread to
the pool. A stage has at most ``concurrency`` runners, so at most that many ops in flight.
Putting an item starts a runner of the next stage when none of its runners is between tasks
(they would take the item themselves) and it has concurrency to spare; taking an item restarts
the previous stage when it had stopped for lack of room, once half its room is free. Runners
are started outside the lock; all bookkeeping happens under one engine lock, held only for a few
dictionary and deque operations at a time.

A stage on another kind of executor (a ``ProcessPoolExecutor``) gets one future per item
instead, and its completion callback does the bookkeeping.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import threading
import time
import weakref
from collections import deque
from concurrent.futures import BrokenExecutor

from ._executor import DaemonThreadPoolExecutor
from ._failure import PipelineFailure, short_repr
from ._stage import ASYNC_FN, ASYNC_SOURCE, LOOP, RUNNER, SOURCE, SYNC_FN, SYNC_GEN, Stage
from ._stats import LoggingStatsHook, PipelineStats, QueuePerfStats, StatsHook, TaskPerfStats

__all__ = ["Engine"]

_LG = logging.getLogger("spdl.pipeline")

_NEW, _RUNNING, _STOPPING, _STOPPED = range(4)
_MAX_CAUSES = 100
_perf = time.perf_counter
# Rough cost of starting a runner (submit, thread wake-up, GIL hand-over), in seconds: a stage
# with work waiting starts another runner only when that work takes longer than this.
_SPAWN_COST = 50e-6
# Seconds a waiting consumer sleeps before it looks for a stage held up by a long task.
_RESCUE_AFTER = 0.02

# Marks the threads that run our code, so that stop() called from one of them does not wait for
# itself.
_tls = threading.local()


class Engine:
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

    # ----------------------------------------------------------------------------------------
    # Life cycle

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

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every stage and release every thread. Idempotent; safe from any thread.

        In-flight sync ops cannot be interrupted: this waits up to ``timeout`` seconds for them
        to return (coroutines are cancelled), then shuts the threads down. An op still running
        then is abandoned with a warning naming its stage: its thread is a daemon thread, left
        behind until the op returns, and does not keep the interpreter from exiting.
        """
        with self._lock:
            if self._state == _NEW:
                self._state = _STOPPED
                self._stopped.set()
                return
            if self._state != _RUNNING:
                first = False
            else:
                first = True
                self._state = _STOPPING
                self._stopping = True
                self._cond.notify_all()
        inside = getattr(_tls, "engine", None) is self
        if not first:
            if not inside:
                self._stopped.wait(timeout)
            return
        try:
            self._teardown(timeout, inside)
        finally:
            self._stopped.set()

    def _teardown(self, timeout: float, inside: bool) -> None:
        # One deadline for every wait below, so that stop() returns within about `timeout`.
        deadline = _perf() + timeout
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._cancel_tasks)
            except RuntimeError:  # the loop already closed
                pass
        with self._lock:
            futures = list(self._futures)
        for fut in futures:
            fut.cancel()
        with self._lock:
            if not inside and not self._cond.wait_for(lambda: self._active <= 0, timeout):
                self._warn_abandoned(timeout)
            idle = self._active <= 0
            self._tally = self._count_items()
            parked = [entry[1] for st in self._stages for entry in st.parked.values()]
            for st in self._stages:
                st.parked.clear()
        for gen in parked:
            close = getattr(gen, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    _LG.debug("Closing a generator at stop raised", exc_info=True)
        assert self._pool is not None
        self._pool.shutdown(wait=idle and not inside, cancel_futures=True)
        if loop is not None:
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:
                pass
            if not inside and self._loop_thread is not None:
                self._loop_thread.join(max(0.0, deadline - _perf()))
        self._stop_event.set()
        if self._reporter is not None and self._reporter is not threading.current_thread():
            self._reporter.join(max(0.0, deadline - _perf()))
        with self._lock:
            self._t_stop = _perf()
            self._state = _STOPPED
            self._cond.notify_all()
        _LIVE.discard(self)
        self._call_hook(final=True)

    def _count_items(self) -> tuple[int, int, int, int]:
        """``(produced, delivered, failed, discarded)`` items, now (under the lock).

        Every item the source produced is in exactly one place: delivered to the consumer,
        failed (its task raised), or still in the pipeline: in a queue, in a task (running,
        parked, or abandoned by stop), or a finished result waiting for its turn
        (``output_order="input"``). At stop, those are the discarded ones. With stages that map
        one item to one output, ``produced == delivered + failed + discarded``.
        """
        stages = self._stages
        src = self._source
        produced = src.num_got + len(src.out)
        held = sum(len(st.out) for st in stages)
        for st in stages[1:]:
            held += st.inflight
            for values, done in st.pending.values():
                if done:  # a running generator's outputs: its item is counted in inflight
                    held += len(values)
        return produced, self._last.num_got, self._num_failures, held

    def _warn_abandoned(self, timeout: float) -> None:
        """Log which stages still have tasks running after stop's wait (under the lock)."""
        stuck = [(st.name, st.executing) for st in self._stages if st.executing > 0]
        total = sum(n for _, n in stuck)
        names = ", ".join(f"{name!r} ({n})" for name, n in stuck) or "none inside an op"
        _LG.warning(
            "Pipeline stop: %d task(s) still running after %.1f s, abandoned: stage %s. A "
            "Python thread cannot be interrupted; the stuck thread is a daemon thread, left "
            "behind, and will not keep the interpreter from exiting.",
            total,
            timeout,
            names,
        )

    @property
    def started(self) -> bool:
        """Whether ``start`` (or ``stop``) was called."""
        return self._state != _NEW

    # ----------------------------------------------------------------------------------------
    # The consumer side

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

    # ----------------------------------------------------------------------------------------
    # Bookkeeping, all under self._lock. `starts` collects runners to start once it is released.

    def _kick(self, st: Stage, starts: list) -> None:
        """Start one more runner of ``st`` if it has work, room and concurrency for it.

        One at a time: a runner that finds more work waiting when it takes an item starts the
        next one (see ``_pick``), so a fast op is served by one runner going through a batch,
        and a slow op gets up to ``concurrency`` runners, one wake-up after another.
        """
        if self._stopping or st.finished or st.running >= st.concurrency:
            return
        starting = st.starting
        up = st.up
        work = len(st.parked)
        if up is not None and up.out:
            work += min(len(up.out), st.concurrency - st.inflight)
        if work <= starting:
            return
        room = st.slots - st.reserved - len(st.out)
        # No room: only the head of an ordered stage, parked, may go on (into an empty queue).
        if room <= starting and (
            starting or st.out or not st.ordered or st.next_emit not in st.parked
        ):
            return
        if st.blocked_since is not None:
            st.put_wait += _perf() - st.blocked_since
            st.blocked_since = None
        st.running += 1
        st.starting += 1
        self._active += 1
        starts.append((st, 1))

    def _rescue(self, starts: list) -> None:
        """The consumer has been starved for a while: give a runner to every stage whose runners
        are all inside a task while input waits and concurrency is left.

        A stage of fast ops runs on one runner (see ``_kick``); when that runner meets a
        straggler (or an op that never returns), nothing else would start a second one: no new
        item arrives upstream (its queue is full) and none is taken downstream.
        """
        for st in self._stages[1:]:
            if st.running < st.concurrency and not st.starting and _all_busy(st):
                self._kick(st, starts)

    def _pick(self, st: Stage, starts: list, first: bool = False) -> list | None:
        """The next work for a runner of ``st`` with one slot reserved for it, or None.

        ``first`` is true for a runner's first call. Returns ``[seq, item, generator, seconds
        so far]``; ``generator`` is None for a new item.
        """
        if first:
            st.starting -= 1
        if self._stopping:
            return None
        held = st.reserved + len(st.out)
        parked = st.parked
        if parked:
            if st.ordered and st.next_emit in parked and (held < st.slots or not st.out):
                st.reserved += 1
                st.executing += 1
                entry = parked.pop(st.next_emit)
                return [st.next_emit, *entry]
            if held < st.slots:
                seq = next(iter(parked))
                st.reserved += 1
                st.executing += 1
                return [seq, *parked.pop(seq)]
        up = st.up
        if up is not None and up.out and held < st.slots and st.inflight < st.concurrency:
            item = up.out.popleft()
            self._taken(up, starts)
            st.reserved += 1
            st.inflight += 1
            st.executing += 1
            seq = st.next_seq
            st.next_seq = seq + 1
            if (
                up.out
                and not st.starting
                and st.running < st.concurrency
                and st.executing >= st.running
                and _slow(st)
            ):
                # Every runner, this one included, is busy with a task, and the work waiting
                # takes longer than starting a runner: start the next one.
                self._kick(st, starts)
            return [seq, item, None, 0.0]
        return None

    def _exit_runner(self, st: Stage, starts: list) -> None:
        """A runner of ``st`` found nothing to do (or was cancelled) and leaves."""
        st.running -= 1
        self._active -= 1
        if st.running == 0 and not self._stopping:
            up = st.up
            if st.parked or (up is not None and up.out):
                if st.blocked_since is None:
                    st.blocked_since = _perf()
            elif up is not None and not up.finished and up.starved_since is None:
                up.starved_since = _perf()
            self._maybe_finish(st, starts)
        if self._stopping and self._active <= 0:
            self._cond.notify_all()

    def _taken(self, st: Stage, starts: list) -> None:
        """An item was taken from ``st.out``: statistics, and restart ``st`` if it waits for room."""
        st.num_got += 1
        if not st.out:
            st.ready_total += _perf() - st.ready_since
        if st.finished:
            return
        if st.running == 0:
            if st.slots - st.reserved - len(st.out) >= st.resume_at or not st.out:
                self._kick(st, starts)
        elif st.running < st.concurrency and not st.starting and _all_busy(st):
            # Runners between tasks take the freed slot themselves; add one only if every
            # runner is inside a (maybe long) task.
            self._kick(st, starts)

    def _put(self, st: Stage, value: object, starts: list) -> None:
        """Append ``value`` to ``st``'s output queue and wake whoever takes from it."""
        out = st.out
        if not out:
            st.ready_since = now = _perf()
            if st.starved_since is not None:
                st.get_wait += now - st.starved_since
                st.starved_since = None
        out.append(value)
        down = st.down
        if down is None:
            if self._consumer_waiting:
                self._cond.notify()
        elif down.running < down.concurrency and not down.starting and _all_busy(down):
            self._kick(down, starts)

    def _emit(self, st: Stage, seq: int, value: object, starts: list) -> None:
        """A task of ``st`` produced ``value``; it uses the slot the task holds."""
        if st.ordered and seq != st.next_emit:
            entry = st.pending.get(seq)
            if entry is None:
                st.pending[seq] = [[value], False]
            else:
                entry[0].append(value)
            return
        st.reserved -= 1
        self._put(st, value, starts)

    def _reserve(self, st: Stage, seq: int) -> bool:
        """A generator of ``st`` that just yielded wants a slot to go on; False: park it."""
        if self._stopping:
            return False
        if st.reserved + len(st.out) < st.slots or (
            st.ordered and seq == st.next_emit and not st.out
        ):
            st.reserved += 1
            return True
        return False

    def _finish_task(self, st: Stage, seq: int, holds_slot: bool, starts: list) -> None:
        """A task of ``st`` is over (done, dropped or failed)."""
        st.inflight -= 1
        if holds_slot:
            st.reserved -= 1
        if not st.ordered:
            return
        if seq != st.next_emit:
            entry = st.pending.get(seq)
            if entry is None:
                st.pending[seq] = [[], True]
            else:
                entry[1] = True
            return
        # The head is done: release the results that waited for it, in order.
        pending = st.pending
        nxt = seq + 1
        while True:
            entry = pending.get(nxt)
            if entry is None:
                break
            values, done = entry
            for value in values:
                st.reserved -= 1
                self._put(st, value, starts)
            values.clear()
            if not done:
                break
            del pending[nxt]
            nxt += 1
        st.next_emit = nxt
        if nxt in pending:  # a generator still running became the head: it streams directly now
            del pending[nxt]
            if nxt in st.parked and not st.out and st.running < st.concurrency:
                self._kick(st, starts)

    def _maybe_finish(self, st: Stage, starts: list) -> None:
        """Mark ``st`` finished once its upstream is finished and drained and it is idle."""
        while st is not None and not st.finished:
            up = st.up
            if up is not None and (not up.finished or up.out):
                return
            if st.running or st.inflight or st.parked:
                return
            if st.flush is not None:
                value = st.flush()
                if value is not None:
                    self._put(st, value, starts)
            st.finished = True
            if st.down is None:
                self._cond.notify_all()
            st = st.down

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

    # ----------------------------------------------------------------------------------------
    # Starting runners (outside the lock)

    def _launch(self, starts: list) -> None:
        for i, (st, _) in enumerate(starts):
            try:
                if st.mode == RUNNER:
                    st.launch(self._run_sync, st)
                elif st.mode == LOOP:
                    self._loop.call_soon_threadsafe(self._spawn_async, st)
                else:
                    self._submit_future(st)
            except RuntimeError as e:  # the executor or the loop is shut down
                with self._lock:
                    if not self._stopping:
                        self._causes.append((st.name, e))
                        self._fail(f"Could not start a task of stage {st.name!r}: {e}")
                    st.starting -= 1
                    self._exit_runner(st, [])
            except BaseException:
                # KeyboardInterrupt in the consumer: the runners not started must not be
                # waited for by stop().
                with self._lock:
                    for st_, _ in starts[i:]:
                        st_.starting -= 1
                        self._exit_runner(st_, [])
                raise

    # ----------------------------------------------------------------------------------------
    # Sync runners

    def _run_sync(self, st: Stage) -> None:
        _tls.engine = self
        lock = self._lock
        starts: list = []
        op = st.op
        kind = st.kind
        exited = False
        try:
            with lock:
                work = self._pick(st, starts, first=True)
                if work is None:
                    exited = True
                    self._exit_runner(st, starts)
            while work is not None:
                if starts:
                    self._launch(starts)
                    starts = []
                seq, item, gen, spent = work
                if gen is None and kind == SYNC_FN:
                    # The common path: one call, one result.
                    t0 = _perf()
                    try:
                        result = op(item)
                        failed = None
                    except Exception as e:
                        failed = e
                    dt = _perf() - t0
                    if failed is not None:
                        self._log_failure(st, item, failed)
                    with lock:
                        st.executing -= 1
                        st.hist.add(dt)
                        st.busy += dt
                        if failed is not None:
                            self._task_failed(st, failed)
                            self._finish_task(st, seq, True, starts)
                        elif result is None:
                            self._finish_task(st, seq, True, starts)
                        else:
                            self._emit(st, seq, result, starts)
                            self._finish_task(st, seq, False, starts)
                        work = self._pick(st, starts)
                        if work is None:
                            exited = True
                            self._exit_runner(st, starts)
                    continue
                work = self._drive_gen(st, seq, item, gen, spent, starts)
                if work is None:
                    exited = True
            if starts:
                self._launch(starts)
        except BaseException as e:
            with lock:
                self._causes.append((st.name, e))
                self._fail(f"Internal error in stage {st.name!r}: {e!r}")
                if not exited:
                    self._exit_runner(st, starts)
            raise
        finally:
            _tls.engine = None

    def _drive_gen(self, st, seq, item, gen, spent, starts):
        """Run a generator task (or the source) holding one slot until it ends or parks.

        Returns the runner's next work (the lock is released), or None after the runner exited.
        """
        source = st.kind == SOURCE
        if gen is None:
            t0 = _perf()
            try:
                gen = st.op(item)
            except Exception as e:
                return self._gen_ended(st, seq, item, spent + _perf() - t0, e, starts)
            spent += _perf() - t0
        lock = self._lock
        while True:
            t0 = _perf()
            try:
                value = next(gen)
            except StopIteration:
                return self._gen_ended(st, seq, item, spent + _perf() - t0, None, starts)
            except Exception as e:
                return self._gen_ended(st, seq, item, spent + _perf() - t0, e, starts)
            dt = _perf() - t0
            spent += dt
            if value is None:
                continue
            with lock:
                if source:
                    st.hist.add(dt)
                    st.busy += dt
                self._emit(st, seq, value, starts)
                if self._reserve(st, seq):
                    continue
                st.executing -= 1
                st.parked[seq] = [item, gen, spent]
                work = self._pick(st, starts)
                if work is None:
                    self._exit_runner(st, starts)
                return work

    def _gen_ended(self, st, seq, item, spent, exc, starts):
        """A generator or async generator (a source, or a stage's op) is done: exhausted or raised."""
        is_source = st.kind == SOURCE or st.kind == ASYNC_SOURCE
        if exc is not None and not is_source:
            self._log_failure(st, item, exc)
        with self._lock:
            st.executing -= 1
            if is_source:
                if exc is not None:
                    self._causes.append((st.name, exc))
                    self._fail(f"The source raised {type(exc).__name__}: {exc}")
            else:
                st.hist.add(spent)
                st.busy += spent
                if exc is not None:
                    self._task_failed(st, exc)
            self._finish_task(st, seq, True, starts)
            work = self._pick(st, starts)
            if work is None:
                self._exit_runner(st, starts)
            return work

    def _log_failure(self, st: Stage, item: object, exc: BaseException) -> None:
        _LG.warning(
            "Stage %r failed on item %s: %s: %s", st.name, short_repr(item), type(exc).__name__, exc
        )

    # ----------------------------------------------------------------------------------------
    # Futures on other executors (process pools)

    def _submit_future(self, st: Stage) -> None:
        starts: list = []
        with self._lock:
            work = self._pick(st, starts, first=True)
            if work is None:
                self._exit_runner(st, starts)
        if work is not None:
            seq, item, _, _ = work
            t0 = _perf()
            try:
                fut = st.executor.submit(st.remote_op, item)
            except Exception as e:
                with self._lock:
                    if isinstance(e, BrokenExecutor):
                        # Broken by an earlier task: this item fails with the ones in flight.
                        self._futures[object()] = (st, seq, item, t0)
                        self._executor_broken(st, e)
                    else:
                        st.executing -= 1
                        self._causes.append((st.name, e))
                        self._fail(f"Could not submit a task of stage {st.name!r}: {e!r}")
                        self._exit_runner(st, starts)
            else:
                with self._lock:
                    self._futures[fut] = (st, seq, item, t0)
                # Runs at once if the future is already done.
                fut.add_done_callback(self._future_done)
        if starts:
            self._launch(starts)

    def _future_done(self, fut) -> None:
        starts: list = []
        with self._lock:
            record = self._futures.pop(fut, None)
            if record is None:  # already counted, as one of a broken pool's tasks
                return
            st, seq, item, t0 = record
            if fut.cancelled():
                st.executing -= 1
                self._exit_runner(st, starts)
                return
        exc = fut.exception()
        if isinstance(exc, BrokenExecutor):
            with self._lock:
                self._futures[fut] = record
                self._executor_broken(st, exc)
            return
        dt = _perf() - t0
        if exc is not None:
            self._log_failure(st, item, exc)
        with self._lock:
            st.executing -= 1
            st.hist.add(dt)
            st.busy += dt
            holds = True
            if exc is not None:
                self._task_failed(st, exc)
            else:
                result = fut.result()
                values = result if st.kind == SYNC_GEN else [result]
                for value in values:
                    if value is None:
                        continue
                    if not holds:  # outputs past the first arrive together: take their slots
                        st.reserved += 1
                    self._emit(st, seq, value, starts)
                    holds = False
            self._finish_task(st, seq, holds, starts)
            self._exit_runner(st, starts)
            self._kick(st, starts)
        if starts:
            self._launch(starts)

    def _executor_broken(self, st: Stage, exc: BaseException) -> None:
        """The executor of ``st`` can run no more tasks (a process-pool worker died): count
        every item in flight in the stage as failed and fail the pipeline at once, whatever
        ``max_failures`` says. Under the lock.
        """
        mine = [f for f, record in self._futures.items() if record[0] is st]
        now = _perf()
        frozen = self._tally is not None  # stop() already counted these items as discarded
        for f in mine:
            _, seq, item, t0 = self._futures.pop(f)
            if not frozen:
                _LG.warning(
                    "Stage %r failed on item %s: its worker process pool broke",
                    st.name,
                    short_repr(item),
                )
                st.failures += 1
                self._num_failures += 1
                self._causes.append((st.name, exc))
            st.executing -= 1
            st.hist.add(now - t0)
            st.busy += now - t0
            self._finish_task(st, seq, True, [])
            self._exit_runner(st, [])
        # Imported here: only a process pool's failure gets here, so the module is loaded.
        from concurrent.futures.process import BrokenProcessPool

        what = _dead_worker(st.executor) if isinstance(exc, BrokenProcessPool) else None
        self._fail(
            f"Stage {st.name!r}: {what or 'its executor broke'} ({type(exc).__name__}: {exc}); "
            f"it can run no more tasks, so the pipeline stops. The {len(mine)} item(s) in flight "
            "in the stage are counted as failed."
        )

    # ----------------------------------------------------------------------------------------
    # Coroutines on the event-loop thread

    def _loop_main(self, ready: threading.Event) -> None:
        _tls.engine = self
        loop = self._loop
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            try:
                self._cancel_tasks()
                if self._tasks:
                    loop.run_until_complete(asyncio.gather(*self._tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _spawn_async(self, st: Stage) -> None:
        if self._stopping:
            with self._lock:
                st.starting -= 1
                self._exit_runner(st, [])
            return
        flags = [False, False]  # [looked for work, exited]
        task = self._loop.create_task(self._run_async(st, flags))
        self._tasks.add(task)
        task.add_done_callback(lambda task: self._async_done(st, flags, task))

    def _async_done(self, st: Stage, flags: list, task: asyncio.Task) -> None:
        # A task cancelled before its first step never runs its body: account for it here.
        self._tasks.discard(task)
        looked, exited = flags
        if not exited:
            with self._lock:
                if not looked:
                    st.starting -= 1
                self._exit_runner(st, [])

    async def _run_async(self, st: Stage, flags: list) -> None:
        lock = self._lock
        starts: list = []
        try:
            with lock:
                work = self._pick(st, starts, first=True)
                flags[0] = True
                if work is None:
                    flags[1] = True
                    self._exit_runner(st, starts)
            while work is not None:
                if starts:
                    self._launch(starts)
                    starts = []
                seq, item, gen, spent = work
                if gen is None and st.kind == ASYNC_FN:
                    t0 = _perf()
                    try:
                        result = await st.op(item)
                        failed = None
                    except Exception as e:
                        failed = e
                    dt = _perf() - t0
                    if failed is not None:
                        self._log_failure(st, item, failed)
                    with lock:
                        st.executing -= 1
                        st.hist.add(dt)
                        st.busy += dt
                        if failed is not None:
                            self._task_failed(st, failed)
                            self._finish_task(st, seq, True, starts)
                        elif result is None:
                            self._finish_task(st, seq, True, starts)
                        else:
                            self._emit(st, seq, result, starts)
                            self._finish_task(st, seq, False, starts)
                        work = self._pick(st, starts)
                        if work is None:
                            flags[1] = True
                            self._exit_runner(st, starts)
                    continue
                work = await self._drive_agen(st, seq, item, gen, spent, starts)
                if work is None:
                    flags[1] = True
            if starts:
                self._launch(starts)
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            with lock:
                self._causes.append((st.name, e))
                self._fail(f"Internal error in stage {st.name!r}: {e!r}")
            raise

    async def _drive_agen(self, st, seq, item, agen, spent, starts):
        """The async twin of ``_drive_gen``."""
        source = st.kind == ASYNC_SOURCE
        if agen is None:
            try:
                agen = st.op(item)
            except Exception as e:
                return self._gen_ended(st, seq, item, spent, e, starts)
        lock = self._lock
        while True:
            t0 = _perf()
            try:
                value = await agen.__anext__()
            except StopAsyncIteration:
                return self._gen_ended(st, seq, item, spent + _perf() - t0, None, starts)
            except Exception as e:
                return self._gen_ended(st, seq, item, spent + _perf() - t0, e, starts)
            dt = _perf() - t0
            spent += dt
            if value is None:
                continue
            with lock:
                if source:
                    st.hist.add(dt)
                    st.busy += dt
                self._emit(st, seq, value, starts)
                if self._reserve(st, seq):
                    continue
                st.executing -= 1
                st.parked[seq] = [item, agen, spent]
                work = self._pick(st, starts)
                if work is None:
                    self._exit_runner(st, starts)
                return work

    # ----------------------------------------------------------------------------------------
    # Statistics

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


def _dead_worker(executor: object) -> str | None:
    """Which worker of a broken ``ProcessPoolExecutor`` died, and how, if it can be told.

    Called from the pool's done callbacks, which run before the pool terminates its surviving
    workers, so the dead one is the one with an exit code. ``_processes`` is private to
    ``ProcessPoolExecutor`` (CPython 3.8 to 3.14): without it, the message just says a worker died.
    """
    try:
        processes = list(getattr(executor, "_processes", None).values())
    except Exception:
        return "a worker process died"
    from multiprocessing.connection import wait

    try:
        # A worker's sentinel is ready as soon as it dies, a moment before it can be reaped.
        ended = set(wait([proc.sentinel for proc in processes], timeout=0))
    except Exception:
        ended = set()
    dead = []
    for proc in processes:
        try:
            if proc.sentinel in ended:
                proc.join(1.0)
            code = proc.exitcode
        except Exception:
            continue
        if code is None:
            continue
        if code < 0:
            try:
                how = f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        dead.append(f"{proc.pid} ({how})")
    if not dead:
        return "a worker process died"
    return f"a worker process died: pid {', '.join(dead)}"


def _all_busy(st: Stage) -> bool:
    """Whether every runner of ``st`` is inside a task (so none will take new work soon).

    A runner between tasks will take the next waiting item itself; starting another one for it
    would cost a thread wake-up for nothing. A runner inside a task may stay there for long.
    """
    return st.executing >= st.running


def _slow(st: Stage) -> bool:
    """Whether the items waiting at the input of ``st`` take longer than starting a runner.

    Judged from the stage's mean task time; until a few tasks were timed, assume they do.
    """
    hist = st.hist
    count = hist.count
    return count < 4 or hist.total * len(st.up.out) > _SPAWN_COST * count


# Engines that are running, stopped at interpreter exit. The wait for running ops is short there:
# an op still running after it is abandoned (its thread is a daemon) so that the process exits.
_EXIT_TIMEOUT = 2.0
_LIVE: weakref.WeakSet[Engine] = weakref.WeakSet()


def _stop_all_at_exit() -> None:
    for engine in list(_LIVE):
        engine.stop(timeout=_EXIT_TIMEOUT)


# threading's exit hooks run before it joins non-daemon threads (a stage's own
# ThreadPoolExecutor's workers) and before concurrent.futures' own hooks, registered earlier.
try:
    threading._register_atexit(_stop_all_at_exit)  # type: ignore[attr-defined]
except (AttributeError, RuntimeError):  # not in this Python, or already shutting down
    import atexit

    atexit.register(_stop_all_at_exit)
