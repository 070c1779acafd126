"""Samplers sharded by rank, and sources of items (files, lists, ImageNet-style folders).

A source says *what* the data set holds (a sequence of items); a sampler says *which* of them this
rank reads and in what order. ``SampledSource`` joins them into the iterable a
``spdl.dataloader.DataLoader`` consumes::

    from spdl.source import DistributedRandomSampler, ImageNetSource, SampledSource

    data = ImageNetSource("imagenet/train")                 # (path, label) pairs
    src = SampledSource(data, DistributedRandomSampler(len(data), seed=0))
"""

from ._distributed import get_rank_and_world_size
from ._sample_set import get_sample_set
from ._sampler import DistributedDeterministicSampler, DistributedRandomSampler
from ._source import (
    AUDIO_EXTENSIONS,
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    DirectorySource,
    ImageNetSource,
    ListSource,
    SampledSource,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "DirectorySource",
    "DistributedDeterministicSampler",
    "DistributedRandomSampler",
    "ImageNetSource",
    "ListSource",
    "SampledSource",
    "get_rank_and_world_size",
    "get_sample_set",
]
