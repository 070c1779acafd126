"""Decoding is bit-exact with the ``ffmpeg`` command line, for codecs, images, audio and filters."""

from __future__ import annotations

import pickle
from fractions import Fraction

import numpy as np
import pytest

import spdl.io

import media

get_desc = spdl.io.get_audio_filter_desc


def _video(src, **kwargs):
    return spdl.io.to_numpy(spdl.io.load_video(src, **kwargs))


@pytest.mark.parametrize("name", ["h264", "hevc", "vp9", "mpeg4", "h264_odd_444"])
def test_video_codecs_match_ffmpeg(io_media, name):
    path = io_media(name)
    out = _video(path)
    ref = media.reference_video(path)
    assert out.dtype == np.uint8
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out, ref)


def test_h264_with_b_frames_has_b_frames(io_media):
    # The clip must really reorder frames, or the B-frame case tests nothing.
    packets = spdl.io.demux_video(io_media("h264"))
    pts = [p for p in packets.pts if p is not None]
    assert pts != sorted(pts)


@pytest.mark.parametrize(
    "name, pix_fmt, channels",
    [
        ("jpeg_yuvj420p", "rgb24", 3),
        ("jpeg_yuvj422p", "rgb24", 3),
        ("jpeg_yuvj444p", "rgb24", 3),
        ("jpeg_gray", "gray", 1),
        ("jpeg_gray_baseline", "gray", 1),
        ("jpeg_gray_baseline", "rgb24", 3),
        ("png_rgb24", "rgb24", 3),
        ("png_rgba", "rgba", 4),
        ("png_gray16", "gray16le", 1),
    ],
)
def test_images_match_ffmpeg(io_media, name, pix_fmt, channels):
    path = io_media(name)
    packets = spdl.io.demux_image(path)
    assert (packets.width, packets.height) == (321, 239)  # odd sizes on purpose
    out = spdl.io.to_numpy(spdl.io.load_image(path, filter_desc=f"format=pix_fmts={pix_fmt}"))
    ref = media.reference_video(path, pix_fmt=pix_fmt)[0]
    assert out.shape == (239, 321, channels)
    assert out.dtype == ref.dtype
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("name", ["jpeg_yuvj420p", "jpeg_yuvj444p", "png_rgba"])
def test_images_default_to_rgb24(io_media, name):
    path = io_media(name)
    out = spdl.io.to_numpy(spdl.io.load_image(path))
    np.testing.assert_array_equal(out, media.reference_video(path)[0])


def test_native_planar_layouts(io_media):
    # yuvj444p: (3, H, W), the planes as FFmpeg stores them.
    path = io_media("jpeg_yuvj444p")
    out = spdl.io.to_numpy(spdl.io.load_image(path, filter_desc=None))
    raw = media.reference_raw(path, args=["-f", "rawvideo", "-pix_fmt", "yuvj444p"])
    assert out.shape == (3, 239, 321)
    assert out.tobytes() == raw
    # yuv420p of an even size: all planes stacked, (N, 1, H*3/2, W).
    path = io_media("h264")
    out = spdl.io.to_numpy(spdl.io.load_video(path, filter_desc=None))
    raw = media.reference_raw(path, args=["-f", "rawvideo", "-pix_fmt", "yuv420p"])
    assert out.shape == (25, 1, 360, 320)
    assert out.tobytes() == raw
    # A 16-bit PNG's native format is big-endian: its bytes, dtype >u2.
    path = io_media("png_gray16")
    out = spdl.io.to_numpy(spdl.io.load_image(path, filter_desc=None))
    assert out.shape == (239, 321, 1) and out.dtype == np.dtype(">u2")
    ref = media.reference_video(path, pix_fmt="gray16le")[0]
    np.testing.assert_array_equal(out, ref)
    # An odd-sized 4:2:0 frame has no such layout: a clear ValueError.
    with pytest.raises(ValueError, match="odd size"):
        spdl.io.load_image(io_media("jpeg_yuvj420p"), filter_desc=None)


def test_animated_gif_gives_its_first_frame(io_media):
    path = io_media("gif_animated")
    out = spdl.io.to_numpy(spdl.io.load_image(path))
    ref = media.reference_video(path)
    assert len(ref) > 1
    np.testing.assert_array_equal(out, ref[0])


@pytest.mark.parametrize(
    "vf",
    [
        "scale=160:120",
        "scale=w=97:h=71:flags=bilinear",
        "crop=100:80:10:20",
        "pad=400:300:40:30:color=blue",
        "fps=10",
        "fps=30000/1001",
        "hflip,scale=64:48,format=gray",
    ],
)
def test_video_filters_match_ffmpeg_vf(io_media, vf):
    path = io_media("h264")
    out = _video(path, filter_desc=f"{vf},format=rgb24")
    ref = media.reference_video(path, vf=vf)
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out, ref)


def test_get_video_filter_desc_matches_ffmpeg(io_media):
    path = io_media("h264")
    desc = spdl.io.get_video_filter_desc(
        frame_rate=(10, 1), scale_width=128, scale_height=128, scale_mode="pad"
    )
    out = _video(path, filter_desc=desc)
    ref = media.reference_video(path, vf=desc)
    assert out.shape == (10, 128, 128, 3)
    np.testing.assert_array_equal(out, ref)
    desc = spdl.io.get_video_filter_desc(scale_width=96, scale_height=96, scale_mode="crop")
    np.testing.assert_array_equal(
        _video(path, filter_desc=desc), media.reference_video(path, vf=desc)
    )


def test_num_frames_pads_and_trims(io_media):
    path = io_media("h264")
    ref = media.reference_video(path)
    out = _video(path, filter_desc=spdl.io.get_video_filter_desc(num_frames=10))
    np.testing.assert_array_equal(out, ref[:10])
    out = _video(path, filter_desc=spdl.io.get_video_filter_desc(num_frames=30))
    assert out.shape[0] == 30
    np.testing.assert_array_equal(out[:25], ref)
    np.testing.assert_array_equal(out[25:], np.broadcast_to(ref[-1], (5, *ref.shape[1:])))


@pytest.mark.parametrize(
    "window, frames",
    [
        ((0.0, 0.2), range(0, 5)),
        ((0.4, 0.8), range(10, 20)),
        ((0.41, 0.8), range(11, 20)),  # a start between frames: the next frame
        ((Fraction(13, 25), Fraction(14, 25)), range(13, 14)),  # exact rationals
        ((0.5, None), range(13, 25)),  # 12.5 frames in: frame 13 is the first
        ((0.92, 100.0), range(23, 25)),
    ],
)
def test_time_windows_are_exact(io_media, window, frames):
    path = io_media("h264")
    ref = media.reference_video(path)
    packets = spdl.io.demux_video(path, timestamp=window)
    assert packets.num_frames == len(frames)
    out = spdl.io.to_numpy(spdl.io.convert_frames(spdl.io.decode_packets(packets)))
    np.testing.assert_array_equal(out, ref[list(frames)])


def test_window_timestamps_are_in_window(io_media):
    frames = spdl.io.decode_packets(spdl.io.demux_video(io_media("h264"), timestamp=(0.2, 0.6)))
    assert frames.get_timestamps() == pytest.approx([i / 25 for i in range(5, 15)])


def test_demuxer_reads_several_windows(io_media):
    path = io_media("hevc")
    ref = media.reference_video(path)
    with spdl.io.Demuxer(path) as demuxer:
        for start, end in [(0.6, 0.8), (0.0, 0.12), (0.4, 1.0)]:
            out = spdl.io.to_numpy(
                spdl.io.convert_frames(
                    spdl.io.decode_packets(demuxer.demux_video(timestamp=(start, end)))
                )
            )
            np.testing.assert_array_equal(out, ref[round(start * 25) : round(end * 25)])


@pytest.mark.parametrize("name", ["h264", "hevc", "vp9", "mpeg4"])
def test_sample_decode_equals_full_decode(io_media, name):
    path = io_media(name)
    ref = media.reference_video(path)
    packets = spdl.io.demux_video(path)
    indices = [0, 3, 11, 24, 12, 3]
    out = spdl.io.to_numpy(spdl.io.convert_frames(spdl.io.sample_decode_video(packets, indices)))
    np.testing.assert_array_equal(out, ref[indices])
    with pytest.raises(ValueError, match="out of range"):
        spdl.io.sample_decode_video(packets, [25])


def test_sample_decode_in_a_window(io_media):
    path = io_media("h264")
    ref = media.reference_video(path)
    packets = spdl.io.demux_video(path, timestamp=(0.4, 0.8))
    out = spdl.io.sample_decode_video(packets, [0, 9], filter_desc=None)
    rgb = spdl.io.to_numpy(spdl.io.convert_frames(spdl.io.decode_packets(packets)))  # frames 10..19
    native = spdl.io.to_numpy(spdl.io.convert_frames(out))
    assert native.shape == (2, 1, 360, 320)
    np.testing.assert_array_equal(rgb, ref[10:20])
    picked = spdl.io.to_numpy(spdl.io.convert_frames(spdl.io.sample_decode_video(packets, [0, 9])))
    np.testing.assert_array_equal(picked, ref[[10, 19]])


@pytest.mark.parametrize("name", ["wav", "mp3", "aac", "flac", "opus"])
def test_audio_codecs_match_ffmpeg(io_media, name):
    path = io_media(name)
    out = spdl.io.to_numpy(spdl.io.load_audio(path, filter_desc="aformat=sample_fmts=flt"))
    ref = media.reference_audio(path, sample_fmt="flt")
    assert out.shape == ref.shape
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)


def test_audio_s16_packed_and_planar(io_media):
    path = io_media("wav")
    ref = media.reference_audio(path, sample_fmt="s16")
    packed = spdl.io.to_numpy(spdl.io.load_audio(path, filter_desc="aformat=sample_fmts=s16"))
    assert packed.shape == (32000, 2) and packed.dtype == np.int16
    np.testing.assert_array_equal(packed, ref)
    planar = spdl.io.to_numpy(spdl.io.load_audio(path, filter_desc="aformat=sample_fmts=s16p"))
    assert planar.shape == (2, 32000)
    np.testing.assert_array_equal(planar, ref.T)
    default = spdl.io.to_numpy(spdl.io.load_audio(path))
    assert default.shape == (2, 32000) and default.dtype == np.float32


@pytest.mark.parametrize(
    "name, af, channels",
    [
        ("mp3", "aresample=16000", 2),
        ("flac", "aresample=44100", 2),
        ("wav", "pan=mono|c0=0.5*c0+0.5*c1", 1),
        ("aac", "aresample=8000,pan=mono|c0=c1", 1),
    ],
)
def test_resampled_and_remixed_audio_match_ffmpeg(io_media, name, af, channels):
    path = io_media(name)
    out = spdl.io.to_numpy(spdl.io.load_audio(path, filter_desc=f"{af},aformat=sample_fmts=s16"))
    ref = media.reference_audio(path, af=af, num_channels=channels)
    np.testing.assert_array_equal(out, ref)


def test_get_audio_filter_desc(io_media):
    path = io_media("mp3")
    desc = spdl.io.get_audio_filter_desc(sample_rate=8000, num_channels=1, sample_fmt="s16")
    out = spdl.io.to_numpy(spdl.io.load_audio(path, filter_desc=desc))
    np.testing.assert_array_equal(out, media.reference_audio(path, af=desc, num_channels=1))
    full = spdl.io.to_numpy(spdl.io.load_audio(path))
    desc = spdl.io.get_audio_filter_desc(num_frames=40000)
    out = spdl.io.to_numpy(spdl.io.load_audio(path, filter_desc=desc))
    np.testing.assert_array_equal(out, full[:, :40000])
    n = full.shape[1] + 1000
    out = spdl.io.to_numpy(spdl.io.load_audio(path, filter_desc=get_desc(num_frames=n)))
    assert out.shape == (2, n)
    np.testing.assert_array_equal(out[:, : full.shape[1]], full)
    assert not out[:, full.shape[1] :].any()  # padded with silence


def test_audio_windows_are_sample_exact(io_media):
    path = io_media("wav")
    ref = media.reference_audio(path, sample_fmt="s16")
    for start, end in [(0.5, 1.0), (0.25, 0.2501), (1.9, None), (0.0, 0.001)]:
        out = spdl.io.to_numpy(
            spdl.io.load_audio(path, timestamp=(start, end), filter_desc="aformat=sample_fmts=s16")
        )
        lo = int(np.ceil(start * 16000))
        hi = 32000 if end is None else int(np.ceil(end * 16000))
        np.testing.assert_array_equal(out, ref[lo:hi])


@pytest.mark.parametrize("kind", ["bytes", "memoryview", "numpy", "bytearray"])
@pytest.mark.parametrize("name", ["h264", "jpeg_yuvj420p", "aac"])
def test_in_memory_sources_equal_paths(io_media, kind, name):
    path = io_media(name)
    data = path.read_bytes()
    src = {
        "bytes": data,
        "memoryview": memoryview(data),
        "numpy": np.frombuffer(data, np.uint8),
        "bytearray": bytearray(data),
    }[kind]
    load = {"h": spdl.io.load_video, "j": spdl.io.load_image, "a": spdl.io.load_audio}[name[0]]
    np.testing.assert_array_equal(spdl.io.to_numpy(load(src)), spdl.io.to_numpy(load(path)))


def test_packets_pickle_and_decode_the_same(io_media):
    for name, demux in [("h264", spdl.io.demux_video), ("aac", spdl.io.demux_audio)]:
        packets = demux(io_media(name), timestamp=(0.2, 0.6))
        back = pickle.loads(pickle.dumps(packets))
        assert type(back) is type(packets)
        assert back.pts == packets.pts and back.timestamp == packets.timestamp
        assert back.codec == packets.codec
        a = spdl.io.to_numpy(spdl.io.convert_frames(spdl.io.decode_packets(packets)))
        b = spdl.io.to_numpy(spdl.io.convert_frames(spdl.io.decode_packets(back)))
        np.testing.assert_array_equal(a, b)


def test_packet_and_frame_info(io_media):
    packets = spdl.io.demux_video(io_media("h264"))
    assert packets.codec == "h264"
    assert (packets.width, packets.height, packets.pix_fmt) == (320, 240, "yuv420p")
    assert packets.frame_rate == 25
    assert packets.num_frames == 25
    assert packets.get_timestamps() == pytest.approx([i / 25 for i in range(25)])
    assert packets.keyframes[0]
    frames = spdl.io.decode_packets(packets)
    assert (frames.width, frames.height, frames.pix_fmt, len(frames)) == (320, 240, "rgb24", 25)
    audio = spdl.io.demux_audio(io_media("flac"))
    assert (audio.codec, audio.sample_rate, audio.num_channels) == ("flac", 16000, 2)
    decoded = spdl.io.decode_packets(audio)
    assert (decoded.num_samples, decoded.sample_fmt) == (32000, "fltp")


def test_list_of_frames_is_one_batch(io_media):
    paths = [io_media("jpeg_yuvj444p"), io_media("png_rgb24")]
    frames = [spdl.io.decode_packets(spdl.io.demux_image(p)) for p in paths]
    batch = spdl.io.to_numpy(spdl.io.convert_frames(frames))
    assert batch.shape == (2, 239, 321, 3)
    for i, p in enumerate(paths):
        np.testing.assert_array_equal(batch[i], media.reference_video(p)[0])


def test_filter_graph_runs_any_graph(io_media):
    path = io_media("h264")
    native = spdl.io.decode_packets(spdl.io.demux_video(path), filter_desc=None)
    graph = spdl.io.FilterGraph(
        "buffer@in=video_size=320x240:pix_fmt=yuv420p:time_base=1/12800,"
        "hflip,format=gray,buffersink@out"
    )
    assert graph.input_names == ["in"] and graph.output_names == ["out"]
    graph.add_frames(native)
    graph.flush()
    out = graph.get_frames()
    assert len(native) == 25  # the input frames are kept
    array = spdl.io.to_numpy(spdl.io.convert_frames(out))
    np.testing.assert_array_equal(array, media.reference_video(path, vf="hflip", pix_fmt="gray"))
    with pytest.raises(spdl.io.InvalidFilterError):
        spdl.io.FilterGraph("buffer=video_size=2x2:pix_fmt=gray:time_base=1/1,nosuch,buffersink")
    with pytest.raises(ValueError):
        spdl.io.FilterGraph("buffer=video_size=2x2:pix_fmt=gray:time_base=1/1,hflip")


def test_load_video_equals_decode_then_convert(io_media):
    path = io_media("vp9")
    for desc in [None, "fps=7,format=rgb24", spdl.io.get_video_filter_desc(scale_width=50)]:
        a = spdl.io.to_numpy(spdl.io.load_video(path, filter_desc=desc))
        frames = spdl.io.decode_packets(spdl.io.demux_video(path), filter_desc=desc)
        b = spdl.io.to_numpy(spdl.io.convert_frames(frames))
        np.testing.assert_array_equal(a, b)


def test_sample_decode_touches_only_the_needed_gops(io_media):
    import time

    packets = spdl.io.demux_video(io_media("long"))  # 500 frames, a keyframe every 25
    assert sum(packets.keyframes) >= 10

    def timed(fn):
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best

    full = timed(lambda: spdl.io.decode_packets(packets, filter_desc=None))
    sampled = timed(lambda: spdl.io.sample_decode_video(packets, [30, 410], filter_desc=None))
    # Two GOPs of twenty: a fraction of the full decode's time (generous for a busy machine).
    assert sampled < 0.5 * full, (sampled, full)
