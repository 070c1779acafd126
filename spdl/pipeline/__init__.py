"""Thread-based stage pipelines (pure Python: importing this never imports NumPy, CuPy or torch)."""

__all__: list[str] = []
