"""Finding and opening the GPU libraries on first use, and the one error raised when one is missing.

spdl is built without CUDA. The CUDA runtime and nvJPEG are opened with dlopen (in
``spdl._ext._nvjpeg``) from the first place that has them:

1. the path in ``SPDL_CUDART_PATH`` / ``SPDL_NVJPEG_PATH``, when set;
2. the dynamic loader's search (``LD_LIBRARY_PATH``, the ldconfig cache), by soname;
3. ``$CUDA_HOME/lib64``, ``$CUDA_PATH/lib64``, ``/usr/local/cuda/lib64``;
4. NVIDIA's pip wheels (``nvidia-cuda-runtime``, ``nvidia-nvjpeg``: ``site-packages/nvidia/*/lib``).

CuPy (NVRTC for the kernels, the default memory pool) and PyNvVideoCodec (NVDEC) are imported
here too, so each GPU entry point fails with one ``CUDANotAvailableError`` that says what is
missing and how to get it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from types import ModuleType

__all__ = [
    "CUDANotAvailableError",
    "require_cuda",
    "require_cupy",
    "require_nvdec",
    "require_nvjpeg",
]

# Newest first: a CUDA 13 machine may still carry a CUDA 12 copy in a wheel.
_SONAMES = {
    "cudart": ("libcudart.so.13", "libcudart.so.12"),
    "nvjpeg": ("libnvjpeg.so.13", "libnvjpeg.so.12"),
}
_ENV = {"cudart": "SPDL_CUDART_PATH", "nvjpeg": "SPDL_NVJPEG_PATH"}
_HOW = {
    "cupy": "install CuPy for your CUDA version: pip install cupy-cuda13x (or cupy-cuda12x)",
    "cudart": "install the CUDA toolkit or the nvidia-cuda-runtime wheel, or set SPDL_CUDART_PATH",
    "nvjpeg": "install the CUDA toolkit (it ships libnvjpeg) or the nvidia-nvjpeg wheel "
    "(pip install nvidia-nvjpeg-cu13), or set SPDL_NVJPEG_PATH",
    "nvdec": "install PyNvVideoCodec (pip install PyNvVideoCodec); it needs libnvcuvid.so.1 "
    "from the NVIDIA driver",
}


class CUDANotAvailableError(RuntimeError):
    """A GPU entry point was called where what it needs is missing.

    The message names the missing piece (CuPy, the CUDA runtime, a CUDA device, nvJPEG,
    PyNvVideoCodec) and how to get it. ``what`` holds that piece's short name.
    """

    def __init__(self, message: str, what: str = ""):
        super().__init__(message, what)
        self.what = what

    def __str__(self) -> str:
        return self.args[0]


def candidate_paths(lib: str) -> list[str]:
    """Where ``lib`` ("cudart" or "nvjpeg") is looked for, in order (see the module docstring)."""
    names = _SONAMES[lib]
    out: list[str] = []
    env = os.environ.get(_ENV[lib])
    if env:
        out.append(env)
    out.extend(names)
    roots = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    for root in filter(None, roots):
        for sub in ("lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"):
            out.extend(str(Path(root) / sub / name) for name in names)
    for folder in _nvidia_wheel_lib_dirs():
        out.extend(str(folder / name) for name in names)
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def _nvidia_wheel_lib_dirs() -> list[Path]:
    """``lib`` folders of NVIDIA's pip wheels (the ``nvidia`` namespace package), if installed."""
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    dirs = []
    for base in spec.submodule_search_locations:
        dirs.extend(sorted(Path(base).glob("*/lib")))
    return dirs


_lock = threading.Lock()
_ready: dict[str, object] = {}


def require_cupy() -> ModuleType:
    """CuPy, or ``CUDANotAvailableError`` saying how to install it."""
    try:
        import cupy
    except ImportError as e:
        raise CUDANotAvailableError(f"CuPy is not available ({e}); {_HOW['cupy']}", "cupy") from e
    return cupy


def _load(lib: str) -> None:
    from spdl._ext import _nvjpeg

    loader = _nvjpeg.load_cudart if lib == "cudart" else _nvjpeg.load_nvjpeg
    try:
        _ready[lib] = loader(candidate_paths(lib))
    except OSError as e:
        raise CUDANotAvailableError(f"{e}\nTo fix: {_HOW[lib]}", lib) from e


def require_cuda(device_index: int = 0) -> None:
    """Check that the CUDA runtime loads and ``device_index`` exists; raise a clear error if not."""
    with _lock:
        if "cudart" not in _ready:
            _load("cudart")
        if "device_count" not in _ready:
            from spdl._ext import _nvjpeg

            try:
                _ready["device_count"] = _nvjpeg.get_device_count()
            except _nvjpeg.CUDARuntimeError as e:
                raise CUDANotAvailableError(
                    f"no usable CUDA device: {e}. A GPU and the NVIDIA driver are needed.", "device"
                ) from e
    count = _ready["device_count"]
    if count == 0:
        raise CUDANotAvailableError("no CUDA device: the CUDA runtime reports 0 GPUs", "device")
    if not 0 <= device_index < count:
        raise CUDANotAvailableError(
            f"CUDA device {device_index} does not exist (this machine has {count})", "device"
        )


def require_nvjpeg(device_index: int = 0) -> None:
    """``require_cuda`` plus nvJPEG."""
    require_cuda(device_index)
    with _lock:
        if "nvjpeg" not in _ready:
            _load("nvjpeg")


def require_nvdec() -> ModuleType:
    """PyNvVideoCodec, or a clear ``CUDANotAvailableError``."""
    try:
        import PyNvVideoCodec
    except Exception as e:  # it raises RuntimeError, not only ImportError, without a driver
        raise CUDANotAvailableError(
            f"PyNvVideoCodec is not available ({type(e).__name__}: {e}); {_HOW['nvdec']}", "nvdec"
        ) from e
    return PyNvVideoCodec


def loaded_libraries() -> dict[str, object]:
    """What has been opened so far: library name to the path that loaded, and the device count."""
    return dict(_ready)
