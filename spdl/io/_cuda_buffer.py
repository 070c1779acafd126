"""Where GPU outputs live: the device configuration, ``CUDABuffer`` and its memory.

``cuda_config`` names a device, a stream and an allocator; it is plain data, so making one needs
no GPU. Every GPU entry point allocates its output through ``allocate`` (CuPy's memory pool by
default, or a user's ``(alloc, free)`` pair such as PyTorch's caching allocator), queues its work on
the configured stream, waits for that stream, and wraps the memory in a ``CUDABuffer``, which
NumPy-style consumers on the GPU (CuPy, PyTorch, DLPack) read without a copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CUDABuffer", "CUDAConfig", "allocate", "cuda_config", "to_cupy", "to_torch_cuda"]

# cudaStreamPerThread: the calling thread's own default stream (cuda_runtime_api.h). Work from
# different threads on it runs concurrently, unlike the legacy default stream 0.
PER_THREAD_DEFAULT_STREAM = 2

Allocator = tuple[Callable[[int, int, int], int], Callable[[int], Any]]


@dataclass(frozen=True)
class CUDAConfig:
    """Which GPU, stream and allocator a GPU operation uses. Make it with ``cuda_config``.

    Attributes:
        device_index: the CUDA device ordinal.
        stream: the raw ``cudaStream_t`` value (an int); 2 is the per-thread default stream.
        allocator: ``None`` for CuPy's memory pool, else ``(alloc, free)``.
    """

    device_index: int
    stream: int
    allocator: Allocator | None = None
    _stream_object: Any = None  # the user's stream object, kept alive while the config is

    def cupy_stream(self):
        """The stream as a CuPy stream object (for kernel launches and CuPy's pool)."""
        import cupy

        if self.stream == PER_THREAD_DEFAULT_STREAM:
            return cupy.cuda.Stream.ptds
        if isinstance(self._stream_object, cupy.cuda.Stream):
            return self._stream_object
        if self.stream == 0:
            return cupy.cuda.Stream.null
        return cupy.cuda.ExternalStream(self.stream, self.device_index)


def _stream_handle(stream: Any) -> int:
    if stream is None:
        return PER_THREAD_DEFAULT_STREAM
    if isinstance(stream, bool):
        raise TypeError("stream must be None, an int (cudaStream_t), or a CuPy/PyTorch stream")
    if isinstance(stream, int):
        if stream < 0:
            raise ValueError(f"stream handle must be >= 0, not {stream}")
        return stream
    for attr in ("cuda_stream", "ptr"):  # torch.cuda.Stream, cupy.cuda.Stream
        value = getattr(stream, attr, None)
        if isinstance(value, int):
            return value
    raise TypeError(
        f"stream must be None, an int (cudaStream_t), or a CuPy/PyTorch stream, "
        f"not {type(stream).__name__}"
    )


def cuda_config(
    device_index: int = 0, stream: Any = None, allocator: Allocator | None = None
) -> CUDAConfig:
    """Describe where GPU outputs go. Needs no GPU: nothing is checked against the device here.

    Args:
        device_index: the CUDA device ordinal (0 is the first GPU).
        stream: the stream work is queued on: ``None`` (the calling thread's per-thread default
            stream, so threads do not serialize each other), a raw ``cudaStream_t`` int, a
            ``cupy.cuda.Stream`` or a ``torch.cuda.Stream``. Results are complete when a call
            returns, so consumers on any stream may read them at once.
        allocator: ``None`` to take memory from CuPy's default memory pool, or a pair
            ``(alloc, free)`` with ``alloc(nbytes, device_index, stream) -> int`` (a device
            pointer) and ``free(ptr)``; e.g. PyTorch's caching allocator:
            ``(torch.cuda.caching_allocator_alloc, torch.cuda.caching_allocator_delete)``.

    Returns:
        CUDAConfig to pass as ``device_config=`` to the GPU functions.
    """
    if isinstance(device_index, bool) or not isinstance(device_index, int):
        raise TypeError(f"device_index must be an int, not {type(device_index).__name__}")
    if device_index < 0:
        raise ValueError(f"device_index must be >= 0, not {device_index}")
    if allocator is not None:
        if (
            not isinstance(allocator, Sequence)
            or len(allocator) != 2
            or not all(callable(f) for f in allocator)
        ):
            raise TypeError("allocator must be None or a pair of callables (alloc, free)")
        allocator = (allocator[0], allocator[1])
    handle = _stream_handle(stream)
    keep = stream if stream is not None and not isinstance(stream, int) else None
    return CUDAConfig(device_index, handle, allocator, keep)


class _UserAllocation:
    """Memory from a user allocator; given back with its ``free`` when the last reference goes."""

    __slots__ = ("__weakref__", "_free", "nbytes", "ptr")

    def __init__(self, ptr: int, nbytes: int, free: Callable[[int], Any]):
        self.ptr = ptr
        self.nbytes = nbytes
        self._free = free

    def __del__(self):
        free, self._free = self._free, None
        if free is not None and self.ptr:
            free(self.ptr)


def allocate(nbytes: int, config: CUDAConfig) -> tuple[int, Any]:
    """``nbytes`` of device memory on ``config``'s device, stream-ordered on its stream.

    Returns:
        (device pointer, owner): the memory stays valid while ``owner`` is referenced.
    """
    if config.allocator is not None:
        alloc, free = config.allocator
        ptr = int(alloc(max(nbytes, 1), config.device_index, config.stream))
        if ptr == 0:
            raise MemoryError(f"the user allocator returned NULL for {nbytes} bytes")
        return ptr, _UserAllocation(ptr, nbytes, free)
    import cupy

    with cupy.cuda.Device(config.device_index), config.cupy_stream():
        mem = cupy.cuda.alloc(max(nbytes, 1))
    return int(mem.ptr), mem


class CUDABuffer:
    """An array in CUDA memory, handed to CuPy, PyTorch or any DLPack consumer without a copy.

    Exposes ``__cuda_array_interface__`` (version 3) and ``__dlpack__``/``__dlpack_device__``;
    the memory is freed when the buffer and every array made from it are gone. The data are
    complete when the function that returned the buffer returns (its stream was synchronized).

    Attributes:
        shape: tuple of ints; ``dtype``: NumPy dtype (uint8 for images and video);
        device_index: the CUDA device ordinal; ``nbytes``: size in bytes; ``ptr``: the address.
    """

    __slots__ = ("__weakref__", "_owner", "device_index", "dtype", "ptr", "shape")

    def __init__(self, ptr: int, shape: Sequence[int], dtype: Any, device_index: int, owner: Any):
        self.ptr = int(ptr)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.device_index = int(device_index)
        self._owner = owner

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        # "stream": None tells consumers no synchronization is needed (the producer waited).
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.ptr, False),
            "version": 3,
            "strides": None,
            "stream": None,
        }

    def __dlpack_device__(self) -> tuple[int, int]:
        return (2, self.device_index)  # kDLCUDA

    def __dlpack__(self, **kwargs):
        """A DLPack capsule over this memory (made by CuPy, which keeps this buffer alive)."""
        return to_cupy(self).__dlpack__(**kwargs)

    def __repr__(self) -> str:
        return (
            f"CUDABuffer(shape={self.shape}, dtype={self.dtype}, device_index={self.device_index})"
        )


def to_cupy(buffer: Any):
    """A ``cupy.ndarray`` sharing ``buffer``'s CUDA memory (it keeps ``buffer`` alive)."""
    from ._cuda_libs import require_cupy

    cupy = require_cupy()
    if not hasattr(buffer, "__cuda_array_interface__"):
        raise TypeError(f"{type(buffer).__name__} is not in CUDA memory")
    with cupy.cuda.Device(getattr(buffer, "device_index", 0)):
        return cupy.asarray(buffer)


def to_torch_cuda(buffer: Any):
    """A ``torch.Tensor`` on the GPU sharing ``buffer``'s memory (it keeps ``buffer`` alive)."""
    import torch

    if not hasattr(buffer, "__cuda_array_interface__"):
        raise TypeError(f"{type(buffer).__name__} is not in CUDA memory")
    return torch.as_tensor(buffer, device=f"cuda:{buffer.device_index}")
