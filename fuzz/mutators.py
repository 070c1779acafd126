"""Byte-level mutations of media files: what broken downloads, bad disks and hostile uploads do.

Every mutator is a pure function ``(data, rng) -> bytes``: given the same bytes and the same
``random.Random`` state it returns the same result, so any input of a campaign can be rebuilt from
its seed. ``mutate`` stacks one to four of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

Mutator = Callable[[bytes, random.Random], bytes]

# Values that sit on the edges of the integer fields containers and codecs store: sizes, counts,
# offsets and timestamps read from these break the arithmetic that follows.
_INTERESTING_8 = (0x00, 0x01, 0x7F, 0x80, 0xFF)
_INTERESTING_16 = (0x0000, 0x0001, 0x7FFF, 0x8000, 0xFFFF)
_INTERESTING_32 = (0x00000000, 0x00000001, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x00010000)


def _pos(data: bytes, rng: random.Random) -> int:
    return rng.randrange(len(data)) if data else 0


def _chunk(data: bytes, rng: random.Random, max_len: int = 256) -> tuple[int, int]:
    """A random (start, end) range of at most ``max_len`` bytes inside ``data``."""
    if not data:
        return 0, 0
    start = rng.randrange(len(data))
    length = 1 + min(int(rng.expovariate(1 / 16)), max_len - 1)
    return start, min(len(data), start + length)


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut the tail: an interrupted download. Half the time near the end, else anywhere."""
    if len(data) < 2:
        return data[:0]
    if rng.random() < 0.5:
        return data[: len(data) - 1 - rng.randrange(min(len(data) - 1, 4096))]
    return data[: rng.randrange(len(data))]


def flip_bits(data: bytes, rng: random.Random) -> bytes:
    """Flip 1 to 8 random bits: what a bad disk or a noisy link does."""
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def set_interesting(data: bytes, rng: random.Random) -> bytes:
    """Overwrite 1, 2 or 4 bytes with a boundary value (big or little endian)."""
    if len(data) < 4:
        return flip_bits(data, rng)
    width = rng.choice((1, 2, 4))
    value = rng.choice({1: _INTERESTING_8, 2: _INTERESTING_16, 4: _INTERESTING_32}[width])
    i = rng.randrange(len(data) - width + 1)
    raw = value.to_bytes(width, rng.choice(("big", "little")))
    return data[:i] + raw + data[i + width :]


def swap_chunks(data: bytes, rng: random.Random) -> bytes:
    """Exchange two byte ranges: packets and boxes out of order."""
    a0, a1 = _chunk(data, rng)
    b0, b1 = _chunk(data, rng)
    if a0 > b0:
        (a0, a1), (b0, b1) = (b0, b1), (a0, a1)
    if a1 > b0:  # overlapping: fall back to moving one range
        return duplicate_chunk(data, rng)
    return data[:a0] + data[b0:b1] + data[a1:b0] + data[a0:a1] + data[b1:]


def duplicate_chunk(data: bytes, rng: random.Random) -> bytes:
    """Insert a copy of one byte range somewhere else: repeated packets, a resent block."""
    a0, a1 = _chunk(data, rng)
    at = _pos(data, rng)
    return data[:at] + data[a0:a1] + data[at:]


def delete_chunk(data: bytes, rng: random.Random) -> bytes:
    """Drop a byte range: a lost block in the middle of the file."""
    a0, a1 = _chunk(data, rng)
    return data[:a0] + data[a1:]


def zero_header(data: bytes, rng: random.Random) -> bytes:
    """Zero a run of bytes within the first 512: container and codec headers live there."""
    if not data:
        return data
    start = rng.randrange(min(len(data), 512))
    length = rng.randint(1, 64)
    end = min(len(data), start + length)
    return data[:start] + bytes(end - start) + data[end:]


def random_bytes(data: bytes, rng: random.Random) -> bytes:
    """Replace a range by random bytes (one time in eight, the whole file keeps only its length)."""
    if rng.random() < 0.125:
        return rng.randbytes(max(1, len(data)))
    a0, a1 = _chunk(data, rng, max_len=1024)
    return data[:a0] + rng.randbytes(a1 - a0) + data[a1:]


def insert_random(data: bytes, rng: random.Random) -> bytes:
    """Insert 1 to 64 random bytes: a stream that lost its alignment."""
    at = _pos(data, rng)
    return data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:]


MUTATORS: dict[str, Mutator] = {
    "truncate": truncate,
    "flip_bits": flip_bits,
    "set_interesting": set_interesting,
    "swap_chunks": swap_chunks,
    "duplicate_chunk": duplicate_chunk,
    "delete_chunk": delete_chunk,
    "zero_header": zero_header,
    "random_bytes": random_bytes,
    "insert_random": insert_random,
}


def splice(data: bytes, other: bytes, rng: random.Random) -> bytes:
    """The head of ``data`` joined to the tail of ``other``: two files glued by a bad copy."""
    if not data or not other:
        return data or other
    return data[: rng.randrange(len(data))] + other[rng.randrange(len(other)) :]


def mutate(
    data: bytes, rng: random.Random, *, others: Sequence[bytes] = ()
) -> tuple[bytes, list[str]]:
    """Apply one to four random mutations to ``data``.

    Args:
        data: the seed file's bytes.
        rng: the only source of randomness (seed it to make the result reproducible).
        others: other seed files; when given, one mutation in twenty is a ``splice`` with one.

    Returns:
        The mutated bytes and the names of the mutations applied, in order.
    """
    names = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        if others and rng.random() < 0.05:
            data = splice(data, rng.choice(others), rng)
            names.append("splice")
            continue
        name = rng.choice(tuple(MUTATORS))
        data = MUTATORS[name](data, rng)
        names.append(name)
    return data, names
