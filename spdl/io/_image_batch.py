"""``load_image_batch``: many images decoded and resized into one (B, H, W, C) buffer."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Literal, Union, overload

from spdl._ext import _image_batch
from spdl._ext._buffer import CPUBuffer

__all__ = ["load_image_batch"]

_LG = logging.getLogger("spdl.io")

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, "numpy.ndarray"]  # noqa: F821


@overload
def load_image_batch(
    srcs: Sequence[Source],
    *,
    width: int,
    height: int,
    pix_fmt: str = ...,
    scale_algo: str = ...,
    jpeg_lowres: bool = ...,
    strict: Literal[True] = ...,
    timeout: float | None = ...,
) -> CPUBuffer: ...


@overload
def load_image_batch(
    srcs: Sequence[Source],
    *,
    width: int,
    height: int,
    pix_fmt: str = ...,
    scale_algo: str = ...,
    jpeg_lowres: bool = ...,
    strict: Literal[False],
    timeout: float | None = ...,
) -> tuple[CPUBuffer, list[tuple[int, Exception]]]: ...


def load_image_batch(
    srcs,
    *,
    width,
    height,
    pix_fmt="rgb24",
    scale_algo="bilinear",
    jpeg_lowres=False,
    strict=True,
    timeout=None,
):
    """Decode images and resize each straight into its slot of one batch buffer.

    One call runs one native loop over the whole batch with the GIL released, so several threads
    each loading a batch run in parallel. Each image is stretched to ``width`` x ``height``
    (aspect ratio not kept), exactly as FFmpeg's ``scale`` filter does it: the result equals, bit
    for bit, ``ffmpeg -i SRC -vf scale=WIDTH:HEIGHT:flags=SCALE_ALGO,format=PIX_FMT``.

    JPEG and PNG are decoded directly (the whole file is one packet, as FFmpeg's ``image2``
    demuxer feeds it); any other image format FFmpeg reads (BMP, TIFF, WebP, GIF...) goes through
    libavformat and its first picture is used. For the common JPEG (one sequential scan, 8-bit,
    grey or YCbCr) spdl reads the Huffman-coded data itself, faster than libavcodec, and leaves
    the IDCT to libavcodec: the planes are libavcodec's, byte for byte (checked against it once
    per layout and process; see docs/performance.md).

    Args:
        srcs: the images: paths (``str`` / ``os.PathLike``), or encoded bytes in memory
            (``bytes``, ``bytearray``, 1-D contiguous ``memoryview`` or 1-D uint8 NumPy array).
        width: output width in pixels.
        height: output height in pixels.
        pix_fmt: output pixel format, one of ``"rgb24"``, ``"bgr24"``, ``"rgba"``, ``"gray"``
            (C = 3, 3, 4, 1).
        scale_algo: the swscale algorithm, by the name the ``scale`` filter's ``flags=`` takes:
            ``"bilinear"`` (default: antialiased when shrinking, the interpolation
            torchvision's ``Resize`` uses, and about a third cheaper than ``"bicubic"``),
            ``"bicubic"``, ``"area"``, ``"lanczos"``, ``"fast_bilinear"``, ``"neighbor"``,
            ``"bicublin"``, ``"gauss"``, ``"sinc"``, ``"spline"``.
        jpeg_lowres: let the JPEG decoder shrink by 2, 4 or 8 in the DCT domain (FFmpeg's
            ``lowres``) when the image is at least that many times larger than the target in
            both dimensions, then resize the smaller picture. Such a picture is decoded by
            libavcodec alone, without spdl's faster reading of the JPEG scan, so on the photos
            measured it is no faster than the full-size decode; and its pixels equal
            ``ffmpeg -lowres N -i SRC -vf ...`` rather than a full-size decode (see
            docs/performance.md for speed and accuracy). Off by default.
        strict: with ``True`` (default) the first image that cannot be loaded raises. With
            ``False`` broken images are skipped and reported: the call returns
            ``(buffer, failures)``.
        timeout: seconds for the whole call (``None``: no limit); past it
            :class:`~spdl.io.MediaTimeoutError` is raised, whatever ``strict`` says.

    Returns:
        With ``strict=True``: a :class:`~spdl.io.CPUBuffer` of shape (B, height, width, C),
        dtype uint8, images in the order of ``srcs``.

        With ``strict=False``: ``(buffer, failures)``. ``buffer`` holds the images that loaded,
        in the order of ``srcs`` (shape (B - len(failures), height, width, C)); ``failures`` is
        a list of ``(index, exception)`` for the others, ``index`` into ``srcs``. Each failure is
        also logged as a warning on the ``spdl.io`` logger.

    Raises:
        ValueError: empty ``srcs``, a bad size, ``pix_fmt`` or ``scale_algo``, or an in-memory
            source that is not 1-D contiguous bytes.
        TypeError: a source of another type.
        FileNotFoundError: (``strict=True``) a path that does not exist.
        spdl.io.MediaError: (``strict=True``) an image that cannot be decoded: a
            :class:`~spdl.io.DecodeError`, :class:`~spdl.io.DemuxError` or
            :class:`~spdl.io.UnsupportedMediaError` naming the image's index and source,
            the step and FFmpeg's message. A JPEG whose data is damaged fails as it does in
            :func:`load_image`, rather than coming out with the damage patched over.
        spdl.io.MediaTimeoutError: the call ran past ``timeout``.
        spdl.io.MediaTooLargeError: an image whose header states more pixels or bytes than the
            decode size limits allow (:func:`spdl.io.set_decode_limits`; with ``strict=False``
            it is skipped and reported like any broken image), or a batch buffer larger than
            ``max_bytes``. Checked before anything is decoded, so a small file claiming a
            huge picture (a decompression bomb) costs nothing.

    Example:
        >>> batch = spdl.io.load_image_batch(paths, width=224, height=224)
        >>> spdl.io.to_numpy(batch).shape
        (32, 224, 224, 3)
    """
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if isinstance(srcs, (str, bytes, bytearray, memoryview, os.PathLike)):
        raise TypeError("srcs must be a sequence of sources; wrap a single source in a list")
    buffer, failures, _ = _image_batch.decode_batch(
        srcs, width, height, pix_fmt, scale_algo, bool(jpeg_lowres), bool(strict), timeout
    )
    if strict:
        return buffer
    for index, error in failures:
        _LG.warning("load_image_batch skipped image %d: %s", index, error)
    return buffer, failures
