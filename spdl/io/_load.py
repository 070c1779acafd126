"""One-call helpers: demux a stream of a source, or load it all the way to a CPUBuffer."""

from __future__ import annotations

from spdl._ext import _convert, _decode, _demux

__all__ = [
    "demux_audio",
    "demux_image",
    "demux_video",
    "load_audio",
    "load_image",
    "load_video",
]

_DEFAULT = _decode._DEFAULT


def demux_video(src, timestamp=None, *, timeout=None, allow_partial=False, **demuxer_args):
    """The video packets of ``src`` (whole, or for a ``(start, end)`` window in seconds).

    Args:
        src: path (``str`` / ``os.PathLike``), ``bytes``, ``memoryview`` or 1-D uint8 array.
        timestamp: ``(start, end)`` seconds; decoding keeps exactly the frames whose
            presentation time is in ``[start, end)``.
        timeout: seconds the whole call may take.
        allow_partial: read what there is of truncated or corrupt media instead of raising.
        **demuxer_args: ``format`` / ``format_options`` for :class:`spdl.io.Demuxer`.

    Returns:
        VideoPackets
    """
    with _demux.Demuxer(src, timeout=timeout, **demuxer_args) as d:
        return d.demux_video(timestamp, timeout=timeout, allow_partial=allow_partial)


def demux_audio(src, timestamp=None, *, timeout=None, allow_partial=False, **demuxer_args):
    """The audio packets of ``src``; see :func:`demux_video`. Returns AudioPackets."""
    with _demux.Demuxer(src, timeout=timeout, **demuxer_args) as d:
        return d.demux_audio(timestamp, timeout=timeout, allow_partial=allow_partial)


def demux_image(src, *, timeout=None, allow_partial=False, **demuxer_args):
    """The packet of an image (the first frame of an animation). Returns ImagePackets."""
    with _demux.Demuxer(src, timeout=timeout, **demuxer_args) as d:
        return d.demux_image(timeout=timeout, allow_partial=allow_partial)


def load_video(
    src,
    timestamp=None,
    *,
    filter_desc=_DEFAULT,
    decode_config=None,
    timeout=None,
    allow_partial=False,
    **demuxer_args,
):
    """Demux, decode, filter and convert a video (or a window of it) into one buffer.

    Args:
        src, timestamp, timeout, allow_partial, demuxer_args: as in :func:`demux_video`.
        filter_desc: FFmpeg filter chain; the default converts to ``rgb24``; None keeps the
            native pixel format.
        decode_config: from :func:`spdl.io.decode_config`.

    Returns:
        CPUBuffer: (N, H, W, 3) uint8 for rgb24; see :func:`spdl.io.convert_frames` for others.
    """
    packets = demux_video(
        src, timestamp, timeout=timeout, allow_partial=allow_partial, **demuxer_args
    )
    # Decode and copy in one pass (same result as convert_frames(decode_packets(...))).
    return _decode.decode_to_buffer(
        packets, filter_desc, decode_config, timeout=timeout, allow_partial=allow_partial
    )


def load_audio(
    src,
    timestamp=None,
    *,
    filter_desc=_DEFAULT,
    decode_config=None,
    timeout=None,
    allow_partial=False,
    **demuxer_args,
):
    """Demux, decode, filter and convert audio into one buffer.

    Returns:
        CPUBuffer: (C, N) float32 with the default ``fltp``; (N, C) for packed formats.
    """
    packets = demux_audio(
        src, timestamp, timeout=timeout, allow_partial=allow_partial, **demuxer_args
    )
    frames = _decode.decode_packets(
        packets, filter_desc, decode_config, timeout=timeout, allow_partial=allow_partial
    )
    return _convert.convert_frames(frames)


def load_image(
    src,
    *,
    filter_desc=_DEFAULT,
    decode_config=None,
    timeout=None,
    allow_partial=False,
    **demuxer_args,
):
    """Decode an image (the first frame of an animated GIF/WebP or of a video) into a buffer.

    Returns:
        CPUBuffer: (H, W, 3) uint8 with the default ``rgb24``.
    """
    packets = demux_image(src, timeout=timeout, allow_partial=allow_partial, **demuxer_args)
    frames = _decode.decode_packets(
        packets, filter_desc, decode_config, timeout=timeout, allow_partial=allow_partial
    )
    return _convert.convert_frames(frames)
