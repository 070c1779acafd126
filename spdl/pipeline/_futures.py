"""Stages on another executor (a ``ProcessPoolExecutor``): one future per item.

The future's done callback does the bookkeeping. A broken executor (a worker process died) can
run no other task: the stage's items in flight count as failed and the pipeline fails at once.
"""

from __future__ import annotations

import signal
from concurrent.futures import BrokenExecutor

from ._common import _LG, _perf
from ._failure import short_repr
from ._stage import SYNC_GEN, Stage


class FutureTasks:
    """Submitting items to a stage's own executor and taking their results (a mixin)."""

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
                st.hist.add(now - t0)
                st.busy += now - t0
            st.executing -= 1
            self._finish_task(st, seq, True, [])
            self._exit_runner(st, [])
        if frozen:  # the pipeline was stopped before the pool broke: not a failure of the run
            return
        # Imported here: only a process pool's failure gets here, so the module is loaded.
        from concurrent.futures.process import BrokenProcessPool

        what = _dead_worker(st.executor) if isinstance(exc, BrokenProcessPool) else None
        self._fail(
            f"Stage {st.name!r}: {what or 'its executor broke'} ({type(exc).__name__}: {exc}); "
            f"it can run no more tasks, so the pipeline stops. The {len(mine)} item(s) in flight "
            "in the stage are counted as failed."
        )


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
