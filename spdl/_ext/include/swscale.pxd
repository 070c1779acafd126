# libswscale: only what spdl uses.
from libc.stdint cimport uint8_t

cdef extern from "libswscale/swscale.h" nogil:
    unsigned swscale_version()
    const char *swscale_configuration()

    int SWS_FAST_BILINEAR
    int SWS_BILINEAR
    int SWS_BICUBIC
    int SWS_AREA
    int SWS_LANCZOS
    int SWS_ACCURATE_RND
    int SWS_FULL_CHR_H_INT
    int SWS_FULL_CHR_H_INP
    int SWS_BITEXACT
    int SWS_POINT
    int SWS_BICUBLIN
    int SWS_GAUSS
    int SWS_SINC
    int SWS_SPLINE
    int SWS_CS_DEFAULT

    struct SwsContext:
        pass
    SwsContext *sws_getContext(int srcW, int srcH, int srcFormat, int dstW, int dstH,
                               int dstFormat, int flags, void *srcFilter, void *dstFilter,
                               const double *param)
    SwsContext *sws_getCachedContext(SwsContext *context, int srcW, int srcH, int srcFormat,
                                     int dstW, int dstH, int dstFormat, int flags,
                                     void *srcFilter, void *dstFilter, const double *param)
    int sws_scale(SwsContext *c, const uint8_t *const *srcSlice, const int *srcStride,
                  int srcSliceY, int srcSliceH, uint8_t *const *dst, const int *dstStride)
    void sws_freeContext(SwsContext *swsContext)
    SwsContext *sws_alloc_context()
    int sws_init_context(SwsContext *sws_context, void *srcFilter, void *dstFilter)
    int sws_setColorspaceDetails(SwsContext *c, const int *inv_table, int srcRange,
                                 const int *table, int dstRange, int brightness, int contrast,
                                 int saturation)
    const int *sws_getCoefficients(int colorspace)
    int sws_getColorspaceDetails(SwsContext *c, int **inv_table, int *srcRange, int **table,
                                 int *dstRange, int *brightness, int *contrast, int *saturation)
