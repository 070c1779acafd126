"""CPUBuffer: a contiguous block of host memory with a shape and a dtype, shared without copies.

It speaks every array protocol: the Python buffer protocol, ``__array_interface__`` (NumPy) and
``__dlpack__`` (PyTorch, JAX, CuPy, NumPy 1.22+). Consumers hold a reference to the buffer, so the
memory lives until the last array viewing it is gone. Cython modules allocate one with
:c:func:`new_cpu_buffer` and write straight into ``buf.data``.

Large blocks are recycled. glibc serves every allocation above its mmap threshold (at most
32 MiB) with a fresh ``mmap`` and unmaps it on ``free``, so a 50 MB chunk of 1080p rgb24 frames
faulted in every one of its 12,000 pages on first touch, chunk after chunk: about a third of the
CPU time of streaming decode. A small pool keeps the blocks of freed buffers (their pages stay
mapped) for the next buffer of a similar size. A block goes back to the pool only in
``__dealloc__``, when nothing views the buffer any more, so memory an array still reads is never
handed out again.
"""

from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES, PyBUF_WRITABLE
from cpython.pycapsule cimport PyCapsule_IsValid, PyCapsule_GetPointer, PyCapsule_New
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from cpython.pythread cimport (
    PyThread_acquire_lock, PyThread_allocate_lock, PyThread_release_lock, PyThread_type_lock,
    WAIT_LOCK,
)
from libc.stdint cimport int64_t, uintptr_t
from libc.stdlib cimport free, malloc

from spdl._ext._live cimport live_add, live_register
from dlpack cimport DLManagedTensor, kDLCPU, kDLFloat, kDLInt, kDLUInt

cdef extern from "<stdlib.h>" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)

# Transparent huge pages for large blocks. Where the kernel has THP in "madvise" mode (the
# common default), a block asks for them; one fault then maps 2 MiB instead of 4 KiB, so the
# first touch of a fresh block costs a few faults per frame instead of 1,500 (Linux
# Documentation/admin-guide/mm/transhuge.rst). Elsewhere this does nothing.
cdef extern from *:
    """
    #if defined(__linux__)
    #include <sys/mman.h>
    #endif
    static void spdl_advise_huge(void *p, size_t n) {
    #if defined(__linux__) && defined(MADV_HUGEPAGE)
        size_t page = 4096;
        size_t start = ((size_t)p + page - 1) & ~(page - 1);
        size_t end = ((size_t)p + n) & ~(page - 1);
        if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
    #else
        (void)p; (void)n;
    #endif
    }
    """
    void spdl_advise_huge(void *p, size_t n) nogil

# dtype table: name, NumPy typestr, buffer-protocol format, item size, DLPack code and bits.
cdef struct _DType:
    const char *name
    const char *typestr
    const char *fmt
    int itemsize
    int dl_code
    int dl_bits

cdef _DType _DTYPES[8]
_DTYPES[0] = _DType(b"uint8", b"|u1", b"B", 1, kDLUInt, 8)
_DTYPES[1] = _DType(b"uint16", b"<u2", b"H", 2, kDLUInt, 16)
_DTYPES[2] = _DType(b"int16", b"<i2", b"h", 2, kDLInt, 16)
_DTYPES[3] = _DType(b"int32", b"<i4", b"i", 4, kDLInt, 32)
_DTYPES[4] = _DType(b"int64", b"<i8", b"q", 8, kDLInt, 64)
_DTYPES[5] = _DType(b"float32", b"<f4", b"f", 4, kDLFloat, 32)
_DTYPES[6] = _DType(b"float64", b"<f8", b"d", 8, kDLFloat, 64)
# FFmpeg's big-endian pixel formats (gray16be...): the bytes as FFmpeg has them. DLPack has no
# byte order, so these export through the buffer protocol and __array_interface__ only.
_DTYPES[7] = _DType(b">u2", b">u2", b">H", 2, -1, 16)

_DTYPE_IDS = {_DTYPES[i].name.decode(): i for i in range(8)}

# Alignment of every buffer: enough for any SIMD load (AVX-512) and for FFmpeg's own frames.
cdef enum:
    ALIGN = 64
    # Blocks of a huge page and more start on a huge page boundary, so all of them can use one.
    HUGE_PAGE = 2 * 1024 * 1024


cdef int _LIVE_CPUBUFFER = live_register("CPUBuffer")


# --- the pool of large blocks ------------------------------------------------------------------
# Blocks of at least POOL_MIN bytes are pooled; the pool holds at most POOL_SLOTS blocks and
# POOL_MAX bytes in all (a block that does not fit frees the smallest ones first). A request
# takes the smallest block with capacity >= its size and <= twice its size, so a small buffer
# does not pin a huge block. Capacities are rounded up to a quarter-octave (2^k, 1.25 * 2^k,
# 1.5 * 2^k, 1.75 * 2^k) so chunks of slightly different frame counts share blocks; the rounding
# costs no memory on a fresh block (pages never touched are never mapped).
cdef enum:
    POOL_SLOTS = 4
    POOL_MIN = 1 << 20

cdef size_t POOL_MAX = 256 * 1024 * 1024


cdef struct _Block:
    void *data
    size_t capacity

cdef _Block _pool[POOL_SLOTS]
cdef int _pool_n = 0
cdef size_t _pool_bytes = 0
cdef PyThread_type_lock _pool_lock = PyThread_allocate_lock()


cdef size_t _round_capacity(size_t n) noexcept nogil:
    cdef size_t octave = 1
    while octave * 2 <= n:
        octave *= 2
    if octave < 4:
        return n
    cdef size_t step = octave // 4
    return (n + step - 1) // step * step


cdef void *_pool_take(size_t n, size_t *capacity) noexcept nogil:
    """A pooled block of ``n`` to ``2 n`` bytes (its size in ``capacity``), or NULL."""
    global _pool_n, _pool_bytes
    cdef int i, best = -1, stale_n = 0
    cdef void *data = NULL
    cdef void *stale[POOL_SLOTS]
    PyThread_acquire_lock(_pool_lock, WAIT_LOCK)
    for i in range(_pool_n):
        if n <= _pool[i].capacity <= 2 * n and (
                best < 0 or _pool[i].capacity < _pool[best].capacity):
            best = i
    if best >= 0:
        data = _pool[best].data
        capacity[0] = _pool[best].capacity
        _pool_bytes -= _pool[best].capacity
        _pool_n -= 1
        _pool[best] = _pool[_pool_n]
        PyThread_release_lock(_pool_lock)
        return data
    # A miss: blocks a little too small (from a short chunk: the first or the last of a stream)
    # would only be missed again by this producer; give their memory back rather than hold it
    # beside the new block. Much smaller ones serve another producer and stay.
    i = 0
    while i < _pool_n:
        if n // 2 <= _pool[i].capacity < n:
            if stale_n < POOL_SLOTS:
                stale[stale_n] = _pool[i].data
                stale_n += 1
            _pool_bytes -= _pool[i].capacity
            _pool_n -= 1
            _pool[i] = _pool[_pool_n]
        else:
            i += 1
    PyThread_release_lock(_pool_lock)
    for i in range(stale_n):
        free(stale[i])
    return NULL


cdef void _pool_give(void *data, size_t capacity) noexcept nogil:
    """Keep a block for later (or free it, and the smallest blocks, to stay in bounds)."""
    global _pool_n, _pool_bytes
    cdef int i, smallest
    cdef void *evicted
    if capacity < POOL_MIN or capacity > POOL_MAX:
        free(data)
        return
    PyThread_acquire_lock(_pool_lock, WAIT_LOCK)
    while _pool_n > 0 and (_pool_n == POOL_SLOTS or _pool_bytes + capacity > POOL_MAX):
        smallest = 0
        for i in range(1, _pool_n):
            if _pool[i].capacity < _pool[smallest].capacity:
                smallest = i
        evicted = _pool[smallest].data
        _pool_bytes -= _pool[smallest].capacity
        _pool_n -= 1
        _pool[smallest] = _pool[_pool_n]
        free(evicted)  # cheap enough under the lock: munmap of an untouched range
    _pool[_pool_n].data = data
    _pool[_pool_n].capacity = capacity
    _pool_n += 1
    _pool_bytes += capacity
    PyThread_release_lock(_pool_lock)


def _pool_stats():
    """``(blocks, bytes)`` the pool holds now (for tests and diagnostics)."""
    PyThread_acquire_lock(_pool_lock, WAIT_LOCK)
    n, total = _pool_n, _pool_bytes
    PyThread_release_lock(_pool_lock)
    return n, total


def _pool_clear():
    """Free every pooled block (for tests, and to give memory back to the system)."""
    global _pool_n, _pool_bytes
    cdef void *data
    while True:
        PyThread_acquire_lock(_pool_lock, WAIT_LOCK)
        if _pool_n == 0:
            PyThread_release_lock(_pool_lock)
            return
        _pool_n -= 1
        _pool_bytes -= _pool[_pool_n].capacity
        data = _pool[_pool_n].data
        PyThread_release_lock(_pool_lock)
        free(data)


cdef class CPUBuffer:
    """A C-contiguous array in host memory, owned by this object.

    Use :func:`spdl.io.to_numpy` / :func:`spdl.io.to_torch` (zero copy), or any consumer of the
    buffer protocol, ``__array_interface__`` or ``__dlpack__``.

    Attributes:
        shape (tuple[int, ...]): the array's shape.
        dtype (str): NumPy name of the element type (``"uint8"``, ``"int16"``, ``"float32"``...).
        nbytes (int): size in bytes.
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("CPUBuffer is created by spdl.io (convert_frames, load_*), not directly")

    def __cinit__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_CPUBUFFER, 1)

    def __dealloc__(self):
        if SPDL_LIVE_COUNTERS:
            live_add(_LIVE_CPUBUFFER, -1)
        # The buffer protocol and DLPack consumers hold references, so nothing views it now.
        if self.data != NULL:
            if self.capacity:
                _pool_give(self.data, self.capacity)
            else:
                free(self.data)
            self.data = NULL

    @property
    def shape(self):
        return tuple(self.shape_[i] for i in range(self.ndim))

    @property
    def dtype(self):
        return _DTYPES[self.dtype_id].name.decode()

    @property
    def nbytes(self):
        return self.nbytes

    @property
    def device(self):
        return "cpu"

    @property
    def __array_interface__(self):
        return {
            "version": 3,
            "shape": self.shape,
            "typestr": _DTYPES[self.dtype_id].typestr.decode(),
            "data": (<size_t>self.data, False),
            "strides": None,
        }

    def __getbuffer__(self, Py_buffer *view, int flags):
        view.buf = self.data
        view.obj = self
        view.len = self.nbytes
        view.readonly = 0
        view.itemsize = self.itemsize_
        view.format = <char *>_DTYPES[self.dtype_id].fmt if flags & PyBUF_FORMAT else NULL
        view.ndim = self.ndim
        view.shape = self.shape_ if flags & PyBUF_ND else NULL
        view.strides = self.strides_ if flags & PyBUF_STRIDES else NULL
        view.suboffsets = NULL
        view.internal = NULL
        self.exports += 1

    def __releasebuffer__(self, Py_buffer *view):
        self.exports -= 1

    def __dlpack_device__(self):
        """``(kDLCPU, 0)``: host memory."""
        return (kDLCPU, 0)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """Export as a DLPack capsule (``"dltensor"``) that keeps this buffer alive.

        Args:
            stream: must be None (host memory has no stream).
            max_version, dl_device, copy: DLPack 2023 keywords; only a CPU export without a
                copy is offered.
        """
        if stream is not None:
            raise BufferError("A CPU buffer has no stream; pass stream=None")
        if dl_device is not None and tuple(dl_device) != (kDLCPU, 0):
            raise BufferError(f"CPUBuffer cannot be exported to device {dl_device}")
        if copy:
            raise BufferError("CPUBuffer exports without a copy only")
        if _DTYPES[self.dtype_id].dl_code < 0:
            raise BufferError(f"DLPack cannot describe dtype {self.dtype} (big-endian)")
        return _make_capsule(self)

    def __repr__(self):
        return f"CPUBuffer(shape={self.shape}, dtype={self.dtype})"


cdef void _dl_deleter(DLManagedTensor *t) noexcept nogil:
    # Consumers may call this from any thread, with or without the GIL.
    with gil:
        Py_DECREF(<object><PyObject *>t.manager_ctx)
    free(t)


cdef void _capsule_destructor(object capsule) noexcept:
    # A capsule still named "dltensor" was never consumed: release what it holds.
    cdef DLManagedTensor *t
    if PyCapsule_IsValid(capsule, b"dltensor"):
        t = <DLManagedTensor *>PyCapsule_GetPointer(capsule, b"dltensor")
        t.deleter(t)


cdef object _make_capsule(CPUBuffer buf):
    # One allocation holds the managed tensor and its shape and strides arrays.
    cdef size_t extra = 2 * buf.ndim * sizeof(int64_t)
    cdef DLManagedTensor *t = <DLManagedTensor *>malloc(sizeof(DLManagedTensor) + extra)
    cdef int64_t *dims
    cdef int i
    if t == NULL:
        raise MemoryError()
    dims = <int64_t *>(<char *>t + sizeof(DLManagedTensor))
    for i in range(buf.ndim):
        dims[i] = buf.shape_[i]
        dims[buf.ndim + i] = buf.strides_[i] // buf.itemsize_
    t.dl_tensor.data = buf.data
    t.dl_tensor.device.device_type = kDLCPU
    t.dl_tensor.device.device_id = 0
    t.dl_tensor.ndim = buf.ndim
    t.dl_tensor.dtype.code = _DTYPES[buf.dtype_id].dl_code
    t.dl_tensor.dtype.bits = _DTYPES[buf.dtype_id].dl_bits
    t.dl_tensor.dtype.lanes = 1
    t.dl_tensor.shape = dims
    t.dl_tensor.strides = dims + buf.ndim
    t.dl_tensor.byte_offset = 0
    Py_INCREF(buf)
    t.manager_ctx = <void *>buf
    t.deleter = _dl_deleter
    try:
        return PyCapsule_New(t, b"dltensor", _capsule_destructor)
    except BaseException:
        t.deleter(t)
        raise


cdef CPUBuffer _shaped(tuple shape, str dtype):
    cdef CPUBuffer buf = CPUBuffer.__new__(CPUBuffer)
    cdef Py_ssize_t n = 1
    cdef int i
    try:
        buf.dtype_id = _DTYPE_IDS[dtype]
    except KeyError:
        raise ValueError(f"Unsupported dtype {dtype!r}; expected one of {sorted(_DTYPE_IDS)}")
    if not 0 < len(shape) <= MAX_NDIM:
        raise ValueError(f"A buffer has 1 to {MAX_NDIM} dimensions, not {len(shape)}")
    buf.ndim = len(shape)
    buf.itemsize_ = _DTYPES[buf.dtype_id].itemsize
    for i in range(buf.ndim):
        if shape[i] < 0:
            raise ValueError(f"Negative dimension in shape {shape}")
        buf.shape_[i] = shape[i]
        n *= shape[i]
    stride = buf.itemsize_
    for i in reversed(range(buf.ndim)):
        buf.strides_[i] = stride
        stride *= buf.shape_[i]
    buf.nbytes = n * buf.itemsize_
    return buf


cdef CPUBuffer new_cpu_buffer(tuple shape, str dtype):
    cdef CPUBuffer buf = _shaped(shape, dtype)
    cdef size_t capacity = 0
    if buf.nbytes >= POOL_MIN:
        buf.data = _pool_take(buf.nbytes, &capacity)
        if buf.data != NULL:
            buf.capacity = capacity
            return buf
        capacity = _round_capacity(buf.nbytes)
        buf.data = alloc_large(capacity)
        if buf.data == NULL:
            raise MemoryError(f"Cannot allocate {buf.nbytes} bytes for a {shape} {dtype} buffer")
        buf.capacity = capacity
        return buf
    # One byte at least, so data is never NULL. (Not av_malloc: it refuses more than 2 GiB.)
    if posix_memalign(&buf.data, ALIGN, buf.nbytes or 1) != 0:
        buf.data = NULL
        raise MemoryError(f"Cannot allocate {buf.nbytes} bytes for a {shape} {dtype} buffer")
    return buf


cdef void *alloc_large(size_t n) noexcept nogil:
    cdef void *data = NULL
    if posix_memalign(&data, HUGE_PAGE if n >= HUGE_PAGE else ALIGN, n) != 0:
        return NULL
    if n >= HUGE_PAGE:
        spdl_advise_huge(data, n)
    return data


cdef void *take_large(size_t n, size_t *capacity) noexcept nogil:
    cdef void *data = _pool_take(n, capacity)
    if data != NULL:
        return data
    capacity[0] = _round_capacity(n)
    data = alloc_large(capacity[0])
    if data == NULL:
        capacity[0] = 0
    return data


cdef CPUBuffer adopt_cpu_buffer(void **data, size_t capacity, tuple shape, str dtype,
                                bint pooled=False):
    cdef CPUBuffer buf = _shaped(shape, dtype)
    if buf.nbytes > capacity or data[0] == NULL:
        raise ValueError(f"{capacity} bytes cannot hold a {shape} {dtype} buffer")
    buf.data = data[0]
    data[0] = NULL
    if pooled:
        buf.capacity = capacity
    return buf


def _empty(shape, dtype="uint8"):
    """An uninitialized buffer (for tests and Python-side producers)."""
    return new_cpu_buffer(tuple(int(s) for s in shape), dtype)
