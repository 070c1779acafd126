# Interruption of native loops: a per-call deadline and a cancel flag another thread may set.
#
# Native loops call budget_check() between packets and frames; FFmpeg calls budget_interrupt()
# (an AVIOInterruptCB) while it blocks in I/O or probing. Both are plain C and never need the GIL.
from libc.stdint cimport int64_t

cimport avutil as avu

cdef extern from *:
    """
    static inline int spdl_atomic_load(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void spdl_atomic_store(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    """
    int spdl_atomic_load(const int *p) nogil
    void spdl_atomic_store(int *p, int v) nogil

cdef enum BudgetState:
    BUDGET_OK = 0
    BUDGET_TIMED_OUT = 1
    BUDGET_CANCELLED = 2

cdef struct Budget:
    int64_t deadline_us   # av_gettime_relative() deadline; 0: none
    int cancelled         # set (atomically) by cancel() from any thread
    int state             # why the last check failed (BudgetState)


cdef inline void budget_arm(Budget *b, object timeout) except *:
    """Start a call: set the deadline ``timeout`` seconds from now (None: no deadline)."""
    b.state = BUDGET_OK
    if timeout is None:
        b.deadline_us = 0
        return
    t = float(timeout)
    if not t > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    b.deadline_us = avu.av_gettime_relative() + <int64_t>(t * 1e6)


cdef inline int budget_check(Budget *b) noexcept nogil:
    """0 to go on; AVERROR_EXIT when the call is cancelled or past its deadline."""
    if spdl_atomic_load(&b.cancelled):
        b.state = BUDGET_CANCELLED
        return avu.AVERROR_EXIT
    if b.deadline_us and avu.av_gettime_relative() > b.deadline_us:
        b.state = BUDGET_TIMED_OUT
        return avu.AVERROR_EXIT
    return 0


cdef inline int budget_interrupt(void *opaque) noexcept nogil:
    """An AVIOInterruptCB: nonzero makes FFmpeg abandon blocking work with AVERROR_EXIT."""
    return 1 if budget_check(<Budget *>opaque) else 0


cdef inline str budget_reason(Budget *b):
    if b.state == BUDGET_CANCELLED:
        return "Cancelled"
    return "Timed out"


cdef extern from *:
    """
    static inline int spdl_atomic_exchange(int *p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL); }
    """
    int spdl_atomic_exchange(int *p, int v) nogil


cdef inline int enter_exclusive(int *busy) except -1:
    """Mark a stateful object in use by this thread; two threads at once is a usage error."""
    if spdl_atomic_exchange(busy, 1):
        raise RuntimeError("This object is in use by another thread; use one per thread")
    return 0


cdef inline void leave_exclusive(int *busy) noexcept nogil:
    spdl_atomic_store(busy, 0)
