"""Sync runners on a thread pool: function ops, generator ops and the sync source."""

from __future__ import annotations

from ._common import _LG, _perf, _tls
from ._failure import short_repr
from ._stage import ASYNC_SOURCE, SOURCE, SYNC_FN, Stage


class SyncRunners:
    """The loop a runner thread goes through, and how generators are driven (a mixin)."""

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
