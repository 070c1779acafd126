# What FFmpeg 5.x's scale filter (libavfilter/vf_scale.c, scale_frame) does to a scaler's colour
# details for each frame it scales, shared by every place spdl runs swscale itself.
cimport avutil as avu
cimport swscale as sws


cdef inline void set_frame_colors(sws.SwsContext *ctx, const avu.AVFrame *f) noexcept nogil:
    """The frame's own YCbCr matrix (in_color_matrix "auto": BT.601 where swscale knows no other
    for it), for input and output alike; the input range from the frame when it states one;
    the rest as swscale has it."""
    cdef int *inv_table
    cdef int *table
    cdef int src_range, dst_range, brightness, contrast, saturation
    cdef int colorspace = f.colorspace
    if colorspace < 1 or colorspace > 10 or colorspace == 8:
        colorspace = avu.AVCOL_SPC_BT470BG
    sws.sws_getColorspaceDetails(ctx, &inv_table, &src_range, &table, &dst_range,
                                 &brightness, &contrast, &saturation)
    inv_table = <int *>sws.sws_getCoefficients(colorspace)
    if f.color_range != avu.AVCOL_RANGE_UNSPECIFIED:
        src_range = f.color_range == avu.AVCOL_RANGE_JPEG
    sws.sws_setColorspaceDetails(ctx, inv_table, src_range, inv_table, dst_range,
                                 brightness, contrast, saturation)
