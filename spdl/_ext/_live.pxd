# Live-object counters for the leak checks of a debug build (meson option live_counters).
#
# Every owning cdef class registers a name once at module import and calls live_add(slot, +1) in
# __cinit__ and live_add(slot, -1) in __dealloc__, guarded by the compile-time constant
# SPDL_LIVE_COUNTERS so a release build compiles the calls away:
#
#     from spdl._ext._live cimport live_add, live_register
#     cdef int _LIVE = live_register("Packets")
#     ...
#     def __cinit__(self):
#         if SPDL_LIVE_COUNTERS:
#             live_add(_LIVE, 1)
#
# spdl._ext._live.live_objects() then reports how many of each are alive; the test suite checks
# that every count is zero at its end.

cdef int live_register(str name) except -1
cdef void live_add(int slot, int delta) noexcept nogil
