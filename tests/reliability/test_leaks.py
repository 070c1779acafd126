"""Memory stays flat: 20,000 calls of each decode kind, and 100 pipeline start/stop cycles.

Resident memory (RSS) is read after a warm-up, halfway, and at the end, with ``gc.collect()`` and
glibc's ``malloc_trim`` first so freed memory is returned. A leak of N bytes per call grows RSS by
about N * calls; the bound below (``LEAK_BOUND`` over ``CALLS`` calls, i.e. under 27 bytes a call)
fails a leak the size of the 75 bytes a call seen in SPDL 0.8.0 when decoding from ``bytes``.
"""

from __future__ import annotations

import ctypes
import gc
import os
import threading
import time

import pytest

import media

psutil = pytest.importorskip("psutil")
io = pytest.importorskip("spdl.io")

CALLS = int(os.environ.get("SPDL_LEAK_CALLS", "20000"))
WARMUP = 1000
LEAK_BOUND = 512 * 1024  # bytes of RSS growth allowed over CALLS calls (after warm-up)

try:
    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):  # not glibc
    _malloc_trim = None


def _rss() -> int:
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)
    return psutil.Process().memory_info().rss


def _growth(fn, calls: int = CALLS) -> tuple[int, int]:
    """RSS growth (bytes) over the first and the second half of ``calls`` calls of ``fn``."""
    for _ in range(WARMUP):
        fn()
    r0 = _rss()
    for _ in range(calls // 2):
        fn()
    r1 = _rss()
    for _ in range(calls - calls // 2):
        fn()
    r2 = _rss()
    return r1 - r0, r2 - r1


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
    first, second = _growth(fn)
    total = first + second
    assert total < LEAK_BOUND, (
        f"{what}: RSS grew {first} + {second} bytes over {CALLS} calls "
        f"(~{total / CALLS:.1f} bytes a call)"
    )


KINDS = ["image_bytes", "image_path", "video_bytes", "audio_bytes", "broken_bytes", "array"]


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
    r0 = _rss()
    for i in range(100):
        cycle(i)
    growth = _rss() - r0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left:
            break
        time.sleep(0.02)
    assert not left, f"threads left after 110 cycles: {[t.name for t in left]}"
    assert growth < 2 * 1024 * 1024, f"RSS grew {growth} bytes over 100 start/stop cycles"
