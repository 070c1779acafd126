"""Samplers sharded by rank and sources of files: what a training loop relies on."""

from __future__ import annotations

import doctest
import itertools
import os
import sys

import pytest

import spdl.source
from spdl.source import (
    DirectorySource,
    DistributedDeterministicSampler,
    DistributedRandomSampler,
    ImageNetSource,
    ListSource,
    SampledSource,
    get_rank_and_world_size,
)

SAMPLERS = [DistributedDeterministicSampler, DistributedRandomSampler]


def _shards(cls, n, world_size, **kwargs):
    return [list(cls(n, rank=r, world_size=world_size, **kwargs)) for r in range(world_size)]


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("n", [0, 1, 7, 12, 101])
@pytest.mark.parametrize("world_size", [1, 2, 3, 8])
def test_drop_last_shards_are_equal_disjoint_and_cover_all_but_the_remainder(cls, n, world_size):
    shards = _shards(cls, n, world_size, drop_last=True)
    lengths = {len(s) for s in shards}
    assert lengths == {n // world_size}
    assert all(len(s) == len(cls(n, rank=0, world_size=world_size, drop_last=True)) for s in shards)
    every = list(itertools.chain.from_iterable(shards))
    assert len(set(every)) == len(every)  # disjoint
    assert set(every) <= set(range(n))
    assert len(every) == n - n % world_size


@pytest.mark.parametrize("cls", SAMPLERS)
@pytest.mark.parametrize("n", [1, 7, 12, 101])
@pytest.mark.parametrize("world_size", [1, 2, 3, 8])
def test_padded_shards_are_equal_and_their_union_is_the_data_set(cls, n, world_size):
    shards = _shards(cls, n, world_size, drop_last=False)
    per_rank = -(-n // world_size)
    assert [len(s) for s in shards] == [per_rank] * world_size
    every = list(itertools.chain.from_iterable(shards))
    assert set(every) == set(range(n))
    # Only the padding repeats: exactly per_rank * world_size - n extra slots.
    assert len(every) - len(set(every)) == per_rank * world_size - n


def test_divisible_sizes_give_an_exact_partition():
    for cls in SAMPLERS:
        for drop_last in (True, False):
            shards = _shards(cls, 12, 4, drop_last=drop_last)
            assert sorted(itertools.chain.from_iterable(shards)) == list(range(12))


def test_deterministic_sampler_order():
    assert list(DistributedDeterministicSampler(5)) == [0, 1, 2, 3, 4]
    assert _shards(DistributedDeterministicSampler, 7, 3) == [[0, 3, 6], [1, 4, 0], [2, 5, 1]]
    assert _shards(DistributedDeterministicSampler, 7, 3, drop_last=True) == [
        [0, 3],
        [1, 4],
        [2, 5],
    ]


def test_random_sampler_is_a_seeded_permutation_per_epoch():
    sampler = DistributedRandomSampler(1000, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(1000))
    assert first != list(range(1000))
    assert list(sampler) == first  # same epoch, same order
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(second) == list(range(1000)) and second != first
    # Reproducible from (seed, epoch) alone, in a fresh object.
    again = DistributedRandomSampler(1000, seed=3)
    again.set_epoch(1)
    assert list(again) == second
    assert list(DistributedRandomSampler(1000, seed=4)) != first


def test_random_sampler_ranks_agree_on_the_permutation_every_epoch():
    samplers = [DistributedRandomSampler(50, rank=r, world_size=4, seed=7) for r in range(4)]
    seen = []
    for epoch in range(3):
        for s in samplers:
            s.set_epoch(epoch)
        shards = [list(s) for s in samplers]
        every = list(itertools.chain.from_iterable(shards))
        assert len(set(every)) == len(every) == 48
        seen.append(shards[0])
    assert seen[0] != seen[1] != seen[2]


def test_rank_from_environment(monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    sampler = DistributedDeterministicSampler(9)
    assert (sampler.rank, sampler.world_size) == (2, 3)
    assert list(sampler) == [2, 5, 8]
    # Explicit arguments win over the environment.
    assert get_rank_and_world_size(0, None) == (0, 3)
    assert get_rank_and_world_size(1, 2) == (1, 2)


def test_rank_defaults_to_a_single_process(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    if "torch" in sys.modules:
        import torch.distributed as dist

        assert not (dist.is_available() and dist.is_initialized())
    assert get_rank_and_world_size() == (0, 1)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"RANK": "1"}, "must be set together"),
        ({"RANK": "x", "WORLD_SIZE": "2"}, "must be integers"),
        ({"RANK": "2", "WORLD_SIZE": "2"}, r"rank must be in \[0, 2\)"),
        ({"RANK": "0", "WORLD_SIZE": "0"}, "at least 1"),
    ],
)
def test_bad_environment_is_a_clear_error(monkeypatch, env, match):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=match):
        DistributedRandomSampler(10)


def test_bad_arguments():
    with pytest.raises(ValueError, match="non-negative"):
        DistributedRandomSampler(-1, rank=0, world_size=1)
    with pytest.raises(TypeError):
        DistributedRandomSampler(2.5, rank=0, world_size=1)
    with pytest.raises(ValueError, match="seed"):
        DistributedRandomSampler(4, rank=0, world_size=1, seed=-1)
    with pytest.raises(ValueError, match="epoch"):
        DistributedRandomSampler(4, rank=0, world_size=1).set_epoch(-2)
    with pytest.raises(TypeError):
        DistributedDeterministicSampler(4, rank="0", world_size=1)


@pytest.fixture
def tree(tmp_path):
    """A small folder tree: files of several extensions, a hidden folder, nested folders."""
    names = [
        "b.jpg",
        "a.JPG",
        "sub/c.png",
        "sub/deeper/d.jpeg",
        "sub/notes.txt",
        ".hidden/e.jpg",
        "video.mp4",
    ]
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path


def test_directory_source_by_extension(tree):
    files = DirectorySource(tree, extensions=(".jpg", "png"))
    rel = [os.path.relpath(p, tree) for p in files]
    assert rel == ["a.JPG", "b.jpg", "sub/c.png"]
    assert isinstance(files[0], str) and len(files) == 3
    flat = DirectorySource(tree, extensions="jpg", recursive=False)
    assert [os.path.relpath(p, tree) for p in flat] == ["a.JPG", "b.jpg"]
    default = DirectorySource(tree)  # IMAGE_EXTENSIONS
    assert len(default) == 4
    assert [os.path.relpath(p, tree) for p in DirectorySource(tree, extensions=".mp4")] == [
        "video.mp4"
    ]


def test_directory_source_errors(tree, tmp_path):
    with pytest.raises(FileNotFoundError, match="No such directory"):
        DirectorySource(tmp_path / "missing")
    with pytest.raises(NotADirectoryError):
        DirectorySource(tree / "b.jpg")
    with pytest.raises(ValueError, match=r"No file with extension \.wav"):
        DirectorySource(tree, extensions=".wav")
    with pytest.raises(ValueError, match="extensions"):
        DirectorySource(tree, extensions=[""])


def test_imagenet_source_labels(tmp_path):
    for cls, count in [("n02", 2), ("n01", 3), ("n03", 1)]:
        (tmp_path / cls).mkdir()
        for i in range(count):
            (tmp_path / cls / f"{cls}_{i}.JPEG").write_bytes(b"x")
    (tmp_path / "n03" / "readme.txt").write_text("not an image")
    (tmp_path / "stray.JPEG").write_bytes(b"x")  # not inside a class folder: ignored
    src = ImageNetSource(tmp_path)
    assert src.classes == ["n01", "n02", "n03"]
    assert src.class_to_label == {"n01": 0, "n02": 1, "n03": 2}
    assert len(src) == 6
    pairs = [(os.path.basename(p), label) for p, label in src]
    assert pairs == [
        ("n01_0.JPEG", 0),
        ("n01_1.JPEG", 0),
        ("n01_2.JPEG", 0),
        ("n02_0.JPEG", 1),
        ("n02_1.JPEG", 1),
        ("n03_0.JPEG", 2),
    ]
    for path, label in src:
        assert os.path.basename(os.path.dirname(path)) == src.classes[label]


def test_imagenet_source_errors(tmp_path):
    with pytest.raises(ValueError, match="No class folder"):
        ImageNetSource(tmp_path)
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="No file with extension"):
        ImageNetSource(tmp_path)


def test_list_source_and_list_file(tmp_path):
    src = ListSource(x * 2 for x in range(5))
    assert len(src) == 5 and src[4] == 8 and list(src) == [0, 2, 4, 6, 8]
    listing = tmp_path / "train.txt"
    listing.write_text("# the training split\na.jpg\n\n  sub/b.jpg  \n/abs/c.jpg\n")
    files = ListSource.from_file(listing)
    assert list(files) == [str(tmp_path / "a.jpg"), str(tmp_path / "sub/b.jpg"), "/abs/c.jpg"]
    rooted = ListSource.from_file(listing, root="/data")
    assert rooted[0] == os.path.join("/data", "a.jpg")


def test_sampled_source_follows_the_sampler_and_its_epoch():
    data = ListSource(f"item{i}" for i in range(20))
    shards = []
    for rank in range(2):
        src = SampledSource(data, DistributedRandomSampler(len(data), rank=rank, world_size=2))
        src.set_epoch(5)
        assert len(src) == 10
        shards.append(list(src))
        assert list(src) == shards[-1]  # re-iterable, same epoch same order
    assert sorted(shards[0] + shards[1]) == sorted(data)
    sampler = DistributedRandomSampler(len(data), rank=0, world_size=2)
    sampler.set_epoch(5)
    assert shards[0] == [data[i] for i in sampler]
    # A sampler without set_epoch (a plain list of indices) works too.
    plain = SampledSource(data, [3, 1])
    plain.set_epoch(1)
    assert list(plain) == ["item3", "item1"]


def test_docstring_examples():
    for module in (spdl.source._sampler, spdl.source._source):
        result = doctest.testmod(module, raise_on_error=False)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0
