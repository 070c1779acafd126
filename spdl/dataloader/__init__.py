"""Data loaders built on ``spdl.pipeline``: batches for a training loop, loaded on threads."""

from ._dataloader import DataLoader

__all__ = ["DataLoader"]
