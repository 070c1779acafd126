"""Pieces the GPU benchmarks share: arguments, the peer run, synchronization, checks.

Each GPU benchmark is one script that runs twice when it compares against the real spdl 0.8.0:
once with this checkout's ``spdl`` and once as a child with ``PYTHONPATH`` pointing at a folder
where the real wheels were unpacked (``--peer-path``; ``check.sh`` prepares it). The child writes
its JSON; the parent merges both under ``"ours"`` and ``"spdl 0.8.0"``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import _harness  # noqa: E402

PEER = "spdl 0.8.0"


def parser(doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--data", type=Path, required=True, help="folder made by make_data.py")
    p.add_argument("--json-out", type=Path, required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--peer-path", type=Path, help="where the real spdl 0.8.0 wheels are unpacked")
    p.add_argument("--as-peer", action="store_true", help=argparse.SUPPRESS)
    return p


def run_peer(script: str, args: argparse.Namespace, extra: list[str]) -> dict | None:
    """Run ``script`` again with the real spdl on ``PYTHONPATH``; its JSON, or None on failure."""
    if args.peer_path is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "peer.json"
        env = dict(os.environ)
        ours = os.environ.get("SPDL_BENCH_OURS", "")  # check.sh: where this checkout is installed
        keep = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != ours]
        env["PYTHONPATH"] = os.pathsep.join([str(args.peer_path), *keep])
        cmd = [
            sys.executable,
            script,
            "--as-peer",
            "--data",
            str(args.data),
            "--runs",
            str(args.runs),
            "--json-out",
            str(out),
            *extra,
        ]
        proc = subprocess.run(cmd, env=env, cwd=tmp, check=False)
        if proc.returncode != 0 or not out.exists():
            print(f"[bench] the {PEER} run failed (exit {proc.returncode})", file=sys.stderr)
            return {"error": f"exit status {proc.returncode}"}
        return json.loads(out.read_text())


def synchronize() -> None:
    """Wait for all GPU work of this process (both sides: results must be complete when timed)."""
    import cupy

    cupy.cuda.runtime.deviceSynchronize()


def psnr(a, b) -> float:
    import numpy as np

    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


def ratio(a: dict | None, b: dict | None) -> float | None:
    """median(a) / median(b), or None when either is missing."""
    if not a or not b or "median" not in a or "median" not in b:
        return None
    return a["median"] / b["median"]


def write(path: Path, data: dict) -> None:
    _harness.write_json(path, data)
    print(json.dumps(data, indent=2, default=str))
