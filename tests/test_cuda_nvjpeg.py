"""nvJPEG decoding into CUDA memory against the ffmpeg command line's CPU decode."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

import cuda_media
import numpy as np
import pytest

import spdl.io

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return cuda_media.media_folder(tmp_path_factory)


def _host(buf) -> np.ndarray:
    return spdl.io.to_cupy(buf).get()


@pytest.mark.parametrize("name", sorted(cuda_media.JPEGS))
def test_decode_matches_cpu(folder, name):
    ref = cuda_media.reference(folder, name)
    hwc = _host(spdl.io.decode_image_nvjpeg(folder / name, pix_fmt="rgb24"))
    cuda_media.assert_gpu_close(hwc, ref, max_abs=2, min_psnr=40)
    chw = _host(spdl.io.decode_image_nvjpeg((folder / name).read_bytes(), pix_fmt="rgb"))
    assert chw.shape == (3, *ref.shape[:2])
    np.testing.assert_array_equal(chw.transpose(1, 2, 0), hwc)
    bgr = _host(spdl.io.decode_image_nvjpeg(folder / name, pix_fmt="bgr24"))
    np.testing.assert_array_equal(bgr, hwc[..., ::-1])


def test_sources_in_memory_are_read_in_place(folder):
    data = (folder / "420.jpg").read_bytes()
    expected = _host(spdl.io.decode_image_nvjpeg(data))
    for src in (bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        np.testing.assert_array_equal(_host(spdl.io.decode_image_nvjpeg(src)), expected)


def test_batch_of_one_size(folder):
    data = (folder / "420.jpg").read_bytes()
    one = _host(spdl.io.decode_image_nvjpeg(data))
    for n in (1, 5, 16):
        batch = _host(spdl.io.decode_image_nvjpeg([data] * n))
        assert batch.shape == (n, *one.shape)
        for image in batch:
            np.testing.assert_array_equal(image, one)


def test_batch_of_mixed_sizes_needs_a_scale(folder):
    srcs = [folder / n for n in sorted(cuda_media.JPEGS)]
    with pytest.raises(ValueError, match="scale_width"):
        spdl.io.decode_image_nvjpeg(srcs)
    out = _host(spdl.io.decode_image_nvjpeg(srcs, scale_width=224, scale_height=160))
    assert out.shape == (len(srcs), 3, 160, 224)
    for image, name in zip(out, sorted(cuda_media.JPEGS), strict=True):
        ref = cuda_media.reference_resize(cuda_media.reference(folder, name), 160, 224)
        cuda_media.assert_gpu_close(image.transpose(1, 2, 0), ref)


def test_load_image_batch_layouts(folder):
    srcs = [folder / "420.jpg", folder / "odd.jpg"]
    chw = _host(spdl.io.load_image_batch_nvjpeg(srcs, width=96, height=64))
    hwc = _host(spdl.io.load_image_batch_nvjpeg(srcs, width=96, height=64, pix_fmt="rgb24"))
    assert chw.shape == (2, 3, 64, 96) and hwc.shape == (2, 64, 96, 3)
    np.testing.assert_array_equal(chw.transpose(0, 2, 3, 1), hwc)


def test_hardware_engine_and_fallback_agree(folder):
    """Images decoded by the JPEG engine and by the default backend are the same to +-2."""
    data = (folder / "444.jpg").read_bytes()
    results = {}

    def run(flag):
        os.environ["SPDL_NVJPEG_HARDWARE"] = flag
        try:
            results[flag] = _host(spdl.io.decode_image_nvjpeg([data] * 4))
        finally:
            os.environ.pop("SPDL_NVJPEG_HARDWARE", None)

    for flag in ("0", "1"):  # a fresh thread makes a fresh per-thread decoder
        t = threading.Thread(target=run, args=(flag,))
        t.start()
        t.join()
    cuda_media.assert_gpu_close(results["1"], results["0"], max_abs=2, min_psnr=40)


def test_zero_copy_to_cupy_and_torch(folder):
    torch = pytest.importorskip("torch")
    buf = spdl.io.decode_image_nvjpeg(folder / "420.jpg")
    ref = weakref.ref(buf)
    array = spdl.io.to_cupy(buf)
    tensor = torch.from_dlpack(buf)
    as_tensor = spdl.io.to_torch(buf)
    assert as_tensor.is_cuda
    assert array.data.ptr == buf.ptr == tensor.data_ptr() == as_tensor.data_ptr()
    assert tuple(tensor.shape) == buf.shape and tensor.dtype == torch.uint8
    expected = array.get()
    del buf
    gc.collect()
    assert ref() is not None  # the arrays keep the buffer alive
    np.testing.assert_array_equal(tensor.cpu().numpy(), expected)
    del array, tensor, as_tensor
    gc.collect()
    assert ref() is None


def test_torch_caching_allocator(folder):
    torch = pytest.importorskip("torch")
    cfg = spdl.io.cuda_config(
        0,
        stream=torch.cuda.current_stream(),
        allocator=(torch.cuda.caching_allocator_alloc, torch.cuda.caching_allocator_delete),
    )
    before = torch.cuda.memory_allocated()
    buf = spdl.io.decode_image_nvjpeg(folder / "420.jpg", device_config=cfg)
    assert torch.cuda.memory_allocated() >= before + buf.nbytes
    expected = _host(spdl.io.decode_image_nvjpeg(folder / "420.jpg"))
    np.testing.assert_array_equal(torch.as_tensor(buf, device="cuda").cpu().numpy(), expected)
    del buf
    gc.collect()
    assert torch.cuda.memory_allocated() == before


def test_corrupt_input_raises_media_error(folder):
    data = (folder / "420.jpg").read_bytes()
    cases = {
        "garbage": os.urandom(5000),
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "header only": data[:200],
    }
    for what, bad in cases.items():
        with pytest.raises(spdl.io.MediaError) as info:
            spdl.io.decode_image_nvjpeg(bad)
        assert "bytes" in str(info.value), what
    with pytest.raises(spdl.io.MediaError, match="image 2 of 3"):
        spdl.io.decode_image_nvjpeg([data, data, b"\xff\xd8 not a jpeg \xff\xd9"])
    with pytest.raises(FileNotFoundError):
        spdl.io.decode_image_nvjpeg(folder / "missing.jpg")
    # strict=False leaves the broken one out.
    out = spdl.io.load_image_batch_nvjpeg(
        [data, data[:300], data], width=32, height=32, strict=False
    )
    assert out.shape == (2, 3, 32, 32)
    # The thread's decoder still works after errors.
    assert spdl.io.decode_image_nvjpeg(data).shape[0] == 3


def test_threads_decode_concurrently_and_correctly(folder):
    srcs = [(folder / n).read_bytes() for n in sorted(cuda_media.JPEGS)]
    expected = _host(spdl.io.load_image_batch_nvjpeg(srcs, width=128, height=96))

    def work(_):
        return _host(spdl.io.load_image_batch_nvjpeg(srcs, width=128, height=96))

    with ThreadPoolExecutor(8) as pool:
        for out in pool.map(work, range(64)):
            np.testing.assert_array_equal(out, expected)


def test_no_gpu_memory_growth_over_1000_decodes(folder):
    import cupy

    data = (folder / "odd.jpg").read_bytes()
    pool = cupy.get_default_memory_pool()
    for _ in range(50):  # warm up: nvJPEG sizes its buffers, the pool fills its bins
        spdl.io.decode_image_nvjpeg([data, data], scale_width=64, scale_height=64)
    cupy.cuda.Device(0).synchronize()
    used = pool.used_bytes()
    free_before = cupy.cuda.runtime.memGetInfo()[0] + pool.free_bytes()
    for i in range(1000):
        out = spdl.io.decode_image_nvjpeg(
            [data, data] if i % 2 else data, scale_width=64, scale_height=64
        )
        del out
    cupy.cuda.Device(0).synchronize()
    assert pool.used_bytes() == used
    free_after = cupy.cuda.runtime.memGetInfo()[0] + pool.free_bytes()
    assert free_before - free_after < 16 << 20, (free_before, free_after)
