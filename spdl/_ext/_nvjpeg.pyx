"""nvJPEG and the CUDA runtime, opened at run time with dlopen: JPEG decode into CUDA memory.

Nothing here links against CUDA, so this module imports (and the wheel installs) on machines with
no GPU; ``load_cudart`` and ``load_nvjpeg`` open the libraries on first use and say which files
they tried when that fails.

One ``JpegDecoder`` belongs to one thread (``spdl.io`` keeps one per thread and device): it owns a
hardware-backend handle (A100/H100/H200 have a JPEG engine) when the GPU has one, and a default
(hybrid) handle that takes what the engine cannot (progressive JPEGs, odd subsampling) and every
image on GPUs without an engine. ``decode`` runs the whole batch, header checks, engine batch and
fallbacks, with the GIL released.
"""

from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from posix.dlfcn cimport RTLD_LOCAL, RTLD_NOW, dlerror, dlopen, dlsym

cimport cuda_runtime as cudart
cimport nvjpeg as nvj

import threading

# The tables below are written once, under _load_lock, before any decoder exists; afterwards they
# are only read, so threads (free-threaded Python included) share them without further locking.
cdef cudart.CudaRuntimeAPI _rt
cdef nvj.NvjpegAPI _nv
cdef void *_rt_lib = NULL
cdef void *_nv_lib = NULL
_load_lock = threading.Lock()
_loaded_paths = {}  # "cudart" / "nvjpeg" -> the candidate that loaded

_NVJPEG_STATUS = {
    nvj.NVJPEG_STATUS_SUCCESS: "NVJPEG_STATUS_SUCCESS",
    nvj.NVJPEG_STATUS_NOT_INITIALIZED: "NVJPEG_STATUS_NOT_INITIALIZED",
    nvj.NVJPEG_STATUS_INVALID_PARAMETER: "NVJPEG_STATUS_INVALID_PARAMETER",
    nvj.NVJPEG_STATUS_BAD_JPEG: "NVJPEG_STATUS_BAD_JPEG",
    nvj.NVJPEG_STATUS_JPEG_NOT_SUPPORTED: "NVJPEG_STATUS_JPEG_NOT_SUPPORTED",
    nvj.NVJPEG_STATUS_ALLOCATOR_FAILURE: "NVJPEG_STATUS_ALLOCATOR_FAILURE",
    nvj.NVJPEG_STATUS_EXECUTION_FAILED: "NVJPEG_STATUS_EXECUTION_FAILED",
    nvj.NVJPEG_STATUS_ARCH_MISMATCH: "NVJPEG_STATUS_ARCH_MISMATCH",
    nvj.NVJPEG_STATUS_INTERNAL_ERROR: "NVJPEG_STATUS_INTERNAL_ERROR",
    nvj.NVJPEG_STATUS_IMPLEMENTATION_NOT_SUPPORTED: "NVJPEG_STATUS_IMPLEMENTATION_NOT_SUPPORTED",
    nvj.NVJPEG_STATUS_INCOMPLETE_BITSTREAM: "NVJPEG_STATUS_INCOMPLETE_BITSTREAM",
}

# Statuses that mean "this image's bytes are the problem", as opposed to the library or the GPU.
_DATA_STATUSES = frozenset({
    nvj.NVJPEG_STATUS_BAD_JPEG,
    nvj.NVJPEG_STATUS_JPEG_NOT_SUPPORTED,
    nvj.NVJPEG_STATUS_INCOMPLETE_BITSTREAM,
})


def nvjpeg_status_name(int status):
    """The ``nvjpegStatus_t`` name of ``status`` (``"NVJPEG_STATUS_BAD_JPEG"`` ...)."""
    return _NVJPEG_STATUS.get(status, f"nvjpegStatus_t({status})")


def is_data_status(int status):
    """Whether an nvJPEG status blames the input bytes (corrupt, truncated, unsupported)."""
    return status in _DATA_STATUSES


cdef void *_open_first(list candidates, list tried, list found) except? NULL:
    cdef void *lib = NULL
    cdef const char *err
    for path in candidates:
        b = str(path).encode()
        lib = dlopen(b, RTLD_NOW | RTLD_LOCAL)
        if lib != NULL:
            found.append(str(path))
            return lib
        err = dlerror()
        tried.append(f"{path}: {err.decode(errors='replace') if err != NULL else 'not found'}")
    return NULL


cdef void *_sym(void *lib, const char *name, list missing, bint required=True) noexcept:
    cdef void *p = dlsym(lib, name)
    if p == NULL and required:
        missing.append(name.decode())
    return p


def load_cudart(candidates):
    """Open the CUDA runtime from the first of ``candidates`` (file names or paths) that loads.

    Returns:
        str: the candidate that loaded (the first call's, on later calls).

    Raises:
        OSError: none of them loads, or one lacks a symbol spdl needs; the message lists every
            attempt with the dynamic loader's own reason.
    """
    global _rt_lib
    with _load_lock:
        if _rt_lib != NULL:
            return _loaded_paths.get("cudart")
        tried = []
        found = []
        lib = _open_first(list(candidates), tried, found)
        if lib == NULL:
            raise OSError("could not load the CUDA runtime (libcudart); tried:\n  "
                          + "\n  ".join(tried))
        missing = []
        _rt.cudaGetDeviceCount = <cudart.cudaGetDeviceCount_t>_sym(lib, b"cudaGetDeviceCount", missing)
        _rt.cudaGetDevice = <cudart.cudaGetDevice_t>_sym(lib, b"cudaGetDevice", missing)
        _rt.cudaSetDevice = <cudart.cudaSetDevice_t>_sym(lib, b"cudaSetDevice", missing)
        _rt.cudaStreamSynchronize = <cudart.cudaStreamSynchronize_t>_sym(
            lib, b"cudaStreamSynchronize", missing)
        _rt.cudaMemcpyAsync = <cudart.cudaMemcpyAsync_t>_sym(lib, b"cudaMemcpyAsync", missing)
        _rt.cudaGetErrorString = <cudart.cudaGetErrorString_t>_sym(lib, b"cudaGetErrorString", missing)
        _rt.cudaGetErrorName = <cudart.cudaGetErrorName_t>_sym(lib, b"cudaGetErrorName", missing)
        _rt.cudaRuntimeGetVersion = <cudart.cudaRuntimeGetVersion_t>_sym(
            lib, b"cudaRuntimeGetVersion", missing)
        _rt.cudaDriverGetVersion = <cudart.cudaDriverGetVersion_t>_sym(
            lib, b"cudaDriverGetVersion", missing)
        if missing:
            memset(&_rt, 0, sizeof(_rt))
            raise OSError(f"{found[0]} lacks {', '.join(missing)}")
        _rt_lib = lib
        _loaded_paths["cudart"] = found[0]
        return found[0]


def load_nvjpeg(candidates):
    """Open nvJPEG from the first of ``candidates`` that loads (see ``load_cudart``)."""
    global _nv_lib
    with _load_lock:
        if _nv_lib != NULL:
            return _loaded_paths.get("nvjpeg")
        tried = []
        found = []
        lib = _open_first(list(candidates), tried, found)
        if lib == NULL:
            raise OSError("could not load nvJPEG (libnvjpeg); tried:\n  " + "\n  ".join(tried))
        missing = []
        _nv.nvjpegCreateEx = <nvj.nvjpegCreateEx_t>_sym(lib, b"nvjpegCreateEx", missing)
        _nv.nvjpegDestroy = <nvj.nvjpegDestroy_t>_sym(lib, b"nvjpegDestroy", missing)
        _nv.nvjpegGetProperty = <nvj.nvjpegGetProperty_t>_sym(
            lib, b"nvjpegGetProperty", missing, False)
        _nv.nvjpegGetHardwareDecoderInfo = <nvj.nvjpegGetHardwareDecoderInfo_t>_sym(
            lib, b"nvjpegGetHardwareDecoderInfo", missing, False)
        _nv.nvjpegJpegStateCreate = <nvj.nvjpegJpegStateCreate_t>_sym(
            lib, b"nvjpegJpegStateCreate", missing)
        _nv.nvjpegJpegStateDestroy = <nvj.nvjpegJpegStateDestroy_t>_sym(
            lib, b"nvjpegJpegStateDestroy", missing)
        _nv.nvjpegGetImageInfo = <nvj.nvjpegGetImageInfo_t>_sym(lib, b"nvjpegGetImageInfo", missing)
        _nv.nvjpegDecode = <nvj.nvjpegDecode_t>_sym(lib, b"nvjpegDecode", missing)
        _nv.nvjpegDecodeBatchedInitialize = <nvj.nvjpegDecodeBatchedInitialize_t>_sym(
            lib, b"nvjpegDecodeBatchedInitialize", missing)
        _nv.nvjpegDecodeBatched = <nvj.nvjpegDecodeBatched_t>_sym(
            lib, b"nvjpegDecodeBatched", missing)
        _nv.nvjpegJpegStreamCreate = <nvj.nvjpegJpegStreamCreate_t>_sym(
            lib, b"nvjpegJpegStreamCreate", missing)
        _nv.nvjpegJpegStreamDestroy = <nvj.nvjpegJpegStreamDestroy_t>_sym(
            lib, b"nvjpegJpegStreamDestroy", missing)
        _nv.nvjpegJpegStreamParse = <nvj.nvjpegJpegStreamParse_t>_sym(
            lib, b"nvjpegJpegStreamParse", missing)
        _nv.nvjpegDecodeBatchedSupported = <nvj.nvjpegDecodeBatchedSupported_t>_sym(
            lib, b"nvjpegDecodeBatchedSupported", missing)
        if missing:
            memset(&_nv, 0, sizeof(_nv))
            raise OSError(f"{found[0]} lacks {', '.join(missing)}")
        _nv_lib = lib
        _loaded_paths["nvjpeg"] = found[0]
        return found[0]


cdef str _cuda_message(cudart.cudaError_t err):
    cdef const char *name = _rt.cudaGetErrorName(err)
    cdef const char *text = _rt.cudaGetErrorString(err)
    return f"{name.decode() if name != NULL else err}: {text.decode() if text != NULL else ''}"


class CUDARuntimeError(RuntimeError):
    """A CUDA runtime call failed; ``code`` is the ``cudaError_t``."""

    def __init__(self, message, code=0):
        super().__init__(message, code)
        self.code = code

    def __str__(self):
        return self.args[0]


class NvjpegError(RuntimeError):
    """An nvJPEG call failed.

    Attributes:
        status: the ``nvjpegStatus_t``; ``index``: which image of the batch (-1: the whole batch);
        step: the nvJPEG function that failed.
    """

    def __init__(self, message, status=0, index=-1, step=""):
        super().__init__(message, status, index, step)
        self.status = status
        self.index = index
        self.step = step

    def __str__(self):
        return self.args[0]


def _check_cudart():
    if _rt_lib == NULL:
        raise RuntimeError("the CUDA runtime is not loaded (call load_cudart first)")


def get_device_count():
    """How many CUDA devices the runtime sees (0 when the driver finds none)."""
    _check_cudart()
    cdef int n = 0
    cdef cudart.cudaError_t err
    with nogil:
        err = _rt.cudaGetDeviceCount(&n)
    if err != cudart.cudaSuccess:
        # cudaErrorNoDevice / cudaErrorInsufficientDriver: say why there is no device.
        raise CUDARuntimeError(f"cudaGetDeviceCount failed ({_cuda_message(err)})", err)
    return n


def get_versions():
    """CUDA runtime and driver versions as ints (e.g. 13000 for 13.0); nvJPEG's as a tuple."""
    _check_cudart()
    cdef int rt = 0, drv = 0, major = -1, minor = -1, patch = -1
    _rt.cudaRuntimeGetVersion(&rt)
    _rt.cudaDriverGetVersion(&drv)
    out = {"cuda_runtime": rt, "cuda_driver": drv}
    if _nv_lib != NULL and _nv.nvjpegGetProperty != NULL:
        # libraryPropertyType: MAJOR_VERSION = 0, MINOR_VERSION = 1, PATCH_LEVEL = 2.
        _nv.nvjpegGetProperty(0, &major)
        _nv.nvjpegGetProperty(1, &minor)
        _nv.nvjpegGetProperty(2, &patch)
        out["nvjpeg"] = (major, minor, patch)
    return out


def stream_synchronize(int device_index, uintptr_t stream):
    """Wait, with the GIL released, until all work queued on ``stream`` has finished."""
    _check_cudart()
    cdef cudart.cudaError_t err
    with nogil:
        err = _rt.cudaSetDevice(device_index)
        if err == cudart.cudaSuccess:
            err = _rt.cudaStreamSynchronize(<cudart.cudaStream_t>stream)
    if err != cudart.cudaSuccess:
        raise CUDARuntimeError(f"cudaStreamSynchronize failed ({_cuda_message(err)})", err)


def copy_host_to_device(int device_index, uintptr_t dst, uintptr_t src, size_t nbytes,
                        uintptr_t stream, bint synchronize=True):
    """Queue ``cudaMemcpyAsync(dst, src, nbytes, HostToDevice, stream)``; GIL released.

    With ``synchronize`` it also waits for the copy, so ``src`` (pinned staging) may be reused.
    """
    _check_cudart()
    cdef cudart.cudaError_t err
    with nogil:
        err = _rt.cudaSetDevice(device_index)
        if err == cudart.cudaSuccess:
            err = _rt.cudaMemcpyAsync(<void *>dst, <const void *>src, nbytes,
                                      cudart.cudaMemcpyHostToDevice, <cudart.cudaStream_t>stream)
        if err == cudart.cudaSuccess and synchronize:
            err = _rt.cudaStreamSynchronize(<cudart.cudaStream_t>stream)
    if err != cudart.cudaSuccess:
        raise CUDARuntimeError(f"host-to-device copy of {nbytes} bytes failed "
                               f"({_cuda_message(err)})", err)


# JPEG files end with the EOI marker FF D9. nvJPEG's engine decodes a truncated file into a
# partly grey image without an error, so spdl checks the marker itself (a few encoders pad
# after it, hence the small window).
cdef bint _has_eoi(const unsigned char *data, size_t n) noexcept nogil:
    cdef size_t i
    cdef size_t lo = n - 64 if n > 64 else 0
    if n < 4:
        return False
    i = n - 1
    while i > lo:
        if data[i] == 0xD9 and data[i - 1] == 0xFF:
            return True
        i -= 1
    return False


cdef class _Inputs:
    """Pointers and lengths of a list of byte buffers, held alive while the GIL is released."""
    cdef list views
    cdef const unsigned char **ptrs
    cdef size_t *lens
    cdef int n

    def __cinit__(self, list sources):
        cdef const unsigned char[::1] view
        cdef int i
        self.n = len(sources)
        self.views = []
        self.ptrs = <const unsigned char **>malloc(max(self.n, 1) * sizeof(void *))
        self.lens = <size_t *>malloc(max(self.n, 1) * sizeof(size_t))
        if self.ptrs == NULL or self.lens == NULL:
            raise MemoryError()
        for i in range(self.n):
            view = sources[i]
            self.views.append(view)
            self.lens[i] = view.shape[0]
            self.ptrs[i] = &view[0] if view.shape[0] > 0 else NULL

    def __dealloc__(self):
        free(self.ptrs)
        free(self.lens)


cdef class JpegDecoder:
    """nvJPEG handles and state for one thread on one device. Not for sharing across threads.

    Args:
        device_index: the CUDA device.
        use_hardware: try the hardware JPEG engine (nvJPEG's hardware backend) first.
    """
    cdef readonly int device_index
    cdef readonly bint has_hardware
    cdef readonly unsigned int hardware_engines
    cdef nvj.nvjpegHandle_t hw_handle
    cdef nvj.nvjpegJpegState_t hw_state
    cdef nvj.nvjpegJpegStream_t hw_stream
    cdef int hw_batch_size
    cdef int hw_format
    cdef nvj.nvjpegHandle_t handle
    cdef nvj.nvjpegJpegState_t state

    def __cinit__(self, int device_index, bint use_hardware=True):
        if _nv_lib == NULL or _rt_lib == NULL:
            raise RuntimeError("nvJPEG and the CUDA runtime must be loaded first")
        self.device_index = device_index
        self.hw_batch_size = -1
        self.hw_format = -1
        cdef nvj.nvjpegStatus_t st
        cdef cudart.cudaError_t err
        cdef unsigned int cores = 0
        with nogil:
            err = _rt.cudaSetDevice(device_index)
        if err != cudart.cudaSuccess:
            raise CUDARuntimeError(f"cudaSetDevice({device_index}) failed ({_cuda_message(err)})",
                                   err)
        if use_hardware:
            with nogil:
                st = _nv.nvjpegCreateEx(nvj.NVJPEG_BACKEND_HARDWARE, NULL, NULL, 0, &self.hw_handle)
                if st == nvj.NVJPEG_STATUS_SUCCESS:
                    st = _nv.nvjpegJpegStateCreate(self.hw_handle, &self.hw_state)
                if st == nvj.NVJPEG_STATUS_SUCCESS:
                    st = _nv.nvjpegJpegStreamCreate(self.hw_handle, &self.hw_stream)
            # GPUs without the engine answer NVJPEG_STATUS_ARCH_MISMATCH (or "not supported"):
            # that is not an error, the default backend does all the work then.
            self.has_hardware = st == nvj.NVJPEG_STATUS_SUCCESS
            if not self.has_hardware:
                self._destroy_hardware()
            elif _nv.nvjpegGetHardwareDecoderInfo != NULL:
                _nv.nvjpegGetHardwareDecoderInfo(self.hw_handle, &self.hardware_engines, &cores)
        with nogil:
            st = _nv.nvjpegCreateEx(nvj.NVJPEG_BACKEND_DEFAULT, NULL, NULL, 0, &self.handle)
            if st == nvj.NVJPEG_STATUS_SUCCESS:
                st = _nv.nvjpegJpegStateCreate(self.handle, &self.state)
        if st != nvj.NVJPEG_STATUS_SUCCESS:
            raise NvjpegError(f"creating an nvJPEG handle on device {device_index} failed "
                              f"({nvjpeg_status_name(st)})", st, -1, "nvjpegCreateEx")

    cdef void _destroy_hardware(self) noexcept:
        if self.hw_stream != NULL:
            _nv.nvjpegJpegStreamDestroy(self.hw_stream)
            self.hw_stream = NULL
        if self.hw_state != NULL:
            _nv.nvjpegJpegStateDestroy(self.hw_state)
            self.hw_state = NULL
        if self.hw_handle != NULL:
            _nv.nvjpegDestroy(self.hw_handle)
            self.hw_handle = NULL

    def __dealloc__(self):
        if _nv_lib == NULL:
            return
        self._destroy_hardware()
        if self.state != NULL:
            _nv.nvjpegJpegStateDestroy(self.state)
            self.state = NULL
        if self.handle != NULL:
            _nv.nvjpegDestroy(self.handle)
            self.handle = NULL

    def image_info(self, list sources):
        """Sizes of each JPEG, read from its header; GIL released for the whole list.

        Returns:
            list[tuple[int, int, int]]: (height, width, number of components) per image.

        Raises:
            NvjpegError: an image's header is unreadable, or it has no end-of-image marker
                (truncated); ``index`` says which.
        """
        cdef _Inputs inputs = _Inputs(sources)
        cdef int n = inputs.n
        cdef int *hw = <int *>malloc(max(n, 1) * 3 * sizeof(int))
        if hw == NULL:
            raise MemoryError()
        cdef int i, k, comps = 0
        cdef int widths[4]
        cdef int heights[4]
        cdef nvj.nvjpegChromaSubsampling_t css
        cdef nvj.nvjpegStatus_t st = nvj.NVJPEG_STATUS_SUCCESS
        cdef int failed = -1
        cdef bint truncated = False
        try:
            with nogil:
                for i in range(n):
                    if inputs.ptrs[i] == NULL:
                        st = nvj.NVJPEG_STATUS_BAD_JPEG
                        failed = i
                        break
                    st = _nv.nvjpegGetImageInfo(self.handle, inputs.ptrs[i], inputs.lens[i],
                                                &comps, &css, widths, heights)
                    if st != nvj.NVJPEG_STATUS_SUCCESS:
                        failed = i
                        break
                    if not _has_eoi(inputs.ptrs[i], inputs.lens[i]):
                        st = nvj.NVJPEG_STATUS_INCOMPLETE_BITSTREAM
                        truncated = True
                        failed = i
                        break
                    hw[3 * i] = heights[0]
                    hw[3 * i + 1] = widths[0]
                    hw[3 * i + 2] = comps
            if failed >= 0:
                why = "no end-of-image marker: truncated" if truncated else nvjpeg_status_name(st)
                raise NvjpegError(f"reading the JPEG header failed ({why})", st, failed,
                                  "nvjpegGetImageInfo")
            return [(hw[3 * k], hw[3 * k + 1], hw[3 * k + 2]) for k in range(n)]
        finally:
            free(hw)

    def decode(self, list sources, list dst_ptrs, list sizes, bint bgr, uintptr_t stream):
        """Decode every JPEG into planar 8-bit RGB (or BGR) at its own size, queued on ``stream``.

        Image ``i`` of size ``sizes[i] = (h, w)`` is written at ``dst_ptrs[i]`` as 3 planes of
        h x w bytes (pitch w). Images the hardware engine takes are decoded in one batched call;
        the rest one by one with the default backend. Nothing waits for the GPU here: call
        ``stream_synchronize`` before reading. GIL released for the whole batch.

        Returns:
            int: how many images went to the hardware engine.
        """
        cdef _Inputs inputs = _Inputs(sources)
        cdef int n = inputs.n
        if len(dst_ptrs) != n or len(sizes) != n:
            raise ValueError("sources, dst_ptrs and sizes must have the same length")
        cdef nvj.nvjpegImage_t *images = <nvj.nvjpegImage_t *>malloc(
            max(n, 1) * sizeof(nvj.nvjpegImage_t))
        cdef int *order = <int *>malloc(max(n, 1) * sizeof(int))
        cdef const unsigned char **hw_ptrs = <const unsigned char **>malloc(
            max(n, 1) * sizeof(void *))
        cdef size_t *hw_lens = <size_t *>malloc(max(n, 1) * sizeof(size_t))
        cdef nvj.nvjpegImage_t *hw_images = <nvj.nvjpegImage_t *>malloc(
            max(n, 1) * sizeof(nvj.nvjpegImage_t))
        if images == NULL or order == NULL or hw_ptrs == NULL or hw_lens == NULL or hw_images == NULL:
            free(images); free(order); free(hw_ptrs); free(hw_lens); free(hw_images)
            raise MemoryError()
        cdef int i, j, c, n_hw = 0, n_sw = 0, supported = 1, failed = -1
        cdef size_t h, w, base
        cdef nvj.nvjpegStatus_t st = nvj.NVJPEG_STATUS_SUCCESS
        cdef cudart.cudaError_t err = cudart.cudaSuccess
        cdef const char *step = b""
        cdef nvj.nvjpegOutputFormat_t fmt = nvj.NVJPEG_OUTPUT_BGR if bgr else nvj.NVJPEG_OUTPUT_RGB
        cdef cudart.cudaStream_t cstream = <cudart.cudaStream_t>stream
        try:
            for i in range(n):
                h, w = sizes[i]
                base = <uintptr_t>dst_ptrs[i]
                memset(&images[i], 0, sizeof(nvj.nvjpegImage_t))
                for c in range(3):
                    images[i].channel[c] = <unsigned char *>(base + c * h * w)
                    images[i].pitch[c] = w
            with nogil:
                err = _rt.cudaSetDevice(self.device_index)
                if err == cudart.cudaSuccess:
                    # Split the batch: the engine's share keeps input order among itself.
                    for i in range(n):
                        supported = 1
                        if self.has_hardware:
                            st = _nv.nvjpegJpegStreamParse(self.hw_handle, inputs.ptrs[i],
                                                           inputs.lens[i], 0, 0, self.hw_stream)
                            if st == nvj.NVJPEG_STATUS_SUCCESS:
                                st = _nv.nvjpegDecodeBatchedSupported(self.hw_handle,
                                                                      self.hw_stream, &supported)
                            if st != nvj.NVJPEG_STATUS_SUCCESS:
                                supported = 1
                        if self.has_hardware and supported == 0:
                            hw_ptrs[n_hw] = inputs.ptrs[i]
                            hw_lens[n_hw] = inputs.lens[i]
                            hw_images[n_hw] = images[i]
                            n_hw += 1
                        else:
                            order[n_sw] = i
                            n_sw += 1
                    st = nvj.NVJPEG_STATUS_SUCCESS
                    if n_hw > 0:
                        # Re-initialising allocates: do it only when the batch shape changes.
                        if n_hw != self.hw_batch_size or fmt != self.hw_format:
                            step = b"nvjpegDecodeBatchedInitialize"
                            st = _nv.nvjpegDecodeBatchedInitialize(self.hw_handle, self.hw_state,
                                                                   n_hw, 1, fmt)
                            if st == nvj.NVJPEG_STATUS_SUCCESS:
                                self.hw_batch_size = n_hw
                                self.hw_format = fmt
                            else:
                                self.hw_batch_size = -1
                        if st == nvj.NVJPEG_STATUS_SUCCESS:
                            step = b"nvjpegDecodeBatched"
                            st = _nv.nvjpegDecodeBatched(self.hw_handle, self.hw_state, hw_ptrs,
                                                         hw_lens, hw_images, cstream)
                            if st != nvj.NVJPEG_STATUS_SUCCESS:
                                # Start the next batch from a clean state.
                                self.hw_batch_size = -1
                    if st == nvj.NVJPEG_STATUS_SUCCESS:
                        step = b"nvjpegDecode"
                        for j in range(n_sw):
                            i = order[j]
                            st = _nv.nvjpegDecode(self.handle, self.state, inputs.ptrs[i],
                                                  inputs.lens[i], fmt, &images[i], cstream)
                            if st != nvj.NVJPEG_STATUS_SUCCESS:
                                failed = i
                                break
            if err != cudart.cudaSuccess:
                raise CUDARuntimeError(
                    f"cudaSetDevice({self.device_index}) failed ({_cuda_message(err)})", err)
            if st != nvj.NVJPEG_STATUS_SUCCESS:
                where = f"image {failed}" if failed >= 0 else f"a batch of {n_hw} images"
                raise NvjpegError(f"{step.decode()} failed on {where} ({nvjpeg_status_name(st)})",
                                  st, failed, step.decode())
            return n_hw
        finally:
            free(images); free(order); free(hw_ptrs); free(hw_lens); free(hw_images)
