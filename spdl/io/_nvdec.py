"""Video decoding on the GPU with NVDEC (through PyNvVideoCodec), straight into CUDA memory.

The life of a clip: our FFmpeg layer (``spdl._ext._annexb``) reads the video stream and applies
the Annex B bitstream filter (GIL released); the calling thread's cached NVDEC decoder (one per
thread, device, codec and stream, reused across files) turns each packet into NV12 surfaces in
CUDA memory; right after each ``Decode`` call, ``cuda/nv12_to_rgb.cu`` converts every returned
surface (crop and resize in the same pass) into its slot of one (N, 3, H, W) output, on the same
stream as the decoder, so no frame ever goes through the host. The stream is synchronized once at
the end and the output handed back as a ``CUDABuffer``.

Experimental: written against PyNvVideoCodec 2.x's ``CreateDecoder``/``PacketData`` API.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._cuda_buffer import CUDABuffer, CUDAConfig, allocate, cuda_config
from ._cuda_libs import require_cuda, require_cupy, require_nvdec

__all__ = [
    "AnnexBPackets",
    "decode_packets_nvdec",
    "demux_annexb",
    "nvdec_output_size",
    "streaming_load_video_nvdec",
]

# Codec names as FFmpeg spells them -> PyNvVideoCodec's cudaVideoCodec member names.
_NV_CODECS = {"h264": "H264", "hevc": "HEVC", "vp9": "VP9", "av1": "AV1", "mpeg2video": "MPEG2"}


@dataclass
class AnnexBPackets:
    """A video stream's packets as NVDEC takes them (Annex B), with what the decoder must know.

    Attributes:
        src: where they came from. ``codec``: FFmpeg's codec name. ``width``, ``height``:
        pixels. ``colorspace``: ``"bt601"``/``"bt709"``/``"bt2020"``; ``full_range``: bool.
        packets: list of (bytes, pts) in decode order.
    """

    src: str
    codec: str
    width: int
    height: int
    colorspace: str
    full_range: bool
    packets: list[tuple[bytes, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.packets)


def _open(src: Any):
    from spdl._ext import _annexb

    return _annexb.AnnexBReader(src)


def _read(reader: Any, n: int) -> list[tuple[bytes, int]]:
    return reader.read(n)


def demux_annexb(src: Any) -> AnnexBPackets:
    """Read the whole video stream of ``src`` as Annex B packets for NVDEC.

    Args:
        src: a path, or ``bytes``/``bytearray``/``memoryview``/1-D uint8 array (read in place).

    Raises:
        FileNotFoundError: no such file. spdl.io.DemuxError: not a readable video.
    """
    reader = _open(src)
    out = AnnexBPackets(
        reader.path,
        reader.codec,
        reader.width,
        reader.height,
        reader.colorspace,
        reader.full_range,
    )
    while chunk := _read(reader, 256):
        out.packets.extend(chunk)
    return out


def nvdec_output_size(
    width: int,
    height: int,
    crop: tuple[int, int, int, int] = (0, 0, 0, 0),
    scale_width: int | None = None,
    scale_height: int | None = None,
) -> tuple[tuple[int, int, int, int], int, int]:
    """The source rectangle and the output size of a frame.

    Args:
        crop: pixels removed from the (left, top, right, bottom) edges before scaling.

    Returns:
        ((x, y, w, h) source rectangle, output height, output width).
    """
    left, top, right, bottom = crop
    if min(crop) < 0:
        raise ValueError(f"crop values must be >= 0, not {crop}")
    w, h = width - left - right, height - top - bottom
    if w <= 0 or h <= 0:
        raise ValueError(f"cropping {crop} from {width}x{height} leaves nothing")
    if (scale_width is None) != (scale_height is None):
        raise ValueError("give both scale_width and scale_height, or neither")
    out_w, out_h = (w, h) if scale_width is None else (scale_width, scale_height)
    if out_w <= 0 or out_h <= 0:
        raise ValueError(f"scale size must be positive, not {out_w}x{out_h}")
    return (left, top, w, h), out_h, out_w


# --- decoders, cached per thread ------------------------------------------------------------

_local = threading.local()
# Seconds spent creating decoders in this process, for benchmarks (creation is reported apart).
_stats_lock = threading.Lock()
decoder_stats = {"created": 0, "create_seconds": 0.0, "reused": 0}


def _thread_stream(config: CUDAConfig) -> tuple[int, Any]:
    """The stream NVDEC and the kernels share: the configured one, or a stream of this thread.

    PyNvVideoCodec takes a concrete ``CUstream``; for the per-thread default stream each thread
    gets its own non-blocking stream instead, created once.
    """
    from ._cuda_buffer import PER_THREAD_DEFAULT_STREAM

    if config.stream != PER_THREAD_DEFAULT_STREAM:
        return config.stream, config.cupy_stream()
    streams = getattr(_local, "streams", None)
    if streams is None:
        streams = _local.streams = {}
    s = streams.get(config.device_index)
    if s is None:
        import cupy

        with cupy.cuda.Device(config.device_index):
            s = streams[config.device_index] = cupy.cuda.Stream(non_blocking=True)
    return int(s.ptr), s


# Decoders kept per thread. NVDEC sizes a decoder's surfaces for the first stream it sees and
# cannot grow them (PyNvVideoCodec: "Reconfigure Not supported when width/height > maxwidth/
# maxheight"), so the size is part of the key; the oldest goes when a thread holds more.
_MAX_DECODERS_PER_THREAD = 4


def _decoder(nvc: Any, device_index: int, codec: str, stream: int, size: tuple[int, int]):
    if codec not in _NV_CODECS:
        raise ValueError(f"NVDEC does not take {codec!r} here; supported: {sorted(_NV_CODECS)}")
    decoders = getattr(_local, "decoders", None)
    if decoders is None:
        decoders = _local.decoders = {}
    key = (device_index, codec, stream, size)
    dec = decoders.pop(key, None)
    if dec is not None and os.environ.get("SPDL_NVDEC_REUSE", "1") != "0":
        decoders[key] = dec  # most recently used last
        with _stats_lock:
            decoder_stats["reused"] += 1
        return dec
    while len(decoders) >= _MAX_DECODERS_PER_THREAD:
        decoders.pop(next(iter(decoders)))
    t0 = time.perf_counter()
    dec = nvc.CreateDecoder(
        gpuid=device_index,
        codec=getattr(nvc.cudaVideoCodec, _NV_CODECS[codec]),
        cudacontext=0,
        cudastream=stream,
        usedevicememory=True,
    )
    with _stats_lock:
        decoder_stats["created"] += 1
        decoder_stats["create_seconds"] += time.perf_counter() - t0
    decoders[key] = dec
    return dec


def _forget_decoder(device_index: int, codec: str, stream: int, size: tuple[int, int]) -> None:
    # A decoder that failed mid-stream may hold half a sequence; the next file gets a fresh one.
    getattr(_local, "decoders", {}).pop((device_index, codec, stream, size), None)


def _nv12_planes(frame: Any, width: int, height: int) -> tuple[int, int, int, int]:
    """(luma pointer, luma pitch, chroma pointer, chroma pitch) of a decoded NV12 surface."""
    views = frame.cuda() if hasattr(frame, "cuda") else None
    if views:
        cai = views[0].__cuda_array_interface__
        y_ptr = int(cai["data"][0])
        strides = cai.get("strides")
        pitch = int(strides[0]) if strides else int(cai["shape"][1])
        if len(views) > 1:
            cai_uv = views[1].__cuda_array_interface__
            uv_strides = cai_uv.get("strides")
            uv_pitch = int(uv_strides[0]) if uv_strides else int(np.prod(cai_uv["shape"][1:]))
            return y_ptr, pitch, int(cai_uv["data"][0]), uv_pitch
        return y_ptr, pitch, y_ptr + pitch * height, pitch
    y_ptr = int(frame.GetPtrToPlane(0))
    return y_ptr, width, y_ptr + width * height, width


class _Packet:
    """One reusable PyNvVideoCodec ``PacketData`` pointing into a ``bytes`` we keep alive."""

    def __init__(self, nvc: Any):
        self.pd = nvc.PacketData()
        self._keep: Any = None

    def set(self, data: bytes | None, pts: int = 0) -> Any:
        if data is None:  # end of stream: an empty packet flushes the decoder
            self._keep = None
            self.pd.bsl_data = 0
            self.pd.bsl = 0
            return self.pd
        arr = np.frombuffer(data, dtype=np.uint8)
        self._keep = arr
        self.pd.bsl_data = int(arr.ctypes.data)
        self.pd.bsl = int(arr.size)
        self.pd.pts = int(pts)
        return self.pd


class _FrameWriter:
    """Converts decoded surfaces into consecutive slots of a preallocated (N, 3, H, W) buffer."""

    def __init__(self, config, stream_obj, meta, crop, out_h, out_w, pix_fmt, capacity):
        from ._cuda_kernels import yuv_matrix

        self.config, self.stream_obj, self.meta = config, stream_obj, meta
        self.crop, self.out_h, self.out_w = crop, out_h, out_w
        self.bgr, self.channels_last = _PIX_FMTS[pix_fmt]
        self.matrix = yuv_matrix(meta.colorspace, meta.full_range)
        self.frame_bytes = 3 * out_h * out_w
        self.capacity = capacity
        self.ptr, self.owner = allocate(self.frame_bytes * max(capacity, 1), config)
        self.count = 0

    def write(self, frames: list[Any]) -> None:
        from ._cuda_kernels import launch_nv12_to_rgb

        for frame in frames:
            if self.count >= self.capacity:
                return  # more frames than packets: cannot happen for frame-coded H.264/HEVC
            y, yp, uv, uvp = _nv12_planes(frame, self.meta.width, self.meta.height)
            launch_nv12_to_rgb(
                self.config.device_index,
                self.stream_obj,
                y,
                yp,
                uv,
                uvp,
                self.crop,
                self.ptr + self.count * self.frame_bytes,
                self.out_h,
                self.out_w,
                self.channels_last,
                self.bgr,
                self.matrix,
            )
            self.count += 1

    def buffer(self, stream: int) -> CUDABuffer:
        from spdl._ext import _nvjpeg as _native

        _native.stream_synchronize(self.config.device_index, stream)
        shape = (
            (self.count, self.out_h, self.out_w, 3)
            if self.channels_last
            else (self.count, 3, self.out_h, self.out_w)
        )
        return CUDABuffer(self.ptr, shape, np.uint8, self.config.device_index, self.owner)


_PIX_FMTS = {
    "rgb": (False, False),
    "bgr": (True, False),
    "rgb24": (False, True),
    "bgr24": (True, True),
}


def _prepare(device_config: CUDAConfig | None, pix_fmt: str):
    if device_config is None:
        device_config = cuda_config(0)
    elif not isinstance(device_config, CUDAConfig):
        raise TypeError(
            f"device_config must come from spdl.io.cuda_config, not {type(device_config).__name__}"
        )
    if pix_fmt not in _PIX_FMTS:
        raise ValueError(f"pix_fmt must be one of {sorted(_PIX_FMTS)}, not {pix_fmt!r}")
    require_cupy()
    require_cuda(device_config.device_index)
    return device_config, require_nvdec()


def _decode_error(exc: Exception, src: str) -> Exception:
    from spdl._ext import _error

    return _error.DecodeError(
        f"NVDEC failed to decode {src}: {type(exc).__name__}: {exc}",
        source=src,
        step="decode",
        ffmpeg_message=None,
        code=None,
    )


def decode_packets_nvdec(
    packets: AnnexBPackets,
    *,
    device_config: CUDAConfig | None = None,
    pix_fmt: str = "rgb",
    crop_left: int = 0,
    crop_top: int = 0,
    crop_right: int = 0,
    crop_bottom: int = 0,
    scale_width: int | None = None,
    scale_height: int | None = None,
) -> CUDABuffer:
    """Decode a whole video stream with NVDEC into one RGB batch in CUDA memory.

    Experimental.

    Args:
        packets: from ``demux_annexb`` (Annex B packets of H.264, HEVC, VP9, AV1 or MPEG-2).
        device_config: from ``cuda_config``.
        pix_fmt: ``"rgb"``/``"bgr"`` for (N, 3, H, W); ``"rgb24"``/``"bgr24"`` for (N, H, W, 3).
        crop_left, crop_top, crop_right, crop_bottom: pixels removed from each edge first.
        scale_width, scale_height: resize (after cropping) to this size, both or neither.

    Returns:
        CUDABuffer uint8 (N, 3, H, W), N the number of frames decoded. Complete on return.

    Raises:
        CUDANotAvailableError: no GPU, CuPy or PyNvVideoCodec.
        spdl.io.DecodeError: NVDEC rejected the stream, or it held no decodable frame.
    """
    if not isinstance(packets, AnnexBPackets):
        raise TypeError(
            f"decode_packets_nvdec takes the packets of spdl.io.demux_annexb(src), not "
            f"{type(packets).__name__}: NVDEC needs the Annex B stream, which demux_video's "
            f"packets do not carry"
        )
    config, nvc = _prepare(device_config, pix_fmt)
    crop, out_h, out_w = nvdec_output_size(
        packets.width,
        packets.height,
        (crop_left, crop_top, crop_right, crop_bottom),
        scale_width,
        scale_height,
    )
    stream, stream_obj = _thread_stream(config)
    writer = _FrameWriter(config, stream_obj, packets, crop, out_h, out_w, pix_fmt, len(packets))
    try:
        size = (packets.width, packets.height)
        dec = _decoder(nvc, config.device_index, packets.codec, stream, size)
        pkt = _Packet(nvc)
        for data, pts in packets.packets:
            writer.write(dec.Decode(pkt.set(data, pts)))
        writer.write(dec.Decode(pkt.set(None)))
    except (ValueError, TypeError):
        raise
    except Exception as e:
        _forget_decoder(config.device_index, packets.codec, stream, size)
        raise _decode_error(e, packets.src) from e
    if writer.count == 0:
        raise _decode_error(RuntimeError("no frame was decoded"), packets.src)
    return writer.buffer(stream)


def streaming_load_video_nvdec(
    src: Any,
    *,
    device_config: CUDAConfig | None = None,
    num_frames: int = 32,
    pix_fmt: str = "rgb",
    scale_width: int | None = None,
    scale_height: int | None = None,
) -> Iterator[CUDABuffer]:
    """Decode a long video in chunks of ``num_frames`` frames, in bounded GPU memory.

    Experimental. Yields CUDABuffer (n, 3, H, W) uint8 with n == ``num_frames`` except for the
    last chunk. Packets are read ``num_frames`` at a time, so host memory stays bounded too.

    Raises:
        CUDANotAvailableError, FileNotFoundError, spdl.io.DemuxError, spdl.io.DecodeError.
    """
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames <= 0:
        raise ValueError(f"num_frames must be a positive int, not {num_frames!r}")
    config, nvc = _prepare(device_config, pix_fmt)
    reader = _open(src)
    meta = AnnexBPackets(
        reader.path,
        reader.codec,
        reader.width,
        reader.height,
        reader.colorspace,
        reader.full_range,
    )
    crop, out_h, out_w = nvdec_output_size(
        reader.width, reader.height, (0, 0, 0, 0), scale_width, scale_height
    )
    stream, stream_obj = _thread_stream(config)
    size = (reader.width, reader.height)
    dec = _decoder(nvc, config.device_index, reader.codec, stream, size)
    pkt = _Packet(nvc)
    pending: list[Any] = []  # surfaces decoded but not yet converted into a chunk
    eof = False
    yielded = 0
    while not eof or pending:
        # Room for any surfaces NVDEC returns beyond this chunk: they are converted into the
        # next chunk's buffer, so a chunk never waits on frames it cannot hold.
        writer = _FrameWriter(config, stream_obj, meta, crop, out_h, out_w, pix_fmt, num_frames)
        try:
            writer.write(pending[:num_frames])
            pending = pending[num_frames:]
            while writer.count < num_frames and not eof:
                chunk = _read(reader, num_frames - writer.count)
                if not chunk:
                    eof = True
                    frames = list(dec.Decode(pkt.set(None)))
                else:
                    frames = []
                    for data, pts in chunk:
                        frames.extend(dec.Decode(pkt.set(data, pts)))
                room = num_frames - writer.count
                writer.write(frames[:room])
                pending.extend(frames[room:])
        except Exception as e:
            if isinstance(e, (ValueError, TypeError)) or type(e).__module__.startswith("spdl"):
                raise
            _forget_decoder(config.device_index, reader.codec, stream, size)
            raise _decode_error(e, meta.src) from e
        if writer.count:
            yielded += writer.count
            yield writer.buffer(stream)
    if yielded == 0:
        raise _decode_error(RuntimeError("no frame was decoded"), meta.src)
