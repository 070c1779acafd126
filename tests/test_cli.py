"""The ``spdl`` command line: ``spdl info`` and ``spdl bench``."""

from __future__ import annotations

import json
import os
import shutil
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
    exe = shutil.which("spdl", path=str(__import__("pathlib").Path(sys.executable).parent))
    if exe is None:
        pytest.skip("the console script is not on this interpreter's bin folder")
    out = subprocess.run([exe, "info", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["spdl"]


def test_unknown_command_is_a_usage_error():
    proc = spdl("nonsense", check=False)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


# --- spdl bench -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_env(xdg_cache) -> dict:
    """The environment for ``spdl bench`` runs: the session's cache, holding the sample set."""
    return {**os.environ, "XDG_CACHE_HOME": str(xdg_cache)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["images", "{tmp}/missing"], "spdl bench: error: no such directory: {tmp}/missing"),
        (["videos", "{tmp}/empty"], "spdl bench: error: no video files (.mp4 .mkv"),
        (["audio", "{tmp}/file.txt"], "spdl bench: error: not a directory: {tmp}/file.txt"),
    ],
)
def test_bench_bad_folders_are_one_line(tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no media here")
    (tmp_path / "file.txt").write_text("x")
    proc = spdl("bench", *(a.format(tmp=tmp_path) for a in args), check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(message.format(tmp=tmp_path))
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_bench_bad_options_are_usage_errors():
    proc = spdl("bench", "images", "--threads", "0", check=False)
    assert proc.returncode == 2 and "must be at least 1" in proc.stderr
    proc = spdl("bench", "pictures", check=False)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_progress_bar_draws_only_on_a_terminal():
    import io

    from spdl._cli._progress import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    quiet = io.StringIO()
    bar = ProgressBar(4, "batches", stream=quiet)
    for _ in range(4):
        bar.update()
    bar.close()
    assert quiet.getvalue() == ""  # not a terminal: nothing drawn

    tty = Terminal()
    bar = ProgressBar(4, "batches", stream=tty)
    bar.update(2)
    assert bar.render().startswith("[" + "#" * 15 + "." * 15 + "] 2/4 batches")
    bar.update(2, note="32 images")
    bar.close()
    out = tty.getvalue()
    assert "] 4/4 batches" in out and "32 images" in out and out.endswith("\n")


def _bench_json(*args: str, env: dict) -> dict:
    proc = spdl("bench", *args, "--json", env=env)
    assert proc.stderr == ""  # --json: no progress bar, no warnings
    return json.loads(proc.stdout)


def test_bench_images_on_the_sample_set(cache_env):
    result = _bench_json("images", "--threads", "4", "--batch-size", "8", env=cache_env)
    assert result["kind"] == "images" and result["directory"].endswith("sample_set-v1/images")
    assert result["files"] == result["samples"] == 32
    assert result["failures"] == 0
    assert result["samples_per_second"] > 0
    tasks = {t["name"]: t for t in result["stats"]["tasks"]}
    assert tasks["preprocess"]["num_tasks"] == 32 and tasks["preprocess"]["concurrency"] == 4
    assert "preprocess" in result["report"]


def test_bench_videos_counts_frames(cache_env):
    result = _bench_json("videos", "--size", "64", "--batch-size", "2", env=cache_env)
    assert result["files"] == result["samples"] == 4
    assert result["amount_unit"] == "frames"
    assert result["epochs"][0]["amount"] == 4 * 50  # four 2 s clips at 25 fps


def test_bench_audio_counts_seconds(cache_env):
    result = _bench_json("audio", "--epochs", "2", env=cache_env)
    assert result["samples"] == 8 and len(result["epochs"]) == 2
    for epoch in result["epochs"]:
        assert 11.9 < epoch["amount"] < 12.3  # four 3 s clips


def test_bench_text_report(cache_env):
    out = spdl("bench", "images", "--epochs", "2", env=cache_env).stdout
    assert "Loaded 64 images in" in out
    assert "images/s (median of the epochs after the first)" in out
    assert "pipeline stats" in out and "preprocess" in out


def test_bench_unreadable_files_are_one_line_each(tmp_path, cache_env):
    from spdl.source import ImageNetSource, get_sample_set

    images = get_sample_set("images", cache_dir=os.path.join(cache_env["XDG_CACHE_HOME"], "spdl"))
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, (path, _) in enumerate(ImageNetSource(images)[:3]):
        shutil.copy(path, folder / f"good{i}{os.path.splitext(path)[1]}")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    proc = spdl("bench", "images", str(folder), env=cache_env)
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "broken.jpg" in warnings[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Loaded 3 images" in proc.stdout and "1 failed per epoch" in proc.stdout

    (folder / "broken.jpg").rename(tmp_path / "broken.jpg")
    for good in folder.iterdir():
        good.unlink()
    (tmp_path / "broken.jpg").rename(folder / "broken.jpg")
    proc = spdl("bench", "images", str(folder), env=cache_env, check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        f"spdl bench: error: none of the 1 image files under {folder} could be loaded "
        "(see the warnings above)"
    )
    assert "Traceback" not in proc.stderr


@pytest.mark.cuda
@pytest.mark.parametrize(("kind", "unit"), [("images", "images"), ("videos", "frames")])
def test_bench_on_the_gpu(cache_env, kind, unit):
    result = _bench_json(kind, "--device", "cuda", "--threads", "4", env=cache_env)
    assert result["device"] == "cuda" and result["failures"] == 0
    assert result["samples"] == result["files"] > 0
    assert result["amount_unit"] == unit
    if kind == "videos":
        assert result["epochs"][0]["amount"] == 4 * 50
