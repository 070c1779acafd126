"""The CUDA kernels in ``cuda/``: found, compiled at run time with NVRTC (through CuPy), cached.

Sources are read from the ``cuda`` folder installed beside the package (``spdl/cuda``), or from
the source tree's ``cuda/`` in an editable install. Each (device, source file) is compiled once per
process (CuPy also caches the binary on disk across processes); compiling is guarded by a lock so
threads racing on first use compile once.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "YUV_MATRICES",
    "kernel_dir",
    "kernel_source",
    "launch_nv12_to_rgb",
    "launch_resize_rgb",
    "yuv_matrix",
]

_BLOCK = (32, 8, 1)


def kernel_dir() -> Path:
    """The folder holding the ``.cu`` sources."""
    here = Path(__file__).resolve().parent.parent  # spdl/
    for candidate in (here / "cuda", here.parent / "cuda"):
        if (candidate / "resize.cu").is_file():
            return candidate
    raise FileNotFoundError(f"spdl's CUDA kernel sources are missing (looked in {here / 'cuda'})")


_INCLUDE = re.compile(r'^#include "([A-Za-z0-9_.]+)"$', re.M)


def kernel_source(name: str) -> str:
    """The text of ``cuda/NAME`` with its local ``#include "..."`` lines replaced by the files.

    Inlining keeps NVRTC free of include paths and makes CuPy's on-disk cache, keyed by the code
    text, see a change to a shared header too.
    """
    folder = kernel_dir()
    seen: set[str] = set()

    def expand(text: str) -> str:
        def one(match: re.Match) -> str:
            header = match.group(1)
            if header in seen:
                return ""
            seen.add(header)
            return expand((folder / header).read_text())

        return _INCLUDE.sub(one, text)

    return expand((folder / name).read_text())


_lock = threading.Lock()
_modules: dict[tuple[int, str], Any] = {}


def _function(device_index: int, source: str, name: str):
    key = (device_index, source)
    module = _modules.get(key)
    if module is None:
        from ._cuda_libs import require_cupy

        cupy = require_cupy()
        with _lock:
            module = _modules.get(key)
            if module is None:
                code = kernel_source(source)
                with cupy.cuda.Device(device_index):
                    module = cupy.RawModule(code=code, options=("--std=c++14",))
                    module.compile()
                _modules[key] = module
    return module.get_function(name)


def _grid(width: int, height: int, depth: int = 1) -> tuple[int, int, int]:
    return (-(-width // _BLOCK[0]), -(-height // _BLOCK[1]), depth)


def launch_resize_rgb(
    device_index: int,
    stream: Any,
    src_ptrs: list[int],
    src_sizes: list[tuple[int, int]],
    dst_ptr: int,
    dst_h: int,
    dst_w: int,
    channels_last: bool,
) -> None:
    """Queue ``resize_rgb_planar_u8`` (cuda/resize.cu) on ``stream`` (a CuPy stream).

    Reads ``len(src_ptrs)`` planar RGB images of ``src_sizes[i] = (h, w)`` and writes the batch
    (B, 3, dst_h, dst_w) or, with ``channels_last``, (B, dst_h, dst_w, 3) uint8 at ``dst_ptr``.
    """
    import cupy

    fn = _function(device_index, "resize.cu", "resize_rgb_planar_u8")
    with cupy.cuda.Device(device_index), stream:
        ptrs = cupy.asarray(np.asarray(src_ptrs, dtype=np.uint64))
        sizes = cupy.asarray(np.asarray(src_sizes, dtype=np.int32).reshape(-1))
        fn(
            _grid(dst_w, dst_h, len(src_ptrs)),
            _BLOCK,
            (
                ptrs,
                sizes,
                np.uint64(dst_ptr),
                np.int32(dst_h),
                np.int32(dst_w),
                np.int32(bool(channels_last)),
            ),
        )


# (Kr, Kb) of each standard: R'G'B' from Y'CbCr (ITU-R BT.601, BT.709, BT.2020).
_KR_KB = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722), "bt2020": (0.2627, 0.0593)}


def yuv_matrix(colorspace: str = "bt601", full_range: bool = False) -> tuple[float, ...]:
    """The seven floats ``nv12_to_rgb`` takes: y_scale, y_offset, c_scale, r_v, g_u, g_v, b_u.

    Limited ("TV", "mpeg") range maps Y' in [16, 235] and chroma in [16, 240]; full ("PC",
    "jpeg") range uses all of [0, 255]. FFmpeg assumes BT.601 when a stream does not say.
    """
    try:
        kr, kb = _KR_KB[colorspace]
    except KeyError:
        raise ValueError(
            f"colorspace must be one of {sorted(_KR_KB)}, not {colorspace!r}"
        ) from None
    kg = 1.0 - kr - kb
    r_v = 2.0 * (1.0 - kr)
    b_u = 2.0 * (1.0 - kb)
    g_u = b_u * kb / kg
    g_v = r_v * kr / kg
    if full_range:
        return (1.0, 0.0, 1.0, r_v, g_u, g_v, b_u)
    return (255.0 / 219.0, 16.0, 255.0 / 224.0, r_v, g_u, g_v, b_u)


YUV_MATRICES = {(cs, fr): yuv_matrix(cs, fr) for cs in _KR_KB for fr in (False, True)}


def launch_nv12_to_rgb(
    device_index: int,
    stream: Any,
    y_ptr: int,
    y_pitch: int,
    uv_ptr: int,
    uv_pitch: int,
    crop: tuple[int, int, int, int],
    dst_ptr: int,
    dst_h: int,
    dst_w: int,
    channels_last: bool,
    bgr: bool,
    matrix: tuple[float, ...],
) -> None:
    """Queue ``nv12_to_rgb`` (cuda/nv12_to_rgb.cu) for one frame on ``stream`` (a CuPy stream).

    ``crop`` is (x, y, width, height) in source pixels; the output frame is (3, dst_h, dst_w)
    or (dst_h, dst_w, 3) uint8 at ``dst_ptr``.
    """
    import cupy

    fn = _function(device_index, "nv12_to_rgb.cu", "nv12_to_rgb")
    cx, cy, cw, ch = crop
    with cupy.cuda.Device(device_index), stream:
        fn(
            _grid(dst_w, dst_h),
            _BLOCK,
            (
                np.uint64(y_ptr),
                np.int32(y_pitch),
                np.uint64(uv_ptr),
                np.int32(uv_pitch),
                np.int32(cx),
                np.int32(cy),
                np.int32(cw),
                np.int32(ch),
                np.uint64(dst_ptr),
                np.int32(dst_h),
                np.int32(dst_w),
                np.int32(bool(channels_last)),
                np.int32(bool(bgr)),
                *(np.float32(v) for v in matrix),
            ),
        )
