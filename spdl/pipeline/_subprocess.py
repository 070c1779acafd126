"""Running an iterable (or a whole pipeline) in a child process and streaming its items back.

The child is started on the first iteration and serves every later one: each ``iter()`` sends it
an "iterate" command, it calls ``fn()`` and puts every item on a bounded queue, then an end
marker. Leaving a loop early sends "abort": the child stops at the next item and the parent
drains what was in flight up to the end marker, so the next iteration starts clean. Closing
(explicitly, on garbage collection, or at interpreter exit) asks the child to leave, then joins
it, then terminates it, then kills it, each step with a deadline.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import pickle
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["iterate_in_subprocess", "run_pipeline_in_subprocess"]

_LG = logging.getLogger("spdl.pipeline.subprocess")

_ITEM, _END, _ERROR = 0, 1, 2
_ITERATE, _ABORT, _SHUTDOWN = "iterate", "abort", "shutdown"
_POLL = 0.1  # seconds between checks that the child is alive while waiting for it


def _picklable_error(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc} (raised in the subprocess)")


def _child_main(fn: Callable[[], Iterable], commands, data) -> None:
    """The child's loop: wait for a command, stream one iteration, repeat."""
    try:
        while True:
            command = commands.recv()
            if command == _SHUTDOWN:
                return
            if command != _ITERATE:
                continue  # a late "abort" for an iteration that already ended
            shutdown = False
            try:
                for item in fn():
                    if commands.poll():
                        command = commands.recv()
                        if command in (_ABORT, _SHUTDOWN):
                            shutdown = command == _SHUTDOWN
                            break
                    data.put((_ITEM, item))
            except Exception as e:
                data.put((_ERROR, _picklable_error(e)))
            else:
                data.put((_END, None))
            if shutdown:
                return
    except (EOFError, KeyboardInterrupt):  # the parent went away, or Ctrl-C hit the group
        return
    finally:
        data.close()
        data.join_thread()


class _Child:
    """One child process and its two channels. Every method is called from the parent."""

    def __init__(self, fn: Callable[[], Iterable], buffer_size: int, context: Any) -> None:
        receiver, self.commands = context.Pipe(duplex=False)
        self.data = context.Queue(maxsize=buffer_size)
        self.process = context.Process(
            target=_child_main, args=(fn, receiver, self.data), name="spdl-subprocess"
        )
        self.process.start()
        receiver.close()

    def send(self, command: str) -> bool:
        try:
            self.commands.send(command)
            return True
        except (OSError, ValueError):  # the child is gone
            return False

    def receive(self, timeout: float | None) -> tuple[int, Any]:
        """The next message from the child; raises if the child died or ``timeout`` passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _POLL if deadline is None else min(_POLL, deadline - time.monotonic())
            try:
                return self.data.get(timeout=max(wait, 0.0))
            except queue.Empty:
                pass
            if not self.process.is_alive():
                try:  # it may have put its last messages right before exiting
                    return self.data.get(timeout=_POLL)
                except queue.Empty:
                    raise RuntimeError(
                        f"The subprocess exited unexpectedly (exit code {self.process.exitcode})."
                    ) from None
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"The subprocess sent nothing for {timeout} seconds.")

    def close(self, timeout: float) -> None:
        """Ask the child to leave, then join, terminate and kill it, each within ``timeout``."""
        process = self.process
        if process.is_alive():
            self.send(_SHUTDOWN)
            # Drain so that a child blocked on a full queue can see the command.
            deadline = time.monotonic() + timeout
            while process.is_alive() and time.monotonic() < deadline:
                try:
                    self.data.get(timeout=0.05)
                except queue.Empty:
                    pass
                except (OSError, EOFError, ValueError):
                    break
            process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            _LG.warning("The subprocess did not exit in %.1f s; terminating it.", timeout)
            process.terminate()
            process.join(timeout)
        if process.is_alive():
            _LG.warning("The subprocess ignored SIGTERM; killing it.")
            process.kill()
            process.join()
        self.commands.close()
        self.data.close()
        self.data.join_thread()


def _close_child(holder: list, timeout: float) -> None:
    child = holder[0] if holder else None
    holder.clear()
    if child is not None:
        child.close(timeout)


class _SubprocessIterable(Iterable):
    """The iterable that ``iterate_in_subprocess`` returns."""

    def __init__(
        self,
        fn: Callable[[], Iterable],
        buffer_size: int,
        timeout: float | None,
        context: Any,
        close_timeout: float,
    ) -> None:
        self._fn = fn
        self._buffer_size = buffer_size
        self._timeout = timeout
        self._context = context
        self._close_timeout = close_timeout
        self._holder: list[_Child] = []  # shared with the finalizer, which must not hold self
        self._lock = threading.Lock()
        self._busy = False
        self._finalizer = weakref.finalize(self, _close_child, self._holder, close_timeout)
        _LIVE.add(self)

    def __iter__(self) -> Iterator:
        if not self._finalizer.alive:
            raise RuntimeError("This iterable is closed.")
        return self._stream()

    def _stream(self) -> Iterator:
        # Everything happens on the first next(), so an iterator dropped unstarted costs nothing.
        with self._lock:
            if not self._finalizer.alive:
                raise RuntimeError("This iterable is closed.")
            if self._busy:
                raise RuntimeError("This iterable is already being iterated.")
            self._busy = True
        child = None
        ended = False
        try:
            if not self._holder or not self._holder[0].process.is_alive():
                _close_child(self._holder, self._close_timeout)
                self._holder.append(_Child(self._fn, self._buffer_size, self._context))
            child = self._holder[0]
            child.send(_ITERATE)
            while True:
                if not self._finalizer.alive:
                    raise RuntimeError("This iterable was closed during the iteration.")
                kind, payload = child.receive(self._timeout)
                if kind == _ITEM:
                    yield payload
                elif kind == _END:
                    ended = True
                    return
                else:
                    ended = True
                    raise payload
        finally:
            if child is not None and not ended and self._finalizer.alive:
                self._abort(child)
            self._busy = False

    def _abort(self, child: _Child) -> None:
        """The consumer left early: stop the child's iteration and drain to its end marker."""
        if child.send(_ABORT):
            try:
                while child.receive(self._close_timeout)[0] == _ITEM:
                    pass
                return
            except (RuntimeError, TimeoutError, OSError, EOFError):
                pass
        # The child is stuck or gone: replace it on the next iteration.
        _close_child(self._holder, self._close_timeout)

    def close(self) -> None:
        """Stop the child process (join, then terminate, then kill). Idempotent."""
        self._finalizer()


# Iterables with a child, closed before multiprocessing's own exit hook joins the (non-daemon)
# children, which would otherwise wait for a child that waits for a command.
_LIVE: weakref.WeakSet[_SubprocessIterable] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for iterable in list(_LIVE):
        iterable.close()


try:
    threading._register_atexit(_close_all_at_exit)  # type: ignore[attr-defined]
except (AttributeError, RuntimeError):
    import atexit

    atexit.register(_close_all_at_exit)


def iterate_in_subprocess(
    fn: Callable[[], Iterable],
    *,
    buffer_size: int = 3,
    timeout: float | None = None,
    mp_context: str | None = "spawn",
    close_timeout: float = 5.0,
) -> Iterable:
    """Iterate ``fn()`` in a child process and stream the items back.

    The child starts on the first iteration and stays for the next ones: each new iteration
    calls ``fn()`` again in it. Breaking out of a loop stops the child's iteration and discards
    the items in flight; the iterable can be iterated again afterwards. The child is stopped by
    ``close()``, when the iterable is garbage collected, and at interpreter exit: asked to leave
    first, then joined, terminated and finally killed, each within ``close_timeout`` seconds.

    Args:
        fn: A picklable callable (e.g. a module-level function or a ``functools.partial`` of
            one) returning an iterable. Items must be picklable.
        buffer_size: Items the child may send ahead of the consumer.
        timeout: Longest wait for one item, in seconds (``None``: no limit, but a dead child
            is always detected). The wait for the first item includes starting the child.
        mp_context: The ``multiprocessing`` start method. ``"spawn"`` by default, which is
            safe when the parent runs threads.
        close_timeout: Seconds given to each teardown step.

    Returns:
        An iterable with a ``close()`` method. An exception raised by ``fn`` or by the
        iteration in the child is raised in the parent (``RuntimeError`` when it does not
        pickle); ``RuntimeError`` when the child dies; ``TimeoutError`` past ``timeout``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}.")
    if not isinstance(buffer_size, int) or buffer_size < 1:
        raise ValueError(f"buffer_size must be a positive int, got {buffer_size!r}.")
    context = multiprocessing.get_context(mp_context)
    return _SubprocessIterable(fn, buffer_size, timeout, context, close_timeout)


def _run_built(builder, build_kwargs: dict) -> Iterator:
    pipeline = builder.build(**build_kwargs)
    with pipeline.auto_stop():
        yield from pipeline


def run_pipeline_in_subprocess(
    builder,
    *,
    num_threads: int | None = None,
    max_failures: int = -1,
    report_stats_interval: float = -1,
    buffer_size: int = 3,
    timeout: float | None = None,
    mp_context: str | None = "spawn",
    close_timeout: float = 5.0,
) -> Iterable:
    """Build and run the pipeline ``builder`` describes in a child process, streaming its output.

    Every iteration builds a fresh pipeline in the child (so the builder's source must be
    iterable more than once to be iterated more than once). ``PipelineFailure`` in the child is
    raised in the parent.

    Args:
        builder: A ``PipelineBuilder`` whose source, ops and items pickle.
        num_threads: Passed to ``PipelineBuilder.build`` in the child.
        max_failures: Passed to ``PipelineBuilder.build`` in the child.
        report_stats_interval: Passed to ``PipelineBuilder.build`` in the child.
        buffer_size: Items the child may send ahead of the consumer.
        timeout: Longest wait for one item, in seconds (``None``: no limit).
        mp_context: The ``multiprocessing`` start method (``"spawn"`` by default).
        close_timeout: Seconds given to each teardown step.

    Returns:
        An iterable with a ``close()`` method, as for :func:`iterate_in_subprocess`.
    """
    build_kwargs = {
        "num_threads": num_threads,
        "max_failures": max_failures,
        "report_stats_interval": report_stats_interval,
    }
    return iterate_in_subprocess(
        functools.partial(_run_built, builder, build_kwargs),
        buffer_size=buffer_size,
        timeout=timeout,
        mp_context=mp_context,
        close_timeout=close_timeout,
    )
