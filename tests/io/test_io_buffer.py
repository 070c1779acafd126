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
