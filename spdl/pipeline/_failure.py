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
    """The pipeline stopped because its source raised or too many tasks failed.

    Raised by iteration and ``Pipeline.get_item`` once the pipeline has failed. Items that were
    still in flight are dropped.

    Attributes:
        causes: ``(stage_name, exception)`` pairs, oldest first: every task failure up to the
            last 100, and the source's exception if the source raised. The stage name of a
            source exception is the source stage's name.
        num_failures: How many tasks failed in all (may exceed ``len(causes)``).
    """

    def __init__(self, message: str, causes: list[tuple[str, BaseException]], num_failures: int):
        super().__init__(message)
        self.causes = list(causes)
        self.num_failures = num_failures
        if self.causes:
            self.__cause__ = self.causes[-1][1]

    def __reduce__(self):
        return (type(self), (self.args[0], self.causes, self.num_failures))
