# The one error table of the native layer: FFmpeg status codes to spdl.io exception classes.

cdef str av_error_string(int code)
cdef str last_ffmpeg_log()
cdef void clear_ffmpeg_log() noexcept nogil
cdef object make_media_error(int code, str step, str source, str detail=*)
cdef int raise_media_error(int code, str step, str source, str detail=*) except -1
