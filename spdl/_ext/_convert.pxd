# convert_frames' layout table, for producers that copy frames themselves. See _convert.pyx.
cimport avutil as avu

# (shape of one frame, dtype name) for the frame's pixel format, width and height; ValueError for
# a format without an array layout.
cdef tuple video_layout(const avu.AVFrame *f)
