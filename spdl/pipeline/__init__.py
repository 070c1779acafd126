"""Thread-based stage pipelines (pure Python: importing this never imports NumPy, CuPy or torch).

Build a pipeline with :class:`PipelineBuilder`, iterate over the :class:`Pipeline` it builds, and
read its :class:`PipelineStats` (per stage :class:`TaskPerfStats`, per queue
:class:`QueuePerfStats`) to find the bottleneck. :func:`iterate_in_subprocess` and
:func:`run_pipeline_in_subprocess` run the work in a child process instead.
"""

from ._builder import PipelineBuilder
from ._failure import PipelineFailure
from ._pipeline import Pipeline
from ._stats import LoggingStatsHook, PipelineStats, QueuePerfStats, StatsHook, TaskPerfStats
from ._subprocess import iterate_in_subprocess, run_pipeline_in_subprocess

__all__ = [
    "LoggingStatsHook",
    "Pipeline",
    "PipelineBuilder",
    "PipelineFailure",
    "PipelineStats",
    "QueuePerfStats",
    "StatsHook",
    "TaskPerfStats",
    "iterate_in_subprocess",
    "run_pipeline_in_subprocess",
]
