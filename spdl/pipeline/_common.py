"""What the engine's modules share: the logger, the clock, the life-cycle states, a thread mark."""

from __future__ import annotations

import logging
import threading
import time

_LG = logging.getLogger("spdl.pipeline")
_perf = time.perf_counter

# The engine's life cycle.
_NEW, _RUNNING, _STOPPING, _STOPPED = range(4)
# Task failures a PipelineFailure keeps (the count goes on).
_MAX_CAUSES = 100

# Marks the threads that run our code, so that stop() called from one of them does not wait for
# itself.
_tls = threading.local()
