"""Test media made on the fly with the ``ffmpeg`` command line, and its reference decodes.

Every test file is generated from FFmpeg's ``lavfi`` sources (``testsrc2``, ``sine``, ``color``...)
into a temporary folder; nothing is downloaded. The reference for a decode is the same file decoded
by the ``ffmpeg`` command line to raw bytes on a pipe, so CPU decodes can be compared bit for bit.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FFMPEG = shutil.which("ffmpeg")

# Bytes per pixel and channel count of the interleaved formats tests compare against.
_PIX_FMT_CHANNELS = {"rgb24": 3, "bgr24": 3, "rgba": 4, "gray": 1, "gray16le": 1}
_PIX_FMT_DTYPE = {"gray16le": np.uint16}
_SAMPLE_FMT_DTYPE = {
    "s16": np.int16,
    "s32": np.int32,
    "flt": np.float32,
    "dbl": np.float64,
    "u8": np.uint8,
}


def run_ffmpeg(args: Sequence[str | Path], *, timeout: float = 120) -> bytes:
    """Run ``ffmpeg -nostdin -hide_banner -loglevel error ARGS`` and return its stdout."""
    if FFMPEG is None:
        raise RuntimeError("the ffmpeg command line is needed to make test media")
    cmd = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr.decode(errors='replace')}")
    return proc.stdout


def make_video(
    path: str | Path,
    *,
    codec: str = "libx264",
    width: int = 320,
    height: int = 240,
    rate: int = 25,
    duration: float = 2.0,
    pix_fmt: str = "yuv420p",
    source: str = "testsrc2",
    extra: Sequence[str] = (),
) -> Path:
    """Encode ``duration`` seconds of a lavfi ``source`` into ``path`` with ``codec``.

    ``extra`` adds encoder options, e.g. ``("-bf", "2", "-g", "12")`` for B-frames and a GOP of 12.
    """
    path = Path(path)
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            f"{source}=size={width}x{height}:rate={rate}:duration={duration}",
            "-c:v",
            codec,
            "-pix_fmt",
            pix_fmt,
            *extra,
            "-y",
            path,
        ]
    )
    return path


def make_image(
    path: str | Path,
    *,
    width: int = 320,
    height: int = 240,
    pix_fmt: str | None = None,
    source: str = "testsrc2",
    extra: Sequence[str] = (),
) -> Path:
    """Write one frame of a lavfi ``source`` as an image; the format follows the extension."""
    path = Path(path)
    args = ["-f", "lavfi", "-i", f"{source}=size={width}x{height}:rate=1", "-frames:v", "1", *extra]
    if pix_fmt is not None:
        args += ["-pix_fmt", pix_fmt]
    run_ffmpeg([*args, "-update", "1", "-y", path])
    return path


def make_audio(
    path: str | Path,
    *,
    codec: str | None = None,
    sample_rate: int = 16000,
    num_channels: int = 2,
    duration: float = 2.0,
    source: str | None = None,
    extra: Sequence[str] = (),
) -> Path:
    """Encode a tone (a different frequency per channel) into ``path``; codec follows the extension."""
    path = Path(path)
    if source is None:
        tones = "".join(
            f"sine=frequency={220 * (i + 1)}:sample_rate={sample_rate}:duration={duration}[c{i}];"
            for i in range(num_channels)
        )
        inputs = "".join(f"[c{i}]" for i in range(num_channels))
        graph = f"{tones}{inputs}amerge=inputs={num_channels}" if num_channels > 1 else tones[:-5]
        args = ["-f", "lavfi", "-i", graph]
    else:
        args = ["-f", "lavfi", "-i", source]
    if codec is not None:
        args += ["-c:a", codec]
    run_ffmpeg([*args, *extra, "-ar", str(sample_rate), "-ac", str(num_channels), "-y", path])
    return path


def reference_video(
    path: str | Path,
    *,
    pix_fmt: str = "rgb24",
    vf: str | None = None,
    input_args: Sequence[str] = (),
) -> np.ndarray:
    """Decode ``path`` with the ``ffmpeg`` command line to raw ``pix_fmt`` frames.

    Returns (N, H, W, C) for interleaved formats (C = 1 for gray). ``vf`` is an extra filter chain
    applied before the format conversion; ``input_args`` go before ``-i`` (e.g. ``-ss``).
    """
    if pix_fmt not in _PIX_FMT_CHANNELS:
        raise ValueError(f"reference_video supports {sorted(_PIX_FMT_CHANNELS)}, not {pix_fmt}")
    width, height = probe_size(path, vf=vf, input_args=input_args)
    chain = f"{vf},format={pix_fmt}" if vf else f"format={pix_fmt}"
    raw = run_ffmpeg(
        [*input_args, "-i", path, "-vf", chain, "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    )
    dtype = _PIX_FMT_DTYPE.get(pix_fmt, np.uint8)
    channels = _PIX_FMT_CHANNELS[pix_fmt]
    return np.frombuffer(raw, dtype=dtype).reshape(-1, height, width, channels)


def reference_raw(
    path: str | Path, *, args: Sequence[str], input_args: Sequence[str] = ()
) -> bytes:
    """The raw bytes ``ffmpeg [input_args] -i path [args] -`` writes, for any other comparison."""
    return run_ffmpeg([*input_args, "-i", path, *args, "-"])


def reference_audio(
    path: str | Path,
    *,
    sample_fmt: str = "s16",
    af: str | None = None,
    num_channels: int | None = None,
    input_args: Sequence[str] = (),
) -> np.ndarray:
    """Decode ``path`` with the ``ffmpeg`` command line to packed samples, shape (N, C)."""
    if num_channels is None:
        num_channels = probe_audio(path)["channels"]
    args = [*input_args, "-i", path]
    if af:
        args += ["-af", af]
    # The raw muxer for each sample format ("-f s16" is no format; "s16le" is).
    muxer = {"flt": "f32le", "dbl": "f64le", "s16": "s16le", "s32": "s32le"}.get(
        sample_fmt, sample_fmt
    )
    args += ["-f", muxer, "-ac", str(num_channels)]
    raw = run_ffmpeg([*args, "-"])
    return np.frombuffer(raw, dtype=_SAMPLE_FMT_DTYPE[sample_fmt]).reshape(-1, num_channels)


def probe_size(
    path: str | Path, *, vf: str | None = None, input_args: Sequence[str] = ()
) -> tuple[int, int]:
    """(width, height) of the first video frame after the optional filter chain ``vf``.

    Decodes that frame to a PGM image, whose text header carries the size.
    """
    chain = f"{vf},format=gray" if vf else "format=gray"
    pgm = run_ffmpeg(
        [
            *input_args,
            "-i",
            path,
            "-vf",
            chain,
            "-frames:v",
            "1",
            "-f",
            "image2pipe",
            "-c:v",
            "pgm",
            "-",
        ]
    )
    magic, width, height = pgm.split(maxsplit=3)[:3]
    assert magic == b"P5", pgm[:16]
    return int(width), int(height)


def probe_audio(path: str | Path) -> dict[str, int]:
    """Sample rate and channel count of the first audio stream, from ffprobe."""
    ffprobe = shutil.which("ffprobe")
    text = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=sample_rate,channels",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    rate, channels = text.split(",")[:2]
    return {"sample_rate": int(rate), "channels": int(channels)}
