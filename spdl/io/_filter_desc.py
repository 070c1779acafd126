"""Filter descriptions: plain FFmpeg filter strings for the common video and audio transforms."""

from __future__ import annotations

from fractions import Fraction

from spdl._ext import _packets

__all__ = ["get_audio_filter_desc", "get_video_filter_desc"]

_SCALE_ALGOS = {"fast_bilinear", "bilinear", "bicubic", "neighbor", "area", "lanczos", "spline"}
# FFmpeg's default layout for a channel count (av_channel_layout_default), by name.
_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def _positive_int(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {value}")
    return value


def _seconds(value: Fraction) -> str:
    # Exact decimal when there is one; FFmpeg parses time durations as decimals.
    if value.denominator & (value.denominator - 1) == 0 or 10**9 % value.denominator == 0:
        return f"{float(value):.9f}".rstrip("0").rstrip(".")
    return repr(float(value))


def get_video_filter_desc(
    *,
    frame_rate: tuple[int, int] | None = None,
    timestamp: tuple[float, float] | None = None,
    scale_width: int | None = None,
    scale_height: int | None = None,
    scale_algo: str = "bicubic",
    scale_mode: str | None = "pad",
    crop_width: int | None = None,
    crop_height: int | None = None,
    pix_fmt: str | None = "rgb24",
    num_frames: int | None = None,
    pad_mode: str | None = None,
    filter_desc: str | None = None,
) -> str:
    """An FFmpeg video filter chain (``-vf`` syntax) for the usual preprocessing.

    The steps, in order: trim to ``timestamp``, change the frame rate, the custom
    ``filter_desc``, scale, crop, convert the pixel format, fix the number of frames.

    Args:
        frame_rate: ``(num, den)`` frames per second (``fps`` filter).
        timestamp: ``(start, end)`` seconds to keep (``trim``); timestamps restart at 0.
        scale_width, scale_height: output size in pixels. With both given, ``scale_mode``
            decides: ``"pad"`` fits inside and pads (black), ``"crop"`` fills and crops the
            center, None stretches. With one given the other follows the aspect ratio.
        scale_algo: swscale algorithm (``"bicubic"``, ``"bilinear"``, ``"area"``, ``"lanczos"``...).
        crop_width, crop_height: crop the center to this size (after scaling).
        pix_fmt: output pixel format (``"rgb24"``, ``"gray"``, ``"yuv420p"``...); None keeps it.
        num_frames: exactly this many frames: extra ones are dropped, missing ones repeat the
            last frame (``pad_mode="clone"``, the default) or are black (``"black"``).
        pad_mode: how ``num_frames`` pads, see above.
        filter_desc: any FFmpeg filter chain inserted after the frame-rate change.

    Returns:
        str: the chain (``"null"`` when nothing is asked for).
    """
    parts = []
    if timestamp is not None:
        start, end = _packets._window(timestamp)
        trim = f"trim=start={_seconds(start)}"
        if end is not None:
            trim += f":end={_seconds(end)}"
        parts += [trim, "setpts=PTS-STARTPTS"]
    if frame_rate is not None:
        try:
            num, den = frame_rate
        except (TypeError, ValueError):
            raise TypeError(f"frame_rate must be a (num, den) pair, not {frame_rate!r}") from None
        _positive_int(num, "frame_rate numerator")
        _positive_int(den, "frame_rate denominator")
        parts.append(f"fps={num}/{den}")
    if filter_desc:
        parts.append(filter_desc)
    w = _positive_int(scale_width, "scale_width")
    h = _positive_int(scale_height, "scale_height")
    if scale_algo not in _SCALE_ALGOS:
        raise ValueError(f"scale_algo must be one of {sorted(_SCALE_ALGOS)}, not {scale_algo!r}")
    if scale_mode not in ("pad", "crop", None):
        raise ValueError(f"scale_mode must be 'pad', 'crop' or None, not {scale_mode!r}")
    if w is not None and h is not None:
        if scale_mode == "pad":
            parts += [
                f"scale=w={w}:h={h}:flags={scale_algo}:force_original_aspect_ratio=decrease",
                f"pad=w={w}:h={h}:x=(ow-iw)/2:y=(oh-ih)/2",
            ]
        elif scale_mode == "crop":
            parts += [
                f"scale=w={w}:h={h}:flags={scale_algo}:force_original_aspect_ratio=increase",
                f"crop=w={w}:h={h}",
            ]
        else:
            parts.append(f"scale=w={w}:h={h}:flags={scale_algo}")
    elif w is not None or h is not None:
        parts.append(f"scale=w={w or -2}:h={h or -2}:flags={scale_algo}")
    cw = _positive_int(crop_width, "crop_width")
    ch = _positive_int(crop_height, "crop_height")
    if cw is not None or ch is not None:
        parts.append(f"crop=w={cw or 'iw'}:h={ch or 'ih'}")
    if pix_fmt is not None:
        if not isinstance(pix_fmt, str) or not pix_fmt.isidentifier():
            raise ValueError(f"pix_fmt must be an FFmpeg pixel format name, not {pix_fmt!r}")
        parts.append(f"format=pix_fmts={pix_fmt}")
    n = _positive_int(num_frames, "num_frames")
    if pad_mode not in (None, "clone", "black"):
        raise ValueError(f"pad_mode must be 'clone', 'black' or None, not {pad_mode!r}")
    if n is not None:
        mode = "add:color=black" if pad_mode == "black" else "clone"
        parts += [f"tpad=stop=-1:stop_mode={mode}", f"trim=end_frame={n}"]
    return ",".join(parts) or "null"


def get_audio_filter_desc(
    *,
    sample_rate: int | None = None,
    num_channels: int | None = None,
    sample_fmt: str | None = "fltp",
    timestamp: tuple[float, float] | None = None,
    num_frames: int | None = None,
    filter_desc: str | None = None,
) -> str:
    """An FFmpeg audio filter chain (``-af`` syntax) for the usual preprocessing.

    Args:
        sample_rate: resample to this rate, in Hz (``aresample``).
        num_channels: remix to this many channels (FFmpeg's default layout for the count).
        sample_fmt: output sample format (``"fltp"``, ``"s16"``, ``"flt"``...); None keeps it.
        timestamp: ``(start, end)`` seconds to keep (``atrim``); timestamps restart at 0.
        num_frames: exactly this many samples per channel: extra ones dropped, missing ones
            silence.
        filter_desc: any FFmpeg audio filter chain, applied first (after the trim).

    Returns:
        str: the chain (``"anull"`` when nothing is asked for).
    """
    parts = []
    if timestamp is not None:
        start, end = _packets._window(timestamp)
        trim = f"atrim=start={_seconds(start)}"
        if end is not None:
            trim += f":end={_seconds(end)}"
        parts += [trim, "asetpts=PTS-STARTPTS"]
    if filter_desc:
        parts.append(filter_desc)
    rate = _positive_int(sample_rate, "sample_rate")
    if rate is not None:
        parts.append(f"aresample={rate}")
    aformat = []
    if sample_fmt is not None:
        if not isinstance(sample_fmt, str) or not sample_fmt.isidentifier():
            raise ValueError(f"sample_fmt must be an FFmpeg sample format name, not {sample_fmt!r}")
        aformat.append(f"sample_fmts={sample_fmt}")
    ch = _positive_int(num_channels, "num_channels")
    if ch is not None:
        aformat.append(f"channel_layouts={_LAYOUTS.get(ch, f'{ch}c')}")
    if aformat:
        parts.append("aformat=" + ":".join(aformat))
    n = _positive_int(num_frames, "num_frames")
    if n is not None:
        parts += [f"apad=whole_len={n}", f"atrim=end_sample={n}"]
    return ",".join(parts) or "anull"
