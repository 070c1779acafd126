"""One rank of the two-process test in ``test_multinode.py`` (run as a script, not collected).

Joins a gloo process group from the ``MASTER_ADDR``/``MASTER_PORT``/``RANK``/``WORLD_SIZE``
environment (as ``torchrun`` sets it), then hides ``RANK``/``WORLD_SIZE`` so the samplers must
read their rank from ``torch.distributed``. Loads two epochs through ``DataLoader`` for each
sampler, gathers every rank's items on every rank, and rank 0 writes them as JSON to ``argv[1]``.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import torch
import torch.distributed as dist

from spdl.dataloader import DataLoader
from spdl.source import (
    DistributedDeterministicSampler,
    DistributedRandomSampler,
    ListSource,
    SampledSource,
)

N = 101
BATCH = 8


def main(out_path: str) -> None:
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    del os.environ["RANK"], os.environ["WORLD_SIZE"]
    data = ListSource(range(N))
    samplers = {
        "random_drop": DistributedRandomSampler(N, seed=42, drop_last=True),
        "random_pad": DistributedRandomSampler(N, seed=42, drop_last=False),
        "deterministic_pad": DistributedDeterministicSampler(N),
    }
    result: dict[str, object] = {"world_size": world_size}
    for name, sampler in samplers.items():
        assert (sampler.rank, sampler.world_size) == (rank, world_size)
        threads = set()

        def load(i, threads=threads):
            threads.add(threading.get_ident())
            return torch.tensor([i])

        loader = DataLoader(
            SampledSource(data, sampler),
            preprocessor=load,
            batch_size=BATCH,
            aggregator=torch.cat,
            num_threads=4,
            output_order="input",
        )
        epochs = []
        for epoch in range(2):
            loader.set_epoch(epoch)
            batches = [b.tolist() for b in loader]
            assert len(batches) == len(loader)
            gathered: list[object] = [None] * world_size
            dist.all_gather_object(gathered, [x for b in batches for x in b])
            epochs.append(gathered)
        assert threading.get_ident() not in threads
        result[name] = epochs
    if rank == 0:
        with open(out_path, "w") as f:
            json.dump(result, f)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
