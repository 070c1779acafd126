"""JPEG decoding on the GPU with nvJPEG: ``decode_image_nvjpeg`` and ``load_image_batch_nvjpeg``.

The life of a batch: sources are read (files) or used in place (bytes, arrays); the calling
thread's ``JpegDecoder`` reads every header (GIL released); output memory comes from the
configured allocator; the images go to the hardware JPEG engine in one batched call where the GPU
has one, the rest to nvJPEG's default backend (GIL released throughout); a kernel from
``cuda/resize.cu`` resizes and lays the batch out when asked; the stream is synchronized (GIL
released) and the memory handed back as a ``CUDABuffer``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._cuda_buffer import CUDABuffer, CUDAConfig, allocate, cuda_config
from ._cuda_libs import require_cupy, require_nvjpeg

__all__ = ["decode_image_nvjpeg", "load_image_batch_nvjpeg", "output_shape"]

_LG = logging.getLogger(__name__)

# pix_fmt -> (BGR order, channels last). Planar names give (3, H, W); FFmpeg's packed names
# ("rgb24") give (H, W, 3), as on the CPU side.
_PIX_FMTS = {
    "rgb": (False, False),
    "bgr": (True, False),
    "rgb24": (False, True),
    "bgr24": (True, True),
}

_local = threading.local()


def _decoder(device_index: int):
    from spdl._ext import _nvjpeg

    decoders = getattr(_local, "decoders", None)
    if decoders is None:
        decoders = _local.decoders = {}
    dec = decoders.get(device_index)
    if dec is None:
        use_hw = os.environ.get("SPDL_NVJPEG_HARDWARE", "1") != "0"
        dec = decoders[device_index] = _nvjpeg.JpegDecoder(device_index, use_hw)
    return dec


def _describe(src: Any) -> str:
    if isinstance(src, (str, os.PathLike)):
        return os.fspath(src)
    return f"<{type(src).__name__} of {memoryview(src).nbytes} bytes>"


def _as_bytes(src: Any) -> Any:
    """A 1-D uint8 view of an in-memory source (no copy), or the file's bytes for a path."""
    if isinstance(src, (str, os.PathLike)):
        return Path(src).read_bytes()  # FileNotFoundError names the path
    if isinstance(src, np.ndarray):
        if src.dtype != np.uint8 or src.ndim != 1:
            raise TypeError(f"an array source must be 1-D uint8, not {src.ndim}-D {src.dtype}")
        return np.ascontiguousarray(src)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return memoryview(src).cast("B")
    raise TypeError(
        f"a source must be a path, bytes, bytearray, memoryview or 1-D uint8 array, "
        f"not {type(src).__name__}"
    )


def output_shape(
    batch: int | None, height: int, width: int, channels_last: bool
) -> tuple[int, ...]:
    """(B, 3, H, W) / (B, H, W, 3), or without the leading B when ``batch`` is None."""
    shape = (height, width, 3) if channels_last else (3, height, width)
    return shape if batch is None else (batch, *shape)


def _check_scale(scale_width: int | None, scale_height: int | None) -> None:
    if (scale_width is None) != (scale_height is None):
        raise ValueError("give both scale_width and scale_height, or neither")
    for name, v in (("scale_width", scale_width), ("scale_height", scale_height)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise ValueError(f"{name} must be a positive int, not {v!r}")


def _media_error(exc: Exception, srcs: Sequence[Any], step: str) -> Exception:
    """The ``spdl.io`` media error for an nvJPEG failure that blames the input data."""
    from spdl._ext import _error

    index = getattr(exc, "index", -1)
    source = _describe(srcs[index]) if 0 <= index < len(srcs) else None
    status = getattr(exc, "status", None)
    cls = _error.DecodeError
    if status == 10:  # NVJPEG_STATUS_INCOMPLETE_BITSTREAM
        cls = getattr(_error, "TruncatedMediaError", _error.DecodeError)
    where = f" (image {index} of {len(srcs)})" if len(srcs) > 1 and index >= 0 else ""
    err = cls(
        f"nvJPEG could not {step} {source or 'the batch'}{where}: {exc}",
        source=source,
        step="decode",
        ffmpeg_message=None,
        code=status,
    )
    err.index = index  # which image of the batch (-1: nvJPEG could not tell)
    return err


def _decode(
    srcs: list[Any],
    data: list[Any],
    config: CUDAConfig,
    scale: tuple[int, int] | None,
    pix_fmt: str,
    batch: bool,
) -> CUDABuffer:
    from spdl._ext import _nvjpeg

    bgr, channels_last = _PIX_FMTS[pix_fmt]
    dev = config.device_index
    decoder = _decoder(dev)
    try:
        sizes = [(h, w) for h, w, _ in decoder.image_info(data)]
    except _nvjpeg.NvjpegError as e:
        raise _media_error(e, srcs, "read the header of") from None

    if scale is None and len(set(sizes)) > 1:
        raise ValueError(
            f"the images have different sizes ({sorted(set(sizes))[:4]}...); pass scale_width "
            f"and scale_height to decode them into one batch"
        )
    out_h, out_w = (scale[1], scale[0]) if scale is not None else sizes[0]
    shape = output_shape(len(data) if batch else None, out_h, out_w, channels_last)
    plane_bytes = [3 * h * w for h, w in sizes]
    out_ptr, out_owner = allocate(int(np.prod(shape)), config)

    # nvJPEG writes planar RGB. Unresized planar output goes straight into the result; anything
    # else goes through scratch memory and the resize kernel (an exact copy at a factor of 1).
    direct = scale is None and not channels_last
    if direct:
        dst_ptrs = [out_ptr + i * plane_bytes[0] for i in range(len(data))]
        scratch = None
    else:
        scratch_ptr, scratch = allocate(sum(plane_bytes), config)
        offsets = np.concatenate([[0], np.cumsum(plane_bytes)[:-1]]).astype(np.int64)
        dst_ptrs = [scratch_ptr + int(o) for o in offsets]
    try:
        decoder.decode(data, dst_ptrs, sizes, bgr, config.stream)
    except _nvjpeg.NvjpegError as e:
        if _nvjpeg.is_data_status(e.status):
            raise _media_error(e, srcs, "decode") from None
        raise
    if not direct:
        from ._cuda_kernels import launch_resize_rgb

        launch_resize_rgb(
            dev, config.cupy_stream(), dst_ptrs, sizes, out_ptr, out_h, out_w, channels_last
        )
    _nvjpeg.stream_synchronize(dev, config.stream)
    del scratch  # returned to the pool only after the stream has consumed it
    return CUDABuffer(out_ptr, shape, np.uint8, dev, out_owner)


def _prepare(device_config: CUDAConfig | None, pix_fmt: str) -> CUDAConfig:
    if device_config is None:
        device_config = cuda_config(0)
    elif not isinstance(device_config, CUDAConfig):
        raise TypeError(
            f"device_config must come from spdl.io.cuda_config, not {type(device_config).__name__}"
        )
    if pix_fmt not in _PIX_FMTS:
        raise ValueError(f"pix_fmt must be one of {sorted(_PIX_FMTS)}, not {pix_fmt!r}")
    require_cupy()
    require_nvjpeg(device_config.device_index)
    return device_config


def decode_image_nvjpeg(
    src: Any,
    *,
    device_config: CUDAConfig | None = None,
    scale_width: int | None = None,
    scale_height: int | None = None,
    pix_fmt: str = "rgb",
) -> CUDABuffer:
    """Decode one JPEG, or a list of them as one batch, into CUDA memory with nvJPEG.

    The hardware JPEG engine (A100, H100, H200) takes the images it supports in one batched
    call; the others, and every image on GPUs without the engine, go through nvJPEG's default
    backend. The GIL is released while decoding; each thread keeps its own nvJPEG state.

    Args:
        src: a path, ``bytes``/``bytearray``/``memoryview`` or 1-D uint8 array holding a JPEG,
            or a list of them (decoded as one batch).
        device_config: from ``cuda_config``; ``None`` is ``cuda_config(0)``.
        scale_width, scale_height: resize every image to this size (pixels) on the GPU, with an
            area-aware bilinear filter (see ``cuda/resize.cu``). Both or neither; without them a
            list must hold images of one size.
        pix_fmt: ``"rgb"`` or ``"bgr"`` for planar (3, H, W); ``"rgb24"`` or ``"bgr24"`` for
            interleaved (H, W, 3).

    Returns:
        CUDABuffer of uint8: (3, H, W) or (H, W, 3) for one image, (B, 3, H, W) or (B, H, W, 3)
        for a list. Complete when this returns.

    Raises:
        CUDANotAvailableError: no GPU, CUDA runtime, nvJPEG or CuPy.
        spdl.io.DecodeError: an image is not a JPEG nvJPEG can decode, or is truncated
            (``TruncatedMediaError``); the message names which.
        FileNotFoundError: a path does not exist.
    """
    config = _prepare(device_config, pix_fmt)
    _check_scale(scale_width, scale_height)
    batch = isinstance(src, (list, tuple))
    srcs = list(src) if batch else [src]
    if not srcs:
        raise ValueError("decode_image_nvjpeg needs at least one image")
    data = [_as_bytes(s) for s in srcs]
    scale = None if scale_width is None else (scale_width, scale_height)
    return _decode(srcs, data, config, scale, pix_fmt, batch)


def load_image_batch_nvjpeg(
    srcs: Sequence[Any],
    *,
    width: int,
    height: int,
    device_config: CUDAConfig | None = None,
    pix_fmt: str = "rgb",
    strict: bool = True,
) -> CUDABuffer:
    """Load JPEGs (paths or in-memory) into one (B, 3, height, width) uint8 batch on the GPU.

    Like ``decode_image_nvjpeg(srcs, scale_width=width, scale_height=height)``, for the usual
    training-loader case: files are read in this thread with the GIL released by the OS read,
    decoded as one batch, resized and stacked.

    Args:
        srcs: paths or in-memory JPEGs.
        width, height: the output size in pixels.
        device_config: from ``cuda_config``.
        pix_fmt: as in ``decode_image_nvjpeg``; ``"rgb24"`` gives (B, height, width, 3).
        strict: when False, images that fail to read or decode are left out (and logged once
            each) instead of failing the batch; the batch is then shorter than ``srcs``. A batch
            where nothing decodes still raises.

    Returns:
        CUDABuffer (B, 3, height, width) uint8 (or (B, height, width, 3)).
    """
    config = _prepare(device_config, pix_fmt)
    _check_scale(width, height)
    srcs = list(srcs)
    if not srcs:
        raise ValueError("load_image_batch_nvjpeg needs at least one image")
    if strict:
        data = [_as_bytes(s) for s in srcs]
        return _decode(srcs, data, config, (width, height), pix_fmt, True)

    from spdl._ext import _error

    kept, data = [], []
    for s in srcs:
        try:
            data.append(_as_bytes(s))
            kept.append(s)
        except OSError as e:
            _LG.warning("load_image_batch_nvjpeg: skipping %s: %s", _describe(s), e)
    while kept:
        try:
            return _decode(kept, data, config, (width, height), pix_fmt, True)
        except _error.MediaError as e:
            # The error names one failing image; drop it and decode the rest again.
            bad = getattr(e, "index", -1)
            if not 0 <= bad < len(kept):
                raise
            _LG.warning("load_image_batch_nvjpeg: skipping %s: %s", _describe(kept[bad]), e)
            del kept[bad], data[bad]
    raise ValueError("none of the images could be loaded")
