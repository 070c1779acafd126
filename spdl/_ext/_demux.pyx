"""Demuxer: reads packets of one stream out of a container, for a time window or in chunks.

The read loop runs with the GIL released; FFmpeg's interrupt callback and a check per packet
honour the call's ``timeout`` and :meth:`Demuxer.cancel`.
"""

from libc.stdint cimport int64_t

cimport avcodec as avc
cimport avformat as avfmt
cimport avutil as avu
from spdl._ext._budget cimport (
    BUDGET_OK, budget_arm, budget_check, budget_reason, enter_exclusive, leave_exclusive,
    spdl_atomic_store,
)
from spdl._ext._error cimport clear_ffmpeg_log, make_media_error
from spdl._ext._packets cimport (
    KIND_AUDIO, KIND_IMAGE, KIND_VIDEO, Packets, Window, new_packets,
)
from spdl._ext._source cimport Input, open_input

import warnings

from spdl._ext._decode import PartialDecodeWarning
from spdl._ext._error import TruncatedMediaError

# Audio decoders with overlapped transforms (AAC, Opus, MP3's bit reservoir) need the packets just
# before a window to reproduce its first samples exactly; demux this much earlier (seconds).
cdef double AUDIO_PREROLL = 0.5

_KIND = {"video": KIND_VIDEO, "audio": KIND_AUDIO, "image": KIND_IMAGE}


cdef class Demuxer:
    """Reads the packets of a media source.

    Use as a context manager, or call :meth:`close`. One thread at a time.

    Args:
        src: a path (``str`` / ``os.PathLike``), ``bytes``, ``bytearray``, ``memoryview`` or a 1-D
            uint8 NumPy array; in-memory sources are read in place and kept alive meanwhile.
        format: force a demuxer by FFmpeg name (``"mp4"``, ``"rawvideo"``...); None probes.
        format_options: demuxer options (``{"framerate": "30"}``...).
        timeout: seconds allowed to open and probe the source; None waits as long as it takes.

    Raises:
        FileNotFoundError: ``src`` is a path that does not exist.
        TypeError, ValueError: ``src`` is not a supported kind of source.
        DemuxError: the source is empty, not media, or broken.
        MediaTimeoutError: opening took longer than ``timeout``.
    """

    cdef Input inp
    cdef bint read_any
    cdef int busy
    cdef object __weakref__

    def __init__(self, src, *, format=None, format_options=None, timeout=None):
        self.inp = open_input(src, format, format_options, timeout)

    @property
    def src(self):
        """The source, as messages name it."""
        return self.inp.name if self.inp is not None else None

    cdef Input _input(self):
        if self.inp is None:
            raise ValueError("The Demuxer is closed")
        return self.inp

    def close(self):
        """Close the source now (also done when the Demuxer is garbage collected)."""
        self.inp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def cancel(self):
        """Stop the demuxing in progress (from any thread) and every later call.

        The interrupted call raises :class:`spdl.io.MediaTimeoutError`.
        """
        if self.inp is not None:
            spdl_atomic_store(&self.inp.budget.cancelled, 1)

    def has_stream(self, media_type):
        """Whether the source has a ``"video"`` or ``"audio"`` stream."""
        return self._find_stream(_kind(media_type), False) >= 0

    @property
    def duration(self):
        """Duration of the container in seconds (float), or None when unknown."""
        cdef avfmt.AVFormatContext *ctx = self._input().fmt_ctx
        if ctx.duration == avu.AV_NOPTS_VALUE:
            return None
        return ctx.duration / avu.AV_TIME_BASE

    cdef int _find_stream(self, int kind, bint required) except? -2:
        cdef Input inp = self._input()
        cdef int media = avu.AVMEDIA_TYPE_AUDIO if kind == KIND_AUDIO else avu.AVMEDIA_TYPE_VIDEO
        cdef int idx = avfmt.av_find_best_stream(inp.fmt_ctx, media, -1, -1, NULL, 0)
        if idx < 0 and required:
            name = "audio" if kind == KIND_AUDIO else "video"
            raise make_media_error(idx, "demux", inp.name, f"No {name} stream in the source")
        return idx

    cdef Packets _new_packets(self, int kind, int idx, object timestamp):
        cdef avfmt.AVStream *st = self.inp.fmt_ctx.streams[idx]
        cdef avu.AVRational fr = avu.av_make_q(0, 1)
        if kind != KIND_AUDIO:
            fr = avfmt.av_guess_frame_rate(self.inp.fmt_ctx, st, NULL)
        return new_packets(kind, st.codecpar, st.time_base, fr, self.inp.name, timestamp)

    cdef int _seek(self, int kind, int idx, Packets out) noexcept nogil:
        """Seek to the keyframe at or before the window start. Returns an AVERROR or 0."""
        cdef avfmt.AVStream *st = self.inp.fmt_ctx.streams[idx]
        cdef int64_t ts = 0
        cdef double preroll
        cdef avu.AVRational tb
        if out.window.has_start and out.window.start > 0:
            if kind == KIND_AUDIO:
                preroll = AUDIO_PREROLL * out.window.start_tb.den
                ts = out.window.start - <int64_t>preroll
                if ts < 0:
                    ts = 0
            else:
                ts = out.window.start
            ts = avu.av_rescale_q_rnd(ts, out.window.start_tb, st.time_base, avu.AV_ROUND_DOWN)
            if st.start_time != avu.AV_NOPTS_VALUE and ts < st.start_time:
                ts = st.start_time
        elif not self.read_any:
            return 0
        elif st.start_time != avu.AV_NOPTS_VALUE:
            ts = st.start_time
        else:
            ts = 0
        return avfmt.av_seek_frame(self.inp.fmt_ctx, idx, ts, avfmt.AVSEEK_FLAG_BACKWARD)

    cdef object _demux(self, int kind, object timestamp, object timeout, bint allow_partial,
                       int max_packets, bint seek):
        """Read packets of the best stream of ``kind``; returns (packets, at_eof)."""
        cdef Input inp = self._input()
        cdef int idx = self._find_stream(kind, True)
        cdef Packets out = self._new_packets(kind, idx, timestamp)
        cdef avfmt.AVStream *st = inp.fmt_ctx.streams[idx]
        cdef avu.AVRational tb = st.time_base
        cdef avc.AVPacket *pkt = avc.av_packet_alloc()
        cdef int ret = 0, seek_ret = 0, corrupt = 0
        cdef int64_t ts, last_end = avu.AV_NOPTS_VALUE, longest = 0
        cdef bint eof = False
        cdef Window w = out.window
        if pkt == NULL:
            raise MemoryError()
        budget_arm(&inp.budget, timeout)
        enter_exclusive(&self.busy)
        try:
            with nogil(SPDL_RELEASE_GIL):
                clear_ffmpeg_log()
                if seek:
                    seek_ret = self._seek(kind, idx, out)
                    self.read_any = True
                while True:
                    ret = budget_check(&inp.budget)
                    if ret < 0:
                        break
                    ret = avfmt.av_read_frame(inp.fmt_ctx, pkt)
                    if ret < 0:
                        if ret == avu.AVERROR_EOF:
                            eof = True
                            ret = 0
                        break
                    if pkt.stream_index != idx:
                        avc.av_packet_unref(pkt)
                        continue
                    if w.has_end:
                        # Every frame shown before `end` is decoded from packets with a decode
                        # time before `end` (dts <= pts), so the first later packet ends the read.
                        ts = pkt.dts if pkt.dts != avu.AV_NOPTS_VALUE else pkt.pts
                        if ts != avu.AV_NOPTS_VALUE and avu.av_compare_ts(
                                ts, tb, w.end, w.end_tb) >= 0:
                            avc.av_packet_unref(pkt)
                            break
                    if pkt.flags & avc.AV_PKT_FLAG_CORRUPT:
                        # An incomplete packet (the file ends inside it): never decoded, so a
                        # partial result holds no half-decoded picture.
                        corrupt += 1
                        avc.av_packet_unref(pkt)
                        continue
                    if pkt.pts != avu.AV_NOPTS_VALUE and pkt.duration > 0:
                        if last_end == avu.AV_NOPTS_VALUE or pkt.pts + pkt.duration > last_end:
                            last_end = pkt.pts + pkt.duration
                        if pkt.duration > longest:
                            longest = pkt.duration
                    ret = out.push(pkt)
                    if ret < 0:
                        break
                    if kind == KIND_IMAGE or (max_packets > 0 and out.n >= max_packets):
                        break
        finally:
            leave_exclusive(&self.busy)
            avc.av_packet_free(&pkt)
        if ret < 0:
            if inp.budget.state != BUDGET_OK:
                raise make_media_error(ret, "demux", inp.name,
                                       f"{budget_reason(&inp.budget)} while demuxing")
            if not (allow_partial and out.n > 0):
                raise make_media_error(ret, "demux", inp.name)
            out.issues.append(f"reading stopped early: {make_media_error(ret, 'demux', inp.name)}")
        if corrupt and allow_partial:
            issue = f"{corrupt} incomplete packet(s) dropped (truncated or corrupt input)"
            out.issues.append(issue)
            warnings.warn(f"{inp.name}: {issue}", PartialDecodeWarning, stacklevel=3)
        elif corrupt:
            raise TruncatedMediaError(
                f"{corrupt} packet(s) are incomplete (the source is truncated or corrupt): "
                f"{inp.name} [step: demux]; pass allow_partial=True to decode what there is",
                source=inp.name, step="demux")
        if (eof and timestamp is None and seek and not allow_partial and st.nb_frames > 0
                and out.n < st.nb_frames and kind != KIND_IMAGE):
            raise TruncatedMediaError(
                f"The container lists {st.nb_frames} packets but only {out.n} could be read "
                f"(truncated): {inp.name} [step: demux]; pass allow_partial=True to decode them",
                source=inp.name, step="demux")
        if (eof and timestamp is None and seek and not allow_partial and st.nb_frames <= 0
                and kind != KIND_IMAGE and _ends_early(inp.fmt_ctx, st, last_end, longest)):
            raise TruncatedMediaError(
                f"The stream ends at {last_end * tb.num / <double>tb.den:.3f} s but the "
                f"container says {(st.start_time if st.start_time != avu.AV_NOPTS_VALUE else 0) * tb.num / <double>tb.den + st.duration * tb.num / <double>tb.den:.3f} s "
                f"(truncated): {inp.name} [step: demux]; pass allow_partial=True to decode it",
                source=inp.name, step="demux")
        if out.n == 0 and seek:
            where = "" if timestamp is None else f" in the window {out.timestamp}"
            raise make_media_error(0, "demux", inp.name, f"No packet{where}")
        return out, eof

    def demux_video(self, timestamp=None, *, timeout=None, allow_partial=False):
        """Packets of the best video stream.

        Args:
            timestamp: ``(start, end)`` in seconds (float, int or Fraction; end may be None):
                the packets needed to decode every frame whose presentation time is in
                ``[start, end)``. Decoding drops the frames outside. None: the whole stream.
            timeout: seconds this call may take; past it, :class:`MediaTimeoutError`.
            allow_partial: accept truncated or corrupt input (read what there is) instead of
                raising :class:`TruncatedMediaError`.

        Returns:
            VideoPackets
        """
        return self._demux(KIND_VIDEO, timestamp, timeout, allow_partial, 0, True)[0]

    def demux_audio(self, timestamp=None, *, timeout=None, allow_partial=False):
        """Packets of the best audio stream; like :meth:`demux_video`. Returns AudioPackets."""
        return self._demux(KIND_AUDIO, timestamp, timeout, allow_partial, 0, True)[0]

    def demux_image(self, *, timeout=None, allow_partial=False):
        """The first packet of the best video stream: an image, or the first frame of an
        animation or video. Returns ImagePackets."""
        return self._demux(KIND_IMAGE, None, timeout, allow_partial, 0, True)[0]

    def streaming_demux(self, media_type="video", *, num_packets=64, timestamp=None,
                        timeout=None, allow_partial=False):
        """Yield the stream's packets in chunks of at most ``num_packets``, in bounded memory.

        Args:
            media_type: ``"video"`` or ``"audio"``.
            num_packets: packets per chunk (positive int).
            timestamp: optional ``(start, end)`` window in seconds, as in :meth:`demux_video`.
            timeout: seconds allowed per chunk.
            allow_partial: as in :meth:`demux_video`.

        Yields:
            VideoPackets or AudioPackets, each with the window, ready for a ``Decoder``.
        """
        kind = _kind(media_type)
        if kind == KIND_IMAGE:
            raise ValueError("streaming_demux reads a video or audio stream")
        if not isinstance(num_packets, int) or num_packets <= 0:
            raise ValueError(f"num_packets must be a positive int, not {num_packets!r}")
        first = True
        while True:
            packets, eof = self._demux(kind, timestamp, timeout, allow_partial, num_packets,
                                       first)
            first = False
            if len(packets):
                yield packets
            if eof or len(packets) < num_packets:
                return

    def __repr__(self):
        return f"Demuxer(src={self.src})"


cdef bint _ends_early(avfmt.AVFormatContext *ctx, avfmt.AVStream *st, int64_t last_end,
                      int64_t longest):
    """Whether the packets stop well before the duration the container's header states.

    Only where the duration comes from the header (not estimated from the bit rate, which a
    truncated file shortens as well). The slack is two packets and 1% of the duration.
    """
    cdef int64_t expected
    if ctx.duration_estimation_method != avfmt.AVFMT_DURATION_FROM_STREAM:
        return False
    if st.duration == avu.AV_NOPTS_VALUE or st.duration <= 0 or last_end == avu.AV_NOPTS_VALUE:
        return False
    expected = st.duration + (st.start_time if st.start_time != avu.AV_NOPTS_VALUE else 0)
    return last_end < expected - 2 * longest - st.duration // 100


cdef int _kind(object media_type) except -1:
    try:
        return _KIND[media_type]
    except (KeyError, TypeError):
        raise ValueError(f"media_type must be 'video' or 'audio', not {media_type!r}") from None
