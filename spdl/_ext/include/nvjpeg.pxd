# nvJPEG (nvjpeg.h), only what spdl uses: the handle, the JPEG state, image info, single and
# batched decode, and the JPEG stream parser used to ask whether the hardware engine takes an image.
#
# spdl never links against nvJPEG: libnvjpeg.so.13 (or .12) is opened at run time with dlopen.
# What follows are the types, enum values and *function pointer* types from NVIDIA's nvJPEG
# documentation (CUDA 12/13), filled in with dlsym by spdl/_ext/_nvjpeg.pyx. Handle types are
# opaque pointers, the same ABI as the header's pointers to incomplete structs.

from cuda_runtime cimport cudaStream_t

ctypedef void *nvjpegHandle_t
ctypedef void *nvjpegJpegState_t
ctypedef void *nvjpegJpegStream_t
ctypedef void *nvjpegDevAllocator_t_ptr
ctypedef void *nvjpegPinnedAllocator_t_ptr

# nvjpegStatus_t
ctypedef int nvjpegStatus_t
cdef enum:
    NVJPEG_STATUS_SUCCESS = 0
    NVJPEG_STATUS_NOT_INITIALIZED = 1
    NVJPEG_STATUS_INVALID_PARAMETER = 2
    NVJPEG_STATUS_BAD_JPEG = 3
    NVJPEG_STATUS_JPEG_NOT_SUPPORTED = 4
    NVJPEG_STATUS_ALLOCATOR_FAILURE = 5
    NVJPEG_STATUS_EXECUTION_FAILED = 6
    NVJPEG_STATUS_ARCH_MISMATCH = 7
    NVJPEG_STATUS_INTERNAL_ERROR = 8
    NVJPEG_STATUS_IMPLEMENTATION_NOT_SUPPORTED = 9
    NVJPEG_STATUS_INCOMPLETE_BITSTREAM = 10

# nvjpegChromaSubsampling_t
ctypedef int nvjpegChromaSubsampling_t
cdef enum:
    NVJPEG_CSS_444 = 0
    NVJPEG_CSS_422 = 1
    NVJPEG_CSS_420 = 2
    NVJPEG_CSS_440 = 3
    NVJPEG_CSS_411 = 4
    NVJPEG_CSS_410 = 5
    NVJPEG_CSS_GRAY = 6
    NVJPEG_CSS_410V = 7
    NVJPEG_CSS_UNKNOWN = -1

# nvjpegOutputFormat_t
ctypedef int nvjpegOutputFormat_t
cdef enum:
    NVJPEG_OUTPUT_UNCHANGED = 0
    NVJPEG_OUTPUT_YUV = 1
    NVJPEG_OUTPUT_Y = 2
    NVJPEG_OUTPUT_RGB = 3
    NVJPEG_OUTPUT_BGR = 4
    NVJPEG_OUTPUT_RGBI = 5
    NVJPEG_OUTPUT_BGRI = 6

# nvjpegBackend_t
ctypedef int nvjpegBackend_t
cdef enum:
    NVJPEG_BACKEND_DEFAULT = 0
    NVJPEG_BACKEND_HYBRID = 1
    NVJPEG_BACKEND_GPU_HYBRID = 2
    NVJPEG_BACKEND_HARDWARE = 3
    NVJPEG_BACKEND_GPU_HYBRID_DEVICE = 4
    NVJPEG_BACKEND_HARDWARE_DEVICE = 5
    NVJPEG_BACKEND_LOSSLESS_JPEG = 6

cdef enum:
    NVJPEG_MAX_COMPONENT = 4

ctypedef struct nvjpegImage_t:
    unsigned char *channel[4]   # NVJPEG_MAX_COMPONENT
    size_t pitch[4]

ctypedef nvjpegStatus_t (*nvjpegCreateEx_t)(
    nvjpegBackend_t backend, nvjpegDevAllocator_t_ptr dev_allocator,
    nvjpegPinnedAllocator_t_ptr pinned_allocator, unsigned int flags,
    nvjpegHandle_t *handle) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegDestroy_t)(nvjpegHandle_t handle) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegGetProperty_t)(int type, int *value) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegGetHardwareDecoderInfo_t)(
    nvjpegHandle_t handle, unsigned int *num_engines,
    unsigned int *num_cores_per_engine) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegJpegStateCreate_t)(
    nvjpegHandle_t handle, nvjpegJpegState_t *jpeg_handle) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegJpegStateDestroy_t)(nvjpegJpegState_t jpeg_handle) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegGetImageInfo_t)(
    nvjpegHandle_t handle, const unsigned char *data, size_t length, int *nComponents,
    nvjpegChromaSubsampling_t *subsampling, int *widths, int *heights) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegDecode_t)(
    nvjpegHandle_t handle, nvjpegJpegState_t jpeg_handle, const unsigned char *data,
    size_t length, nvjpegOutputFormat_t output_format, nvjpegImage_t *destination,
    cudaStream_t stream) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegDecodeBatchedInitialize_t)(
    nvjpegHandle_t handle, nvjpegJpegState_t jpeg_handle, int batch_size, int max_cpu_threads,
    nvjpegOutputFormat_t output_format) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegDecodeBatched_t)(
    nvjpegHandle_t handle, nvjpegJpegState_t jpeg_handle, const unsigned char *const *data,
    const size_t *lengths, nvjpegImage_t *destinations, cudaStream_t stream) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegJpegStreamCreate_t)(
    nvjpegHandle_t handle, nvjpegJpegStream_t *jpeg_stream) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegJpegStreamDestroy_t)(nvjpegJpegStream_t jpeg_stream) noexcept nogil
ctypedef nvjpegStatus_t (*nvjpegJpegStreamParse_t)(
    nvjpegHandle_t handle, const unsigned char *data, size_t length, int save_metadata,
    int save_stream, nvjpegJpegStream_t jpeg_stream) noexcept nogil
# isSupported is set to 0 when the hardware backend can decode the parsed image.
ctypedef nvjpegStatus_t (*nvjpegDecodeBatchedSupported_t)(
    nvjpegHandle_t handle, nvjpegJpegStream_t jpeg_stream, int *isSupported) noexcept nogil

ctypedef struct NvjpegAPI:
    nvjpegCreateEx_t nvjpegCreateEx
    nvjpegDestroy_t nvjpegDestroy
    nvjpegGetProperty_t nvjpegGetProperty
    nvjpegGetHardwareDecoderInfo_t nvjpegGetHardwareDecoderInfo
    nvjpegJpegStateCreate_t nvjpegJpegStateCreate
    nvjpegJpegStateDestroy_t nvjpegJpegStateDestroy
    nvjpegGetImageInfo_t nvjpegGetImageInfo
    nvjpegDecode_t nvjpegDecode
    nvjpegDecodeBatchedInitialize_t nvjpegDecodeBatchedInitialize
    nvjpegDecodeBatched_t nvjpegDecodeBatched
    nvjpegJpegStreamCreate_t nvjpegJpegStreamCreate
    nvjpegJpegStreamDestroy_t nvjpegJpegStreamDestroy
    nvjpegJpegStreamParse_t nvjpegJpegStreamParse
    nvjpegDecodeBatchedSupported_t nvjpegDecodeBatchedSupported
