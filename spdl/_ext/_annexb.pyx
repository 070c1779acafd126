"""A file's video stream as an Annex B elementary stream, the form NVDEC's parser takes.

MP4 and Matroska store H.264/HEVC with length-prefixed NAL units and the parameter sets in the
container's extradata; NVDEC wants start codes with the parameter sets in band. FFmpeg's
``h264_mp4toannexb`` / ``hevc_mp4toannexb`` bitstream filters do exactly that conversion, so the
bytes produced here equal ``ffmpeg -i FILE -c:v copy -bsf:v h264_mp4toannexb -f h264 -``.

The container is opened by ``_source.open_input`` (a path, or bytes/arrays read in place), and
failures go through the one error table (``_error``), so they are ``spdl.io.MediaError``s naming
the source. ``AnnexBReader.read(n)`` runs av_read_frame and the filter for up to ``n`` packets with
the GIL released, then hands back one ``bytes`` per packet.
"""

from libc.errno cimport EAGAIN, ENOMEM
from libc.stdlib cimport free, malloc

cimport avcodec as avc
cimport avformat as avfmt
cimport avutil as avu
from spdl._ext._error cimport clear_ffmpeg_log, raise_media_error
from spdl._ext._source cimport Input, open_input

# Colour fields of AVCodecParameters that the shared declaration does not list (yet): the same C
# struct under a second Cython name, read through a cast.
cdef extern from "libavcodec/codec_par.h" nogil:
    ctypedef struct _CodecParColor "AVCodecParameters":
        int color_range
        int color_space

# FFmpeg's AVColorSpace / AVColorRange values (libavutil/pixfmt.h) that matter for the matrix.
_COLORSPACES = {1: "bt709", 5: "bt601", 6: "bt601", 9: "bt2020", 10: "bt2020"}

_BSF = {"h264": b"h264_mp4toannexb", "hevc": b"hevc_mp4toannexb"}


cdef class AnnexBReader:
    """Reads the best video stream of ``src`` as Annex B packets. One thread at a time.

    Args:
        src: a path, or ``bytes``/``bytearray``/``memoryview``/1-D uint8 array (read in place).

    Attributes:
        codec: ``"h264"``, ``"hevc"`` or another FFmpeg codec name (only the first two are
            converted; others are passed through as the container stores them).
        width, height: coded size in pixels. ``colorspace``: ``"bt601"``/``"bt709"``/``"bt2020"``
            (``"bt601"`` when the stream does not say, as FFmpeg assumes); ``full_range``: bool.
        time_base: (num, den) of packet timestamps.
    """
    cdef Input input
    cdef avfmt.AVFormatContext *fmt  # owned by self.input
    cdef avc.AVBSFContext *bsf
    cdef avc.AVPacket *pkt
    cdef int stream_index
    cdef bint eof
    cdef readonly str codec
    cdef readonly int width, height
    cdef readonly str colorspace
    cdef readonly bint full_range
    cdef readonly tuple time_base
    cdef readonly str path

    def __cinit__(self, src):
        self.input = open_input(src)  # FileNotFoundError / DemuxError naming the source
        self.fmt = self.input.fmt_ctx
        self.path = self.input.name
        cdef int ret = avfmt.av_find_best_stream(self.fmt, avu.AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)
        if ret < 0:
            raise_media_error(ret, "demux", self.path, "No video stream")
        self.stream_index = ret
        cdef avfmt.AVStream *st = self.fmt.streams[ret]
        cdef avc.AVCodecParameters *par = st.codecpar
        cdef _CodecParColor *color = <_CodecParColor *>par
        self.codec = avc.avcodec_get_name(par.codec_id).decode()
        self.width = par.width
        self.height = par.height
        self.colorspace = _COLORSPACES.get(color.color_space, "bt601")
        self.full_range = color.color_range == 2  # AVCOL_RANGE_JPEG
        self.time_base = (st.time_base.num, st.time_base.den)
        self.pkt = avc.av_packet_alloc()
        if self.pkt == NULL:
            raise MemoryError()
        name = _BSF.get(self.codec)
        if name is None:
            return
        cdef const avc.AVBitStreamFilter *f = avc.av_bsf_get_by_name(<bytes>name)
        if f == NULL:
            # This FFmpeg build lacks the filter: unsupported here, not broken media.
            raise_media_error(avu.AVERROR_PATCHWELCOME, "demux", self.path,
                              f"No {name.decode()} bitstream filter in this FFmpeg")
        ret = avc.av_bsf_alloc(f, &self.bsf)
        if ret >= 0:
            ret = avc.avcodec_parameters_copy(self.bsf.par_in, par)
        if ret >= 0:
            self.bsf.time_base_in = st.time_base
            ret = avc.av_bsf_init(self.bsf)
        if ret < 0:
            raise_media_error(ret, "demux", self.path, f"Failed to set up {name.decode()}")

    def __dealloc__(self):
        if self.bsf != NULL:
            avc.av_bsf_free(&self.bsf)
        if self.pkt != NULL:
            avc.av_packet_free(&self.pkt)
        self.fmt = NULL  # closed by self.input

    def read(self, int max_packets):
        """Up to ``max_packets`` Annex B packets, in decode order; ``[]`` once the stream ends.

        Returns:
            list[tuple[bytes, int]]: each packet's bytes and its pts (in ``time_base`` units;
            ``AV_NOPTS_VALUE`` when the container has none).
        """
        if max_packets <= 0:
            raise ValueError("max_packets must be positive")
        cdef avc.AVPacket **out = <avc.AVPacket **>malloc(max_packets * sizeof(void *))
        if out == NULL:
            raise MemoryError()
        cdef int n = 0, ret = 0, i
        cdef bint eof = self.eof
        try:
            with nogil:
                clear_ffmpeg_log()
                while n < max_packets:
                    # Drain what the filter holds before feeding it more.
                    if self.bsf != NULL:
                        ret = avc.av_bsf_receive_packet(self.bsf, self.pkt)
                        if ret >= 0:
                            out[n] = avc.av_packet_clone(self.pkt)
                            avc.av_packet_unref(self.pkt)
                            if out[n] == NULL:
                                ret = avu.AVERROR(ENOMEM)
                                break
                            n += 1
                            continue
                        if ret == avu.AVERROR_EOF:
                            ret = 0
                            break
                        if ret != avu.AVERROR(EAGAIN):  # EAGAIN: the filter needs input
                            break
                    if eof:
                        ret = 0
                        break
                    ret = avfmt.av_read_frame(self.fmt, self.pkt)
                    if ret == avu.AVERROR_EOF:
                        eof = True
                        ret = 0
                        if self.bsf != NULL:
                            ret = avc.av_bsf_send_packet(self.bsf, NULL)  # flush
                            if ret < 0:
                                break
                            continue
                        break
                    if ret < 0:
                        break
                    if self.pkt.stream_index != self.stream_index:
                        avc.av_packet_unref(self.pkt)
                        continue
                    if self.bsf != NULL:
                        ret = avc.av_bsf_send_packet(self.bsf, self.pkt)  # takes the reference
                        if ret < 0:
                            avc.av_packet_unref(self.pkt)
                            break
                    else:
                        out[n] = avc.av_packet_clone(self.pkt)
                        avc.av_packet_unref(self.pkt)
                        if out[n] == NULL:
                            ret = avu.AVERROR(ENOMEM)
                            break
                        n += 1
            self.eof = eof
            packets = []
            for i in range(n):
                packets.append(((<char *>out[i].data)[:out[i].size], out[i].pts))
            if ret < 0:
                raise_media_error(ret, "demux", self.path,
                                  f"Failed to demux for NVDEC (after {n} packets)")
            return packets
        finally:
            for i in range(n):
                avc.av_packet_free(&out[i])
            free(out)
