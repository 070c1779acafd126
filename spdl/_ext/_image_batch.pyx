"""Decode a list of images and resize each one straight into its slot of one batch buffer.

This is the engine of ``spdl.io.load_image_batch``. One call runs one native loop over the batch
with the GIL released: read the file (or take the bytes), decode, and let swscale write the
resized picture directly into slot ``i`` of the (B, H, W, C) ``CPUBuffer``. Nothing per image goes
through Python, a filter graph or an intermediate copy.

What makes it fast (measured, see docs/performance.md):

- Decoders are opened once per thread and kept, one per codec and ``lowres`` level.
- The common JPEG's Huffman-coded scan is read by jpeg_scan.h, not libavcodec, with
  libavcodec's own IDCT, so the planes are the mjpeg decoder's (see "JPEG scans decoded here").
- JPEG and PNG skip libavformat: a whole file is one packet for both decoders, exactly what
  FFmpeg's ``image2`` demuxer hands them, so there is no probing and no
  ``avformat_find_stream_info``. Other formats take the general path (``_source.open_input``).
- swscale contexts are cached per thread, keyed by input and output size and format, and set up
  the way FFmpeg's ``scale`` filter sets them up, so the bytes equal
  ``ffmpeg -i SRC -vf scale=W:H:flags=ALGO,format=PIX_FMT``.
- For rgb24 and bgr24, swscale's planar output, which has SIMD kernels, replaces its packed
  output, which does not, followed by an interleave or swscale's own colour tables; only where
  the two agree byte for byte (see "swscale contexts and their planar twins").
- Optionally the mjpeg decoder downscales by 2, 4 or 8 in the DCT domain (``lowres``) when the
  image is at least that many times larger than the target, leaving a smaller swscale step.

The per-thread state lives in a ``_Worker`` found through ``threading.local``: no native state is
shared between threads.
"""

from cpython.pythread cimport (
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_release_lock,
    PyThread_type_lock,
)
from libc.errno cimport EINVAL, EISDIR, ENOENT, ENOMEM, ERANGE, errno
from libc.stdint cimport int16_t, int64_t, uint8_t, uint64_t, uintptr_t
from libc.string cimport memcmp, memcpy, memset
from posix.fcntl cimport O_RDONLY
from posix.fcntl cimport open as os_open
from posix.stat cimport S_ISDIR, fstat, struct_stat
from posix.unistd cimport close as os_close
from posix.unistd cimport read as os_read

cimport avcodec as avc
cimport avformat as avfmt
cimport avutil as avu
cimport swscale as sws
from spdl._ext._budget cimport Budget, budget_arm, budget_check, budget_reason
from spdl._ext._buffer cimport CPUBuffer, new_cpu_buffer
from spdl._ext._error cimport clear_ffmpeg_log, make_media_error
from spdl._ext._source cimport Input, describe_source, open_input
from spdl._ext._vf_scale cimport set_frame_colors

cdef extern from "libavcodec/avdct.h" nogil:
    ctypedef struct AVDCT:
        void (*idct)(int16_t *block) noexcept nogil
        uint8_t idct_permutation[64]
    AVDCT *avcodec_dct_alloc()
    int avcodec_dct_init(AVDCT *dct)

cdef extern from "jpeg_scan.h" nogil:
    enum:
        SPDL_JPEG_DECLINE
        SPDL_JPEG_PADDING
        SPDL_JPEG_NUM_LAYOUTS
        SPDL_JPEG_GRAY
        SPDL_JPEG_444
        SPDL_JPEG_422
        SPDL_JPEG_440
        SPDL_JPEG_420
    ctypedef struct SpdlJpeg:
        int width, height, layout, ncomp
        int hs[3]
        int vs[3]
        int mcu_w, mcu_h
        size_t scan_start
    const uint8_t spdl_zigzag[64]
    int spdl_jpeg_parse(SpdlJpeg *j, const uint8_t *p, size_t n)
    Py_ssize_t spdl_jpeg_unstuff(uint8_t *dst, const uint8_t *src, size_t n)
    int spdl_jpeg_decode(const SpdlJpeg *j, const uint8_t *data, size_t size,
                         uint8_t *const *planes, const int *strides, const uint8_t *order,
                         void (*idct)(int16_t *) noexcept nogil, int16_t *block,
                         int16_t *tmp, int16_t *dc_values)

import os
import threading

from spdl._ext._decode import get_decode_limits
from spdl._ext._error import MediaError, MediaTooLargeError, TruncatedMediaError

# Where an image failed: the step name used by the error table (_error.pyx), and our own words.
cdef enum:
    STEP_READ = 1
    STEP_DECODE = 2
    STEP_SCALE = 3
    STEP_GENERAL = 4   # not a failure: the image needs the general (libavformat) path

cdef dict _STEP_NAMES = {STEP_READ: "open", STEP_DECODE: "decode", STEP_SCALE: "convert"}

# Image kinds with a fast path (whole file = one packet, no demuxer).
cdef enum:
    KIND_OTHER = -1
    KIND_JPEG = 0
    KIND_PNG = 1
    NUM_KINDS = 2

# Which decode size limit (spdl.io.set_decode_limits) an image broke.
cdef enum:
    LIMIT_NONE = 0
    LIMIT_PIXELS = 1
    LIMIT_BYTES = 2

cdef enum:
    MAX_LOWRES = 3        # the mjpeg decoder's max_lowres
    NUM_SCALERS = 16      # swscale contexts kept per thread (distinct input/output sizes)
    NUM_VERDICTS = 1024   # twin verdicts kept for the process (direct-mapped by key)
    TWIN_NONE = 0
    TWIN_GBRP = 1         # full-chroma packed output: planar G, B, R, interleaved
    TWIN_YUV = 2          # half-chroma packed output: 4:2:2 planes, then the colour tables
    SCRATCH_ALIGN = 64
    AV_EAGAIN = -11

# The swscale gather policy (see "swscale's AVX2 gather kernels" below): 0 not decided yet,
# 1 keep FFmpeg's choice, 2 create our contexts with AV_CPU_FLAG_SLOW_GATHER set.
cdef int _gather_policy = 0
cdef bint _twins_enabled = True     # see use_twins()
cdef int _base_cpu_flags = 0       # FFmpeg's CPU flags as found, restored after each use
cdef PyThread_type_lock _cpu_flags_lock = PyThread_allocate_lock()
_gather_lock = threading.Lock()

# Interleaved 8-bit output formats: name -> (AVPixelFormat, channels).
cdef dict _PIX_FMTS = {
    "rgb24": (avu.AV_PIX_FMT_RGB24, 3),
    "bgr24": (avu.AV_PIX_FMT_BGR24, 3),
    "rgba": (avu.AV_PIX_FMT_RGBA, 4),
    "gray": (avu.AV_PIX_FMT_GRAY8, 1),
}

# swscale algorithms, by the names FFmpeg's scale filter accepts in ``flags=``.
cdef dict _SCALE_ALGOS = {
    "fast_bilinear": sws.SWS_FAST_BILINEAR,
    "bilinear": sws.SWS_BILINEAR,
    "bicubic": sws.SWS_BICUBIC,
    "neighbor": sws.SWS_POINT,
    "area": sws.SWS_AREA,
    "bicublin": sws.SWS_BICUBLIN,
    "gauss": sws.SWS_GAUSS,
    "sinc": sws.SWS_SINC,
    "lanczos": sws.SWS_LANCZOS,
    "spline": sws.SWS_SPLINE,
}

PIX_FMTS = tuple(sorted(_PIX_FMTS))
SCALE_ALGOS = tuple(sorted(_SCALE_ALGOS))


# One image of a batch as the native loop sees it. Pointers are borrowed from Python objects the
# caller keeps alive for the whole call.
cdef struct _Image:
    const char *path          # NUL-terminated file system path, or NULL for in-memory data
    const uint8_t *data       # in-memory encoded bytes (when path is NULL)
    size_t size
    int status                # 0, or a negative AVERROR code
    int step                  # STEP_* where it stopped
    int lowres                # the DCT-domain downscale used (0: full size)
    bint truncated            # a JPEG cut off before its end-of-image marker
    int too_large             # LIMIT_* the image's header broke (checked before decoding)
    int width, height         # the size its header states (for the error message)
    int64_t picture_bytes     # the decoded picture's size estimated from the header


# What a swscale context is made for: the cache key of both caches below. Only ints, so two
# keys compare with memcmp.
cdef struct _ScaleKey:
    int src_width, src_height, src_format, src_colorspace, src_range
    int dst_width, dst_height, dst_format, flags


cdef struct _Scaler:
    sws.SwsContext *ctx
    sws.SwsContext *twin      # a planar twin that gives ctx's bytes faster (see below), or NULL
    int twin_kind             # TWIN_*
    _RgbTables *tables        # TWIN_YUV: swscale's YCbCr-to-RGB tables, built the same way
    _ScaleKey key
    unsigned long last_use
    unsigned long uses        # pictures resized with it; a twin is tried at the second


# The twin verdict of a key: 0 not known, 1 the twin gives the same bytes, -1 it does not.
cdef struct _Verdict:
    _ScaleKey key
    int twin_same


cdef inline int _read_be16(const uint8_t *p) noexcept nogil:
    return (p[0] << 8) | p[1]


cdef bint _starts(const uint8_t *p, size_t n, const char *text) noexcept nogil:
    cdef size_t i = 0
    while text[i] != 0:
        if i >= n or p[i] != <uint8_t>text[i]:
            return False
        i += 1
    return True


cdef bint _sticky_segment(int marker, const uint8_t *p, size_t n) noexcept nogil:
    """Whether this APPn or COM segment (payload ``p[:n]``) may set something the mjpeg decoder
    keeps for later pictures (libavcodec/mjpegdec.c, mjpeg_decode_com and mjpeg_decode_app):
    the comments it acts on ("CS=ITU601" switches it to video range, and a test shows that
    lasting to the next file; "AVID" and the others to quirks of old capture cards), and the
    application segments it reads into its state other than JFIF, JFXX, Exif and ICC profiles
    (Adobe's colour transform, AVI1, LJIF, colr, xfrm, _JPSJPS_, MJPG). Reopening the decoder
    only costs time, so the list errs towards reopening; the encoders' own comments ("Lavc...",
    "CREATOR: ...") are not on it, so most files reuse the decoder."""
    if marker == 0xFE:
        return (_starts(p, n, b"CS=ITU601") or _starts(p, n, b"AVID")
                or _starts(p, n, b"Intel(R) JPEG Library") or _starts(p, n, b"Metasoft MJPEG")
                or _starts(p, n, b"MULTISCOPE"))
    return (_starts(p, n, b"Adob") or _starts(p, n, b"AVI1") or _starts(p, n, b"LJIF")
            or _starts(p, n, b"colr") or _starts(p, n, b"xfrm") or _starts(p, n, b"_JPS")
            or _starts(p, n, b"MJPG"))


cdef int _jpeg_header(const uint8_t *p, size_t n, int *width, int *height, int *sample_bytes,
                      bint *self_contained, bint *complete, bint *leaves_state) noexcept nogil:
    """Walk the JPEG marker segments up to the first scan.

    Finds the frame size (SOFn) and whether the file carries its own Huffman (DHT) and
    quantisation (DQT) tables. The mjpeg decoder keeps tables from one picture to the next (for
    Motion JPEG), so a file without them must get a fresh decoder to decode as the ``ffmpeg``
    command line decodes it. ``complete`` tells whether an end-of-image marker follows the scan:
    the decoder fills a cut-off picture with grey and reports success, and a data loader must
    not hand that on as an image. (Inside entropy-coded data 0xFF is always followed by 0x00 or
    a restart marker, so 0xFF 0xD9 after the scan is the real end.) ``leaves_state``: the file
    has a segment whose effect the decoder keeps for later pictures too (_sticky_segment), so
    it must not decode another image after this one. Returns 0, or
    AVERROR_INVALIDDATA if no frame header is found. ``sample_bytes`` is the decoded picture's
    bytes per pixel at most (components times bytes per sample), for the size limits.
    """
    cdef size_t pos = 2
    cdef int marker, length
    cdef bint has_dht = False, has_dqt = False
    cdef size_t end
    leaves_state[0] = False
    width[0] = 0
    height[0] = 0
    sample_bytes[0] = 3
    complete[0] = False
    while pos + 4 <= n:
        if p[pos] != 0xFF:
            pos += 1  # junk between segments: skip it, as the decoder does
            continue
        marker = p[pos + 1]
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:
            pos += 1 if marker == 0xFF else 2
            continue
        if marker == 0xDA:  # start of scan: the headers are over
            break
        length = _read_be16(p + pos + 2)
        if length < 2:
            return avu.AVERROR_INVALIDDATA
        if marker == 0xC4:
            has_dht = True
        elif (marker == 0xFE or 0xE0 <= marker <= 0xEF) and _sticky_segment(
                marker, p + pos + 4, min(<size_t>length - 2, n - pos - 4)):
            leaves_state[0] = True
        elif marker == 0xDB:
            has_dqt = True
        elif (0xC0 <= marker <= 0xCF and marker != 0xC8 and marker != 0xCC
              and width[0] == 0 and pos + 9 <= n):
            height[0] = _read_be16(p + pos + 5)
            width[0] = _read_be16(p + pos + 7)
            if pos + 10 <= n:
                sample_bytes[0] = max(1, <int>p[pos + 9]) * (2 if p[pos + 4] > 8 else 1)
        pos += 2 + <size_t>length
    self_contained[0] = has_dht and has_dqt
    if width[0] <= 0 or height[0] <= 0:
        return avu.AVERROR_INVALIDDATA
    # Search backwards: the marker is nearly always the last two bytes.
    end = n
    while end >= pos + 2 + 2:
        if p[end - 2] == 0xFF and p[end - 1] == 0xD9:
            complete[0] = True
            break
        end -= 1
    return 0


cdef int _png_header(const uint8_t *p, size_t n, int *width, int *height,
                     int *sample_bytes) noexcept nogil:
    """The size and bytes per pixel a PNG's IHDR chunk states (it must come first)."""
    cdef int depth, channels
    if n < 26 or p[12] != 0x49 or p[13] != 0x48 or p[14] != 0x44 or p[15] != 0x52:
        return avu.AVERROR_INVALIDDATA
    if p[16] & 0x80 or p[20] & 0x80:
        return avu.AVERROR_INVALIDDATA
    width[0] = (p[16] << 24) | (p[17] << 16) | (p[18] << 8) | p[19]
    height[0] = (p[20] << 24) | (p[21] << 16) | (p[22] << 8) | p[23]
    depth = p[24]
    # Colour types: 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA.
    if p[25] == 0:
        channels = 1
    elif p[25] == 2:
        channels = 3
    elif p[25] == 4:
        channels = 2
    else:
        channels = 4  # RGBA, and a palette picture counted as the RGBA it stands for
    sample_bytes[0] = channels * (2 if depth > 8 else 1)
    return 0


cdef int _detect_kind(const uint8_t *p, size_t n) noexcept nogil:
    if n >= 3 and p[0] == 0xFF and p[1] == 0xD8 and p[2] == 0xFF:
        return KIND_JPEG
    if (n >= 8 and p[0] == 0x89 and p[1] == 0x50 and p[2] == 0x4E and p[3] == 0x47
            and p[4] == 0x0D and p[5] == 0x0A and p[6] == 0x1A and p[7] == 0x0A):
        return KIND_PNG
    return KIND_OTHER


cdef int _lowres_for(int w, int h, int dst_w, int dst_h) noexcept nogil:
    """The largest lowres (downscale by 2**lowres) whose output still covers the target in
    both dimensions, so the swscale step after it never upscales. The mjpeg decoder's output at
    lowres L is ceil(size / 2**L) (AV_CEIL_RSHIFT in libavcodec)."""
    cdef int l = 0
    while (l < MAX_LOWRES
           and ((w + (2 << l) - 1) >> (l + 1)) >= dst_w
           and ((h + (2 << l) - 1) >> (l + 1)) >= dst_h):
        l += 1
    return l


# --- swscale contexts and their planar twins ----------------------------------------------
#
# For rgb24 and bgr24 output, swscale's vertical pass and colour conversion run in plain C, one
# pixel at a time: yuv2rgb_full_X_c where it interpolates chroma to full width (4:4:4 input, or
# an odd output width), yuv2rgb_X_c with half-width chroma otherwise. On a 224x224 output that
# stage costs as much as all the rest of the resize. The same sums have SIMD kernels for planar
# output, so a picture can go through a planar twin of the context instead:
#
# - TWIN_GBRP (full chroma): planar G, B, R (libswscale/x86/output.asm, yuv2gbrp_full_X does
#   the packed path's arithmetic), interleaved into the slot.
# - TWIN_YUV (half chroma): 4:2:2 planes at the output size, made with SWS_ACCURATE_RND (the
#   vertical kernels that round as the packed path does: (sum + 2^18) >> 19, clipped) and no
#   range change, then swscale's lookup tables for 24-bit RGB (libswscale/yuv2rgb.c), built
#   here from the context's colour details, give each pixel pair its bytes.
#
# The twin's bytes are not equal in every case (swscale has one- and two-tap vertical paths for
# packed output that round differently, the packed path does not clip luma before its tables,
# bgr24 with half-width chroma has x86 MMX kernels of its own, and other FFmpeg builds may
# differ again), so it is never assumed: the first time a twin is tried for a key, it and the
# context are run on two noise pictures of the same size and format (_twins_agree), and the
# twin is used only if every byte agrees. The verdict is kept per key for the whole process, so the check runs once per key,
# and a twin is only tried for a context's second picture (_Worker._attach_twin).

cdef extern from *:
    """
    /* Three planes into one packed row: dst = a0 b0 c0 a1 b1 c1 ... On x86-64 with SSSE3, 16
       pixels at a time with byte shuffles (GCC does not vectorize this loop by itself at
       -std=c11); elsewhere, and for the last pixels, one at a time. */
    static void spdl_interleave3_c(uint8_t *dst, const uint8_t *a, const uint8_t *b,
                                   const uint8_t *c, int x, int w)
    {
        for (; x < w; x++) {
            dst[3 * x] = a[x];
            dst[3 * x + 1] = b[x];
            dst[3 * x + 2] = c[x];
        }
    }

    #if defined(__x86_64__) && defined(__GNUC__)
    #include <tmmintrin.h>

    /* Output byte k of a 48-byte group comes from vector k % 3, byte k / 3; -1 is zero. */
    __attribute__((target("ssse3")))
    static inline void spdl_store3_ssse3(uint8_t *dst, __m128i va, __m128i vb, __m128i vc)
    {
        const __m128i a0 = _mm_setr_epi8(0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1, -1, 5);
        const __m128i b0 = _mm_setr_epi8(-1, 0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1, -1);
        const __m128i c0 = _mm_setr_epi8(-1, -1, 0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1);
        const __m128i a1 = _mm_setr_epi8(-1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1, 10, -1);
        const __m128i b1 = _mm_setr_epi8(5, -1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1, 10);
        const __m128i c1 = _mm_setr_epi8(-1, 5, -1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1);
        const __m128i a2 = _mm_setr_epi8(-1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15, -1, -1);
        const __m128i b2 = _mm_setr_epi8(-1, -1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15, -1);
        const __m128i c2 = _mm_setr_epi8(10, -1, -1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15);
        __m128i *out = (__m128i *)dst;
        _mm_storeu_si128(out, _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(va, a0),
            _mm_shuffle_epi8(vb, b0)), _mm_shuffle_epi8(vc, c0)));
        _mm_storeu_si128(out + 1, _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(va, a1),
            _mm_shuffle_epi8(vb, b1)), _mm_shuffle_epi8(vc, c1)));
        _mm_storeu_si128(out + 2, _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(va, a2),
            _mm_shuffle_epi8(vb, b2)), _mm_shuffle_epi8(vc, c2)));
    }

    __attribute__((target("ssse3")))
    static void spdl_interleave3_ssse3(uint8_t *dst, const uint8_t *a, const uint8_t *b,
                                       const uint8_t *c, int w)
    {
        int x = 0;
        for (; x + 16 <= w; x += 16)
            spdl_store3_ssse3(dst + 3 * x, _mm_loadu_si128((const __m128i *)(a + x)),
                              _mm_loadu_si128((const __m128i *)(b + x)),
                              _mm_loadu_si128((const __m128i *)(c + x)));
        spdl_interleave3_c(dst, a, b, c, x, w);
    }

    static void spdl_interleave3(uint8_t *dst, const uint8_t *a, const uint8_t *b,
                                 const uint8_t *c, int w)
    {
        if (__builtin_cpu_supports("ssse3"))
            spdl_interleave3_ssse3(dst, a, b, c, w);
        else
            spdl_interleave3_c(dst, a, b, c, 0, w);
    }
    #else
    static void spdl_interleave3(uint8_t *dst, const uint8_t *a, const uint8_t *b,
                                 const uint8_t *c, int w)
    {
        spdl_interleave3_c(dst, a, b, c, 0, w);
    }
    #endif
    """
    void _interleave3 "spdl_interleave3" (uint8_t *dst, const uint8_t *a, const uint8_t *b,
                                          const uint8_t *c, int w) noexcept nogil


cdef extern from *:
    """
    #include <stdlib.h>

    /* swscale's YCbCr-to-RGB lookup for 24-bit output (libswscale/yuv2rgb.c,
       ff_yuv2rgb_c_init_tables, and output.c, yuv2rgb_X_c_template), as offsets into one
       clipped luma ramp: R = y[yoffs + rv[V] + Y], G = y[yoffs + gu[U] + gv[V] + Y],
       B = y[yoffs + bu[U] + Y]. */
    typedef struct {
        int yoffs;
        int rv[256], gu[256], gv[256], bu[256];
        uint8_t y[2048];
        /* With a luma step of exactly 1 (cy == 1 << 16: full range, default contrast), the
           ramp is y[i] = clip(i + base - yoffs), so R = clip(Y + rv[V] + base) and likewise
           for G and B: saturating 16-bit adds, done 16 pixels at a time below, with the
           chroma terms computed from the coefficients rather than looked up. */
        int linear, base;
        int32_t crv, cgu, cgv, cbu;
    } spdl_rgb_tables;

    static spdl_rgb_tables *spdl_rgb_tables_new(const int inv[4], int full_range,
                                                int brightness, int contrast, int saturation)
    {
        spdl_rgb_tables *t = malloc(sizeof(*t));
        int64_t crv = inv[0], cbu = inv[1], cgu = -inv[2], cgv = -inv[3];
        int64_t cy = 1 << 16, oy = 0, yb;
        int i;
        if (!t)
            return NULL;
        if (!full_range) {
            cy = (cy * 255) / 219;
            oy = 16 << 16;
        } else {
            crv = (crv * 224) / 255;
            cbu = (cbu * 224) / 255;
            cgu = (cgu * 224) / 255;
            cgv = (cgv * 224) / 255;
        }
        cy = (cy * contrast) >> 16;
        crv = (crv * contrast * saturation) >> 32;
        cbu = (cbu * contrast * saturation) >> 32;
        cgu = (cgu * contrast * saturation) >> 32;
        cgv = (cgv * contrast * saturation) >> 32;
        oy -= 256LL * brightness;
        if (cy < 1)
            cy = 1;
        crv = (crv * 65536 + 0x8000) / cy;
        cbu = (cbu * 65536 + 0x8000) / cy;
        cgu = (cgu * 65536 + 0x8000) / cy;
        cgv = (cgv * 65536 + 0x8000) / cy;
        /* The ramp: 512 entries of headroom below and above the 1024 the range needs. */
        yb = -(384 << 16) - 512 * cy - oy;
        for (i = 0; i < 2048; i++) {
            int64_t v = (yb + 0x8000) >> 16;
            t->y[i] = v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
            yb += cy;
        }
        t->yoffs = (full_range ? 384 : 326) + 512;
        t->linear = cy == 1 << 16;
        t->crv = (int32_t)crv;
        t->cgu = (int32_t)cgu;
        t->cgv = (int32_t)cgv;
        t->cbu = (int32_t)cbu;
        t->base = t->yoffs + (int)((-(384 << 16) - 512 * cy - oy + 0x8000) >> 16);
        for (i = 0; i < 256; i++) {
            t->rv[i] = (int)(-(crv >> 9) + ((i * crv) >> 16));
            t->gu[i] = (int)(-(cgu >> 9) + ((i * cgu) >> 16));
            t->gv[i] = (int)(-(cgv >> 9) + ((i * cgv) >> 16));
            t->bu[i] = (int)(-(cbu >> 9) + ((i * cbu) >> 16));
        }
        return t;
    }

    /* One row: luma y[0..w), chroma u, v[0..w/2) (w even); bgr swaps the outer bytes. */
    static void spdl_yuv422_row_to_rgb24_c(uint8_t *dst, const uint8_t *y, const uint8_t *u,
                                         const uint8_t *v, int w, const spdl_rgb_tables *t,
                                         int bgr)
    {
        const uint8_t *ramp = t->y + t->yoffs;
        int i;
        for (i = 0; i < w / 2; i++) {
            const uint8_t *r = ramp + t->rv[v[i]];
            const uint8_t *g = ramp + t->gu[u[i]] + t->gv[v[i]];
            const uint8_t *b = ramp + t->bu[u[i]];
            const uint8_t *first = bgr ? b : r, *last = bgr ? r : b;
            int y1 = y[2 * i], y2 = y[2 * i + 1];
            dst[6 * i] = first[y1];
            dst[6 * i + 1] = g[y1];
            dst[6 * i + 2] = last[y1];
            dst[6 * i + 3] = first[y2];
            dst[6 * i + 4] = g[y2];
            dst[6 * i + 5] = last[y2];
        }
    }

    #if defined(__x86_64__) && defined(__GNUC__)
    /* (x * c) >> 16 for 8 samples x in 0..255, exactly (the tables' term): with c = h * 2^16 + l,
       l in 0..65535, it is x * h + ((x * l) >> 16), whatever c's sign. */
    __attribute__((target("ssse3")))
    static inline __m128i spdl_mul_shift16(__m128i x, int32_t c)
    {
        return _mm_add_epi16(_mm_mullo_epi16(x, _mm_set1_epi16((int16_t)(c >> 16))),
                             _mm_mulhi_epu16(x, _mm_set1_epi16((int16_t)(c & 0xFFFF))));
    }

    /* The same row for linear tables, 16 pixels at a time: the chroma terms for 8 samples,
       each added to its two pixels' luma with 16-bit saturation, packed to bytes with unsigned
       saturation (the ramp's clip) and interleaved. */
    __attribute__((target("ssse3")))
    static void spdl_yuv422_row_to_rgb24_ssse3(uint8_t *dst, const uint8_t *y, const uint8_t *u,
                                               const uint8_t *v, int w,
                                               const spdl_rgb_tables *t, int bgr)
    {
        const __m128i zero = _mm_setzero_si128();
        const __m128i kr = _mm_set1_epi16((int16_t)(t->base - (t->crv >> 9)));
        const __m128i kg = _mm_set1_epi16((int16_t)(t->base - (t->cgu >> 9) - (t->cgv >> 9)));
        const __m128i kb = _mm_set1_epi16((int16_t)(t->base - (t->cbu >> 9)));
        int x, k;
        for (x = 0; x + 16 <= w; x += 16) {
            __m128i luma = _mm_loadu_si128((const __m128i *)(y + x));
            __m128i lo = _mm_unpacklo_epi8(luma, zero);
            __m128i hi = _mm_unpackhi_epi8(luma, zero);
            __m128i cu = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(u + x / 2)), zero);
            __m128i cv = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(v + x / 2)), zero);
            __m128i off[3], out[3];
            off[0] = _mm_add_epi16(kr, spdl_mul_shift16(cv, t->crv));
            off[1] = _mm_add_epi16(kg, _mm_add_epi16(spdl_mul_shift16(cu, t->cgu),
                                                     spdl_mul_shift16(cv, t->cgv)));
            off[2] = _mm_add_epi16(kb, spdl_mul_shift16(cu, t->cbu));
            for (k = 0; k < 3; k++)
                out[k] = _mm_packus_epi16(
                    _mm_adds_epi16(lo, _mm_unpacklo_epi16(off[k], off[k])),
                    _mm_adds_epi16(hi, _mm_unpackhi_epi16(off[k], off[k])));
            spdl_store3_ssse3(dst + 3 * x, out[bgr ? 2 : 0], out[1], out[bgr ? 0 : 2]);
        }
        spdl_yuv422_row_to_rgb24_c(dst + 3 * x, y + x, u + x / 2, v + x / 2, w - x, t, bgr);
    }
    #endif

    static void spdl_yuv422_row_to_rgb24(uint8_t *dst, const uint8_t *y, const uint8_t *u,
                                         const uint8_t *v, int w, const spdl_rgb_tables *t,
                                         int bgr)
    {
    #if defined(__x86_64__) && defined(__GNUC__)
        if (t->linear && __builtin_cpu_supports("ssse3")) {
            spdl_yuv422_row_to_rgb24_ssse3(dst, y, u, v, w, t, bgr);
            return;
        }
    #endif
        spdl_yuv422_row_to_rgb24_c(dst, y, u, v, w, t, bgr);
    }
    """
    ctypedef struct _RgbTables "spdl_rgb_tables":
        pass
    _RgbTables *_rgb_tables_new "spdl_rgb_tables_new" (
        const int *inv, int full_range, int brightness, int contrast, int saturation) noexcept nogil
    void _rgb_tables_free "free" (_RgbTables *t) noexcept nogil
    void _yuv422_row_to_rgb24 "spdl_yuv422_row_to_rgb24" (
        uint8_t *dst, const uint8_t *y, const uint8_t *u, const uint8_t *v, int w,
        const _RgbTables *t, int bgr) noexcept nogil


cdef sws.SwsContext *_new_context(const avu.AVFrame *f, int dst_w, int dst_h, int dst_fmt,
                                  int flags, bint keep_range=False) noexcept nogil:
    """A swscale context from ``f``'s size and format, with its colour details as the scale
    filter sets them; ``keep_range``: a YCbCr output in the input's range (no conversion)."""
    cdef sws.SwsContext *ctx
    cdef int *inv_table
    cdef int *table
    cdef int src_range, dst_range, brightness, contrast, saturation
    if _gather_policy == 2:
        # Only while this context picks its kernels (see "swscale's AVX2 gather kernels").
        PyThread_acquire_lock(_cpu_flags_lock, 1)
        avu.av_force_cpu_flags(_base_cpu_flags | avu.AV_CPU_FLAG_SLOW_GATHER)
    ctx = sws.sws_getContext(f.width, f.height, <avu.AVPixelFormat>f.format, dst_w, dst_h,
                             <avu.AVPixelFormat>dst_fmt, flags, NULL, NULL, NULL)
    if ctx != NULL:
        set_frame_colors(ctx, f)
        if keep_range:
            sws.sws_getColorspaceDetails(ctx, &inv_table, &src_range, &table, &dst_range,
                                         &brightness, &contrast, &saturation)
            sws.sws_setColorspaceDetails(ctx, inv_table, src_range, table, src_range,
                                         brightness, contrast, saturation)
    if _gather_policy == 2:
        avu.av_force_cpu_flags(_base_cpu_flags)
        PyThread_release_lock(_cpu_flags_lock)
    return ctx


cdef int _twin_kind(int src_fmt, int dst_w, int dst_fmt, int flags) noexcept nogil:
    """The twin that may stand in for swscale's packed output of this job: 8-bit planar YCbCr
    in, rgb24 or bgr24 out, not fast_bilinear. Full chroma where swscale forces it
    (libswscale/utils.c: chroma not subsampled, or an odd output width), half otherwise (rgb24
    only)."""
    cdef const avu.AVPixFmtDescriptor *desc
    if dst_fmt != avu.AV_PIX_FMT_RGB24 and dst_fmt != avu.AV_PIX_FMT_BGR24:
        return TWIN_NONE
    if flags & sws.SWS_FAST_BILINEAR:
        return TWIN_NONE
    desc = avu.av_pix_fmt_desc_get(<avu.AVPixelFormat>src_fmt)
    if (desc == NULL or desc.nb_components != 3 or not (desc.flags & avu.AV_PIX_FMT_FLAG_PLANAR)
            or desc.flags & (avu.AV_PIX_FMT_FLAG_RGB | avu.AV_PIX_FMT_FLAG_HWACCEL)):
        return TWIN_NONE
    if desc.comp[0].depth != 8 or desc.comp[1].depth != 8 or desc.comp[2].depth != 8:
        return TWIN_NONE
    if (dst_w & 1) != 0 or (desc.log2_chroma_w == 0 and desc.log2_chroma_h == 0):
        return TWIN_GBRP
    # Half-width chroma into bgr24 has x86 MMX kernels of its own (yuv2bgr24_X, rounding
    # otherwise than the C path the tables repeat), so only rgb24 gets that twin.
    return TWIN_YUV if dst_fmt == avu.AV_PIX_FMT_RGB24 else TWIN_NONE


cdef int _make_twin(_Scaler *s, const avu.AVFrame *f, int kind) noexcept nogil:
    """Give ``s`` its twin of ``kind`` (with its tables); 0, or a negative AVERROR code."""
    cdef int *inv_table
    cdef int *table
    cdef int src_range, dst_range, brightness, contrast, saturation
    cdef _ScaleKey *k = &s.key
    if kind == TWIN_GBRP:
        s.twin = _new_context(f, k.dst_width, k.dst_height, avu.AV_PIX_FMT_GBRP, k.flags)
    else:
        s.twin = _new_context(f, k.dst_width, k.dst_height, avu.AV_PIX_FMT_YUV422P,
                              k.flags | sws.SWS_ACCURATE_RND, True)
        if s.twin != NULL:
            sws.sws_getColorspaceDetails(s.ctx, &inv_table, &src_range, &table, &dst_range,
                                         &brightness, &contrast, &saturation)
            s.tables = _rgb_tables_new(inv_table, src_range, brightness, contrast, saturation)
    if s.twin == NULL or (kind == TWIN_YUV and s.tables == NULL):
        _drop_twin(s)
        return avu.AVERROR(ENOMEM)
    s.twin_kind = kind
    return 0


cdef void _drop_twin(_Scaler *s) noexcept nogil:
    sws.sws_freeContext(s.twin)
    s.twin = NULL
    if s.tables != NULL:
        _rgb_tables_free(s.tables)
        s.tables = NULL
    s.twin_kind = TWIN_NONE


# The twin verdicts of the process: a verdict holds for every thread (the contexts are made the
# same way), so each key is checked once however many threads (and pipelines) come and go.
cdef _Verdict _verdicts[NUM_VERDICTS]
cdef PyThread_type_lock _verdicts_lock = PyThread_allocate_lock()


cdef int _known_verdict(const _ScaleKey *key) noexcept nogil:
    """The verdict kept for ``key``: 1, -1, or 0 when none is kept."""
    cdef _Verdict *v = &_verdicts[_key_hash(key) % NUM_VERDICTS]
    cdef int same = 0
    PyThread_acquire_lock(_verdicts_lock, 1)
    if memcmp(&v.key, key, sizeof(_ScaleKey)) == 0:
        same = v.twin_same
    PyThread_release_lock(_verdicts_lock)
    return same


cdef void _keep_verdict(const _ScaleKey *key, int same) noexcept nogil:
    cdef _Verdict *v = &_verdicts[_key_hash(key) % NUM_VERDICTS]
    PyThread_acquire_lock(_verdicts_lock, 1)
    v.key = key[0]
    v.twin_same = same
    PyThread_release_lock(_verdicts_lock)


cdef unsigned int _key_hash(const _ScaleKey *key) noexcept nogil:
    cdef const int *v = <const int *>key
    cdef unsigned int h = 2166136261u
    cdef size_t i
    for i in range(sizeof(_ScaleKey) // sizeof(int)):
        h = (h ^ <unsigned int>v[i]) * 16777619u
    return h ^ (h >> 15)


cdef inline int _aligned(int n) noexcept nogil:
    return (n + SCRATCH_ALIGN - 1) // SCRATCH_ALIGN * SCRATCH_ALIGN


cdef int _grow_buffer(uint8_t **buf, size_t *capacity, size_t n) noexcept nogil:
    """Make ``buf`` hold ``n`` bytes (contents not kept)."""
    if n > capacity[0]:
        avu.av_freep(buf)
        capacity[0] = 0
        buf[0] = <uint8_t *>avu.av_malloc(n + n // 4)
        if buf[0] == NULL:
            return avu.AVERROR(ENOMEM)
        capacity[0] = n + n // 4
    return 0


cdef int _run_twin(const _Scaler *s, const avu.AVFrame *f, uint8_t *scratch, uint8_t *dst,
                   int dst_fmt) noexcept nogil:
    """Resize ``f`` through ``s``'s twin into three planes of ``_aligned(dst_width)`` by
    ``dst_height`` bytes in ``scratch``, then into ``dst``'s packed (H, W, 3) rows."""
    cdef int w = s.key.dst_width, h = s.key.dst_height
    cdef int stride = _aligned(w)
    cdef int chroma_stride = stride if s.twin_kind == TWIN_GBRP else _aligned(w // 2)
    cdef size_t plane_bytes = <size_t>stride * h
    cdef uint8_t *planes[4]
    cdef int strides[4]
    cdef int ret, y
    planes[0] = scratch
    planes[1] = scratch + plane_bytes
    planes[2] = scratch + 2 * plane_bytes
    planes[3] = NULL
    strides[0] = stride
    strides[1] = strides[2] = chroma_stride
    strides[3] = 0
    ret = sws.sws_scale(s.twin, <const uint8_t *const *>f.data, f.linesize, 0, f.height,
                        planes, strides)
    if ret != h:
        return ret if ret < 0 else avu.AVERROR_EXTERNAL
    if s.twin_kind == TWIN_GBRP:
        _interleave_gbr(dst, scratch, stride, plane_bytes, w, h, dst_fmt)
    else:
        for y in range(h):
            _yuv422_row_to_rgb24(dst + <size_t>y * w * 3, planes[0] + <size_t>y * stride,
                                 planes[1] + <size_t>y * chroma_stride,
                                 planes[2] + <size_t>y * chroma_stride, w, s.tables,
                                 dst_fmt == avu.AV_PIX_FMT_BGR24)
    return 0


cdef void _interleave_gbr(uint8_t *dst, const uint8_t *planes, int stride, size_t plane_bytes,
                          int dst_w, int dst_h, int dst_fmt) noexcept nogil:
    """G, B, R planes (as _run_twin lays them out) into packed rgb24 or bgr24 rows."""
    cdef const uint8_t *first = planes + 2 * plane_bytes   # R for rgb24
    cdef const uint8_t *green = planes
    cdef const uint8_t *last = planes + plane_bytes        # B for rgb24
    cdef const uint8_t *tmp
    cdef int y
    if dst_fmt == avu.AV_PIX_FMT_BGR24:
        tmp = first
        first = last
        last = tmp
    for y in range(dst_h):
        _interleave3(dst + <size_t>y * dst_w * 3, first, green, last, dst_w)
        first += stride
        green += stride
        last += stride


cdef int _twins_agree(const _Scaler *s, const avu.AVFrame *like, int dst_fmt) noexcept nogil:
    """1 if ``s``'s twin gives its context's bytes on two noise pictures of ``like``'s size
    and format, -1 if any byte differs, 0 if it could not be told (out of memory). The first
    picture's bytes are uniform noise, which shows any difference in rounding; the second's
    are only 0 and 255, which drives filters with negative lobes (bicubic, lanczos) past the
    ends of the range and so shows any difference in clipping."""
    cdef int w = s.key.dst_width, h = s.key.dst_height
    cdef int stride = _aligned(w)
    cdef size_t row_bytes = <size_t>w * 3
    cdef avu.AVFrame *noise = avu.av_frame_alloc()
    cdef uint8_t *scratch = <uint8_t *>avu.av_malloc(3 * <size_t>stride * h)
    cdef uint8_t *mine = <uint8_t *>avu.av_malloc(row_bytes * h)
    cdef uint8_t *theirs = <uint8_t *>avu.av_malloc(3 * <size_t>stride * h)
    cdef uint8_t *out[4]
    cdef int strides[4]
    cdef int verdict = 0, y, binary
    if noise != NULL and scratch != NULL and mine != NULL and theirs != NULL:
        noise.width, noise.height, noise.format = like.width, like.height, like.format
        if avu.av_frame_get_buffer(noise, 0) >= 0:
            verdict = 1
    out[0] = theirs
    out[1] = out[2] = out[3] = NULL
    strides[0] = 3 * stride   # a multiple of 16, as swscale's SIMD output wants
    strides[1] = strides[2] = strides[3] = 0
    for binary in range(2):
        if verdict != 1:
            break
        _fill_noise(noise, binary)
        if (sws.sws_scale(s.ctx, <const uint8_t *const *>noise.data, noise.linesize, 0,
                          noise.height, out, strides) != h
                or _run_twin(s, noise, scratch, mine, dst_fmt) != 0):
            verdict = 0
            break
        for y in range(h):
            if memcmp(mine + y * row_bytes, theirs + <size_t>y * 3 * stride, row_bytes) != 0:
                verdict = -1
                break
    avu.av_frame_free(&noise)
    avu.av_free(scratch)
    avu.av_free(mine)
    avu.av_free(theirs)
    return verdict


cdef void _fill_noise(avu.AVFrame *f, bint binary) noexcept nogil:
    """Every byte of ``f``'s three planes from a fixed xorshift sequence, eight bytes a step:
    any value, or only 0 and 255 (``binary``: each byte's top bit, spread)."""
    cdef const avu.AVPixFmtDescriptor *desc = avu.av_pix_fmt_desc_get(
        <avu.AVPixelFormat>f.format)
    cdef uint64_t state = 0x9E3779B97F4A7C15u, word
    cdef int p, rows
    cdef size_t i, n
    for p in range(3):
        rows = f.height if p == 0 else -((-f.height) >> desc.log2_chroma_h)
        n = <size_t>f.linesize[p] * rows
        i = 0
        while i < n:
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            word = state
            if binary:
                word = ((word >> 7) & 0x0101010101010101u) * 0xFF
            if i + 8 <= n:
                memcpy(f.data[p] + i, &word, 8)
            else:
                memcpy(f.data[p] + i, &word, n - i)
            i += 8


# --- JPEG scans decoded here ---------------------------------------------------------------
#
# Reading the Huffman codes is most of the time of decoding a JPEG, and libavcodec reads them
# one at a time through its checked bit reader. jpeg_scan.h reads them faster for the common
# file (one sequential Huffman scan of 8-bit grey or YCbCr 4:4:4, 4:2:2, 4:4:0 or 4:2:0, all
# tables in the file, no restart markers) and does the rest with libavcodec's own arithmetic
# and IDCT, so the planes are the mjpeg decoder's. Other files go to libavcodec as before.
#
# Nothing is assumed here either: the first picture of each layout the process meets is
# decoded both ways, and the planes and the frame's format must agree byte for byte. The frame
# details libavcodec gives that picture (format, range, colour space, chroma position: the
# same for every such file, since the files that change them go to libavcodec) are kept with
# the verdict and given to the later pictures of that layout.

cdef enum:
    FAST_CHECK = 2        # _decode_fast: planes made, the layout is not checked yet


cdef struct _JpegLayout:
    int verdict           # 0 not checked yet, 1 the planes agree with libavcodec's, -1 not
    int format, color_range, colorspace, color_primaries, color_trc, chroma_location


cdef _JpegLayout _jpeg_layouts[SPDL_JPEG_NUM_LAYOUTS]
cdef PyThread_type_lock _jpeg_layouts_lock = PyThread_allocate_lock()
cdef bint _fast_jpeg_enabled = True   # see use_fast_jpeg()
cdef bint _fast_jpeg_flip_byte = False  # tests only: spoil jpeg_scan.h's planes (see below)
cdef tuple _JPEG_LAYOUT_NAMES = ("gray", "yuv444", "yuv422", "yuv440", "yuv420")


cdef int _jpeg_layout_format(int layout) noexcept nogil:
    """The pixel format libavcodec gives a picture of this layout (mjpegdec.c, SOF)."""
    if layout == SPDL_JPEG_GRAY:
        return avu.AV_PIX_FMT_GRAY8
    if layout == SPDL_JPEG_444:
        return avu.AV_PIX_FMT_YUVJ444P
    if layout == SPDL_JPEG_422:
        return avu.AV_PIX_FMT_YUVJ422P
    if layout == SPDL_JPEG_440:
        return avu.AV_PIX_FMT_YUVJ440P
    return avu.AV_PIX_FMT_YUVJ420P


cdef class _Worker:
    """What one thread reuses from one image to the next: decoders, swscale contexts, the
    packet, the frame and the read buffer. Owned by a ``threading.local``, never shared."""

    cdef avc.AVCodecContext *decoders[NUM_KINDS][MAX_LOWRES + 1]
    cdef avc.AVPacket *packet
    cdef avu.AVFrame *frame
    cdef _Scaler scalers[NUM_SCALERS]
    cdef unsigned long twin_images[3]   # pictures resized through each TWIN_* (for tests)
    cdef unsigned long clock
    cdef uint8_t *data              # encoded bytes of the current image, padded for the decoder
    cdef size_t capacity
    cdef uint8_t *scratch           # aligned landing area for slots that are not aligned
    cdef size_t scratch_capacity
    cdef int64_t max_pixels         # the decode size limits of the current call (0: none)
    cdef int64_t max_bytes
    # jpeg_scan.h's state: the parsed headers, libavcodec's IDCT, the unstuffed scan, planes
    cdef SpdlJpeg *jpeg
    cdef AVDCT *dct
    cdef uint8_t order[128]         # zigzag position -> the IDCT's coefficient index; 64 after
    cdef int16_t *block             # the coefficients (64 and a spare), then a scratch block
    cdef int16_t *dc_values         # what a DC-only block's pixels are, by DC (-1: not known)
    cdef uint8_t *unstuffed
    cdef size_t unstuffed_capacity
    cdef uint8_t *planes
    cdef size_t planes_capacity
    cdef uint8_t *plane_ptrs[3]
    cdef int plane_strides[3]
    cdef unsigned long fast_jpeg_images   # pictures decoded by jpeg_scan.h (for tests)

    def __cinit__(self):
        self.packet = avc.av_packet_alloc()
        self.frame = avu.av_frame_alloc()
        if self.packet == NULL or self.frame == NULL:
            raise MemoryError("cannot allocate a packet and a frame for image decoding")

    def __dealloc__(self):
        cdef int k, l
        for k in range(NUM_KINDS):
            for l in range(MAX_LOWRES + 1):
                avc.avcodec_free_context(&self.decoders[k][l])
        for k in range(NUM_SCALERS):
            sws.sws_freeContext(self.scalers[k].ctx)
            self.scalers[k].ctx = NULL
            _drop_twin(&self.scalers[k])
        avc.av_packet_free(&self.packet)
        avu.av_frame_free(&self.frame)
        avu.av_freep(&self.data)
        avu.av_freep(&self.scratch)
        avu.av_freep(&self.jpeg)
        avu.av_freep(&self.dct)
        avu.av_freep(&self.block)
        avu.av_freep(&self.dc_values)
        avu.av_freep(&self.unstuffed)
        avu.av_freep(&self.planes)

    # --- reading ----------------------------------------------------------------------------

    cdef int _reserve(self, size_t n) noexcept nogil:
        """Make ``data`` hold ``n`` bytes plus the zeroed padding decoders may read past the
        end (AV_INPUT_BUFFER_PADDING_SIZE). Keeps nothing of the old contents."""
        return _grow_buffer(&self.data, &self.capacity, n + avc.AV_INPUT_BUFFER_PADDING_SIZE)

    cdef int _grow(self, size_t used) noexcept nogil:
        cdef size_t cap = self.capacity * 2 + 65536
        cdef uint8_t *p = <uint8_t *>avu.av_malloc(cap)
        if p == NULL:
            return avu.AVERROR(ENOMEM)
        memcpy(p, self.data, used)
        avu.av_freep(&self.data)
        self.data = p
        self.capacity = cap
        return 0

    cdef int _read_file(self, const char *path, size_t *size) noexcept nogil:
        cdef int fd = os_open(path, O_RDONLY)
        cdef struct_stat st
        cdef size_t total = 0
        cdef Py_ssize_t got
        cdef int ret = 0
        if fd < 0:
            return avu.AVERROR(errno)
        if fstat(fd, &st) != 0:
            ret = avu.AVERROR(errno)
        elif S_ISDIR(st.st_mode):
            ret = avu.AVERROR(EISDIR)
        else:
            ret = self._reserve(<size_t>st.st_size + 1)
        while ret == 0:
            # st_size is only a hint: read to the end of the file, growing if it grew.
            if total + avc.AV_INPUT_BUFFER_PADDING_SIZE >= self.capacity:
                ret = self._grow(total)
                if ret < 0:
                    break
            got = os_read(fd, self.data + total,
                          self.capacity - avc.AV_INPUT_BUFFER_PADDING_SIZE - total)
            if got < 0:
                ret = avu.AVERROR(errno)
            elif got == 0:
                break
            else:
                total += <size_t>got
        os_close(fd)
        if ret == 0:
            memset(self.data + total, 0, avc.AV_INPUT_BUFFER_PADDING_SIZE)
            size[0] = total
        return ret

    # --- decoding -----------------------------------------------------------------------------

    cdef avc.AVCodecContext *_decoder(self, int kind, int lowres, int *status) noexcept nogil:
        cdef avc.AVCodecContext *ctx = self.decoders[kind][lowres]
        cdef const avc.AVCodec *codec
        if ctx != NULL:
            return ctx
        codec = avc.avcodec_find_decoder(
            avc.AV_CODEC_ID_MJPEG if kind == KIND_JPEG else avc.AV_CODEC_ID_PNG)
        if codec == NULL:
            status[0] = avu.AVERROR_DECODER_NOT_FOUND
            return NULL
        ctx = avc.avcodec_alloc_context3(codec)
        if ctx == NULL:
            status[0] = avu.AVERROR(ENOMEM)
            return NULL
        # One image is one task: parallelism comes from many images on many threads.
        ctx.thread_count = 1
        ctx.lowres = lowres
        if kind == KIND_JPEG:
            # A damaged scan fails instead of coming out patched over with grey or with what
            # the decoder's last picture left in its buffers (as load_image: _decode.pyx).
            ctx.err_recognition |= avc.AV_EF_EXPLODE
        status[0] = avc.avcodec_open2(ctx, codec, NULL)
        if status[0] < 0:
            avc.avcodec_free_context(&ctx)
            return NULL
        self.decoders[kind][lowres] = ctx
        return ctx

    cdef int _decode(self, avc.AVCodecContext *ctx, avc.AVPacket *packet) noexcept nogil:
        """Send one packet holding a whole image and receive its picture into ``frame``."""
        cdef int ret = avc.avcodec_send_packet(ctx, packet)
        if ret < 0:
            return ret
        ret = avc.avcodec_receive_frame(ctx, self.frame)
        if ret == AV_EAGAIN:
            # A decoder with a delay: drain it. The next image gets a flushed decoder.
            ret = avc.avcodec_send_packet(ctx, NULL)
            if ret >= 0:
                ret = avc.avcodec_receive_frame(ctx, self.frame)
            avc.avcodec_flush_buffers(ctx)
        if ret == avu.AVERROR_EOF:
            ret = avu.AVERROR_INVALIDDATA  # the data held no picture
        return ret

    cdef int _decode_data(self, avc.AVCodecContext *ctx, size_t size) noexcept nogil:
        """Decode the ``size`` bytes in ``data`` as one packet into ``frame``. A plain (not
        reference-counted) packet over our buffer: the decoder copies what it keeps, so the
        buffer is ours again once the picture is out."""
        cdef int ret
        self.packet.data = self.data
        self.packet.size = <int>size
        ret = self._decode(ctx, self.packet)
        self.packet.data = NULL
        self.packet.size = 0
        return ret

    cdef int _init_fast(self) noexcept nogil:
        """Allocate jpeg_scan.h's state; ``dct`` is set last, only when all of it is ready."""
        cdef int i, ret = 0
        cdef AVDCT *dct
        self.jpeg = <SpdlJpeg *>avu.av_malloc(sizeof(SpdlJpeg))
        self.block = <int16_t *>avu.av_malloc(3 * 64 * sizeof(int16_t))
        self.dc_values = <int16_t *>avu.av_malloc(65536 * sizeof(int16_t))
        dct = avcodec_dct_alloc()
        if (self.jpeg == NULL or self.block == NULL or self.dc_values == NULL
                or dct == NULL):
            ret = avu.AVERROR(ENOMEM)
        else:
            ret = avcodec_dct_init(dct)
        if ret < 0:
            avu.av_freep(&self.jpeg)
            avu.av_freep(&self.block)
            avu.av_freep(&self.dc_values)
            avu.av_freep(&dct)
            return ret
        memset(self.dc_values, 0xFF, 65536 * sizeof(int16_t))
        self.dct = dct
        for i in range(64):
            self.order[i] = self.dct.idct_permutation[spdl_zigzag[i]]
            self.order[64 + i] = 64
        return 0

    cdef int _decode_fast(self, size_t size, bint compare=False) noexcept nogil:
        """Decode the JPEG in ``data`` with jpeg_scan.h into ``planes`` and point ``frame`` at
        them. Returns 0; FAST_CHECK when the planes are made but their layout is not checked
        yet (the caller decodes the file with libavcodec too and calls _check_fast), or always
        with ``compare`` (for compare_with_libavcodec); SPDL_JPEG_DECLINE for a file that is
        libavcodec's; or a negative AVERROR."""
        cdef SpdlJpeg *j
        cdef _JpegLayout layout
        cdef avu.AVFrame *f = self.frame
        cdef Py_ssize_t n
        cdef size_t total = 0
        cdef int c, ret, hs, vs
        if self.dct == NULL:
            ret = self._init_fast()
            if ret < 0:
                return ret
        j = self.jpeg
        if spdl_jpeg_parse(j, self.data, size) != 0:
            return SPDL_JPEG_DECLINE
        PyThread_acquire_lock(_jpeg_layouts_lock, 1)
        layout = _jpeg_layouts[j.layout]
        PyThread_release_lock(_jpeg_layouts_lock)
        if layout.verdict < 0 and not compare:
            return SPDL_JPEG_DECLINE
        ret = _grow_buffer(&self.unstuffed, &self.unstuffed_capacity,
                           size - j.scan_start + SPDL_JPEG_PADDING)
        if ret < 0:
            return ret
        n = spdl_jpeg_unstuff(self.unstuffed, self.data + j.scan_start, size - j.scan_start)
        if n < 0:
            return SPDL_JPEG_DECLINE
        # Each plane covers whole MCUs: the decoder writes whole blocks, as libavcodec's does.
        for c in range(j.ncomp):
            hs = 1 if j.ncomp == 1 else j.hs[c]
            vs = 1 if j.ncomp == 1 else j.vs[c]
            self.plane_strides[c] = _aligned(j.mcu_w * hs * 8)
            total += <size_t>self.plane_strides[c] * (j.mcu_h * vs * 8)
        # Plus slack past the last row, as FFmpeg's frames have, for SIMD reads near the end.
        ret = _grow_buffer(&self.planes, &self.planes_capacity, total + SCRATCH_ALIGN)
        if ret < 0:
            return ret
        total = 0
        for c in range(j.ncomp):
            self.plane_ptrs[c] = self.planes + total
            vs = 1 if j.ncomp == 1 else j.vs[c]
            total += <size_t>self.plane_strides[c] * (j.mcu_h * vs * 8)
        if spdl_jpeg_decode(j, self.unstuffed, <size_t>n, self.plane_ptrs, self.plane_strides,
                            self.order, self.dct.idct, self.block, self.block + 128,
                            self.dc_values) != 0:
            return SPDL_JPEG_DECLINE
        if _fast_jpeg_flip_byte:
            self.plane_ptrs[0][0] ^= 1
        if layout.verdict == 0 or compare:
            return FAST_CHECK
        f.format = layout.format
        f.width = j.width
        f.height = j.height
        for c in range(j.ncomp):
            f.data[c] = self.plane_ptrs[c]
            f.linesize[c] = self.plane_strides[c]
        f.color_range = layout.color_range
        f.colorspace = layout.colorspace
        f.color_primaries = layout.color_primaries
        f.color_trc = layout.color_trc
        f.chroma_location = layout.chroma_location
        self.fast_jpeg_images += 1
        return 0

    cdef int _same_planes(self) noexcept nogil:
        """Whether the planes _decode_fast made equal libavcodec's picture of the same file in
        ``frame``: 1 or -1, or 0 where libavcodec gave a format other than the layout's."""
        cdef const SpdlJpeg *j = self.jpeg
        cdef const avu.AVFrame *f = self.frame
        cdef int c, y, w, h
        if (f.format != _jpeg_layout_format(j.layout) or f.width != j.width
                or f.height != j.height):
            return 0
        for c in range(j.ncomp):
            w, h = j.width, j.height
            if c > 0 and (j.layout == SPDL_JPEG_420 or j.layout == SPDL_JPEG_422):
                w = (w + 1) >> 1
            if c > 0 and (j.layout == SPDL_JPEG_420 or j.layout == SPDL_JPEG_440):
                h = (h + 1) >> 1
            for y in range(h):
                if memcmp(f.data[c] + <size_t>y * f.linesize[c],
                          self.plane_ptrs[c] + <size_t>y * self.plane_strides[c], w) != 0:
                    return -1
        return 1

    cdef void _check_fast(self) noexcept nogil:
        """Keep the verdict of _same_planes for the layout, with the frame's details."""
        cdef int same = self._same_planes()
        cdef const avu.AVFrame *f = self.frame
        cdef _JpegLayout *layout = &_jpeg_layouts[self.jpeg.layout]
        if same == 0:
            return  # not what this layout gives: no verdict from this picture
        PyThread_acquire_lock(_jpeg_layouts_lock, 1)
        layout.verdict = same
        layout.format = f.format
        layout.color_range = f.color_range
        layout.colorspace = f.colorspace
        layout.color_primaries = f.color_primaries
        layout.color_trc = f.color_trc
        layout.chroma_location = f.chroma_location
        PyThread_release_lock(_jpeg_layouts_lock)

    cdef int _check_limits(self, _Image *im, int w, int h, int sample_bytes) noexcept nogil:
        """Refuse, before decoding, a picture whose header states more than the decode size
        limits allow: a small file can claim a huge picture (a decompression bomb)."""
        im.width, im.height = w, h
        im.picture_bytes = <int64_t>w * h * sample_bytes
        if self.max_pixels and <int64_t>w * h > self.max_pixels:
            im.too_large = LIMIT_PIXELS
        elif self.max_bytes and im.picture_bytes > self.max_bytes:
            im.too_large = LIMIT_BYTES
        else:
            return 0
        return avu.AVERROR(ERANGE)

    cdef int _decode_whole(self, _Image *im, int kind, size_t size,
                           int dst_w, int dst_h, bint allow_lowres) noexcept nogil:
        cdef int ret = 0, w, h, sample_bytes, lowres = 0, fast = SPDL_JPEG_DECLINE
        cdef bint self_contained = True, complete = True, leaves_state = False
        cdef avc.AVCodecContext *ctx
        if kind == KIND_PNG:
            ret = _png_header(self.data, size, &w, &h, &sample_bytes)
            if ret < 0:
                return ret
            ret = self._check_limits(im, w, h, sample_bytes)
            if ret < 0:
                return ret
        if kind == KIND_JPEG:
            ret = _jpeg_header(self.data, size, &w, &h, &sample_bytes, &self_contained,
                               &complete, &leaves_state)
            if ret < 0:
                return ret
            ret = self._check_limits(im, w, h, sample_bytes)
            if ret < 0:
                return ret
            if not complete:
                im.truncated = True
                return avu.AVERROR_INVALIDDATA
            if allow_lowres:
                lowres = _lowres_for(w, h, dst_w, dst_h)
            if not self_contained:
                avc.avcodec_free_context(&self.decoders[KIND_JPEG][lowres])
        im.lowres = lowres
        if kind == KIND_JPEG and lowres == 0 and not leaves_state and _fast_jpeg_enabled:
            fast = self._decode_fast(size)
            if fast <= 0:
                return fast  # the picture (0), or out of memory
        ctx = self._decoder(kind, lowres, &ret)
        if ctx == NULL:
            return ret
        ret = self._decode_data(ctx, size)
        if ret >= 0 and fast == FAST_CHECK:
            self._check_fast()
        if ret < 0 or kind == KIND_PNG or leaves_state:
            # Whatever state a failure or a JPEG's sticky segments left behind must not touch
            # the next image. The png decoder also keeps state from one picture to the next
            # that a flush does not clear (tested: a reused one decodes a later PNG wrongly), so
            # it is opened per image; that costs little next to inflating the data.
            avc.avcodec_free_context(&self.decoders[kind][lowres])
        if ret < 0:
            avu.av_frame_unref(self.frame)
        return ret

    # --- resizing -----------------------------------------------------------------------------

    cdef _Scaler *_scaler(self, const avu.AVFrame *f, int dst_w, int dst_h, int dst_fmt,
                          int flags, int *status) noexcept nogil:
        """The swscale context for ``f``'s size, format and colour details, set up as FFmpeg's
        scale filter sets it up (libavfilter/vf_scale.c), with its planar twin where one gives
        the same bytes. The colour details are applied once, when the context is made: swscale
        changes its state on every sws_setColorspaceDetails call for some inputs (RGBA), so
        applying them per image would make the second image differ from what the scale filter
        gives for it."""
        cdef int i, victim = 0
        cdef _Scaler *s
        cdef _ScaleKey key
        memset(&key, 0, sizeof(_ScaleKey))
        key.src_width, key.src_height, key.src_format = f.width, f.height, f.format
        # The matrix set_frame_colors will pick for the frame.
        key.src_colorspace = f.colorspace
        if key.src_colorspace < 1 or key.src_colorspace > 10 or key.src_colorspace == 8:
            key.src_colorspace = avu.AVCOL_SPC_BT470BG
        key.src_range = f.color_range
        key.dst_width, key.dst_height, key.dst_format, key.flags = dst_w, dst_h, dst_fmt, flags
        self.clock += 1
        for i in range(NUM_SCALERS):
            s = &self.scalers[i]
            if s.ctx != NULL and memcmp(&s.key, &key, sizeof(_ScaleKey)) == 0:
                s.last_use = self.clock
                s.uses += 1
                if s.uses == 2:
                    self._attach_twin(s, f)
                return s
            if s.last_use < self.scalers[victim].last_use:
                victim = i
        s = &self.scalers[victim]
        sws.sws_freeContext(s.ctx)
        _drop_twin(s)
        memset(s, 0, sizeof(_Scaler))
        s.ctx = _new_context(f, dst_w, dst_h, dst_fmt, flags)
        if s.ctx == NULL:
            status[0] = avu.AVERROR(EINVAL)
            return NULL
        s.key = key
        s.last_use = self.clock
        s.uses = 1
        return s

    cdef void _attach_twin(self, _Scaler *s, const avu.AVFrame *f) noexcept nogil:
        """Give ``s`` its planar twin if its key has one that gives the same bytes. Done at a
        context's second picture, not its first: making the twin and checking it costs a few
        pictures' worth of resizing, which only a context that is used again pays back (a
        folder of many sizes makes most contexts once)."""
        cdef int same, kind = TWIN_NONE
        if _twins_enabled:
            kind = _twin_kind(s.key.src_format, s.key.dst_width, s.key.dst_format, s.key.flags)
        if kind == TWIN_NONE:
            return
        same = _known_verdict(&s.key)
        if same >= 0 and _make_twin(s, f, kind) == 0:
            if same == 0:
                same = _twins_agree(s, f, s.key.dst_format)
                if same != 0:
                    _keep_verdict(&s.key, same)
            if same <= 0:
                # Not the same bytes, or not known (out of memory while checking): swscale's
                # own packed output it is.
                _drop_twin(s)

    cdef int _reserve_scratch(self, size_t n) noexcept nogil:
        return _grow_buffer(&self.scratch, &self.scratch_capacity, n)

    cdef int _scale(self, uint8_t *dst, int dst_w, int dst_h, int dst_fmt, int channels,
                    int flags) noexcept nogil:
        """Resize ``frame`` into ``dst`` (a (H, W, C) slot) and release the frame."""
        cdef int ret = 0
        cdef avu.AVFrame *f = self.frame
        cdef _Scaler *s
        cdef int row_bytes = dst_w * channels
        cdef int stride = row_bytes
        cdef uint8_t *out = dst
        cdef uint8_t *planes[4]
        cdef int strides[4]
        cdef int y
        s = self._scaler(f, dst_w, dst_h, dst_fmt, flags, &ret)
        if s == NULL:
            avu.av_frame_unref(f)
            return ret
        if s.twin != NULL:
            self.twin_images[s.twin_kind] += 1
            return self._scale_twin(s, dst, dst_fmt)
        # swscale's SIMD output wants 16-byte aligned rows (it warns and slows down otherwise);
        # a slot that is not aligned gets the picture through an aligned scratch area.
        if (<uintptr_t>dst) % 16 or row_bytes % 16:
            stride = _aligned(row_bytes)
            ret = self._reserve_scratch(<size_t>stride * dst_h)
            if ret < 0:
                avu.av_frame_unref(f)
                return ret
            out = self.scratch
        planes[0] = out
        planes[1] = planes[2] = planes[3] = NULL
        strides[0] = stride
        strides[1] = strides[2] = strides[3] = 0
        ret = sws.sws_scale(s.ctx, <const uint8_t *const *>f.data, f.linesize, 0, f.height,
                            planes, strides)
        avu.av_frame_unref(f)
        if ret != dst_h:
            return ret if ret < 0 else avu.AVERROR_EXTERNAL
        if out != dst:
            for y in range(dst_h):
                memcpy(dst + <size_t>y * row_bytes, out + <size_t>y * stride, row_bytes)
        return 0

    cdef int _scale_twin(self, const _Scaler *s, uint8_t *dst, int dst_fmt) noexcept nogil:
        """Resize ``frame`` through ``s``'s twin into ``dst`` (a (H, W, 3) slot) and release
        the frame."""
        cdef int ret = self._reserve_scratch(
            3 * <size_t>_aligned(s.key.dst_width) * s.key.dst_height)
        if ret == 0:
            ret = _run_twin(s, self.frame, self.scratch, dst, dst_fmt)
        avu.av_frame_unref(self.frame)
        return ret

    # --- the loops ----------------------------------------------------------------------------

    cdef Py_ssize_t _run(self, _Image *images, Py_ssize_t start, Py_ssize_t count, uint8_t *out,
                         int dst_w, int dst_h, int dst_fmt, int channels, int flags,
                         bint allow_lowres, Budget *budget) noexcept nogil:
        """Decode images[start:count] into their slots. Stops at the first image that failed
        or needs the general path and returns its index (``count`` when all went through)."""
        cdef Py_ssize_t i
        cdef _Image *im
        cdef size_t size
        cdef size_t slot_bytes = <size_t>dst_w * dst_h * channels
        cdef int kind
        for i in range(start, count):
            im = &images[i]
            clear_ffmpeg_log()
            im.step = STEP_READ
            im.status = budget_check(budget)
            if im.status < 0:
                return i
            size = 0
            if im.path != NULL:
                im.status = self._read_file(im.path, &size)
            else:
                im.status = self._reserve(im.size)
                if im.status == 0:
                    memcpy(self.data, im.data, im.size)
                    memset(self.data + im.size, 0, avc.AV_INPUT_BUFFER_PADDING_SIZE)
                    size = im.size
            if im.status < 0:
                return i
            if size == 0:
                im.status = avu.AVERROR_INVALIDDATA
                return i
            kind = _detect_kind(self.data, size)
            if kind == KIND_OTHER:
                im.step = STEP_GENERAL
                return i
            im.step = STEP_DECODE
            im.status = self._decode_whole(im, kind, size, dst_w, dst_h, allow_lowres)
            if im.status < 0:
                return i
            im.step = STEP_SCALE
            im.status = self._scale(out + <size_t>i * slot_bytes, dst_w, dst_h, dst_fmt,
                                    channels, flags)
            if im.status < 0:
                return i
        return count

    cdef int _run_general(self, Input inp, _Image *im, uint8_t *slot, int dst_w, int dst_h,
                          int dst_fmt, int channels, int flags) noexcept nogil:
        """Decode the first picture of an opened container and resize it into ``slot``."""
        cdef const void *codec = NULL
        cdef avc.AVCodecContext *ctx = NULL
        cdef avc.AVCodecParameters *par
        cdef int index, ret
        clear_ffmpeg_log()
        im.step = STEP_READ
        index = avfmt.av_find_best_stream(inp.fmt_ctx, avu.AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)
        if index < 0:
            im.status = index
            return index
        im.step = STEP_DECODE
        par = inp.fmt_ctx.streams[index].codecpar
        if par.width > 0 and par.height > 0:
            ret = avu.av_image_get_buffer_size(<avu.AVPixelFormat>par.format, par.width,
                                               par.height, 1) if par.format >= 0 else -1
            ret = self._check_limits(im, par.width, par.height,
                                     4 if ret < 0 else max(1, ret // par.width // par.height))
            if ret < 0:
                im.status = ret
                return ret
        ctx = avc.avcodec_alloc_context3(<const avc.AVCodec *>codec)
        if ctx == NULL:
            im.status = avu.AVERROR(ENOMEM)
            return im.status
        ret = avc.avcodec_parameters_to_context(ctx, inp.fmt_ctx.streams[index].codecpar)
        if ret >= 0:
            ctx.thread_count = 1
            ret = avc.avcodec_open2(ctx, <const avc.AVCodec *>codec, NULL)
        while ret >= 0:
            ret = avfmt.av_read_frame(inp.fmt_ctx, self.packet)
            if ret == avu.AVERROR_EOF:
                ret = self._decode(ctx, NULL)  # flush: a picture may still be inside
                break
            if ret < 0:
                im.step = STEP_READ
                break
            if self.packet.stream_index != index:
                avc.av_packet_unref(self.packet)
                continue
            ret = avc.avcodec_send_packet(ctx, self.packet)
            avc.av_packet_unref(self.packet)
            if ret < 0:
                break
            ret = avc.avcodec_receive_frame(ctx, self.frame)
            if ret != AV_EAGAIN:
                break
            ret = 0
        avc.avcodec_free_context(&ctx)
        if ret >= 0:
            im.step = STEP_SCALE
            ret = self._scale(slot, dst_w, dst_h, dst_fmt, channels, flags)
        else:
            avu.av_frame_unref(self.frame)
        im.status = ret
        return ret


# --- swscale's AVX2 gather kernels ---------------------------------------------------------
#
# On x86 with AVX2, swscale's horizontal scaler uses vpgatherdd (libswscale/x86/scale_avx2.asm,
# chosen when the output width is a multiple of 16, as 224 is) unless the CPU is flagged
# AV_CPU_FLAG_SLOW_GATHER. On CPUs whose gathers are slow (Intel parts with the Gather Data
# Sampling microcode mitigation; FFmpeg only knows about older ones) that kernel is several
# times slower than the SSSE3 one: on the benchmark machine the whole per-image cost is 12%
# lower without it (docs/performance.md). Both kernels compute the same integer sums, so the
# output is identical.
#
# swscale reads the CPU flags only while a context picks its kernels (sws_getContext and
# sws_setColorspaceDetails), and has no per-context way to pass them. So the flag is set only
# around the creation of our own contexts, under one lock, and the flags are put back before
# the lock is released: FFmpeg's flags are left as they were for every other user. The one
# side effect: another thread creating a swscale context in that same microsecond window also
# gets the SSSE3 kernel, which gives the same bytes. The first call times one typical
# conversion both ways and uses the flag only if the SSSE3 kernel wins by a clear margin.

cdef int _time_scale(int extra_cpu_flags, avu.AVFrame *src, uint8_t *dst,
                     double *best) noexcept nogil:
    """Best of 3 times (seconds, into ``best``) of a few 500x375 yuv420p -> 224x224 rgb24
    bilinear scales, with a context made under ``extra_cpu_flags``."""
    cdef sws.SwsContext *ctx
    cdef uint8_t *planes[4]
    cdef int strides[4]
    cdef int64_t t0
    cdef int rep, k
    PyThread_acquire_lock(_cpu_flags_lock, 1)
    avu.av_force_cpu_flags(_base_cpu_flags | extra_cpu_flags)
    ctx = sws.sws_getContext(src.width, src.height, src.format, 224, 224,
                             avu.AV_PIX_FMT_RGB24, sws.SWS_BILINEAR, NULL, NULL, NULL)
    avu.av_force_cpu_flags(_base_cpu_flags)
    PyThread_release_lock(_cpu_flags_lock)
    if ctx == NULL:
        return -1
    planes[0] = dst
    planes[1] = planes[2] = planes[3] = NULL
    strides[0] = 224 * 3
    strides[1] = strides[2] = strides[3] = 0
    for rep in range(3):
        t0 = avu.av_gettime_relative()
        for k in range(4):
            sws.sws_scale(ctx, <const uint8_t *const *>src.data, src.linesize, 0, src.height,
                          planes, strides)
        best[0] = min(best[0], (avu.av_gettime_relative() - t0) * 1e-6)
    sws.sws_freeContext(ctx)
    return 0


cdef void _decide_gather_policy():
    global _gather_policy, _base_cpu_flags
    cdef avu.AVFrame *src
    cdef uint8_t *dst
    cdef double with_gather = 1e9, without_gather = 1e9
    cdef int i, policy = 1
    with _gather_lock:
        if _gather_policy:
            return
        _base_cpu_flags = avu.av_get_cpu_flags()
        if not (_base_cpu_flags & avu.AV_CPU_FLAG_AVX2) or (
                _base_cpu_flags & avu.AV_CPU_FLAG_SLOW_GATHER):
            _gather_policy = 1
            return
        src = avu.av_frame_alloc()
        dst = <uint8_t *>avu.av_malloc(224 * 224 * 3)
        if src != NULL and dst != NULL:
            src.width, src.height, src.format = 500, 375, avu.AV_PIX_FMT_YUV420P
            if avu.av_frame_get_buffer(src, 0) >= 0:
                for i in range(3):
                    memset(src.data[i], 128, src.linesize[i] * (375 if i == 0 else 188))
                with nogil:
                    for i in range(2):
                        _time_scale(0, src, dst, &with_gather)
                        _time_scale(avu.AV_CPU_FLAG_SLOW_GATHER, src, dst, &without_gather)
                if without_gather < 0.85 * with_gather:
                    policy = 2
        avu.av_frame_free(&src)
        avu.av_free(dst)
        _gather_policy = policy


def swscale_gathers_avoided():
    """Whether spdl's swscale contexts avoid the AVX2 gather kernels (None: not decided yet).

    Decided on the first ``load_image_batch`` call by timing both kernels on this CPU. FFmpeg's
    process-wide CPU flags are never left changed (see the comment above this function).
    """
    return None if _gather_policy == 0 else _gather_policy == 2


def use_twins(bint enabled):
    """Let swscale contexts get planar twins from now on (the default), or not.

    For measuring what the twins buy (``bench/image_pipeline.py``'s ``spdl-packed``) and for
    tests: the bytes are the same either way. A context that already has its twin keeps it; one
    that reached its second picture while twins were off never gets one."""
    global _twins_enabled
    _twins_enabled = enabled


def twin_images():
    """How many pictures this thread has resized through each kind of planar twin, as
    ``{"gbrp": n, "yuv": n}`` (see "swscale contexts and their planar twins")."""
    cdef _Worker w = _worker()
    return {"gbrp": w.twin_images[TWIN_GBRP], "yuv": w.twin_images[TWIN_YUV]}


def use_fast_jpeg(bint enabled):
    """Decode the common JPEGs' scans with jpeg_scan.h from now on (the default), or give every
    JPEG to libavcodec's mjpeg decoder. For measuring what it buys and for tests: the bytes are
    the same either way."""
    global _fast_jpeg_enabled
    _fast_jpeg_enabled = enabled


def fast_jpeg_images():
    """How many pictures this thread has decoded with jpeg_scan.h."""
    return _worker().fast_jpeg_images


def _check_fast_jpeg_for_tests(bint flip_byte):
    """For tests of the layout check: forget every layout's verdict (the next picture of each is
    checked again), and with ``flip_byte`` spoil one byte of every picture jpeg_scan.h makes
    from now on, as a decoder that disagreed with libavcodec would."""
    global _fast_jpeg_flip_byte
    PyThread_acquire_lock(_jpeg_layouts_lock, 1)
    memset(_jpeg_layouts, 0, sizeof(_jpeg_layouts))
    _fast_jpeg_flip_byte = flip_byte
    PyThread_release_lock(_jpeg_layouts_lock)


def fast_jpeg_layouts():
    """The process's verdict for each JPEG layout: 1 when its first picture's planes equalled
    libavcodec's (jpeg_scan.h decodes that layout), -1 when they did not (libavcodec does), 0
    when no picture of it has been checked yet."""
    return {name: _jpeg_layouts[i].verdict for i, name in enumerate(_JPEG_LAYOUT_NAMES)}


def compare_with_libavcodec(data):
    """For tests: decode the JPEG ``data`` (bytes) with jpeg_scan.h and with a fresh libavcodec
    mjpeg decoder, and compare. Returns None when the file is not jpeg_scan.h's (it declines
    it, or load_image_batch would not offer it: a segment that changes the decoder's state),
    True when libavcodec gives the same format and the same bytes in every plane, False
    otherwise (libavcodec failing on a file jpeg_scan.h decoded included). Keeps no verdict."""
    cdef _Worker w = _worker()
    cdef const uint8_t[::1] view = data
    cdef size_t n = view.shape[0]
    cdef int ret, fast, width, height, sample_bytes
    cdef bint self_contained, complete, leaves_state
    cdef avc.AVCodecContext *ctx
    if n < 4 or w._reserve(n) < 0:
        return None
    memcpy(w.data, &view[0], n)
    memset(w.data + n, 0, avc.AV_INPUT_BUFFER_PADDING_SIZE)
    if (_jpeg_header(w.data, n, &width, &height, &sample_bytes, &self_contained, &complete,
                     &leaves_state) < 0 or leaves_state):
        return None
    fast = w._decode_fast(n, True)
    if fast < 0:
        raise MemoryError("out of memory decoding a JPEG")
    if fast != FAST_CHECK:
        return None
    avc.avcodec_free_context(&w.decoders[KIND_JPEG][0])
    ctx = w._decoder(KIND_JPEG, 0, &ret)
    if ctx == NULL:
        raise MediaError(f"cannot open the mjpeg decoder ({ret})")
    ret = w._decode_data(ctx, n)
    avc.avcodec_free_context(&w.decoders[KIND_JPEG][0])
    if ret >= 0:
        ret = w._same_planes()
    avu.av_frame_unref(w.frame)
    return ret == 1


_local = threading.local()


cdef _Worker _worker():
    worker = getattr(_local, "worker", None)
    if worker is None:
        worker = _local.worker = _Worker()
    return worker


cdef object _image_error(_Image *im, Py_ssize_t index, Py_ssize_t count, object src,
                         Budget *budget, int64_t max_pixels, int64_t max_bytes):
    """The exception for a failed image, built right after the failure (FFmpeg's last log line
    on this thread is still the one about it)."""
    cdef str name = describe_source(src)
    where = f"image {index} of {count}"
    if im.status == avu.AVERROR_EXIT:
        return make_media_error(im.status, "decode", name,
                                f"{budget_reason(budget)} before {where}")
    if im.step == STEP_READ and im.status == avu.AVERROR(EISDIR):
        return IsADirectoryError(EISDIR, "Is a directory", os.fsdecode(src))
    if im.step == STEP_READ and im.status == avu.AVERROR(ENOENT):
        return FileNotFoundError(ENOENT, f"No such file ({where})", os.fsdecode(src))
    if im.step == STEP_READ and im.status == avu.AVERROR_INVALIDDATA:
        return make_media_error(0, "open", name, f"Failed to read {where}: it is empty (0 bytes)")
    if im.too_large == LIMIT_PIXELS:
        return MediaTooLargeError(
            f"Image {index} of {count} states {im.width}x{im.height} pixels, more than "
            f"max_pixels={max_pixels}: {name} [step: decode]; it was not decoded. Raise the "
            "limit with spdl.io.set_decode_limits(max_pixels=...)",
            source=name, step="decode", ffmpeg_message=None, code=im.status)
    if im.too_large == LIMIT_BYTES:
        return MediaTooLargeError(
            f"Image {index} of {count} ({im.width}x{im.height}) decodes to about "
            f"{im.picture_bytes} bytes, more than max_bytes={max_bytes}: {name} [step: decode]; "
            "it was not decoded. Raise the limit with spdl.io.set_decode_limits(max_bytes=...)",
            source=name, step="decode", ffmpeg_message=None, code=im.status)
    if im.truncated:
        return TruncatedMediaError(
            f"Failed to decode {where}: {name} [step: decode]: the JPEG data ends before its "
            "end-of-image marker (truncated file)",
            source=name, step="decode", ffmpeg_message=None, code=im.status)
    step = _STEP_NAMES.get(im.step, "decode")
    detail = {
        STEP_READ: f"Failed to read {where}",
        STEP_DECODE: f"Failed to decode {where}",
        STEP_SCALE: f"Failed to resize {where}",
    }.get(im.step)
    return make_media_error(im.status, step, name, detail)


def decode_batch(srcs, int width, int height, str pix_fmt, str scale_algo, bint jpeg_lowres,
                 bint strict, timeout):
    """Decode ``srcs`` and resize each into one (B, height, width, C) uint8 ``CPUBuffer``.

    See ``spdl.io.load_image_batch`` for the arguments. Returns ``(buffer, failures, lowres)``:
    ``failures`` lists ``(index, exception)`` for the images that could not be loaded (with
    ``strict`` the first one is raised instead), ``buffer`` holds the others in input order, and
    ``lowres`` is the DCT-domain downscale (0..3) each loaded image was decoded with.
    """
    cdef int fmt, channels, flags
    cdef Py_ssize_t count, i, stop
    cdef list keep = []
    cdef list failures = []
    cdef list lowres = []
    cdef _Image *images = NULL
    cdef const uint8_t[::1] view
    cdef _Worker worker = _worker()
    cdef CPUBuffer buf, kept
    cdef Budget budget
    cdef Input inp
    cdef size_t slot_bytes
    cdef uint8_t *out
    cdef Py_ssize_t j = 0

    if not _gather_policy:
        _decide_gather_policy()
    if pix_fmt not in _PIX_FMTS:
        raise ValueError(f"pix_fmt must be one of {list(PIX_FMTS)}, not {pix_fmt!r}")
    if scale_algo not in _SCALE_ALGOS:
        raise ValueError(f"scale_algo must be one of {list(SCALE_ALGOS)}, not {scale_algo!r}")
    fmt, channels = _PIX_FMTS[pix_fmt]
    flags = _SCALE_ALGOS[scale_algo]
    if width <= 0 or height <= 0 or avu.av_image_check_size(width, height, 0, NULL) < 0:
        raise ValueError(f"width and height must be positive and sane, not {width}x{height}")
    memset(&budget, 0, sizeof(Budget))
    budget_arm(&budget, timeout)
    srcs = list(srcs)
    count = len(srcs)
    if count == 0:
        raise ValueError("srcs must hold at least one image")

    images = <_Image *>avu.av_mallocz(sizeof(_Image) * count)
    if images == NULL:
        raise MemoryError()
    try:
        for i in range(count):
            src = srcs[i]
            if isinstance(src, (str, os.PathLike)):
                path = os.fsencode(src)
                if not path or b"\0" in path:
                    raise ValueError(f"srcs[{i}] is not a usable path: {src!r}")
                keep.append(path)
                images[i].path = <const char *>path
            elif isinstance(src, (bytes, bytearray, memoryview)) or (
                    type(src).__module__ == "numpy" and type(src).__name__ == "ndarray"):
                if isinstance(src, memoryview) and (src.ndim != 1 or src.itemsize != 1):
                    raise ValueError(f"srcs[{i}]: a memoryview source must be 1-D bytes")
                if not isinstance(src, (bytes, bytearray, memoryview)):
                    if src.dtype.name != "uint8":
                        raise TypeError(f"srcs[{i}]: a NumPy source must have dtype uint8, "
                                        f"not {src.dtype}")
                    if src.ndim != 1:
                        raise ValueError(f"srcs[{i}]: a NumPy source must be 1-D, not {src.shape}")
                try:
                    view = src if not isinstance(src, memoryview) else src.cast("B")
                except (TypeError, ValueError) as e:
                    raise ValueError(
                        f"srcs[{i}] must be 1-D contiguous bytes to be read in place: {e}"
                    ) from None
                keep.append(view)
                images[i].data = &view[0] if view.shape[0] else NULL
                images[i].size = view.shape[0]
            else:
                raise TypeError(
                    f"srcs[{i}] must be a path (str or os.PathLike), bytes, bytearray, "
                    f"memoryview or a 1-D uint8 NumPy array, not {type(src).__name__}"
                )

        slot_bytes = <size_t>width * height * channels
        limits = get_decode_limits()
        worker.max_pixels = limits["max_pixels"]
        worker.max_bytes = limits["max_bytes"]
        if worker.max_bytes and <int64_t>(slot_bytes * count) > worker.max_bytes:
            raise MediaTooLargeError(
                f"A batch of {count} images of {width}x{height}x{channels} bytes "
                f"({slot_bytes * count} bytes) is more than max_bytes={worker.max_bytes}; "
                "load smaller batches, or raise the limit with "
                "spdl.io.set_decode_limits(max_bytes=...)",
                source=describe_source(srcs[0]), step="decode", ffmpeg_message=None, code=0)
        buf = new_cpu_buffer((count, height, width, channels), "uint8")
        out = <uint8_t *>buf.data
        i = 0
        while i < count:
            with nogil(SPDL_RELEASE_GIL):
                stop = worker._run(images, i, count, out, width, height, fmt, channels, flags,
                                   jpeg_lowres, &budget)
            if stop == count:
                break
            i = stop
            if images[i].step == STEP_GENERAL:
                # Neither JPEG nor PNG: open it through libavformat like any other source.
                try:
                    inp = open_input(srcs[i], None, None, timeout)
                except MediaError as e:
                    images[i].status = -1
                    # The same error, naming the image's place in the batch.
                    error = type(e)(f"Image {i} of {count}: {e.message}", source=e.source,
                                    step=e.step, ffmpeg_message=e.ffmpeg_message, code=e.code)
                    if strict or isinstance(e, TimeoutError):
                        raise error from None
                    failures.append((i, error))
                    i += 1
                    continue
                with nogil(SPDL_RELEASE_GIL):
                    worker._run_general(inp, &images[i], out + <size_t>i * slot_bytes, width,
                                        height, fmt, channels, flags)
                inp = None
            if images[i].status < 0:
                error = _image_error(&images[i], i, count, srcs[i], &budget, worker.max_pixels,
                                     worker.max_bytes)
                if strict or images[i].status == avu.AVERROR_EXIT:
                    # A timeout or a cancel ends the call whatever ``strict`` says.
                    raise error
                failures.append((i, error))
            i += 1

        lowres = [images[i].lowres for i in range(count) if images[i].status >= 0]
        if not failures:
            return buf, failures, lowres
        # Skip the failed images: copy the others, in order, into a buffer of their count.
        kept = new_cpu_buffer((count - len(failures), height, width, channels), "uint8")
        for i in range(count):
            if images[i].status >= 0:
                memcpy(<uint8_t *>kept.data + <size_t>j * slot_bytes,
                       out + <size_t>i * slot_bytes, slot_bytes)
                j += 1
        return kept, failures, lowres
    finally:
        avu.av_free(images)
