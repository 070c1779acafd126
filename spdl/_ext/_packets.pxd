# Packets: demuxed, still-encoded data of one stream, with its codec parameters. See _packets.pyx.
from libc.stdint cimport int64_t

cimport avcodec as avc
cimport avutil as avu

cdef enum MediaKind:
    KIND_VIDEO = 0
    KIND_AUDIO = 1
    KIND_IMAGE = 2

cdef struct Window:
    bint has_start
    bint has_end
    int64_t start     # in units of start_tb
    avu.AVRational start_tb
    int64_t end
    avu.AVRational end_tb

cdef class Packets:
    cdef avc.AVPacket **pkts
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef avc.AVCodecParameters *codecpar
    cdef avu.AVRational time_base
    cdef avu.AVRational frame_rate
    cdef int kind
    cdef Window window
    cdef readonly str src
    cdef readonly object timestamp
    cdef readonly list issues
    cdef object __weakref__

    cdef int push(self, avc.AVPacket *pkt) noexcept nogil

cdef class VideoPackets(Packets):
    pass

cdef class AudioPackets(Packets):
    pass

cdef class ImagePackets(Packets):
    pass

cdef Packets new_packets(int kind, const avc.AVCodecParameters *par, avu.AVRational time_base,
                         avu.AVRational frame_rate, str src, object timestamp)
cdef Window make_window(object timestamp) except *
cdef bint in_window(const Window *w, int64_t pts, avu.AVRational tb) noexcept nogil
