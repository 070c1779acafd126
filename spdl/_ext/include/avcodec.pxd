# libavcodec: only what spdl uses.
from libc.stdint cimport int64_t, uint8_t, uint32_t
from avutil cimport AVRational, AVMediaType, AVFrame, AVDictionary, AVChannelLayout

cdef extern from "libavcodec/avcodec.h" nogil:
    unsigned avcodec_version()
    const char *avcodec_configuration()

    enum AVCodecID:
        AV_CODEC_ID_NONE
        AV_CODEC_ID_H264
        AV_CODEC_ID_HEVC
        AV_CODEC_ID_MJPEG
        AV_CODEC_ID_PNG

    int AV_INPUT_BUFFER_PADDING_SIZE
    int AV_PKT_FLAG_KEY
    int AV_PKT_FLAG_CORRUPT
    int AV_PKT_FLAG_DISCARD
    int AV_INPUT_BUFFER_PADDING_SIZE
    int AV_EF_EXPLODE
    int AV_EF_CRCCHECK
    int AV_CODEC_FLAG_COPY_OPAQUE
    int FF_THREAD_FRAME
    int FF_THREAD_SLICE

    ctypedef struct AVCodec:
        const char *name
        const char *long_name
        AVMediaType type
        AVCodecID id
        uint8_t max_lowres

    ctypedef struct AVCodecParameters:
        AVMediaType codec_type
        AVCodecID codec_id
        uint8_t *extradata
        int extradata_size
        int format
        int64_t bit_rate
        int profile
        int level
        int width
        int height
        AVRational sample_aspect_ratio
        int sample_rate
        AVChannelLayout ch_layout
        int frame_size
        int video_delay
        uint32_t codec_tag
        int bits_per_coded_sample
        int bits_per_raw_sample
        int field_order
        int color_range
        int color_primaries
        int color_trc
        int color_space
        int chroma_location
        int block_align
        int initial_padding
        int trailing_padding
        int seek_preroll

    ctypedef struct AVCodecContext:
        const AVCodec *codec
        AVCodecID codec_id
        AVRational time_base
        AVRational pkt_timebase
        AVRational framerate
        int width
        int height
        int pix_fmt
        int sample_fmt
        int sample_rate
        AVChannelLayout ch_layout
        int thread_count
        int thread_type
        int flags
        int lowres
        int64_t max_pixels
        int err_recognition

    ctypedef struct AVPacket:
        void *buf
        int64_t pts
        int64_t dts
        uint8_t *data
        int size
        int stream_index
        int flags
        int64_t duration
        int64_t pos

    const AVCodec *avcodec_find_decoder(AVCodecID id)
    const AVCodec *avcodec_find_decoder_by_name(const char *name)
    const char *avcodec_get_name(AVCodecID id)
    AVCodecContext *avcodec_alloc_context3(const AVCodec *codec)
    void avcodec_free_context(AVCodecContext **avctx)
    int avcodec_parameters_to_context(AVCodecContext *codec, const AVCodecParameters *par)
    int avcodec_parameters_from_context(AVCodecParameters *par, const AVCodecContext *codec)
    AVCodecParameters *avcodec_parameters_alloc()
    void avcodec_parameters_free(AVCodecParameters **par)
    int avcodec_parameters_copy(AVCodecParameters *dst, const AVCodecParameters *src)
    int avcodec_open2(AVCodecContext *avctx, const AVCodec *codec, AVDictionary **options)
    int avcodec_send_packet(AVCodecContext *avctx, const AVPacket *avpkt)
    int avcodec_receive_frame(AVCodecContext *avctx, AVFrame *frame)
    void avcodec_flush_buffers(AVCodecContext *avctx)

    AVPacket *av_packet_alloc()
    AVPacket *av_packet_clone(const AVPacket *src)
    void av_packet_free(AVPacket **pkt)
    int av_packet_ref(AVPacket *dst, const AVPacket *src)
    void av_packet_unref(AVPacket *pkt)
    void av_packet_move_ref(AVPacket *dst, AVPacket *src)
    int av_new_packet(AVPacket *pkt, int size)
    void av_packet_rescale_ts(AVPacket *pkt, AVRational tb_src, AVRational tb_dst)

cdef extern from "libavcodec/bsf.h" nogil:
    ctypedef struct AVBitStreamFilter:
        const char *name
    ctypedef struct AVBSFContext:
        AVCodecParameters *par_in
        AVCodecParameters *par_out
        AVRational time_base_in
        AVRational time_base_out
    const AVBitStreamFilter *av_bsf_get_by_name(const char *name)
    int av_bsf_alloc(const AVBitStreamFilter *filter, AVBSFContext **ctx)
    int av_bsf_init(AVBSFContext *ctx)
    int av_bsf_send_packet(AVBSFContext *ctx, AVPacket *pkt)
    int av_bsf_receive_packet(AVBSFContext *ctx, AVPacket *pkt)
    void av_bsf_flush(AVBSFContext *ctx)
    void av_bsf_free(AVBSFContext **ctx)
