"""Zero-copy views of spdl buffers as NumPy arrays and PyTorch tensors."""

from __future__ import annotations

from typing import Any

from spdl._ext._buffer import CPUBuffer

__all__ = ["to_numpy", "to_torch"]


def _check(buffer: Any) -> None:
    if not isinstance(buffer, CPUBuffer):
        raise TypeError(
            f"Expected a CPUBuffer (from spdl.io.convert_frames or load_*), not {type(buffer).__name__}"
        )


def to_numpy(buffer: CPUBuffer):
    """View a :class:`CPUBuffer` as a NumPy array, without a copy.

    The array keeps the buffer alive (``array.base`` leads to it), so the buffer may be dropped.

    Args:
        buffer: the buffer (e.g. from :func:`spdl.io.convert_frames`).

    Returns:
        numpy.ndarray: writable, C-contiguous, same shape and dtype as ``buffer``.
    """
    import numpy as np

    _check(buffer)
    return np.asarray(buffer)


def to_torch(buffer):
    """View a buffer as a PyTorch tensor, without a copy.

    A :class:`CPUBuffer` becomes a CPU tensor (through DLPack); a ``CUDABuffer`` (from the GPU
    paths) becomes a tensor on its GPU. PyTorch is imported here, on first use; it is not a
    dependency of spdl.

    Args:
        buffer: a ``CPUBuffer`` (e.g. from :func:`spdl.io.convert_frames`) or a ``CUDABuffer``
            (e.g. from :func:`spdl.io.transfer_buffer`).

    Returns:
        torch.Tensor: same shape and dtype, sharing memory; it keeps the buffer alive.
    """
    if hasattr(buffer, "__cuda_array_interface__"):
        from ._cuda_buffer import to_torch_cuda

        return to_torch_cuda(buffer)
    _check(buffer)
    import torch

    return torch.from_dlpack(buffer)
