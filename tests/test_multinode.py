"""Two processes, one gloo process group on loopback: each rank loads its own shard.

This is what ``torchrun --nproc-per-node=2`` does on one machine; across machines only
``MASTER_ADDR`` changes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

HERE = Path(__file__).resolve().parent
N = 101


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(script: Path, args: list[str], world_size: int, timeout: float = 120) -> None:
    """Start ``world_size`` copies of ``script`` as the ranks of one job and wait for them."""
    port = _free_port()
    procs = []
    for rank in range(world_size):
        env = dict(os.environ)
        env.update(
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            RANK=str(rank),
            WORLD_SIZE=str(world_size),
            LOCAL_RANK=str(rank),
            OMP_NUM_THREADS="1",
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script), *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=timeout)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for rank, (proc, out) in enumerate(zip(procs, outputs, strict=False)):
        assert proc.returncode == 0, f"rank {rank} failed:\n{out}"


@pytest.fixture(scope="module")
def gathered(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("multinode") / "result.json"
    _launch(HERE / "_multinode_worker.py", [str(out)], world_size=2)
    return json.loads(out.read_text())


def test_random_shards_are_disjoint_equal_and_reshuffled(gathered):
    assert gathered["world_size"] == 2
    epochs = gathered["random_drop"]
    for shards in epochs:
        assert [len(s) for s in shards] == [N // 2, N // 2]
        assert not set(shards[0]) & set(shards[1])
        assert len(set(shards[0]) | set(shards[1])) == N - 1  # one item left out per epoch
    # A new permutation per epoch, so each rank sees different items.
    assert set(epochs[0][0]) != set(epochs[1][0])


def test_padded_shards_cover_the_whole_data_set(gathered):
    for name in ("random_pad", "deterministic_pad"):
        for shards in gathered[name]:
            assert [len(s) for s in shards] == [N // 2 + 1] * 2
            assert set(shards[0]) | set(shards[1]) == set(range(N))
            assert len(set(shards[0]) & set(shards[1])) == 1  # the one padded item
    det = gathered["deterministic_pad"][0]
    assert det[0] == list(range(0, N, 2))
    assert det[1] == [*range(1, N, 2), 0]


def test_training_example_runs_under_torchrun(xdg_cache):
    """docs/examples/train_ddp.py, as multinode.md tells users to start it (CPU, gloo)."""
    script = HERE.parent / "docs" / "examples" / "train_ddp.py"
    env = {**os.environ, "XDG_CACHE_HOME": str(xdg_cache), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    proc = subprocess.run(
        [*cmd, str(script), "--epochs", "2", "--threads", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # 32 images over 2 ranks, batches of 8: 2 batches per rank; rank 0 prints its report.
    assert "epoch 0: 2 batches per rank" in proc.stdout
    assert "epoch 1: 2 batches per rank" in proc.stdout
    assert "preprocess" in proc.stdout and "transfer" in proc.stdout
