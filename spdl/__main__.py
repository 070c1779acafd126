"""The ``spdl`` command line.

    spdl info [--json]
        versions of spdl, Python (free-threaded or not) and FFmpeg, the build options, and
        whether CUDA, nvJPEG, NVDEC, CuPy and PyNvVideoCodec are usable
    spdl bench images|videos|audio [DIR] [--threads N] [--batch-size B] [--device cpu|cuda]
               [--size S] [--epochs E] [--json]
        load the media files under DIR (default: a small sample set spdl makes once and caches)
        on threads with a progress bar, then print the throughput and the per-stage report

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

    p_bench = sub.add_parser(
        "bench", help="load a folder of images, videos or audio on threads and report speed"
    )
    p_bench.add_argument("kind", choices=["images", "videos", "audio"])
    p_bench.add_argument(
        "dir", nargs="?", default=None, help="folder to load (default: the sample set)"
    )
    p_bench.add_argument("--threads", type=_positive, default=8, help="threads (default 8)")
    p_bench.add_argument(
        "--batch-size", type=_positive, default=8, help="files per batch (default 8)"
    )
    p_bench.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p_bench.add_argument(
        "--size", type=_positive, default=224, help="resize frames to SIZE x SIZE (default 224)"
    )
    p_bench.add_argument(
        "--epochs", type=_positive, default=1, help="passes over the folder (default 1)"
    )
    p_bench.add_argument(
        "--json", action="store_true", help="print one JSON document; no progress bar"
    )
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _bench(args: argparse.Namespace) -> int:
    from spdl._cli._bench import BenchError, print_result, run_bench

    try:
        result = run_bench(
            args.kind,
            args.dir,
            threads=args.threads,
            batch_size=args.batch_size,
            device=args.device,
            size=args.size,
            epochs=args.epochs,
            progress=False if args.json else None,
        )
    except BenchError as e:
        print(f"spdl bench: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("spdl bench: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_result(result)
    return 0


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
    if args.command == "bench":
        return _bench(args)
    raise AssertionError(f"unhandled command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
