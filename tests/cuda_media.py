"""What the GPU tests share: their media, the NumPy copy of the kernels' filter, the tolerance policy.

Media: made with ``media.py`` (the ``ffmpeg`` command line) like every other test's, with the
``ffmpeg`` CLI's raw decode as reference. The GPU machine has no ``ffmpeg`` command, so
``bench/gpu/prepare.sh`` makes the same files and references here (``python tests/cuda_media.py
DIR``) and carries them there; ``SPDL_TEST_MEDIA=DIR`` points the tests at them.

Tolerance: GPU decoders are not bit-exact with FFmpeg (nvJPEG's IDCT and colour conversion,
NVDEC's output through our own NV12 kernel), so GPU outputs are held to ``assert_gpu_close``:
PSNR at least ``min_psnr`` dB and 99% of values within ``max_abs`` of the reference.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

import media

# name -> how to make it. JPEGs: sizes and subsamplings nvJPEG's engine and its fallback see.
JPEGS = {
    "420.jpg": dict(width=320, height=240, pix_fmt="yuvj420p"),
    "444.jpg": dict(width=256, height=192, pix_fmt="yuvj444p"),
    # testsrc (not testsrc2, which rounds to even sizes): odd width and height, partial MCUs.
    "odd.jpg": dict(width=321, height=239, pix_fmt="yuvj420p", source="testsrc"),
    "gray.jpg": dict(width=160, height=120, pix_fmt="gray"),
}
VIDEOS = {
    "h264.mp4": dict(width=320, height=240, duration=2.0, extra=("-bf", "2", "-g", "12")),
    "hevc.mp4": dict(
        width=320,
        height=240,
        duration=1.0,
        codec="libx265",
        extra=("-x265-params", "log-level=error"),
    ),
}


def make_all(folder: Path) -> Path:
    """Write every test file and its reference decode (``NAME.rgb24.npz``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, kw in JPEGS.items():
        path = media.make_image(folder / name, **kw)
        _save(folder, name, media.reference_video(path, pix_fmt="rgb24")[0])
    for name, kw in VIDEOS.items():
        path = media.make_video(folder / name, **kw)
        _save(folder, name, media.reference_video(path, pix_fmt="rgb24"))
    return folder


def _save(folder: Path, name: str, array: np.ndarray) -> None:
    # Compressed: the references travel to the GPU machine, where room is counted.
    np.savez_compressed(folder / f"{name}.rgb24.npz", rgb24=array)


def media_folder(tmp_factory) -> Path:
    """The folder of test media: ``SPDL_TEST_MEDIA`` if set, else made now with ffmpeg."""
    env = os.environ.get("SPDL_TEST_MEDIA")
    if env:
        return Path(env)
    return make_all(tmp_factory.mktemp("cuda_media"))


def reference(folder: Path, name: str) -> np.ndarray:
    """The ffmpeg CLI's rgb24 decode of ``name``: (H, W, 3) for images, (N, H, W, 3) for video."""
    with np.load(folder / f"{name}.rgb24.npz") as f:
        return f["rgb24"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 arrays (inf when equal)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def assert_gpu_close(
    actual: np.ndarray, expected: np.ndarray, *, max_abs: int = 2, min_psnr: float = 40.0
) -> None:
    """The one tolerance policy for GPU outputs against a CPU reference (uint8 arrays).

    Shapes must match; PSNR must be at least ``min_psnr`` dB; the 99th percentile of the
    absolute difference must be at most ``max_abs``. The message reports all three numbers.
    """
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    p99 = float(np.percentile(diff, 99))
    value = psnr(actual, expected)
    stats = f"PSNR {value:.2f} dB, p99 |diff| {p99}, max |diff| {int(diff.max())}"
    assert value >= min_psnr, f"PSNR below {min_psnr} dB: {stats}"
    assert p99 <= max_abs, f"more than 1% of values differ by over {max_abs}: {stats}"


def _taps(o: int, src_len: int, dst_len: int):
    # float32 arithmetic, as in cuda/spdl_filter.cuh
    scale = np.float32(src_len) / np.float32(dst_len)
    support = max(scale, np.float32(1.0))
    center = (np.float32(o) + np.float32(0.5)) * scale
    first = max(int(np.floor(center - support + np.float32(0.5))), 0)
    last = min(int(np.floor(center + support + np.float32(0.5))), src_len)
    idx = np.arange(first, last)
    d = np.abs((idx.astype(np.float32) + np.float32(0.5) - center) / support)
    return idx, np.where(d < 1, 1 - d, 0).astype(np.float32)


def reference_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """NumPy copy of the kernels' filter: (H, W, C) uint8 to (height, width, C) uint8."""
    src_h, src_w = image.shape[:2]
    rows = [_taps(y, src_h, height) for y in range(height)]
    cols = [_taps(x, src_w, width) for x in range(width)]
    wy = np.zeros((height, src_h), np.float32)
    wx = np.zeros((width, src_w), np.float32)
    for y, (idx, w) in enumerate(rows):
        wy[y, idx] = w
    for x, (idx, w) in enumerate(cols):
        wx[x, idx] = w
    wy /= wy.sum(1, keepdims=True)
    wx /= wx.sum(1, keepdims=True)
    out = np.einsum("yh,hwc,xw->yxc", wy, image.astype(np.float32), wx)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


if __name__ == "__main__":
    print(make_all(Path(sys.argv[1])))
