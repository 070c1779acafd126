"""Where this process sits in a distributed job: its rank and the world size."""

from __future__ import annotations

import os
import sys

__all__ = ["get_rank_and_world_size"]


def _from_torch() -> tuple[int, int] | None:
    # Only consult torch if the program already imported it: importing torch costs seconds and
    # a process group can only exist if the program set one up.
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist.get_rank(), dist.get_world_size()


def _from_env() -> tuple[int, int] | None:
    rank, world_size = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
    if rank is None and world_size is None:
        return None
    if rank is None or world_size is None:
        raise ValueError(
            "RANK and WORLD_SIZE must be set together "
            f"(got RANK={rank!r}, WORLD_SIZE={world_size!r})"
        )
    try:
        return int(rank), int(world_size)
    except ValueError:
        raise ValueError(
            f"RANK and WORLD_SIZE must be integers (got RANK={rank!r}, WORLD_SIZE={world_size!r})"
        ) from None


def get_rank_and_world_size(
    rank: int | None = None, world_size: int | None = None
) -> tuple[int, int]:
    """Resolve ``(rank, world_size)`` for sharding.

    Explicit arguments win. Otherwise the values come from ``torch.distributed`` when the program
    imported torch and initialised a process group, else from the ``RANK`` and ``WORLD_SIZE``
    environment variables (``torchrun`` sets them), else ``(0, 1)``.

    Args:
        rank: This process's rank, or ``None`` to detect it.
        world_size: The number of processes, or ``None`` to detect it.

    Returns:
        ``(rank, world_size)`` with ``0 <= rank < world_size``.

    Raises:
        ValueError: If the values are out of range or only one of the two variables is set.
    """
    if rank is None or world_size is None:
        detected = _from_torch() or _from_env() or (0, 1)
        rank = detected[0] if rank is None else rank
        world_size = detected[1] if world_size is None else world_size
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise TypeError(f"rank must be an int, got {type(rank).__name__}")
    if isinstance(world_size, bool) or not isinstance(world_size, int):
        raise TypeError(f"world_size must be an int, got {type(world_size).__name__}")
    if world_size < 1:
        raise ValueError(f"world_size must be at least 1, got {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    return rank, world_size
