"""Errors of the media layer and the one table that maps FFmpeg status codes to them.

FFmpeg reports failures as negative ``AVERROR`` codes, and explains them in its log. The table in
:func:`error_class` turns a code and the step that failed into one exception class; the message
names the source, the step and FFmpeg's own words: the text of the code and the last error line
FFmpeg logged on the calling thread.

FFmpeg's log callback is C: it keeps the last error-level line in a thread-local buffer and passes
everything to FFmpeg's default printer. It never calls into Python, so decoder threads never wait
for the GIL.
"""

import re

from libc.errno cimport ENOENT, ENOMEM, ENOSYS

cimport avutil as avu

cdef extern from *:
    """
    #include <stdarg.h>
    #include <string.h>
    #include <libavutil/log.h>

    /* The last error line FFmpeg logged on this thread (what an exception quotes). */
    static _Thread_local char spdl_last_log[512];

    static void spdl_log_callback(void *avcl, int level, const char *fmt, va_list vl) {
        if (level <= AV_LOG_ERROR) {
            va_list copy;
            int print_prefix = 1;
            char line[512];
            va_copy(copy, vl);
            av_log_format_line2(avcl, level, fmt, copy, line, sizeof(line), &print_prefix);
            va_end(copy);
            size_t n = strlen(line);
            while (n > 0 && (line[n - 1] == '\\n' || line[n - 1] == '\\r' || line[n - 1] == ' ')) {
                line[--n] = 0;
            }
            if (n > 0) {
                memcpy(spdl_last_log, line, n + 1);
            }
        }
        av_log_default_callback(avcl, level, fmt, vl);
    }

    static void spdl_install_log_callback(void) { av_log_set_callback(spdl_log_callback); }
    static void spdl_clear_log(void) { spdl_last_log[0] = 0; }
    static const char *spdl_get_log(void) { return spdl_last_log; }
    """
    void spdl_install_log_callback() nogil
    void spdl_clear_log() nogil
    const char *spdl_get_log() nogil


_ADDRESS = re.compile(r" @ 0x[0-9a-fA-F]+\]")

spdl_install_log_callback()
# FFmpeg's stderr is quiet by default: what it says about a failure is in the exception instead.
# spdl.io.utils.set_ffmpeg_log_level() turns it back on.
avu.av_log_set_level(avu.AV_LOG_FATAL)


def _rebuild(cls, message, source, step, ffmpeg_message, code):
    return cls(message, source=source, step=step, ffmpeg_message=ffmpeg_message, code=code)


class MediaError(Exception):
    """Media that cannot be demuxed, decoded, filtered or converted.

    Attributes:
        message (str): the full message.
        source (str | None): the path, or a description of an in-memory source.
        step (str | None): what spdl was doing: ``"open"``, ``"demux"``, ``"decode"``,
            ``"filter"`` or ``"convert"``.
        ffmpeg_message (str | None): FFmpeg's own explanation (the error code's text and the
            last error line FFmpeg logged).
        code (int | None): FFmpeg's ``AVERROR`` code, when there is one.
    """

    def __init__(self, message, *, source=None, step=None, ffmpeg_message=None, code=None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.step = step
        self.ffmpeg_message = ffmpeg_message
        self.code = code

    def __reduce__(self):
        return (
            _rebuild,
            (type(self), self.message, self.source, self.step, self.ffmpeg_message, self.code),
        )


class DemuxError(MediaError):
    """The container cannot be opened or read (not media, broken, or missing a stream)."""


class DecodeError(MediaError):
    """The codec failed on the data, or no frame could be decoded."""


class TruncatedMediaError(DecodeError):
    """The media ends early or holds corrupt packets; decoding it whole would lose data."""


class FilterError(MediaError):
    """A filter graph failed while processing frames."""


class InvalidFilterError(FilterError, ValueError):
    """A filter description FFmpeg cannot parse, or whose filters reject their options: the
    description is wrong, whatever the source. A graph that cannot take a source's frames (their
    format, size or layout, or a change of them mid-stream) raises ``FilterError`` instead."""


class ConvertError(MediaError, ValueError):
    """Decoded frames that cannot become one array: their size or format changes within the
    frames (a stream that changes resolution), or their native format has no array layout. Also
    a ValueError: a filter that scales or converts the frames (``filter_desc``) avoids it."""


class UnsupportedMediaError(MediaError):
    """The media uses a format or codec this FFmpeg build cannot handle."""


class MediaTooLargeError(MediaError):
    """The decoded result would exceed the decode size limits (see ``spdl.io.set_decode_limits``)."""


class MediaTimeoutError(MediaError, TimeoutError):
    """The call ran past its ``timeout``, or was cancelled from another thread."""


cdef str av_error_string(int code):
    cdef char buf[256]
    if avu.av_strerror(code, buf, sizeof(buf)) < 0:
        return f"FFmpeg error {code}"
    return buf.decode("utf-8", "replace")


cdef str last_ffmpeg_log():
    # "[h264 @ 0x55d0c0de] msg" -> "[h264] msg": the address means nothing to a user.
    return _ADDRESS.sub("]", spdl_get_log().decode("utf-8", "replace"))


cdef void clear_ffmpeg_log() noexcept nogil:
    spdl_clear_log()


_STEP_CLASS = {
    "open": DemuxError,
    "demux": DemuxError,
    "decode": DecodeError,
    "filter": FilterError,
    "convert": MediaError,
}


def error_class(int code, str step):
    """The exception class for FFmpeg status ``code`` during ``step`` (the error table).

    ``step`` is one of the steps a ``MediaError`` names, or ``"filter_desc"``: building a filter
    graph from its description failed before any frame reached it (reported as step "filter").
    """
    if code == avu.AVERROR_EXIT:
        return MediaTimeoutError
    if step == "filter_desc":
        # The description itself failed (parsing it, or a filter's options): the user's input,
        # not the file's. Failures with frames in the graph are step "filter", FilterError.
        return FilterError if code == avu.AVERROR(ENOMEM) else InvalidFilterError
    if code == avu.AVERROR(ENOENT) and step == "open":
        return FileNotFoundError
    if code in (
        avu.AVERROR_DECODER_NOT_FOUND,
        avu.AVERROR_DEMUXER_NOT_FOUND,
        avu.AVERROR_PATCHWELCOME,
        avu.AVERROR(ENOSYS),
    ):
        return UnsupportedMediaError
    return _STEP_CLASS.get(step, MediaError)


_STEP_WORDS = {
    "open": "open",
    "demux": "demux",
    "decode": "decode",
    "filter": "filter",
    "filter_desc": "parse the filter description of",
    "convert": "convert",
}


cdef object make_media_error(int code, str step, str source, str detail=None):
    """Build (not raise) the exception for ``code``; call with the GIL, right after the failure."""
    cls = error_class(code, step)
    ffmsg = av_error_string(code) if code < 0 else ""
    logged = last_ffmpeg_log()
    if logged and logged not in ffmsg:
        ffmsg = f"{ffmsg} ({logged})" if ffmsg else logged
    what = detail or f"Failed to {_STEP_WORDS.get(step, step)}"
    step = "filter" if step == "filter_desc" else step
    message = f"{what}: {source} [step: {step}]"
    if ffmsg:
        message += f": {ffmsg}"
    if cls is FileNotFoundError:
        return FileNotFoundError(ENOENT, f"No such file ({what}): {ffmsg}", source)
    return cls(message, source=source, step=step, ffmpeg_message=ffmsg or None, code=code)


cdef int raise_media_error(int code, str step, str source, str detail=None) except -1:
    raise make_media_error(code, step, source, detail)
