"""decode_config: which decoder to use, its options, and the decode size limits of a call."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DecodeConfig", "decode_config"]


@dataclass(frozen=True)
class DecodeConfig:
    """How to decode; see :func:`decode_config`."""

    decoder: str | None = None
    decoder_options: dict[str, str] = field(default_factory=dict)
    max_pixels: int | None = None
    max_bytes: int | None = None


def decode_config(
    decoder: str | None = None,
    decoder_options: dict[str, object] | None = None,
    *,
    max_pixels: int | None = None,
    max_bytes: int | None = None,
) -> DecodeConfig:
    """Choose the decoder, its options and the size limits for ``decode_packets`` / ``load_*``.

    Args:
        decoder: an FFmpeg decoder name (``"h264"``, ``"libdav1d"``...); None picks FFmpeg's
            default for the codec.
        decoder_options: decoder (AVCodecContext) options, e.g. ``{"threads": 4}``. spdl uses
            ``threads=1`` unless told otherwise: it runs many decoders at once, one per thread.
        max_pixels: most pixels one frame may have; None uses ``spdl.io.get_decode_limits()``,
            0 means no limit.
        max_bytes: most bytes of frames the call may produce; None: the default, 0: no limit.

    Returns:
        DecodeConfig
    """
    if decoder is not None and not isinstance(decoder, str):
        raise TypeError(f"decoder must be a str or None, not {type(decoder).__name__}")
    if decoder_options is not None and not isinstance(decoder_options, dict):
        raise TypeError(f"decoder_options must be a dict, not {type(decoder_options).__name__}")
    for name, value in (("max_pixels", max_pixels), ("max_bytes", max_bytes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
        if value is not None and value < 0:
            raise ValueError(f"{name} must be >= 0, not {value}")
    options = {str(k): str(v) for k, v in (decoder_options or {}).items()}
    return DecodeConfig(decoder, options, max_pixels, max_bytes)
