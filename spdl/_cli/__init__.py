"""The ``spdl`` command line's subcommands (see ``spdl/__main__.py``)."""
