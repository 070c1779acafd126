"""Per-item overhead of the pipeline engine, against the real spdl 0.8.0 and ThreadPoolExecutor.

Moves no-op items (``lambda``-free module functions returning their input) through 1 and 3
stages at concurrency 1 and 8 and reports items per second; then hashes 1 MB buffers with
``hashlib.sha256`` (which releases the GIL) at concurrency 1 and 2 to show that threads scale.

The same script runs twice: under this interpreter (our ``spdl``, plus ``ThreadPoolExecutor.map``
as the floor), and under a peer virtual environment that has ``spdl==0.8.0`` from PyPI (see
``_harness.py``), which it starts itself. Every run checks its output (count and checksum)
before its time counts.

Usage::

    .venv/bin/python bench/pipeline_overhead.py            # both sides, table + JSON
    .venv/bin/python bench/pipeline_overhead.py --no-peer  # ours and ThreadPoolExecutor only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness

CONFIGS = [(1, 1), (1, 8), (3, 1), (3, 8)]  # (stages, concurrency)
NUM_THREADS = 8
HASH_BUFFERS = 32  # distinct 1 MB buffers, hashed round-robin
HASH_ITEMS = 384  # items per run: long enough that pipeline start and stop do not count
HASH_SIZE = 1 << 20


def noop(x):
    return x


def _pipeline_run(num_items: int, stages: int, concurrency: int) -> int:
    from spdl.pipeline import PipelineBuilder

    builder = PipelineBuilder().add_source(range(num_items))
    for _ in range(stages):
        builder = builder.pipe(noop, concurrency=concurrency)
    pipeline = builder.add_sink(3).build(num_threads=NUM_THREADS)
    count = 0
    total = 0
    with pipeline.auto_stop():
        for x in pipeline:
            count += 1
            total += x
    if count != num_items or total != num_items * (num_items - 1) // 2:
        raise AssertionError(f"pipeline delivered {count} items (sum {total}), not {num_items}")
    return count


def _tpe_run(num_items: int, workers: int) -> int:
    with ThreadPoolExecutor(workers) as executor:
        count = 0
        total = 0
        for x in executor.map(noop, range(num_items)):
            count += 1
            total += x
    if count != num_items or total != num_items * (num_items - 1) // 2:
        raise AssertionError(f"map delivered {count} items, not {num_items}")
    return count


_BUFFERS: list[bytes] = []


def _sha(i: int) -> bytes:
    return hashlib.sha256(_BUFFERS[i % len(_BUFFERS)]).digest()


def _hash_run(concurrency: int, expected: list[bytes]) -> int:
    from spdl.pipeline import PipelineBuilder

    pipeline = (
        PipelineBuilder()
        .add_source(range(HASH_ITEMS))
        .pipe(_sha, concurrency=concurrency, output_order="input")
        .add_sink(3)
        .build(num_threads=2)
    )
    with pipeline.auto_stop():
        out = list(pipeline)
    if out != expected:
        raise AssertionError("wrong digests")
    return len(out)


def _tpe_hash_run(workers: int, expected: list[bytes]) -> int:
    with ThreadPoolExecutor(workers) as executor:
        out = list(executor.map(_sha, range(HASH_ITEMS)))
    if out != expected:
        raise AssertionError("wrong digests")
    return len(out)


def _scaling(run, reference, runs: int) -> dict:
    """Items/s of ``run(1)`` and ``run(2)`` measured in alternation, and their ratio.

    Alternating (1, 2, 1, 2, ...) and taking the median of the per-pair ratios keeps load from
    other processes, which drifts over seconds, out of the ratio as far as possible.
    ``reference`` (``ThreadPoolExecutor.map`` with 1 and 2 workers) is measured in the same
    rounds: it shows how much two threads can gain on this machine at that moment.
    """
    rates: dict = {1: [], 2: [], "ref1": [], "ref2": []}
    for round_ in range(runs + 1):  # the first round warms up
        for key, fn, arg in (
            (1, run, 1),
            (2, run, 2),
            ("ref1", reference, 1),
            ("ref2", reference, 2),
        ):
            if fn is None:
                continue
            t0 = time.perf_counter()
            items = fn(arg)
            rate = items / (time.perf_counter() - t0)
            if round_:
                rates[key].append(rate)
    out = {
        "concurrency 1": {**_harness.summarize(rates[1]), "unit": "items/s"},
        "concurrency 2": {**_harness.summarize(rates[2]), "unit": "items/s"},
        "scaling": _harness.summarize([b / a for a, b in zip(rates[1], rates[2], strict=True)])[
            "median"
        ],
    }
    if reference is not None:
        out["ThreadPoolExecutor.map scaling"] = _harness.summarize(
            [b / a for a, b in zip(rates["ref1"], rates["ref2"], strict=True)]
        )["median"]
    return out


def measure_side(num_items: int, runs: int, with_tpe: bool) -> dict:
    """Measure every configuration with the ``spdl`` this interpreter imports."""
    import spdl

    results: dict = {"spdl": getattr(spdl, "__version__", "?"), "noop": {}, "sha256": {}}
    for stages, concurrency in CONFIGS:
        key = f"{stages} stage(s), concurrency {concurrency}"
        results["noop"][key] = _harness.measure(
            lambda s=stages, c=concurrency: _pipeline_run(num_items, s, c), runs=runs
        )
        print(
            f"[{results['spdl']}] {key}: {results['noop'][key]['median']:.0f} items/s", flush=True
        )
    if with_tpe:
        for workers in (1, 8):
            key = f"ThreadPoolExecutor.map, {workers} worker(s)"
            results["noop"][key] = _harness.measure(
                lambda w=workers: _tpe_run(num_items, w), runs=runs
            )
            print(f"[tpe] {key}: {results['noop'][key]['median']:.0f} items/s", flush=True)
    _BUFFERS[:] = [bytes([i]) * HASH_SIZE for i in range(HASH_BUFFERS)]
    expected = [_sha(i) for i in range(HASH_ITEMS)]
    results["sha256"] = _scaling(
        lambda c: _hash_run(c, expected),
        (lambda w: _tpe_hash_run(w, expected)) if with_tpe else None,
        runs,
    )
    sha = results["sha256"]
    print(
        f"[{results['spdl']}] sha256 1 MB: {sha['concurrency 1']['median']:.0f} -> "
        f"{sha['concurrency 2']['median']:.0f} items/s ({sha['scaling']:.2f}x)",
        flush=True,
    )
    return results


def _table(ours: dict, peer: dict | None) -> str:
    lines = [
        "| configuration | spdl (this) items/s | µs/item/stage | spdl 0.8.0 items/s | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for stages, concurrency in CONFIGS:
        key = f"{stages} stage(s), concurrency {concurrency}"
        rate = ours["noop"][key]["median"]
        per_stage = 1e6 / rate / stages
        if peer is not None:
            theirs = peer["noop"][key]["median"]
            lines.append(
                f"| {key} | {rate:,.0f} | {per_stage:.1f} | {theirs:,.0f} | {rate / theirs:.1f}x |"
            )
        else:
            lines.append(f"| {key} | {rate:,.0f} | {per_stage:.1f} | | |")
    for concurrency in (1, 8):
        cells = []
        for side in (ours, peer):
            if side is None:
                cells.append("")
                continue
            one = side["noop"][f"1 stage(s), concurrency {concurrency}"]["median"]
            three = side["noop"][f"3 stage(s), concurrency {concurrency}"]["median"]
            cells.append(f"{(1e6 / three - 1e6 / one) / 2:.1f} µs")
        lines.append(
            f"| cost of one more stage per item, concurrency {concurrency} | {cells[0]} | "
            f"| {cells[1]} | |"
        )
    for workers in (1, 8):
        key = f"ThreadPoolExecutor.map, {workers} worker(s)"
        rate = ours["noop"][key]["median"]
        lines.append(f"| {key} | {rate:,.0f} | {1e6 / rate:.1f} | | |")
    sha = ours["sha256"]
    line = (
        f"| sha256 over 1 MB, concurrency 1 -> 2 | {sha['concurrency 1']['median']:.0f} -> "
        f"{sha['concurrency 2']['median']:.0f} ({sha['scaling']:.2f}x) | |"
    )
    if peer is not None:
        psha = peer["sha256"]
        line += (
            f" {psha['concurrency 1']['median']:.0f} -> {psha['concurrency 2']['median']:.0f} "
            f"({psha['scaling']:.2f}x) | |"
        )
    else:
        line += " | |"
    lines.append(line)
    if "ThreadPoolExecutor.map scaling" in sha:
        lines.append(
            f"| sha256, ThreadPoolExecutor.map 1 -> 2 workers (this machine's ceiling) | "
            f"{sha['ThreadPoolExecutor.map scaling']:.2f}x | | | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20000, help="no-op items per run (ours)")
    parser.add_argument("--peer-items", type=int, default=4000, help="no-op items per peer run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-peer", action="store_true", help="skip the real spdl 0.8.0")
    parser.add_argument("--json-out", help="write this side's results here and exit (peer mode)")
    args = parser.parse_args()

    if args.json_out:  # we are the peer side, started by the main side
        result = measure_side(args.items, args.runs, with_tpe=False)
        Path(args.json_out).write_text(json.dumps(result))
        return

    started = time.time()
    ours = measure_side(args.items, args.runs, with_tpe=True)
    peer = None
    if not args.no_peer:
        python = _harness.peer_python("spdl-0.8.0", _harness.REAL_SPDL)
        peer = _harness.run_under(
            python, __file__, ["--items", str(args.peer_items), "--runs", str(args.runs)]
        )
    table = _table(ours, peer)
    print(table)
    out = _harness.write_json(
        _harness.RESULTS / "pipeline_overhead.json",
        {"ours": ours, "peer": peer, "table": table, "started": started},
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
