"""``python -m fuzz``: run a campaign, or replay a saved finding.

    python -m fuzz --seconds 900                  # all targets, 15 minutes
    python -m fuzz --inputs 2000 --seed 0         # the fixed-seed pass CI runs
    python -m fuzz --targets load_image,load_audio --seconds 60
    python -m fuzz --reproduce fuzz/findings/crash-load_video-0123abcd4567.bin

Exit status: 0 when every input ended in a result or a MediaError, 1 when anything else happened
(the findings are saved under --findings with a summary.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import campaign

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m fuzz",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seconds", type=float, help="run for this long (wall clock)")
    p.add_argument("--inputs", type=int, help="run this many mutated inputs")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    p.add_argument("--targets", help="comma-separated target names (default: all available)")
    p.add_argument("--time-limit", type=float, default=10.0, help="seconds per input (default 10)")
    p.add_argument(
        "--memory-limit-mb",
        type=int,
        default=4096,
        help="worker address-space cap in MiB (default 4096)",
    )
    p.add_argument("--corpus", default=str(HERE / ".corpus"), help="seed file cache")
    p.add_argument("--findings", default=str(HERE / "findings"), help="where findings go")
    p.add_argument("--reproduce", metavar="FILE.bin", help="replay one saved finding and exit")
    p.add_argument("--list", action="store_true", help="list available targets and exit")
    args = p.parse_args(argv)

    if args.list:
        from . import targets

        names = {t.name for t in targets.available()}
        for t in targets.TARGETS:
            state = "available" if t.name in names else "missing: " + ", ".join(t.needs)
            print(f"{t.name:28s} {','.join(t.kinds):14s} {state}")
        return 0
    if args.reproduce:
        verdict = campaign.reproduce(args.reproduce, time_limit=args.time_limit)
        print(json.dumps(verdict, indent=2))
        return 0 if verdict["outcome"] in ("ok", "media_error") else 1
    if args.seconds is None and args.inputs is None:
        p.error("give --seconds or --inputs")

    report = campaign.run_campaign(
        seed=args.seed,
        max_inputs=args.inputs,
        seconds=args.seconds,
        target_names=args.targets.split(",") if args.targets else None,
        corpus_dir=args.corpus,
        findings_dir=args.findings,
        time_limit=args.time_limit,
        memory_limit=args.memory_limit_mb << 20,
        progress=30.0,
    )
    summary = report.as_dict()
    print(json.dumps({k: v for k, v in summary.items() if k != "findings_saved"}, indent=2))
    if report.bad:
        print(f"[fuzz] {report.bad} bad inputs; saved under {args.findings}", file=sys.stderr)
        return 1
    print(f"[fuzz] {report.inputs} inputs, every one ended in a result or a MediaError")
    return 0


if __name__ == "__main__":
    sys.exit(main())
