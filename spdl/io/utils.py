"""FFmpeg versions, configuration, filters and log level, and how this copy of spdl was built."""

from __future__ import annotations

import sys

from spdl._ext import _build_config, _libav

__all__ = [
    "get_build_config",
    "get_ffmpeg_configuration",
    "get_ffmpeg_filters",
    "get_ffmpeg_log_level",
    "get_ffmpeg_versions",
    "set_ffmpeg_log_level",
]

get_ffmpeg_versions = _libav.get_ffmpeg_versions
get_ffmpeg_configuration = _libav.get_ffmpeg_configuration
get_ffmpeg_filters = _libav.get_filters
get_ffmpeg_log_level = _libav.get_ffmpeg_log_level
set_ffmpeg_log_level = _libav.set_ffmpeg_log_level


def get_build_config() -> dict[str, object]:
    """How the native layer was built.

    Returns:
        dict with ``release_gil`` (bool: native loops run without the GIL; the meson option
        ``release_gil``), ``ffmpeg_build`` (the FFmpeg library versions pkg-config found at build
        time), ``cython``, ``compiler``, ``buildtype`` and ``free_threaded`` (whether the running
        interpreter is a free-threaded build).
    """
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return {
        "release_gil": bool(_libav.release_gil_enabled()),
        "ffmpeg_build": _build_config.FFMPEG_PKGCONFIG,
        "cython": _build_config.CYTHON_VERSION,
        "compiler": _build_config.C_COMPILER,
        "buildtype": _build_config.BUILDTYPE,
        "free_threaded": is_gil_enabled is not None and not is_gil_enabled(),
    }
