"""Streaming: a long video decodes chunk by chunk in bounded memory, equal to a full decode."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

import spdl.io

import media

_STREAM = """
import itertools, json, resource, sys
import spdl.io

path, num_packets = sys.argv[1], int(sys.argv[2])
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

frames = 0
checksum = 0
with spdl.io.Demuxer(path) as demuxer:
    chunks = demuxer.streaming_demux("video", num_packets=num_packets)
    first = next(chunks)
    decoder = spdl.io.Decoder(first)
    base = None
    for chunk in itertools.chain([first], chunks):
        out = decoder.decode(chunk)
        if len(out):
            array = spdl.io.to_numpy(spdl.io.convert_frames(out))
            frames += array.shape[0]
            checksum += int(array[:, ::97, ::89].sum())
        if base is None:
            base = peak_mb()  # after the first chunk: the decoder and its buffers exist
    out = decoder.flush()
    if len(out):
        array = spdl.io.to_numpy(spdl.io.convert_frames(out))
        frames += array.shape[0]
        checksum += int(array[:, ::97, ::89].sum())
print(json.dumps({"frames": frames, "growth_mb": peak_mb() - base, "checksum": checksum}))
"""


def test_ten_minute_720p_streams_in_bounded_memory(tmp_path):
    # 10 minutes of 1280x720 at 1 fps: 600 frames, 1.6 GB as rgb24 if held at once.
    path = media.make_video(
        tmp_path / "ten_minutes.mp4",
        width=1280,
        height=720,
        rate=1,
        duration=600,
        extra=("-preset", "ultrafast", "-g", "10"),
    )
    out = subprocess.run(
        [sys.executable, "-c", _STREAM, str(path), "4"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result = json.loads(out.stdout)
    assert result["frames"] == 600
    assert result["growth_mb"] < 100, result


def test_streaming_decode_equals_full_decode(io_media):
    path = io_media("h264")
    ref = media.reference_video(path)
    parts = []
    with spdl.io.Demuxer(path) as demuxer:
        decoder = None
        for chunk in demuxer.streaming_demux("video", num_packets=4):
            assert len(chunk) <= 4
            decoder = decoder or spdl.io.Decoder(chunk)
            frames = decoder.decode(chunk)
            if len(frames):
                parts.append(spdl.io.to_numpy(spdl.io.convert_frames(frames)))
        parts.append(spdl.io.to_numpy(spdl.io.convert_frames(decoder.flush())))
    np.testing.assert_array_equal(np.concatenate(parts), ref)


def test_streaming_a_window(io_media):
    path = io_media("hevc")
    ref = media.reference_video(path)
    with spdl.io.Demuxer(path) as demuxer:
        chunks = list(demuxer.streaming_demux("video", num_packets=3, timestamp=(0.4, 0.8)))
    decoder = spdl.io.Decoder(chunks[0])
    frames = [decoder.decode(c) for c in chunks] + [decoder.flush()]
    out = np.concatenate([spdl.io.to_numpy(spdl.io.convert_frames(f)) for f in frames if len(f)])
    np.testing.assert_array_equal(out, ref[10:20])


def test_streaming_audio(io_media):
    path = io_media("flac")
    full = spdl.io.to_numpy(spdl.io.load_audio(path))
    with spdl.io.Demuxer(path) as demuxer:
        chunks = list(demuxer.streaming_demux("audio", num_packets=2))
    decoder = spdl.io.Decoder(chunks[0])
    frames = [decoder.decode(c) for c in chunks] + [decoder.flush()]
    out = np.concatenate(
        [spdl.io.to_numpy(spdl.io.convert_frames(f)) for f in frames if len(f)], axis=1
    )
    np.testing.assert_array_equal(out, full)


def test_streamed_chunks_in_recycled_buffers_stay_exact(tmp_path):
    # 640x480 rgb24 chunks of 4 frames are 3.7 MB: each comes from the pool of large blocks,
    # recycled from the chunks dropped before. Keeping every other chunk alive checks that a
    # block still viewed by an array is never written again.
    path = media.make_video(tmp_path / "vga.mp4", width=640, height=480, duration=2.0,
                            extra=("-bf", "2", "-g", "12"))  # fmt: skip
    ref = media.reference_video(path)
    kept, seen = [], 0
    with spdl.io.Demuxer(path) as demuxer:
        decoder = None
        for chunk in demuxer.streaming_demux("video", num_packets=4):
            decoder = decoder or spdl.io.Decoder(chunk)
            frames = decoder.decode(chunk)
            if len(frames):
                array = spdl.io.to_numpy(spdl.io.convert_frames(frames))
                np.testing.assert_array_equal(array, ref[seen : seen + len(array)])
                if len(kept) % 2 == 0:
                    kept.append((seen, array))
                else:
                    kept.append((seen, None))
                seen += len(array)
        array = spdl.io.to_numpy(spdl.io.convert_frames(decoder.flush()))
        np.testing.assert_array_equal(array, ref[seen:])
        seen += len(array)
    assert seen == len(ref) == 50
    for start, array in kept:
        if array is not None:
            np.testing.assert_array_equal(array, ref[start : start + len(array)])
