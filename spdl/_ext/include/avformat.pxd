# libavformat: only what spdl uses.
from libc.stdint cimport int64_t, uint8_t
from avutil cimport AVRational, AVDictionary
from avcodec cimport AVCodecParameters, AVPacket

cdef extern from "libavformat/avformat.h" nogil:
    unsigned avformat_version()
    const char *avformat_configuration()

    int AVSEEK_FLAG_BACKWARD
    int AVSEEK_FLAG_BYTE
    int AVSEEK_FLAG_ANY
    int AVSEEK_SIZE
    int AVFMT_FLAG_CUSTOM_IO
    int AVFMT_NOFILE
    int AVIO_FLAG_READ
    int AVFMT_DURATION_FROM_STREAM

    int AVSEEK_FORCE
    ctypedef struct AVIOInterruptCB:
        int (*callback)(void *opaque) noexcept nogil
        void *opaque
    ctypedef struct AVIOContext:
        unsigned char *buffer
        int seekable
        int eof_reached
        int error
    ctypedef struct AVInputFormat:
        const char *name
        const char *long_name
        int flags
    ctypedef struct AVStream:
        int index
        AVCodecParameters *codecpar
        AVRational time_base
        int64_t start_time
        int64_t duration
        int64_t nb_frames
        AVRational avg_frame_rate
        AVRational r_frame_rate
        AVRational sample_aspect_ratio
        AVDictionary *metadata
        int disposition
    ctypedef struct AVFormatContext:
        const AVInputFormat *iformat
        AVIOContext *pb
        int ctx_flags
        unsigned int nb_streams
        AVStream **streams
        char *url
        int64_t start_time
        int64_t duration
        int64_t bit_rate
        int flags
        AVDictionary *metadata
        int64_t probesize
        int64_t max_analyze_duration
        AVIOInterruptCB interrupt_callback
        int duration_estimation_method

    AVFormatContext *avformat_alloc_context()
    void avformat_free_context(AVFormatContext *s)
    int avformat_open_input(AVFormatContext **ps, const char *url, const AVInputFormat *fmt,
                            AVDictionary **options)
    void avformat_close_input(AVFormatContext **s)
    int avformat_find_stream_info(AVFormatContext *ic, AVDictionary **options)
    int av_find_best_stream(AVFormatContext *ic, int type, int wanted_stream_nb,
                            int related_stream, const void **decoder_ret, int flags)
    int av_read_frame(AVFormatContext *s, AVPacket *pkt)
    int av_seek_frame(AVFormatContext *s, int stream_index, int64_t timestamp, int flags)
    int avformat_seek_file(AVFormatContext *s, int stream_index, int64_t min_ts, int64_t ts,
                           int64_t max_ts, int flags)
    int avformat_flush(AVFormatContext *s)
    const AVInputFormat *av_find_input_format(const char *short_name)
    AVRational av_guess_frame_rate(AVFormatContext *ctx, AVStream *stream, void *frame)

cdef extern from "libavformat/avio.h" nogil:
    ctypedef int (*avio_read_fn)(void *opaque, uint8_t *buf, int buf_size) noexcept nogil
    ctypedef int (*avio_write_fn)(void *opaque, uint8_t *buf, int buf_size) noexcept nogil
    ctypedef int64_t (*avio_seek_fn)(void *opaque, int64_t offset, int whence) noexcept nogil
    AVIOContext *avio_alloc_context(unsigned char *buffer, int buffer_size, int write_flag,
                                    void *opaque, avio_read_fn read_packet,
                                    avio_write_fn write_packet, avio_seek_fn seek)
    void avio_context_free(AVIOContext **s)
