"""Sources: a path, or bytes / memoryview / 1-D uint8 NumPy array read in place.

An in-memory source is read through a custom AVIOContext whose read and seek callbacks are plain
C over the exported buffer: no copy of the input, no GIL per read. The :class:`Input` holds the
Python buffer export (``Py_buffer``) for as long as FFmpeg may read, so the memory stays alive and
unmovable (a ``bytearray`` cannot be resized meanwhile).
"""

import os

from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyObject_GetBuffer, PyBuffer_Release
from libc.errno cimport EINVAL
from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memcpy

from spdl._ext._live cimport live_add, live_register
cimport avformat as avfmt
cimport avutil as avu
from spdl._ext._budget cimport BUDGET_OK, budget_arm, budget_interrupt, budget_reason, spdl_atomic_store
from spdl._ext._error cimport clear_ffmpeg_log, make_media_error

# FFmpeg's own AVIO buffer size for files (IO_BUFFER_SIZE in libavformat).
cdef enum:
    AVIO_BUFFER_SIZE = 32768


cdef int _read_memory(void *opaque, uint8_t *buf, int buf_size) noexcept nogil:
    cdef MemoryReader *r = <MemoryReader *>opaque
    cdef int64_t left = r.size - r.pos
    if left <= 0:
        return avu.AVERROR_EOF
    if buf_size > left:
        buf_size = <int>left
    memcpy(buf, r.data + r.pos, buf_size)
    r.pos += buf_size
    return buf_size


cdef int64_t _seek_memory(void *opaque, int64_t offset, int whence) noexcept nogil:
    cdef MemoryReader *r = <MemoryReader *>opaque
    cdef int64_t pos
    if whence & avfmt.AVSEEK_SIZE:
        return r.size
    whence &= ~avfmt.AVSEEK_FORCE
    if whence == 0:  # SEEK_SET
        pos = offset
    elif whence == 1:  # SEEK_CUR
        pos = r.pos + offset
    elif whence == 2:  # SEEK_END
        pos = r.size + offset
    else:
        return avu.AVERROR(EINVAL)
    if pos < 0:
        return avu.AVERROR(EINVAL)
    # Past the end is allowed, as lseek() allows it for files: the next read returns EOF, so a
    # truncated file behaves the same from memory and from a path.
    r.pos = pos
    return pos


cdef str describe_source(object src):
    """How messages name a source: the path, or the kind and size of an in-memory source."""
    if isinstance(src, (str, os.PathLike)):
        return repr(os.fsdecode(src))
    try:
        size = memoryview(src).nbytes
    except TypeError:
        return f"<{type(src).__name__}>"
    return f"<in-memory {type(src).__name__}, {size} bytes>"


cdef int _LIVE_INPUT = live_register("Input")


cdef class Input:
    """Owns an AVFormatContext, its custom AVIOContext (if any) and the source's buffer export."""

    def __cinit__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_INPUT, 1)

    def __dealloc__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_INPUT, -1)
        cdef void *buffer
        if self.fmt_ctx != NULL:
            avfmt.avformat_close_input(&self.fmt_ctx)
        if self.avio != NULL:
            # avformat_close_input leaves a custom AVIOContext (AVFMT_FLAG_CUSTOM_IO) to us; its
            # buffer may have been replaced by FFmpeg, so free whichever it holds now.
            avu.av_freep(&self.avio.buffer)
            avfmt.avio_context_free(&self.avio)
        if self.has_view:
            PyBuffer_Release(&self.view)
            self.has_view = False

    @property
    def format_name(self):
        """The demuxer FFmpeg picked (``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"image2"``...)."""
        return self.fmt_ctx.iformat.name.decode() if self.fmt_ctx != NULL else None

    @property
    def num_streams(self):
        return self.fmt_ctx.nb_streams if self.fmt_ctx != NULL else 0

    def cancel(self):
        """Make the current and every later read of this input stop with ``MediaTimeoutError``."""
        spdl_atomic_store(&self.budget.cancelled, 1)


cdef int _export_memory(Input inp, object src) except -1:
    """Export ``src``'s memory into ``inp.view`` after checking it is 1-D contiguous bytes."""
    np = _numpy_if_array(src)
    if np is not None:
        if src.dtype != np.uint8:
            raise TypeError(f"A NumPy source must have dtype uint8, not {src.dtype}")
        if src.ndim != 1:
            raise ValueError(f"A NumPy source must be 1-D, not {src.ndim}-D {src.shape}")
        if not src.flags.c_contiguous:
            raise ValueError("A NumPy source must be contiguous")
    elif isinstance(src, memoryview):
        if src.ndim != 1 or src.itemsize != 1:
            raise ValueError(
                f"A memoryview source must be 1-D bytes, not ndim={src.ndim} itemsize={src.itemsize}"
            )
        if not src.c_contiguous:
            raise ValueError("A memoryview source must be contiguous")
    try:
        PyObject_GetBuffer(src, &inp.view, PyBUF_C_CONTIGUOUS)
    except BufferError as e:
        raise ValueError(f"Cannot read {type(src).__name__} in place: {e}") from None
    inp.has_view = True
    inp.owner = src
    inp.reader.data = <const uint8_t *>inp.view.buf
    inp.reader.size = inp.view.len
    inp.reader.pos = 0
    return 0


cdef object _numpy_if_array(object src):
    # NumPy is imported only where an array is actually passed.
    mod = type(src).__module__
    if mod == "numpy" and type(src).__name__ == "ndarray":
        import numpy
        return numpy
    return None


cdef Input open_input(object src, str format=None, dict format_options=None, object timeout=None):
    """Open ``src`` and read its stream information, with the GIL released while FFmpeg works.

    Raises:
        FileNotFoundError: a path that does not exist.
        TypeError: ``src`` is none of the supported kinds.
        DemuxError, UnsupportedMediaError, MediaTimeoutError: FFmpeg cannot open it.
    """
    cdef Input inp = Input.__new__(Input)
    cdef bytes url
    cdef const char *c_url = NULL
    cdef const avfmt.AVInputFormat *ifmt = NULL
    cdef avu.AVDictionary *opts = NULL
    cdef unsigned char *buffer
    cdef int ret
    cdef bint is_path = isinstance(src, (str, os.PathLike))

    if is_path:
        path = os.fsdecode(src)
        inp.name = repr(path)
        if not path:
            raise ValueError("An empty path is not a source")
        if os.path.isdir(path):
            raise IsADirectoryError(21, "Is a directory", path)
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such file", path)
        if os.path.getsize(path) == 0:
            raise make_media_error(0, "open", inp.name, "The file is empty (0 bytes)")
        # "file:" keeps a name with a colon from being taken for a protocol.
        url = b"file:" + os.fsencode(path)
        c_url = url
    elif isinstance(src, (bytes, bytearray, memoryview)) or _numpy_if_array(src) is not None:
        _export_memory(inp, src)
        inp.name = describe_source(src)
        if inp.reader.size == 0:
            raise make_media_error(0, "open", inp.name, "The input is empty (0 bytes)")
    else:
        raise TypeError(
            "A source must be a path (str or os.PathLike), bytes, bytearray, memoryview or a "
            f"1-D uint8 NumPy array, not {type(src).__name__}"
        )

    if format is not None:
        ifmt = avfmt.av_find_input_format(format.encode())
        if ifmt == NULL:
            raise ValueError(f"FFmpeg has no demuxer named {format!r}")

    budget_arm(&inp.budget, timeout)
    inp.fmt_ctx = avfmt.avformat_alloc_context()
    if inp.fmt_ctx == NULL:
        raise MemoryError()
    inp.fmt_ctx.interrupt_callback.callback = budget_interrupt
    inp.fmt_ctx.interrupt_callback.opaque = &inp.budget
    if not is_path:
        buffer = <unsigned char *>avu.av_malloc(AVIO_BUFFER_SIZE)
        if buffer == NULL:
            raise MemoryError()
        inp.avio = avfmt.avio_alloc_context(
            buffer, AVIO_BUFFER_SIZE, 0, &inp.reader, _read_memory, NULL, _seek_memory
        )
        if inp.avio == NULL:
            avu.av_free(buffer)
            raise MemoryError()
        inp.fmt_ctx.pb = inp.avio
        inp.fmt_ctx.flags |= avfmt.AVFMT_FLAG_CUSTOM_IO

    try:
        for key, value in (format_options or {}).items():
            avu.av_dict_set(&opts, str(key).encode(), str(value).encode(), 0)
        with nogil(SPDL_RELEASE_GIL):
            clear_ffmpeg_log()
            # On failure FFmpeg frees the context and sets fmt_ctx to NULL.
            ret = avfmt.avformat_open_input(&inp.fmt_ctx, c_url, ifmt, &opts)
            if ret >= 0:
                ret = avfmt.avformat_find_stream_info(inp.fmt_ctx, NULL)
    finally:
        avu.av_dict_free(&opts)
    if ret < 0:
        detail = None
        if inp.budget.state != BUDGET_OK:
            detail = f"{budget_reason(&inp.budget)} while opening"
        raise make_media_error(ret, "open", inp.name, detail)
    return inp


def _open(src, format=None, format_options=None, timeout=None):
    """Open ``src`` (see :func:`open_input`); for tests and diagnostics."""
    return open_input(src, format, format_options, timeout)
