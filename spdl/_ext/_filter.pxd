# FilterGraph: an FFmpeg filter graph, owned. See _filter.pyx.
from libc.stdint cimport int64_t

cimport avfilter as avf
cimport avutil as avu
from spdl._ext._frames cimport Frames

cdef class FilterGraph:
    cdef avf.AVFilterGraph *graph
    cdef avf.AVFilterContext *src
    cdef avf.AVFilterContext *sink
    cdef dict inputs
    cdef dict outputs
    cdef readonly str filter_desc
    cdef int busy
    # Set by configure_simple when the description itself failed (parsing, or a filter's
    # options), as opposed to the graph refusing the frames it was shaped for.
    cdef bint desc_invalid

# A graph "buffer -> desc -> buffersink" (or abuffer/abuffersink) shaped for `frame`. AVERROR or 0;
# on failure g.desc_invalid tells whether `desc` or the frame's parameters were at fault.
cdef int configure_simple(FilterGraph g, const char *desc, const avu.AVFrame *frame, bint audio,
                          avu.AVRational time_base, avu.AVRational frame_rate) noexcept nogil
# Push `frame` (moved; NULL: end of stream at `eof_pts`) into `src`, then move everything `sink`
# has ready into `out`, through the blank frame `tmp`. Returns AVERROR or 0.
cdef int push_pull(avf.AVFilterContext *src, avf.AVFilterContext *sink, avu.AVFrame *frame,
                   int64_t eof_pts, avu.AVFrame *tmp, Frames out) noexcept nogil
