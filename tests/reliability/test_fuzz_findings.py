"""Regression tests for what fuzzing found, each rebuilt from generated media (no saved inputs).

- Frames whose size changes mid-stream (found as mutated MJPEG, VP9 and GIF files; legal in a raw
  H.264 stream too) decoded natively and converted: ``convert_frames`` raised a bare
  ``ValueError``, outside the ``MediaError`` family that callers catch for broken media.
- A broken MPEG-2 TS whose packets lack timestamps and decode to fewer frames than
  ``num_frames`` counts: ``sample_decode_video`` with indices below ``num_frames`` raised the
  ``ValueError`` meant for out-of-range arguments. Replayed from the campaign input that found it
  (seed 2, input 54933); another ffmpeg build makes other seed bytes, so there the replay only
  checks the general rule: a result or a MediaError.
- ``load_video(..., filter_desc=None)`` of the same resolution change (frames copied straight
  into one buffer as they come) raised a bare ``ValueError``; it now raises ``ConvertError`` as
  ``convert_frames`` does.
- Audio whose sample rate and channel count change mid-stream (two MP3 or ADTS AAC streams
  joined: legal, and what a mutated file can look like) made the default filter graph fail, which
  was reported as ``InvalidFilterError``: a ``ValueError`` telling the user that their filter
  string is wrong. File-caused filter failures are now ``FilterError``; ``InvalidFilterError`` is
  kept for descriptions that fail to parse or whose filters reject their options.
"""

from __future__ import annotations

import random

import pytest

import media

io = pytest.importorskip("spdl.io")
if not hasattr(io, "convert_frames"):
    pytest.skip("spdl.io has no convert_frames yet", allow_module_level=True)


@pytest.fixture(scope="module")
def resolution_change(tmp_path_factory):
    """A raw H.264 stream of 5 frames at 64x48 followed by 5 at 32x24 (two encodes, joined)."""
    d = tmp_path_factory.mktemp("finding")
    parts = []
    for w, h in ((64, 48), (32, 24)):
        path = media.make_video(
            d / f"part{w}.h264", width=w, height=h, rate=10, duration=0.5, extra=("-f", "h264")
        )
        parts.append(path.read_bytes())
    out = d / "change.h264"
    out.write_bytes(b"".join(parts))
    return out


def test_size_change_in_native_frames_is_a_media_error(resolution_change):
    packets = io.demux_video(str(resolution_change))
    frames = io.decode_packets(packets, filter_desc=None)
    assert frames.num_frames == 10
    with pytest.raises(io.MediaError) as info:
        io.convert_frames(frames)
    assert isinstance(info.value, ValueError)  # still what callers of the old error caught
    assert "differs in size or format" in str(info.value)
    # The default filter graph scales every frame to the first one's size: no error there.
    assert io.to_numpy(io.convert_frames(io.decode_packets(packets))).shape == (10, 48, 64, 3)


def test_sample_decode_of_a_short_untimed_stream_is_a_media_error(fuzz_corpus):
    from fuzz import mutators

    _, seeds = fuzz_corpus
    others = [data for _, data in seeds.values()]
    data, applied = mutators.mutate(seeds["mpeg2.ts"][1], random.Random("2:54933"), others=others)
    assert applied == ["duplicate_chunk", "insert_random"]
    try:
        packets = io.demux_video(data)
        n = packets.num_frames
        frames = io.sample_decode_video(packets, [n - 1, 0, n // 2, 0])
    except io.MediaError as e:
        if len(data) == 13048:  # the very input the campaign found, on this toolchain
            assert "could not be decoded" in str(e)
        return
    assert frames.num_frames == 4


def test_size_change_loaded_natively_is_a_convert_error(resolution_change):
    with pytest.raises(io.ConvertError) as info:
        io.load_video(str(resolution_change), filter_desc=None)
    assert isinstance(info.value, io.MediaError) and isinstance(info.value, ValueError)
    assert info.value.step == "convert" and info.value.source
    assert "change size or pixel format" in str(info.value)


@pytest.fixture(scope="module", params=["mp3", "aac"])
def audio_format_change(request, tmp_path_factory):
    """0.5 s of 44.1 kHz stereo followed by 0.5 s of 22.05 kHz mono, two encodes joined."""
    d = tmp_path_factory.mktemp("finding-audio")
    ext = request.param
    parts = [
        media.make_audio(d / f"a.{ext}", sample_rate=44100, num_channels=2, duration=0.5),
        media.make_audio(d / f"b.{ext}", sample_rate=22050, num_channels=1, duration=0.5),
    ]
    out = d / f"change.{ext}"
    out.write_bytes(b"".join(p.read_bytes() for p in parts))
    return out


def test_audio_format_change_is_a_filter_error_not_an_invalid_filter(audio_format_change):
    data = audio_format_change.read_bytes()
    for call in (
        lambda: io.load_audio(data),
        lambda: io.decode_packets(io.demux_audio(str(audio_format_change))),
    ):
        with pytest.raises(io.FilterError) as info:
            call()
        assert not isinstance(info.value, io.InvalidFilterError), info.value
        assert not isinstance(info.value, ValueError)
        assert info.value.step == "filter"
        assert "Changing audio frame properties" in info.value.ffmpeg_message


def test_filter_errors_blame_the_description_only_when_it_is_wrong(resolution_change):
    path = str(resolution_change)
    # A valid chain that cannot take this source's frames (64x48 cannot be cropped to 640x480).
    with pytest.raises(io.FilterError) as info:
        io.load_video(path, filter_desc="crop=640:480")
    assert not isinstance(info.value, io.InvalidFilterError), info.value
    # Descriptions that are wrong whatever the source stay InvalidFilterError (a ValueError).
    for desc in ("nosuchfilter", "scale=w=abc", "format=nosuchformat", "crop=w=1:bogus=2"):
        with pytest.raises(io.InvalidFilterError) as info:
            io.load_video(path, filter_desc=desc)
        assert isinstance(info.value, ValueError) and info.value.step == "filter"
