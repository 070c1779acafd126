"""Facts about the FFmpeg libraries this build is linked against, and FFmpeg's global settings."""

cimport avcodec as avc
cimport avfilter as avf
cimport avformat as avfmt
cimport avutil as avu
cimport swresample as swr
cimport swscale as sws


cdef str _version_string(unsigned v):
    return f"{v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}"


def get_ffmpeg_versions():
    """Versions of the FFmpeg libraries loaded at run time.

    Returns:
        dict[str, str]: library name (``"libavformat"`` ...) to ``"major.minor.micro"``, plus
        ``"ffmpeg"``: the release string FFmpeg reports (``av_version_info``).
    """
    return {
        "ffmpeg": avu.av_version_info().decode(),
        "libavutil": _version_string(avu.avutil_version()),
        "libavcodec": _version_string(avc.avcodec_version()),
        "libavformat": _version_string(avfmt.avformat_version()),
        "libavfilter": _version_string(avf.avfilter_version()),
        "libswscale": _version_string(sws.swscale_version()),
        "libswresample": _version_string(swr.swresample_version()),
    }


def get_ffmpeg_configuration():
    """The ``./configure`` line libavutil was built with (what codecs and libraries it has)."""
    return avu.avutil_configuration().decode()


def get_ffmpeg_license():
    return avu.avutil_license().decode()


def get_filters():
    """Names of every filter the linked libavfilter provides, sorted."""
    cdef void *opaque = NULL
    cdef const avf.AVFilter *f
    names = []
    while True:
        f = avf.av_filter_iterate(&opaque)
        if f == NULL:
            break
        names.append(f.name.decode())
    return sorted(names)


_LOG_LEVELS = {
    "quiet": avu.AV_LOG_QUIET,
    "panic": avu.AV_LOG_PANIC,
    "fatal": avu.AV_LOG_FATAL,
    "error": avu.AV_LOG_ERROR,
    "warning": avu.AV_LOG_WARNING,
    "info": avu.AV_LOG_INFO,
    "verbose": avu.AV_LOG_VERBOSE,
    "debug": avu.AV_LOG_DEBUG,
    "trace": avu.AV_LOG_TRACE,
}


def set_ffmpeg_log_level(level):
    """Set FFmpeg's own log level (FFmpeg writes to stderr itself; it never calls into Python).

    Args:
        level: one of ``"quiet"``, ``"panic"``, ``"fatal"``, ``"error"``, ``"warning"``,
            ``"info"``, ``"verbose"``, ``"debug"``, ``"trace"``, or FFmpeg's integer level.
    """
    if isinstance(level, str):
        try:
            level = _LOG_LEVELS[level.lower()]
        except KeyError:
            raise ValueError(
                f"Unknown FFmpeg log level {level!r}; expected one of {sorted(_LOG_LEVELS)}"
            ) from None
    elif not isinstance(level, int):
        raise TypeError(f"level must be a str or int, not {type(level).__name__}")
    avu.av_log_set_level(level)


def get_ffmpeg_log_level():
    """FFmpeg's current log level as a name (``"error"`` ...) or an int if it has none."""
    cdef int level = avu.av_log_get_level()
    for name, value in _LOG_LEVELS.items():
        if value == level:
            return name
    return level


def release_gil_enabled():
    """Whether this build releases the GIL in its native loops (meson option ``release_gil``)."""
    return SPDL_RELEASE_GIL
