"""jpeg_scan.h: spdl's own reading of JPEG scans gives libavcodec's planes, byte for byte.

``load_image_batch`` decodes the common JPEGs' Huffman codes itself (spdl/_ext/jpeg_scan.h) and
leaves the rest to libavcodec. ``_image_batch.compare_with_libavcodec`` decodes one file both
ways and compares every plane; these tests run it over JPEGs from three encoders (Pillow's
libjpeg, the ffmpeg command line, hand-edited files) in every layout, size and quality the
decoder takes, over files it must leave to libavcodec, and over thousands of damaged files,
where it must either decline or agree.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import spdl.io
from spdl._ext import _image_batch

import media

SIZES = [(1, 1), (7, 5), (8, 8), (17, 9), (33, 31), (250, 3), (321, 239)]


def _picture(width: int, height: int, content: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if content == "noise":  # large coefficients: long codes, the slow path
        return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    if content == "flat":  # blocks with only a DC coefficient
        return np.full((height, width, 3), (200, 30, 90), np.uint8)
    y, x = np.mgrid[0:height, 0:width]
    grad = np.stack(
        [x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], -1
    )
    if content == "mixed":  # half noise, half gradient
        grad[:, : width // 2] = rng.integers(0, 256, (height, width // 2, 3))
    return grad.astype(np.uint8)


def _pil_jpeg(array: np.ndarray, mode: str = "RGB", **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).convert(mode).save(out, "JPEG", **options)
    return out.getvalue()


def _load(srcs, width, height):
    return spdl.io.to_numpy(spdl.io.load_image_batch(srcs, width=width, height=height))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("content", ["noise", "gradient", "flat", "mixed"])
@pytest.mark.parametrize("subsampling", [0, 1, 2])  # 4:4:4, 4:2:2, 4:2:0
def test_libjpeg_files_equal_libavcodec(size, content, subsampling):
    for quality in (1, 50, 90, 100):
        data = _pil_jpeg(_picture(*size, content), quality=quality, subsampling=subsampling)
        assert _image_batch.compare_with_libavcodec(data) is True, (quality,)


@pytest.mark.parametrize("size", SIZES)
def test_gray_and_optimized_tables_equal_libavcodec(size):
    picture = _picture(*size, "mixed")
    assert _image_batch.compare_with_libavcodec(_pil_jpeg(picture, "L", quality=85)) is True
    # Huffman tables made for the picture (optimize) instead of the standard ones.
    for subsampling in (0, 2):
        data = _pil_jpeg(picture, quality=97, subsampling=subsampling, optimize=True)
        assert _image_batch.compare_with_libavcodec(data) is True


def test_sixteen_bit_quantisation_tables_equal_libavcodec():
    # Values over 255 make libjpeg write 16-bit tables (and an extended SOF1 header); the
    # coefficients then overflow int16 as libavcodec lets them.
    tables = [[300 + i for i in range(64)], [65535] * 64]
    data = _pil_jpeg(_picture(64, 48, "noise"), qtables=tables, subsampling=2)
    assert data[data.index(b"\xff\xdb") + 4] >> 4 == 1  # Pq: 16-bit
    assert b"\xff\xc1" in data and b"\xff\xc0" not in data
    assert _image_batch.compare_with_libavcodec(data) is True


@pytest.mark.parametrize("pix_fmt", ["yuvj444p", "yuvj422p", "yuvj420p"])
@pytest.mark.parametrize("size", [(321, 239), (64, 64), (9, 17)])
def test_ffmpeg_encoded_files_equal_libavcodec(tmp_path, pix_fmt, size):
    # FFmpeg's mjpeg encoder writes 4:4:4 with every component sampled 1x2 (two blocks per
    # component in each MCU): another MCU shape for the same layout.
    path = media.make_image(tmp_path / "x.jpg", width=size[0], height=size[1], pix_fmt=pix_fmt,
                            source="mandelbrot")  # fmt: skip
    assert _image_batch.compare_with_libavcodec(path.read_bytes()) is True


def _as_440(data: bytes) -> bytes:
    """A 4:2:2 JPEG's scan reread as 4:4:0: luma sampled 1x2 instead of 2x1, width and height
    swapped, so the MCUs keep their count and their blocks (the picture is scrambled, the file
    valid)."""
    out = bytearray(data)
    sof = out.index(b"\xff\xc0")
    height, width = out[sof + 5 : sof + 7], out[sof + 7 : sof + 9]
    out[sof + 5 : sof + 7], out[sof + 7 : sof + 9] = width, height
    assert out[sof + 11] == 0x21
    out[sof + 11] = 0x12
    return bytes(out)


def test_440_layout_equals_libavcodec():
    for size in [(64, 48), (31, 17), (16, 8)]:
        data = _as_440(_pil_jpeg(_picture(*size, "mixed"), quality=90, subsampling=1))
        assert _image_batch.compare_with_libavcodec(data) is True


def test_files_left_to_libavcodec():
    picture = _picture(40, 30, "mixed")
    for options in ({"progressive": True}, {"restart_marker_blocks": 2}):
        assert _image_batch.compare_with_libavcodec(_pil_jpeg(picture, **options)) is None
    # CMYK (four components, an Adobe segment) and RGB-tagged components.
    assert _image_batch.compare_with_libavcodec(_pil_jpeg(picture, "CMYK")) is None
    data = bytearray(_pil_jpeg(picture, subsampling=0))
    sof = data.index(b"\xff\xc0")
    sos = data.index(b"\xff\xda")
    for k, tag in enumerate(b"RGB"):
        data[sof + 10 + 3 * k] = tag
        data[sos + 5 + 2 * k] = tag
    assert _image_batch.compare_with_libavcodec(bytes(data)) is None


def _damaged(rng, data: bytes) -> bytes:
    """``data`` with one kind of damage: flipped bits or zeroed runs in the scan, a changed
    header byte, a scan cut short, a marker or stray bytes inside or after the scan, a Huffman
    table's code counts changed (too many codes for their lengths, or too few)."""
    d = bytearray(data)
    sos = d.index(b"\xff\xda")
    scan = sos + 2 + (d[sos + 2] << 8 | d[sos + 3])
    kind = rng.integers(0, 7)
    if kind == 0:
        for _ in range(rng.integers(1, 4)):
            d[rng.integers(scan, len(d) - 2)] ^= 1 << rng.integers(0, 8)
    elif kind == 1:
        d[rng.integers(2, scan)] = rng.integers(0, 256)
    elif kind == 2:
        d = d[: rng.integers(scan, len(d) - 2)] + b"\xff\xd9"
    elif kind == 3:
        at = rng.integers(scan, len(d) - 2)
        d[at:at] = bytes([0xFF, int(rng.choice([0x00, 0xD0, 0xD3, 0xFF, 0xE1, 0xD9]))])
    elif kind == 4:
        d = d[:-2] + bytes(rng.integers(0, 256, rng.integers(1, 9), dtype=np.uint8)) + b"\xff\xd9"
    elif kind == 5:
        at = rng.integers(scan, len(d) - 2)
        d[at : at + 20] = bytes(len(d[at : at + 20]))
    else:
        dht = d.index(b"\xff\xc4")
        d[dht + 5 + rng.integers(0, 16)] = rng.integers(0, 256)
    return bytes(d)


def _bases() -> list[bytes]:
    picture = _picture(56, 40, "mixed", seed=3)
    files = [_pil_jpeg(picture, quality=q, subsampling=s) for s in (0, 1, 2) for q in (30, 90)]
    return [*files, _pil_jpeg(picture, "L", quality=80)]


def test_damaged_files_are_declined_or_agree():
    rng = np.random.default_rng(20261207)
    bases = _bases()
    outcomes = {None: 0, True: 0, False: 0}
    for i in range(3000):
        outcomes[_image_batch.compare_with_libavcodec(_damaged(rng, bases[i % len(bases)]))] += 1
    assert outcomes[False] == 0
    # Both outcomes are exercised: damage the decoder declines, and damage it reads as
    # libavcodec does (a flipped bit is often still a valid code).
    assert outcomes[None] > 300 and outcomes[True] > 300, outcomes


def test_damaged_files_load_the_same_either_way():
    """The whole of load_image_batch, with and without jpeg_scan.h: the same arrays, and the
    same failures."""
    rng = np.random.default_rng(7)
    bases = _bases()
    files = [_damaged(rng, bases[i % len(bases)]) for i in range(150)]

    def load_each():
        out = []
        for data in files:
            try:
                out.append(_load([data], 24, 16)[0])
            except Exception as e:  # the failure is the result here
                out.append(type(e))
        return out

    fast = load_each()
    _image_batch.use_fast_jpeg(False)
    try:
        slow = load_each()
    finally:
        _image_batch.use_fast_jpeg(True)
    for a, b in zip(fast, slow, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a is b


def test_load_image_batch_takes_the_fast_path_and_equals_ffmpeg(tmp_path):
    paths = []
    for k, subsampling in enumerate((0, 1, 2)):
        path = tmp_path / f"{k}.jpg"
        path.write_bytes(_pil_jpeg(_picture(123, 87, "mixed", seed=k), subsampling=subsampling))
        paths.append(path)
    gray = tmp_path / "gray.jpg"
    gray.write_bytes(_pil_jpeg(_picture(99, 45, "gradient"), "L"))
    paths.append(gray)
    before = _image_batch.fast_jpeg_images()
    batch = _load(paths * 2, 64, 48)
    # The first picture of each layout is checked against libavcodec (and taken from it).
    assert _image_batch.fast_jpeg_images() - before >= len(paths)
    verdicts = _image_batch.fast_jpeg_layouts()
    assert {verdicts[k] for k in ("gray", "yuv444", "yuv422", "yuv420")} == {1}
    for i, path in enumerate(paths * 2):
        want = media.reference_video(path, pix_fmt="rgb24", vf="scale=64:48:flags=bilinear")[0]
        np.testing.assert_array_equal(batch[i], want)


def test_use_fast_jpeg_off_gives_every_file_to_libavcodec(tmp_path):
    data = _pil_jpeg(_picture(64, 48, "mixed"))
    _load([data], 32, 32)  # the layout is checked
    _image_batch.use_fast_jpeg(False)
    try:
        before = _image_batch.fast_jpeg_images()
        off = _load([data] * 3, 32, 32)
        assert _image_batch.fast_jpeg_images() == before
    finally:
        _image_batch.use_fast_jpeg(True)
    on = _load([data] * 3, 32, 32)
    assert _image_batch.fast_jpeg_images() == before + 3
    np.testing.assert_array_equal(on, off)


def test_segments_holding_a_whole_jpeg_are_skipped_as_libavcodec_skips_them(tmp_path):
    """Cameras put a thumbnail JPEG (its own SOI, tables, scan and EOI) inside the Exif
    segment; both decoders must step over it by the segment's length."""
    thumbnail = _pil_jpeg(_picture(16, 12, "noise", seed=5), quality=60)
    payload = b"Exif\x00\x00" + thumbnail
    main = _pil_jpeg(_picture(80, 60, "mixed", seed=6), subsampling=2)
    data = main[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + main[2:]
    assert _image_batch.compare_with_libavcodec(data) is True
    path = tmp_path / "exif.jpg"
    path.write_bytes(data)
    want = media.reference_video(path, pix_fmt="rgb24", vf="scale=40:30:flags=bilinear")[0]
    np.testing.assert_array_equal(_load([path], 40, 30)[0], want)


def test_a_layout_whose_planes_disagree_goes_to_libavcodec(tmp_path):
    """The safety net: when jpeg_scan.h's planes differ from libavcodec's on a layout's first
    picture, that layout is left to libavcodec for the rest of the process, and the bytes stay
    the command line's."""
    path = tmp_path / "x.jpg"
    path.write_bytes(_pil_jpeg(_picture(64, 48, "mixed"), subsampling=2))
    want = media.reference_video(path, pix_fmt="rgb24", vf="scale=32:24:flags=bilinear")[0]
    _image_batch._check_fast_jpeg_for_tests(True)
    try:
        before = _image_batch.fast_jpeg_images()
        batch = _load([path] * 4, 32, 24)
        assert _image_batch.fast_jpeg_layouts()["yuv420"] == -1
        assert _image_batch.fast_jpeg_images() == before
        for image in batch:
            np.testing.assert_array_equal(image, want)
    finally:
        _image_batch._check_fast_jpeg_for_tests(False)
    batch = _load([path] * 4, 32, 24)
    assert _image_batch.fast_jpeg_layouts()["yuv420"] == 1
    assert _image_batch.fast_jpeg_images() == before + 3  # the first one was the check
    for image in batch:
        np.testing.assert_array_equal(image, want)
