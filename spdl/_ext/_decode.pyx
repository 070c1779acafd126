"""Decoding: packets to frames, filtered on the way, in one native loop without the GIL.

``decode_packets`` sends every packet, receives every frame, drops what lies outside the packets'
time window, pushes the rest through the filter graph and collects the graph's output, all inside
one ``nogil`` block. Direct mode (``decode_to_buffer``, ``load_video``) writes each frame into one
output buffer instead; when the chain only converts the pixel format, it runs the scaler the graph
would insert, straight into that buffer. ``Decoder`` keeps that state between calls to decode long
media in chunks, in bounded memory. ``sample_decode_video`` decodes only the GOPs that hold the wanted frames.

The loop checks the call's deadline and the cancel flag between packets, the decode size limits on
every frame, and (unless ``allow_partial``) refuses corrupt frames and failing packets.
"""

import warnings

from libc.errno cimport EAGAIN, EINVAL, ENOMEM
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, strcmp, strncmp

from spdl._ext._live cimport live_add, live_register
cimport avcodec as avc
cimport avfilter as avf
cimport avutil as avu
cimport swscale as sws
from spdl._ext._budget cimport (
    BUDGET_OK, Budget, budget_arm, budget_check, budget_reason, enter_exclusive,
    leave_exclusive, spdl_atomic_store,
)
from spdl._ext._buffer cimport CPUBuffer, adopt_cpu_buffer, take_large
from spdl._ext._convert cimport video_layout
from spdl._ext._error cimport clear_ffmpeg_log, make_media_error
from spdl._ext._filter cimport FilterGraph, configure_simple, push_pull
from spdl._ext._frames cimport Frames, new_frames
from spdl._ext._packets cimport (
    KIND_AUDIO, KIND_IMAGE, KIND_VIDEO, Packets, Window, in_window,
)
from spdl._ext._vf_scale cimport set_frame_colors

from spdl._ext._error import ConvertError, MediaTooLargeError, TruncatedMediaError

# Why a loop stopped, besides an AVERROR (kept in DecodeCore.failure).
cdef enum Failure:
    FAIL_NONE = 0
    FAIL_DECODE = 1
    FAIL_FILTER = 2
    FAIL_CORRUPT = 3
    FAIL_TOO_MANY_PIXELS = 4
    FAIL_TOO_MANY_BYTES = 5
    FAIL_MISMATCH = 6

# How direct mode gets a frame into the output buffer (DecodeCore.conv).
cdef enum Conversion:
    CONV_UNKNOWN = 0  # the graph is not built yet
    CONV_GRAPH = 1    # through the filter graph, then a copy
    CONV_SCALER = 2   # the chain only converts the pixel format: swscale writes the output

# Room past the last frame of a direct-mode buffer: swscale's SIMD row writers may run a few
# pixels past a row's end, as they do into the padding of FFmpeg's own frames.
cdef enum:
    DIRECT_SLACK = 256

# Decode size limits: what one call may produce unless told otherwise (set_decode_limits).
_LIMITS = {"max_pixels": 8192 * 8192, "max_bytes": 256 * 1024 * 1024}


def set_decode_limits(*, max_pixels=None, max_bytes=None):
    """Set the default decode size limits (process-wide) that stop decompression bombs.

    Args:
        max_pixels (int): most pixels (width x height) one decoded or filtered frame may have.
            Default 67,108,864 (8192 x 8192).
        max_bytes (int): most bytes of frames one decoding call (``decode_packets``, ``load_*``,
            one ``Decoder.decode``) may produce. Default 268,435,456 (256 MiB).

    Either may be ``0`` for "no limit". Per call, ``decode_config(max_pixels=..., max_bytes=...)``
    overrides these.
    """
    if max_pixels is not None:
        _LIMITS["max_pixels"] = _check_limit(max_pixels, "max_pixels")
    if max_bytes is not None:
        _LIMITS["max_bytes"] = _check_limit(max_bytes, "max_bytes")


def get_decode_limits():
    """The default decode size limits: ``{"max_pixels": int, "max_bytes": int}`` (0: none)."""
    return dict(_LIMITS)


cdef int64_t _check_limit(object value, str name) except -1:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (0: no limit), not {value}")
    return value


cdef int64_t _frame_bytes(const avu.AVFrame *f, int kind) noexcept nogil:
    cdef int64_t n
    if kind == KIND_AUDIO:
        return <int64_t>f.nb_samples * f.ch_layout.nb_channels * avu.av_get_bytes_per_sample(
            <avu.AVSampleFormat>f.format)
    n = avu.av_image_get_buffer_size(<avu.AVPixelFormat>f.format, f.width, f.height, 1)
    return n if n > 0 else <int64_t>f.width * f.height * 4


cdef int _LIVE_DECODECORE = live_register("DecodeCore")


cdef class DecodeCore:
    """A decoder, its filter graph and the rules of one decode (window, limits, strictness)."""

    cdef avc.AVCodecContext *codec_ctx
    cdef FilterGraph graph
    cdef bytes desc
    cdef const char *c_desc
    cdef avu.AVFrame *frame
    cdef avu.AVFrame *tmp
    cdef int kind
    cdef Window window
    cdef avu.AVRational pkt_tb
    cdef avu.AVRational frame_rate
    cdef avu.AVRational out_tb
    cdef Budget budget
    cdef int64_t max_pixels
    cdef int64_t max_bytes
    cdef int64_t bytes_out
    cdef bint allow_partial
    cdef int64_t lost_packets
    cdef int64_t corrupt_frames
    cdef int64_t next_pts
    cdef bint done_image
    cdef bint flushed
    cdef int failure
    cdef int busy
    cdef int64_t *wanted
    cdef Py_ssize_t n_wanted
    cdef str src
    # Direct mode (load_video): each output frame is copied at once into one growing buffer,
    # while it is still in cache, and its memory goes back to FFmpeg's pool.
    cdef bint direct
    cdef uint8_t *dst
    cdef size_t dst_cap
    cdef size_t dst_len
    cdef int64_t dst_frames
    cdef int64_t expected_frames
    cdef size_t frame_size
    cdef avu.AVFrame *first
    # Direct mode's straight conversion (CONV_SCALER): when the chain is only a pixel format
    # conversion (a format filter, and the scaler FFmpeg inserts for it), the core runs that
    # scaler itself with the settings FFmpeg gives it, writing straight into the output buffer:
    # the same bytes, without the filter graph's frame and the copy out of it.
    cdef int conv
    cdef sws.SwsContext *scaler
    cdef int scaler_range
    cdef int conv_fmt
    cdef int src_fmt
    cdef int src_w
    cdef int src_h

    def __cinit__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_DECODECORE, 1)

    def __dealloc__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_DECODECORE, -1)
        avc.avcodec_free_context(&self.codec_ctx)
        avu.av_frame_free(&self.frame)
        avu.av_frame_free(&self.tmp)
        avu.av_frame_free(&self.first)
        free(self.wanted)
        free(self.dst)
        sws.sws_freeContext(self.scaler)

    cdef int _emit(self, avu.AVFrame *f, Frames out) noexcept nogil:
        """Limits, then the filter graph (built on the first frame); `f` is consumed."""
        cdef Py_ssize_t before = out.n, i
        cdef int ret
        if f.width and self.max_pixels and <int64_t>f.width * f.height > self.max_pixels:
            self.failure = FAIL_TOO_MANY_PIXELS
            return avu.AVERROR(ENOMEM)
        if self.kind == KIND_AUDIO:
            # The command line stamps audio in samples (1/sample_rate); filters see the same.
            f.pts = avu.av_rescale_q(f.pts, self.pkt_tb, avu.av_make_q(1, f.sample_rate)) \
                if f.pts != avu.AV_NOPTS_VALUE else f.pts
        if self.c_desc == NULL:
            ret = out.push(f)
        else:
            if self.graph.graph == NULL:
                ret = configure_simple(
                    self.graph, self.c_desc, f, self.kind == KIND_AUDIO,
                    avu.av_make_q(1, f.sample_rate) if self.kind == KIND_AUDIO else self.pkt_tb,
                    self.frame_rate)
                if ret < 0:
                    self.failure = FAIL_FILTER
                    avu.av_frame_unref(f)
                    return ret
                self.out_tb = avf_sink_time_base(self.graph)
                out.time_base = self.out_tb
                self.conv = CONV_GRAPH
                if self.kind != KIND_AUDIO and _plain_conversion(self.graph, f):
                    self.conv = CONV_SCALER
                    self.conv_fmt = avf.av_buffersink_get_format(self.graph.sink)
                    self.src_fmt = f.format
                    self.src_w = f.width
                    self.src_h = f.height
                    self.scaler_range = avu.AVCOL_RANGE_UNSPECIFIED
            if self.direct and self.conv == CONV_SCALER:
                ret = self._convert_store(f)
                avu.av_frame_unref(f)
                return ret
            if f.pts != avu.AV_NOPTS_VALUE:
                if self.kind == KIND_AUDIO:
                    self.next_pts = f.pts + f.nb_samples
                elif f.pkt_duration > 0:
                    self.next_pts = f.pts + f.pkt_duration
                elif self.frame_rate.num > 0:
                    self.next_pts = f.pts + avu.av_rescale_q(
                        1, avu.av_make_q(self.frame_rate.den, self.frame_rate.num), self.pkt_tb)
                else:
                    self.next_pts = f.pts + 1
            ret = push_pull(self.graph.src, self.graph.sink, f, 0, self.tmp, out)
            if ret < 0:
                self.failure = FAIL_FILTER
                avu.av_frame_unref(f)
                return ret
        if ret < 0:
            return ret
        return self._absorb(out, before)

    cdef int _absorb(self, Frames out, Py_ssize_t before) noexcept nogil:
        """Limits on the frames out[before:]; in direct mode, copy them out and free them."""
        cdef Py_ssize_t i
        cdef int ret
        for i in range(before, out.n):
            if out.frames[i].width and self.max_pixels and \
                    <int64_t>out.frames[i].width * out.frames[i].height > self.max_pixels:
                self.failure = FAIL_TOO_MANY_PIXELS
                return avu.AVERROR(ENOMEM)
            self.bytes_out += _frame_bytes(out.frames[i], self.kind)
        if self.max_bytes and self.bytes_out > self.max_bytes:
            self.failure = FAIL_TOO_MANY_BYTES
            return avu.AVERROR(ENOMEM)
        if self.direct:
            for i in range(before, out.n):
                ret = self._store(out.frames[i])
                if ret < 0:
                    return ret
            for i in range(before, out.n):
                avu.av_frame_free(&out.frames[i])
            out.n = before
        return 0

    cdef int _reserve(self, int fmt, int width, int height) noexcept nogil:
        """Room in the direct-mode buffer for one more frame of this shape (AVERROR or 0)."""
        cdef int size
        cdef size_t cap, need, got = 0
        cdef uint8_t *grown
        if self.first == NULL:
            size = avu.av_image_get_buffer_size(<avu.AVPixelFormat>fmt, width, height, 1)
            if size < 0:
                return size
            self.first = avu.av_frame_alloc()
            if self.first == NULL:
                return avu.AVERROR(ENOMEM)
            self.first.format = fmt
            self.first.width = width
            self.first.height = height
            self.frame_size = size
        elif fmt != self.first.format or width != self.first.width or height != self.first.height:
            self.failure = FAIL_MISMATCH
            return avu.AVERROR(EINVAL)
        need = self.dst_len + self.frame_size + DIRECT_SLACK
        if need <= self.dst_cap:
            return 0
        if self.dst_cap == 0:
            cap = self.frame_size * (self.expected_frames if self.expected_frames > 0 else 1) \
                + DIRECT_SLACK
        else:
            cap = self.dst_cap + self.dst_cap // 2
        if cap < need:
            cap = need
        # A block from the pool of large blocks (its pages already mapped; huge pages when
        # fresh: the first touch of a clip's output otherwise faults once per 4 KiB, a third of
        # the CPU time at 1080p). Growing moves to a new block: always aligned as FFmpeg aligns
        # its frames, which swscale's writers may rely on.
        grown = <uint8_t *>take_large(cap, &got)
        if grown == NULL:
            return avu.AVERROR(ENOMEM)
        if self.dst != NULL:
            memcpy(grown, self.dst, self.dst_len)
            free(self.dst)
        self.dst = grown
        self.dst_cap = got
        return 0

    cdef int _store(self, const avu.AVFrame *f) noexcept nogil:
        """Append one frame's bytes (convert_frames' layout) to the direct-mode buffer."""
        cdef int ret = self._reserve(f.format, f.width, f.height)
        if ret < 0:
            return ret
        ret = avu.av_image_copy_to_buffer(self.dst + self.dst_len, <int>self.frame_size,
                                          <const uint8_t *const *>f.data, f.linesize,
                                          <avu.AVPixelFormat>f.format, f.width, f.height, 1)
        if ret < 0:
            return ret
        self.dst_len += self.frame_size
        self.dst_frames += 1
        return 0

    cdef int _convert_store(self, avu.AVFrame *f) noexcept nogil:
        """CONV_SCALER: convert `f` straight into the direct-mode buffer, as the graph's scaler
        would (libavfilter's vf_scale: its options, its colour handling per frame)."""
        cdef uint8_t *planes[4]
        cdef int lines[4]
        cdef int ret
        if f.format != self.src_fmt or f.width != self.src_w or f.height != self.src_h:
            self.failure = FAIL_MISMATCH  # the graph's output would change shape too
            return avu.AVERROR(EINVAL)
        ret = self._reserve(self.conv_fmt, f.width, f.height)
        if ret < 0:
            return ret
        self.bytes_out += <int64_t>self.frame_size
        if self.max_bytes and self.bytes_out > self.max_bytes:
            self.failure = FAIL_TOO_MANY_BYTES
            return avu.AVERROR(ENOMEM)
        # vf_scale remakes its scaler when a frame brings a colour range it was not made for.
        if f.color_range != avu.AVCOL_RANGE_UNSPECIFIED and f.color_range != self.scaler_range:
            self.scaler_range = f.color_range
            sws.sws_freeContext(self.scaler)
            self.scaler = NULL
        if self.scaler == NULL:
            self.scaler = _make_scaler(f.width, f.height, f.format, self.conv_fmt,
                                       self.scaler_range)
            if self.scaler == NULL:
                self.failure = FAIL_FILTER
                return avu.AVERROR(ENOMEM)
        set_frame_colors(self.scaler, f)  # per frame, as the filter does it
        ret = avu.av_image_fill_arrays(planes, lines, self.dst + self.dst_len,
                                       <avu.AVPixelFormat>self.conv_fmt, f.width, f.height, 1)
        if ret < 0:
            self.failure = FAIL_FILTER
            return ret
        ret = sws.sws_scale(self.scaler, <const uint8_t *const *>f.data, f.linesize, 0,
                            f.height, planes, lines)
        if ret < 0:
            self.failure = FAIL_FILTER
            return ret
        self.dst_len += self.frame_size
        self.dst_frames += 1
        return 0

    cdef int _accept(self, avu.AVFrame *f, Frames out) noexcept nogil:
        """One decoded frame: strictness, window, sampling, image; then _emit. `f` is consumed."""
        cdef int64_t pts, first, start_s, end_s, lo, hi
        cdef int i, bps, planes
        if f.decode_error_flags or f.flags & avu.AV_FRAME_FLAG_CORRUPT:
            self.corrupt_frames += 1
            avu.av_frame_unref(f)
            if self.allow_partial:
                return 0
            self.failure = FAIL_CORRUPT
            return avu.AVERROR_INVALIDDATA
        if self.kind == KIND_IMAGE and self.done_image:
            avu.av_frame_unref(f)
            return 0
        pts = f.best_effort_timestamp
        f.pts = pts
        if self.wanted != NULL and not _contains(self.wanted, self.n_wanted, pts):
            avu.av_frame_unref(f)
            return 0
        if self.kind == KIND_AUDIO:
            if (self.window.has_start or self.window.has_end) and pts != avu.AV_NOPTS_VALUE:
                # Sample-exact: sample k (at k / rate seconds) is kept iff start <= k/rate < end.
                first = avu.av_rescale_q(pts, self.pkt_tb, avu.av_make_q(1, f.sample_rate))
                lo = 0
                hi = f.nb_samples
                if self.window.has_start:
                    start_s = avu.av_rescale_q_rnd(self.window.start, self.window.start_tb,
                                                   avu.av_make_q(1, f.sample_rate),
                                                   avu.AV_ROUND_UP)
                    if start_s - first > lo:
                        lo = start_s - first
                if self.window.has_end:
                    end_s = avu.av_rescale_q_rnd(self.window.end, self.window.end_tb,
                                                 avu.av_make_q(1, f.sample_rate),
                                                 avu.AV_ROUND_UP)
                    if end_s - first < hi:
                        hi = end_s - first
                if hi <= lo:
                    avu.av_frame_unref(f)
                    return 0
                if lo > 0:
                    bps = avu.av_get_bytes_per_sample(<avu.AVSampleFormat>f.format)
                    if avu.av_sample_fmt_is_planar(<avu.AVSampleFormat>f.format):
                        planes = f.ch_layout.nb_channels
                    else:
                        planes = 1
                        bps *= f.ch_layout.nb_channels
                    for i in range(planes):
                        f.extended_data[i] += lo * bps
                        if i < 8:
                            f.data[i] = f.extended_data[i]
                    f.pts = avu.av_rescale_q(first + lo, avu.av_make_q(1, f.sample_rate),
                                             self.pkt_tb)
                f.nb_samples = <int>(hi - lo)
        elif not in_window(&self.window, pts, self.pkt_tb):
            avu.av_frame_unref(f)
            return 0
        if self.kind == KIND_IMAGE:
            self.done_image = True
        return self._emit(f, out)

    cdef int _drain(self, Frames out) noexcept nogil:
        cdef int ret
        while True:
            ret = avc.avcodec_receive_frame(self.codec_ctx, self.frame)
            if ret == avu.AVERROR(EAGAIN) or ret == avu.AVERROR_EOF:
                return 0
            if ret < 0:
                return ret
            ret = self._accept(self.frame, out)
            if ret < 0:
                return ret

    cdef int run(self, Packets packets, Py_ssize_t first, Py_ssize_t last, bint flush,
                 Frames out) noexcept nogil:
        """Decode packets[first:last]; with `flush`, drain the decoder and the graph too."""
        cdef Py_ssize_t i
        cdef int ret = 0
        for i in range(first, last):
            ret = budget_check(&self.budget)
            if ret < 0:
                return ret
            ret = avc.avcodec_send_packet(self.codec_ctx, packets.pkts[i])
            if ret >= 0:
                ret = self._drain(out)
            if ret < 0:
                if self.failure == FAIL_NONE and self.allow_partial:
                    self.lost_packets += 1
                    continue
                if self.failure == FAIL_NONE:
                    self.failure = FAIL_DECODE
                return ret
            if self.kind == KIND_IMAGE and self.done_image:
                break
        if flush:
            ret = self.flush(out)
        return ret

    cdef int flush(self, Frames out) noexcept nogil:
        cdef int ret
        cdef Py_ssize_t before
        if self.flushed:
            return 0
        self.flushed = True
        ret = avc.avcodec_send_packet(self.codec_ctx, NULL)
        if ret >= 0 or ret == avu.AVERROR_EOF:
            ret = self._drain(out)
        if ret < 0:
            if self.failure == FAIL_NONE:
                if self.allow_partial:
                    self.lost_packets += 1
                    ret = 0
                else:
                    self.failure = FAIL_DECODE
            if ret < 0:
                return ret
        if self.c_desc != NULL and self.graph.graph != NULL:
            before = out.n
            ret = push_pull(self.graph.src, self.graph.sink, NULL, self.next_pts, self.tmp, out)
            if ret < 0:
                self.failure = FAIL_FILTER
                return ret
            return self._absorb(out, before)
        return 0

    cdef object error(self, int ret):
        """The exception for a failed run (call with the GIL)."""
        if self.budget.state != BUDGET_OK:
            return make_media_error(ret, "decode", self.src,
                                    f"{budget_reason(&self.budget)} while decoding")
        if self.failure == FAIL_TOO_MANY_PIXELS:
            return MediaTooLargeError(
                f"A frame is larger than max_pixels={self.max_pixels}: {self.src} "
                "[step: decode]; raise the limit with spdl.io.decode_config(max_pixels=...) or "
                "spdl.io.set_decode_limits()", source=self.src, step="decode")
        if self.failure == FAIL_TOO_MANY_BYTES:
            return MediaTooLargeError(
                f"Decoding produces more than max_bytes={self.max_bytes} bytes: {self.src} "
                "[step: decode]; decode in chunks (spdl.io.Decoder), or raise the limit with "
                "spdl.io.decode_config(max_bytes=...) or spdl.io.set_decode_limits()",
                source=self.src, step="decode")
        if self.failure == FAIL_MISMATCH:
            return ConvertError(
                f"Frames change size or pixel format mid-stream: {self.src} [step: convert]; add "
                "a scale and format filter to filter_desc to make them one shape",
                source=self.src, step="convert")
        if self.failure == FAIL_CORRUPT:
            return TruncatedMediaError(
                f"A frame was decoded from corrupt or missing data: {self.src} [step: decode]; "
                "pass allow_partial=True to drop such frames instead", source=self.src,
                step="decode")
        if self.failure == FAIL_FILTER:
            return make_media_error(ret, "filter_desc" if self.graph.desc_invalid else "filter",
                                    self.src)
        return make_media_error(ret, "decode", self.src)

    cdef int note_issues(self, Frames out, Packets packets=None) except -1:
        if packets is not None:
            out.issues.extend(packets.issues)
        if self.lost_packets:
            out.issues.append(f"{self.lost_packets} packet(s) failed to decode and were skipped")
        if self.corrupt_frames:
            out.issues.append(f"{self.corrupt_frames} corrupt frame(s) were dropped")
        if out.issues:
            warnings.warn(f"Partial decode of {self.src}: {'; '.join(out.issues)}",
                          PartialDecodeWarning, stacklevel=3)
        return 0


class PartialDecodeWarning(UserWarning):
    """Decoding with ``allow_partial=True`` lost data; ``frames.issues`` says what."""


cdef avu.AVRational avf_sink_time_base(FilterGraph g) noexcept nogil:
    return avf.av_buffersink_get_time_base(g.sink)


cdef bint _plain_conversion(FilterGraph g, const avu.AVFrame *f) noexcept nogil:
    """Whether the configured chain only converts ``f``'s pixel format: buffer, format (or null)
    filters and one scaler that FFmpeg inserted itself (``auto_scale_N``, made with the graph's
    ``flags=bicubic``), to an output of the same size whose width and rows (every plane's) are
    multiples of the alignment of FFmpeg's frame pool (libavfilter/framepool.c): packed rows then
    sit where the graph's frame has them, so swscale writes the same bytes."""
    cdef unsigned i
    cdef int scalers = 0, fmt, p
    cdef int lines[4]
    cdef const char *kind
    cdef avf.AVFilterContext *ctx
    cdef const avu.AVPixFmtDescriptor *desc
    cdef size_t align = avu.av_cpu_max_align()
    # _make_scaler repeats vf_scale as FFmpeg 5.x (libavfilter 8, libswscale 6) has it; later
    # versions set their scalers up differently (chroma siting and colour from frame data), so
    # with them the graph does the work.
    if avf.avfilter_version() >> 16 != 8 or sws.swscale_version() >> 16 != 6:
        return False
    for i in range(g.graph.nb_filters):
        ctx = g.graph.filters[i]
        kind = ctx.filter.name
        if strcmp(kind, b"scale") == 0 and strncmp(ctx.name, b"auto_scale_", 11) == 0:
            scalers += 1
        elif strcmp(kind, b"buffer") and strcmp(kind, b"buffersink") and \
                strcmp(kind, b"format") and strcmp(kind, b"null"):
            return False
    if scalers != 1:
        return False
    if avf.av_buffersink_get_w(g.sink) != f.width or avf.av_buffersink_get_h(g.sink) != f.height:
        return False
    fmt = avf.av_buffersink_get_format(g.sink)
    desc = avu.av_pix_fmt_desc_get(<avu.AVPixelFormat>fmt)
    if desc == NULL or desc.flags & (avu.AV_PIX_FMT_FLAG_HWACCEL | avu.AV_PIX_FMT_FLAG_PAL |
                                     avu.AV_PIX_FMT_FLAG_BITSTREAM):
        return False
    # The pool makes rows for the width rounded up to its alignment, then rounds each up again.
    if f.width % <int>align or avu.av_image_fill_linesizes(lines, <avu.AVPixelFormat>fmt,
                                                           f.width) < 0:
        return False
    for p in range(4):
        if lines[p] % <int>align:
            return False
    return True


cdef sws.SwsContext *_make_scaler(int width, int height, int src_fmt, int dst_fmt,
                                  int src_range) noexcept nogil:
    """The scaler FFmpeg 5.x's vf_scale makes for a same-size conversion, option by option (its
    defaults, with the graph's flags=bicubic and one thread); NULL on failure."""
    cdef sws.SwsContext *s = sws.sws_alloc_context()
    if s == NULL:
        return NULL
    avu.av_opt_set_int(s, b"srcw", width, 0)
    avu.av_opt_set_int(s, b"srch", height, 0)
    avu.av_opt_set_int(s, b"src_format", src_fmt, 0)
    avu.av_opt_set_int(s, b"dstw", width, 0)
    avu.av_opt_set_int(s, b"dsth", height, 0)
    avu.av_opt_set_int(s, b"dst_format", dst_fmt, 0)
    avu.av_opt_set_int(s, b"sws_flags", sws.SWS_BICUBIC, 0)
    avu.av_opt_set_int(s, b"param0", 123456, 0)  # SWS_PARAM_DEFAULT, vf_scale's default
    avu.av_opt_set_int(s, b"param1", 123456, 0)
    avu.av_opt_set_int(s, b"threads", 1, 0)
    if src_range != avu.AVCOL_RANGE_UNSPECIFIED:
        avu.av_opt_set_int(s, b"src_range", src_range == avu.AVCOL_RANGE_JPEG, 0)
    # MPEG-2 chroma siting for yuv420p, as vf_scale sets it; -513 ("unset") elsewhere.
    avu.av_opt_set_int(s, b"src_h_chr_pos", -513, 0)
    avu.av_opt_set_int(s, b"src_v_chr_pos",
                       128 if src_fmt == avu.AV_PIX_FMT_YUV420P else -513, 0)
    avu.av_opt_set_int(s, b"dst_h_chr_pos", -513, 0)
    avu.av_opt_set_int(s, b"dst_v_chr_pos",
                       128 if dst_fmt == avu.AV_PIX_FMT_YUV420P else -513, 0)
    if sws.sws_init_context(s, NULL, NULL) < 0:
        sws.sws_freeContext(s)
        return NULL
    return s


cdef bint _contains(const int64_t *arr, Py_ssize_t n, int64_t v) noexcept nogil:
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if arr[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo < n and arr[lo] == v


_DEFAULT = object()


cdef object _default_filter(int kind):
    if kind == KIND_AUDIO:
        return "aformat=sample_fmts=fltp"
    return "format=pix_fmts=rgb24"


cdef DecodeCore new_core(Packets packets, object filter_desc, object decode_config,
                         object timeout, bint allow_partial):
    """Open a decoder for `packets` and set the rules of the call (GIL held)."""
    cdef DecodeCore core = DecodeCore.__new__(DecodeCore)
    cdef const avc.AVCodec *codec = NULL
    cdef avu.AVDictionary *opts = NULL
    cdef int ret
    decoder = getattr(decode_config, "decoder", None)
    options = dict(getattr(decode_config, "decoder_options", None) or {})
    max_pixels = getattr(decode_config, "max_pixels", None)
    max_bytes = getattr(decode_config, "max_bytes", None)
    core.kind = packets.kind
    core.src = packets.src
    core.window = packets.window
    core.pkt_tb = packets.time_base
    core.frame_rate = packets.frame_rate
    core.out_tb = packets.time_base
    core.allow_partial = allow_partial
    core.max_pixels = _check_limit(_LIMITS["max_pixels"] if max_pixels is None else max_pixels,
                                   "max_pixels")
    core.max_bytes = _check_limit(_LIMITS["max_bytes"] if max_bytes is None else max_bytes,
                                  "max_bytes")
    if filter_desc is _DEFAULT:
        filter_desc = _default_filter(packets.kind)
    if filter_desc is not None:
        if not isinstance(filter_desc, str):
            raise TypeError(f"filter_desc must be a str or None, not {type(filter_desc).__name__}")
        core.desc = filter_desc.encode() if filter_desc.strip() else b"null" if \
            packets.kind != KIND_AUDIO else b"anull"
        core.c_desc = core.desc
        core.graph = FilterGraph.__new__(FilterGraph)
        core.graph.filter_desc = filter_desc
    budget_arm(&core.budget, timeout)
    if packets.kind == KIND_AUDIO:
        core.out_tb = avu.av_make_q(1, packets.codecpar.sample_rate or 1)

    if core.max_pixels and packets.codecpar.width and \
            <int64_t>packets.codecpar.width * packets.codecpar.height > core.max_pixels:
        raise MediaTooLargeError(
            f"The {packets.codecpar.width}x{packets.codecpar.height} frames exceed "
            f"max_pixels={core.max_pixels}: {packets.src} [step: decode]; raise the limit with "
            "spdl.io.decode_config(max_pixels=...) or spdl.io.set_decode_limits()",
            source=packets.src, step="decode")
    if decoder is not None:
        codec = avc.avcodec_find_decoder_by_name(str(decoder).encode())
        if codec == NULL:
            raise ValueError(f"FFmpeg has no decoder named {decoder!r}")
    else:
        codec = avc.avcodec_find_decoder(packets.codecpar.codec_id)
        if codec == NULL:
            raise make_media_error(
                avu.AVERROR_DECODER_NOT_FOUND, "decode", packets.src,
                f"No decoder for codec {avc.avcodec_get_name(packets.codecpar.codec_id).decode()}")
    core.codec_ctx = avc.avcodec_alloc_context3(codec)
    core.frame = avu.av_frame_alloc()
    core.tmp = avu.av_frame_alloc()
    if core.codec_ctx == NULL or core.frame == NULL or core.tmp == NULL:
        raise MemoryError()
    ret = avc.avcodec_parameters_to_context(core.codec_ctx, packets.codecpar)
    if ret < 0:
        raise make_media_error(ret, "decode", packets.src)
    core.codec_ctx.pkt_timebase = packets.time_base
    # FFmpeg refuses to allocate frames beyond this (a decompression bomb stops before memory).
    if core.max_pixels:
        core.codec_ctx.max_pixels = core.max_pixels
    if packets.codecpar.codec_id == avc.AV_CODEC_ID_MJPEG:
        # The JPEG decoder hides a truncated image behind gray blocks unless told to fail; by
        # default that raises, with allow_partial the damaged packet is skipped and counted.
        # (Not for every codec: e.g. the TIFF decoder then rejects valid files over a tag.)
        core.codec_ctx.err_recognition |= avc.AV_EF_EXPLODE
    # One thread per decoder by default: spdl runs many decoders at once, one per thread.
    options.setdefault("threads", "1")
    for key, value in options.items():
        avu.av_dict_set(&opts, str(key).encode(), str(value).encode(), 0)
    with nogil(SPDL_RELEASE_GIL):
        clear_ffmpeg_log()
        ret = avc.avcodec_open2(core.codec_ctx, codec, &opts)
    avu.av_dict_free(&opts)
    if ret < 0:
        raise make_media_error(ret, "decode", packets.src, "Failed to open the decoder")
    return core


cdef Frames _run_whole(DecodeCore core, Packets packets):
    """Decode every packet in one nogil loop (flushing at the end); raise on failure."""
    cdef Frames out = new_frames(packets.kind, core.out_tb, packets.src)
    cdef int ret
    enter_exclusive(&core.busy)
    try:
        with nogil(SPDL_RELEASE_GIL):
            clear_ffmpeg_log()
            ret = core.run(packets, 0, packets.n, True, out)
    finally:
        leave_exclusive(&core.busy)
    if ret < 0:
        raise core.error(ret)
    core.note_issues(out, packets)
    return out


cdef _raise_no_frame(Packets packets):
    where = "" if packets.timestamp is None else f" in the window {packets.timestamp}"
    raise make_media_error(0, "decode", packets.src, f"No frame could be decoded{where}")


cdef Frames _run_all(DecodeCore core, Packets packets, bint raise_if_empty):
    cdef Frames out = _run_whole(core, packets)
    if raise_if_empty and out.n == 0:
        _raise_no_frame(packets)
    return out


def decode_packets(Packets packets, filter_desc=_DEFAULT, decode_config=None, *, timeout=None,
                   allow_partial=False):
    """Decode packets into frames, filtered by ``filter_desc``.

    Args:
        packets: VideoPackets, AudioPackets or ImagePackets from a demux call.
        filter_desc: an FFmpeg filter chain (``-vf`` / ``-af`` syntax, e.g. from
            :func:`get_video_filter_desc`) applied to the decoded frames. The default converts
            video and images to ``rgb24`` and audio to ``fltp``; None returns native frames.
        decode_config: from :func:`decode_config`: decoder, its options, size limits.
        timeout: seconds this call may take; past it, :class:`MediaTimeoutError`.
        allow_partial: skip packets that fail to decode and drop corrupt frames (listed in
            ``frames.issues``, with a ``PartialDecodeWarning``) instead of raising.

    Returns:
        VideoFrames, AudioFrames or ImageFrames (an image gives its first frame only).

    Raises:
        DecodeError: the data cannot be decoded, or no frame came out.
        TruncatedMediaError: corrupt frames (without ``allow_partial``).
        FilterError / InvalidFilterError: the filter graph fails / cannot be built.
        MediaTooLargeError: the decode size limits are exceeded.
        MediaTimeoutError: past ``timeout``.
    """
    cdef DecodeCore core = new_core(packets, filter_desc, decode_config, timeout, allow_partial)
    return _run_all(core, packets, True)


def decode_to_buffer(Packets packets, filter_desc=_DEFAULT, decode_config=None, *,
                     timeout=None, allow_partial=False):
    """``convert_frames(decode_packets(...))`` for video in one pass: each frame goes into the
    output as soon as it is ready (a chain that only converts the pixel format writes it there
    directly; otherwise it is copied from the filter graph's frame while in cache, and that frame
    goes straight back to FFmpeg's pool). Same arguments, same bytes and layout.

    Returns:
        CPUBuffer: (N, ...) in the layout of :func:`convert_frames`.
    """
    cdef DecodeCore core
    if packets.kind != KIND_VIDEO:
        return _convert_py(decode_packets(packets, filter_desc, decode_config, timeout=timeout,
                                          allow_partial=allow_partial))
    core = new_core(packets, filter_desc, decode_config, timeout, allow_partial)
    core.direct = True
    core.expected_frames = packets.num_frames
    _run_whole(core, packets)
    if core.dst_frames == 0:
        _raise_no_frame(packets)
    return _take_output(core)


cdef object _take_output(DecodeCore core):
    """The direct-mode buffer of the call that just ended (None if it holds no frame); the core
    starts the next call with an empty one."""
    cdef CPUBuffer buf = None
    if core.dst_frames:
        shape, dtype = video_layout(core.first)
        buf = adopt_cpu_buffer(<void **>&core.dst, core.dst_cap, (core.dst_frames, *shape),
                               dtype, True)
    _drop_output(core)
    return buf


cdef void _drop_output(DecodeCore core) noexcept:
    free(core.dst)
    core.dst = NULL
    core.dst_cap = core.dst_len = 0
    core.dst_frames = 0


def _convert_or_none(frames):
    return _convert_py(frames) if len(frames) else None


def _convert_py(frames):
    from spdl._ext._convert import convert_frames
    return convert_frames(frames)


cdef class Decoder:
    """Streaming decoder: decode a long stream chunk by chunk, in bounded memory.

    Feed the chunks of :meth:`Demuxer.streaming_demux` to :meth:`decode`, then call
    :meth:`flush` once for the frames the decoder still holds. One thread at a time;
    :meth:`cancel` may be called from any thread.

    Args:
        packets: any Packets of the stream (e.g. the first chunk): gives the codec parameters
            and the time window.
        filter_desc, decode_config: as in :func:`decode_packets`.
        allow_partial: as in :func:`decode_packets`.
    """

    cdef DecodeCore core
    cdef int kind
    cdef object __weakref__

    def __init__(self, Packets packets, filter_desc=_DEFAULT, decode_config=None, *,
                 allow_partial=False):
        self.core = new_core(packets, filter_desc, decode_config, None, allow_partial)
        self.kind = packets.kind

    def decode(self, Packets packets, *, timeout=None):
        """Decode one chunk; returns the frames ready so far (may be empty)."""
        cdef Frames out
        cdef int ret
        if self.core.flushed:
            raise ValueError("The Decoder was flushed; make a new one")
        budget_arm(&self.core.budget, timeout)
        self.core.bytes_out = 0  # the byte limit is per call
        out = new_frames(self.kind, self.core.out_tb, packets.src)
        enter_exclusive(&self.core.busy)
        try:
            with nogil(SPDL_RELEASE_GIL):
                clear_ffmpeg_log()
                ret = self.core.run(packets, 0, packets.n, False, out)
        finally:
            leave_exclusive(&self.core.busy)
        if ret < 0:
            raise self.core.error(ret)
        out.time_base = self.core.out_tb
        return out

    def flush(self, *, timeout=None):
        """End of stream: the frames still buffered in the decoder and the filter graph."""
        cdef Frames out
        cdef int ret
        budget_arm(&self.core.budget, timeout)
        self.core.bytes_out = 0
        out = new_frames(self.kind, self.core.out_tb, self.core.src)
        enter_exclusive(&self.core.busy)
        try:
            with nogil(SPDL_RELEASE_GIL):
                ret = self.core.flush(out)
        finally:
            leave_exclusive(&self.core.busy)
        if ret < 0:
            raise self.core.error(ret)
        out.time_base = self.core.out_tb
        self.core.note_issues(out)
        return out

    def decode_to_buffer(self, Packets packets, *, timeout=None):
        """:meth:`decode` and :func:`convert_frames` in one pass: each frame goes into the
        output buffer as it comes out of the decoder, and a filter that only converts the pixel
        format (``format=rgb24``...) writes there directly. The same bytes and layout as
        ``convert_frames(decoder.decode(packets))``.

        Returns:
            CPUBuffer: (N, ...) for the frames ready so far, or None when none is ready yet.
        """
        if self.kind != KIND_VIDEO:
            return _convert_or_none(self.decode(packets, timeout=timeout))
        if self.core.flushed:
            raise ValueError("The Decoder was flushed; make a new one")
        # About one frame out per packet in, once the decoder's delay is filled.
        return self._direct(packets, packets.n + 1, timeout)

    def flush_to_buffer(self, *, timeout=None):
        """:meth:`flush` and :func:`convert_frames` in one pass, as :meth:`decode_to_buffer`.

        Returns:
            CPUBuffer or None (no frame was left).
        """
        if self.kind != KIND_VIDEO:
            return _convert_or_none(self.flush(timeout=timeout))
        return self._direct(None, 4, timeout)  # a guess at the decoder's delay; the buffer grows

    cdef object _direct(self, Packets packets, Py_ssize_t expected, object timeout):
        cdef int ret
        cdef DecodeCore core = self.core
        # Frames that go through the filter graph pass here on their way into the buffer.
        cdef Frames scratch = new_frames(self.kind, core.out_tb, core.src)
        budget_arm(&core.budget, timeout)
        core.bytes_out = 0
        enter_exclusive(&core.busy)
        core.direct = True
        core.expected_frames = expected
        try:
            with nogil(SPDL_RELEASE_GIL):
                clear_ffmpeg_log()
                if packets is None:
                    ret = core.flush(scratch)
                else:
                    ret = core.run(packets, 0, packets.n, False, scratch)
        finally:
            core.direct = False
            leave_exclusive(&core.busy)
        if ret < 0:
            _drop_output(core)
            raise core.error(ret)
        if packets is None:
            core.note_issues(scratch)
        return _take_output(core)

    @property
    def _converts_directly(self):
        """Whether direct mode runs the scaler itself (for tests)."""
        return self.core.conv == CONV_SCALER

    def cancel(self):
        """Stop the decode in progress (from any thread) and every later call."""
        spdl_atomic_store(&self.core.budget.cancelled, 1)


def sample_decode_video(Packets packets, indices, filter_desc=_DEFAULT, decode_config=None, *,
                        timeout=None, allow_partial=False):
    """Decode only the frames at ``indices``, touching only the GOPs that hold them.

    Args:
        packets: VideoPackets (with or without a window).
        indices: frame indices in presentation order, counting the frames in the packets'
            window (``0 <= i < packets.num_frames``); any order, repeats allowed.
        filter_desc, decode_config, timeout, allow_partial: as in :func:`decode_packets`.

    Returns:
        VideoFrames: one frame per index, in the order of ``indices``; equal to the matching
        frames of a full decode.

    Raises:
        ValueError: an index out of range. TypeError: not video packets.
    """
    cdef Py_ssize_t i, d, k, first, last
    cdef Frames native, picked
    cdef DecodeCore core
    cdef int ret = 0
    if packets.kind != KIND_VIDEO:
        raise TypeError(f"sample_decode_video needs VideoPackets, not {type(packets).__name__}")
    indices = [int(i) for i in indices]
    if not indices:
        raise ValueError("indices is empty")
    # Presentation order of the frames in the window: (pts, decode position).
    shown = []
    untimed = False
    for d in range(packets.n):
        p = packets.pkts[d]
        if p.flags & avc.AV_PKT_FLAG_DISCARD:
            continue
        if p.pts == avu.AV_NOPTS_VALUE:
            untimed = True
        elif in_window(&packets.window, p.pts, packets.time_base):
            shown.append((p.pts, d))
    if untimed:
        # Without presentation timestamps (e.g. AVI with B-frames) frames cannot be matched to
        # packets: decode the whole window and pick by position.
        _check_indices(indices, packets.num_frames)
        native = _run_all(new_core(packets, None, decode_config, timeout, allow_partial),
                          packets, True)
        # A broken stream may decode to fewer frames than it has packets: the indices were
        # valid, the data is not, so that is a decode error (or, with allow_partial, a skip).
        missing = [i for i in indices if i >= native.n]
        if missing and not allow_partial:
            raise make_media_error(0, "decode", packets.src,
                                   f"{len(missing)} wanted frame(s) could not be decoded "
                                   f"({native.n} of {packets.num_frames} frames decoded)")
        indices = [i for i in indices if i < native.n]
        return _filter_frames(native[indices], packets, filter_desc, decode_config, timeout,
                              allow_partial)
    shown.sort()
    _check_indices(indices, len(shown))
    keys = [d for d in range(packets.n) if packets.pkts[d].flags & avc.AV_PKT_FLAG_KEY]
    if not keys or keys[0] != 0:
        keys.insert(0, 0)
    # Each wanted frame needs the packets from the keyframe before it (in decode order) up to its
    # own packet. A frame shown before its keyframe (an open GOP) needs the GOP before as well.
    spans = {}
    for i in set(indices):
        pts, d = shown[i]
        k = _bisect_right(keys, d) - 1
        if pts < (packets.pkts[keys[k]].pts if packets.pkts[keys[k]].pts != avu.AV_NOPTS_VALUE
                  else pts) and k > 0:
            k -= 1
        spans[keys[k]] = max(spans.get(keys[k], 0), d + 1)
    # Merge overlapping spans so a packet is decoded once.
    merged = []
    for start in sorted(spans):
        end = spans[start]
        if merged and start <= merged[len(merged) - 1][1]:
            merged[len(merged) - 1][1] = max(merged[len(merged) - 1][1], end)
        else:
            merged.append([start, end])

    core = new_core(packets, None, decode_config, timeout, allow_partial)
    wanted = sorted({shown[i][0] for i in indices})
    core.n_wanted = len(wanted)
    core.wanted = <int64_t *>malloc(len(wanted) * sizeof(int64_t))
    if core.wanted == NULL:
        raise MemoryError()
    for i in range(len(wanted)):
        core.wanted[i] = wanted[i]
    native = new_frames(KIND_VIDEO, packets.time_base, packets.src)
    enter_exclusive(&core.busy)
    try:
        for span in merged:
            first, last = span
            with nogil(SPDL_RELEASE_GIL):
                clear_ffmpeg_log()
                core.flushed = False
                ret = core.run(packets, first, last, True, native)
                avc.avcodec_flush_buffers(core.codec_ctx)
            if ret < 0:
                raise core.error(ret)
    finally:
        leave_exclusive(&core.busy)
    by_pts = {}
    for i in range(native.n):
        by_pts.setdefault(native.frames[i].pts, i)
    missing = [shown[i][0] for i in indices if shown[i][0] not in by_pts]
    if missing and not allow_partial:
        raise make_media_error(0, "decode", packets.src,
                               f"{len(missing)} wanted frame(s) could not be decoded")
    picked = native[[by_pts[shown[i][0]] for i in indices if shown[i][0] in by_pts]]
    return _filter_frames(picked, packets, filter_desc, decode_config, timeout, allow_partial)


cdef int _check_indices(list indices, Py_ssize_t count) except -1:
    for i in indices:
        if not 0 <= i < count:
            raise ValueError(f"Frame index {i} out of range: the packets hold {count} frames")
    return 0


cdef Frames _filter_frames(Frames picked, Packets packets, object filter_desc,
                           object decode_config, object timeout, bint allow_partial):
    """Run already-decoded frames, in order, through one filter graph (consumes them)."""
    cdef DecodeCore fcore
    cdef Frames out
    cdef Py_ssize_t i
    cdef int ret = 0
    if filter_desc is None:
        return picked
    fcore = new_core(packets, filter_desc, decode_config, timeout, allow_partial)
    out = new_frames(KIND_VIDEO, packets.time_base, packets.src)
    with nogil(SPDL_RELEASE_GIL):
        for i in range(picked.n):
            ret = fcore._emit(picked.frames[i], out)
            if ret < 0:
                break
        if ret >= 0:
            ret = push_pull(fcore.graph.src, fcore.graph.sink, NULL, fcore.next_pts, fcore.tmp,
                            out) if fcore.graph.graph != NULL else 0
    if ret < 0:
        raise fcore.error(ret)
    out.time_base = fcore.out_tb
    return out


cdef Py_ssize_t _bisect_right(list a, Py_ssize_t x):
    cdef Py_ssize_t lo = 0, hi = len(a), mid
    while lo < hi:
        mid = (lo + hi) // 2
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo
