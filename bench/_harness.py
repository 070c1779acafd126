"""What every benchmark in bench/ shares: peer environments, timing statistics, JSON output.

Benchmarks are plain scripts. A benchmark that compares against the real ``spdl`` package from
PyPI (which shares our package name) runs *the same script* under a second interpreter: a virtual
environment this module creates under ``bench/.venvs/`` with the peer installed. The script then
imports ``spdl`` and gets the peer. Nothing here imports ``spdl``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS = BENCH_DIR / ".venvs"
RESULTS = BENCH_DIR / "results"

# The peer every benchmark measures against, pinned.
REAL_SPDL = ("spdl==0.8.0",)
# Other media loaders the media benchmarks compare with, in one shared peer venv.
MEDIA_PEERS = ("Pillow", "opencv-python-headless", "av", "numpy", "psutil")


def peer_python(name: str, requirements: Sequence[str]) -> Path:
    """The interpreter of ``bench/.venvs/NAME``, created with ``requirements`` if needed.

    The venv gets its own copy of NumPy and whatever ``requirements`` names; a stamp file with
    the requirement list makes a second call free.
    """
    venv = VENVS / name
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = "\n".join(sorted(requirements))
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"[bench] creating {venv} with {' '.join(requirements)}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
        check=True,
    )
    stamp.write_text(wanted)
    return python


def run_under(python: str | Path, script: str | Path, args: Sequence[str]) -> dict:
    """Run ``python script args --json-out FILE`` and return the JSON it wrote.

    The child runs from a temporary working directory with ``PYTHONPATH`` cleared, so the
    ``spdl`` it imports is the one installed in that interpreter, not this checkout.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        subprocess.run(
            [str(python), str(Path(script).resolve()), *args, "--json-out", str(out)],
            check=True,
            cwd=tmp,
            env=env,
        )
        return json.loads(out.read_text())


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """Median, spread (min, max, interquartile range) and count of a list of measurements."""
    ordered = sorted(samples)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) >= 2 else [ordered[0]] * 3
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "iqr": quartiles[2] - quartiles[0],
        "runs": len(ordered),
    }


def measure(fn: Callable[[], int], *, runs: int = 5, warmup: int = 1) -> dict[str, float]:
    """Call ``fn`` (which returns how many items it processed) and report items per second.

    ``warmup`` calls are made first and not counted. Returns ``summarize`` of the per-run rates
    plus ``items`` (the count of the last run).
    """
    for _ in range(warmup):
        fn()
    rates = []
    items = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        items = fn()
        elapsed = time.perf_counter() - t0
        rates.append(items / elapsed)
    return {**summarize(rates), "items": items, "unit": "items/s"}


def cpu_seconds() -> float:
    """CPU time (user + system, seconds) this process and all its children have used so far.

    Live children (pool workers) are read directly; children that exited and were waited for
    (e.g. command-line tools run with ``subprocess.run``) are in this process's ``children_*``
    times. On a shared, busy machine the CPU cost per item is steadier than wall-clock rates.
    """
    import psutil

    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.Error:
            continue
        total += c.user + c.system
    return total


class PeakRSS:
    """Samples the resident memory of this process and all its children while in a ``with``.

    ``peak`` is the largest sum seen, in bytes; sampling every ``interval`` seconds.
    """

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()


def machine() -> dict[str, object]:
    """Facts about where a result was measured, stored beside it."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "platform": platform.platform(),
    }


def cpu_model() -> str:
    """The CPU's model name (Linux), or the platform's processor string elsewhere.

    Results from different hosts are not comparable, and a shared machine may move between
    hosts from one day to the next; the model name says when that happened.
    """
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` with the machine facts to ``path`` (folders created), return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2))
    return path
