"""CPUBuffer: the array protocols, zero-copy views and their lifetime."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import spdl.io
from spdl._ext import _buffer


@pytest.mark.parametrize(
    "dtype", ["uint8", "uint16", "int16", "int32", "int64", "float32", "float64"]
)
def test_numpy_view_shares_memory(dtype):
    buf = _buffer._empty((2, 3, 5), dtype)
    a = spdl.io.to_numpy(buf)
    assert a.shape == (2, 3, 5) == buf.shape
    assert a.dtype == np.dtype(dtype)
    assert a.flags.c_contiguous and a.flags.writeable
    a[...] = np.arange(30).reshape(2, 3, 5)
    # A second view sees what the first wrote: one memory.
    b = np.asarray(memoryview(buf))
    np.testing.assert_array_equal(b, np.arange(30).reshape(2, 3, 5))
    assert a.__array_interface__["data"][0] == buf.__array_interface__["data"][0]
    assert buf.nbytes == 30 * np.dtype(dtype).itemsize


def test_dlpack_export():
    buf = _buffer._empty((4, 6), "float32")
    spdl.io.to_numpy(buf)[...] = 1.5
    assert buf.__dlpack_device__() == (1, 0)
    d = np.from_dlpack(buf)
    assert d.shape == (4, 6) and d.dtype == np.float32
    assert (d == 1.5).all()
    assert d.__array_interface__["data"][0] == buf.__array_interface__["data"][0]
    with pytest.raises(BufferError):
        buf.__dlpack__(stream=1)


def test_unconsumed_dlpack_capsule_releases_the_buffer():
    buf = _buffer._empty((8,), "uint8")
    ref = weakref.ref(buf)
    capsule = buf.__dlpack__()
    del buf
    gc.collect()
    assert ref() is not None  # the capsule holds it
    del capsule
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("via", ["numpy", "dlpack", "memoryview"])
def test_view_outlives_the_buffer_then_frees_it(via):
    buf = _buffer._empty((1000, 1000), "uint8")
    spdl.io.to_numpy(buf)[...] = 42
    ref = weakref.ref(buf)
    if via == "numpy":
        view = spdl.io.to_numpy(buf)
    elif via == "dlpack":
        view = np.from_dlpack(buf)
    else:
        view = np.asarray(memoryview(buf))
    del buf
    gc.collect()
    assert ref() is not None
    assert int(view.sum()) == 42 * 1000 * 1000
    del view
    gc.collect()
    assert ref() is None


def test_to_torch_shares_memory():
    torch = pytest.importorskip("torch")
    buf = _buffer._empty((3, 4), "int16")
    spdl.io.to_numpy(buf)[...] = 3
    t = spdl.io.to_torch(buf)
    assert t.dtype == torch.int16 and tuple(t.shape) == (3, 4)
    t += 1
    assert (spdl.io.to_numpy(buf) == 4).all()


def test_bad_arguments():
    with pytest.raises(TypeError):
        spdl.io.to_numpy(np.zeros(3))
    with pytest.raises(TypeError):
        spdl.io.CPUBuffer()
    with pytest.raises(ValueError):
        _buffer._empty((2, 2), "complex64")
    with pytest.raises(ValueError):
        _buffer._empty((-1,), "uint8")


def test_empty_buffer():
    a = spdl.io.to_numpy(_buffer._empty((0, 3), "uint8"))
    assert a.shape == (0, 3)


# --- the pool of large blocks (see _buffer.pyx) -------------------------------------------------

_BIG = (4, 1080, 1920, 3)  # 24.9 MB: pooled


def _address(buf):
    return buf.__array_interface__["data"][0]


def test_a_freed_large_buffer_is_recycled():
    _buffer._pool_clear()
    a = _buffer._empty(_BIG, "uint8")
    where = _address(a)
    del a
    assert _buffer._pool_stats()[0] == 1
    b = _buffer._empty(_BIG, "uint8")
    assert _address(b) == where  # the same pages, already mapped
    assert _buffer._pool_stats() == (0, 0)


def test_a_recycled_block_is_never_handed_out_while_an_array_views_it():
    _buffer._pool_clear()
    buf = _buffer._empty(_BIG, "uint8")
    view = spdl.io.to_numpy(buf)
    view[...] = 7
    where = _address(buf)
    del buf  # only the array holds it now
    gc.collect()
    others = []
    for k in range(6):
        other = _buffer._empty(_BIG, "uint8")
        assert _address(other) != where
        spdl.io.to_numpy(other)[...] = k + 100
        others.append(other)
        if k % 2:
            others.pop(0)  # freed buffers go to the pool and come back on the next call
    assert (view == 7).all()
    del others
    _buffer._pool_clear()
    del view  # now, and only now, the block goes back to the pool
    gc.collect()
    assert _buffer._pool_stats()[0] == 1
    assert _address(_buffer._empty(_BIG, "uint8")) == where


def test_small_buffers_are_not_pooled_and_the_pool_stays_bounded():
    _buffer._pool_clear()
    del_now = [_buffer._empty((100, 100), "uint8") for _ in range(10)]
    del del_now
    assert _buffer._pool_stats() == (0, 0)
    # Many sizes at once: at most 4 blocks and 256 MiB are kept.
    held = [_buffer._empty((n, 1 << 20), "uint8") for n in (2, 5, 11, 23, 47, 95, 150)]
    del held
    blocks, total = _buffer._pool_stats()
    assert 0 < blocks <= 4 and total <= 256 << 20
    # A buffer over the cap is freed, not kept.
    huge = _buffer._empty((300, 1 << 20), "uint8")
    del huge
    assert _buffer._pool_stats()[1] <= 256 << 20
    _buffer._pool_clear()
    assert _buffer._pool_stats() == (0, 0)


def test_pooled_buffers_across_threads_keep_their_contents():
    from concurrent.futures import ThreadPoolExecutor

    def work(k):
        kept = []
        for i in range(40):
            buf = _buffer._empty((2 + i % 3, 1 << 20), "uint8")
            a = spdl.io.to_numpy(buf)
            a[...] = (k * 40 + i) % 251
            kept.append((a, (k * 40 + i) % 251))
            if len(kept) > 2:
                old, value = kept.pop(0)
                assert (old == value).all()
        return all((a == v).all() for a, v in kept)

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))
