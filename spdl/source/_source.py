"""Sources: the items of a data set (file paths, labelled paths, anything in a list).

A source is a sequence (``len`` and indexing), so a sampler picks which items a rank reads and in
what order; ``SampledSource`` joins the two into the iterable a ``DataLoader`` consumes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar, overload

__all__ = [
    "AUDIO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "DirectorySource",
    "ImageNetSource",
    "ListSource",
    "SampledSource",
]

T = TypeVar("T")

#: File extensions (lower case) each kind of media usually has.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac")


def _normalize_extensions(extensions: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(extensions, str):
        extensions = (extensions,)
    out = []
    for ext in extensions:
        if not isinstance(ext, str) or not ext.strip("."):
            raise ValueError(f"extensions must be non-empty strings such as '.jpg', got {ext!r}")
        out.append("." + ext.lower().lstrip("."))
    if not out:
        raise ValueError("extensions must name at least one extension")
    return tuple(out)


def _check_directory(root: str | os.PathLike) -> Path:
    path = Path(root)
    if not path.exists():
        raise FileNotFoundError(f"No such directory: {str(path)!r}")
    if not path.is_dir():
        raise NotADirectoryError(f"Not a directory: {str(path)!r}")
    return path


def _find_files(root: Path, extensions: tuple[str, ...], recursive: bool) -> list[str]:
    found = []
    if recursive:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            # Hidden folders (.git, .cache...) are never data.
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            found += [os.path.join(dirpath, f) for f in filenames if f.lower().endswith(extensions)]
    else:
        found = [
            entry.path
            for entry in os.scandir(root)
            if entry.is_file() and entry.name.lower().endswith(extensions)
        ]
    found.sort()
    return found


class _SequenceSource(Generic[T]):
    """Sequence behaviour over a list held in ``self._items``."""

    _items: list[T]

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index):
        return self._items[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)


class DirectorySource(_SequenceSource[str]):
    """The files under a directory whose extension is one of ``extensions``, sorted by path.

    Matching ignores case (``".jpeg"`` finds ``x.JPEG`` too) but not spelling (list ``".jpg"``
    as well for ``x.jpg``). Hidden folders are skipped.

    Args:
        root: The directory.
        extensions: One extension or several, with or without the dot (``".jpg"``, ``"png"``).
            Defaults to common image extensions (``IMAGE_EXTENSIONS``).
        recursive: Also look in subdirectories (default).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is not a directory.
        ValueError: No file matches.

    Example:
        >>> files = DirectorySource("photos", extensions=(".jpg", ".png"))  # doctest: +SKIP
        >>> files[0]  # doctest: +SKIP
        'photos/a.jpg'
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        extensions: str | Iterable[str] = IMAGE_EXTENSIONS,
        recursive: bool = True,
    ) -> None:
        self.root = _check_directory(root)
        self.extensions = _normalize_extensions(extensions)
        self._items = _find_files(self.root, self.extensions, recursive)
        if not self._items:
            raise ValueError(
                f"No file with extension {' '.join(self.extensions)} under {str(self.root)!r}"
            )

    def __repr__(self) -> str:
        return f"DirectorySource({str(self.root)!r}, {len(self)} files)"


class ImageNetSource(_SequenceSource[tuple[str, int]]):
    """An ImageNet-style folder: ``root/<class name>/<file>``, as ``(path, label)`` pairs.

    Class names are the subdirectory names sorted; a class's label is its position in that order
    (``0 .. num_classes - 1``), as ``torchvision.datasets.ImageFolder`` numbers them. Files are
    found recursively inside each class folder; items are sorted by class, then path.

    Args:
        root: The folder holding one subdirectory per class.
        extensions: Extensions of the files to take (case ignored); defaults to
            ``IMAGE_EXTENSIONS`` (ImageNet's own files are ``.JPEG``).

    Attributes:
        classes: The class names, index = label.
        class_to_label: ``{class name: label}``.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is not a directory.
        ValueError: ``root`` has no class folder, or no class folder holds a matching file.
    """

    def __init__(
        self, root: str | os.PathLike, *, extensions: str | Iterable[str] = IMAGE_EXTENSIONS
    ) -> None:
        self.root = _check_directory(root)
        self.extensions = _normalize_extensions(extensions)
        self.classes = sorted(
            entry.name
            for entry in os.scandir(self.root)
            if entry.is_dir() and not entry.name.startswith(".")
        )
        if not self.classes:
            raise ValueError(f"No class folder under {str(self.root)!r} (expected root/class/file)")
        self.class_to_label = {name: label for label, name in enumerate(self.classes)}
        self._items = [
            (path, label)
            for label, name in enumerate(self.classes)
            for path in _find_files(self.root / name, self.extensions, True)
        ]
        if not self._items:
            raise ValueError(
                f"No file with extension {' '.join(self.extensions)} in the class folders "
                f"under {str(self.root)!r}"
            )

    def __repr__(self) -> str:
        return f"ImageNetSource({str(self.root)!r}, {len(self)} files, {len(self.classes)} classes)"


class ListSource(_SequenceSource[T]):
    """Any list of items: paths, URLs, ``(path, label)`` pairs, record ids...

    Args:
        items: An iterable; it is copied into a list once.

    Example:
        >>> src = ListSource(["a.jpg", "b.jpg"])
        >>> len(src), src[1]
        (2, 'b.jpg')
    """

    def __init__(self, items: Iterable[T]) -> None:
        self._items = list(items)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike, *, root: str | os.PathLike | None = None
    ) -> ListSource[str]:
        """Read a text file listing one path per line.

        Blank lines and lines starting with ``#`` are skipped; surrounding spaces are removed.
        Relative paths are taken relative to ``root`` (default: the list file's folder).

        Args:
            path: The list file (UTF-8).
            root: The folder relative paths start from.

        Returns:
            A ``ListSource`` of path strings, in the file's order.
        """
        path = Path(path)
        base = Path(root) if root is not None else path.parent
        items = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    items.append(line if os.path.isabs(line) else str(base / line))
        return cls(items)

    def __repr__(self) -> str:
        return f"ListSource({len(self)} items)"


class _Sampler(Protocol):
    def __iter__(self) -> Iterator[int]: ...
    def __len__(self) -> int: ...


class SampledSource(Generic[T]):
    """The items of ``source`` in the order, and the share, that ``sampler`` picks.

    Iterating it again starts a new pass; ``set_epoch`` is passed on to the sampler, so a
    ``DataLoader`` (or a training loop) can reshuffle per epoch.

    Args:
        source: A sequence of items (any of this module's sources, or a list).
        sampler: An iterable of indices into ``source``, e.g. ``DistributedRandomSampler``; it
            should have ``len``.

    Example:
        >>> from spdl.source import DistributedDeterministicSampler
        >>> src = SampledSource(["a", "b", "c", "d"],
        ...                     DistributedDeterministicSampler(4, rank=1, world_size=2))
        >>> list(src), len(src)
        (['b', 'd'], 2)
    """

    def __init__(self, source: Sequence[T], sampler: _Sampler) -> None:
        self.source = source
        self.sampler = sampler

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to the sampler (a no-op for samplers without ``set_epoch``)."""
        set_epoch = getattr(self.sampler, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[T]:
        source = self.source
        for index in self.sampler:
            yield source[index]

    def __repr__(self) -> str:
        return f"SampledSource({self.source!r}, {self.sampler!r})"
