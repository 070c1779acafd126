"""The ``spdl`` command line.

    spdl info [--json]
        versions of spdl, Python (free-threaded or not) and FFmpeg, the build options, and
        whether CUDA, nvJPEG, NVDEC, CuPy and PyNvVideoCodec are usable

Run ``spdl COMMAND --help`` for a command's options.
"""

from __future__ import annotations

import argparse
import json
import sys


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spdl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser(
        "info", help="versions of FFmpeg and Python, the build, GPU support available"
    )
    p_info.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``spdl`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    args = _build_parser().parse_args(argv)
    if args.command == "info":
        from spdl._cli._info import collect_info, print_info

        info = collect_info()
        if args.json:
            print(json.dumps(info, indent=2))
        else:
            print_info(info)
        return 0
    raise AssertionError(f"unhandled command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
