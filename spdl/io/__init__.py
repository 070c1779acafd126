"""Media I/O: demux, decode, filter and convert video, audio and images with FFmpeg.

Every native loop runs with the GIL released, so many threads decode at once. Importing this
package never needs CUDA.
"""

from . import utils

__all__ = ["utils"]
