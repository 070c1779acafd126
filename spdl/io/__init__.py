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

__all__ = [
    "CPUBuffer",
    "DecodeError",
    "DemuxError",
    "FilterError",
    "InvalidFilterError",
    "MediaError",
    "MediaTimeoutError",
    "MediaTooLargeError",
    "TruncatedMediaError",
    "UnsupportedMediaError",
    "to_numpy",
    "to_torch",
    "utils",
]
