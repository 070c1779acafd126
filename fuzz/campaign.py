"""The parent side of a fuzzing campaign: makes inputs, runs them in a worker, judges outcomes.

This process never imports spdl. Each input goes to a worker process (``worker.serve``); the
verdicts are:

- ``ok``: the target returned a result;
- ``media_error``: it raised ``spdl.io.MediaError`` (the only acceptable failure);
- ``exception``: any other exception type (a finding), and ``InvalidFilterError``: every target
  passes a valid filter description or none, so that error would blame file data on the user;
- ``crash``: the worker died (a signal or an exit: a finding; the worker is restarted);
- ``hang``: no answer within the per-input time limit (a finding; the worker is killed);
- ``blowup``: a result larger than ``blowup_bytes`` (a finding: a few KB of broken input must not
  make hundreds of MB of output). The worker sets ``spdl.io.set_decode_limits(max_bytes=...)`` to
  the same figure, so a blowup means the library's decompression-bomb guard let it through.

Every finding is saved as ``FINDINGS/<verdict>-<target>-<sha1>.bin`` with a ``.json`` beside it
(seed, index, mutations, source form, error, traceback, the tail of the worker's log), and
``python -m fuzz --reproduce FILE.bin`` replays it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import corpus, mutators
from .targets import FORMS

BAD = ("exception", "crash", "hang", "blowup")


class Runner:
    """One worker process, restarted after a crash or a hang.

    Args:
        time_limit: seconds one input may take before it counts as a hang.
        memory_limit: address-space cap of the worker in bytes (0: none).
        log_dir: where the worker's stderr log goes.
    """

    def __init__(
        self,
        *,
        time_limit: float = 10.0,
        memory_limit: int = 4 << 30,
        log_dir=None,
        decode_max_bytes: int = 0,
    ):
        self.time_limit = time_limit
        self.decode_max_bytes = decode_max_bytes
        self.memory_limit = memory_limit
        self._own_dir = log_dir is None
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="spdl-fuzz-"))
        self.restarts = 0
        self._proc = None
        self._conn = None
        self._log_path: Path | None = None

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._log_path = self.log_dir / f"worker-{self.restarts}.log"
        options = {
            "log_path": str(self._log_path),
            "memory_limit": self.memory_limit,
            "time_limit": self.time_limit,
            "root": str(corpus.ROOT),
            "tmpdir": str(self.log_dir),
            "decode_max_bytes": self.decode_max_bytes,
        }
        from . import worker

        self._proc = ctx.Process(target=worker.serve, args=(child, options), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        # Importing spdl and NumPy in a fresh interpreter: generous, and never charged to an input.
        if not parent.poll(120):
            self.close()
            raise RuntimeError(f"fuzz worker did not start; see {self._log_path}")
        try:
            parent.recv_bytes()
        except EOFError:
            raise RuntimeError(f"fuzz worker died while starting; see {self._log_path}") from None

    def _log_tail(self, limit: int = 6000) -> str:
        try:
            return self._log_path.read_bytes()[-limit:].decode(errors="replace")
        except OSError:
            return ""

    def run(self, target: str, form: str, data: bytes, *, suffix: str = "", index=None) -> dict:
        """Run one input; returns the worker's answer or a ``crash``/``hang`` verdict."""
        if self._proc is None:
            self._start()
        header = {"target": target, "form": form, "suffix": suffix, "index": index}
        t0 = time.perf_counter()
        try:
            self._conn.send_bytes(json.dumps(header).encode())
            self._conn.send_bytes(data)
            if self._conn.poll(self.time_limit):
                return json.loads(self._conn.recv_bytes())
            verdict = {"outcome": "hang", "error": f"no result after {self.time_limit} s"}
            time.sleep(0.2)  # let the worker's faulthandler write where it is stuck
        except (EOFError, OSError, BrokenPipeError):
            self._proc.join(5)
            code = self._proc.exitcode
            verdict = {"outcome": "crash", "error": f"worker exit code {code}", "exit_code": code}
        verdict["seconds"] = time.perf_counter() - t0
        verdict["log_tail"] = self._log_tail()
        self.close()
        self.restarts += 1
        return verdict

    def close(self) -> None:
        """Stop the worker (kill it if it does not exit at once)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            self._proc.join(1)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(5)
            self._proc = None

    def shutdown(self) -> None:
        """Stop the worker and delete its logs and temporary files."""
        self.close()
        if self._own_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)


@dataclass
class Report:
    """What a campaign did: inputs per target and verdict, findings, extremes."""

    seed: int
    inputs: int = 0
    seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    per_target: dict = field(default_factory=dict)
    error_types: Counter = field(default_factory=Counter)
    findings: list = field(default_factory=list)
    signatures: Counter = field(default_factory=Counter)
    preflight: dict = field(default_factory=dict)
    slowest: tuple = (0.0, None)
    largest_output: tuple = (0, None)
    max_rss_kb: int = 0
    restarts: int = 0

    @property
    def bad(self) -> int:
        return sum(self.outcomes[v] for v in BAD)

    def as_dict(self) -> dict:
        return {
            "seed": self.seed,
            "inputs": self.inputs,
            "seconds": round(self.seconds, 1),
            "inputs_per_second": round(self.inputs / self.seconds, 1) if self.seconds else 0,
            "outcomes": dict(self.outcomes),
            "per_target": {k: dict(v) for k, v in self.per_target.items()},
            "media_error_types": dict(self.error_types.most_common()),
            "bad": self.bad,
            "finding_signatures": dict(self.signatures),
            "findings_saved": self.findings,
            "preflight": self.preflight,
            "slowest_input_s": round(self.slowest[0], 3),
            "slowest_input": self.slowest[1],
            "largest_output_bytes": self.largest_output[0],
            "largest_output_input": self.largest_output[1],
            "worker_max_rss_mb": round(self.max_rss_kb / 1024, 1),
            "worker_restarts": self.restarts,
        }


def _signature(target: str, verdict: dict) -> str:
    """Groups findings that are one bug: verdict, target, exception type and innermost frame."""
    where = ""
    tb = verdict.get("traceback") or ""
    frames = [ln.strip() for ln in tb.splitlines() if ln.strip().startswith("File ")]
    if frames:
        where = frames[-1]
    return f"{verdict['outcome']}|{target}|{verdict.get('error_type', '')}|{where}"


def save_finding(folder: Path, target: str, form: str, suffix: str, data: bytes, meta: dict):
    """Write the input and what happened to it; returns the path of the ``.bin``."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:12]
    stem = folder / f"{meta['outcome']}-{target}-{digest}"
    stem.with_suffix(".bin").write_bytes(data)
    info = {**meta, "target": target, "form": form, "suffix": suffix, "size": len(data)}
    stem.with_suffix(".json").write_text(json.dumps(info, indent=2, default=str))
    return stem.with_suffix(".bin")


def run_campaign(
    *,
    seed: int = 0,
    max_inputs: int | None = None,
    seconds: float | None = None,
    target_names: list[str] | None = None,
    corpus_dir: str | Path,
    findings_dir: str | Path,
    time_limit: float = 10.0,
    memory_limit: int = 4 << 30,
    blowup_bytes: int = 64 << 20,
    max_saved_per_signature: int = 3,
    progress: float = 0.0,
    targets=None,
) -> Report:
    """Fuzz every available target until ``max_inputs`` or ``seconds`` runs out.

    Input ``i`` of seed ``s`` comes from ``random.Random(f"{s}:{i}")``, so a campaign is the same
    sequence of inputs on every run (on one machine: the seeds come from the local ffmpeg).
    Targets and seed files are taken round-robin; each input picks its source form (bytes,
    memoryview, NumPy array, path) at random.

    Args:
        seed: the campaign seed.
        max_inputs: stop after this many mutated inputs.
        seconds: stop after this long (wall clock).
        target_names: restrict to these targets (default: all ``targets.available()``).
        corpus_dir: where the seed files are made and cached.
        findings_dir: where findings are saved.
        time_limit: seconds per input before it is a hang.
        memory_limit: the worker's address-space cap, bytes.
        blowup_bytes: an output larger than this is a finding.
        max_saved_per_signature: inputs kept per distinct finding (all are counted).
        progress: print a progress line every this many seconds (0: never).
        targets: explicit ``Target`` objects (the harness's own tests pass selftests here).

    Returns:
        The campaign's ``Report``; also written to ``findings_dir/summary.json``.
    """
    if max_inputs is None and seconds is None:
        raise ValueError("give max_inputs or seconds (or both)")
    if targets is None:
        from . import targets as targets_mod

        targets = targets_mod.available(target_names)
    if not targets:
        raise RuntimeError("no fuzz target is available in the installed spdl.io")
    seeds = corpus.build(corpus_dir)
    findings_dir = Path(findings_dir)
    pairs = [(t, name) for t in targets for name, (kind, _) in seeds.items() if kind in t.kinds]
    others = [data for _, data in seeds.values()]
    report = Report(seed=seed)
    runner = Runner(time_limit=time_limit, memory_limit=memory_limit, decode_max_bytes=blowup_bytes)
    t_start = time.monotonic()
    last_progress = t_start

    def judge(target, name, form, data, verdict, meta) -> None:
        out = verdict.get("output_bytes", 0)
        if verdict["outcome"] == "ok" and out > blowup_bytes:
            verdict["outcome"] = "blowup"
            verdict["error"] = f"{len(data)} input bytes made {out} output bytes"
        if verdict["outcome"] == "media_error":
            report.error_types[verdict.get("error_type", "?")] += 1
        if verdict["outcome"] in BAD:
            sig = _signature(target.name, verdict)
            report.signatures[sig] += 1
            if report.signatures[sig] <= max_saved_per_signature:
                path = save_finding(
                    findings_dir,
                    target.name,
                    form,
                    Path(name).suffix,
                    data,
                    {**meta, **verdict, "signature": sig},
                )
                report.findings.append(str(path))

    try:
        # Preflight: each unmutated seed through each target. A target that fails on valid media
        # is broken (or its API changed), and would otherwise drown the campaign in findings.
        for target, name in pairs:
            data = seeds[name][1]
            verdict = runner.run(target.name, "bytes", data, suffix=Path(name).suffix, index=-1)
            report.preflight[f"{target.name}/{name}"] = verdict["outcome"]
            if verdict["outcome"] != "ok":
                judge(target, name, "bytes", data, verdict, {"seed_file": name, "preflight": True})
        i = 0
        while True:
            if max_inputs is not None and i >= max_inputs:
                break
            now = time.monotonic()
            if seconds is not None and now - t_start >= seconds:
                break
            if progress and now - last_progress >= progress:
                last_progress = now
                print(
                    f"[fuzz] {i} inputs, {now - t_start:.0f} s, {dict(report.outcomes)}", flush=True
                )
            rng = random.Random(f"{seed}:{i}")
            target, name = pairs[i % len(pairs)]
            data, applied = mutators.mutate(seeds[name][1], rng, others=others)
            form = rng.choice(FORMS)
            verdict = runner.run(target.name, form, data, suffix=Path(name).suffix, index=i)
            meta = {"seed": seed, "index": i, "seed_file": name, "mutations": applied}
            judge(target, name, form, data, verdict, meta)
            report.outcomes[verdict["outcome"]] += 1
            per = report.per_target.setdefault(target.name, Counter())
            per[verdict["outcome"]] += 1
            secs = verdict.get("seconds", 0.0)
            if secs > report.slowest[0]:
                report.slowest = (secs, meta)
            out = verdict.get("output_bytes", 0)
            if out > report.largest_output[0]:
                report.largest_output = (out, {**meta, "input_bytes": len(data)})
            report.max_rss_kb = max(report.max_rss_kb, verdict.get("max_rss_kb", 0))
            i += 1
        report.inputs = i
    finally:
        runner.shutdown()
        report.restarts = runner.restarts
        report.seconds = time.monotonic() - t_start
        findings_dir.mkdir(parents=True, exist_ok=True)
        (findings_dir / "summary.json").write_text(
            json.dumps(report.as_dict(), indent=2, default=str)
        )
    return report


def reproduce(path: str | Path, *, time_limit: float = 30.0) -> dict:
    """Replay a saved finding (``.bin`` with its ``.json``) in a fresh worker; returns its verdict."""
    path = Path(path)
    info = json.loads(path.with_suffix(".json").read_text())
    runner = Runner(time_limit=time_limit)
    try:
        return runner.run(info["target"], info["form"], path.read_bytes(), suffix=info["suffix"])
    finally:
        runner.shutdown()
