"""Packets: the encoded data of one stream between demuxing and decoding.

A ``Packets`` object owns its ``AVPacket`` references and a copy of the stream's codec
parameters, so it outlives the ``Demuxer`` that made it, crosses threads freely and pickles (its
state is the codec parameters plus the packets' bytes and timestamps) to cross process pools.
"""

import math
from array import array
from fractions import Fraction

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.errno cimport ENOMEM
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy

from spdl._ext._live cimport live_add, live_register
cimport avcodec as avc
cimport avutil as avu

_KIND_NAMES = {KIND_VIDEO: "video", KIND_AUDIO: "audio", KIND_IMAGE: "image"}
_INT_MAX = 2147483647


cdef object _to_fraction(object x, str name):
    if isinstance(x, bool):
        raise TypeError(f"{name} must be a number of seconds, not bool")
    if isinstance(x, Fraction):
        return x
    if isinstance(x, int):
        return Fraction(x)
    if isinstance(x, float):
        if math.isnan(x):
            raise ValueError(f"{name} must not be NaN")
        # The decimal the user wrote (0.1 is 1/10, not 3602879701896397/36028797018963968).
        return Fraction(repr(x))
    raise TypeError(f"{name} must be a number of seconds, not {type(x).__name__}")


cdef object _check_timestamp(object timestamp):
    """Normalize a ``(start, end)`` window to Fractions (end may be None for "to the end")."""
    if timestamp is None:
        return None
    try:
        start, end = timestamp
    except (TypeError, ValueError):
        raise TypeError(f"timestamp must be a (start, end) pair of seconds, not {timestamp!r}")
    start = Fraction(0) if start is None else start
    if isinstance(start, float) and math.isinf(start) and start < 0:
        start = Fraction(0)
    start = _to_fraction(start, "start")
    if end is None or (isinstance(end, float) and math.isinf(end) and end > 0):
        end = None
    else:
        end = _to_fraction(end, "end")
        if end <= start:
            raise ValueError(f"timestamp end must be after start, got {timestamp!r}")
    if start < 0:
        raise ValueError(f"timestamp start must not be negative, got {timestamp!r}")
    return (start, end)


cdef Window make_window(object timestamp) except *:
    cdef Window w
    w.has_start = False
    w.has_end = False
    if timestamp is None:
        return w
    start, end = timestamp
    for f, is_start in ((start, True), (end, False)):
        if f is None:
            continue
        if f.denominator > _INT_MAX:
            f = f.limit_denominator(_INT_MAX)
        if is_start:
            w.has_start = True
            w.start = f.numerator
            w.start_tb = avu.av_make_q(1, f.denominator)
        else:
            w.has_end = True
            w.end = f.numerator
            w.end_tb = avu.av_make_q(1, f.denominator)
    return w


cdef bint in_window(const Window *w, int64_t pts, avu.AVRational tb) noexcept nogil:
    """Whether presentation time ``pts * tb`` is in ``[start, end)``, exactly (no floats)."""
    if pts == avu.AV_NOPTS_VALUE:
        return True
    if w.has_start and avu.av_compare_ts(pts, tb, w.start, w.start_tb) < 0:
        return False
    if w.has_end and avu.av_compare_ts(pts, tb, w.end, w.end_tb) >= 0:
        return False
    return True


cdef int _LIVE_PACKETS = live_register("Packets")


cdef class Packets:
    """Encoded packets of one stream, with its codec parameters.

    Made by :class:`spdl.io.Demuxer` or ``spdl.io.demux_*``. Picklable.

    Attributes:
        src (str): the source, as messages name it.
        timestamp (tuple[Fraction, Fraction | None] | None): the time window ``[start, end)`` in
            seconds the packets were demuxed for; decoding keeps only frames inside it.
        issues (list[str]): what was lost when demuxing with ``allow_partial=True`` (empty when
            the input was whole); decoding carries it over to the frames.
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("Packets are made by spdl.io.Demuxer / spdl.io.demux_*, not directly")

    def __cinit__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_PACKETS, 1)

    def __dealloc__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_PACKETS, -1)
        cdef Py_ssize_t i
        if self.pkts != NULL:
            for i in range(self.n):
                avc.av_packet_free(&self.pkts[i])
            free(self.pkts)
            self.pkts = NULL
        if self.codecpar != NULL:
            avc.avcodec_parameters_free(&self.codecpar)

    cdef int push(self, avc.AVPacket *pkt) noexcept nogil:
        """Take over ``pkt``'s reference (``pkt`` is left blank). Returns 0 or AVERROR."""
        cdef avc.AVPacket **grown
        cdef avc.AVPacket *mine
        if self.n == self.cap:
            grown = <avc.AVPacket **>realloc(self.pkts, (self.cap * 2 + 16) * sizeof(void *))
            if grown == NULL:
                return avu.AVERROR(ENOMEM)
            self.pkts = grown
            self.cap = self.cap * 2 + 16
        mine = avc.av_packet_alloc()
        if mine == NULL:
            return avu.AVERROR(ENOMEM)
        avc.av_packet_move_ref(mine, pkt)
        self.pkts[self.n] = mine
        self.n += 1
        return 0

    def __len__(self):
        return self.n

    @property
    def media_type(self):
        """``"video"``, ``"audio"`` or ``"image"``."""
        return _KIND_NAMES[self.kind]

    @property
    def codec(self):
        """Name of the codec (``"h264"``, ``"mjpeg"``, ``"aac"``...)."""
        return avc.avcodec_get_name(self.codecpar.codec_id).decode()

    @property
    def time_base(self):
        """Unit of the packet timestamps, in seconds (Fraction)."""
        return Fraction(self.time_base.num, self.time_base.den)

    @property
    def pts(self):
        """Presentation timestamps of the packets in decode order, in ``time_base`` units.

        ``None`` where the container has none.
        """
        cdef Py_ssize_t i
        return [
            None if self.pkts[i].pts == avu.AV_NOPTS_VALUE else self.pkts[i].pts
            for i in range(self.n)
        ]

    @property
    def keyframes(self):
        """Whether each packet (decode order) is a keyframe."""
        cdef Py_ssize_t i
        return [bool(self.pkts[i].flags & avc.AV_PKT_FLAG_KEY) for i in range(self.n)]

    def get_timestamps(self):
        """Presentation times (seconds, float, ascending) of the frames inside the window."""
        cdef Py_ssize_t i
        cdef avc.AVPacket *p
        times = []
        for i in range(self.n):
            p = self.pkts[i]
            if p.pts == avu.AV_NOPTS_VALUE or p.flags & avc.AV_PKT_FLAG_DISCARD:
                continue
            if in_window(&self.window, p.pts, self.time_base):
                times.append(p.pts * <double>self.time_base.num / self.time_base.den)
        return sorted(times)

    def __reduce__(self):
        return (_rebuild_packets, (type(self), self.__getstate__()))

    def __getstate__(self):
        cdef Py_ssize_t i, total = 0, off = 0
        cdef avc.AVPacket *p
        for i in range(self.n):
            total += self.pkts[i].size
        data = PyBytes_FromStringAndSize(NULL, total)
        cdef char *dst = PyBytes_AS_STRING(data)
        table = array("q")
        for i in range(self.n):
            p = self.pkts[i]
            if p.size:
                memcpy(dst + off, p.data, p.size)
            off += p.size
            table.extend((p.pts, p.dts, p.duration, p.flags, p.size))
        return {
            "codecpar": _codecpar_state(self.codecpar),
            "time_base": (self.time_base.num, self.time_base.den),
            "frame_rate": (self.frame_rate.num, self.frame_rate.den),
            "kind": self.kind,
            "src": self.src,
            "timestamp": self.timestamp,
            "issues": self.issues,
            "table": table.tobytes(),
            "data": data,
        }

    def __repr__(self):
        return (
            f"{type(self).__name__}(src={self.src}, codec={self.codec!r}, "
            f"num_packets={self.n}, timestamp={self.timestamp})"
        )


cdef class VideoPackets(Packets):
    """Encoded video packets (decode order). ``spdl.io.decode_packets`` turns them into frames."""

    @property
    def width(self):
        return self.codecpar.width

    @property
    def height(self):
        return self.codecpar.height

    @property
    def pix_fmt(self):
        """The coded pixel format (``"yuv420p"``...), or None if unknown."""
        cdef const char *name = avu.av_get_pix_fmt_name(<avu.AVPixelFormat>self.codecpar.format)
        return name.decode() if name != NULL else None

    @property
    def frame_rate(self):
        """The stream's frame rate as FFmpeg guesses it (Fraction, frames per second)."""
        if self.frame_rate.den == 0:
            return None
        return Fraction(self.frame_rate.num, self.frame_rate.den)

    @property
    def num_frames(self):
        """Number of frames in the window (shown frames; packets the container discards excluded).

        Packets without a presentation timestamp count as frames in the window.
        """
        cdef Py_ssize_t i, n = 0
        cdef avc.AVPacket *p
        for i in range(self.n):
            p = self.pkts[i]
            if p.flags & avc.AV_PKT_FLAG_DISCARD:
                continue
            if p.pts == avu.AV_NOPTS_VALUE or in_window(&self.window, p.pts, self.time_base):
                n += 1
        return n


cdef class ImagePackets(Packets):
    """The encoded first frame of an image (or of a video, or an animated image)."""

    @property
    def width(self):
        return self.codecpar.width

    @property
    def height(self):
        return self.codecpar.height

    @property
    def pix_fmt(self):
        cdef const char *name = avu.av_get_pix_fmt_name(<avu.AVPixelFormat>self.codecpar.format)
        return name.decode() if name != NULL else None


cdef class AudioPackets(Packets):
    """Encoded audio packets. ``spdl.io.decode_packets`` turns them into frames."""

    @property
    def sample_rate(self):
        return self.codecpar.sample_rate

    @property
    def num_channels(self):
        return self.codecpar.ch_layout.nb_channels

    @property
    def sample_fmt(self):
        cdef const char *name = avu.av_get_sample_fmt_name(
            <avu.AVSampleFormat>self.codecpar.format)
        return name.decode() if name != NULL else None


cdef Packets new_packets(int kind, const avc.AVCodecParameters *par, avu.AVRational time_base,
                         avu.AVRational frame_rate, str src, object timestamp):
    cdef Packets p
    if kind == KIND_VIDEO:
        p = VideoPackets.__new__(VideoPackets)
    elif kind == KIND_AUDIO:
        p = AudioPackets.__new__(AudioPackets)
    else:
        p = ImagePackets.__new__(ImagePackets)
    p.kind = kind
    p.codecpar = avc.avcodec_parameters_alloc()
    if p.codecpar == NULL or avc.avcodec_parameters_copy(p.codecpar, par) < 0:
        raise MemoryError()
    p.time_base = time_base
    p.frame_rate = frame_rate
    p.src = src
    p.issues = []
    p.timestamp = _check_timestamp(timestamp)
    p.window = make_window(p.timestamp)
    return p


def _window(timestamp):
    """Normalize a ``(start, end)`` window (for the Python layer): Fractions, end may be None."""
    return _check_timestamp(timestamp)


# --- pickling -------------------------------------------------------------------------------

_CODECPAR_INTS = (
    "codec_type", "codec_id", "codec_tag", "format", "bit_rate", "bits_per_coded_sample",
    "bits_per_raw_sample", "profile", "level", "width", "height", "field_order", "color_range",
    "color_primaries", "color_trc", "color_space", "chroma_location", "video_delay",
    "sample_rate", "block_align", "frame_size", "initial_padding", "trailing_padding",
    "seek_preroll",
)


cdef dict _codecpar_state(const avc.AVCodecParameters *par):
    cdef char layout[256]
    state = {
        "codec_type": par.codec_type, "codec_id": par.codec_id, "codec_tag": par.codec_tag,
        "format": par.format, "bit_rate": par.bit_rate,
        "bits_per_coded_sample": par.bits_per_coded_sample,
        "bits_per_raw_sample": par.bits_per_raw_sample, "profile": par.profile,
        "level": par.level, "width": par.width, "height": par.height,
        "field_order": par.field_order, "color_range": par.color_range,
        "color_primaries": par.color_primaries, "color_trc": par.color_trc,
        "color_space": par.color_space, "chroma_location": par.chroma_location,
        "video_delay": par.video_delay, "sample_rate": par.sample_rate,
        "block_align": par.block_align, "frame_size": par.frame_size,
        "initial_padding": par.initial_padding, "trailing_padding": par.trailing_padding,
        "seek_preroll": par.seek_preroll,
        "sample_aspect_ratio": (par.sample_aspect_ratio.num, par.sample_aspect_ratio.den),
        "extradata": (
            PyBytes_FromStringAndSize(<char *>par.extradata, par.extradata_size)
            if par.extradata != NULL else b""
        ),
        "nb_channels": par.ch_layout.nb_channels,
        "ch_layout": None,
    }
    if par.ch_layout.nb_channels and par.ch_layout.order != avu.AV_CHANNEL_ORDER_UNSPEC:
        if avu.av_channel_layout_describe(&par.ch_layout, layout, sizeof(layout)) > 0:
            state["ch_layout"] = layout.decode()
    return state


cdef int _restore_codecpar(avc.AVCodecParameters *par, dict s) except -1:
    par.codec_type = s["codec_type"]
    par.codec_id = s["codec_id"]
    par.codec_tag = s["codec_tag"]
    par.format = s["format"]
    par.bit_rate = s["bit_rate"]
    par.bits_per_coded_sample = s["bits_per_coded_sample"]
    par.bits_per_raw_sample = s["bits_per_raw_sample"]
    par.profile = s["profile"]
    par.level = s["level"]
    par.width = s["width"]
    par.height = s["height"]
    par.field_order = s["field_order"]
    par.color_range = s["color_range"]
    par.color_primaries = s["color_primaries"]
    par.color_trc = s["color_trc"]
    par.color_space = s["color_space"]
    par.chroma_location = s["chroma_location"]
    par.video_delay = s["video_delay"]
    par.sample_rate = s["sample_rate"]
    par.block_align = s["block_align"]
    par.frame_size = s["frame_size"]
    par.initial_padding = s["initial_padding"]
    par.trailing_padding = s["trailing_padding"]
    par.seek_preroll = s["seek_preroll"]
    sar = s["sample_aspect_ratio"]
    par.sample_aspect_ratio = avu.av_make_q(sar[0], sar[1])
    cdef bytes extra = s["extradata"]
    if extra:
        par.extradata = <uint8_t *>avu.av_mallocz(len(extra) + avc.AV_INPUT_BUFFER_PADDING_SIZE)
        if par.extradata == NULL:
            raise MemoryError()
        memcpy(par.extradata, <char *>extra, len(extra))
        par.extradata_size = len(extra)
    if s["nb_channels"]:
        if s["ch_layout"] is None or avu.av_channel_layout_from_string(
                &par.ch_layout, s["ch_layout"].encode()) < 0:
            avu.av_channel_layout_default(&par.ch_layout, s["nb_channels"])
    return 0


def _rebuild_packets(cls, dict state):
    cdef Packets p = cls.__new__(cls)
    cdef avc.AVPacket *pkt
    cdef const char *data = state["data"]
    cdef Py_ssize_t off = 0, i, count
    p.kind = state["kind"]
    p.codecpar = avc.avcodec_parameters_alloc()
    if p.codecpar == NULL:
        raise MemoryError()
    _restore_codecpar(p.codecpar, state["codecpar"])
    tb, fr = state["time_base"], state["frame_rate"]
    p.time_base = avu.av_make_q(tb[0], tb[1])
    p.frame_rate = avu.av_make_q(fr[0], fr[1])
    p.src = state["src"]
    p.issues = list(state["issues"])
    p.timestamp = state["timestamp"]
    p.window = make_window(p.timestamp)
    table = array("q")
    table.frombytes(state["table"])
    count = len(table) // 5
    pkt = avc.av_packet_alloc()
    if pkt == NULL:
        raise MemoryError()
    try:
        for i in range(count):
            size = table[5 * i + 4]
            if avc.av_new_packet(pkt, size) < 0:
                raise MemoryError()
            if size:
                memcpy(pkt.data, data + off, size)
            off += size
            pkt.pts = table[5 * i]
            pkt.dts = table[5 * i + 1]
            pkt.duration = table[5 * i + 2]
            pkt.flags = table[5 * i + 3]
            if p.push(pkt) < 0:
                raise MemoryError()
    finally:
        avc.av_packet_free(&pkt)
    return p
