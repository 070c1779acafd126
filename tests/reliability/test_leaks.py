"""Memory stays flat: thousands of decode calls of each kind, and 100 pipeline start/stop cycles.

Two measures, each read after a warm-up and after the calls, with ``gc.collect()`` first:

- native heap in use (glibc ``mallinfo2``: bytes handed out by ``malloc`` and not freed, over all
  arenas, mmap'ed blocks included): exact to the byte, so even a leak of a few bytes a call shows
  after a few thousand calls. FFmpeg allocates through ``malloc``, so its leaks show here.
- resident memory (RSS, after ``malloc_trim``): catches everything else, Python objects included,
  at page granularity.

CI runs ``CALLS`` = 3,000 calls per kind; ``SPDL_LEAK_CALLS=20000`` gives the figures stated in
docs/reliability.md. The bounds (``HEAP_PER_CALL`` bytes a call; ``RSS_BOUND``) fail a leak the size
of the 75 bytes a call seen in SPDL 0.8.0 when decoding from ``bytes``.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import threading
import time

import pytest

import media

psutil = pytest.importorskip("psutil")
io = pytest.importorskip("spdl.io")

CALLS = int(os.environ.get("SPDL_LEAK_CALLS", "3000"))
WARMUP = 500
HEAP_PER_CALL = 8  # bytes of native heap growth allowed per call, on average
RSS_BOUND = 1024 * 1024  # bytes of RSS growth allowed over all the calls


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost",
        )
    ]  # fmt: skip


try:
    _libc = ctypes.CDLL("libc.so.6")
    _libc.mallinfo2.restype = _MallInfo2
    _malloc_trim = _libc.malloc_trim
except (OSError, AttributeError):  # not glibc, or glibc before 2.33
    _libc = None
    _malloc_trim = None


def _heap() -> int:
    """Bytes of native heap in use (0 where glibc's mallinfo2 is missing)."""
    if _libc is None:
        return 0
    info = _libc.mallinfo2()
    return info.uordblks + info.hblkhd


def _sample() -> tuple[int, int]:
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)
    return _heap(), psutil.Process().memory_info().rss


def _growth(fn, calls: int = CALLS) -> dict[str, int]:
    """Native heap and RSS growth (bytes) over ``calls`` calls of ``fn`` after a warm-up."""
    for _ in range(WARMUP):
        fn()
    heap0, rss0 = _sample()
    for _ in range(calls):
        fn()
    heap1, rss1 = _sample()
    return {"heap": heap1 - heap0, "rss": rss1 - rss0}


def _need(*names):
    missing = [n for n in names if not hasattr(io, n)]
    if missing:
        pytest.skip(f"spdl.io has no {', '.join(missing)} yet")


@pytest.fixture(scope="module")
def small_media(tmp_path_factory):
    """Tiny files, so 20,000 calls take seconds: the per-call cost is what leaks, not size."""
    d = tmp_path_factory.mktemp("leak-media")
    return {
        "jpeg": media.make_image(d / "s.jpg", width=24, height=16, pix_fmt="yuvj420p"),
        "png": media.make_image(d / "s.png", width=24, height=16),
        "video": media.make_video(d / "s.mp4", width=32, height=24, rate=10, duration=0.3),
        "audio": media.make_audio(d / "s.wav", duration=0.05, sample_rate=8000),
    }


def _check(fn, what: str) -> None:
    grew = _growth(fn)
    print(f"{what}: {CALLS} calls, heap {grew['heap']:+d} B, RSS {grew['rss']:+d} B")
    assert grew["heap"] < HEAP_PER_CALL * CALLS, (
        f"{what}: native heap grew {grew['heap']} bytes over {CALLS} calls "
        f"({grew['heap'] / CALLS:.1f} bytes a call)"
    )
    if grew["rss"] >= RSS_BOUND:
        # RSS moves in pages and with the whole process: a fresh interpreter arena, or a thread
        # an earlier test left finishing, can add a megabyte once (seen in a full-suite run,
        # with the exact heap count flat). A leak grows again over the same number of calls.
        again = _growth(fn)
        print(f"{what}: again, heap {again['heap']:+d} B, RSS {again['rss']:+d} B")
        assert again["rss"] < RSS_BOUND, (
            f"{what}: RSS grew {grew['rss']} and then {again['rss']} bytes over {CALLS} calls "
            f"each (threads alive: {[t.name for t in threading.enumerate()]})"
        )


KINDS = [
    "image_bytes",
    "image_path",
    "video_bytes",
    "video_load",
    "audio_bytes",
    "broken_bytes",
    "array",
    "image_batch",
    "image_batch_lenient",
]


@pytest.mark.parametrize("kind", KINDS)
def test_decode_calls_do_not_leak(small_media, kind):
    if kind == "image_bytes":
        _need("load_image", "to_numpy")
        data = small_media["jpeg"].read_bytes()
        _check(lambda: io.to_numpy(io.load_image(data)), "load_image(bytes)")
    elif kind == "image_path":
        _need("load_image", "to_numpy")
        path = str(small_media["png"])
        _check(lambda: io.to_numpy(io.load_image(path)), "load_image(path)")
    elif kind == "video_bytes":
        _need("demux_video", "decode_packets", "convert_frames", "to_numpy")
        data = small_media["video"].read_bytes()
        _check(
            lambda: io.to_numpy(io.convert_frames(io.decode_packets(io.demux_video(data)))),
            "demux_video(bytes) + decode_packets + convert_frames",
        )
    elif kind == "video_load":
        _need("load_video", "to_numpy")
        data = small_media["video"].read_bytes()
        _check(lambda: io.to_numpy(io.load_video(data)), "load_video(bytes)")
    elif kind == "audio_bytes":
        _need("load_audio", "to_numpy")
        data = small_media["audio"].read_bytes()
        _check(lambda: io.to_numpy(io.load_audio(data)), "load_audio(bytes)")
    elif kind == "broken_bytes":
        # Error paths are where native code most often forgets to free.
        _need("load_image", "MediaError")
        data = small_media["jpeg"].read_bytes()
        broken = data[: len(data) // 3]

        def fail():
            try:
                io.load_image(broken)
            except io.MediaError:
                return
            raise AssertionError("a third of a JPEG decoded without an error")

        _check(fail, "load_image(truncated bytes) raising MediaError")
    elif kind == "array":
        _need("load_image", "to_numpy")
        import numpy as np

        arr = np.frombuffer(small_media["jpeg"].read_bytes(), dtype=np.uint8)
        _check(lambda: io.to_numpy(io.load_image(arr)).sum(), "load_image(numpy array)")
    elif kind == "image_batch":
        _need("load_image_batch", "to_numpy")
        jpeg, png = small_media["jpeg"].read_bytes(), str(small_media["png"])
        _check(
            lambda: io.to_numpy(io.load_image_batch([jpeg, png, jpeg], width=16, height=12)),
            "load_image_batch(bytes and paths)",
        )
    elif kind == "image_batch_lenient":
        # Skipped images: the per-image error objects and the half-filled batch must all go.
        _need("load_image_batch", "to_numpy")
        jpeg = small_media["jpeg"].read_bytes()
        broken = jpeg[: len(jpeg) // 3]

        def lenient():
            buf, failures = io.load_image_batch(
                [broken, jpeg, b"not an image"], width=16, height=12, strict=False
            )
            assert io.to_numpy(buf).shape[0] == 1 and len(failures) == 2

        # Each skipped image is also logged; pytest would keep every record for its report.
        logger = logging.getLogger("spdl.io")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            _check(lenient, "load_image_batch(strict=False, 2 of 3 broken)")
        finally:
            logger.setLevel(level)


def test_pipeline_start_stop_cycles_do_not_leak():
    pipeline_mod = pytest.importorskip("spdl.pipeline")
    if not hasattr(pipeline_mod, "PipelineBuilder"):
        pytest.skip("spdl.pipeline has no PipelineBuilder yet")
    from spdl.pipeline import PipelineBuilder

    async def double(x):
        return 2 * x

    def cycle(i: int) -> None:
        pipeline = (
            PipelineBuilder()
            .add_source(range(60))
            .pipe(lambda x: x + 1, concurrency=4)
            .pipe(double, concurrency=2)
            .aggregate(8)
            .add_sink(buffer_size=2)
            .build(num_threads=4)
        )
        with pipeline.auto_stop():
            for n, batch in enumerate(pipeline):
                if i % 2 and n == 2:  # half the cycles break out early
                    break
                assert all(v % 2 == 0 for v in batch)

    before = set(threading.enumerate())
    for i in range(10):
        cycle(i)
    heap0, rss0 = _sample()
    for i in range(100):
        cycle(i)
    heap1, rss1 = _sample()
    print(f"100 pipeline cycles: heap {heap1 - heap0:+d} B, RSS {rss1 - rss0:+d} B")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left:
            break
        time.sleep(0.02)
    assert not left, f"threads left after 110 cycles: {[t.name for t in left]}"
    assert rss1 - rss0 < 2 * 1024 * 1024, f"RSS grew {rss1 - rss0} bytes over 100 cycles"
    assert heap1 - heap0 < 256 * 1024, f"native heap grew {heap1 - heap0} bytes over 100 cycles"
