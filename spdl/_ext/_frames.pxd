# Frames: decoded (and filtered) AVFrames, owned. See _frames.pyx.
cimport avutil as avu

cdef class Frames:
    cdef avu.AVFrame **frames
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef avu.AVRational time_base
    cdef int kind
    cdef readonly str src
    cdef readonly list issues
    cdef object __weakref__

    cdef int push(self, avu.AVFrame *frame) noexcept nogil

cdef class VideoFrames(Frames):
    pass

cdef class AudioFrames(Frames):
    pass

cdef class ImageFrames(VideoFrames):
    pass

cdef Frames new_frames(int kind, avu.AVRational time_base, str src)
