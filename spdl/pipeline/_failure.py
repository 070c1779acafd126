"""The error a pipeline raises when it gives up, and how items are named in messages."""

from __future__ import annotations

import reprlib

__all__ = ["PipelineFailure", "short_repr"]

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = 4
_REPR.maxtuple = 4
_REPR.maxdict = 4


def short_repr(obj: object) -> str:
    """A repr of ``obj`` cut to about 80 characters, safe against a failing ``__repr__``."""
    try:
        text = _REPR.repr(obj)
    except Exception as e:  # a broken __repr__ must not hide the real error
        text = f"<{type(obj).__name__} (repr failed: {type(e).__name__})>"
    return text if len(text) <= 80 else text[:77] + "..."


class PipelineFailure(RuntimeError):
    """The pipeline stopped because its source raised, too many tasks failed, or a stage's
    executor broke (a process-pool worker died).

    Raised by iteration and ``Pipeline.get_item`` once the pipeline has failed. Items that were
    still in flight are dropped.

    Attributes:
        causes: ``(stage_name, exception)`` pairs, oldest first: every task failure up to the
            last 100, and the source's exception if the source raised. The stage name of a
            source exception is the source stage's name.
        num_failures: How many tasks failed in all (may exceed ``len(causes)``). Items in
            flight in a stage whose process pool broke count as failed.
        num_discarded: Items the source produced that were neither delivered nor failed when
            the pipeline stopped: still in a queue, in a task, or waiting for their turn. With
            stages that map one item to one output, the consumer's items plus ``num_failures``
            plus ``num_discarded`` is every item the source produced (see
            ``PipelineStats.num_produced``).
    """

    def __init__(
        self,
        message: str,
        causes: list[tuple[str, BaseException]],
        num_failures: int,
        num_discarded: int = 0,
    ):
        super().__init__(message)
        self.causes = list(causes)
        self.num_failures = num_failures
        self.num_discarded = num_discarded
        if self.causes:
            self.__cause__ = self.causes[-1][1]

    def __reduce__(self):
        return (type(self), (self.args[0], self.causes, self.num_failures, self.num_discarded))
