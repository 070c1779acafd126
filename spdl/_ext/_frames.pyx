"""Frames: decoded video frames, audio samples or an image, as FFmpeg's reference-counted AVFrames.

``spdl.io.convert_frames`` copies them into one contiguous :class:`CPUBuffer`.
"""

from fractions import Fraction

from libc.errno cimport ENOMEM
from libc.stdlib cimport free, realloc

from spdl._ext._live cimport live_add, live_register
cimport avutil as avu
from spdl._ext._packets cimport KIND_AUDIO, KIND_IMAGE, KIND_VIDEO

_KIND_NAMES = {KIND_VIDEO: "video", KIND_AUDIO: "audio", KIND_IMAGE: "image"}


cdef int _LIVE_FRAMES = live_register("Frames")


cdef class Frames:
    """Decoded frames of one stream, in presentation order.

    Attributes:
        src (str): the source, as messages name it.
        issues (list[str]): what was lost when decoding with ``allow_partial=True``; empty when
            the media decoded cleanly.
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("Frames are made by spdl.io.decode_packets / Decoder, not directly")

    def __cinit__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_FRAMES, 1)

    def __dealloc__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_FRAMES, -1)
        cdef Py_ssize_t i
        if self.frames != NULL:
            for i in range(self.n):
                avu.av_frame_free(&self.frames[i])
            free(self.frames)
            self.frames = NULL

    cdef int push(self, avu.AVFrame *frame) noexcept nogil:
        """Take over ``frame``'s references (``frame`` is left blank). Returns 0 or AVERROR."""
        cdef avu.AVFrame **grown
        cdef avu.AVFrame *mine
        if self.n == self.cap:
            grown = <avu.AVFrame **>realloc(self.frames, (self.cap * 2 + 16) * sizeof(void *))
            if grown == NULL:
                return avu.AVERROR(ENOMEM)
            self.frames = grown
            self.cap = self.cap * 2 + 16
        mine = avu.av_frame_alloc()
        if mine == NULL:
            return avu.AVERROR(ENOMEM)
        avu.av_frame_move_ref(mine, frame)
        self.frames[self.n] = mine
        self.n += 1
        return 0

    def __len__(self):
        return self.n

    @property
    def media_type(self):
        """``"video"``, ``"audio"`` or ``"image"``."""
        return _KIND_NAMES[self.kind]

    @property
    def num_frames(self):
        return self.n

    @property
    def time_base(self):
        return Fraction(self.time_base.num, self.time_base.den)

    @property
    def pts(self):
        """Presentation timestamps in ``time_base`` units (None where unknown)."""
        cdef Py_ssize_t i
        return [None if self.frames[i].pts == avu.AV_NOPTS_VALUE else self.frames[i].pts
                for i in range(self.n)]

    def get_timestamps(self):
        """Presentation times of the frames in seconds (float)."""
        tb = Fraction(self.time_base.num, self.time_base.den)
        return [None if p is None else float(p * tb) for p in self.pts]

    def __getitem__(self, key):
        """A frame (int) or frames (slice or list of ints), sharing the decoded data."""
        cdef Frames out = new_frames(self.kind, self.time_base, self.src)
        cdef avu.AVFrame *f
        if isinstance(key, slice):
            indices = range(*key.indices(self.n))
        elif isinstance(key, int):
            indices = [key]
        else:
            indices = list(key)
        for i in indices:
            if not isinstance(i, int):
                raise TypeError(f"Frame indices must be ints, not {type(i).__name__}")
            if i < 0:
                i += self.n
            if not 0 <= i < self.n:
                raise IndexError(f"Frame index {i} out of range for {self.n} frames")
            f = avu.av_frame_clone(self.frames[i])
            if f == NULL or out.push(f) < 0:
                avu.av_frame_free(&f)
                raise MemoryError()
            avu.av_frame_free(&f)
        return out

    def __repr__(self):
        return f"{type(self).__name__}(src={self.src}, num_frames={self.n}, {self._describe()})"

    def _describe(self):
        return ""


cdef class VideoFrames(Frames):
    """Decoded video frames (all the same size and pixel format once filtered)."""

    @property
    def width(self):
        return self.frames[0].width if self.n else None

    @property
    def height(self):
        return self.frames[0].height if self.n else None

    @property
    def pix_fmt(self):
        if not self.n:
            return None
        cdef const char *name = avu.av_get_pix_fmt_name(<avu.AVPixelFormat>self.frames[0].format)
        return name.decode() if name != NULL else None

    def _describe(self):
        return f"width={self.width}, height={self.height}, pix_fmt={self.pix_fmt!r}"


cdef class ImageFrames(VideoFrames):
    """A decoded image (one frame)."""


cdef class AudioFrames(Frames):
    """Decoded audio, as a run of frames of samples."""

    @property
    def sample_rate(self):
        return self.frames[0].sample_rate if self.n else None

    @property
    def num_channels(self):
        return self.frames[0].ch_layout.nb_channels if self.n else None

    @property
    def num_samples(self):
        """Samples per channel, over all frames."""
        cdef Py_ssize_t i, total = 0
        for i in range(self.n):
            total += self.frames[i].nb_samples
        return total

    @property
    def sample_fmt(self):
        if not self.n:
            return None
        cdef const char *name = avu.av_get_sample_fmt_name(
            <avu.AVSampleFormat>self.frames[0].format)
        return name.decode() if name != NULL else None

    def _describe(self):
        return (f"sample_rate={self.sample_rate}, num_channels={self.num_channels}, "
                f"num_samples={self.num_samples}, sample_fmt={self.sample_fmt!r}")


cdef Frames new_frames(int kind, avu.AVRational time_base, str src):
    cdef Frames f
    if kind == KIND_VIDEO:
        f = VideoFrames.__new__(VideoFrames)
    elif kind == KIND_AUDIO:
        f = AudioFrames.__new__(AudioFrames)
    else:
        f = ImageFrames.__new__(ImageFrames)
    f.kind = kind
    f.time_base = time_base
    f.src = src
    f.issues = []
    return f
