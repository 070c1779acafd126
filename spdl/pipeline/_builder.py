"""``PipelineBuilder``: describes the stages, then builds a ``Pipeline``."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from concurrent.futures import Executor
from typing import Any

from ._engine import Engine
from ._pipeline import Pipeline
from ._stage import ASYNC_FN, ASYNC_GEN, ASYNC_SOURCE, SOURCE, SYNC_FN, SYNC_GEN, Stage, classify
from ._stage import op_name as _op_name
from ._stats import StatsHook

__all__ = ["PipelineBuilder"]

# Items a stage may hold beyond its in-flight tasks, waiting for the next stage. Large enough
# that a stage woken by a consumer runs a batch of items per wake-up, small enough that a few
# decoded clips per stage is all the memory it holds.
_BUFFER = 8


def _iterate(source: Iterable) -> Any:
    # Calling iter() inside the generator makes an exception from it a source failure, raised
    # in the pipeline, not in build().
    yield from source


async def _aiterate(source: AsyncIterable) -> Any:
    async for item in source:
        yield item


class _Aggregate:
    """The op of ``aggregate(n)``: collects items into lists of ``n``."""

    def __init__(self, n: int, drop_last: bool) -> None:
        self.n = n
        self.drop_last = drop_last
        self.batch: list = []

    def __call__(self, item: object) -> list | None:
        batch = self.batch
        batch.append(item)
        if len(batch) >= self.n:
            self.batch = []
            return batch
        return None

    def flush(self) -> list | None:
        batch, self.batch = self.batch, []
        if batch and not self.drop_last:
            return batch
        return None


def _disaggregate(items: Iterable) -> Any:
    yield from items


class PipelineBuilder:
    """Describes a pipeline: a source, stages, a sink. ``build`` makes a runnable ``Pipeline``.

    Every method returns the builder, so calls chain::

        pipeline = (
            PipelineBuilder()
            .add_source(range(1000))
            .pipe(download, concurrency=8)
            .pipe(decode, concurrency=4, output_order="input")
            .aggregate(32)
            .add_sink(buffer_size=3)
            .build(num_threads=8)
        )

    A builder holds only descriptions, so it can be pickled (when its source and ops can) and
    built more than once (when its source can be iterated more than once).
    """

    def __init__(self) -> None:
        self._source: tuple | None = None
        self._stages: list[dict] = []
        self._sink_buffer: int | None = None

    def add_source(
        self, source: Iterable | AsyncIterable, *, name: str = "source"
    ) -> PipelineBuilder:
        """Set where items come from: any iterable, or an async iterable.

        A sync iterable is iterated on the shared thread pool, an async one on the pipeline's
        event-loop thread. ``None`` items are skipped. An exception raised while iterating fails
        the pipeline.
        """
        if self._source is not None:
            raise ValueError("The source is already set.")
        if self._stages:
            raise ValueError("add_source must come before the stages.")
        if isinstance(source, AsyncIterable):
            self._source = (source, True, name)
        elif isinstance(source, Iterable):
            self._source = (source, False, name)
        else:
            raise TypeError(f"The source must be iterable, got {type(source).__name__}.")
        return self

    def pipe(
        self,
        op: Callable,
        *,
        concurrency: int = 1,
        executor: Executor | None = None,
        name: str | None = None,
        output_order: str = "completion",
        max_failures: int | None = None,
    ) -> PipelineBuilder:
        """Add a stage that applies ``op`` to every item.

        Args:
            op: A function (one output per item), a generator function (every value it yields
                is an output), a coroutine function, an async generator function, or a callable
                object whose ``__call__`` is one of these. A ``None`` output is dropped.
            concurrency: At most this many items are processed at once (>= 1).
            executor: Where sync ops run: by default the pipeline's shared thread pool; a
                ``ThreadPoolExecutor`` or a ``ProcessPoolExecutor`` (op and items must then
                pickle; a generator's outputs come back together) may be given. Async ops
                always run on the pipeline's event-loop thread.
            name: The stage's name in logs and statistics (default: the op's name).
            output_order: ``"completion"`` passes results on as they finish; ``"input"`` keeps
                the order of the inputs (later results wait for earlier ones, while the other
                tasks keep running).
            max_failures: Failures of this stage allowed before the pipeline fails (-1 or None:
                only the pipeline's budget applies).
        """
        if self._source is None:
            raise ValueError("add_source must come first.")
        if self._sink_buffer is not None:
            raise ValueError("The sink is already added; stages come before it.")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}.")
        if output_order not in ("completion", "input"):
            raise ValueError(f'output_order must be "completion" or "input", got {output_order!r}.')
        if executor is not None and not isinstance(executor, Executor):
            raise TypeError(f"executor must be a concurrent.futures.Executor, got {executor!r}.")
        kind = classify(op)
        if executor is not None and kind in (ASYNC_FN, ASYNC_GEN):
            raise ValueError("Async ops run on the pipeline's event loop; they take no executor.")
        self._stages.append(
            {
                "name": name or _op_name(op),
                "kind": kind,
                "op": op,
                "concurrency": concurrency,
                "executor": executor,
                "ordered": output_order == "input",
                "max_failures": max_failures,
            }
        )
        return self

    def aggregate(self, num_items: int, /, *, drop_last: bool = False) -> PipelineBuilder:
        """Add a stage that groups items into lists of ``num_items``, in arrival order.

        Args:
            num_items: Size of each list (>= 1).
            drop_last: Drop the last, shorter list instead of emitting it.
        """
        if not isinstance(num_items, int) or num_items < 1:
            raise ValueError(f"num_items must be a positive int, got {num_items!r}.")
        if self._source is None:
            raise ValueError("add_source must come first.")
        self._stages.append(
            {"name": f"aggregate({num_items})", "aggregate": (num_items, drop_last)}
        )
        return self

    def disaggregate(self) -> PipelineBuilder:
        """Add a stage that passes on every element of each (iterable) item, in order."""
        if self._source is None:
            raise ValueError("add_source must come first.")
        self._stages.append(
            {
                "name": "disaggregate",
                "kind": SYNC_GEN,
                "op": _disaggregate,
                "concurrency": 1,
                "executor": None,
                "ordered": False,
                "max_failures": None,
            }
        )
        return self

    def add_sink(self, buffer_size: int = 3) -> PipelineBuilder:
        """End the pipeline with an output buffer of ``buffer_size`` items (>= 1)."""
        if not isinstance(buffer_size, int) or buffer_size < 1:
            raise ValueError(f"buffer_size must be a positive int, got {buffer_size!r}.")
        if self._source is None:
            raise ValueError("add_source must come first.")
        if self._sink_buffer is not None:
            raise ValueError("The sink is already added.")
        self._sink_buffer = buffer_size
        return self

    def build(
        self,
        *,
        num_threads: int | None = None,
        max_failures: int = -1,
        report_stats_interval: float = -1,
        stats_hook: StatsHook | None = None,
    ) -> Pipeline:
        """Make a ``Pipeline`` (not started).

        Args:
            num_threads: Threads of the shared pool that runs sync ops and a sync source.
                Default: the sum of the concurrencies of the stages that use it.
            max_failures: Task failures allowed over the whole pipeline before it fails
                (-1: no limit). A stage's own ``max_failures`` is checked as well.
            report_stats_interval: Seconds between statistics reports while running; <= 0
                reports only once, when the pipeline stops.
            stats_hook: Receives the reports; by default they are logged by
                ``LoggingStatsHook`` at INFO level.
        """
        if self._source is None:
            raise ValueError("The pipeline has no source: call add_source first.")
        sink = self._sink_buffer if self._sink_buffer is not None else 3
        source, is_async, source_name = self._source
        src = Stage(
            name=source_name,
            kind=ASYNC_SOURCE if is_async else SOURCE,
            op=None,
            concurrency=1,
            buffer=_BUFFER if self._stages else sink,
            executor=None,
            ordered=False,
            max_failures=None,
        )
        # The source is a task in flight from the start: a generator parked until a runner
        # resumes it.
        src.parked[0] = [None, _aiterate(source) if is_async else _iterate(source), 0.0]
        src.inflight = 1
        src.next_seq = 1
        stages = [src]
        names = {source_name}
        for i, spec in enumerate(self._stages):
            spec = dict(spec)
            buffer = sink if i == len(self._stages) - 1 else _BUFFER
            name = spec.pop("name")
            unique = name
            count = 1
            while unique in names:
                count += 1
                unique = f"{name}#{count}"
            names.add(unique)
            if "aggregate" in spec:
                n, drop_last = spec["aggregate"]
                agg = _Aggregate(n, drop_last)
                stage = Stage(
                    name=unique,
                    kind=SYNC_FN,
                    op=agg,
                    concurrency=1,
                    buffer=buffer,
                    executor=None,
                    ordered=False,
                    max_failures=None,
                    flush=agg.flush,
                )
            else:
                stage = Stage(name=unique, buffer=buffer, **spec)
            stages.append(stage)
        if num_threads is None:
            num_threads = 1 + sum(
                st.concurrency
                for st in stages[1:]
                if st.executor is None and st.kind in (SYNC_FN, SYNC_GEN)
            )
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive int, got {num_threads!r}.")
        engine = Engine(
            stages,
            num_threads=num_threads,
            max_failures=max_failures,
            report_stats_interval=report_stats_interval,
            hook=stats_hook,
        )
        return Pipeline(engine)
