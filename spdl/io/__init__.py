"""Media I/O: demux, decode, filter and convert video, audio and images with FFmpeg.

Every native loop runs with the GIL released, so many threads decode at once. Importing this
package never needs CUDA.
"""

from spdl._ext._buffer import CPUBuffer
from spdl._ext._convert import convert_frames
from spdl._ext._decode import (
    Decoder,
    PartialDecodeWarning,
    decode_packets,
    get_decode_limits,
    sample_decode_video,
    set_decode_limits,
)
from spdl._ext._demux import Demuxer
from spdl._ext._error import (
    ConvertError,
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
from spdl._ext._filter import FilterGraph
from spdl._ext._frames import AudioFrames, Frames, ImageFrames, VideoFrames
from spdl._ext._packets import AudioPackets, ImagePackets, Packets, VideoPackets

from . import utils
from ._array import to_numpy, to_torch
from ._config import DecodeConfig, decode_config
from ._cuda_buffer import CUDABuffer, CUDAConfig, cuda_config, to_cupy
from ._cuda_libs import CUDANotAvailableError
from ._cuda_transfer import transfer_buffer
from ._filter_desc import get_audio_filter_desc, get_video_filter_desc
from ._image_batch import load_image_batch
from ._load import (
    demux_audio,
    demux_image,
    demux_video,
    load_audio,
    load_image,
    load_video,
)
from ._nvdec import decode_packets_nvdec, demux_annexb, streaming_load_video_nvdec
from ._nvjpeg import decode_image_nvjpeg, load_image_batch_nvjpeg

__all__ = [
    "AudioFrames",
    "AudioPackets",
    "CPUBuffer",
    "CUDABuffer",
    "CUDAConfig",
    "CUDANotAvailableError",
    "ConvertError",
    "DecodeConfig",
    "DecodeError",
    "Decoder",
    "DemuxError",
    "Demuxer",
    "FilterError",
    "FilterGraph",
    "Frames",
    "ImageFrames",
    "ImagePackets",
    "InvalidFilterError",
    "MediaError",
    "MediaTimeoutError",
    "MediaTooLargeError",
    "Packets",
    "PartialDecodeWarning",
    "TruncatedMediaError",
    "UnsupportedMediaError",
    "VideoFrames",
    "VideoPackets",
    "convert_frames",
    "cuda_config",
    "decode_config",
    "decode_image_nvjpeg",
    "decode_packets",
    "decode_packets_nvdec",
    "demux_annexb",
    "demux_audio",
    "demux_image",
    "demux_video",
    "get_audio_filter_desc",
    "get_decode_limits",
    "get_video_filter_desc",
    "load_audio",
    "load_image",
    "load_image_batch",
    "load_image_batch_nvjpeg",
    "load_video",
    "sample_decode_video",
    "set_decode_limits",
    "streaming_load_video_nvdec",
    "to_cupy",
    "to_numpy",
    "to_torch",
    "transfer_buffer",
    "utils",
]
