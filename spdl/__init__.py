"""spdl: Scalable and Performant Data Loading.

Subpackages:
    spdl.pipeline    thread-based stage pipelines with a performance report (pure Python)
    spdl.io          media demuxing, decoding, filtering and conversion over FFmpeg, GIL released
    spdl.dataloader  a DataLoader built on the pipeline
    spdl.source      samplers sharded by rank and sources of files

Importing ``spdl`` imports none of them; import the one you use.
"""

__version__ = "0.1.0"
