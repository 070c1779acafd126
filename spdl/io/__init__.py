"""Media I/O: demux, decode, filter and convert video, audio and images with FFmpeg.

Every native loop runs with the GIL released, so many threads decode at once. Importing this
package never needs CUDA.
"""

from spdl._ext._buffer import CPUBuffer
from spdl._ext._error import (
    DecodeError,
    DemuxError,
    FilterError,
    InvalidFilterError,
    MediaError,
    MediaTimeoutError,
    MediaTooLargeError,
    TruncatedMediaError,
    UnsupportedMediaError,
)

from . import utils
from ._array import to_numpy, to_torch
from ._cuda_buffer import CUDABuffer, CUDAConfig, cuda_config, to_cupy
from ._cuda_libs import CUDANotAvailableError
from ._cuda_transfer import transfer_buffer
from ._nvdec import decode_packets_nvdec, demux_annexb, streaming_load_video_nvdec
from ._nvjpeg import decode_image_nvjpeg, load_image_batch_nvjpeg

__all__ = [
    "CPUBuffer",
    "CUDABuffer",
    "CUDAConfig",
    "CUDANotAvailableError",
    "DecodeError",
    "DemuxError",
    "FilterError",
    "InvalidFilterError",
    "MediaError",
    "MediaTimeoutError",
    "MediaTooLargeError",
    "TruncatedMediaError",
    "UnsupportedMediaError",
    "cuda_config",
    "decode_image_nvjpeg",
    "decode_packets_nvdec",
    "demux_annexb",
    "load_image_batch_nvjpeg",
    "streaming_load_video_nvdec",
    "to_cupy",
    "to_numpy",
    "to_torch",
    "transfer_buffer",
    "utils",
]
