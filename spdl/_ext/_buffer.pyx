"""CPUBuffer: a contiguous block of host memory with a shape and a dtype, shared without copies.

It speaks every array protocol: the Python buffer protocol, ``__array_interface__`` (NumPy) and
``__dlpack__`` (PyTorch, JAX, CuPy, NumPy 1.22+). Consumers hold a reference to the buffer, so the
memory lives until the last array viewing it is gone. Cython modules allocate one with
:c:func:`new_cpu_buffer` and write straight into ``buf.data``.
"""

from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES, PyBUF_WRITABLE
from cpython.pycapsule cimport PyCapsule_IsValid, PyCapsule_GetPointer, PyCapsule_New
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc

from spdl._ext._live cimport live_add, live_register
from dlpack cimport DLManagedTensor, kDLCPU, kDLFloat, kDLInt, kDLUInt

cdef extern from "<stdlib.h>" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)

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


cdef int _LIVE_CPUBUFFER = live_register("CPUBuffer")


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
    # One byte at least, so data is never NULL. (Not av_malloc: it refuses more than 2 GiB.)
    if posix_memalign(&buf.data, ALIGN, buf.nbytes if buf.nbytes > 0 else 1) != 0:
        buf.data = NULL
        raise MemoryError(f"Cannot allocate {buf.nbytes} bytes for a {shape} {dtype} buffer")
    return buf


cdef CPUBuffer adopt_cpu_buffer(void **data, size_t capacity, tuple shape, str dtype):
    cdef CPUBuffer buf = _shaped(shape, dtype)
    if buf.nbytes > capacity or data[0] == NULL:
        raise ValueError(f"{capacity} bytes cannot hold a {shape} {dtype} buffer")
    buf.data = data[0]
    data[0] = NULL
    return buf


def _empty(shape, dtype="uint8"):
    """An uninitialized buffer (for tests and Python-side producers)."""
    return new_cpu_buffer(tuple(int(s) for s in shape), dtype)
