"""Sources: paths and in-memory data read in place, and the errors of broken input."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import spdl.io
from spdl._ext import _source


def _in_memory_kinds(data: bytes):
    return {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "numpy": np.frombuffer(data, dtype=np.uint8),
    }


@pytest.mark.parametrize("kind", ["str", "pathlike", "bytes", "bytearray", "memoryview", "numpy"])
def test_every_source_kind_opens(h264_video, kind):
    data = h264_video.read_bytes()
    src = {"str": str(h264_video), "pathlike": Path(h264_video), **_in_memory_kinds(data)}[kind]
    inp = _source._open(src)
    assert inp.format_name.startswith("mov,mp4")
    assert inp.num_streams == 1


def test_in_memory_source_is_read_in_place(h264_video):
    # While the input is open its memory is exported, not copied: a bytearray cannot be resized.
    data = bytearray(h264_video.read_bytes())
    inp = _source._open(data)
    with pytest.raises(BufferError):
        data.extend(b"x")
    del inp
    data.extend(b"x")


def test_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        _source._open(tmp_path / "missing.mp4")
    with pytest.raises(FileNotFoundError):
        _source._open(str(tmp_path / "missing.mp4"))


@pytest.mark.parametrize(
    "src, exc",
    [
        (3, TypeError),
        (np.zeros(8, dtype=np.float32), TypeError),
        (np.zeros((2, 8), dtype=np.uint8), ValueError),
        (np.zeros(16, dtype=np.uint8)[::2], ValueError),
        (memoryview(np.zeros((2, 2), dtype=np.uint8)), ValueError),
        ("", ValueError),
    ],
)
def test_bad_source_arguments(src, exc):
    with pytest.raises(exc):
        _source._open(src)


@pytest.mark.parametrize(
    "make", [lambda d: b"", lambda d: d[: len(d) // 10], lambda d: bytes(5000)]
)
def test_broken_input_raises_media_error_from_bytes_and_path(h264_video, tmp_path, make):
    data = make(h264_video.read_bytes())
    path = tmp_path / "broken.mp4"
    path.write_bytes(data)
    with pytest.raises(spdl.io.DemuxError) as from_bytes:
        _source._open(data)
    with pytest.raises(spdl.io.DemuxError) as from_path:
        _source._open(path)
    for err in (from_bytes.value, from_path.value):
        assert err.step == "open"
        assert err.source
        assert err.source in str(err)
    assert str(path) in from_path.value.source
    # (FFmpeg's words may differ: a path's extension steers format probing, bytes have none.)
    assert type(from_bytes.value) is type(from_path.value)


def test_truncated_mp4_quotes_ffmpeg(h264_video):
    with pytest.raises(spdl.io.DemuxError, match="moov atom not found"):
        _source._open(h264_video.read_bytes()[:3000])


def test_media_errors_pickle():
    for cls in [
        spdl.io.MediaError,
        spdl.io.DemuxError,
        spdl.io.DecodeError,
        spdl.io.FilterError,
        spdl.io.InvalidFilterError,
        spdl.io.UnsupportedMediaError,
        spdl.io.MediaTooLargeError,
        spdl.io.MediaTimeoutError,
        spdl.io.TruncatedMediaError,
    ]:
        err = cls("boom", source="'a.mp4'", step="decode", ffmpeg_message="bad data", code=-22)
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is cls
        assert str(back) == "boom"
        assert (back.source, back.step, back.ffmpeg_message, back.code) == (
            "'a.mp4'",
            "decode",
            "bad data",
            -22,
        )
        assert isinstance(back, spdl.io.MediaError)
    assert issubclass(spdl.io.MediaTimeoutError, TimeoutError)
    assert issubclass(spdl.io.InvalidFilterError, ValueError)
