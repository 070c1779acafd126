"""Media for the spdl.io tests, generated once per session with the ffmpeg command line."""

from __future__ import annotations

import subprocess

import pytest

import media


@pytest.fixture(scope="session")
def io_media(media_dir):
    """A lazy factory: ``io_media(name)`` makes (once) and returns the path of a named clip."""
    made = {}
    d = media_dir / "io"
    d.mkdir(exist_ok=True)
    odd = ("-vf", "scale=321:239")
    recipes = {
        # 1 s of 320x240 at 25 fps; B-frames where the codec has them.
        "h264": lambda: media.make_video(
            d / "h264.mp4", duration=1.0, extra=("-bf", "2", "-g", "10")
        ),
        "hevc": lambda: media.make_video(
            d / "hevc.mp4",
            codec="libx265",
            duration=1.0,
            extra=("-x265-params", "log-level=error:bframes=2:keyint=10"),
        ),
        "vp9": lambda: media.make_video(
            d / "vp9.webm",
            codec="libvpx-vp9",
            duration=1.0,
            extra=("-deadline", "realtime", "-cpu-used", "8", "-g", "10"),
        ),
        "mpeg4": lambda: media.make_video(
            d / "mpeg4.avi", codec="mpeg4", duration=1.0, extra=("-bf", "2", "-g", "10")
        ),
        "h264_odd_444": lambda: media.make_video(
            d / "odd444.mkv", duration=0.4, pix_fmt="yuv444p", extra=odd
        ),
        "long": lambda: media.make_video(
            d / "long.mp4", duration=20.0, extra=("-preset", "ultrafast", "-g", "25")
        ),
        "jpeg_yuvj420p": lambda: media.make_image(d / "420.jpg", pix_fmt="yuvj420p", extra=odd),
        "jpeg_yuvj422p": lambda: media.make_image(d / "422.jpg", pix_fmt="yuvj422p", extra=odd),
        "jpeg_yuvj444p": lambda: media.make_image(d / "444.jpg", pix_fmt="yuvj444p", extra=odd),
        "jpeg_gray": lambda: _gray_jpeg(d / "gray.jpg"),
        "jpeg_gray_baseline": lambda: _gray_baseline_jpeg(d / "gray_baseline.jpg"),
        "png_rgb24": lambda: media.make_image(d / "rgb24.png", pix_fmt="rgb24", extra=odd),
        "png_rgba": lambda: media.make_image(
            d / "rgba.png", pix_fmt="rgba", source="testsrc2", extra=odd
        ),
        "png_gray16": lambda: media.make_image(d / "gray16.png", pix_fmt="gray16be", extra=odd),
        "gif_animated": lambda: media.make_video(
            d / "anim.gif", codec="gif", duration=0.5, rate=10, pix_fmt="rgb8"
        ),
        "wav": lambda: media.make_audio(d / "s16.wav", sample_rate=16000),
        "mp3": lambda: media.make_audio(d / "a.mp3", sample_rate=44100),
        "aac": lambda: media.make_audio(d / "a.m4a", codec="aac", sample_rate=44100),
        "flac": lambda: media.make_audio(d / "a.flac", sample_rate=16000),
        "opus": lambda: media.make_audio(d / "a.ogg", codec="libopus", sample_rate=48000),
    }

    def get(name):
        if name not in made:
            made[name] = recipes[name]()
        return made[name]

    return get


def _gray_jpeg(path):
    """A grayscale JPEG. FFmpeg 5.1's baseline encoder has no gray; JPEG-LS (ITU T.87, read by
    the same mjpeg decoder) is the grayscale JPEG it can write."""
    help_text = subprocess.run(
        [media.FFMPEG, "-hide_banner", "-h", "encoder=mjpeg"], capture_output=True, text=True
    ).stdout
    codec = "mjpeg" if " gray" in help_text else "jpegls"
    return media.make_image(path, pix_fmt="gray", extra=("-c:v", codec, "-vf", "scale=321:239"))


def _gray_baseline_jpeg(path):
    """A baseline (DCT, Huffman) grayscale JPEG with one component, the kind cameras and
    scanners write, made with Pillow's libjpeg since FFmpeg 5.1 cannot write one."""
    Image = pytest.importorskip("PIL.Image")
    import numpy as np

    y, x = np.mgrid[0:239, 0:321]
    noise = np.random.default_rng(7).integers(0, 40, size=(239, 321))
    pixels = ((x * 255 // 320 + y // 3 + noise) % 256).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)  # uint8 2-D: mode "L"
    return path
