"""The pipeline's own thread pool: a ``concurrent.futures.Executor`` on daemon threads.

``ThreadPoolExecutor`` workers are non-daemon threads that the interpreter joins at exit, so one
op that never returns (a dead network mount, a stuck driver call) keeps the process from ever
exiting. A Python thread cannot be killed; what we can do is not wait for it. The workers here
are daemon threads: the pipeline waits a bounded time for them at ``stop()``, and a stuck one is
left behind, blocked in its op, while the interpreter exits.

It is also cheaper per task than ``ThreadPoolExecutor``: the engine starts its runners with
:meth:`DaemonThreadPoolExecutor.run_soon`, which makes no ``Future`` (a ``Future`` builds a
``Condition``, the costliest part of a ``submit``), and the bookkeeping is one C lock.
"""

from __future__ import annotations

import logging
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Executor, Future

__all__ = ["DaemonThreadPoolExecutor"]

_LG = logging.getLogger("spdl.pipeline")


class _Shared:
    """What the workers share with the executor. Workers hold this, never the executor, so an
    executor dropped without ``shutdown`` is collected and its finalizer releases them."""

    __slots__ = ("idle", "lock", "queue", "shutdown", "threads")

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.idle = 0  # workers that announced they wait for work and were not claimed yet
        self.shutdown = False
        self.threads: list[threading.Thread] = []


def _worker(shared: _Shared) -> None:
    get = shared.queue.get
    get_nowait = shared.queue.get_nowait
    lock = shared.lock
    while True:
        try:
            work = get_nowait()
        except queue.Empty:
            with lock:
                shared.idle += 1
            work = get()
        if work is None:  # shutdown: one sentinel per worker
            return
        future, fn, args, kwargs = work
        del work
        if future is None:
            # run_soon: the caller keeps no handle, so an exception has nowhere to go but the
            # log (the engine's runners record their own errors before they re-raise).
            try:
                fn(*args)
            except BaseException:
                _LG.debug("A task of the pipeline's thread pool raised", exc_info=True)
        elif future.set_running_or_notify_cancel():
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:
                future.set_exception(e)
                del e
            else:
                future.set_result(result)
                del result
        del future, fn, args, kwargs


def _release(shared: _Shared) -> None:
    """Stop the workers once the queue is drained (the executor's finalizer, and shutdown)."""
    with shared.lock:
        shared.shutdown = True
        threads = list(shared.threads)
    for _ in threads:
        shared.queue.put(None)


class DaemonThreadPoolExecutor(Executor):
    """A thread pool whose workers are daemon threads, so that they never block interpreter exit.

    Workers are started on demand, up to ``max_workers``, when work is submitted and no worker
    is idle; they live until :meth:`shutdown`.

    Args:
        max_workers: Most threads at once (>= 1).
        thread_name_prefix: Worker threads are named ``{prefix}_{n}``.
    """

    def __init__(self, max_workers: int, thread_name_prefix: str = "spdl-pipeline") -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be positive, got {max_workers!r}.")
        self._max_workers = max_workers
        self._prefix = thread_name_prefix
        self._shared = _Shared()
        self._finalizer = weakref.finalize(self, _release, self._shared)

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        """Schedule ``fn(*args, **kwargs)``; returns its ``Future``.

        Raises:
            RuntimeError: The executor was shut down.
        """
        future: Future = Future()
        self._put((future, fn, args, kwargs))
        return future

    def run_soon(self, fn: Callable, /, *args) -> None:
        """Schedule ``fn(*args)`` without a ``Future``: its result is dropped and an exception
        it raises is only logged (DEBUG). The engine's fast path for starting runners.

        Raises:
            RuntimeError: The executor was shut down.
        """
        self._put((None, fn, args, None))

    def _put(self, work: tuple) -> None:
        shared = self._shared
        with shared.lock:
            if shared.shutdown:
                raise RuntimeError("cannot schedule new tasks after shutdown")
            shared.queue.put(work)
            if shared.idle:
                shared.idle -= 1  # that worker will take it
                return
            threads = shared.threads
            if len(threads) >= self._max_workers:
                return
            thread = threading.Thread(
                target=_worker,
                args=(shared,),
                name=f"{self._prefix}_{len(threads)}",
                daemon=True,
            )
            threads.append(thread)
        thread.start()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more work and let the workers end once the queue is done.

        Args:
            wait: Join the workers (each after its current task and, unless ``cancel_futures``,
                the queued ones). A worker stuck in a task that never returns then blocks this
                call: pass ``False`` when that may be the case.
            cancel_futures: Cancel the queued tasks that have not started (a ``run_soon`` task
                is dropped).
        """
        shared = self._shared
        with shared.lock:
            shared.shutdown = True
        if cancel_futures:
            while True:
                try:
                    work = shared.queue.get_nowait()
                except queue.Empty:
                    break
                if work is not None and work[0] is not None:
                    work[0].cancel()
        self._finalizer()  # _release, once
        if wait:
            me = threading.current_thread()
            with shared.lock:
                threads = list(shared.threads)
            for thread in threads:
                if thread is not me:
                    thread.join()

    def alive_threads(self) -> list[threading.Thread]:
        """The worker threads that have not ended (for diagnostics and tests)."""
        with self._shared.lock:
            return [t for t in self._shared.threads if t.is_alive()]
