"""Data-parallel training on an ImageNet-style folder with spdl's DataLoader and torchrun.

One process per GPU; each loads and decodes its own shard of the data set on threads:

    torchrun --nproc-per-node=NUM_GPUS docs/examples/train_ddp.py --data /path/to/train
    torchrun --nnodes=2 --node-rank=R --master-addr=HOST --nproc-per-node=8 train_ddp.py ...

Without ``--data`` it trains on spdl's sample set. Without GPUs every rank trains on the CPU
with the gloo backend (that is how the test suite runs it, with two processes).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

import spdl.io
from spdl.dataloader import DataLoader
from spdl.source import DistributedRandomSampler, ImageNetSource, SampledSource, get_sample_set

SIZE = 64  # images are resized (aspect kept, padded) to SIZE x SIZE


def make_loader(
    root: str, batch_size: int, num_threads: int, device: torch.device
) -> tuple[DataLoader, int]:
    data = ImageNetSource(root)
    # rank and world size come from torch.distributed: each rank gets its own equal shard.
    sampler = DistributedRandomSampler(len(data), seed=0)
    desc = spdl.io.get_video_filter_desc(scale_width=SIZE, scale_height=SIZE, pix_fmt="rgb24")

    def load(item):
        # Runs on a pool thread; decoding releases the GIL, so num_threads decode at once.
        path, label = item
        return spdl.io.to_numpy(spdl.io.load_image(path, filter_desc=desc)), label

    def collate(samples):
        images, labels = zip(*samples)
        x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)  # (B, 3, SIZE, SIZE) uint8
        return x, torch.tensor(labels)

    def to_device(batch):
        # One thread of its own: the copy overlaps the training step.
        x, y = batch
        if device.type == "cuda":
            x = x.pin_memory()
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    return DataLoader(
        SampledSource(data, sampler),
        preprocessor=load,
        batch_size=batch_size,
        drop_last=True,
        aggregator=collate,
        transfer_fn=to_device,
        num_threads=num_threads,
        max_failures=0,  # a rank that skipped a file would run fewer steps and stall the others
    ), len(data.classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="ImageNet-style folder (default: spdl's sample set)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    use_cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank()
    if use_cuda:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")

    loader, num_classes = make_loader(
        args.data or str(get_sample_set("images")), args.batch_size, args.threads, device
    )
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 5, stride=4),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(16, num_classes),
    ).to(device)
    model = torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if use_cuda else None
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

    for epoch in range(args.epochs):
        loader.set_epoch(epoch)  # a new shuffle, the same on every rank
        for x, y in loader:
            loss = F.cross_entropy(model(x.float() / 255), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if rank == 0:
            print(f"epoch {epoch}: {len(loader)} batches per rank, last loss {loss.item():.3f}")
    if rank == 0:
        print(loader.stats())  # where the last epoch's loading time went
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
