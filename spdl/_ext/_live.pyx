"""Counts of live native objects per owning class, for the leak checks of a debug build.

Only a build configured with ``-Dlive_counters=true`` counts (see ``_live.pxd`` for how a class
takes part); elsewhere every count stays zero and :func:`enabled` is false. Counters are updated
atomically, so objects may be made and freed on any thread, with or without the GIL.
"""

cdef extern from *:
    """
    #define SPDL_LIVE_SLOTS 64
    static long spdl_live_counts[SPDL_LIVE_SLOTS];
    static inline void spdl_live_add(int slot, long delta) {
        __atomic_fetch_add(&spdl_live_counts[slot], delta, __ATOMIC_RELAXED);
    }
    static inline long spdl_live_get(int slot) {
        return __atomic_load_n(&spdl_live_counts[slot], __ATOMIC_RELAXED);
    }
    """
    int SPDL_LIVE_SLOTS
    void spdl_live_add(int slot, long delta) nogil
    long spdl_live_get(int slot) nogil

# Slot names in registration order; registration happens at module import, under the import lock.
_names = []


cdef int live_register(str name) except -1:
    """The counter slot of the class called ``name`` (the same slot for the same name)."""
    if name in _names:
        return _names.index(name)
    if len(_names) >= SPDL_LIVE_SLOTS:
        raise RuntimeError(f"more than {SPDL_LIVE_SLOTS} live-object counters")
    _names.append(name)
    return len(_names) - 1


cdef void live_add(int slot, int delta) noexcept nogil:
    spdl_live_add(slot, delta)


def enabled():
    """Whether this build counts live objects (meson option ``live_counters``)."""
    return SPDL_LIVE_COUNTERS


def live_objects():
    """``{class name: objects alive now}`` for every class that takes part (all 0 when off)."""
    return {name: spdl_live_get(i) for i, name in enumerate(_names)}
