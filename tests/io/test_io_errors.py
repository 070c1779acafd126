"""Broken, truncated, empty and random input: MediaError subclasses with useful messages, the
same from bytes and from a path, no leaks, and limits against decompression bombs."""

from __future__ import annotations

import gc
import os
import warnings

import numpy as np
import psutil
import pytest

import spdl.io

import media

_LOADERS = {"video": spdl.io.load_video, "audio": spdl.io.load_audio, "image": spdl.io.load_image}


def _both(tmp_path, data: bytes, name: str):
    path = tmp_path / name
    path.write_bytes(data)
    return data, path


@pytest.mark.parametrize(
    "name, kind",
    [
        ("h264", "video"),
        ("jpeg_yuvj420p", "image"),
        ("png_rgb24", "image"),
        ("wav", "audio"),
        ("mp3", "audio"),
        ("flac", "audio"),
    ],
)
@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_media_raises(io_media, tmp_path, name, kind, fraction):
    path = io_media(name)
    data = path.read_bytes()
    cut = data[: int(len(data) * fraction)]
    errors = []
    for src in _both(tmp_path, cut, "cut" + path.suffix):
        with pytest.raises(spdl.io.MediaError) as info:
            _LOADERS[kind](src)
        err = info.value
        assert err.step in ("open", "demux", "decode")
        assert err.source and err.source in str(err)
        errors.append(err)
    # The same file behaves the same from bytes and from a path.
    assert type(errors[0]) is type(errors[1])
    assert errors[0].step == errors[1].step


def test_truncated_video_with_allow_partial_says_what_was_lost(io_media, tmp_path):
    # moov first (faststart), so a cut keeps the index and loses the tail of the data.
    path = media.make_video(tmp_path / "fast.mp4", duration=1.0, extra=("-movflags", "+faststart"))
    cut = path.read_bytes()[: int(path.stat().st_size * 0.6)]
    with pytest.raises(spdl.io.TruncatedMediaError, match="allow_partial"):
        spdl.io.load_video(cut)
    with pytest.warns(spdl.io.PartialDecodeWarning):
        packets = spdl.io.demux_video(cut, allow_partial=True)
        frames = spdl.io.decode_packets(packets, allow_partial=True)
    assert 0 < len(frames) < 25
    assert packets.issues and frames.issues  # says what was lost
    assert "incomplete packet" in frames.issues[0]
    # What is returned is right: each frame equals the full decode's frame at its time.
    ref = media.reference_video(path)
    out = spdl.io.to_numpy(spdl.io.convert_frames(frames))
    index = [round(t * 25) for t in frames.get_timestamps()]
    np.testing.assert_array_equal(out, ref[index])


@pytest.mark.parametrize("kind", ["video", "audio", "image"])
@pytest.mark.parametrize(
    "data",
    [b"", b"\x00" * 4096, np.random.default_rng(0).bytes(20000), b"RIFF\x10\x00\x00\x00WAVE"],
    ids=["empty", "zeros", "random", "wav-header-only"],
)
def test_garbage_raises_media_error_from_bytes_and_path(tmp_path, kind, data):
    errors = []
    for src in _both(tmp_path, data, "garbage.bin"):
        with pytest.raises(spdl.io.MediaError) as info:
            _LOADERS[kind](src)
        assert info.value.source in str(info.value)
        errors.append(info.value)
    assert type(errors[0]) is type(errors[1])


def test_corrupted_bytes_in_the_middle(io_media):
    data = bytearray(io_media("h264").read_bytes())
    rng = np.random.default_rng(1)
    raised = 0
    for _ in range(6):
        broken = bytearray(data)
        pos = int(rng.integers(len(data) // 3, len(data) - 400))
        broken[pos : pos + 300] = rng.bytes(300)
        try:
            out = spdl.io.to_numpy(spdl.io.load_video(bytes(broken)))
        except spdl.io.MediaError as e:
            assert e.step in ("demux", "decode")
            raised += 1
        else:
            assert out.shape[1:] == (240, 320, 3)  # damage outside the pictures: a full result
    assert raised >= 3


def test_messages_name_source_step_and_ffmpeg(tmp_path, io_media):
    with pytest.raises(spdl.io.DemuxError) as info:
        spdl.io.load_video(io_media("h264").read_bytes()[:2000])
    err = info.value
    assert "moov atom not found" in str(err)
    assert "in-memory bytes" in err.source
    assert err.step == "open"
    assert err.code is not None and err.code < 0


def test_missing_stream_and_missing_file(io_media, tmp_path):
    with pytest.raises(spdl.io.DemuxError, match="No audio stream"):
        spdl.io.load_audio(io_media("h264"))
    with pytest.raises(FileNotFoundError):
        spdl.io.load_video(tmp_path / "nope.mp4")
    with pytest.raises(FileNotFoundError):
        spdl.io.Demuxer(str(tmp_path / "nope.mp4"))


def test_bad_arguments(io_media):
    path = io_media("h264")
    with pytest.raises(TypeError):
        spdl.io.load_video(1234)
    with pytest.raises(ValueError):
        spdl.io.demux_video(path, timestamp=(2.0, 1.0))
    with pytest.raises(TypeError):
        spdl.io.demux_video(path, timestamp="0-1")
    with pytest.raises(ValueError):
        spdl.io.demux_video(path, timestamp=(-1.0, 1.0))
    with pytest.raises(spdl.io.InvalidFilterError):
        spdl.io.load_video(path, filter_desc="nosuchfilter=1")
    with pytest.raises(ValueError):  # InvalidFilterError is a ValueError
        spdl.io.load_video(path, filter_desc="scale=w=abc")
    with pytest.raises(TypeError):
        spdl.io.load_video(path, filter_desc=3)
    with pytest.raises(ValueError):
        spdl.io.decode_config(max_pixels=-1)
    with pytest.raises(ValueError):
        spdl.io.load_video(path, decode_config=spdl.io.decode_config(decoder="nosuchcodec"))
    with pytest.raises(ValueError):
        spdl.io.get_video_filter_desc(scale_width=-3)
    with pytest.raises(ValueError):
        spdl.io.get_video_filter_desc(scale_mode="squash", scale_width=3, scale_height=3)
    with pytest.raises(ValueError):
        spdl.io.load_video(path, timeout=0)


def test_decompression_bombs_are_refused(tmp_path):
    # A tiny video of flat 4K frames: kilobytes on disk, 530 MB as rgb24.
    path = media.make_video(
        tmp_path / "bomb.mp4", width=4096, height=2160, rate=1, duration=20, source="color"
    )
    assert path.stat().st_size < 50_000
    with pytest.raises(spdl.io.MediaTooLargeError, match="max_bytes"):
        spdl.io.load_video(path)
    # A tiny PNG of a huge, flat image: 144 megapixels.
    path = media.make_image(
        tmp_path / "bomb.png",
        width=12000,
        height=12000,
        source="color",
        pix_fmt="monob",
        extra=("-compression_level", "9"),
    )
    assert path.stat().st_size < 50_000
    with pytest.raises(spdl.io.MediaTooLargeError, match="max_pixels"):
        spdl.io.load_image(path)
    # Asked for explicitly, it decodes (gray keeps the test light).
    cfg = spdl.io.decode_config(max_pixels=0, max_bytes=0)
    out = spdl.io.to_numpy(
        spdl.io.load_image(path, decode_config=cfg, filter_desc="scale=120:120,format=gray")
    )
    assert out.shape == (120, 120, 1)


def test_byte_limit_stops_long_decodes(io_media):
    path = io_media("h264")  # 25 frames of 230 KB as rgb24
    cfg = spdl.io.decode_config(max_bytes=1_000_000)
    with pytest.raises(spdl.io.MediaTooLargeError, match="max_bytes"):
        spdl.io.load_video(path, decode_config=cfg)
    limits = spdl.io.get_decode_limits()
    try:
        spdl.io.set_decode_limits(max_bytes=1_000_000)
        with pytest.raises(spdl.io.MediaTooLargeError):
            spdl.io.load_video(path)
        # A scale filter that blows frames up counts as well.
        spdl.io.set_decode_limits(max_bytes=0, max_pixels=100_000)
        with pytest.raises(spdl.io.MediaTooLargeError):
            spdl.io.load_video(path, filter_desc="scale=1000:1000,format=rgb24")
    finally:
        spdl.io.set_decode_limits(**limits)
    assert spdl.io.get_decode_limits() == limits


def _rss_mb() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


@pytest.mark.parametrize("from_bytes", [False, True])
def test_failing_calls_do_not_leak(io_media, tmp_path, from_bytes):
    cut = io_media("h264").read_bytes()
    cut = cut[: len(cut) // 2]  # moov at the end: open fails
    broken = io_media("jpeg_yuvj420p").read_bytes()
    broken = broken[: len(broken) // 2]  # decode fails
    src1, src2 = (
        (cut, broken)
        if from_bytes
        else _both(tmp_path, cut, "c.mp4")[1:] + _both(tmp_path, broken, "b.jpg")[1:]
    )

    def once():
        for src, load in ((src1, spdl.io.load_video), (src2, spdl.io.load_image)):
            with pytest.raises(spdl.io.MediaError):
                load(src)

    for _ in range(30):
        once()
    gc.collect()
    before = _rss_mb()
    for _ in range(300):
        once()
    gc.collect()
    assert _rss_mb() - before < 10


def test_successful_calls_do_not_leak(io_media):
    data = io_media("jpeg_yuvj444p").read_bytes()
    for _ in range(30):
        spdl.io.load_image(data)
    gc.collect()
    before = _rss_mb()
    for _ in range(300):
        spdl.io.to_numpy(spdl.io.load_image(data)).sum()
    gc.collect()
    assert _rss_mb() - before < 10


def test_timeout_and_cancel(io_media):
    import threading
    import time

    path = io_media("long")
    packets = spdl.io.demux_video(path)
    with pytest.raises(spdl.io.MediaTimeoutError, match="Timed out"):
        spdl.io.decode_packets(packets, timeout=1e-6)
    with pytest.raises(TimeoutError):  # a MediaTimeoutError is a TimeoutError
        spdl.io.load_video(path, timeout=1e-6)

    decoder = spdl.io.Decoder(packets)
    result = {}

    def work():
        t0 = time.monotonic()
        try:
            decoder.decode(packets)
        except spdl.io.MediaTimeoutError as e:
            result["error"] = e
        result["elapsed"] = time.monotonic() - t0

    with warnings.catch_warnings():
        thread = threading.Thread(target=work)
        thread.start()
        time.sleep(0.05)
        decoder.cancel()
        thread.join(30)
    assert not thread.is_alive()
    assert "Cancelled" in str(result["error"])
    with pytest.raises(spdl.io.MediaTimeoutError):
        decoder.decode(packets)  # cancellation sticks


def test_no_frame_decoded_is_a_decode_error_not_an_index_error(io_media):
    packets = spdl.io.demux_video(io_media("h264"))
    mid = packets.pts
    assert mid
    # A window past the end of the clip holds no frame.
    with pytest.raises(spdl.io.MediaError):
        spdl.io.load_video(io_media("h264"), timestamp=(50.0, 60.0))
