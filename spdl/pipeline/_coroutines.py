"""Coroutine ops and async sources, on the pipeline's one event-loop thread."""

from __future__ import annotations

import asyncio
import threading

from ._common import _perf, _tls
from ._stage import ASYNC_FN, ASYNC_SOURCE, Stage


class Coroutines:
    """Runner coroutines: the async twins of the sync runners (a mixin of ``Engine``)."""

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
