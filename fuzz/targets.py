"""The entry points a campaign feeds: each public spdl function that parses bytes.

A target takes one source (``bytes``, ``memoryview``, a 1-D uint8 NumPy array or a path, the
forms ``spdl.io`` accepts) and drives it all the way to a NumPy array, touching every byte of
the result, so nothing lazy escapes the check. It returns how many bytes of output it made; the
campaign flags outputs far larger than any seed could honestly produce.

A target is listed only when the names it calls exist in the installed ``spdl.io``, so the harness
runs against whatever part of the media layer is built, and grows with it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

FORMS = ("bytes", "memoryview", "numpy", "path")


@dataclass(frozen=True)
class Target:
    """``fn(src) -> output bytes`` fed seeds of the given ``kinds``; ``needs`` are the
    ``spdl.io`` names it calls (the target is available when all exist)."""

    name: str
    kinds: tuple[str, ...]
    needs: tuple[str, ...]
    fn: Callable[[object], int]
    gpu: bool = False


def _read(src) -> bytes:
    """The bytes of any source form (a path is read from disk)."""
    if isinstance(src, str):
        with open(src, "rb") as f:
            return f.read()
    return bytes(src)


def _touch(arr) -> int:
    """Read every byte of ``arr`` (catches results that point at freed or unmapped memory)."""
    import numpy as np

    a = np.ascontiguousarray(arr)
    if a.size:
        a.view(np.uint8).sum(dtype=np.uint64)
    return int(a.nbytes)


def _demux_decode(kind: str, filter_desc="default") -> Callable[[object], int]:
    def run(src) -> int:
        import spdl.io as io

        packets = getattr(io, f"demux_{kind}")(src)
        if filter_desc == "default":
            frames = io.decode_packets(packets)
        else:
            frames = io.decode_packets(packets, filter_desc=filter_desc)
        return _touch(io.to_numpy(io.convert_frames(frames)))

    return run


def _load(kind: str, **kwargs) -> Callable[[object], int]:
    def run(src) -> int:
        import spdl.io as io

        return _touch(io.to_numpy(getattr(io, f"load_{kind}")(src, **kwargs)))

    return run


def _demuxer_all(src) -> int:
    """Open once, demux every kind the source has, decode each: the Demuxer object's paths."""
    import spdl.io as io

    total = 0
    with io.Demuxer(src) as demuxer:
        for kind in ("video", "audio"):
            has = getattr(demuxer, f"has_{kind}", None)
            if has is not None and not (has() if callable(has) else has):
                continue
            try:
                packets = getattr(demuxer, f"demux_{kind}")()
            except io.MediaError:
                continue
            total += _touch(io.to_numpy(io.convert_frames(io.decode_packets(packets))))
    return total


def _sample_decode(src) -> int:
    """First, middle and last frame (and a repeat) of whatever frames the demuxer found."""
    import spdl.io as io

    packets = io.demux_video(src)
    n = packets.num_frames
    if n == 0:
        return 0
    frames = io.sample_decode_video(packets, [n - 1, 0, n // 2, 0])
    return _touch(io.to_numpy(io.convert_frames(frames)))


def _image_batch(jpeg_lowres: bool) -> Callable[[object], int]:
    """Two copies of the input in one batch (``load_image_batch`` takes paths or bytes); with
    ``jpeg_lowres`` the target is small enough (8x6) for a JPEG seed to be shrunk by 4 in the
    DCT, and a mutated header claiming a large picture by 8."""

    def run(src) -> int:
        import spdl.io as io

        size = (8, 6) if jpeg_lowres else (16, 12)
        buf = io.load_image_batch(
            [src, src], width=size[0], height=size[1], strict=True, jpeg_lowres=jpeg_lowres
        )
        return _touch(io.to_numpy(buf))

    return run


def _image_batch_lenient(src) -> int:
    """The input between two copies of itself with ``strict=False`` and JPEG lowres decoding:
    broken images are skipped and reported, and each report must be a MediaError."""
    import spdl.io as io

    buf, failures = io.load_image_batch(
        [src, src, src], width=8, height=6, strict=False, jpeg_lowres=True
    )
    for _, error in failures:
        if not isinstance(error, io.MediaError):
            raise error
    if len(failures) + io.to_numpy(buf).shape[0] != 3:
        raise AssertionError(f"3 images in, {io.to_numpy(buf).shape[0]} out + {len(failures)}")
    return _touch(io.to_numpy(buf))


def _nvjpeg(src) -> int:
    import spdl.io as io

    data = _read(src)
    buf = io.decode_image_nvjpeg([data], device_config=io.cuda_config(device_index=0))
    import cupy

    return int(cupy.asarray(buf if not isinstance(buf, list) else buf[0]).nbytes)


TARGETS: tuple[Target, ...] = (
    Target(
        "demux_decode_video",
        ("video",),
        ("demux_video", "decode_packets", "convert_frames", "to_numpy"),
        _demux_decode("video"),
    ),
    Target(
        "demux_decode_video_native",
        ("video",),
        ("demux_video", "decode_packets", "convert_frames", "to_numpy"),
        _demux_decode("video", None),
    ),
    Target(
        "demux_decode_audio",
        ("audio",),
        ("demux_audio", "decode_packets", "convert_frames", "to_numpy"),
        _demux_decode("audio"),
    ),
    Target(
        "demux_decode_image",
        ("image",),
        ("demux_image", "decode_packets", "convert_frames", "to_numpy"),
        _demux_decode("image"),
    ),
    Target("load_video", ("video",), ("load_video", "to_numpy"), _load("video")),
    # Native frames copied straight into one buffer as they are decoded (no filter graph).
    Target(
        "load_video_native",
        ("video",),
        ("load_video", "to_numpy"),
        _load("video", filter_desc=None),
    ),
    Target("load_audio", ("audio",), ("load_audio", "to_numpy"), _load("audio")),
    Target("load_image", ("image",), ("load_image", "to_numpy"), _load("image")),
    Target(
        "demuxer", ("video", "audio"), ("Demuxer", "decode_packets", "convert_frames"), _demuxer_all
    ),
    Target(
        "sample_decode_video", ("video",), ("demux_video", "sample_decode_video"), _sample_decode
    ),
    Target("load_image_batch", ("image",), ("load_image_batch", "to_numpy"), _image_batch(False)),
    Target(
        "load_image_batch_lowres",
        ("image",),
        ("load_image_batch", "to_numpy"),
        _image_batch(True),
    ),
    Target(
        "load_image_batch_lenient",
        ("image",),
        ("load_image_batch", "to_numpy"),
        _image_batch_lenient,
    ),
    Target(
        "decode_image_nvjpeg", ("image",), ("decode_image_nvjpeg", "cuda_config"), _nvjpeg, gpu=True
    ),
)


def _gpu_present() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def available(names: list[str] | None = None) -> list[Target]:
    """The targets the installed ``spdl.io`` supports (GPU ones only with a GPU).

    Args:
        names: restrict to these target names (an unknown name raises ``ValueError``).
    """
    import spdl.io as io

    known = {t.name: t for t in TARGETS}
    if names:
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(f"unknown fuzz targets {unknown}; known: {sorted(known)}")
    chosen = [known[n] for n in names] if names else list(TARGETS)
    out = [t for t in chosen if all(hasattr(io, n) for n in t.needs)]
    if any(t.gpu for t in out) and not _gpu_present():
        out = [t for t in out if not t.gpu]
    return out


def make_source(data: bytes, form: str, suffix: str, tmpdir: str):
    """``data`` in the requested source form; ``"path"`` writes it to a file in ``tmpdir``."""
    if form == "bytes":
        return data
    if form == "memoryview":
        return memoryview(data)
    if form == "numpy":
        import numpy as np

        return np.frombuffer(data, dtype=np.uint8)
    if form == "path":
        fd, path = tempfile.mkstemp(suffix=suffix, dir=tmpdir)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path
    raise ValueError(f"unknown source form {form!r}; expected one of {FORMS}")


# Targets that misbehave on purpose, to prove the harness catches each failure it claims to
# (the harness's tests run them; campaigns never pick them unless given them). One input in
# eight triggers the behaviour (by its SHA-1), and so does any input starting with ``TRIGGER``.
TRIGGER = b"SPDLFUZZ"


def _selftest(behaviour: str) -> Callable[[object], int]:
    def run(src) -> int:
        import hashlib
        import time

        data = _read(src)
        if not (data.startswith(TRIGGER) or hashlib.sha1(data).digest()[0] < 32):
            return len(data)
        if behaviour == "crash":
            import ctypes

            ctypes.string_at(0)  # reads address 0: SIGSEGV, as a native bug would
        elif behaviour == "hang":
            while True:
                time.sleep(1)
        elif behaviour == "exception":
            raise IndexError("list index out of range")
        elif behaviour == "blowup":
            return 1 << 40
        elif behaviour == "media_error":
            import spdl.io as io

            raise io.MediaError("selftest: a broken file")
        return len(data)

    return run


SELFTESTS = {
    f"selftest_{b}": Target(f"selftest_{b}", ("image", "video", "audio"), (), _selftest(b))
    for b in ("crash", "hang", "exception", "blowup", "media_error")
}
