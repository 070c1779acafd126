# The CUDA runtime API (cuda_runtime_api.h), only what spdl uses.
#
# spdl never links against CUDA: libcudart is opened at run time with dlopen, so these are the
# types and the *function pointer* types the loader fills in with dlsym. The signatures follow
# NVIDIA's CUDA Runtime API reference; a handle type is declared as an opaque pointer, which has
# the same ABI as the header's pointer-to-incomplete-struct.

ctypedef int cudaError_t
ctypedef void *cudaStream_t
ctypedef void *cudaEvent_t

cdef enum:
    cudaSuccess = 0
    # cudaMemcpyKind
    cudaMemcpyHostToHost = 0
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2
    cudaMemcpyDeviceToDevice = 3
    cudaMemcpyDefault = 4

ctypedef cudaError_t (*cudaGetDeviceCount_t)(int *count) noexcept nogil
ctypedef cudaError_t (*cudaGetDevice_t)(int *device) noexcept nogil
ctypedef cudaError_t (*cudaSetDevice_t)(int device) noexcept nogil
ctypedef cudaError_t (*cudaStreamSynchronize_t)(cudaStream_t stream) noexcept nogil
ctypedef cudaError_t (*cudaMemcpyAsync_t)(void *dst, const void *src, size_t count, int kind,
                                          cudaStream_t stream) noexcept nogil
ctypedef const char *(*cudaGetErrorString_t)(cudaError_t error) noexcept nogil
ctypedef const char *(*cudaGetErrorName_t)(cudaError_t error) noexcept nogil
ctypedef cudaError_t (*cudaRuntimeGetVersion_t)(int *version) noexcept nogil
ctypedef cudaError_t (*cudaDriverGetVersion_t)(int *version) noexcept nogil

# The table a loader fills in; every entry is non-NULL once loading succeeded.
ctypedef struct CudaRuntimeAPI:
    cudaGetDeviceCount_t cudaGetDeviceCount
    cudaGetDevice_t cudaGetDevice
    cudaSetDevice_t cudaSetDevice
    cudaStreamSynchronize_t cudaStreamSynchronize
    cudaMemcpyAsync_t cudaMemcpyAsync
    cudaGetErrorString_t cudaGetErrorString
    cudaGetErrorName_t cudaGetErrorName
    cudaRuntimeGetVersion_t cudaRuntimeGetVersion
    cudaDriverGetVersion_t cudaDriverGetVersion
