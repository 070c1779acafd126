# libavfilter: only what spdl uses.
from libc.stdint cimport int64_t
from avutil cimport AVFrame, AVRational

cdef extern from "libavfilter/avfilter.h" nogil:
    unsigned avfilter_version()
    const char *avfilter_configuration()

    ctypedef struct AVFilter:
        const char *name
        const char *description
    ctypedef struct AVFilterContext:
        const AVFilter *filter
        char *name
        unsigned nb_inputs
        unsigned nb_outputs
    ctypedef struct AVFilterGraph:
        AVFilterContext **filters
        unsigned nb_filters
        int nb_threads
        char *scale_sws_opts
    ctypedef struct AVFilterInOut:
        char *name
        AVFilterContext *filter_ctx
        int pad_idx
        AVFilterInOut *next

    const AVFilter *avfilter_get_by_name(const char *name)
    const AVFilter *av_filter_iterate(void **opaque)
    AVFilterGraph *avfilter_graph_alloc()
    void avfilter_graph_free(AVFilterGraph **graph)
    int avfilter_graph_create_filter(AVFilterContext **filt_ctx, const AVFilter *filt,
                                     const char *name, const char *args, void *opaque,
                                     AVFilterGraph *graph_ctx)
    int avfilter_graph_parse_ptr(AVFilterGraph *graph, const char *filters,
                                 AVFilterInOut **inputs, AVFilterInOut **outputs, void *log_ctx)
    int avfilter_graph_parse2(AVFilterGraph *graph, const char *filters,
                              AVFilterInOut **inputs, AVFilterInOut **outputs)
    int avfilter_graph_config(AVFilterGraph *graphctx, void *log_ctx)
    char *avfilter_graph_dump(AVFilterGraph *graph, const char *options)
    AVFilterInOut *avfilter_inout_alloc()
    void avfilter_inout_free(AVFilterInOut **inout)

cdef extern from "libavfilter/buffersrc.h" nogil:
    int AV_BUFFERSRC_FLAG_KEEP_REF
    int av_buffersrc_add_frame_flags(AVFilterContext *buffer_src, AVFrame *frame, int flags)
    int av_buffersrc_write_frame(AVFilterContext *ctx, const AVFrame *frame)
    int av_buffersrc_close(AVFilterContext *ctx, int64_t pts, unsigned flags)
    int AV_BUFFERSRC_FLAG_PUSH

cdef extern from "libavfilter/buffersink.h" nogil:
    int av_buffersink_get_frame(AVFilterContext *ctx, AVFrame *frame)
    AVRational av_buffersink_get_time_base(const AVFilterContext *ctx)
    int av_buffersink_get_format(const AVFilterContext *ctx)
    int av_buffersink_get_w(const AVFilterContext *ctx)
    int av_buffersink_get_h(const AVFilterContext *ctx)
    int av_buffersink_get_sample_rate(const AVFilterContext *ctx)
    int av_buffersink_get_channels(const AVFilterContext *ctx)
