"""The GIL is released in the native loops, threads decode in parallel, and zero-copy arrays keep
what they view alive, then free it."""

from __future__ import annotations

import gc
import itertools
import sys
import threading
import time
import weakref

import numpy as np
import pytest

import spdl.io

import media


@pytest.fixture
def long_switch_interval():
    # With a 5 s switch interval, a thread that holds the GIL in native code keeps every other
    # Python thread waiting for the whole call: what the tests below would then see.
    before = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    yield
    sys.setswitchinterval(before)


def _spin(stop: threading.Event, marks: list) -> None:
    """Pure-Python work: count, noting (time, count) every 1000 steps."""
    n = 0
    while not stop.is_set():
        for _ in range(1000):
            n += 1
        marks.append((time.perf_counter(), n))


def _rate(marks, t0, t1):
    inside = [(t, n) for t, n in marks if t0 <= t <= t1]
    return (inside[-1][1] - inside[0][1]) / (t1 - t0), [t for t, _ in inside]


def test_python_thread_runs_while_another_decodes(io_media, long_switch_interval):
    packets = spdl.io.demux_video(io_media("long"))
    spdl.io.decode_packets(packets, filter_desc=None)  # warm up

    stop, marks = threading.Event(), []
    spinner = threading.Thread(target=_spin, args=(stop, marks))
    spinner.start()
    time.sleep(0.3)
    s0 = time.perf_counter()
    time.sleep(0.3)
    solo, _ = _rate(marks, s0, time.perf_counter())
    t0 = time.perf_counter()
    frames = spdl.io.decode_packets(packets)
    t1 = time.perf_counter()
    stop.set()
    spinner.join()
    assert len(frames) == 500
    rate, times = _rate(marks, t0, t1)
    # The spinner ran all through the decode: no gap longer than a fifth of it ...
    stamps = [t0, *times, t1]
    assert max(b - a for a, b in itertools.pairwise(stamps)) < 0.2 * (t1 - t0)
    # ... and at a good share of its solo rate.
    assert rate > 0.25 * solo, (rate, solo)


def test_two_decoding_threads_overlap(io_media, long_switch_interval):
    packets = spdl.io.demux_video(io_media("long"))
    spans = {}

    def work(i):
        t0 = time.perf_counter()
        spdl.io.decode_packets(packets)
        spans[i] = (t0, time.perf_counter())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a0, a1), (b0, b1) = spans[0], spans[1]
    overlap = min(a1, b1) - max(a0, b0)
    # Holding the GIL, the second call could start only when the first ended.
    assert overlap > 0.5 * min(a1 - a0, b1 - b0)


def test_many_threads_decode_the_same_correctly(io_media):
    from concurrent.futures import ThreadPoolExecutor

    paths = [io_media("h264"), io_media("jpeg_yuvj444p"), io_media("wav")]
    refs = [
        media.reference_video(paths[0]),
        media.reference_video(paths[1])[0],
        spdl.io.to_numpy(spdl.io.load_audio(paths[2])),
    ]
    loads = [spdl.io.load_video, spdl.io.load_image, spdl.io.load_audio]

    def one(i):
        k = i % 3
        src = paths[k] if i % 2 else paths[k].read_bytes()
        return k, spdl.io.to_numpy(loads[k](src))

    with ThreadPoolExecutor(8) as pool:
        for k, out in pool.map(one, range(48)):
            np.testing.assert_array_equal(out, refs[k])


def test_array_outlives_everything_then_all_is_freed(io_media):
    path = io_media("h264")
    ref = media.reference_video(path)
    source = np.frombuffer(path.read_bytes(), np.uint8).copy()
    source_ref = weakref.ref(source)
    packets = spdl.io.demux_video(source)
    frames = spdl.io.decode_packets(packets)
    buffer = spdl.io.convert_frames(frames)
    array = spdl.io.to_numpy(buffer)
    refs = [weakref.ref(o) for o in (packets, frames, buffer)]
    del source, packets, frames, buffer
    gc.collect()
    assert source_ref() is None  # packets own their data; the source is not kept
    assert [r() is None for r in refs] == [True, True, False]  # only the buffer lives on
    np.testing.assert_array_equal(array, ref)
    del array
    gc.collect()
    assert refs[2]() is None


def test_in_memory_source_is_held_only_while_demuxing(io_media):
    source = np.frombuffer(io_media("h264").read_bytes(), np.uint8).copy()
    ref = weakref.ref(source)
    demuxer = spdl.io.Demuxer(source)
    del source
    gc.collect()
    assert ref() is not None  # FFmpeg may still read it
    packets = demuxer.demux_video()
    demuxer.close()
    gc.collect()
    assert ref() is None
    assert len(spdl.io.decode_packets(packets)) == 25


def test_a_stateful_object_refuses_two_threads(io_media):
    packets = spdl.io.demux_video(io_media("long"))
    decoder = spdl.io.Decoder(packets)
    errors = []

    def work():
        try:
            decoder.decode(packets)
        except RuntimeError as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Either they did not overlap, or the second was refused; never a crash.
    assert len(errors) <= 1
    assert all("another thread" in str(e) for e in errors)
