"""Mutation fuzzing of spdl's byte-parsing entry points, in a child process (see README.md)."""
