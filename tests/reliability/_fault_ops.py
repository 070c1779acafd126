"""Module-level ops for the fault-injection tests that run in process pools (they must pickle)."""

from __future__ import annotations

import os
import signal
import time


def square_or_die(x: int) -> int:
    """Square ``x``, except that item 7 kills its worker process (SIGKILL) mid-task."""
    if x == 7:
        time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.01)
    return x * x


def square(x: int) -> int:
    return x * x
