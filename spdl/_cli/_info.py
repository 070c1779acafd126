"""``spdl info``: versions of spdl, Python and FFmpeg, the build, and what GPU support is usable.

The GPU probes load the NVIDIA libraries from the places spdl.io's GPU layer searches at run time,
so the answer is the one decoding would get; nothing here needs a GPU or CUDA to run.
"""

from __future__ import annotations

import ctypes
import importlib.util
import platform
import sys

__all__ = ["collect_info", "print_info"]

# Sonames tried in order: the CUDA 13, 12 and 11 libraries, then the unversioned development link.
_CUDA_DRIVER = ("libcuda.so.1", "libcuda.so")
_CUDA_RUNTIME = ("libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so")
_NVJPEG = ("libnvjpeg.so.13", "libnvjpeg.so.12", "libnvjpeg.so.11", "libnvjpeg.so")
_NVCUVID = ("libnvcuvid.so.1", "libnvcuvid.so")


def _search_path(lib: str, fallback: tuple[str, ...]) -> tuple[str, ...]:
    """Where spdl's GPU layer looks for ``lib`` ("cudart", "nvjpeg"), so the answer matches."""
    try:
        from spdl.io._cuda_libs import candidate_paths

        return tuple(candidate_paths(lib))
    except (ImportError, KeyError):
        return fallback


def _load(names: tuple[str, ...]) -> tuple[ctypes.CDLL | None, str]:
    """The first of ``names`` that loads and its name, or ``None`` and why none did."""
    for name in names:
        try:
            return ctypes.CDLL(name), name
        except OSError:
            pass
    shown = names if len(names) <= 3 else (*names[:2], f"{len(names) - 2} other paths")
    return None, f"cannot load {' or '.join(shown)}"


def _version(encoded: int) -> str:
    # CUDA encodes versions as 1000 * major + 10 * minor.
    return f"{encoded // 1000}.{(encoded % 1000) // 10}"


def _cuda_driver() -> dict[str, object]:
    lib, name = _load(_CUDA_DRIVER)
    if lib is None:
        return {"available": False, "reason": name}
    # cuInit(0) then the count and version: CUDA driver API, all return CUresult (0 = success).
    if lib.cuInit(0) != 0:
        return {"available": False, "library": name, "reason": "cuInit failed (no usable GPU)"}
    count, version = ctypes.c_int(0), ctypes.c_int(0)
    lib.cuDeviceGetCount(ctypes.byref(count))
    lib.cuDriverGetVersion(ctypes.byref(version))
    return {
        "available": count.value > 0,
        "library": name,
        "devices": count.value,
        "version": _version(version.value),
    }


def _library(names: tuple[str, ...]) -> dict[str, object]:
    lib, name = _load(names)
    if lib is None:
        return {"available": False, "reason": name}
    return {"available": True, "library": name}


def _cuda_runtime() -> dict[str, object]:
    lib, name = _load(_search_path("cudart", _CUDA_RUNTIME))
    if lib is None:
        return {"available": False, "reason": name}
    version = ctypes.c_int(0)
    lib.cudaRuntimeGetVersion(ctypes.byref(version))
    return {"available": True, "library": name, "version": _version(version.value)}


def _nvjpeg() -> dict[str, object]:
    out = _library(_search_path("nvjpeg", _NVJPEG))
    if out["available"]:
        lib = ctypes.CDLL(str(out["library"]))
        # nvjpegGetProperty(MAJOR_VERSION=0 / MINOR_VERSION=1 / PATCH_LEVEL=2, int*)
        parts = []
        for prop in range(3):
            value = ctypes.c_int(0)
            if lib.nvjpegGetProperty(prop, ctypes.byref(value)) != 0:
                break
            parts.append(str(value.value))
        if parts:
            out["version"] = ".".join(parts)
    return out


def _module(name: str) -> dict[str, object]:
    if importlib.util.find_spec(name) is None:
        return {"available": False, "reason": "not installed"}
    try:
        module = __import__(name)
    except Exception as e:  # a broken install is worth one line, not a traceback
        return {"available": False, "reason": f"import failed: {e}"}
    return {"available": True, "version": getattr(module, "__version__", "unknown")}


def _cupy() -> dict[str, object]:
    out = _module("cupy")
    if out["available"]:
        import cupy

        try:
            out["devices"] = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:
            out.update(available=False, reason=f"no usable GPU: {e}")
    return out


def collect_info() -> dict[str, object]:
    """Everything ``spdl info`` reports, as a JSON-ready dict."""
    from spdl.io import utils

    build = utils.get_build_config()
    return {
        "spdl": __import__("spdl").__version__,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "free_threaded": bool(build["free_threaded"]),
        "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
        "ffmpeg": utils.get_ffmpeg_versions(),
        "build": build,
        "gpu": {
            "cuda_driver": _cuda_driver(),
            "cuda_runtime": _cuda_runtime(),
            "nvjpeg": _nvjpeg(),
            "nvdec": _library(_NVCUVID),
            "cupy": _cupy(),
            "PyNvVideoCodec": _module("PyNvVideoCodec"),
        },
    }


def _describe(entry: dict[str, object]) -> str:
    if not entry["available"]:
        return f"no ({entry.get('reason', 'unavailable')})"
    details = [f"{k} {entry[k]}" for k in ("version", "devices", "library") if k in entry]
    return "yes" + (f" ({', '.join(details)})" if details else "")


def print_info(info: dict[str, object]) -> None:
    """Print ``collect_info()`` for people."""
    build = info["build"]
    print(f"spdl {info['spdl']}")
    if info["free_threaded"]:
        threading = "free-threaded, GIL " + ("enabled" if info["gil_enabled"] else "disabled")
    else:
        threading = "with the GIL"
    print(f"Python {info['python']} ({info['python_implementation']}, {threading})")
    print("FFmpeg (loaded at run time):")
    for name, version in info["ffmpeg"].items():
        print(f"  {name:<14} {version}")
    print("Build:")
    print(f"  release_gil    {build['release_gil']}")
    print(f"  ffmpeg         {build['ffmpeg_build']}")
    print(f"  cython         {build['cython']}")
    print(f"  compiler       {build['compiler']}")
    print(f"  buildtype      {build['buildtype']}")
    print("GPU:")
    labels = {
        "cuda_driver": "CUDA driver",
        "cuda_runtime": "CUDA runtime",
        "nvjpeg": "nvJPEG",
        "nvdec": "NVDEC",
        "cupy": "CuPy",
        "PyNvVideoCodec": "PyNvVideoCodec",
    }
    for key, label in labels.items():
        print(f"  {label:<14} {_describe(info['gpu'][key])}")
