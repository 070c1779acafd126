# libavutil: only what spdl uses. Declared nogil so the hot loops can call it without the GIL.
from libc.stdint cimport int64_t, uint8_t, uint64_t

cdef extern from "<stdarg.h>":
    ctypedef struct va_list:
        pass

cdef extern from "libavutil/avutil.h" nogil:
    unsigned avutil_version()
    const char *avutil_configuration()
    const char *avutil_license()
    const char *av_version_info()

    int64_t AV_NOPTS_VALUE
    int AV_TIME_BASE

    enum AVMediaType:
        AVMEDIA_TYPE_UNKNOWN
        AVMEDIA_TYPE_VIDEO
        AVMEDIA_TYPE_AUDIO
        AVMEDIA_TYPE_DATA
        AVMEDIA_TYPE_SUBTITLE
        AVMEDIA_TYPE_ATTACHMENT
    const char *av_get_media_type_string(AVMediaType media_type)

cdef extern from "libavutil/rational.h" nogil:
    ctypedef struct AVRational:
        int num
        int den
    AVRational av_make_q(int num, int den)
    double av_q2d(AVRational a)
    int av_cmp_q(AVRational a, AVRational b)

cdef extern from "libavutil/mathematics.h" nogil:
    enum AVRounding:
        AV_ROUND_ZERO
        AV_ROUND_INF
        AV_ROUND_DOWN
        AV_ROUND_UP
        AV_ROUND_NEAR_INF
        AV_ROUND_PASS_MINMAX
    int64_t av_rescale_q(int64_t a, AVRational bq, AVRational cq)
    int64_t av_rescale_q_rnd(int64_t a, AVRational bq, AVRational cq, AVRounding rnd)
    int64_t av_rescale(int64_t a, int64_t b, int64_t c)
    int av_compare_ts(int64_t ts_a, AVRational tb_a, int64_t ts_b, AVRational tb_b)

cdef extern from "libavutil/error.h" nogil:
    int AVERROR(int e)
    int AVERROR_EOF
    int AVERROR_INVALIDDATA
    int AVERROR_DECODER_NOT_FOUND
    int AVERROR_DEMUXER_NOT_FOUND
    int AVERROR_STREAM_NOT_FOUND
    int AVERROR_FILTER_NOT_FOUND
    int AVERROR_PATCHWELCOME
    int AVERROR_BUG
    int AVERROR_EXIT
    int AVERROR_EXTERNAL
    int AVERROR_UNKNOWN
    int AV_ERROR_MAX_STRING_SIZE
    int av_strerror(int errnum, char *errbuf, size_t errbuf_size)

cdef extern from "libavutil/time.h" nogil:
    int64_t av_gettime_relative()

cdef extern from "libavutil/mem.h" nogil:
    void *av_malloc(size_t size)
    void *av_mallocz(size_t size)
    void av_free(void *ptr)
    void av_freep(void *ptr)
    void av_max_alloc(size_t max)
    char *av_strdup(const char *s)

cdef extern from "libavutil/dict.h" nogil:
    ctypedef struct AVDictionary:
        pass
    ctypedef struct AVDictionaryEntry:
        char *key
        char *value
    int AV_DICT_IGNORE_SUFFIX
    AVDictionaryEntry *av_dict_get(const AVDictionary *m, const char *key,
                                   const AVDictionaryEntry *prev, int flags)
    int av_dict_set(AVDictionary **pm, const char *key, const char *value, int flags)
    int av_dict_count(const AVDictionary *m)
    void av_dict_free(AVDictionary **m)

cdef extern from "libavutil/log.h" nogil:
    int AV_LOG_QUIET
    int AV_LOG_PANIC
    int AV_LOG_FATAL
    int AV_LOG_ERROR
    int AV_LOG_WARNING
    int AV_LOG_INFO
    int AV_LOG_VERBOSE
    int AV_LOG_DEBUG
    int AV_LOG_TRACE
    void av_log_set_level(int level)
    int av_log_get_level()
    ctypedef void (*av_log_callback_fn)(void *avcl, int level, const char *fmt, va_list vl) noexcept nogil
    void av_log_set_callback(av_log_callback_fn callback)
    void av_log_default_callback(void *avcl, int level, const char *fmt, va_list vl)
    int av_log_format_line2(void *ptr, int level, const char *fmt, va_list vl, char *line,
                            int line_size, int *print_prefix)

cdef extern from "libavutil/pixfmt.h" nogil:
    enum AVPixelFormat:
        AV_PIX_FMT_NONE
        AV_PIX_FMT_YUV420P
        AV_PIX_FMT_RGB24
        AV_PIX_FMT_BGR24
        AV_PIX_FMT_GRAY8
        AV_PIX_FMT_RGBA
        AV_PIX_FMT_NV12
        AV_PIX_FMT_YUVJ420P
        AV_PIX_FMT_YUVJ422P
        AV_PIX_FMT_YUVJ444P
        AV_PIX_FMT_YUVJ440P
        AV_PIX_FMT_YUV422P
        AV_PIX_FMT_YUV444P
        AV_PIX_FMT_GBRP
        AV_PIX_FMT_GRAY16LE
        AV_PIX_FMT_CUDA

cdef extern from "libavutil/pixfmt.h" nogil:
    enum AVColorRange:
        AVCOL_RANGE_UNSPECIFIED
        AVCOL_RANGE_MPEG
        AVCOL_RANGE_JPEG
    enum AVColorSpace:
        AVCOL_SPC_BT470BG
        AVCOL_SPC_UNSPECIFIED

cdef extern from "libavutil/pixdesc.h" nogil:
    ctypedef struct AVComponentDescriptor:
        int plane
        int step
        int offset
        int shift
        int depth
    ctypedef struct AVPixFmtDescriptor:
        const char *name
        uint8_t nb_components
        uint8_t log2_chroma_w
        uint8_t log2_chroma_h
        uint64_t flags
        AVComponentDescriptor comp[4]
    int AV_PIX_FMT_FLAG_PLANAR
    int AV_PIX_FMT_FLAG_RGB
    int AV_PIX_FMT_FLAG_HWACCEL
    int AV_PIX_FMT_FLAG_BE
    int AV_PIX_FMT_FLAG_PAL
    int AV_PIX_FMT_FLAG_BITSTREAM
    const AVPixFmtDescriptor *av_pix_fmt_desc_get(AVPixelFormat pix_fmt)
    const char *av_get_pix_fmt_name(AVPixelFormat pix_fmt)
    AVPixelFormat av_get_pix_fmt(const char *name)
    int av_get_bits_per_pixel(const AVPixFmtDescriptor *pixdesc)

cdef extern from "libavutil/samplefmt.h" nogil:
    enum AVSampleFormat:
        AV_SAMPLE_FMT_NONE
        AV_SAMPLE_FMT_U8
        AV_SAMPLE_FMT_S16
        AV_SAMPLE_FMT_S32
        AV_SAMPLE_FMT_FLT
        AV_SAMPLE_FMT_DBL
        AV_SAMPLE_FMT_U8P
        AV_SAMPLE_FMT_S16P
        AV_SAMPLE_FMT_S32P
        AV_SAMPLE_FMT_FLTP
        AV_SAMPLE_FMT_DBLP
        AV_SAMPLE_FMT_S64
        AV_SAMPLE_FMT_S64P
    const char *av_get_sample_fmt_name(AVSampleFormat sample_fmt)
    AVSampleFormat av_get_sample_fmt(const char *name)
    int av_get_bytes_per_sample(AVSampleFormat sample_fmt)
    int av_sample_fmt_is_planar(AVSampleFormat sample_fmt)
    AVSampleFormat av_get_packed_sample_fmt(AVSampleFormat sample_fmt)

cdef extern from "libavutil/channel_layout.h" nogil:
    # The AVChannelLayout API exists from FFmpeg 5.1 on, the oldest release spdl supports.
    ctypedef struct AVChannelLayout:
        int order
        int nb_channels
    int av_channel_layout_describe(const AVChannelLayout *channel_layout, char *buf, size_t buf_size)
    void av_channel_layout_default(AVChannelLayout *ch_layout, int nb_channels)
    int av_channel_layout_copy(AVChannelLayout *dst, const AVChannelLayout *src)
    void av_channel_layout_uninit(AVChannelLayout *channel_layout)
    int av_channel_layout_from_string(AVChannelLayout *channel_layout, const char *str)
    int AV_CHANNEL_ORDER_UNSPEC

cdef extern from "libavutil/frame.h" nogil:
    int AV_NUM_DATA_POINTERS
    ctypedef struct AVFrame:
        uint8_t *data[8]
        int linesize[8]
        uint8_t **extended_data
        int width
        int height
        int nb_samples
        int format
        int key_frame
        int64_t pts
        int64_t pkt_dts
        int64_t best_effort_timestamp
        int sample_rate
        AVChannelLayout ch_layout
        AVRational sample_aspect_ratio
        int decode_error_flags
        int flags
        int color_range
        int colorspace
        int color_primaries
        int color_trc
        int chroma_location
        int64_t pkt_duration
    int AV_FRAME_FLAG_CORRUPT
    AVFrame *av_frame_alloc()
    void av_frame_free(AVFrame **frame)
    int av_frame_ref(AVFrame *dst, const AVFrame *src)
    AVFrame *av_frame_clone(const AVFrame *src)
    void av_frame_unref(AVFrame *frame)
    void av_frame_move_ref(AVFrame *dst, AVFrame *src)
    int av_frame_get_buffer(AVFrame *frame, int align)
    int av_frame_make_writable(AVFrame *frame)

cdef extern from "libavutil/imgutils.h" nogil:
    int av_image_get_buffer_size(AVPixelFormat pix_fmt, int width, int height, int align)
    int av_image_check_size(unsigned int w, unsigned int h, int log_offset, void *log_ctx)

cdef extern from "libavutil/imgutils.h" nogil:
    int av_image_copy_to_buffer(uint8_t *dst, int dst_size, const uint8_t *const *src_data,
                                const int *src_linesize, AVPixelFormat pix_fmt, int width,
                                int height, int align)

cdef extern from "libavutil/imgutils.h" nogil:
    int av_image_fill_linesizes(int *linesizes, AVPixelFormat pix_fmt, int width)
    int av_image_fill_arrays(uint8_t **dst_data, int *dst_linesize, const uint8_t *src,
                             AVPixelFormat pix_fmt, int width, int height, int align)

cdef extern from "libavutil/opt.h" nogil:
    int av_opt_set_int(void *obj, const char *name, int64_t val, int search_flags)

cdef extern from "libavutil/cpu.h" nogil:
    size_t av_cpu_max_align()
    int AV_CPU_FLAG_AVX2
    int AV_CPU_FLAG_SLOW_GATHER
    int av_get_cpu_flags()
    void av_force_cpu_flags(int flags)
