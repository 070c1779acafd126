"""NVDEC decoding into CUDA memory against the ffmpeg command line's CPU decode."""

from __future__ import annotations

import gc
import os
from concurrent.futures import ThreadPoolExecutor

import cuda_media
import numpy as np
import pytest

import spdl.io
from spdl.io import _nvdec

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return cuda_media.media_folder(tmp_path_factory)


def _decode(path, **kwargs) -> np.ndarray:
    packets = spdl.io.demux_annexb(path)
    return spdl.io.to_cupy(spdl.io.decode_packets_nvdec(packets, **kwargs)).get()


@pytest.mark.parametrize("name", sorted(cuda_media.VIDEOS))
def test_frames_match_cpu_decode(folder, name):
    ref = cuda_media.reference(folder, name)  # (N, H, W, 3)
    out = _decode(folder / name)
    assert out.shape == (ref.shape[0], 3, *ref.shape[1:3])
    cuda_media.assert_gpu_close(out.transpose(0, 2, 3, 1), ref, max_abs=4, min_psnr=35)
    hwc = _decode(folder / name, pix_fmt="rgb24")
    np.testing.assert_array_equal(hwc, out.transpose(0, 2, 3, 1))


def test_crop_and_scale(folder):
    ref = cuda_media.reference(folder, "h264.mp4")
    out = _decode(folder / "h264.mp4", crop_left=10, crop_top=20, crop_right=30, crop_bottom=40)
    assert out.shape == (ref.shape[0], 3, 240 - 60, 320 - 40)
    cuda_media.assert_gpu_close(
        out.transpose(0, 2, 3, 1), ref[:, 20:-40, 10:-30], max_abs=4, min_psnr=35
    )
    small = _decode(folder / "h264.mp4", scale_width=112, scale_height=84)
    assert small.shape == (ref.shape[0], 3, 84, 112)
    for got, frame in zip(small[::10], ref[::10], strict=True):
        cuda_media.assert_gpu_close(
            got.transpose(1, 2, 0),
            cuda_media.reference_resize(frame, 84, 112),
            max_abs=4,
            min_psnr=35,
        )


def test_streaming_chunks_equal_the_whole(folder):
    whole = _decode(folder / "h264.mp4")
    chunks = [
        spdl.io.to_cupy(c).get()
        for c in spdl.io.streaming_load_video_nvdec(folder / "h264.mp4", num_frames=16)
    ]
    assert [len(c) for c in chunks] == [16, 16, 16, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), whole)


def test_decoder_is_reused_across_files(folder):
    first = _decode(folder / "h264.mp4")
    created = _nvdec.decoder_stats["created"]
    for _ in range(3):
        np.testing.assert_array_equal(_decode(folder / "h264.mp4"), first)
    assert _nvdec.decoder_stats["created"] == created
    assert _nvdec.decoder_stats["reused"] >= 3


def test_threads(folder):
    expected = _decode(folder / "h264.mp4")
    with ThreadPoolExecutor(8) as pool:
        for out in pool.map(lambda _: _decode(folder / "h264.mp4"), range(16)):
            np.testing.assert_array_equal(out, expected)


def test_broken_video_raises_media_error(folder, tmp_path):
    data = (folder / "h264.mp4").read_bytes()
    (tmp_path / "noise.mp4").write_bytes(os.urandom(20000))
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    for name in ("noise.mp4", "half.mp4"):
        with pytest.raises(spdl.io.MediaError):
            _decode(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        spdl.io.demux_annexb(tmp_path / "missing.mp4")
    # The thread's decoder still works afterwards.
    assert (
        _decode(folder / "h264.mp4").shape[0] == cuda_media.reference(folder, "h264.mp4").shape[0]
    )


def test_no_gpu_memory_growth(folder):
    import cupy

    pool = cupy.get_default_memory_pool()
    packets = spdl.io.demux_annexb(folder / "h264.mp4")
    for _ in range(3):
        spdl.io.decode_packets_nvdec(packets)
    cupy.cuda.Device(0).synchronize()
    used = pool.used_bytes()
    free_before = cupy.cuda.runtime.memGetInfo()[0] + pool.free_bytes()
    for _ in range(30):
        out = spdl.io.decode_packets_nvdec(packets, scale_width=64, scale_height=48)
        del out
    gc.collect()
    cupy.cuda.Device(0).synchronize()
    assert pool.used_bytes() == used
    assert free_before - (cupy.cuda.runtime.memGetInfo()[0] + pool.free_bytes()) < 32 << 20
