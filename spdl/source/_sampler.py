"""Samplers: iterables of indices into a data set, one shard per rank of a distributed job.

Both samplers deal indices to ranks in turn (index ``i`` of the ordering goes to rank
``i % world_size``), so every rank gets the same count and no two ranks share an index, except the
repeated indices that padding adds when ``drop_last=False``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._distributed import get_rank_and_world_size

__all__ = ["DistributedDeterministicSampler", "DistributedRandomSampler"]


def _check_size(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    return n


class _ShardedSampler:
    """What both samplers share: the rank, the shard size and the dealing of an ordering."""

    def __init__(
        self, n: int, *, rank: int | None, world_size: int | None, drop_last: bool
    ) -> None:
        self._n = _check_size(n)
        self._rank, self._world_size = get_rank_and_world_size(rank, world_size)
        self._drop_last = bool(drop_last)
        self._epoch = 0
        if self._drop_last:
            self._per_rank = self._n // self._world_size
        else:
            self._per_rank = -(-self._n // self._world_size)  # ceil

    @property
    def rank(self) -> int:
        """This sampler's rank."""
        return self._rank

    @property
    def world_size(self) -> int:
        """The number of ranks the data set is split over."""
        return self._world_size

    @property
    def epoch(self) -> int:
        """The epoch set last with ``set_epoch`` (0 at first)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch the next iteration is for.

        Args:
            epoch: A non-negative int. Call it with the same value on every rank.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        self._epoch = epoch

    def __len__(self) -> int:
        """The number of indices this rank yields per epoch; the same on every rank."""
        return self._per_rank

    def _ordering(self) -> list[int]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        total = self._per_rank * self._world_size
        if total == 0:
            return iter(())
        order = self._ordering()
        if total > len(order):
            # Pad by going round the ordering again, so every rank ends with the same count.
            repeats = -(-total // len(order))
            order = (order * repeats)[:total]
        else:
            order = order[:total]
        return iter(order[self._rank :: self._world_size])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n={self._n}, rank={self._rank}, "
            f"world_size={self._world_size}, drop_last={self._drop_last}, epoch={self._epoch})"
        )


class DistributedDeterministicSampler(_ShardedSampler):
    """Indices ``0..n-1`` in order, sharded by rank: for evaluation, or data already shuffled.

    Rank ``r`` of ``w`` gets ``r, r + w, r + 2w, ...``.

    Args:
        n: The size of the data set.
        rank: This process's rank; ``None`` reads it from ``torch.distributed`` (when initialised)
            or the ``RANK`` environment variable, else 0.
        world_size: The number of ranks; ``None`` reads it the same way (``WORLD_SIZE``), else 1.
        drop_last: When ``n`` is not a multiple of ``world_size``, drop the last ``n % world_size``
            indices (``True``) or repeat the first ones so that every rank gets
            ``ceil(n / world_size)`` (``False``, the default: no item is left out).

    Example:
        >>> list(DistributedDeterministicSampler(10, rank=1, world_size=3))
        [1, 4, 7, 0]
    """

    def __init__(
        self,
        n: int,
        *,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
    ) -> None:
        super().__init__(n, rank=rank, world_size=world_size, drop_last=drop_last)

    def _ordering(self) -> list[int]:
        return list(range(self._n))


class DistributedRandomSampler(_ShardedSampler):
    """A random permutation of ``0..n-1`` per epoch, sharded by rank: for training.

    The permutation depends only on ``(seed, epoch)``, so every rank computes the same one and
    takes its own share, and a run can be reproduced. Call ``set_epoch`` before each epoch to get
    a new order (without it every epoch repeats epoch 0's order).

    Args:
        n: The size of the data set.
        rank: This process's rank; ``None`` reads it from ``torch.distributed`` (when initialised)
            or the ``RANK`` environment variable, else 0.
        world_size: The number of ranks; ``None`` reads it the same way (``WORLD_SIZE``), else 1.
        seed: A non-negative int; use the same on every rank.
        drop_last: When ``n`` is not a multiple of ``world_size``, leave out the last
            ``n % world_size`` indices of each epoch's permutation (``True``, the default; a
            different set each epoch) or repeat its first ones so every rank gets
            ``ceil(n / world_size)`` (``False``).
    """

    def __init__(
        self,
        n: int,
        *,
        rank: int | None = None,
        world_size: int | None = None,
        seed: int = 0,
        drop_last: bool = True,
    ) -> None:
        super().__init__(n, rank=rank, world_size=world_size, drop_last=drop_last)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self._seed = seed

    @property
    def seed(self) -> int:
        """The seed the permutations derive from."""
        return self._seed

    def _ordering(self) -> list[int]:
        import numpy as np

        # A generator seeded with the pair: epochs of one seed never share a stream.
        rng = np.random.default_rng([self._seed, self._epoch])
        return rng.permutation(self._n).tolist()
