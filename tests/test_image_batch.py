"""load_image_batch: bytes equal to the ffmpeg command line's, sources, errors, threads, memory."""

from __future__ import annotations

import gc
import io
import logging
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import spdl.io
from spdl._ext import _image_batch
from spdl.io import utils

import media


def _reference(path, width, height, *, algo="bilinear", pix_fmt="rgb24", lowres=0):
    """``ffmpeg [-lowres N] -i PATH -vf scale=W:H:flags=ALGO,format=PIX_FMT``, one (H, W, C) image."""
    input_args = ("-lowres", str(lowres)) if lowres else ()
    frames = media.reference_video(
        path, pix_fmt=pix_fmt, vf=f"scale={width}:{height}:flags={algo}", input_args=input_args
    )
    assert frames.shape[0] == 1
    return frames[0]


@pytest.fixture(scope="module")
def images(media_dir) -> dict[str, Path]:
    """Images of several formats and layouts.

    testsrc2 rounds its size down to even numbers (321x239 becomes 320x238), and FFmpeg 5.1's
    mjpeg encoder writes a gray request as 4:4:4, so odd sizes are covered by
    test_jpeg_of_odd_size_equals_ffmpeg and "jpeg_gray" is a colour JPEG of gray content.
    """
    d = media_dir / "image_batch"
    d.mkdir(exist_ok=True)
    return {
        "jpeg420": media.make_image(d / "a.jpg", width=321, height=239, pix_fmt="yuvj420p"),
        "jpeg444": media.make_image(
            d / "b.jpg", width=200, height=150, pix_fmt="yuvj444p", source="mandelbrot"
        ),
        "jpeg422": media.make_image(d / "c.jpg", width=160, height=97, pix_fmt="yuvj422p"),
        "jpeg_gray": media.make_image(d / "d.jpg", width=128, height=128, pix_fmt="gray"),
        "jpeg_large": media.make_image(
            d / "e.jpg", width=640, height=480, pix_fmt="yuvj420p", source="mandelbrot"
        ),
        "png_rgb": media.make_image(d / "f.png", width=123, height=77, pix_fmt="rgb24"),
        "png_rgba": media.make_image(d / "g.png", width=64, height=48, pix_fmt="rgba"),
        "png_gray16": media.make_image(d / "h.png", width=50, height=40, pix_fmt="gray16be"),
        "bmp": media.make_image(d / "i.bmp", width=90, height=70, pix_fmt="bgr24"),
        "tiff": media.make_image(d / "j.tiff", width=75, height=60, pix_fmt="rgb24"),
    }


def _load(srcs, width, height, **kwargs):
    return spdl.io.to_numpy(spdl.io.load_image_batch(srcs, width=width, height=height, **kwargs))


@pytest.mark.parametrize("kind", ["jpeg420", "jpeg444", "jpeg422", "jpeg_gray", "png_rgb",
                                  "png_rgba", "png_gray16", "bmp", "tiff"])  # fmt: skip
def test_each_format_equals_ffmpeg_scale_filter(images, kind):
    batch = _load([images[kind]], 96, 80)
    assert batch.shape == (1, 80, 96, 3)
    assert batch.dtype == np.uint8
    np.testing.assert_array_equal(batch[0], _reference(images[kind], 96, 80))


@pytest.mark.parametrize("algo", ["bilinear", "bicubic", "area", "lanczos", "neighbor"])
@pytest.mark.parametrize("size", [(224, 224), (75, 33), (401, 300)])  # shrink, odd rows, enlarge
def test_scale_algorithms_and_sizes_equal_ffmpeg(images, algo, size):
    width, height = size
    batch = _load([images["jpeg420"]], width, height, scale_algo=algo)
    np.testing.assert_array_equal(batch[0], _reference(images["jpeg420"], width, height, algo=algo))


@pytest.mark.parametrize(
    "pix_fmt, channels", [("rgb24", 3), ("bgr24", 3), ("rgba", 4), ("gray", 1)]
)
def test_pixel_formats_equal_ffmpeg(images, pix_fmt, channels):
    batch = _load([images["jpeg420"], images["png_rgba"]], 57, 31, pix_fmt=pix_fmt)
    assert batch.shape == (2, 31, 57, channels)
    for i, kind in enumerate(["jpeg420", "png_rgba"]):
        np.testing.assert_array_equal(batch[i], _reference(images[kind], 57, 31, pix_fmt=pix_fmt))


# rgb24 and bgr24 may go through a planar twin of the swscale context: planar G, B, R where
# swscale interpolates chroma to full width (4:4:4 input, or an odd output width), 4:2:2 planes
# and swscale's colour tables where it keeps chroma at half width. A twin is used only where a
# noise picture gave the same bytes, from a context's second picture on (so each case loads
# the image twice). Shrinking (twins taken), same height and enlarging (two-tap vertical
# paths, where swscale rounds packed output differently and the twin is refused).
@pytest.mark.parametrize("algo", ["bilinear", "bicubic", "area", "lanczos", "neighbor"])
@pytest.mark.parametrize("size", [(96, 64), (97, 150), (201, 151), (399, 301)])
@pytest.mark.parametrize("pix_fmt", ["rgb24", "bgr24"])
def test_twin_outputs_equal_ffmpeg(images, algo, size, pix_fmt):
    width, height = size
    for kind in ["jpeg444", "jpeg420", "jpeg422"]:
        batch = _load([images[kind]] * 2, width, height, scale_algo=algo, pix_fmt=pix_fmt)
        ref = _reference(images[kind], width, height, algo=algo, pix_fmt=pix_fmt)
        np.testing.assert_array_equal(batch[0], ref, err_msg=kind)
        np.testing.assert_array_equal(batch[1], ref, err_msg=kind)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv444p"])
@pytest.mark.parametrize("container", ["jpg", "mkv"])
def test_twins_in_limited_range_and_bt709(media_dir, pix_fmt, container):
    # The colour tables' limited-range branch: a JPEG marked as ITU-R BT.601 video range, and
    # a BT.709 picture (FFV1 in Matroska, through the general path) for another matrix.
    d = media_dir / "image_batch_twins"
    d.mkdir(exist_ok=True)
    if container == "jpg":
        extra = ["-strict", "unofficial"]
    else:
        extra = ["-c:v", "ffv1", "-color_range", "tv", "-colorspace", "bt709"]
    path = media.make_image(
        d / f"{pix_fmt}.{container}",
        width=320,
        height=240,
        pix_fmt=pix_fmt,
        source="mandelbrot",
        extra=extra,
    )
    before = _image_batch.twin_images()
    batch = _load([path] * 2, 96, 64)
    after = _image_batch.twin_images()
    assert sum(after.values()) == sum(before.values()) + 1
    np.testing.assert_array_equal(batch[0], _reference(path, 96, 64))
    np.testing.assert_array_equal(batch[1], batch[0])


def test_a_jpegs_sticky_segments_do_not_reach_the_next_image(media_dir, images):
    # FFmpeg's mjpeg encoder marks a yuv420p (video range) JPEG with a "CS=ITU601" comment; the
    # decoder keeps that setting for every later picture, so a reused decoder would decode the
    # next, full-range JPEG as video range.
    d = media_dir / "image_batch_sticky"
    d.mkdir(exist_ok=True)
    video_range = media.make_image(
        d / "itu601.jpg", pix_fmt="yuv420p", source="mandelbrot", extra=["-strict", "unofficial"]
    )
    order = [images["jpeg420"], video_range, images["jpeg420"], images["jpeg444"]]
    for algo in ["bilinear", "fast_bilinear"]:
        batch = _load(order, 64, 48, scale_algo=algo)
        for i, path in enumerate(order):
            ref = _reference(path, 64, 48, algo=algo)
            np.testing.assert_array_equal(batch[i], ref, err_msg=f"{algo} {i}")


def test_twins_are_taken_where_they_agree(images):
    # Sizes no other test uses, so no context of theirs is still cached on this thread.
    def twin_used(path, width, height, times=2, **kwargs):
        before = _image_batch.twin_images()
        _load([path] * times, width, height, **kwargs)
        after = _image_batch.twin_images()
        return {k: after[k] - before[k] for k in after if after[k] != before[k]}

    # A context's first picture never goes through a twin: making and checking one only pays
    # for a context that is used again.
    assert twin_used(images["jpeg444"], 90, 60, times=1) == {}
    assert twin_used(images["jpeg444"], 90, 60, times=1) == {"gbrp": 1}
    # Shrunk: the twins give swscale's bytes (the test above) and are used from then on.
    assert twin_used(images["jpeg444"], 94, 62) == {"gbrp": 1}
    assert twin_used(images["jpeg444"], 94, 62, pix_fmt="bgr24") == {"gbrp": 1}
    assert twin_used(images["jpeg420"], 94, 62) == {"yuv": 1}
    assert twin_used(images["jpeg420"], 93, 62) == {"gbrp": 1}  # odd width: full chroma
    assert twin_used(images["jpeg422"], 94, 62) == {"yuv": 1}
    # Half-width chroma into bgr24: swscale's own x86 kernels, which round otherwise.
    assert twin_used(images["jpeg420"], 94, 62, pix_fmt="bgr24") == {}
    # Enlarged with bilinear: swscale's two-tap packed path rounds otherwise, so no twin.
    assert twin_used(images["jpeg444"], 397, 299) == {}
    # fast_bilinear and other output formats keep swscale's packed output.
    assert twin_used(images["jpeg444"], 94, 62, scale_algo="fast_bilinear") == {}
    assert twin_used(images["jpeg420"], 94, 62, pix_fmt="rgba") == {}
    # Switched off (for measuring them): swscale's packed output, the same bytes.
    _image_batch.use_twins(False)
    try:
        assert twin_used(images["jpeg444"], 88, 56) == {}
        np.testing.assert_array_equal(
            _load([images["jpeg444"]], 88, 56)[0], _reference(images["jpeg444"], 88, 56)
        )
    finally:
        _image_batch.use_twins(True)
    assert twin_used(images["jpeg444"], 88, 40) == {"gbrp": 1}


def test_mixed_batch_fills_every_slot_in_order(images):
    # Sizes and formats change from one image to the next: decoders and swscale contexts are
    # reused and replaced, and no image may see another's state.
    order = ["jpeg420", "png_rgb", "jpeg444", "jpeg_large", "bmp", "jpeg420", "jpeg_gray", "tiff"]
    batch = _load([images[k] for k in order], 64, 48)
    assert batch.shape == (len(order), 48, 64, 3)
    for i, kind in enumerate(order):
        np.testing.assert_array_equal(batch[i], _reference(images[kind], 64, 48), err_msg=kind)


def test_default_is_bilinear_rgb24(images):
    batch = _load([images["jpeg420"]], 32, 32)
    np.testing.assert_array_equal(batch[0], _reference(images["jpeg420"], 32, 32, algo="bilinear"))


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "numpy", "pathlike"])
def test_sources_in_memory_and_pathlike(images, kind):
    path = images["jpeg420"]
    data = path.read_bytes()
    src = {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "numpy": np.frombuffer(data, dtype=np.uint8),
        "pathlike": Path(path),
    }[kind]
    bmp = images["bmp"].read_bytes()  # the general path reads memory too
    batch = _load([src, bmp], 40, 30)
    np.testing.assert_array_equal(batch[0], _reference(path, 40, 30))
    np.testing.assert_array_equal(batch[1], _reference(images["bmp"], 40, 30))


@pytest.mark.parametrize(
    "size, lowres",
    [((160, 120), 2), ((300, 200), 1), ((320, 240), 1), ((321, 240), 0), ((80, 60), 3)],
)
def test_jpeg_lowres_equals_ffmpeg_lowres(images, size, lowres):
    # 640x480 shrinks in the DCT domain by the largest 2**N that still covers the target.
    path = images["jpeg_large"]
    width, height = size
    buffer, failures, used = _image_batch.decode_batch(
        [path], width, height, "rgb24", "bilinear", True, True, None
    )
    assert failures == [] and used == [lowres]
    got = spdl.io.to_numpy(buffer)[0]
    np.testing.assert_array_equal(got, _reference(path, width, height, lowres=lowres))
    if lowres:
        # An explicit, visible trade: not the full-size decode, but close to it.
        full = _reference(path, width, height)
        assert not np.array_equal(got, full)
        assert np.abs(got.astype(int) - full).mean() < 8


def test_jpeg_lowres_leaves_png_and_small_jpeg_alone(images):
    batch = _load([images["png_rgb"], images["jpeg420"]], 64, 48, jpeg_lowres=True)
    np.testing.assert_array_equal(batch[0], _reference(images["png_rgb"], 64, 48))
    np.testing.assert_array_equal(batch[1], _reference(images["jpeg420"], 64, 48, lowres=2))


# --- errors -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken(images, media_dir) -> dict[str, object]:
    jpeg = images["jpeg420"].read_bytes()
    png = images["png_rgb"].read_bytes()
    return {
        "missing": media_dir / "no_such_image.jpg",
        "garbage": b"this is not an image at all",
        "empty": b"",
        "truncated_jpeg": jpeg[: len(jpeg) // 2],
        "jpeg_header_only": jpeg[:300],
        "truncated_png": png[: len(png) // 2],
    }


@pytest.mark.parametrize(
    "kind, exc",
    [
        ("missing", FileNotFoundError),
        ("garbage", spdl.io.DemuxError),
        ("empty", spdl.io.MediaError),
        ("truncated_jpeg", spdl.io.TruncatedMediaError),
        ("jpeg_header_only", spdl.io.DecodeError),
        ("truncated_png", spdl.io.DecodeError),
    ],
)
def test_strict_raises_the_first_failure_naming_it(images, broken, kind, exc):
    srcs = [images["jpeg420"], broken[kind], broken["garbage"]]
    with pytest.raises(exc) as info:
        spdl.io.load_image_batch(srcs, width=32, height=32)
    if exc is FileNotFoundError:
        assert info.value.filename == str(broken["missing"])
    else:
        assert "mage 1 of 3" in str(info.value)
        assert info.value.source
        assert info.value.step in ("open", "decode")


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(IsADirectoryError):
        spdl.io.load_image_batch([tmp_path], width=8, height=8)


def test_not_strict_skips_and_reports_failures(images, broken, caplog):
    srcs = [
        broken["missing"],
        images["jpeg420"],
        broken["truncated_jpeg"],
        images["png_rgb"],
        broken["garbage"],
        images["bmp"],
        broken["empty"],
    ]
    with caplog.at_level(logging.WARNING, logger="spdl.io"):
        buffer, failures = spdl.io.load_image_batch(srcs, width=40, height=30, strict=False)
    batch = spdl.io.to_numpy(buffer)
    assert [i for i, _ in failures] == [0, 2, 4, 6]
    assert [type(e) for _, e in failures] == [
        FileNotFoundError,
        spdl.io.TruncatedMediaError,
        spdl.io.DemuxError,
        spdl.io.DemuxError,
    ]
    assert batch.shape == (3, 30, 40, 3)
    for slot, kind in enumerate(["jpeg420", "png_rgb", "bmp"]):
        np.testing.assert_array_equal(batch[slot], _reference(images[kind], 40, 30))
    skipped = [r for r in caplog.records if "skipped image" in r.getMessage()]
    assert len(skipped) == 4


def test_not_strict_with_every_image_broken_returns_an_empty_batch(broken):
    buffer, failures = spdl.io.load_image_batch(
        [broken["garbage"], broken["truncated_jpeg"]], width=8, height=6, strict=False
    )
    assert buffer.shape == (0, 6, 8, 3)
    assert len(failures) == 2


def test_errors_pickle(broken):
    import pickle

    with pytest.raises(spdl.io.TruncatedMediaError) as info:
        spdl.io.load_image_batch([broken["truncated_jpeg"]], width=8, height=8)
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is spdl.io.TruncatedMediaError
    assert again.source == info.value.source


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(srcs=[]), ValueError),
        (dict(width=0), ValueError),
        (dict(height=-3), ValueError),
        (dict(width=2.5), TypeError),
        (dict(pix_fmt="yuv420p"), ValueError),
        (dict(scale_algo="nearest-ish"), ValueError),
        (dict(srcs="one.jpg"), TypeError),
        (dict(srcs=[3]), TypeError),
        (dict(srcs=[np.zeros(8, dtype=np.float32)]), TypeError),
        (dict(srcs=[np.zeros((2, 8), dtype=np.uint8)]), ValueError),
        (dict(srcs=[np.zeros(16, dtype=np.uint8)[::2]]), ValueError),
        (dict(timeout=-1), ValueError),
    ],
)
def test_bad_arguments(images, kwargs, exc):
    args = dict(srcs=[images["jpeg420"]], width=16, height=16)
    args.update(kwargs)
    srcs = args.pop("srcs")
    with pytest.raises(exc):
        spdl.io.load_image_batch(srcs, **args)


def test_timeout_ends_the_call_even_when_not_strict(images):
    srcs = [images["jpeg_large"]] * 400
    with pytest.raises(spdl.io.MediaTimeoutError):
        spdl.io.load_image_batch(srcs, width=64, height=64, strict=False, timeout=0.01)


# --- threads and memory ---------------------------------------------------------------------


def test_threads_decode_at_once_and_agree(images):
    kinds = ["jpeg420", "png_rgb", "jpeg_large", "bmp"]
    expected = {k: _reference(images[k], 48, 36) for k in kinds}
    results, errors = {}, []

    def work(n):
        try:
            order = kinds[n % 4 :] + kinds[: n % 4]
            for _ in range(5):
                got = _load([images[k] for k in order], 48, 36)
            results[n] = (order, got)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(results) == 6
    for order, got in results.values():
        for i, kind in enumerate(order):
            np.testing.assert_array_equal(got[i], expected[kind])


@pytest.mark.skipif(
    not utils.get_build_config()["release_gil"], reason="this build keeps the GIL held"
)
def test_native_loop_releases_the_gil(images):
    # While one thread is inside load_image_batch, another runs Python code: count how far a
    # pure-Python loop gets meanwhile, against how far it gets alone.
    srcs = [images["jpeg_large"]] * 60
    spdl.io.load_image_batch(srcs[:2], width=224, height=224)  # warm up this thread's decoder

    def spin(seconds):
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            n += 1
        return n

    alone_rate = spin(0.2) / 0.2
    done = threading.Event()
    span = {}

    def load():
        t0 = time.perf_counter()
        spdl.io.load_image_batch(srcs, width=224, height=224)
        span["seconds"] = time.perf_counter() - t0
        done.set()

    worker = threading.Thread(target=load)
    count = 0
    worker.start()
    while not done.is_set():
        count += 1
    worker.join()
    # With the GIL held for the whole batch the loop would stall for all of it.
    assert count / span["seconds"] > 0.1 * alone_rate


def test_buffer_lives_while_the_array_does(images):
    buffer = spdl.io.load_image_batch([images["jpeg420"]] * 3, width=64, height=64)
    ref = weakref.ref(buffer)
    array = spdl.io.to_numpy(buffer)
    del buffer
    gc.collect()
    assert ref() is not None
    np.testing.assert_array_equal(array[2], _reference(images["jpeg420"], 64, 64))
    del array
    gc.collect()
    assert ref() is None


def test_repeated_calls_do_not_grow_memory(images):
    psutil = pytest.importorskip("psutil")
    srcs = [images["jpeg_large"], images["png_rgb"], images["bmp"]] * 4
    for _ in range(20):
        spdl.io.load_image_batch(srcs, width=128, height=96)
    gc.collect()
    before = psutil.Process().memory_info().rss
    for _ in range(150):
        spdl.io.load_image_batch(srcs, width=128, height=96)
    gc.collect()
    grown = psutil.Process().memory_info().rss - before
    assert grown < 8 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 150 batches"


# --- decode size limits and FFmpeg's global state --------------------------------------------


@pytest.fixture
def decode_limits():
    """Restores the process-wide decode limits after a test changes them."""
    saved = spdl.io.get_decode_limits()
    yield
    spdl.io.set_decode_limits(**saved)


def _jpeg_claiming(data: bytes, width: int, height: int) -> bytes:
    """``data`` with its frame header (SOF0) patched to state ``width`` x ``height``."""
    pos = data.index(b"\xff\xc0")
    return data[: pos + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[pos + 9 :]


def _png_claiming(data: bytes, width: int, height: int) -> bytes:
    """``data`` with its IHDR chunk patched to state ``width`` x ``height`` (CRC left stale)."""
    return data[:16] + width.to_bytes(4, "big") + height.to_bytes(4, "big") + data[24:]


def test_a_bomb_is_refused_before_decoding(images, decode_limits):
    # 65000 x 65000 is over the default max_pixels (8192 x 8192): a 4 GiB picture per plane
    # from a file of a few KB. It must be refused from its header, without decoding.
    jpeg_bomb = _jpeg_claiming(images["jpeg420"].read_bytes(), 65000, 65000)
    png_bomb = _png_claiming(images["png_rgb"].read_bytes(), 60000, 60000)
    for bomb in (jpeg_bomb, png_bomb):
        t0 = time.perf_counter()
        with pytest.raises(spdl.io.MediaTooLargeError, match="max_pixels=67108864") as info:
            spdl.io.load_image_batch([images["jpeg420"], bomb], width=32, height=32)
        assert time.perf_counter() - t0 < 1.0
        assert "Image 1 of 2" in str(info.value) and info.value.step == "decode"
    buffer, failures = spdl.io.load_image_batch(
        [jpeg_bomb, images["jpeg420"], png_bomb], width=32, height=32, strict=False
    )
    assert [i for i, _ in failures] == [0, 2]
    assert all(isinstance(e, spdl.io.MediaTooLargeError) for _, e in failures)
    np.testing.assert_array_equal(
        spdl.io.to_numpy(buffer)[0], _reference(images["jpeg420"], 32, 32)
    )


@pytest.mark.parametrize("kind", ["jpeg420", "png_rgb", "bmp"])
def test_set_decode_limits_max_pixels_applies_to_every_path(images, decode_limits, kind):
    path = images[kind]
    spdl.io.set_decode_limits(max_pixels=50 * 50)
    with pytest.raises(spdl.io.MediaTooLargeError, match="max_pixels=2500"):
        spdl.io.load_image_batch([path], width=16, height=16)
    spdl.io.set_decode_limits(max_pixels=0)  # no limit
    np.testing.assert_array_equal(_load([path], 16, 16)[0], _reference(path, 16, 16))


def test_set_decode_limits_max_bytes(images, decode_limits):
    # 321x239 yuvj420p is counted as 3 bytes a pixel (230,157 bytes).
    spdl.io.set_decode_limits(max_bytes=200_000)
    with pytest.raises(spdl.io.MediaTooLargeError, match="max_bytes=200000"):
        spdl.io.load_image_batch([images["jpeg420"]], width=16, height=16)
    spdl.io.set_decode_limits(max_bytes=300_000)
    _load([images["jpeg420"]], 16, 16)
    # The batch buffer itself counts too: 8 x 224 x 224 x 3 = 1,204,224 bytes.
    spdl.io.set_decode_limits(max_bytes=1_000_000)
    with pytest.raises(spdl.io.MediaTooLargeError, match="A batch of 8 images"):
        spdl.io.load_image_batch([images["jpeg420"]] * 8, width=224, height=224)


def test_ffmpeg_cpu_flags_are_left_as_they_were(images):
    # The swscale gather policy may set AV_CPU_FLAG_SLOW_GATHER while our own contexts are made,
    # never for the rest of the process.
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("avutil")
    if name is None:
        pytest.skip("libavutil not found by ctypes")
    avutil = ctypes.CDLL(name)
    before = avutil.av_get_cpu_flags()
    # A size not used elsewhere makes a new swscale context.
    _load([images["jpeg_large"], images["jpeg420"]], 224, 208)
    assert _image_batch.swscale_gathers_avoided() is not None
    assert avutil.av_get_cpu_flags() == before


@pytest.mark.parametrize("pix_fmt", ["yuvj420p", "yuvj422p", "yuvj444p"])
@pytest.mark.parametrize("size", [(321, 239), (97, 61), (17, 9)])
def test_jpeg_of_odd_size_equals_ffmpeg(media_dir, pix_fmt, size):
    # testsrc2 rounds its size to even numbers, so the odd size comes from a scale filter; the
    # chroma planes of these files are ceil(size / 2) wide or high, and their last MCU is partial.
    width, height = size
    d = media_dir / "image_batch_odd"
    d.mkdir(exist_ok=True)
    path = media.make_image(
        d / f"{pix_fmt}_{width}x{height}.jpg",
        pix_fmt=pix_fmt,
        extra=["-vf", f"scale={width}:{height}"],
    )
    assert media.probe_size(path) == (width, height)
    for out in [(224, 224), (width, height), (33, 7)]:
        np.testing.assert_array_equal(
            _load([path], *out)[0], _reference(path, *out), err_msg=str(out)
        )


def _noise_jpeg() -> bytes:
    """A 64x48 JPEG of noise (quality 90): long scans with every kind of code."""
    out = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def test_damaged_jpeg_scan_fails_as_in_load_image(images):
    """A scan the decoder cannot read fails (libavcodec would patch it over with grey) with
    libavcodec's words, as load_image fails; strict=False skips it."""
    data = bytearray(_noise_jpeg())
    sos = data.index(b"\xff\xda")
    middle = (sos + len(data)) // 2
    data[middle : middle + 40] = bytes(range(40, 0, -1))
    data = bytes(data)
    with pytest.raises(spdl.io.MediaError, match=r"image 0 of 1.*\[step: decode\].*mjpeg"):
        _load([data], 32, 32)
    with pytest.raises(spdl.io.MediaError, match=r"\[step: decode\].*mjpeg"):
        spdl.io.load_image(data)
    good = images["jpeg420"].read_bytes()
    batch, failures = spdl.io.load_image_batch([data, good], width=32, height=32, strict=False)
    assert [index for index, _ in failures] == [0]
    assert spdl.io.to_numpy(batch).shape == (1, 32, 32, 3)
