/* Baseline JPEG entropy decoding that gives libavcodec's mjpeg decoder's planes, faster.
 *
 * Most of the time of decoding a JPEG goes into reading its Huffman codes. libavcodec reads
 * them one at a time through its checked bit reader (a load, a byte swap and a bounds clamp
 * for every code and every coefficient). This file reads the same codes with a 64-bit bit
 * buffer refilled once per code and, for most codes, one table look-up that gives the run, the
 * coefficient and the number of bits together. Everything after the Huffman codes is
 * libavcodec's own arithmetic done the same way: the coefficients are dequantised and clipped
 * as libavcodec/mjpegdec.c does (decode_block), placed by the IDCT's own permutation, and
 * transformed by libavcodec's own IDCT (the public AVDCT API hands out the function the mjpeg
 * decoder picks), so the planes are the mjpeg decoder's, byte for byte.
 *
 * Only the common case is taken: one baseline or extended sequential scan (SOF0/SOF1) of 8-bit
 * samples, Huffman coded, grey or three components in 4:4:4, 4:2:2, 4:4:0 or 4:2:0, all tables
 * in the file, no restart markers, and nothing between the scan and the end-of-image marker
 * but the scan. Everything else, and anything malformed, returns SPDL_JPEG_DECLINE so that the
 * caller hands the file to libavcodec, which then decides (and words any error) as always.
 * The caller also checks the first picture of each layout against libavcodec's, once per
 * process (_image_batch.pyx).
 */
#ifndef SPDL_JPEG_SCAN_H
#define SPDL_JPEG_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum {
    SPDL_JPEG_DECLINE = 1,   /* not a file this decoder takes: use libavcodec */
    SPDL_JPEG_FAST_BITS = 10, /* codes this long or shorter are found by one look-up */
    SPDL_JPEG_PADDING = 4096, /* zero bytes the bit reader may read past the scan's end */
};

/* Layouts (the caller keys its check by them). */
enum {
    SPDL_JPEG_GRAY = 0,
    SPDL_JPEG_444 = 1,
    SPDL_JPEG_422 = 2,
    SPDL_JPEG_440 = 3,
    SPDL_JPEG_420 = 4,
    SPDL_JPEG_NUM_LAYOUTS = 5,
};

typedef struct SpdlHuffman {
    int defined;
    /* By the next FAST_BITS bits: (length << 8) | symbol for a code of at most FAST_BITS bits,
       0 where the code is longer. */
    uint16_t look[1 << SPDL_JPEG_FAST_BITS];
    /* AC tables only, by the same bits: (coefficient << 16) | (step << 8) | bits, where the code
       and the coefficient's extra bits fit in FAST_BITS together; 0 otherwise. ``step`` is what
       the position in the block advances by (run + 1; 64 for end-of-block), ``bits`` what the
       code and its extra bits take; a coefficient of 0: the code carries none. */
    int32_t ac[1 << SPDL_JPEG_FAST_BITS];
    /* Longer codes, canonically: a code of length l is below maxcode[l] (left aligned to 16
       bits) and its symbol is values[code + delta[l]]. */
    uint32_t maxcode[18];
    int delta[17];
    uint8_t values[256];
} SpdlHuffman;

typedef struct SpdlJpeg {
    int width, height, layout;
    int ncomp;
    int hs[3], vs[3];           /* sampling factors, in frame (SOF) order */
    int qsel[3];                /* quantisation table of each component */
    int ids[3];
    int mcu_w, mcu_h;           /* MCUs across and down */
    int scan_comp[3];           /* frame component of each scan component, in scan order */
    int scan_dc[3], scan_ac[3]; /* their Huffman tables */
    int have_quant[4];
    uint16_t quant[4][128];     /* in zigzag order, as the file has them; then 64 zeros */
    SpdlHuffman dc[4], ac[4];
    size_t scan_start;          /* offset of the entropy-coded data in the file */
} SpdlJpeg;

static const uint8_t spdl_zigzag[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

static inline int spdl_be16(const uint8_t *p) { return (p[0] << 8) | p[1]; }

/* The value of ``size`` extra bits ``v`` (JPEG's EXTEND: a leading 0 means negative). */
static inline int spdl_extend(uint32_t v, int size)
{
    return (int)v - (int)((v >> (size - 1)) ? 0 : ((1u << size) - 1));
}

/* Builds a table from a DHT's 16 counts and its symbols. Returns 0, or DECLINE for a table
   libavcodec would refuse or read differently (more codes than fit). */
static int spdl_huffman_build(SpdlHuffman *t, const uint8_t *counts, const uint8_t *symbols,
                              int nsym, int is_ac)
{
    uint32_t code = 0;
    int k = 0, len, i, p;
    memset(t->look, 0, sizeof(t->look));
    memset(t->ac, 0, sizeof(t->ac));
    memcpy(t->values, symbols, (size_t)nsym);
    for (len = 1; len <= 16; len++) {
        int n = counts[len - 1];
        t->delta[len] = k - (int)code;
        for (i = 0; i < n; i++, k++, code++) {
            int sym = symbols[k];
            if (code >= (1u << len))
                return SPDL_JPEG_DECLINE;  /* over-subscribed: more codes than fit */
            if (len <= SPDL_JPEG_FAST_BITS) {
                int shift = SPDL_JPEG_FAST_BITS - len;
                for (p = (int)(code << shift); p < (int)((code + 1) << shift); p++) {
                    t->look[p] = (uint16_t)((len << 8) | sym);
                    if (is_ac) {
                        int size = sym & 15, run = sym >> 4;
                        if (size == 0) {
                            t->ac[p] = ((sym == 0 ? 64 : run + 1) << 8) | len;
                        } else if (len + size <= SPDL_JPEG_FAST_BITS) {
                            uint32_t extra = ((uint32_t)p >> (shift - size)) & ((1u << size) - 1);
                            t->ac[p] = (int32_t)((uint32_t)spdl_extend(extra, size) << 16)
                                       | ((run + 1) << 8) | (len + size);
                        }
                    }
                }
            }
        }
        t->maxcode[len] = code << (16 - len);
        code <<= 1;
    }
    t->maxcode[17] = 0xFFFFFFFFu;
    t->defined = 1;
    return 0;
}

/* Reads the headers up to the scan. Returns 0 with ``j`` filled, or DECLINE. */
static int spdl_jpeg_parse(SpdlJpeg *j, const uint8_t *p, size_t n)
{
    size_t pos = 2;
    int have_sof = 0, i, c;
    for (i = 0; i < 4; i++) {
        j->dc[i].defined = j->ac[i].defined = 0;
        j->have_quant[i] = 0;
    }
    for (;;) {
        int marker, len;
        const uint8_t *s;
        size_t slen;
        if (pos + 4 > n || p[pos] != 0xFF)
            return SPDL_JPEG_DECLINE;
        marker = p[pos + 1];
        len = spdl_be16(p + pos + 2);
        if (len < 2 || pos + 2 + (size_t)len > n)
            return SPDL_JPEG_DECLINE;
        s = p + pos + 4;
        slen = (size_t)len - 2;
        pos += 2 + (size_t)len;
        if (marker == 0xC0 || marker == 0xC1) {
            unsigned pix = 0;
            int hmax = 1, vmax = 1;
            if (have_sof || slen < 6 || s[0] != 8)
                return SPDL_JPEG_DECLINE;
            have_sof = 1;
            j->height = spdl_be16(s + 1);
            j->width = spdl_be16(s + 3);
            j->ncomp = s[5];
            /* The sizes libavcodec takes (av_image_check_size). */
            if ((j->ncomp != 1 && j->ncomp != 3) || slen != 6 + 3 * (size_t)j->ncomp
                    || j->width <= 0 || j->height <= 0
                    || (int64_t)(j->width + 128) * (j->height + 128) >= INT32_MAX / 8)
                return SPDL_JPEG_DECLINE;
            for (c = 0; c < j->ncomp; c++) {
                j->ids[c] = s[6 + 3 * c];
                j->hs[c] = s[7 + 3 * c] >> 4;
                j->vs[c] = s[7 + 3 * c] & 15;
                j->qsel[c] = s[8 + 3 * c];
                if (j->qsel[c] >= 4)
                    return SPDL_JPEG_DECLINE;
            }
            for (c = 0; c < j->ncomp; c++) {
                if (j->hs[c] < 1 || j->hs[c] > 2 || j->vs[c] < 1 || j->vs[c] > 2)
                    return SPDL_JPEG_DECLINE;
                pix |= (unsigned)((j->hs[c] << 4) | j->vs[c]) << (24 - 8 * c);
                hmax = j->hs[c] > hmax ? j->hs[c] : hmax;
                vmax = j->vs[c] > vmax ? j->vs[c] : vmax;
            }
            /* libavcodec's pixel format: its layout id with the sampling factors halved
               where all are even (mjpegdec.c, SOF). */
            if (!(pix & 0xD0D0D0D0u))
                pix -= (pix & 0xF0F0F0F0u) >> 1;
            if (!(pix & 0x0D0D0D0Du))
                pix -= (pix & 0x0F0F0F0Fu) >> 1;
            if (j->ncomp == 1) {
                if (pix != 0x11000000u)
                    return SPDL_JPEG_DECLINE;
                /* One component: one block per MCU, whatever its sampling factors. */
                j->layout = SPDL_JPEG_GRAY;
                j->mcu_w = (j->width + 7) / 8;
                j->mcu_h = (j->height + 7) / 8;
                continue;
            }
            /* Component ids libavcodec reads as RGB ("RGB", "QFA"): not ours. */
            if ((j->ids[0] == 'R' && j->ids[1] == 'G' && j->ids[2] == 'B')
                    || (j->ids[0] == 'Q' && j->ids[1] == 'F' && j->ids[2] == 'A'))
                return SPDL_JPEG_DECLINE;
            if (pix == 0x11111100u)
                j->layout = SPDL_JPEG_444;
            else if (pix == 0x21111100u)
                j->layout = SPDL_JPEG_422;
            else if (pix == 0x12111100u)
                j->layout = SPDL_JPEG_440;
            else if (pix == 0x22111100u)
                j->layout = SPDL_JPEG_420;
            else
                return SPDL_JPEG_DECLINE;
            /* The blocks of an MCU follow the factors as written (4:4:4 may be coded 1x2). */
            j->mcu_w = (j->width + 8 * hmax - 1) / (8 * hmax);
            j->mcu_h = (j->height + 8 * vmax - 1) / (8 * vmax);
        } else if (marker == 0xC4) {
            size_t at = 0;
            while (at < slen) {
                int cls, id, nsym = 0, k;
                if (at + 17 > slen)
                    return SPDL_JPEG_DECLINE;
                cls = s[at] >> 4;
                id = s[at] & 15;
                if (cls > 1 || id > 3)
                    return SPDL_JPEG_DECLINE;
                for (k = 1; k <= 16; k++)
                    nsym += s[at + k];
                if (nsym > 256 || at + 17 + (size_t)nsym > slen)
                    return SPDL_JPEG_DECLINE;
                if (spdl_huffman_build(cls ? &j->ac[id] : &j->dc[id], s + at + 1, s + at + 17,
                                       nsym, cls))
                    return SPDL_JPEG_DECLINE;
                at += 17 + (size_t)nsym;
            }
        } else if (marker == 0xDB) {
            size_t at = 0;
            while (at < slen) {
                int prec = s[at] >> 4, id = s[at] & 15, k;
                size_t need = 1 + 64 * (size_t)(prec ? 2 : 1);
                if (prec > 1 || id > 3 || at + need > slen)
                    return SPDL_JPEG_DECLINE;
                for (k = 0; k < 64; k++) {
                    int q = prec ? spdl_be16(s + at + 1 + 2 * k) : s[at + 1 + k];
                    if (q == 0)
                        return SPDL_JPEG_DECLINE;  /* libavcodec warns; leave it to it */
                    j->quant[id][k] = (uint16_t)q;
                }
                memset(j->quant[id] + 64, 0, 64 * sizeof(uint16_t));
                j->have_quant[id] = 1;
                at += need;
            }
        } else if (marker == 0xDD) {
            if (slen < 2 || spdl_be16(s) != 0)
                return SPDL_JPEG_DECLINE;  /* restart markers: libavcodec's own handling */
        } else if (marker == 0xDA) {
            int ns, used = 0;
            if (!have_sof || slen < 1)
                return SPDL_JPEG_DECLINE;
            ns = s[0];
            if (ns != j->ncomp || slen != 4 + 2 * (size_t)ns)
                return SPDL_JPEG_DECLINE;
            for (i = 0; i < ns; i++) {
                int id = s[1 + 2 * i], td = s[2 + 2 * i] >> 4, ta = s[2 + 2 * i] & 15;
                for (c = 0; c < j->ncomp && j->ids[c] != id; c++)
                    ;
                if (c == j->ncomp || (used & (1 << c)) || td > 3 || ta > 3
                        || !j->dc[td].defined || !j->ac[ta].defined
                        || !j->have_quant[j->qsel[c]])
                    return SPDL_JPEG_DECLINE;
                used |= 1 << c;
                j->scan_comp[i] = c;
                j->scan_dc[i] = td;
                j->scan_ac[i] = ta;
            }
            /* Ss = 0, Se = 63, Ah = Al = 0: a sequential scan. */
            if (s[1 + 2 * ns] != 0 || s[2 + 2 * ns] != 63 || s[3 + 2 * ns] != 0)
                return SPDL_JPEG_DECLINE;
            /* libavcodec refuses a file with fewer than 2 bits per block, a DC and an AC code
               at least (mjpegdec.c, SOF). */
            if ((int64_t)((j->width + 7) / 8) * ((j->height + 7) / 8) > (int64_t)n * 4)
                return SPDL_JPEG_DECLINE;
            j->scan_start = pos;
            return 0;
        } else if (!((marker >= 0xE0 && marker <= 0xEF) || marker == 0xFE)) {
            /* Other frame types (progressive, lossless, arithmetic), a second SOI, DNL, fill
               bytes or junk: libavcodec's. APPn and comments change nothing in the planes
               (the caller has already sent the files with state-changing ones to libavcodec). */
            return SPDL_JPEG_DECLINE;
        }
    }
}

/* Copies the entropy-coded data from ``src`` into ``dst`` as libavcodec's
   ff_mjpeg_find_marker leaves it for the scan: stuffed 0xFF 0x00 become 0xFF, and the 0xFF of
   the end-of-image marker is kept at the end; then SPDL_JPEG_PADDING zero bytes. Returns the
   number of bytes before the padding, or -1 where the data holds any other marker (restart
   markers, fill bytes, another segment): those files are libavcodec's. ``dst`` holds at least
   ``n + SPDL_JPEG_PADDING`` bytes. */
static ptrdiff_t spdl_jpeg_unstuff(uint8_t *dst, const uint8_t *src, size_t n)
{
    const uint8_t *end = src + n;
    uint8_t *out = dst;
    for (;;) {
        const uint8_t *ff = memchr(src, 0xFF, (size_t)(end - src));
        if (ff == NULL || ff + 1 >= end)
            return -1;
        memcpy(out, src, (size_t)(ff - src));
        out += ff - src;
        *out++ = 0xFF;
        if (ff[1] == 0xD9)
            break;
        if (ff[1] != 0x00)
            return -1;
        src = ff + 2;
    }
    memset(out, 0, SPDL_JPEG_PADDING);
    return out - dst;
}

/* The bit reader. It may run past the data's end by at most one MCU before the check at the
   next MCU (or at the end) sees it: at most 12 blocks (hs, vs <= 2) of at most 63 codes of at
   most 31 bits and a DC of 32, under 3 KB, which SPDL_JPEG_PADDING's zeros cover, so the
   refill needs no bounds check of its own. */
typedef struct SpdlBits {
    uint64_t buf;          /* the next bits, most significant first */
    int count;             /* how many bits of buf are real */
    const uint8_t *ptr;    /* the next byte to load */
} SpdlBits;

static inline uint64_t spdl_load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#else
    return __builtin_bswap64(v);
#endif
}

/* At least 56 bits in buf afterwards. */
static inline void spdl_refill(SpdlBits *b)
{
    b->buf |= spdl_load_be64(b->ptr) >> b->count;
    b->ptr += (63 - b->count) >> 3;
    b->count |= 56;
}

static inline void spdl_skip(SpdlBits *b, int n)
{
    b->buf <<= n;
    b->count -= n;
}

/* A code's symbol, or -1 for a bit pattern that is no code. Needs 16 bits in buf. */
static inline int spdl_symbol(SpdlBits *b, const SpdlHuffman *t)
{
    unsigned look = t->look[b->buf >> (64 - SPDL_JPEG_FAST_BITS)];
    uint32_t top;
    int len;
    if (look) {
        spdl_skip(b, (int)(look >> 8));
        return (int)(look & 0xFF);
    }
    top = (uint32_t)(b->buf >> 48);
    for (len = SPDL_JPEG_FAST_BITS + 1; top >= t->maxcode[len]; len++)
        ;
    if (len > 16)
        return -1;
    spdl_skip(b, len);
    return t->values[(int)(top >> (16 - len)) + t->delta[len]];
}

/* One block, as libavcodec's decode_block reads it. Returns 1 when it has AC coefficients,
   0 when only its DC is set, or -1 on a bad code or a coefficient past the block's end
   (libavcodec's errors: the caller declines the file). */
static inline int spdl_jpeg_block(SpdlBits *b, int16_t *block, const SpdlHuffman *dc,
                                  const SpdlHuffman *ac, const uint16_t *quant,
                                  const uint8_t *order, int *last_dc)
{
    int sym, i = 0, any = 0, bad = 0;
    int32_t val = 0;
    spdl_refill(b);
    sym = spdl_symbol(b, dc);
    if (sym < 0 || sym > 16)
        return -1;
    if (sym) {
        val = spdl_extend((uint32_t)(b->buf >> (64 - sym)), sym);
        spdl_skip(b, sym);
    }
    val = (int32_t)((uint32_t)val * quant[0] + (uint32_t)*last_dc);
    val = val < -32768 ? -32768 : val > 32767 ? 32767 : val;
    *last_dc = val;
    block[0] = (int16_t)val;
    do {
        /* Look the code up first and refill after: buf holds at least 24 bits here (56 after
           a refill, at most 32 taken since), enough for the look-up, and the refill's load
           then waits on the last code's length instead of this code waiting on the load. */
        int32_t e = ac->ac[b->buf >> (64 - SPDL_JPEG_FAST_BITS)];
        spdl_refill(b);
        if (e) {
            /* Stored even when the code has no coefficient (a 0 where nothing else will be
               stored); past the block's end it lands in the spare entries ``order`` and
               ``quant`` have after 64. One branch less at each end-of-block. */
            spdl_skip(b, e & 0xFF);
            i += (e >> 8) & 0xFF;
            bad |= (i > 63) & (e >> 16 != 0);
            any |= e >> 16;
            block[order[i]] = (int16_t)((e >> 16) * quant[i]);
        } else {
            int size;
            sym = spdl_symbol(b, ac);
            if (sym < 0)
                return -1;
            size = sym & 15;
            i += sym == 0 ? 64 : (sym >> 4) + 1;
            if (size) {
                int level = spdl_extend((uint32_t)(b->buf >> (64 - size)), size);
                spdl_skip(b, size);
                if (i > 63)
                    return -1;
                block[order[i]] = (int16_t)(level * quant[i]);
                any = 1;
            }
        }
    } while (i < 63);
    return bad ? -1 : any != 0;
}

static inline void spdl_clear_block(int16_t *block)
{
#if defined(__SSE2__)
    const __m128i z = _mm_setzero_si128();
    int k;
    for (k = 0; k < 8; k++)
        _mm_store_si128((__m128i *)(block + 8 * k), z);
#else
    memset(block, 0, 64 * sizeof(int16_t));
#endif
}

/* An IDCT'd block into 8 rows of 8 bytes, clipped as the IDCT's "put" form clips. */
static inline void spdl_put_block(uint8_t *dst, ptrdiff_t stride, const int16_t *block)
{
#if defined(__SSE2__)
    int y;
    for (y = 0; y < 8; y += 2) {
        __m128i a = _mm_load_si128((const __m128i *)(block + 8 * y));
        __m128i b = _mm_load_si128((const __m128i *)(block + 8 * y + 8));
        __m128i v = _mm_packus_epi16(a, b);
        _mm_storel_epi64((__m128i *)(dst + y * stride), v);
        _mm_storel_epi64((__m128i *)(dst + (y + 1) * stride), _mm_srli_si128(v, 8));
    }
#else
    int x, y;
    for (y = 0; y < 8; y++)
        for (x = 0; x < 8; x++) {
            int v = block[8 * y + x];
            dst[y * stride + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
#endif
}

/* The byte every pixel of a block with only a DC of ``dc`` gets from ``idct``, or -2 when the
   IDCT does not give such a block one value throughout. ``tmp``: 64 aligned coefficients. */
static int spdl_dc_value(int16_t *tmp, int dc, void (*idct)(int16_t *))
{
    int k;
    spdl_clear_block(tmp);
    tmp[0] = (int16_t)dc;
    idct(tmp);
    for (k = 1; k < 64; k++)
        if (tmp[k] != tmp[0])
            return -2;
    return tmp[0] < 0 ? 0 : tmp[0] > 255 ? 255 : tmp[0];
}

/* Decodes the scan into ``planes`` (frame order; plane c is at least mcu_w * hs[c] * 8 wide
   and mcu_h * vs[c] * 8 high, with ``strides``). ``data``/``size``: the unstuffed entropy
   data from spdl_jpeg_unstuff (its padding after it). ``order``: the IDCT's permutation of
   the zigzag order; ``idct``: libavcodec's in-place IDCT; ``block`` and ``tmp``: 64
   coefficients each, 16-byte aligned; ``dc_values``: 65536 entries, by DC value, of what
   spdl_dc_value gives for it (-1 where not known yet; filled in here): a block with only a DC,
   common in smooth areas and in chroma, is then one value, with no IDCT. Returns 0, or DECLINE where libavcodec would have stopped with an error or read
   past the data (the caller hands the file to libavcodec). */
static int spdl_jpeg_decode(const SpdlJpeg *j, const uint8_t *data, size_t size,
                            uint8_t *const *planes, const int *strides, const uint8_t *order,
                            void (*idct)(int16_t *), int16_t *block, int16_t *tmp,
                            int16_t *dc_values)
{
    SpdlBits b;
    int mx, my, i, k, last_dc[3];
    int cw = j->width, ch = j->height;
    const int64_t total_bits = (int64_t)size * 8;
    const int gray = j->ncomp == 1;
    if (j->layout == SPDL_JPEG_420 || j->layout == SPDL_JPEG_422)
        cw = (j->width + 1) >> 1;
    if (j->layout == SPDL_JPEG_420 || j->layout == SPDL_JPEG_440)
        ch = (j->height + 1) >> 1;
    b.buf = 0;
    b.count = 0;
    b.ptr = data;
    /* libavcodec starts each DC prediction at 4 << bits: its IDCT adds no level shift. */
    for (i = 0; i < 3; i++)
        last_dc[i] = 4 << 8;
    memset(block, 0, 64 * sizeof(int16_t));
    for (my = 0; my < j->mcu_h; my++) {
        for (mx = 0; mx < j->mcu_w; mx++) {
            /* libavcodec's check before each MCU: no bits read past the data. */
            if ((int64_t)(b.ptr - data) * 8 - b.count > total_bits)
                return SPDL_JPEG_DECLINE;
            for (i = 0; i < j->ncomp; i++) {
                const int c = j->scan_comp[i];
                const int h = gray ? 1 : j->hs[c], v = gray ? 1 : j->vs[c];
                const int pw = c ? cw : j->width, ph = c ? ch : j->height;
                for (k = 0; k < h * v; k++) {
                    const int bx = h * mx + k % h, by = v * my + k / h;
                    uint8_t *dst = planes[c] + (ptrdiff_t)8 * by * strides[c] + 8 * bx;
                    int has_ac = spdl_jpeg_block(&b, block, &j->dc[j->scan_dc[i]],
                                                 &j->ac[j->scan_ac[i]], j->quant[j->qsel[c]],
                                                 order, &last_dc[i]);
                    int dirty = has_ac;  /* more than block[0] is non-zero */
                    if (has_ac < 0)
                        return SPDL_JPEG_DECLINE;
                    /* Blocks wholly outside the picture are decoded but not written. */
                    if (8 * bx < pw && 8 * by < ph) {
                        int value = -2;
                        if (!has_ac) {
                            int16_t *known = &dc_values[(uint16_t)block[0]];
                            if (*known == -1)
                                *known = (int16_t)spdl_dc_value(tmp, block[0], idct);
                            value = *known;
                        }
                        if (value >= 0) {
                            const uint64_t row = 0x0101010101010101ull * (uint8_t)value;
                            int y;
                            for (y = 0; y < 8; y++)
                                memcpy(dst + (ptrdiff_t)y * strides[c], &row, 8);
                        } else {
                            idct(block);  /* in place: every coefficient changes */
                            spdl_put_block(dst, strides[c], block);
                            dirty = 1;
                        }
                    }
                    if (dirty)
                        spdl_clear_block(block);
                    else
                        block[0] = 0;
                }
            }
        }
    }
    /* libavcodec does not check after the last MCU; declining leaves such a file to it. */
    return (int64_t)(b.ptr - data) * 8 - b.count > total_bits ? SPDL_JPEG_DECLINE : 0;
}

#endif /* SPDL_JPEG_SCAN_H */
