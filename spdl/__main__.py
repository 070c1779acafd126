"""The ``spdl`` command line: ``spdl info``."""

from __future__ import annotations

import argparse
import json
import platform
import sys


def _info() -> dict[str, object]:
    from spdl.io import utils

    return {
        "spdl": __import__("spdl").__version__,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "ffmpeg": utils.get_ffmpeg_versions(),
        "build": utils.get_build_config(),
    }


def _print_info(info: dict[str, object]) -> None:
    build = info["build"]
    print(f"spdl {info['spdl']}")
    threading = "free-threaded" if build["free_threaded"] else "with the GIL"
    print(f"Python {info['python']} ({info['python_implementation']}, {threading})")
    print("FFmpeg (loaded at run time):")
    for name, version in info["ffmpeg"].items():
        print(f"  {name:<14} {version}")
    print("Build:")
    print(f"  release_gil    {build['release_gil']}")
    print(f"  ffmpeg         {build['ffmpeg_build']}")
    print(f"  cython         {build['cython']}")
    print(f"  compiler       {build['compiler']}")
    print(f"  buildtype      {build['buildtype']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spdl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="versions of FFmpeg, Python and the build configuration")
    p_info.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)

    if args.command == "info":
        info = _info()
        if args.json:
            print(json.dumps(info, indent=2))
        else:
            _print_info(info)
        return 0
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
