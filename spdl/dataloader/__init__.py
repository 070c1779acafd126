"""Data loaders built on ``spdl.pipeline``."""

__all__: list[str] = []
