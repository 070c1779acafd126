"""A small sample data set of images, videos and audio, generated once and cached.

``spdl bench`` runs on it when no folder is given, and the documentation's examples use it, so
everyone can try spdl without downloading anything. The content is deterministic: FFmpeg's
synthetic sources (``testsrc2``, ``smptehdbars``, ``mandelbrot``, ``life``, ``sine``...)
encoded with FFmpeg's encoders by the ``ffmpeg`` command line.

Layout (under ``$XDG_CACHE_HOME/spdl/sample_set-v1``, or ``~/.cache/spdl/...``)::

    images/<class>/<class>_NN.JPEG   4 classes x 8 images, 320x240 (one class is PNG): ImageNet style
    videos/<name>.mp4                4 clips, H.264, 320x240, 25 fps, 2 s
    audio/<name>.{wav,flac,m4a}      4 clips, 3 s, 16-44.1 kHz
    manifest.json                    the files and sizes, written last: present means complete
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["get_sample_set"]

_VERSION = 1
_KINDS = ("images", "videos", "audio")
_SIZE = "320x240"
_IMAGES_PER_CLASS = 8

# Each image class is a lavfi source; its frames at 1 fps differ (moving pattern, zoom, hue,
# generations of a seeded game of life).
_IMAGE_CLASSES = {
    "bars": ("smptehdbars", ".JPEG", ",hue=H=2*PI*t/8"),
    "fractal": ("mandelbrot=end_scale=0.05", ".JPEG", ""),
    "life": ("life=seed=3:mold=10:ratio=0.3:life_color=#e0a030", ".png", ""),
    "pattern": ("testsrc2", ".JPEG", ""),
}
_VIDEOS = {
    "bars": "smptehdbars",
    "fractal": "mandelbrot",
    "life": "life=seed=11:mold=10:ratio=0.2:death_color=#202020:life_color=#40c040",
    "pattern": "testsrc2",
}
# name: (lavfi source, output options, extension)
_AUDIO = {
    "chord_stereo": (
        "sine=frequency=220:sample_rate=44100:duration=3[a];"
        "sine=frequency=330:sample_rate=44100:duration=3[b];[a][b]amerge=inputs=2",
        ["-c:a", "flac"],
        ".flac",
    ),
    "noise_mono": (
        "anoisesrc=color=pink:seed=5:sample_rate=16000:duration=3:amplitude=0.3",
        ["-c:a", "pcm_s16le"],
        ".wav",
    ),
    "sweep_mono": (
        "aevalsrc=sin(2*PI*(200+300*t)*t):sample_rate=22050:duration=3",
        ["-c:a", "aac", "-b:a", "64k"],
        ".m4a",
    ),
    "tone_stereo": (
        "sine=frequency=440:sample_rate=16000:duration=3[a];"
        "sine=frequency=660:sample_rate=16000:duration=3[b];[a][b]amerge=inputs=2",
        ["-c:a", "pcm_s16le"],
        ".wav",
    ),
}


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "spdl"


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError(
            "Making spdl's sample set needs the ffmpeg command line "
            "(Debian/Ubuntu: apt-get install ffmpeg); or give a folder of your own media."
        )
    return exe


def _run(exe: str, args: list[str]) -> None:
    # Single-threaded and bit-exact flags so the same FFmpeg writes the same bytes every time.
    cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"Making spdl's sample set failed: {' '.join(cmd)}\n"
            f"{proc.stderr.decode(errors='replace').strip()}"
        )


def _generate(exe: str, out: Path) -> None:
    procs = []
    for name, (source, ext, extra) in _IMAGE_CLASSES.items():
        folder = out / "images" / name
        folder.mkdir(parents=True)
        src = f"{source}:size={_SIZE}:rate=1" if "=" in source else f"{source}=size={_SIZE}:rate=1"
        args = ["-f", "lavfi", "-i", src + extra, "-frames:v", str(_IMAGES_PER_CLASS)]
        if ext == ".JPEG":
            args += ["-pix_fmt", "yuvj420p", "-q:v", "3"]
        args += ["-fflags", "+bitexact", "-flags:v", "+bitexact"]
        procs.append([*args, "-start_number", "0", "-y", str(folder / f"{name}_%02d{ext}")])
    (out / "videos").mkdir()
    h264 = ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p"]
    for name, source in _VIDEOS.items():
        sep = ":" if "=" in source else "="
        lavfi = ["-f", "lavfi", "-i", f"{source}{sep}size={_SIZE}:rate=25", "-t", "2"]
        exact = ["-threads", "1", "-fflags", "+bitexact"]
        procs.append([*lavfi, *h264, *exact, "-y", str(out / "videos" / f"{name}.mp4")])
    (out / "audio").mkdir()
    for name, (graph, options, ext) in _AUDIO.items():
        target = str(out / "audio" / f"{name}{ext}")
        procs.append(["-f", "lavfi", "-i", graph, *options, "-fflags", "+bitexact", "-y", target])
    # The encodes are independent and each is single-threaded: run them side by side.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(2, min(8, os.cpu_count() or 2))) as pool:
        for future in [pool.submit(_run, exe, args) for args in procs]:
            future.result()


def _manifest(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_size
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def _is_complete(root: Path) -> bool:
    try:
        recorded = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    files = recorded.get("files", {})
    if recorded.get("version") != _VERSION or not files:
        return False
    for rel, size in files.items():
        try:
            if (root / rel).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


def get_sample_set(kind: str | None = None, *, cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder of spdl's sample set, generating it on first use (a few seconds).

    The set is made with the ``ffmpeg`` command line, cached, and made again if a file is
    missing or changed. Several processes may call this at once: each writes into a private
    temporary folder and the first to finish publishes it.

    Args:
        kind: ``"images"`` (an ImageNet-style folder: 4 classes of 8 images, 320x240),
            ``"videos"`` (4 H.264 clips, 2 s each, 320x240, 25 fps), ``"audio"`` (4 clips, 3 s
            each: WAV, FLAC and AAC), or ``None`` for the folder holding all three.
        cache_dir: Where to keep it; default ``$XDG_CACHE_HOME/spdl`` (``~/.cache/spdl``).

    Returns:
        The folder's path.

    Raises:
        ValueError: ``kind`` is not one of the above.
        RuntimeError: The ``ffmpeg`` command line is missing or failed.
    """
    if kind is not None and kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)} or None, got {kind!r}")
    cache = Path(cache_dir) if cache_dir is not None else _cache_root()
    root = cache / f"sample_set-v{_VERSION}"
    if not _is_complete(root):
        exe = _ffmpeg()
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=cache))
        try:
            _generate(exe, tmp)
            manifest = {"version": _VERSION, "files": _manifest(tmp)}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
            if root.exists() and not _is_complete(root):
                shutil.rmtree(root, ignore_errors=True)
            try:
                os.rename(tmp, root)
            except OSError:
                # Another process published a complete set first; use that one.
                if not _is_complete(root):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root if kind is None else root / kind
