# Opening a container from a path or from memory read in place. See _source.pyx.
from libc.stdint cimport int64_t, uint8_t

cimport avformat as avfmt
from spdl._ext._budget cimport Budget

cdef struct MemoryReader:
    const uint8_t *data
    int64_t size
    int64_t pos

cdef class Input:
    """An open AVFormatContext and everything it reads from (owned, freed together)."""
    cdef avfmt.AVFormatContext *fmt_ctx
    cdef avfmt.AVIOContext *avio
    cdef MemoryReader reader
    cdef Py_buffer view
    cdef bint has_view
    cdef object owner
    cdef Budget budget
    cdef readonly str name

cdef str describe_source(object src)
cdef Input open_input(object src, str format=*, dict format_options=*, object timeout=*)
