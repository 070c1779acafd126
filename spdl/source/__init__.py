"""Samplers sharded by rank, and sources of items (files, lists, ImageNet-style folders)."""

__all__: list[str] = []
