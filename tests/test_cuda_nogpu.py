"""The GPU layer's CPU side: what must hold on every machine, with or without a GPU.

Importing needs no CUDA; configs are plain data; each GPU entry point fails with one clear
``CUDANotAvailableError`` where something is missing; the loaders report every path they tried;
the CUDA kernels compile (with ``nvcc``, when present); the kernels' filter (its NumPy copy) and the
tolerance helper behave as the GPU tests assume.
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys

import cuda_media
import numpy as np
import pytest

import spdl.io


def _has_gpu() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


no_gpu = pytest.mark.skipif(_has_gpu(), reason="checks the no-GPU error paths")
# The GPU machine has no ffmpeg command: tests that make media there are skipped.
needs_ffmpeg = pytest.mark.skipif(cuda_media.media.FFMPEG is None, reason="no ffmpeg command")


def test_import_needs_no_cuda():
    """Importing spdl.io and its GPU names loads neither CuPy, torch nor any CUDA library."""
    code = (
        "import sys, spdl.io as io\n"
        "io.cuda_config, io.decode_image_nvjpeg, io.transfer_buffer, io.CUDABuffer\n"
        "bad = [m for m in ('cupy', 'torch', 'PyNvVideoCodec') if m in sys.modules]\n"
        "maps = open('/proc/self/maps').read()\n"
        "bad += [lib for lib in ('libcudart', 'libnvjpeg', 'libcuda.so') if lib in maps]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cuda_config_is_plain_data():
    import spdl.io

    cfg = spdl.io.cuda_config(1)
    assert cfg.device_index == 1
    assert cfg.stream == 2  # the per-thread default stream
    assert cfg.allocator is None
    assert spdl.io.cuda_config(0, stream=1234).stream == 1234

    class TorchLikeStream:
        cuda_stream = 99

    assert spdl.io.cuda_config(0, stream=TorchLikeStream()).stream == 99


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"device_index": -1}, ValueError),
        ({"device_index": "0"}, TypeError),
        ({"device_index": True}, TypeError),
        ({"stream": -5}, ValueError),
        ({"stream": 1.5}, TypeError),
        ({"allocator": (len,)}, TypeError),
        ({"allocator": (1, 2)}, TypeError),
    ],
)
def test_cuda_config_rejects_bad_arguments(kwargs, exc):
    import spdl.io

    with pytest.raises(exc):
        spdl.io.cuda_config(**kwargs)


def test_user_allocator_pair_is_called_and_freed():
    """allocate() with a user pair passes (size, device, stream) and frees when the owner goes."""
    import gc

    from spdl.io._cuda_buffer import allocate, cuda_config

    calls = []
    cfg = cuda_config(
        3, stream=77, allocator=(lambda n, d, s: calls.append((n, d, s)) or 4096, calls.append)
    )
    ptr, owner = allocate(100, cfg)
    assert ptr == 4096 and calls == [(100, 3, 77)]
    del owner
    gc.collect()
    assert calls[-1] == 4096


def test_cuda_buffer_interfaces():
    from spdl.io import CUDABuffer

    buf = CUDABuffer(0x1000, (2, 3, 4, 5), np.uint8, 1, owner=None)
    cai = buf.__cuda_array_interface__
    assert cai["shape"] == (2, 3, 4, 5)
    assert cai["typestr"] == "|u1"
    assert cai["data"] == (0x1000, False)
    assert cai["version"] == 3
    assert buf.__dlpack_device__() == (2, 1)
    assert buf.nbytes == 120


@no_gpu
@needs_ffmpeg
def test_entry_points_raise_one_clear_error(tmp_path):
    """Without a GPU (or CuPy) every entry point raises CUDANotAvailableError naming what's missing."""
    import spdl.io

    jpeg = cuda_media.media.make_image(tmp_path / "a.jpg", width=32, height=32)
    calls = [
        lambda: spdl.io.decode_image_nvjpeg(jpeg.read_bytes()),
        lambda: spdl.io.load_image_batch_nvjpeg([jpeg], width=16, height=16),
        lambda: spdl.io.transfer_buffer(np.zeros((4, 4), np.uint8)),
        lambda: spdl.io.decode_packets_nvdec(
            spdl.io.demux_annexb(cuda_media.media.make_video(tmp_path / "v.mp4", duration=0.2))
        ),
        lambda: next(iter(spdl.io.streaming_load_video_nvdec(tmp_path / "v.mp4", num_frames=4))),
    ]
    for call in calls:
        with pytest.raises(spdl.io.CUDANotAvailableError) as info:
            call()
        message = str(info.value)
        assert info.value.what in {"cupy", "cudart", "device", "nvjpeg", "nvdec"}
        assert ("pip install" in message) or ("GPU" in message) or ("SPDL_" in message), message


@no_gpu
def test_require_cuda_says_why():
    from spdl.io._cuda_libs import CUDANotAvailableError, require_cuda

    with pytest.raises(CUDANotAvailableError) as info:
        require_cuda(0)
    assert info.value.what in {"cudart", "device"}
    assert "CUDA" in str(info.value)
    # The error survives a process pool.
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.what == info.value.what


def test_loader_lists_every_path_it_tried():
    from spdl._ext import _nvjpeg
    from spdl.io._cuda_libs import loaded_libraries

    if "nvjpeg" in loaded_libraries():
        pytest.skip("nvJPEG is already loaded in this process")
    with pytest.raises(OSError) as info:
        _nvjpeg.load_nvjpeg(["/nonexistent/libnvjpeg.so.13", "libnvjpeg-not-there.so.99"])
    message = str(info.value)
    assert "/nonexistent/libnvjpeg.so.13" in message
    assert "libnvjpeg-not-there.so.99" in message


def test_candidate_paths_honour_the_environment(monkeypatch, tmp_path):
    from spdl.io._cuda_libs import candidate_paths

    monkeypatch.setenv("SPDL_NVJPEG_PATH", str(tmp_path / "libnvjpeg.so"))
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "cuda"))
    paths = candidate_paths("nvjpeg")
    assert paths[0] == str(tmp_path / "libnvjpeg.so")
    assert paths[1:3] == ["libnvjpeg.so.13", "libnvjpeg.so.12"]
    assert str(tmp_path / "cuda" / "lib64" / "libnvjpeg.so.13") in paths
    assert len(paths) == len(set(paths))


def test_nvjpeg_status_table():
    from spdl._ext import _nvjpeg

    assert _nvjpeg.nvjpeg_status_name(3) == "NVJPEG_STATUS_BAD_JPEG"
    assert _nvjpeg.nvjpeg_status_name(10) == "NVJPEG_STATUS_INCOMPLETE_BITSTREAM"
    assert _nvjpeg.nvjpeg_status_name(77) == "nvjpegStatus_t(77)"
    assert _nvjpeg.is_data_status(3) and _nvjpeg.is_data_status(10)
    assert not _nvjpeg.is_data_status(6)  # EXECUTION_FAILED blames the GPU, not the bytes


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("source", ["resize.cu", "nv12_to_rgb.cu"])
def test_kernels_compile(source, tmp_path):
    """The .cu sources compile to PTX (NVRTC compiles the same sources at run time)."""
    from spdl.io._cuda_kernels import kernel_dir

    folder = kernel_dir()
    subprocess.run(
        [
            "nvcc",
            "--ptx",
            "-arch=compute_75",
            "--std=c++14",
            f"-I{folder}",
            "-o",
            str(tmp_path / "out.ptx"),
            str(folder / source),
        ],
        check=True,
    )
    ptx = (tmp_path / "out.ptx").read_text()
    name = "resize_rgb_planar_u8" if source == "resize.cu" else "nv12_to_rgb"
    assert f".entry {name}(" in ptx  # extern "C": the name CuPy looks up is unmangled


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("source", ["resize.cu", "nv12_to_rgb.cu"])
def test_inlined_kernel_source_compiles_alone(source, tmp_path):
    """What NVRTC is given (headers inlined, no include path) compiles on its own."""
    from spdl.io._cuda_kernels import kernel_source

    code = kernel_source(source)
    assert "#include" not in code and "namespace spdl" in code
    (tmp_path / "k.cu").write_text(code)
    subprocess.run(
        ["nvcc", "--ptx", "-arch=compute_75", "--std=c++14", "-o", str(tmp_path / "k.ptx"),
         str(tmp_path / "k.cu")],
        check=True,
    )  # fmt: skip


def test_yuv_matrix_round_trips_bt601():
    from spdl.io._cuda_kernels import yuv_matrix

    y_scale, y_off, c_scale, r_v, g_u, g_v, b_u = yuv_matrix("bt601", full_range=False)

    # Limited-range black, white and saturated red.
    def rgb(y, u, v):
        yy, uu, vv = (y - y_off) * y_scale, (u - 128) * c_scale, (v - 128) * c_scale
        return np.rint([yy + r_v * vv, yy - g_u * uu - g_v * vv, yy + b_u * uu])

    assert rgb(16, 128, 128).tolist() == [0, 0, 0]
    assert rgb(235, 128, 128).tolist() == [255, 255, 255]
    np.testing.assert_allclose(rgb(81, 90, 240), [255, 0, 0], atol=1.5)
    with pytest.raises(ValueError):
        yuv_matrix("bt999")


def test_reference_resize_identity_and_mean():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    np.testing.assert_array_equal(cuda_media.reference_resize(image, 37, 53), image)
    # Shrinking by an integer factor averages each block with triangle weights: a flat image stays flat.
    flat = np.full((40, 60, 3), 123, np.uint8)
    assert (cuda_media.reference_resize(flat, 10, 15) == 123).all()
    small = cuda_media.reference_resize(image, 9, 11)
    assert small.shape == (9, 11, 3)
    assert abs(float(small.mean()) - float(image.mean())) < 4


def test_tolerance_helper():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    b = a.copy()
    b[::7] = np.clip(b[::7].astype(int) + 1, 0, 255).astype(np.uint8)
    cuda_media.assert_gpu_close(b, a)
    with pytest.raises(AssertionError, match="PSNR"):
        cuda_media.assert_gpu_close(255 - a, a)
    with pytest.raises(AssertionError, match="shape"):
        cuda_media.assert_gpu_close(a[1:], a)
    c = np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)  # PSNR ~38.6 dB and all off by 3
    with pytest.raises(AssertionError):
        cuda_media.assert_gpu_close(c, a)


@needs_ffmpeg
@pytest.mark.parametrize(
    ("codec", "bsf", "fmt"),
    [("libx264", "h264_mp4toannexb", "h264"), ("libx265", "hevc_mp4toannexb", "hevc")],
)
def test_annexb_feed_matches_ffmpeg(tmp_path, codec, bsf, fmt):
    """NVDEC's feed is byte for byte what ffmpeg's Annex B bitstream filter writes."""
    extra = ("-bf", "2", "-g", "12") if codec == "libx264" else ("-x265-params", "log-level=error")
    path = cuda_media.media.make_video(tmp_path / "v.mp4", codec=codec, duration=1.0, extra=extra)
    expected = cuda_media.media.reference_raw(path, args=["-c:v", "copy", "-bsf:v", bsf, "-f", fmt])
    packets = spdl.io.demux_annexb(path)
    assert packets.codec == fmt
    assert (packets.width, packets.height) == (320, 240)
    assert packets.colorspace == "bt601" and not packets.full_range  # untagged: FFmpeg's default
    assert len(packets) == 25
    assert b"".join(data for data, _ in packets.packets) == expected
    assert data_starts_with_start_code(packets.packets[0][0])


def data_starts_with_start_code(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x00\x01") or data.startswith(b"\x00\x00\x01")


@needs_ffmpeg
def test_annexb_reader_reads_in_bounded_chunks(tmp_path):
    from spdl._ext import _annexb

    path = cuda_media.media.make_video(tmp_path / "v.mp4", duration=1.0)
    reader = _annexb.AnnexBReader(path)
    sizes = []
    while chunk := reader.read(7):
        sizes.append(len(chunk))
    assert sizes == [7, 7, 7, 4]
    assert reader.read(7) == []
    with pytest.raises(ValueError):
        reader.read(0)


def test_annexb_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        spdl.io.demux_annexb(tmp_path / "missing.mp4")
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(spdl.io.DemuxError) as info:
        spdl.io.demux_annexb(noise)
    assert str(noise) in info.value.source
    with pytest.raises(spdl.io.MediaError):
        spdl.io.demux_annexb(b"not a video at all" * 100)


@needs_ffmpeg
def test_annexb_reads_memory_in_place(tmp_path):
    path = cuda_media.media.make_video(tmp_path / "v.mp4", duration=0.5)
    from_path = spdl.io.demux_annexb(path)
    from_bytes = spdl.io.demux_annexb(path.read_bytes())
    assert from_bytes.packets == from_path.packets
    assert (from_bytes.codec, from_bytes.width, from_bytes.height) == ("h264", 320, 240)
    audio = cuda_media.media.make_audio(tmp_path / "a.wav")
    with pytest.raises(spdl.io.DemuxError, match="No video stream"):
        spdl.io.demux_annexb(audio)


@needs_ffmpeg
def test_decode_packets_nvdec_names_the_packets_it_takes(tmp_path):
    path = cuda_media.media.make_video(tmp_path / "v.mp4", duration=0.2)
    with pytest.raises(TypeError, match="demux_annexb"):
        spdl.io.decode_packets_nvdec(spdl.io.demux_video(path))


def test_nvdec_output_size():
    from spdl.io._nvdec import nvdec_output_size

    assert nvdec_output_size(320, 240) == ((0, 0, 320, 240), 240, 320)
    assert nvdec_output_size(320, 240, (10, 20, 30, 40)) == ((10, 20, 280, 180), 180, 280)
    assert nvdec_output_size(320, 240, (0, 0, 0, 0), 112, 84) == ((0, 0, 320, 240), 84, 112)
    for bad in [dict(crop=(200, 0, 200, 0)), dict(crop=(-1, 0, 0, 0)), dict(scale_width=10)]:
        with pytest.raises(ValueError):
            nvdec_output_size(320, 240, **bad)
