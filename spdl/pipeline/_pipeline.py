"""``Pipeline``: the object a user iterates over."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Generic, TypeVar

from ._engine import Engine
from ._stats import PipelineStats

__all__ = ["Pipeline"]

T = TypeVar("T")


class Pipeline(Generic[T]):
    """A running (or ready to run) chain of stages, built by ``PipelineBuilder.build``.

    Iterate over it to get the outputs; iteration starts the pipeline if needed, and stops it
    when the loop ends, when the consumer breaks out of the loop, or on an exception (including
    ``KeyboardInterrupt``) in the consumer. A pipeline runs once: after it stopped, iteration
    yields nothing more.

    The pipeline is also stopped when it is garbage collected and at interpreter exit, so no
    thread outlives it. ``stop`` is idempotent and may be called from any thread.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Runs engine.stop when this object is collected (the engine does not refer back to it)
        # and at interpreter exit.
        self._finalizer = weakref.finalize(self, engine.stop)

    def start(self) -> None:
        """Start the threads and begin pulling from the source. A no-op if already started."""
        self._engine.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop all stages and release all threads.

        Coroutines in flight are cancelled; sync ops in flight cannot be interrupted, so this
        waits up to ``timeout`` seconds for them to return before shutting the threads down.
        An op still running then is abandoned, with a warning naming its stage: its thread (a
        daemon thread) is left behind until the op returns, and never keeps the interpreter
        from exiting. Items still in the pipeline are counted as discarded
        (``stats().num_discarded``). Returns within about ``timeout`` seconds. Idempotent.

        Args:
            timeout: Longest wait, in seconds, for ops that are running.
        """
        self._engine.stop(timeout)

    @contextlib.contextmanager
    def auto_stop(self, timeout: float = 10.0) -> Iterator[Pipeline[T]]:
        """A context manager that starts the pipeline and stops it on the way out.

        Args:
            timeout: Passed to :meth:`stop`.
        """
        self.start()
        try:
            yield self
        finally:
            self.stop(timeout)

    def get_item(self, timeout: float | None = None) -> T:
        """The next output, waiting at most ``timeout`` seconds (``None``: no limit).

        Starts the pipeline if it was not started.

        Raises:
            TimeoutError: No output arrived in time (the pipeline keeps running).
            EOFError: The pipeline is exhausted, or was stopped.
            PipelineFailure: The source raised, or more tasks failed than allowed.
        """
        engine = self._engine
        if not engine.started:
            engine.start()
        return engine.get(timeout)

    def __iter__(self) -> Iterator[T]:
        engine = self._engine
        if not engine.started:
            engine.start()
        return self._iterate(engine)

    @staticmethod
    def _iterate(engine: Engine) -> Iterator[T]:
        get = engine.get
        try:
            while True:
                try:
                    item = get(None)
                except EOFError:
                    return
                yield item
        finally:
            engine.stop()

    def stats(self) -> PipelineStats:
        """A snapshot of the per-stage task statistics and per-queue statistics."""
        return self._engine.stats()

    def __repr__(self) -> str:
        names = " -> ".join(st.name for st in self._engine._stages)
        return f"<Pipeline {names}>"
