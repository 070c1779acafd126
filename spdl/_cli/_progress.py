"""A one-line progress bar on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """Redraws ``[#####.....] done/total unit  rate/s  elapsed`` in place, at most 10 times a second.

    Args:
        total: The count that means done (``None`` when unknown: no bar, just the count).
        unit: What is counted, for the label (e.g. ``"batches"``).
        enabled: Draw at all; ``None`` draws only when ``stream`` is a terminal.
        stream: Where to draw (default ``sys.stderr``).
    """

    width = 30

    def __init__(
        self,
        total: int | None,
        unit: str,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.total = total
        self.unit = unit
        self.count = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = False

    def update(self, n: int = 1, *, note: str = "") -> None:
        """Count ``n`` more and redraw if the last draw is older than 0.1 s."""
        self.count += n
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw >= 0.1 or self.count == self.total):
            self._last_draw = now
            self._draw(now, note)

    def render(self, now: float | None = None, note: str = "") -> str:
        """The bar's text for the current count (without the carriage return)."""
        elapsed = (time.perf_counter() if now is None else now) - self._start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        if self.total:
            filled = min(self.width, self.width * self.count // self.total)
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.count}/{self.total}"
        else:
            bar = f"{self.count}"
        text = f"{bar} {self.unit}  {rate:.1f}/s  {elapsed:.1f} s"
        return f"{text}  {note}" if note else text

    def _draw(self, now: float, note: str) -> None:
        self.stream.write("\r\x1b[2K" + self.render(now, note))
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Erase the bar so that a message can be printed on a clean line."""
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()

    def close(self) -> None:
        """Leave the final state of the bar on its own line."""
        if self.enabled:
            self._draw(time.perf_counter(), "")
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
