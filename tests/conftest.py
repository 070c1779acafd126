"""Shared fixtures: generated media (see ``media.py``) and the CUDA marker policy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import media


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """One temporary folder for the whole session's generated media."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def h264_video(media_dir) -> Path:
    """2 s of 320x240 H.264 at 25 fps with B-frames and a GOP of 12 (50 frames)."""
    return media.make_video(media_dir / "h264.mp4", extra=("-bf", "2", "-g", "12"))


@pytest.fixture(scope="session")
def jpeg_image(media_dir) -> Path:
    """A 321x239 yuvj420p JPEG (odd size on purpose)."""
    return media.make_image(media_dir / "image.jpg", width=321, height=239, pix_fmt="yuvj420p")


@pytest.fixture(scope="session")
def wav_audio(media_dir) -> Path:
    """2 s of 16 kHz stereo s16 WAV."""
    return media.make_audio(media_dir / "audio.wav", sample_rate=16000, num_channels=2)


@pytest.fixture(scope="session")
def xdg_cache(tmp_path_factory) -> Path:
    """A folder to use as ``XDG_CACHE_HOME``, holding spdl's sample set (made once per session)."""
    from spdl.source import get_sample_set

    root = tmp_path_factory.mktemp("xdg-cache")
    get_sample_set(cache_dir=root / "spdl")
    return root


def _cuda_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` skip without a GPU, unless SPDL_REQUIRE_CUDA=1 makes that a failure."""
    if os.environ.get("SPDL_REQUIRE_CUDA") == "1" or _cuda_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU (set SPDL_REQUIRE_CUDA=1 to fail instead)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    """In a build with live-object counters (meson -Dlive_counters=true), every native object
    made during the run must be freed by its end: a nonzero count is a leak and fails the run."""
    import gc

    try:
        from spdl._ext import _live
    except ImportError:
        return
    if not _live.enabled():
        return
    gc.collect()
    alive = {name: n for name, n in _live.live_objects().items() if n}
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if alive:
        if reporter is not None:
            reporter.write_line(f"LEAK: native objects still alive at the end: {alive}", red=True)
            for line in _holders(set(alive)):
                reporter.write_line(line, red=True)
        session.exitstatus = 1
    elif reporter is not None:
        counted = sorted(_live.live_objects())
        reporter.write_line(f"live-object counters: all zero ({', '.join(counted)})")


def _holders(names: set[str], depth: int = 8) -> list[str]:
    """Who keeps the live native objects of the classes in ``names``: for each, a chain of
    holders up to a module, a function or a stack frame. Objects the garbage collector does not
    track (NumPy arrays, classes without Python fields) are followed one level down from the
    tracked ones, arrays through ``.base``. An object nothing holds is a reference leaked in C."""
    import gc
    import types

    def referents(obj):
        refs = gc.get_referents(obj)
        base = getattr(obj, "base", None) if type(obj).__module__ == "numpy" else None
        return [*refs, base] if base is not None else refs

    parents: dict[int, list] = {}
    found = {}
    for obj in gc.get_objects():
        for child in referents(obj):
            parents.setdefault(id(child), []).append(obj)
            if not gc.is_tracked(child):
                for grandchild in referents(child):
                    parents.setdefault(id(grandchild), []).append(child)
                    found[id(grandchild)] = grandchild
            found[id(child)] = child
        found[id(obj)] = obj
    found = [o for o in found.values() if any(c.__name__ in names for c in type(o).__mro__)]
    modules = {id(m.__dict__): m.__name__ for m in list(sys.modules.values()) if m is not None}

    lines = []
    for obj in found:
        chain, held = [type(obj).__qualname__], obj
        for _ in range(depth):
            holder = next(iter(parents.get(id(held), ())), None)
            if holder is None:
                chain.append("?")
                break
            if isinstance(holder, types.FrameType):
                code = holder.f_code
                chain.append(f"frame {code.co_name} ({code.co_filename}:{holder.f_lineno})")
                break
            if isinstance(holder, dict):
                keys = ", ".join(repr(k) for k, v in holder.items() if v is held)
                name = modules.get(id(holder))
                chain.append(f"{'module ' + name if name else 'dict'}[{keys}]")
                if name:
                    break
            elif isinstance(holder, types.FunctionType):
                chain.append(f"function {holder.__qualname__}")
                break
            else:
                chain.append(type(holder).__qualname__)
            held = holder
        lines.append("  " + " <- ".join(chain))
    return lines
