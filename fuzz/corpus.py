"""The seed files every campaign mutates: small, valid media of each container and codec family.

Seeds are generated with the ``ffmpeg`` command line from lavfi sources (the same way the tests
make their media, through ``tests/media.py``) and cached in a folder, keyed by name. They are kept
tiny (a few kilobytes) so one worker tries thousands of inputs a minute; size does not matter to a
parser, structure does: B-frames, several GOPs, several channels, odd image sizes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _media():
    """``tests/media.py``, the project's one helper that drives the ffmpeg command line."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import media

    return media


@dataclass(frozen=True)
class Seed:
    """One seed file: ``name`` (with the extension that picks the container) and its ``kind``
    (``"video"``, ``"audio"`` or ``"image"``: which entry points it is meant for)."""

    name: str
    kind: str
    make: str  # which media.make_* helper
    options: tuple[tuple[str, object], ...] = ()


_SMALL_VIDEO = (("width", 64), ("height", 48), ("rate", 10), ("duration", 1.0))
_GOP = ("-bf", "2", "-g", "4")

SEEDS: tuple[Seed, ...] = (
    Seed("h264.mp4", "video", "video", (*_SMALL_VIDEO, ("extra", _GOP))),
    Seed("h264.mkv", "video", "video", (*_SMALL_VIDEO, ("extra", ("-g", "5")))),
    Seed(
        "hevc.mp4",
        "video",
        "video",
        (
            *_SMALL_VIDEO,
            ("codec", "libx265"),
            ("extra", ("-x265-params", "log-level=none:keyint=5")),
        ),
    ),
    Seed(
        "vp9.webm",
        "video",
        "video",
        (*_SMALL_VIDEO, ("codec", "libvpx-vp9"), ("extra", ("-g", "5", "-deadline", "realtime"))),
    ),
    Seed("mpeg4.avi", "video", "video", (*_SMALL_VIDEO, ("codec", "mpeg4"), ("extra", _GOP))),
    Seed("mpeg2.ts", "video", "video", (*_SMALL_VIDEO, ("codec", "mpeg2video"), ("extra", _GOP))),
    Seed(
        "mjpeg.avi", "video", "video", (*_SMALL_VIDEO, ("codec", "mjpeg"), ("pix_fmt", "yuvj420p"))
    ),
    Seed("anim.gif", "video", "video", (*_SMALL_VIDEO, ("codec", "gif"), ("pix_fmt", "rgb8"))),
    Seed("image.jpg", "image", "image", (("width", 33), ("height", 25), ("pix_fmt", "yuvj420p"))),
    Seed(
        "image422.jpg", "image", "image", (("width", 40), ("height", 30), ("pix_fmt", "yuvj422p"))
    ),
    Seed("image.png", "image", "image", (("width", 33), ("height", 25))),
    Seed("gray16.png", "image", "image", (("width", 20), ("height", 16), ("pix_fmt", "gray16be"))),
    Seed("image.bmp", "image", "image", (("width", 17), ("height", 13))),
    Seed("image.webp", "image", "image", (("width", 32), ("height", 24))),
    Seed("image.tiff", "image", "image", (("width", 18), ("height", 12))),
    Seed("audio.wav", "audio", "audio", (("duration", 0.25),)),
    Seed("audio.mp3", "audio", "audio", (("duration", 0.5), ("sample_rate", 22050))),
    Seed("audio.m4a", "audio", "audio", (("duration", 0.5), ("codec", "aac"))),
    Seed("audio.flac", "audio", "audio", (("duration", 0.25), ("num_channels", 1))),
    Seed(
        "audio.ogg",
        "audio",
        "audio",
        (("duration", 0.5), ("codec", "libvorbis"), ("sample_rate", 22050)),
    ),
    Seed(
        "audio.opus",
        "audio",
        "audio",
        (("duration", 0.5), ("codec", "libopus"), ("sample_rate", 48000)),
    ),
)


def build(folder: str | Path, seeds: tuple[Seed, ...] = SEEDS) -> dict[str, tuple[str, bytes]]:
    """Make (or reuse) every seed under ``folder``.

    Returns:
        ``{name: (kind, file bytes)}`` for every seed the local ffmpeg could encode; a seed whose
        encoder is missing from this ffmpeg build is skipped rather than failing the campaign.
    """
    media = _media()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[str, bytes]] = {}
    for seed in seeds:
        path = folder / seed.name
        if not path.exists() or path.stat().st_size == 0:
            make = getattr(media, f"make_{seed.make}")
            try:
                make(path.with_suffix(".tmp" + path.suffix), **dict(seed.options))
            except RuntimeError as e:
                print(f"[fuzz] skipping seed {seed.name}: {e}", file=sys.stderr)
                continue
            path.with_suffix(".tmp" + path.suffix).rename(path)
        out[seed.name] = (seed.kind, path.read_bytes())
    return out
