# CPUBuffer: one contiguous, owned, typed block of host memory. See _buffer.pyx.

cdef enum:
    MAX_NDIM = 8

cdef class CPUBuffer:
    cdef void *data
    cdef size_t nbytes
    # Size of the block when it came from (and goes back to) the pool of large blocks; 0 for a
    # block freed with free() (small ones, and adopted ones).
    cdef size_t capacity
    cdef int ndim
    cdef Py_ssize_t shape_[MAX_NDIM]
    cdef Py_ssize_t strides_[MAX_NDIM]
    cdef Py_ssize_t itemsize_
    cdef int dtype_id
    cdef int exports
    cdef object __weakref__

# Allocate an uninitialized C-contiguous buffer of `shape` and `dtype` ("uint8", "uint16",
# "int16", "int32", "int64", "float32", "float64", ">u2"); fill it through `buf.data` (nogil is
# fine).
cdef CPUBuffer new_cpu_buffer(tuple shape, str dtype)

# Take ownership of `*data` (from malloc/posix_memalign/realloc, at least `capacity` bytes, freed
# with free()) as a buffer of `shape` and `dtype`; `*data` is set to NULL. For producers that grow
# their output while decoding and learn its final shape at the end. `pooled`: the block goes back
# to the pool of large blocks when the buffer goes (a block from take_large, or grown from one).
cdef CPUBuffer adopt_cpu_buffer(void **data, size_t capacity, tuple shape, str dtype,
                                bint pooled=*)

# A large block of at least `n` bytes for adopt_cpu_buffer(pooled=True): a pooled one when one
# fits (its pages already mapped), else a fresh alloc_large block. Its size goes to `capacity`.
# NULL when out of memory.
cdef void *take_large(size_t n, size_t *capacity) noexcept nogil

# A large block (free() frees it): 64-byte aligned, and from 2 MiB up aligned to a huge page and
# advised to use transparent huge pages (Linux). NULL when out of memory.
cdef void *alloc_large(size_t n) noexcept nogil
