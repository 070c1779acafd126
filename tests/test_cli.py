"""The ``spdl`` command line: ``spdl info`` and ``spdl bench``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

GPU_KEYS = {"cuda_driver", "cuda_runtime", "nvjpeg", "nvdec", "cupy", "PyNvVideoCodec"}


def spdl(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m spdl ARGS`` and return the finished process (text mode)."""
    return subprocess.run(
        [sys.executable, "-m", "spdl", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=check,
    )


def test_info_json_reports_python_ffmpeg_build_and_gpu():
    info = json.loads(spdl("info", "--json").stdout)
    assert info["python"] == ".".join(map(str, sys.version_info[:3]))
    assert info["free_threaded"] is bool(
        hasattr(sys, "_is_gil_enabled") and not sys._is_gil_enabled()
    )
    assert set(info["ffmpeg"]) >= {"libavcodec", "libavformat"}
    assert isinstance(info["build"]["release_gil"], bool)
    assert set(info["gpu"]) == GPU_KEYS
    for name, entry in info["gpu"].items():
        assert isinstance(entry["available"], bool), name
        if not entry["available"]:
            assert entry["reason"], name


def test_info_text_names_every_section():
    out = spdl("info").stdout
    for word in (
        "Python",
        "FFmpeg",
        "libavcodec",
        "release_gil",
        "GPU:",
        "nvJPEG",
        "NVDEC",
        "CuPy",
    ):
        assert word in out, word


def test_missing_cupy_is_reported_not_raised(monkeypatch):
    from spdl._cli import _info

    monkeypatch.setattr(_info.importlib.util, "find_spec", lambda name: None)
    assert _info._cupy() == {"available": False, "reason": "not installed"}


def test_console_script_is_installed():
    import shutil

    exe = shutil.which("spdl", path=str(__import__("pathlib").Path(sys.executable).parent))
    if exe is None:
        pytest.skip("the console script is not on this interpreter's bin folder")
    out = subprocess.run([exe, "info", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["spdl"]


def test_unknown_command_is_a_usage_error():
    proc = spdl("nonsense", check=False)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
