"""Performance statistics of a running pipeline, and the hooks that report them.

Every stage records how long each task took into a :class:`_Histogram`, a log-scaled histogram of
bounded size (a streaming percentile estimator: about 3% relative error, at most a few hundred
buckets whatever the number of tasks). Every queue between stages records how many items crossed
it, how long producers waited for room, how long consumers waited for data, and for how much of
the time data was ready. :class:`PipelineStats` is a snapshot of all of them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

__all__ = [
    "LoggingStatsHook",
    "PipelineStats",
    "QueuePerfStats",
    "StatsHook",
    "TaskPerfStats",
]

_LG = logging.getLogger("spdl.pipeline.stats")

# Sub-buckets per power of two: 16 gives bucket widths of 1/32 to 1/16 of the value, so a
# percentile reported from a bucket's middle is within about 3% of the true task time.
_SUB = 16


class _Histogram:
    """A streaming percentile estimator with bounded memory.

    Values (seconds, positive) are counted in buckets whose width grows with the value: the
    bucket of ``t`` is its binary exponent and the first four bits of its mantissa. Times from
    1 ns to 1 day span about 50 exponents, so at most ~800 buckets ever exist.
    """

    __slots__ = ("_buckets", "count", "max", "min", "total")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0

    def add(self, value: float) -> None:
        """Count one value (seconds)."""
        self.count += 1
        self.total += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if value > 0.0:
            mantissa, exponent = math.frexp(value)
            key = exponent * _SUB + int((mantissa - 0.5) * 2 * _SUB)
        else:
            key = -(1 << 30)
        buckets = self._buckets
        buckets[key] = buckets.get(key, 0) + 1

    def percentile(self, q: float) -> float:
        """The value below which a share ``q`` (0 to 1) of the counted values lie (seconds).

        Returns 0.0 when nothing was counted.
        """
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for key in sorted(self._buckets):
            seen += self._buckets[key]
            if seen >= rank:
                if key == -(1 << 30):
                    return 0.0
                exponent, sub = divmod(key, _SUB)
                middle = math.ldexp(0.5 + (sub + 0.5) / (2 * _SUB), exponent)
                return min(max(middle, self.min), self.max)
        return self.max

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True)
class TaskPerfStats:
    """What one stage did: its tasks and how long they took.

    Attributes:
        name: The stage's name.
        concurrency: At most this many tasks of the stage run at once.
        num_tasks: Tasks finished (successfully or not). For a generator op a task is one input
            item, however many outputs it yielded.
        num_failures: Tasks that raised; their items were dropped.
        mean_time: Mean task time in seconds (0.0 before the first task).
        p90_time: 90th percentile of task time in seconds (estimated, ~3% relative error).
        p99_time: 99th percentile of task time in seconds (estimated, ~3% relative error).
        busy: Share (0 to 1) of the elapsed time multiplied by ``concurrency`` that tasks ran:
            1.0 means every slot of the stage was busy all the time.
    """

    name: str
    concurrency: int
    num_tasks: int
    num_failures: int
    mean_time: float
    p90_time: float
    p99_time: float
    busy: float


@dataclass(frozen=True)
class QueuePerfStats:
    """What crossed the queue at the output of one stage.

    Attributes:
        name: The queue's name: the producing stage's name followed by ``->``.
        num_items: Items taken out of the queue by the next stage (or the consumer).
        qps: ``num_items`` per second of the pipeline's elapsed time.
        mean_put_wait: Seconds the producer spent blocked on a full queue, per item put.
        mean_get_wait: Seconds the next stage (or the consumer) spent starved on an empty
            queue, per item taken.
        occupancy: Share (0 to 1) of the elapsed time the queue held at least one item, i.e. the
            share of time data was ready for the next stage.
        capacity: At most this many items are held by the producing stage: in flight, waiting
            to be put in order, or in the queue.
    """

    name: str
    num_items: int
    qps: float
    mean_put_wait: float
    mean_get_wait: float
    occupancy: float
    capacity: int


@dataclass(frozen=True)
class PipelineStats:
    """A snapshot of a pipeline's statistics, stage by stage in pipeline order.

    Attributes:
        elapsed: Seconds since the pipeline started (until it stopped, once stopped).
        tasks: One :class:`TaskPerfStats` per stage, source first.
        queues: One :class:`QueuePerfStats` per stage output, the last being the sink.
        num_produced: Items the source produced.
        num_delivered: Items the consumer took from the sink.
        num_failures: Tasks that failed, over all stages (their items were dropped).
        num_discarded: Items still in the pipeline when it stopped (in a queue, in a task, or
            waiting for their turn), dropped; 0 while it runs. Once stopped, with stages that
            map one item to one output, ``num_delivered + num_failures + num_discarded ==
            num_produced``; ops that drop (return ``None``), aggregate or split items change
            the count on the way.
    """

    elapsed: float
    tasks: list[TaskPerfStats] = field(default_factory=list)
    queues: list[QueuePerfStats] = field(default_factory=list)
    num_produced: int = 0
    num_delivered: int = 0
    num_failures: int = 0
    num_discarded: int = 0

    def stage(self, name: str) -> TaskPerfStats:
        """The stats of the stage called ``name`` (``KeyError`` if none)."""
        for stats in self.tasks:
            if stats.name == name:
                return stats
        raise KeyError(name)

    def __str__(self) -> str:
        lines = [f"pipeline stats after {self.elapsed:.3f} s"]
        lines.append(
            f"  {'stage':<28} {'conc':>4} {'tasks':>9} {'fail':>6} {'mean ms':>9} "
            f"{'p90 ms':>9} {'p99 ms':>9} {'busy':>6} | {'qps':>9} {'put ms':>8} "
            f"{'get ms':>8} {'ready':>6}"
        )
        for task, queue in zip(self.tasks, self.queues, strict=True):
            lines.append(
                f"  {task.name[:28]:<28} {task.concurrency:>4} {task.num_tasks:>9} "
                f"{task.num_failures:>6} {task.mean_time * 1e3:>9.3f} {task.p90_time * 1e3:>9.3f} "
                f"{task.p99_time * 1e3:>9.3f} {task.busy:>6.1%} | {queue.qps:>9.1f} "
                f"{queue.mean_put_wait * 1e3:>8.3f} {queue.mean_get_wait * 1e3:>8.3f} "
                f"{queue.occupancy:>6.1%}"
            )
        lines.append(
            f"  items: {self.num_produced} produced, {self.num_delivered} delivered, "
            f"{self.num_failures} failed, {self.num_discarded} discarded at stop"
        )
        return "\n".join(lines)


class StatsHook:
    """Receives the pipeline's statistics; subclass it to send them somewhere.

    The pipeline calls :meth:`report` every ``report_stats_interval`` seconds while it runs
    (from a background thread of its own) and once more when it stops, with ``final=True``. An
    exception raised by ``report`` is logged and otherwise ignored.
    """

    def report(self, stats: PipelineStats, *, final: bool) -> None:
        """Handle one snapshot. The base class does nothing."""


class LoggingStatsHook(StatsHook):
    """The default hook: logs the report table through the ``spdl.pipeline.stats`` logger.

    Args:
        level: The logging level of the records (``logging.INFO`` by default).
    """

    def __init__(self, level: int = logging.INFO) -> None:
        self.level = level

    def report(self, stats: PipelineStats, *, final: bool) -> None:
        """Log ``stats`` as a table, one line per stage."""
        if _LG.isEnabledFor(self.level):
            _LG.log(self.level, "%s%s", "(final) " if final else "", stats)
