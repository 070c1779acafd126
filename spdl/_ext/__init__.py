"""Native layer of spdl: Cython modules over FFmpeg (and, loaded at run time, CUDA libraries).

Nothing here is public API; ``spdl.io`` re-exports what users need.
"""
