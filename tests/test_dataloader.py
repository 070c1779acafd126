"""DataLoader: batches on threads, per-epoch pipelines, failures, prompt stop, PyTorch use."""

from __future__ import annotations

import doctest
import logging
import threading
import time

import pytest

import spdl.dataloader._dataloader
from spdl.dataloader import DataLoader
from spdl.pipeline import PipelineFailure
from spdl.source import DistributedRandomSampler, ListSource, SampledSource


def _spdl_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]


def _wait_for_threads(baseline: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while len(_spdl_threads()) > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(_spdl_threads())


def test_docstring_example():
    result = doctest.testmod(spdl.dataloader._dataloader)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize(("drop_last", "sizes"), [(False, [4, 4, 2]), (True, [4, 4])])
def test_batches_in_input_order(drop_last, sizes):
    loader = DataLoader(
        range(10),
        preprocessor=lambda x: 10 * x,
        batch_size=4,
        drop_last=drop_last,
        output_order="input",
        num_threads=4,
    )
    batches = list(loader)
    assert [len(b) for b in batches] == sizes == [4, 4, 2][: len(loader)]
    assert [x for b in batches for x in b] == [10 * x for x in range(sum(sizes))]


def test_without_batching_samples_come_one_by_one():
    loader = DataLoader(["a", "b", "c"], preprocessor=str.upper, output_order="input")
    assert len(loader) == 3
    assert list(loader) == ["A", "B", "C"]
    assert list(DataLoader([1, 2, 3], output_order="input")) == [1, 2, 3]


def test_completion_order_keeps_every_item():
    def jitter(x):
        time.sleep(0.001 * (x % 5))
        return x

    out = [x for b in DataLoader(range(200), preprocessor=jitter, batch_size=16) for x in b]
    assert sorted(out) == list(range(200))


def test_preprocessor_runs_num_threads_at_once():
    active, peak, lock = 0, 0, threading.Lock()

    def work(x):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return x

    loader = DataLoader(range(32), preprocessor=work, batch_size=8, num_threads=8)
    t0 = time.perf_counter()
    assert sum(len(b) for b in loader) == 32
    elapsed = time.perf_counter() - t0
    assert peak == 8
    # Serially 32 x 50 ms = 1.6 s; eight at once is about 0.2 s.
    assert elapsed < 0.8, elapsed


def test_transfer_runs_on_one_dedicated_thread_in_batch_order():
    threads, seen = set(), []

    def transfer(batch):
        threads.add(threading.get_ident())
        seen.append(batch[0])
        return batch

    loader = DataLoader(
        range(64), batch_size=8, transfer_fn=transfer, output_order="input", num_threads=4
    )
    assert [b[0] for b in loader] == list(range(0, 64, 8))
    assert seen == list(range(0, 64, 8))
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_epochs_reshuffle_a_sampled_source():
    data = ListSource(range(40))
    src = SampledSource(data, DistributedRandomSampler(len(data), seed=1))
    loader = DataLoader(src, batch_size=10, output_order="input", num_threads=2)
    assert len(loader) == 4
    epochs = []
    for epoch in range(3):
        loader.set_epoch(epoch)
        epochs.append([x for batch in loader for x in batch])
    assert all(sorted(e) == list(range(40)) for e in epochs)
    assert epochs[0] != epochs[1] != epochs[2]
    loader.set_epoch(1)
    assert [x for batch in loader for x in batch] == epochs[1]  # reproducible


def test_failed_items_are_dropped_logged_and_counted(caplog):
    def picky(x):
        if x % 10 == 3:
            raise ValueError(f"bad item {x}")
        return x

    loader = DataLoader(range(50), preprocessor=picky, batch_size=5, num_threads=4)
    with caplog.at_level(logging.WARNING, logger="spdl"):
        out = sorted(x for batch in loader for x in batch)
    assert out == [x for x in range(50) if x % 10 != 3]
    assert "bad item 13" in caplog.text
    assert loader.stats().stage("preprocess").num_failures == 5


def test_max_failures_stops_the_epoch():
    def broken(x):
        raise RuntimeError("cannot decode")

    loader = DataLoader(range(100), preprocessor=broken, batch_size=4, max_failures=3)
    baseline = len(_spdl_threads())
    with pytest.raises(PipelineFailure):
        for _ in loader:
            pass
    assert _wait_for_threads(baseline) <= baseline


def test_breaking_out_early_stops_every_thread():
    baseline = len(_spdl_threads())
    loader = DataLoader(
        range(10_000),
        preprocessor=lambda x: time.sleep(0.001) or x,
        batch_size=4,
        transfer_fn=lambda b: b,
        num_threads=4,
    )
    for i, _ in enumerate(loader):
        if i == 3:
            break
    assert _wait_for_threads(baseline) == baseline
    assert loader.stats().stage("preprocess").num_tasks < 10_000


def test_stats_name_every_stage():
    loader = DataLoader(
        range(20), preprocessor=abs, batch_size=5, aggregator=tuple, transfer_fn=list
    )
    assert loader.stats() is None
    list(loader)
    stats = loader.stats()
    assert stats.stage("preprocess").num_tasks == 20
    assert stats.stage("collate").num_tasks == 4
    assert stats.stage("transfer").num_tasks == 4
    assert "preprocess" in str(stats)


def test_len_needs_a_sized_source():
    loader = DataLoader(iter(range(5)))
    with pytest.raises(TypeError, match="needs a source with len"):
        len(loader)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"batch_size": 0}, ValueError),
        ({"num_threads": 0}, ValueError),
        ({"buffer_size": 0}, ValueError),
        ({"output_order": "random"}, ValueError),
        ({"preprocessor": 3}, TypeError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        DataLoader(range(3), **kwargs)
    with pytest.raises(TypeError, match="iterable"):
        DataLoader(5)


def test_in_a_pytorch_training_loop():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    xs = torch.randn(64, 3)
    ys = xs @ torch.tensor([[1.0], [-2.0], [0.5]])
    data = ListSource(range(64))
    src = SampledSource(data, DistributedRandomSampler(len(data), seed=0))

    def load(i):
        return xs[i], ys[i]

    def collate(samples):
        x, y = zip(*samples, strict=True)
        return torch.stack(x), torch.stack(y)

    loader = DataLoader(src, preprocessor=load, batch_size=16, aggregator=collate, num_threads=4)
    model = torch.nn.Linear(3, 1)
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for epoch in range(20):
        loader.set_epoch(epoch)
        for x, y in loader:
            assert x.shape == (16, 3) and y.shape == (16, 1)
            loss = torch.nn.functional.mse_loss(model(x), y)
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append(loss.item())
    assert len(losses) == 20 * len(loader) == 80
    assert losses[-1] < 0.01 * losses[0]
