"""``DataLoader``: batches from a source through a thread pipeline, one pipeline per epoch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from spdl.pipeline import Pipeline, PipelineStats, StatsHook

__all__ = ["DataLoader"]

T = TypeVar("T")


class DataLoader(Generic[T]):
    """Iterate over batches of a data set, loaded on threads by a ``spdl.pipeline`` pipeline.

    Each ``iter()`` (each epoch) builds and starts a fresh pipeline::

        source -> preprocess (num_threads at once) -> aggregate(batch_size) -> collate
               -> transfer (one dedicated thread) -> sink (buffer_size batches)

    and stops it when the loop ends, breaks, or raises, so no thread outlives the loop. Every
    stage is optional. Use it in a PyTorch training loop as is: ``len(loader)`` is the number of
    batches per epoch and ``loader.set_epoch(epoch)`` reshuffles a sampled source.

    Args:
        src: The items: any iterable that can be iterated once per epoch, e.g. a
            ``spdl.source.SampledSource`` (which gives ``len`` and ``set_epoch``), a list, a
            range.
        preprocessor: ``item -> sample``, run on up to ``num_threads`` items at once (e.g. load
            and decode an image). Returning ``None`` drops the item; an exception drops it too
            and is logged and counted (see ``max_failures``).
        batch_size: Group samples into lists of this many; ``None`` passes samples one by one.
        drop_last: Drop the last batch when it is smaller than ``batch_size``.
        aggregator: ``list of samples -> batch`` (e.g. stack into one array or tensor).
        transfer_fn: ``batch -> batch``, run on one thread of its own, in batch order, e.g. the
            copy to the GPU (a CUDA stream is per thread, so it stays one stream).
        num_threads: Threads of the pipeline (the preprocessor runs on up to this many at once).
        buffer_size: Batches kept ready ahead of the training loop.
        output_order: ``"completion"`` (default) passes samples on as soon as they are ready;
            ``"input"`` keeps the source's order (a slow item then delays the ones after it).
        max_failures: Items the preprocessor may fail on per epoch before iteration raises
            ``spdl.pipeline.PipelineFailure``; -1 means no limit.
        report_stats_interval: Seconds between performance reports while an epoch runs; <= 0
            reports once at the end of each epoch (the pipeline's per-stage report, logged
            through the ``spdl`` loggers unless ``stats_hook`` sends it elsewhere).
        stats_hook: A ``spdl.pipeline.StatsHook`` receiving the reports.

    Example:
        >>> loader = DataLoader(range(10), preprocessor=lambda x: x * x, batch_size=4,
        ...                     aggregator=sorted, output_order="input")
        >>> len(loader), list(loader)
        (3, [[0, 1, 4, 9], [16, 25, 36, 49], [64, 81]])
    """

    def __init__(
        self,
        src: Iterable[Any],
        *,
        preprocessor: Callable[[Any], Any] | None = None,
        batch_size: int | None = None,
        drop_last: bool = False,
        aggregator: Callable[[list[Any]], T] | None = None,
        transfer_fn: Callable[[Any], T] | None = None,
        num_threads: int = 8,
        buffer_size: int = 3,
        output_order: str = "completion",
        max_failures: int = -1,
        report_stats_interval: float = -1,
        stats_hook: StatsHook | None = None,
    ) -> None:
        if not isinstance(src, Iterable):
            raise TypeError(f"src must be iterable, got {type(src).__name__}")
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
            raise ValueError(f"buffer_size must be a positive int, got {buffer_size!r}")
        if output_order not in ("completion", "input"):
            raise ValueError(f'output_order must be "completion" or "input", got {output_order!r}')
        for name, fn in (
            ("preprocessor", preprocessor),
            ("aggregator", aggregator),
            ("transfer_fn", transfer_fn),
        ):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        self.src = src
        self.preprocessor = preprocessor
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.aggregator = aggregator
        self.transfer_fn = transfer_fn
        self.num_threads = num_threads
        self.buffer_size = buffer_size
        self.output_order = output_order
        self.max_failures = max_failures
        self.report_stats_interval = report_stats_interval
        self.stats_hook = stats_hook
        self._epoch = 0
        self._lock = threading.Lock()
        self._last: Pipeline | None = None

    def set_epoch(self, epoch: int) -> None:
        """Tell the source which epoch comes next (it reshuffles); call it before each epoch.

        Passed on to ``src.set_epoch`` when the source has one (``SampledSource`` does).
        """
        self._epoch = epoch
        set_epoch = getattr(self.src, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)

    def __len__(self) -> int:
        """Batches per epoch (samples when ``batch_size`` is None), from ``len(src)``.

        Items the preprocessor drops are not foreseen, so an epoch may yield fewer.

        Raises:
            TypeError: The source has no ``len``.
        """
        try:
            n = len(self.src)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                f"len() of a DataLoader needs a source with len(); {type(self.src).__name__} "
                "has none"
            ) from None
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _build(self) -> tuple[Pipeline, ThreadPoolExecutor | None]:
        from spdl.pipeline import PipelineBuilder

        builder = PipelineBuilder().add_source(self.src)
        if self.preprocessor is not None:
            builder.pipe(
                self.preprocessor,
                concurrency=self.num_threads,
                name="preprocess",
                output_order=self.output_order,
            )
        if self.batch_size is not None:
            builder.aggregate(self.batch_size, drop_last=self.drop_last)
        if self.aggregator is not None:
            builder.pipe(self.aggregator, name="collate", output_order="input")
        transfer_executor = None
        if self.transfer_fn is not None:
            transfer_executor = ThreadPoolExecutor(1, thread_name_prefix="spdl_transfer")
            builder.pipe(
                self.transfer_fn, executor=transfer_executor, name="transfer", output_order="input"
            )
        builder.add_sink(self.buffer_size)
        pipeline = builder.build(
            num_threads=self.num_threads,
            max_failures=self.max_failures,
            report_stats_interval=self.report_stats_interval,
            stats_hook=self.stats_hook,
        )
        return pipeline, transfer_executor

    def __iter__(self) -> Iterator[T]:
        pipeline, transfer_executor = self._build()
        with self._lock:
            self._last = pipeline
        return self._run(pipeline, transfer_executor)

    @staticmethod
    def _run(pipeline: Pipeline, transfer_executor: ThreadPoolExecutor | None) -> Iterator[T]:
        try:
            with pipeline.auto_stop():
                yield from pipeline
        finally:
            if transfer_executor is not None:
                transfer_executor.shutdown(wait=True, cancel_futures=True)

    def stats(self) -> PipelineStats | None:
        """The performance report of the latest epoch's pipeline (``None`` before the first).

        Per stage: tasks, failures, mean/p90/p99 task time, how busy its slots were; per queue:
        throughput and how long producers and consumers waited. The stage with busy slots
        followed by a starved queue is the bottleneck. See ``spdl.pipeline.PipelineStats``.
        """
        with self._lock:
            pipeline = self._last
        return None if pipeline is None else pipeline.stats()

    def __repr__(self) -> str:
        parts = [f"src={type(self.src).__name__}", f"num_threads={self.num_threads}"]
        if self.batch_size is not None:
            parts.append(f"batch_size={self.batch_size}")
        return f"DataLoader({', '.join(parts)})"
