"""transfer_buffer: host to CUDA memory, correct under concurrency, zero copy onwards."""

from __future__ import annotations

import gc
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import spdl.io

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.linspace(-1, 1, 1000, dtype=np.float32).reshape(10, 100),
        np.arange(7, dtype=np.int64),
        np.zeros((0, 3), np.uint8),
    ],
    ids=["uint8", "float32", "int64", "empty"],
)
def test_values_shape_dtype(array):
    buf = spdl.io.transfer_buffer(array)
    assert buf.shape == array.shape and buf.dtype == array.dtype
    out = spdl.io.to_cupy(buf)
    assert out.data.ptr == buf.ptr
    np.testing.assert_array_equal(out.get(), array)


def test_non_contiguous_and_buffer_protocol():
    base = np.arange(600, dtype=np.uint16).reshape(20, 30)
    np.testing.assert_array_equal(
        spdl.io.to_cupy(spdl.io.transfer_buffer(base[:, ::3])).get(), base[:, ::3]
    )
    data = bytes(range(256))
    np.testing.assert_array_equal(
        spdl.io.to_cupy(spdl.io.transfer_buffer(memoryview(data))).get(),
        np.frombuffer(data, np.uint8),
    )


def test_eight_threads_transfer_correctly():
    """8 threads, each with its own data and sizes that grow (staging reallocates), all correct."""
    barrier = threading.Barrier(8)

    def work(seed):
        rng = np.random.default_rng(seed)
        barrier.wait()
        for i in range(40):
            array = rng.integers(0, 255, (1 + i * 997 + seed,), dtype=np.uint8)
            out = spdl.io.to_cupy(spdl.io.transfer_buffer(array)).get()
            if not np.array_equal(out, array):
                return f"thread {seed} transfer {i} differs"
        return None

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(work, range(8))) == [None] * 8


def test_user_stream_and_torch_allocator():
    torch = pytest.importorskip("torch")
    stream = torch.cuda.Stream()
    cfg = spdl.io.cuda_config(
        0,
        stream=stream,
        allocator=(torch.cuda.caching_allocator_alloc, torch.cuda.caching_allocator_delete),
    )
    array = np.arange(4096, dtype=np.float32).reshape(64, 64)
    before = torch.cuda.memory_allocated()
    buf = spdl.io.transfer_buffer(array, device_config=cfg)
    tensor = torch.from_dlpack(buf)
    assert tensor.data_ptr() == buf.ptr
    np.testing.assert_array_equal(tensor.cpu().numpy(), array)
    del buf, tensor
    gc.collect()
    assert torch.cuda.memory_allocated() == before


def test_transfer_releases_the_gil_for_the_copy():
    """A Python thread keeps running while large transfers are in flight in another."""
    big = np.ones(64 << 20, np.uint8)
    spdl.io.transfer_buffer(big)  # warm up: staging allocated
    ticks = 0
    done = threading.Event()

    def counter():
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    t = threading.Thread(target=counter)
    t.start()
    for _ in range(10):
        spdl.io.transfer_buffer(big)
    done.set()
    t.join()
    assert ticks > 1000


def test_as_a_pipeline_stage_after_cpu_work():
    """Batches made on 4 threads stream through a transfer stage; every one arrives intact."""
    from spdl.pipeline import PipelineBuilder

    cfg = spdl.io.cuda_config(0)

    def make(i):
        return np.full((8, 64, 64, 3), i % 251, np.uint8)

    def to_gpu(batch):
        return spdl.io.transfer_buffer(batch, device_config=cfg)

    pipeline = (
        PipelineBuilder()
        .add_source(range(64))
        .pipe(make, concurrency=4, output_order="input")
        .pipe(to_gpu, concurrency=2, output_order="input")
        .add_sink(buffer_size=4)
        .build(num_threads=6)
    )
    seen = []
    with pipeline.auto_stop():
        for i, cbuf in enumerate(pipeline):
            out = spdl.io.to_cupy(cbuf)
            assert out.shape == (8, 64, 64, 3)
            assert int(out.min()) == int(out.max()) == i % 251
            seen.append(i)
    assert seen == list(range(64))
