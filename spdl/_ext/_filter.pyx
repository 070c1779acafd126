"""FilterGraph: FFmpeg filter graphs, both the simple chains decoding uses and any graph a user
writes.

A simple chain is ``buffer -> <filter_desc> -> buffersink``, configured from the first decoded
frame exactly as the ``ffmpeg`` command line does it (same buffer arguments, and the same
``flags=bicubic`` for the scalers FFmpeg inserts by itself), so results match it bit for bit.
"""

from libc.stdint cimport int64_t
from libc.errno cimport EAGAIN, EINVAL, ENOMEM
from libc.stdio cimport snprintf
from libc.string cimport strlen

from spdl._ext._live cimport live_add, live_register
cimport avfilter as avf
cimport avutil as avu
from spdl._ext._budget cimport enter_exclusive, leave_exclusive
from spdl._ext._error cimport clear_ffmpeg_log, make_media_error
from spdl._ext._frames cimport Frames, new_frames
from spdl._ext._packets cimport KIND_AUDIO, KIND_VIDEO


cdef int _LIVE_FILTERGRAPH = live_register("FilterGraph")


cdef class FilterGraph:
    """Any FFmpeg filter graph, fed and drained with frames.

    The description names its sources and sinks: ``buffer`` / ``abuffer`` filters (with their
    arguments) and ``buffersink`` / ``abuffersink`` filters, optionally named with ``@``::

        "buffer@in=video_size=320x240:pix_fmt=yuv420p:time_base=1/25,"
        "hflip,format=gray,buffersink@out"

    Sources and sinks are known by the name after ``@`` (``"in"``, ``"out"`` above); with one of
    each, the ``key`` arguments may be left out.

    Args:
        filter_desc (str): the whole graph.

    Raises:
        InvalidFilterError: FFmpeg cannot parse or configure the graph.

    One thread at a time (a second one at once gets ``RuntimeError``).
    """

    def __init__(self, str filter_desc):
        cdef bytes desc = filter_desc.encode()
        cdef const char *c_desc = desc
        cdef int ret
        cdef unsigned i
        cdef avf.AVFilterInOut *ins = NULL
        cdef avf.AVFilterInOut *outs = NULL
        cdef avf.AVFilterContext *ctx
        self.filter_desc = filter_desc
        self.graph = avf.avfilter_graph_alloc()
        if self.graph == NULL:
            raise MemoryError()
        self.graph.nb_threads = 1
        with nogil(SPDL_RELEASE_GIL):
            clear_ffmpeg_log()
            ret = avf.avfilter_graph_parse2(self.graph, c_desc, &ins, &outs)
            if ret >= 0 and (ins != NULL or outs != NULL):
                ret = avu.AVERROR(EINVAL)  # unconnected pads
            if ret >= 0:
                ret = avf.avfilter_graph_config(self.graph, NULL)
            avf.avfilter_inout_free(&ins)
            avf.avfilter_inout_free(&outs)
        if ret < 0:
            raise make_media_error(ret, "filter_desc", repr(filter_desc),
                                   "Invalid filter graph (every pad must be connected)")
        self.inputs = {}
        self.outputs = {}
        for i in range(self.graph.nb_filters):
            ctx = self.graph.filters[i]
            kind = ctx.filter.name.decode()
            name = ctx.name.decode()
            # "buffer@in" is known as "in"; an unnamed one by FFmpeg's name ("Parsed_buffer_0").
            name = name.split("@", 1)[1] if name.startswith(kind + "@") else name
            if kind in ("buffer", "abuffer"):
                self.inputs[name] = (<size_t>ctx, kind == "abuffer")
            elif kind in ("buffersink", "abuffersink"):
                self.outputs[name] = (<size_t>ctx, kind == "abuffersink")
        if not self.inputs or not self.outputs:
            raise ValueError("A FilterGraph needs at least one buffer/abuffer source and one "
                             "buffersink/abuffersink")

    def __cinit__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_FILTERGRAPH, 1)

    def __dealloc__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_FILTERGRAPH, -1)
        if self.graph != NULL:
            avf.avfilter_graph_free(&self.graph)

    @property
    def input_names(self):
        return list(self.inputs)

    @property
    def output_names(self):
        return list(self.outputs)

    def add_frames(self, Frames frames, key=None):
        """Push ``frames`` (kept, not consumed) into the source named ``key``."""
        cdef avf.AVFilterContext *src = _pick(self.inputs, key, "input")
        cdef Py_ssize_t i
        cdef int ret = 0
        enter_exclusive(&self.busy)
        try:
            with nogil(SPDL_RELEASE_GIL):
                clear_ffmpeg_log()
                for i in range(frames.n):
                    ret = avf.av_buffersrc_add_frame_flags(src, frames.frames[i],
                                                           avf.AV_BUFFERSRC_FLAG_KEEP_REF)
                    if ret < 0:
                        break
        finally:
            leave_exclusive(&self.busy)
        if ret < 0:
            raise make_media_error(ret, "filter", repr(self.filter_desc))

    def flush(self, key=None):
        """Signal the end of the stream to the source named ``key``."""
        cdef avf.AVFilterContext *src = _pick(self.inputs, key, "input")
        cdef int ret
        enter_exclusive(&self.busy)
        try:
            with nogil(SPDL_RELEASE_GIL):
                ret = avf.av_buffersrc_add_frame_flags(src, NULL, 0)
        finally:
            leave_exclusive(&self.busy)
        if ret < 0:
            raise make_media_error(ret, "filter", repr(self.filter_desc))

    def get_frames(self, key=None):
        """Every frame the sink named ``key`` has ready: VideoFrames or AudioFrames."""
        cdef avf.AVFilterContext *sink = _pick(self.outputs, key, "output")
        audio = self.outputs[key if key is not None else next(iter(self.outputs))][1]
        cdef Frames out = new_frames(KIND_AUDIO if audio else KIND_VIDEO,
                                     avf.av_buffersink_get_time_base(sink),
                                     repr(self.filter_desc))
        cdef avu.AVFrame *tmp = avu.av_frame_alloc()
        cdef int ret
        if tmp == NULL:
            raise MemoryError()
        enter_exclusive(&self.busy)
        try:
            with nogil(SPDL_RELEASE_GIL):
                ret = push_pull(NULL, sink, NULL, 0, tmp, out)
        finally:
            leave_exclusive(&self.busy)
            avu.av_frame_free(&tmp)
        if ret < 0:
            raise make_media_error(ret, "filter", repr(self.filter_desc))
        return out

    def __repr__(self):
        return f"FilterGraph({self.filter_desc!r})"


cdef int configure_simple(FilterGraph g, const char *desc, const avu.AVFrame *frame, bint audio,
                          avu.AVRational time_base, avu.AVRational frame_rate) noexcept nogil:
    cdef char args[512]
    cdef char layout[128]
    cdef avu.AVChannelLayout ch
    cdef const char *name
    cdef int ret
    cdef avf.AVFilterInOut *outputs = NULL
    cdef avf.AVFilterInOut *inputs = NULL
    g.graph = avf.avfilter_graph_alloc()
    if g.graph == NULL:
        return avu.AVERROR(ENOMEM)
    # Many threads decode at once; a graph of its own threads each would oversubscribe.
    g.graph.nb_threads = 1
    # What the ffmpeg command line gives the scalers it inserts (its default sws_flags).
    g.graph.scale_sws_opts = avu.av_strdup(b"flags=bicubic")
    if not audio:
        snprintf(args, sizeof(args),
                 b"video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
                 frame.width, frame.height, frame.format, time_base.num, time_base.den,
                 frame.sample_aspect_ratio.num,
                 <int>(frame.sample_aspect_ratio.den if frame.sample_aspect_ratio.den else 1))
        if frame_rate.num > 0 and frame_rate.den > 0:
            snprintf(args + strlen(args), sizeof(args) - strlen(args), b":frame_rate=%d/%d",
                     frame_rate.num, frame_rate.den)
        ret = avf.avfilter_graph_create_filter(&g.src, avf.avfilter_get_by_name(b"buffer"),
                                               b"in", args, NULL, g.graph)
        if ret >= 0:
            ret = avf.avfilter_graph_create_filter(
                &g.sink, avf.avfilter_get_by_name(b"buffersink"), b"out", NULL, NULL, g.graph)
    else:
        if frame.ch_layout.order == avu.AV_CHANNEL_ORDER_UNSPEC:
            # As the command line does: an unknown layout becomes the default for the count.
            avu.av_channel_layout_default(&ch, frame.ch_layout.nb_channels)
            avu.av_channel_layout_describe(&ch, layout, sizeof(layout))
            avu.av_channel_layout_uninit(&ch)
        else:
            avu.av_channel_layout_describe(&frame.ch_layout, layout, sizeof(layout))
        name = avu.av_get_sample_fmt_name(<avu.AVSampleFormat>frame.format)
        if name == NULL:
            name = "none"
        snprintf(args, sizeof(args),
                 b"time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
                 time_base.num, time_base.den, frame.sample_rate,
                 name, layout)
        ret = avf.avfilter_graph_create_filter(&g.src, avf.avfilter_get_by_name(b"abuffer"),
                                               b"in", args, NULL, g.graph)
        if ret >= 0:
            ret = avf.avfilter_graph_create_filter(
                &g.sink, avf.avfilter_get_by_name(b"abuffersink"), b"out", NULL, NULL, g.graph)
    if ret < 0:
        return ret
    outputs = avf.avfilter_inout_alloc()
    inputs = avf.avfilter_inout_alloc()
    if outputs == NULL or inputs == NULL:
        ret = avu.AVERROR(ENOMEM)
    else:
        outputs.name = avu.av_strdup(b"in")
        outputs.filter_ctx = g.src
        outputs.pad_idx = 0
        outputs.next = NULL
        inputs.name = avu.av_strdup(b"out")
        inputs.filter_ctx = g.sink
        inputs.pad_idx = 0
        inputs.next = NULL
        ret = avf.avfilter_graph_parse_ptr(g.graph, desc, &inputs, &outputs, NULL)
        # Parsing also creates each filter with its options: a failure here is the description's
        # fault. Past it the graph is valid; configuring it can fail only on what the frame
        # brings (a pixel format, size or layout the chain cannot take), which is the source's.
        g.desc_invalid = ret < 0 and ret != avu.AVERROR(ENOMEM)
        if ret >= 0:
            ret = avf.avfilter_graph_config(g.graph, NULL)
    avf.avfilter_inout_free(&inputs)
    avf.avfilter_inout_free(&outputs)
    return ret


cdef int push_pull(avf.AVFilterContext *src, avf.AVFilterContext *sink, avu.AVFrame *frame,
                   int64_t eof_pts, avu.AVFrame *tmp, Frames out) noexcept nogil:
    cdef int ret
    if src != NULL:
        if frame != NULL:
            ret = avf.av_buffersrc_add_frame_flags(src, frame, avf.AV_BUFFERSRC_FLAG_PUSH)
        else:
            ret = avf.av_buffersrc_close(src, eof_pts, avf.AV_BUFFERSRC_FLAG_PUSH)
        if ret < 0:
            return ret
    while True:
        ret = avf.av_buffersink_get_frame(sink, tmp)
        if ret == avu.AVERROR(EAGAIN) or ret == avu.AVERROR_EOF:
            return 0
        if ret < 0:
            return ret
        ret = out.push(tmp)
        if ret < 0:
            return ret




cdef avf.AVFilterContext *_pick(dict table, object key, str what) except NULL:
    if key is None:
        if len(table) != 1:
            raise ValueError(f"The graph has {len(table)} {what}s; name one: {list(table)}")
        key = next(iter(table))
    try:
        return <avf.AVFilterContext *><size_t>table[key][0]
    except KeyError:
        raise KeyError(f"No {what} named {key!r}; the graph has {list(table)}") from None
