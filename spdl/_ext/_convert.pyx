"""convert_frames: decoded frames to one contiguous CPUBuffer, with a single copy.

Layouts (a video adds a leading N, a list of Frames converted together a leading B):

- interleaved pixel formats (rgb24, bgr24, rgba, gray, gray16le...): (H, W, C), C = 1 for gray;
  more than 8 bits per component gives uint16 (``>u2`` for FFmpeg's big-endian formats);
- planar formats without subsampling (yuv444p, yuvj444p, gbrp...): (P, H, W), one row of planes;
- subsampled planar formats (yuv420p, yuvj420p, nv12, yuv422p, yuvj422p...): every plane stacked
  into one, (1, rows, W): rows = H*3/2 for 4:2:0, 2*H for 4:2:2; odd sizes are refused;
- audio: planar sample formats (fltp, s16p...) (C, N); packed ones (flt, s16...) (N, C).

The bytes are exactly FFmpeg's for that format (``av_image_copy_to_buffer`` with alignment 1, the
layout of the ``ffmpeg`` command line's ``rawvideo`` output).
"""

from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memcpy

cimport avutil as avu
from spdl._ext._buffer cimport CPUBuffer, new_cpu_buffer
from spdl._ext._frames cimport Frames
from spdl._ext._packets cimport KIND_AUDIO, KIND_IMAGE

from spdl._ext._error import ConvertError

_SAMPLE_DTYPES = {
    "u8": "uint8", "s16": "int16", "s32": "int32", "flt": "float32", "dbl": "float64",
    "s64": "int64",
}


cdef tuple video_layout(const avu.AVFrame *f):
    """(shape of one frame, dtype) for the frame's pixel format, or ValueError."""
    cdef const avu.AVPixFmtDescriptor *d = avu.av_pix_fmt_desc_get(<avu.AVPixelFormat>f.format)
    cdef int bits, itemsize, planes, i, total
    if d == NULL:
        raise ValueError(f"Frames have an unknown pixel format ({f.format})")
    name = d.name.decode()
    if d.flags & (avu.AV_PIX_FMT_FLAG_HWACCEL | avu.AV_PIX_FMT_FLAG_BITSTREAM
                  | avu.AV_PIX_FMT_FLAG_PAL):
        raise ValueError(f"Pixel format {name} cannot be converted to an array; "
                         "add format=pix_fmts=rgb24 (or another) to filter_desc")
    itemsize = 2 if d.comp[0].depth > 8 else 1
    if itemsize == 1:
        dtype = "uint8"
    elif d.flags & avu.AV_PIX_FMT_FLAG_BE:
        dtype = ">u2"  # big-endian (e.g. a 16-bit PNG's native gray16be), bytes as FFmpeg has them
    else:
        dtype = "uint16"
    w, h = f.width, f.height
    if not d.flags & avu.AV_PIX_FMT_FLAG_PLANAR:
        bits = avu.av_get_bits_per_pixel(d)
        if bits % (8 * itemsize):
            raise ValueError(f"Pixel format {name} packs components below a byte; not supported")
        return (h, w, bits // (8 * itemsize)), dtype
    if d.log2_chroma_w == 0 and d.log2_chroma_h == 0:
        planes = 0
        for i in range(d.nb_components):
            if d.comp[i].plane + 1 > planes:
                planes = d.comp[i].plane + 1
        return (planes, h, w), dtype
    if w % (1 << d.log2_chroma_w) or h % (1 << d.log2_chroma_h):
        raise ValueError(
            f"{name} frames of odd size {w}x{h} cannot be stacked into one plane; scale to an "
            "even size or convert to another pixel format in filter_desc")
    total = avu.av_image_get_buffer_size(<avu.AVPixelFormat>f.format, w, h, 1)
    if total < 0 or total % (w * itemsize):
        raise ValueError(f"Pixel format {name} has no single-plane layout")
    return (1, total // (w * itemsize), w), dtype


cdef int _check_same(Frames frames) except -1:
    cdef Py_ssize_t i
    cdef avu.AVFrame *a = frames.frames[0]
    cdef avu.AVFrame *b
    for i in range(1, frames.n):
        b = frames.frames[i]
        if b.format != a.format or b.width != a.width or b.height != a.height or \
                b.ch_layout.nb_channels != a.ch_layout.nb_channels:
            raise ValueError(
                f"Frame {i} differs in size or format from frame 0; frames of one buffer must "
                "match (add a scale/format filter to filter_desc)")
    return 0


cdef tuple _layout(Frames frames):
    """(shape, dtype) of the whole of ``frames`` converted."""
    if frames.n == 0:
        raise ValueError(f"No frames to convert ({frames.src})")
    # What follows depends on the decoded data, not on the arguments: a broken or changing
    # stream makes it fail, so it is a MediaError (ConvertError, still a ValueError).
    try:
        return _layout_of(frames)
    except ValueError as e:
        raise ConvertError(
            f"Failed to convert: {frames.src} [step: convert]: {e}", source=frames.src,
            step="convert") from None


cdef tuple _layout_of(Frames frames):
    cdef avu.AVFrame *f
    cdef Py_ssize_t i, samples = 0
    _check_same(frames)
    f = frames.frames[0]
    if frames.kind == KIND_AUDIO:
        name = avu.av_get_sample_fmt_name(<avu.AVSampleFormat>f.format)
        if name == NULL:
            raise ValueError("Audio frames have an unknown sample format")
        packed = avu.av_get_sample_fmt_name(avu.av_get_packed_sample_fmt(
            <avu.AVSampleFormat>f.format)).decode()
        for i in range(frames.n):
            samples += frames.frames[i].nb_samples
        ch = f.ch_layout.nb_channels
        if avu.av_sample_fmt_is_planar(<avu.AVSampleFormat>f.format):
            return (ch, samples), _SAMPLE_DTYPES[packed]
        return (samples, ch), _SAMPLE_DTYPES[packed]
    shape, dtype = video_layout(f)
    if frames.kind == KIND_IMAGE and frames.n == 1:
        return shape, dtype
    return (frames.n, *shape), dtype


cdef int _copy(Frames frames, uint8_t *dst) noexcept nogil:
    """Copy every frame, in order, to ``dst`` (sized by _layout). Returns AVERROR or 0."""
    cdef Py_ssize_t i, c, offset = 0, total = 0, n
    cdef avu.AVFrame *f
    cdef int size, bps, channels, ret
    if frames.kind == KIND_AUDIO:
        f = frames.frames[0]
        bps = avu.av_get_bytes_per_sample(<avu.AVSampleFormat>f.format)
        channels = f.ch_layout.nb_channels
        if avu.av_sample_fmt_is_planar(<avu.AVSampleFormat>f.format):
            for i in range(frames.n):
                total += frames.frames[i].nb_samples
            for i in range(frames.n):
                f = frames.frames[i]
                n = <Py_ssize_t>f.nb_samples * bps
                for c in range(channels):
                    memcpy(dst + c * total * bps + offset, f.extended_data[c], n)
                offset += n
        else:
            for i in range(frames.n):
                f = frames.frames[i]
                n = <Py_ssize_t>f.nb_samples * bps * channels
                memcpy(dst + offset, f.extended_data[0], n)
                offset += n
        return 0
    for i in range(frames.n):
        f = frames.frames[i]
        size = avu.av_image_get_buffer_size(<avu.AVPixelFormat>f.format, f.width, f.height, 1)
        ret = avu.av_image_copy_to_buffer(dst + offset, size, <const uint8_t *const *>f.data,
                                          f.linesize, <avu.AVPixelFormat>f.format, f.width,
                                          f.height, 1)
        if ret < 0:
            return ret
        offset += size
    return 0


def convert_frames(frames):
    """Copy frames into one contiguous :class:`CPUBuffer` (one copy, GIL released).

    Args:
        frames: VideoFrames, AudioFrames or ImageFrames; or a list of them (all of the same
            shape and format), stacked along a new leading axis.

    Returns:
        CPUBuffer: shape and dtype as in the module's layout table; e.g. (N, H, W, 3) uint8 for
        rgb24 video, (H, W, 3) for an rgb24 image, (C, N) float32 for fltp audio.

    Raises:
        TypeError: not frames. ValueError: no frames, frames that differ in size or format, or
        a pixel format without an array layout (e.g. odd-sized yuv420p).
    """
    cdef CPUBuffer buf
    cdef Frames one
    cdef list items
    cdef int ret = 0
    cdef Py_ssize_t i, step
    cdef uint8_t *dst
    if isinstance(frames, Frames):
        items = [frames]
        batch = False
    elif isinstance(frames, (list, tuple)):
        items = list(frames)
        batch = True
        if not items:
            raise ValueError("convert_frames got an empty list")
        for item in items:
            if not isinstance(item, Frames):
                raise TypeError(f"Expected Frames, not {type(item).__name__}")
    else:
        raise TypeError(f"convert_frames takes Frames or a list of Frames, not "
                        f"{type(frames).__name__}")
    layouts = [_layout(<Frames>item) for item in items]
    shape, dtype = layouts[0]
    for i in range(1, len(layouts)):
        if layouts[i] != layouts[0]:
            raise ValueError(f"Item {i} converts to {layouts[i]}, item 0 to {layouts[0]}; "
                             "a batch needs items of one shape and dtype")
    buf = new_cpu_buffer((len(items), *shape) if batch else shape, dtype)
    step = buf.nbytes // len(items) if items else 0
    dst = <uint8_t *>buf.data
    for i in range(len(items)):
        one = items[i]
        with nogil(SPDL_RELEASE_GIL):
            ret = _copy(one, dst + i * step)
        if ret < 0:
            raise ValueError(f"Cannot copy frames of {one.src} (FFmpeg error {ret})")
    return buf
