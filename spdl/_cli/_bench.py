"""``spdl bench images|videos|audio [DIR]``: load a folder through a DataLoader and report.

Lists the media files under DIR (default: spdl's sample set), loads them on threads through
``spdl.dataloader.DataLoader`` with a live progress bar, then prints the throughput and the
pipeline's per-stage report (or one JSON document with ``--json``). Problems a user can fix
(a bad path, an empty folder, unreadable files, no GPU) are one line each, never a traceback.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["BenchError", "run_bench"]

_LOG_NAME = "spdl.pipeline"
_NOUN = {"images": "image", "videos": "video", "audio": "audio"}


class BenchError(Exception):
    """A problem the user can fix; ``spdl bench`` prints it as one line and exits with 1."""


@dataclasses.dataclass
class _Plan:
    """What to run for one kind of media on one device."""

    preprocessor: Callable[[Any], Any]
    aggregator: Callable[[list], Any] | None
    transfer_fn: Callable[[Any], Any] | None
    # Counts what one batch holds: (samples, amount) where amount is in ``amount_unit``.
    measure: Callable[[Any], tuple[int, float]]
    amount_unit: str


def _num_frames(batch: list) -> tuple[int, float]:
    return len(batch), float(sum(clip.shape[0] for clip in batch))


def _cpu_plan(kind: str, size: int) -> _Plan:
    import numpy as np

    import spdl.io

    if kind == "images":
        desc = spdl.io.get_video_filter_desc(scale_width=size, scale_height=size, pix_fmt="rgb24")

        def load_image(path: str) -> np.ndarray:
            return spdl.io.to_numpy(spdl.io.load_image(path, filter_desc=desc))

        # One (B, size, size, 3) uint8 array per batch.
        return _Plan(load_image, np.stack, None, lambda b: (len(b), float(len(b))), "images")
    if kind == "videos":
        desc = spdl.io.get_video_filter_desc(scale_width=size, scale_height=size, pix_fmt="rgb24")

        def load_video(path: str) -> np.ndarray:
            return spdl.io.to_numpy(spdl.io.load_video(path, filter_desc=desc))

        # Clips differ in length: a batch is a list of (N, size, size, 3) arrays.
        return _Plan(load_video, None, None, _num_frames, "frames")
    desc = spdl.io.get_audio_filter_desc(sample_rate=16000, num_channels=1)

    def load_audio(path: str) -> np.ndarray:
        return spdl.io.to_numpy(spdl.io.load_audio(path, filter_desc=desc))

    def seconds(batch: list) -> tuple[int, float]:
        return len(batch), sum(clip.shape[-1] for clip in batch) / 16000

    return _Plan(load_audio, None, None, seconds, "audio seconds")


def _cuda_plan(kind: str, size: int) -> _Plan:
    import spdl.io

    needed = {
        "images": "decode_image_nvjpeg",
        "videos": "streaming_load_video_nvdec",
        "audio": "transfer_buffer",
    }[kind]
    if not hasattr(spdl.io, needed) or not hasattr(spdl.io, "cuda_config"):
        raise BenchError(f"--device cuda needs spdl.io.{needed}, which this build of spdl lacks")
    try:
        config = spdl.io.cuda_config(device_index=0)
    except Exception as e:
        raise BenchError(f"--device cuda: {e}") from None

    if kind == "images":

        def read(path: str) -> bytes:
            with open(path, "rb") as f:
                return f.read()

        def decode_batch(data: list[bytes]) -> Any:
            # nvJPEG decodes the whole batch in one call, into one (B, 3, size, size) buffer.
            return spdl.io.decode_image_nvjpeg(
                data, device_config=config, scale_width=size, scale_height=size
            )

        def count(batch: Any) -> tuple[int, float]:
            n = batch.__cuda_array_interface__["shape"][0]
            return n, float(n)

        return _Plan(read, decode_batch, None, count, "images")
    if kind == "videos":

        def load_video(path: str) -> int:
            frames = 0
            for chunk in spdl.io.streaming_load_video_nvdec(
                path, device_config=config, scale_width=size, scale_height=size
            ):
                frames += chunk.__cuda_array_interface__["shape"][0]
            return frames

        return _Plan(load_video, None, None, lambda b: (len(b), float(sum(b))), "frames")
    cpu = _cpu_plan(kind, size)

    def transfer(batch: list) -> list:
        return [spdl.io.transfer_buffer(clip, device_config=config) for clip in batch]

    def seconds(batch: list) -> tuple[int, float]:
        return len(batch), sum(c.__cuda_array_interface__["shape"][-1] for c in batch) / 16000

    return _Plan(cpu.preprocessor, None, transfer, seconds, "audio seconds")


def _probe_gpu(plan: _Plan, path: str) -> None:
    """Load the first file once on the GPU path, so missing GPU support is one clear error.

    Without it, every file would fail in the pipeline with the same message. Other errors (a
    broken first file) are left for the run to report like any other file.
    """
    import spdl.io

    try:
        sample = plan.preprocessor(path)
        batch = plan.aggregator([sample]) if plan.aggregator is not None else [sample]
        if plan.transfer_fn is not None:
            plan.transfer_fn(batch)
    except spdl.io.CUDANotAvailableError as e:
        raise BenchError(f"--device cuda: {e}") from None
    except Exception:
        pass


class _OneLineHandler(logging.Handler):
    """Prints the pipeline's warnings (a file that failed to load) as single lines."""

    def __init__(self, progress_clear: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self._clear = progress_clear
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.count <= 20:
            self._clear()
            print(f"spdl bench: warning: {record.getMessage()}", file=sys.stderr)
        elif self.count == 21:
            self._clear()
            print("spdl bench: warning: (more failures not shown)", file=sys.stderr)


def _find_files(kind: str, directory: str | None) -> tuple[str, list[str]]:
    from spdl.source import (
        AUDIO_EXTENSIONS,
        IMAGE_EXTENSIONS,
        VIDEO_EXTENSIONS,
        DirectorySource,
        get_sample_set,
    )

    extensions = {
        "images": IMAGE_EXTENSIONS,
        "videos": VIDEO_EXTENSIONS,
        "audio": AUDIO_EXTENSIONS,
    }[kind]
    if directory is None:
        try:
            directory = str(get_sample_set(kind))
        except RuntimeError as e:
            raise BenchError(str(e).splitlines()[0]) from None
    try:
        files = DirectorySource(directory, extensions=extensions)
    except FileNotFoundError:
        raise BenchError(f"no such directory: {directory}") from None
    except NotADirectoryError:
        raise BenchError(f"not a directory: {directory}") from None
    except PermissionError as e:
        raise BenchError(f"cannot read {directory}: {e.strerror}") from None
    except ValueError:
        raise BenchError(
            f"no {_NOUN[kind]} files ({' '.join(extensions)}) under {directory}"
        ) from None
    return directory, list(files)


def run_bench(
    kind: str,
    directory: str | None = None,
    *,
    threads: int = 8,
    batch_size: int = 8,
    device: str = "cpu",
    size: int = 224,
    epochs: int = 1,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Load every ``kind`` file under ``directory`` ``epochs`` times; return the results.

    Args:
        kind: ``"images"``, ``"videos"`` or ``"audio"``.
        directory: The folder (searched recursively); ``None`` uses the sample set.
        threads: Threads of the pipeline (the decoding concurrency).
        batch_size: Files per batch.
        device: ``"cpu"`` (FFmpeg) or ``"cuda"`` (nvJPEG for images, NVDEC for videos, a copy to
            the GPU for audio).
        size: Images and video frames are resized to ``size`` x ``size`` (aspect kept, padded).
        epochs: Passes over the folder; the first one includes the warm-up.
        progress: Draw a progress bar on stderr; ``None`` draws one when stderr is a terminal.

    Returns:
        A JSON-ready dict: the settings, ``files``, per-epoch ``epochs`` (seconds, samples,
        amount), the totals and rates, ``failures`` and the last epoch's ``stats``.

    Raises:
        BenchError: A problem to report in one line (bad folder, no files, nothing loaded, GPU
            support missing).
    """
    from spdl.dataloader import DataLoader
    from spdl.pipeline import StatsHook

    from ._progress import ProgressBar

    directory, files = _find_files(kind, directory)
    if device == "cuda":
        plan = _cuda_plan(kind, size)
        _probe_gpu(plan, files[0])
    else:
        plan = _cpu_plan(kind, size)
    loader = DataLoader(
        files,
        preprocessor=plan.preprocessor,
        batch_size=batch_size,
        aggregator=plan.aggregator,
        transfer_fn=plan.transfer_fn,
        num_threads=threads,
        stats_hook=StatsHook(),  # the report is printed below, not logged
    )
    bar = ProgressBar(len(loader) * epochs, "batches", enabled=progress)
    handler = _OneLineHandler(bar.clear)
    logger = logging.getLogger(_LOG_NAME)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    per_epoch = []
    try:
        for _ in range(epochs):
            samples, amount = 0, 0.0
            t0 = time.perf_counter()
            for batch in loader:
                n, a = plan.measure(batch)
                samples, amount = samples + n, amount + a
                bar.update(note=f"{samples} {kind}")
            elapsed = time.perf_counter() - t0
            epoch_stats = loader.stats()
            failed = sum(t.num_failures for t in epoch_stats.tasks) if epoch_stats else 0
            per_epoch.append(
                {"seconds": elapsed, "samples": samples, "amount": amount, "failures": failed}
            )
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        bar.close()
    stats = loader.stats()
    loaded = sum(e["samples"] for e in per_epoch)
    if loaded == 0:
        raise BenchError(
            f"none of the {len(files)} {_NOUN[kind]} files under {directory} could be loaded"
            + (" (see the warnings above)" if per_epoch[-1]["failures"] else "")
        )
    seconds = sum(e["seconds"] for e in per_epoch)
    steady = per_epoch[1:] or per_epoch  # leave the warm-up epoch out when there are others
    return {
        "kind": kind,
        "directory": directory,
        "device": device,
        "threads": threads,
        "batch_size": batch_size,
        "size": size,
        "files": len(files),
        "epochs": per_epoch,
        "samples": loaded,
        "failures": per_epoch[-1]["failures"],
        "seconds": seconds,
        "samples_per_second": statistics.median(e["samples"] / e["seconds"] for e in steady),
        "amount_unit": plan.amount_unit,
        "amount_per_second": statistics.median(e["amount"] / e["seconds"] for e in steady),
        "stats": dataclasses.asdict(stats) if stats else None,
        "report": str(stats) if stats else "",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def print_result(result: dict[str, Any]) -> None:
    """The human-readable summary of ``run_bench``'s result."""
    kind = result["kind"]
    epochs = len(result["epochs"])
    print(
        f"spdl bench {kind}: {result['files']} files in {result['directory']} "
        f"({result['device']}, {result['threads']} threads, batch {result['batch_size']}, "
        f"{epochs} epoch{'s' if epochs > 1 else ''})"
    )
    rate = f"{result['samples_per_second']:.1f} {kind}/s"
    if result["amount_unit"] != kind:
        rate += f", {result['amount_per_second']:.1f} {result['amount_unit']}/s"
    which = "median of the epochs after the first" if epochs > 1 else "one epoch"
    print(
        f"Loaded {result['samples']} {kind} in {result['seconds']:.3f} s: {rate} ({which}); "
        f"{result['failures']} failed per epoch"
    )
    print(result["report"])
