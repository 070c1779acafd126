"""Hang protection: a decode that would run long stops at its time budget, or when another thread
cancels it, promptly, because the native loop runs without the GIL and checks both between
packets and frames."""

from __future__ import annotations

import threading
import time

import pytest

import media

io = pytest.importorskip("spdl.io")
if not all(hasattr(io, n) for n in ("demux_video", "decode_packets", "Decoder")):
    pytest.skip("spdl.io has no demux/decode entry points yet", allow_module_level=True)

# Upscaling every frame to 2048x2048 with lanczos and back is legal, finite and light on memory,
# but costs tens of milliseconds a frame: a stand-in for a pathological file that decodes slowly.
HEAVY = "scale=2048:2048:flags=lanczos,scale=16:16,format=rgb24"
SLACK = 1.0  # seconds a check may take to notice, on two busy shared cores


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    d = tmp_path_factory.mktemp("hang")
    return media.make_video(d / "long.mp4", width=64, height=48, rate=25, duration=24.0)


@pytest.fixture(scope="module")
def packets(long_video):
    return io.demux_video(str(long_video))


def _uninterrupted_seconds(path, packets) -> float:
    """How long the heavy decode takes without a budget, estimated from its first 0.8 s."""
    few = io.demux_video(str(path), timestamp=(0, 0.8))
    t0 = time.monotonic()
    io.decode_packets(few, filter_desc=HEAVY)
    return (time.monotonic() - t0) * packets.num_frames / max(1, few.num_frames)


def test_time_budget_stops_a_slow_decode(long_video, packets):
    full = _uninterrupted_seconds(long_video, packets)
    assert full > 2.0, f"the heavy decode is too fast ({full:.2f} s) to test a budget"
    t0 = time.monotonic()
    with pytest.raises(io.MediaTimeoutError) as info:
        io.decode_packets(packets, filter_desc=HEAVY, timeout=0.3)
    elapsed = time.monotonic() - t0
    assert elapsed < 0.3 + SLACK, f"stopped after {elapsed:.2f} s for a 0.3 s budget"
    assert isinstance(info.value, io.MediaError) and isinstance(info.value, TimeoutError)
    # The same packets decode fine afterwards: the budget belongs to the call, not the data.
    few = io.demux_video(str(long_video), timestamp=(0, 0.2))
    assert io.decode_packets(few, filter_desc=HEAVY, timeout=30).num_frames > 0


def test_cancel_from_another_thread_stops_a_decode(packets):
    decoder = io.Decoder(packets, filter_desc=HEAVY)
    outcome = {}
    ticks = 0

    def run():
        t0 = time.monotonic()
        try:
            decoder.decode(packets)
            outcome["result"] = "finished"
        except io.MediaTimeoutError as e:
            outcome["result"] = "cancelled"
            outcome["message"] = str(e)
        except BaseException as e:
            outcome["result"] = repr(e)
        outcome["seconds"] = time.monotonic() - t0

    worker = threading.Thread(target=run)
    worker.start()
    # The GIL is free while the decode runs: this thread keeps running Python meanwhile.
    t_end = time.monotonic() + 0.4
    while time.monotonic() < t_end:
        ticks += 1
    t_cancel = time.monotonic()
    decoder.cancel()
    worker.join(10)
    assert not worker.is_alive(), "the decode ignored cancel()"
    assert outcome["result"] == "cancelled", outcome
    assert time.monotonic() - t_cancel < SLACK
    assert ticks > 1000, "the main thread was starved: the decode held the GIL"
    # A cancelled decoder stays cancelled.
    with pytest.raises(io.MediaTimeoutError):
        decoder.decode(packets)


def test_demuxer_cancel_stops_demuxing_from_another_thread(long_video):
    """Cancel a Demuxer while another thread demuxes a large in-memory source chunk by chunk."""
    data = long_video.read_bytes()
    demuxer = io.Demuxer(data)
    seen = []

    def run():
        try:
            for chunk in demuxer.streaming_demux("video", num_packets=1):
                seen.append(len(chunk))
                time.sleep(0.01)
        except io.MediaTimeoutError:
            seen.append("cancelled")

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.2)
    demuxer.cancel()
    worker.join(10)
    assert not worker.is_alive()
    assert seen and seen[-1] == "cancelled", seen[-5:]
