"""Host to GPU transfer: ``transfer_buffer`` copies a CPU buffer into CUDA memory.

Each thread owns one pinned (page-locked) staging area per device, grown when a larger buffer
comes and reused across calls. A transfer copies the source into it (NumPy's copy, which runs
without the GIL), queues ``cudaMemcpyAsync`` from it on the configured stream and waits for that
stream with the GIL released. Threads never share staging memory, so any number may transfer at
once; with the default per-thread stream their copies overlap on the GPU's copy engines too.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ._cuda_buffer import CUDABuffer, CUDAConfig, allocate
from ._cuda_libs import require_cuda, require_cupy

__all__ = ["transfer_buffer"]

_local = threading.local()


def _staging(nbytes: int, device_index: int) -> np.ndarray:
    """This thread's pinned staging area on ``device_index``, at least ``nbytes`` long (uint8)."""
    areas = getattr(_local, "areas", None)
    if areas is None:
        areas = _local.areas = {}
    area = areas.get(device_index)
    if area is None or area.nbytes < nbytes:
        cupy = require_cupy()
        # Round up so a stream of slightly growing batches does not reallocate every time.
        size = max(1 << 20, 1 << max(nbytes - 1, 1).bit_length())
        with cupy.cuda.Device(device_index):
            mem = cupy.cuda.alloc_pinned_memory(size)
        area = np.frombuffer(mem, dtype=np.uint8, count=size)
        areas[device_index] = area  # the array keeps the pinned allocation alive
    return area


def transfer_buffer(buffer: Any, device_config: CUDAConfig | None = None) -> CUDABuffer:
    """Copy a CPU buffer into CUDA memory.

    Safe to call from many threads at once; each uses its own pinned staging area. Suitable as a
    pipeline stage after CPU decoding: it holds the GIL only to set up, not while copying.

    Args:
        buffer: a ``CPUBuffer``, NumPy array, or anything with ``__array_interface__`` or the
            buffer protocol. Any shape and dtype; non-contiguous arrays are made contiguous.
        device_config: from ``cuda_config``; ``None`` is ``cuda_config(0)``.

    Returns:
        CUDABuffer of the same shape and dtype, complete when this returns.

    Raises:
        CUDANotAvailableError: no CuPy, no CUDA runtime or no such device.
    """
    from ._cuda_buffer import cuda_config

    if device_config is None:
        device_config = cuda_config(0)
    elif not isinstance(device_config, CUDAConfig):
        raise TypeError(
            f"device_config must come from spdl.io.cuda_config, not {type(device_config).__name__}"
        )
    array = np.asarray(buffer)
    if array.dtype.hasobject:
        raise TypeError("cannot transfer an array of Python objects to the GPU")
    require_cupy()
    require_cuda(device_config.device_index)
    from spdl._ext import _nvjpeg as _native

    nbytes = array.nbytes
    ptr, owner = allocate(nbytes, device_config)
    if nbytes:
        staging = _staging(nbytes, device_config.device_index)
        np.copyto(staging[:nbytes].view(array.dtype).reshape(array.shape), array, casting="no")
        _native.copy_host_to_device(
            device_config.device_index,
            ptr,
            staging.ctypes.data,
            nbytes,
            device_config.stream,
            True,
        )
    return CUDABuffer(ptr, array.shape, array.dtype, device_config.device_index, owner)
