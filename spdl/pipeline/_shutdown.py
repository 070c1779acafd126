"""Stopping: bounded waits, abandoned tasks, the final count of items, and interpreter exit."""

from __future__ import annotations

import threading
import weakref

from ._common import _LG, _NEW, _RUNNING, _STOPPED, _STOPPING, _perf, _tls


class Shutdown:
    """``stop()`` and what it leaves behind (a mixin of ``Engine``)."""

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


# Engines that are running, stopped at interpreter exit. The wait for running ops is short there:
# an op still running after it is abandoned (its thread is a daemon) so that the process exits.
_EXIT_TIMEOUT = 2.0
_LIVE: weakref.WeakSet = weakref.WeakSet()


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
