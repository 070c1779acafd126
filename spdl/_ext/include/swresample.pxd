# libswresample: only what spdl uses.
cdef extern from "libswresample/swresample.h" nogil:
    unsigned swresample_version()
    const char *swresample_configuration()
