"""Direct mode: ``Decoder.decode_to_buffer`` (and ``load_video``) put each frame straight into the
output buffer, and a chain that only converts the pixel format runs FFmpeg's scaler into it
itself. Every byte must be the filter graph's, and so the ``ffmpeg`` command line's."""

from __future__ import annotations

import numpy as np
import pytest

import spdl.io
import spdl.io.utils

import media

# The straight scaler repeats FFmpeg 5.x's vf_scale; with other versions the graph does the work.
_VERSIONS = spdl.io.utils.get_ffmpeg_versions()
SCALER = _VERSIONS["libavfilter"].startswith("8.") and _VERSIONS["libswscale"].startswith("6.")


@pytest.fixture(scope="module")
def clips(tmp_path_factory, io_media):
    d = tmp_path_factory.mktemp("direct")
    tagged = ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709")
    made = {
        "h264": io_media("h264"),
        "hevc": io_media("hevc"),
        "vp9": io_media("vp9"),
        "mpeg4": io_media("mpeg4"),
        "odd444": io_media("h264_odd_444"),
        # Full-range frames (color_range=pc): the scaler is made for the frame's range.
        "full": media.make_video(d / "full.mp4", pix_fmt="yuvj420p", duration=0.6),
        # BT.709-tagged frames: the scaler's matrix follows the frame.
        "bt709": media.make_video(d / "bt709.mp4", duration=0.6, extra=tagged),
        "vga444": media.make_video(
            d / "vga444.mp4", width=640, height=480, duration=0.4, pix_fmt="yuv444p"
        ),
        "vga420": media.make_video(d / "vga420.mp4", width=640, height=480, duration=0.4),
    }
    return made


def _stream(path, filter_desc, *, direct, num_packets=4):
    """Every frame of ``path``, chunk by chunk, through decode_to_buffer or decode."""
    parts = []
    decoder = None
    with spdl.io.Demuxer(path) as demuxer:
        for chunk in demuxer.streaming_demux("video", num_packets=num_packets):
            decoder = decoder or spdl.io.Decoder(chunk, filter_desc=filter_desc)
            if direct:
                buf = decoder.decode_to_buffer(chunk)
            else:
                frames = decoder.decode(chunk)
                buf = spdl.io.convert_frames(frames) if len(frames) else None
            if buf is not None:
                parts.append(spdl.io.to_numpy(buf))
        if direct:
            buf = decoder.flush_to_buffer()
        else:
            frames = decoder.flush()
            buf = spdl.io.convert_frames(frames) if len(frames) else None
        if buf is not None:
            parts.append(spdl.io.to_numpy(buf))
    return np.concatenate(parts), decoder


# (clip, output pixel format, whether the scaler runs without the graph: None where that depends
# on the CPU). The width and every plane's row must be multiples of the alignment of FFmpeg's
# frames (16 to 64 bytes): 320 and 640 pixels wide are; 321 is not, and neither are the
# 160-byte chroma rows of a 320-wide yuv420p frame.
CASES = [
    ("h264", "rgb24", True),
    ("h264", "bgr24", True),
    ("h264", "rgba", True),
    ("h264", "gray", True),
    ("hevc", "rgb24", True),
    ("vp9", "rgb24", True),
    ("mpeg4", "rgb24", True),
    ("full", "rgb24", True),
    ("bt709", "rgb24", True),
    ("vga444", "yuv420p", True),
    ("vga420", "yuv444p", True),
    ("vga420", "gray16le", True),
    ("h264", "yuv444p", True),
    ("h264", "yuv420p", None),
    ("odd444", "rgb24", False),
]


@pytest.mark.parametrize("clip, pix_fmt, direct", CASES)
def test_direct_conversion_equals_the_filter_graph(clips, clip, pix_fmt, direct):
    path = clips[clip]
    got, decoder = _stream(path, f"format={pix_fmt}", direct=True)
    # "copy" keeps the chain off the direct path: the reference goes through the graph.
    ref, _ = _stream(path, f"format={pix_fmt},copy", direct=False)
    if direct is not None:
        assert decoder._converts_directly is (direct and SCALER)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    whole = spdl.io.to_numpy(spdl.io.load_video(path, filter_desc=f"format={pix_fmt}"))
    np.testing.assert_array_equal(whole, ref)


@pytest.mark.parametrize("clip", ["h264", "full", "bt709"])
def test_direct_rgb24_matches_ffmpeg(clips, clip):
    got, decoder = _stream(clips[clip], "format=rgb24", direct=True, num_packets=3)
    assert decoder._converts_directly is SCALER
    np.testing.assert_array_equal(got, media.reference_video(clips[clip]))


def test_decode_to_buffer_is_none_until_a_frame_is_ready(clips):
    # B-frames delay the first frame: the first one-packet chunks give nothing yet.
    with spdl.io.Demuxer(clips["h264"]) as demuxer:
        chunks = list(demuxer.streaming_demux("video", num_packets=1))
    decoder = spdl.io.Decoder(chunks[0])
    outs = [decoder.decode_to_buffer(c) for c in chunks]
    assert outs[0] is None
    rest = decoder.flush_to_buffer()
    assert rest is not None
    got = np.concatenate([spdl.io.to_numpy(b) for b in outs if b is not None]
                         + [spdl.io.to_numpy(rest)])  # fmt: skip
    np.testing.assert_array_equal(got, media.reference_video(clips["h264"]))
    assert decoder.flush_to_buffer() is None
    with pytest.raises(ValueError, match="flushed"):
        decoder.decode_to_buffer(chunks[0])


def test_decode_to_buffer_keeps_the_byte_limit_per_call(clips):
    with spdl.io.Demuxer(clips["h264"]) as demuxer:
        chunks = list(demuxer.streaming_demux("video", num_packets=10))
    frame = 320 * 240 * 3
    config = spdl.io.decode_config(max_bytes=6 * frame)
    decoder = spdl.io.Decoder(chunks[0], decode_config=config)
    with pytest.raises(spdl.io.MediaTooLargeError, match="max_bytes"):
        decoder.decode_to_buffer(chunks[0])
    small = spdl.io.Decoder(chunks[0], decode_config=spdl.io.decode_config(max_bytes=20 * frame))
    out = [small.decode_to_buffer(c) for c in chunks[:2]]
    assert sum(len(spdl.io.to_numpy(b)) for b in out if b is not None) > 0


def test_decode_to_buffer_keeps_arrays_of_earlier_calls(clips):
    # Output blocks are recycled once their buffer is gone, never while an array views one.
    ref = media.reference_video(clips["vga420"])
    kept, seen = [], 0
    with spdl.io.Demuxer(clips["vga420"]) as demuxer:
        decoder = None
        for chunk in demuxer.streaming_demux("video", num_packets=2):
            decoder = decoder or spdl.io.Decoder(chunk)
            buf = decoder.decode_to_buffer(chunk)
            if buf is None:
                continue
            array = spdl.io.to_numpy(buf)
            kept.append((seen, array if len(kept) % 2 == 0 else None))
            seen += len(array)
        last = spdl.io.to_numpy(decoder.flush_to_buffer())
    np.testing.assert_array_equal(last, ref[seen:])
    for start, array in kept:
        if array is not None:
            np.testing.assert_array_equal(array, ref[start : start + len(array)])


def test_decode_to_buffer_for_audio(io_media):
    path = io_media("flac")
    with spdl.io.Demuxer(path) as demuxer:
        chunks = list(demuxer.streaming_demux("audio", num_packets=2))
    decoder = spdl.io.Decoder(chunks[0])
    outs = [decoder.decode_to_buffer(c) for c in chunks] + [decoder.flush_to_buffer()]
    got = np.concatenate([spdl.io.to_numpy(b) for b in outs if b is not None], axis=1)
    np.testing.assert_array_equal(got, spdl.io.to_numpy(spdl.io.load_audio(path)))


def test_decode_and_decode_to_buffer_mix_on_one_decoder(clips):
    # The graph and the straight scaler share one decoder: alternating calls lose no frame and
    # give the same bytes, whichever path each frame took.
    path = clips["h264"]
    parts = []
    with spdl.io.Demuxer(path) as demuxer:
        decoder = None
        for k, chunk in enumerate(demuxer.streaming_demux("video", num_packets=3)):
            decoder = decoder or spdl.io.Decoder(chunk)
            if k % 2:
                frames = decoder.decode(chunk)
                buf = spdl.io.convert_frames(frames) if len(frames) else None
            else:
                buf = decoder.decode_to_buffer(chunk)
            if buf is not None:
                parts.append(spdl.io.to_numpy(buf))
        parts.append(spdl.io.to_numpy(spdl.io.convert_frames(decoder.flush())))
    assert decoder._converts_directly is SCALER
    np.testing.assert_array_equal(np.concatenate(parts), media.reference_video(path))


def test_decode_to_buffer_in_a_window(clips):
    path = clips["hevc"]
    ref = media.reference_video(path)
    with spdl.io.Demuxer(path) as demuxer:
        chunks = list(demuxer.streaming_demux("video", num_packets=3, timestamp=(0.4, 0.8)))
    decoder = spdl.io.Decoder(chunks[0])
    outs = [decoder.decode_to_buffer(c) for c in chunks] + [decoder.flush_to_buffer()]
    got = np.concatenate([spdl.io.to_numpy(b) for b in outs if b is not None])
    np.testing.assert_array_equal(got, ref[10:20])
