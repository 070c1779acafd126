"""Thread-safety soak: mixed demux, decode and convert on shared inputs from many threads at once.

Every operation is first run once on one thread to get its reference result (a SHA-1 of the output
array with its shape and dtype). Then ``threads`` threads pick operations at random for
``seconds`` and compare each result with the reference. Inputs are shared: the same ``bytes``
objects, and the same demuxed packet objects decoded by several threads at once. Any difference,
any exception, or a thread that does not finish is a failure.

    python -m fuzz.soak --seconds 600 --threads 8      # make soak SECONDS=600
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import corpus

# Larger than the fuzz seeds, so a decode spans many packets and threads truly overlap in native
# code; still small enough for thousands of operations a minute.
SOAK_MEDIA = (
    corpus.Seed(
        "soak_h264.mp4",
        "video",
        "video",
        (
            ("width", 160),
            ("height", 120),
            ("rate", 25),
            ("duration", 2.0),
            ("extra", ("-bf", "2", "-g", "12")),
        ),
    ),
    corpus.Seed(
        "soak_vp9.webm",
        "video",
        "video",
        (
            ("width", 96),
            ("height", 64),
            ("rate", 25),
            ("duration", 1.0),
            ("codec", "libvpx-vp9"),
            ("extra", ("-g", "10", "-deadline", "realtime")),
        ),
    ),
    corpus.Seed(
        "soak.jpg", "image", "image", (("width", 200), ("height", 150), ("pix_fmt", "yuvj420p"))
    ),
    corpus.Seed("soak.png", "image", "image", (("width", 120), ("height", 90))),
    corpus.Seed("soak.m4a", "audio", "audio", (("duration", 2.0), ("codec", "aac"))),
    corpus.Seed("soak.flac", "audio", "audio", (("duration", 1.0), ("num_channels", 1))),
)


def _digest(arr) -> str:
    import numpy as np

    a = np.ascontiguousarray(arr)
    h = hashlib.sha1(a.tobytes())
    h.update(f"{a.shape}{a.dtype}".encode())
    return h.hexdigest()


@dataclass
class Op:
    """One operation on one input: ``fn()`` returns an array."""

    name: str
    fn: Callable[[], object]
    reference: str = ""


def build_ops(media: dict[str, tuple[str, bytes]], paths: dict[str, str]) -> list[Op]:
    """Every operation the installed ``spdl.io`` supports, on every input of the right kind."""
    import numpy as np

    import spdl.io as io

    ops: list[Op] = []
    has = lambda *names: all(hasattr(io, n) for n in names)  # noqa: E731
    convert = has("convert_frames", "to_numpy", "decode_packets")
    for name, (kind, data) in media.items():
        forms = {"bytes": data, "numpy": np.frombuffer(data, np.uint8), "path": paths[name]}
        for form, src in forms.items():
            if has(f"load_{kind}", "to_numpy"):
                load = getattr(io, f"load_{kind}")
                ops.append(
                    Op(f"load_{kind}:{form}:{name}", lambda s=src, f=load: io.to_numpy(f(s)))
                )
            if has(f"demux_{kind}") and convert:
                demux = getattr(io, f"demux_{kind}")
                ops.append(
                    Op(
                        f"demux_decode:{form}:{name}",
                        lambda s=src, d=demux: io.to_numpy(
                            io.convert_frames(io.decode_packets(d(s)))
                        ),
                    )
                )
        if not (has(f"demux_{kind}") and convert):
            continue
        demux = getattr(io, f"demux_{kind}")
        # Packets demuxed once and decoded by every thread: shared native objects.
        shared = demux(data)
        ops.append(
            Op(
                f"decode_shared_packets:{name}",
                lambda p=shared: io.to_numpy(io.convert_frames(io.decode_packets(p))),
            )
        )
        if kind != "image":  # native image formats include big-endian ones convert refuses
            ops.append(
                Op(
                    f"decode_native_then_convert:{name}",
                    lambda p=shared: io.to_numpy(
                        io.convert_frames(io.decode_packets(p, filter_desc=None))
                    ),
                )
            )
        if kind in ("video", "image") and has("get_video_filter_desc"):
            desc = io.get_video_filter_desc(scale_width=64, scale_height=48, pix_fmt="rgb24")
            ops.append(
                Op(
                    f"decode_scaled:{name}",
                    lambda p=shared, fd=desc: io.to_numpy(
                        io.convert_frames(io.decode_packets(p, filter_desc=fd))
                    ),
                )
            )
        if kind == "audio" and has("get_audio_filter_desc"):
            desc = io.get_audio_filter_desc(sample_rate=8000, sample_fmt="s16")
            ops.append(
                Op(
                    f"decode_resampled:{name}",
                    lambda p=shared, fd=desc: io.to_numpy(
                        io.convert_frames(io.decode_packets(p, filter_desc=fd))
                    ),
                )
            )
        if kind == "image" and has("load_image_batch"):
            ops.append(
                Op(
                    f"load_image_batch:{name}",
                    lambda p=paths[name]: io.to_numpy(
                        io.load_image_batch([p, p, p], width=32, height=24)
                    ),
                )
            )
    return ops


@dataclass
class SoakReport:
    threads: int
    seconds: float = 0.0
    operations: int = 0
    per_op: Counter = field(default_factory=Counter)
    mismatches: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    stuck_threads: int = 0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.errors and not self.stuck_threads

    def as_dict(self) -> dict:
        return {
            "threads": self.threads,
            "seconds": round(self.seconds, 1),
            "operations": self.operations,
            "operations_per_second": round(self.operations / max(self.seconds, 1e-9), 1),
            "distinct_operations": len(self.per_op),
            "mismatches": self.mismatches[:20],
            "errors": self.errors[:20],
            "stuck_threads": self.stuck_threads,
            "rss_start_mb": round(self.rss_start_mb, 1),
            "rss_end_mb": round(self.rss_end_mb, 1),
        }


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return 0.0


def run_soak(
    *, seconds: float, threads: int = 8, seed: int = 0, media_dir: str | Path | None = None
) -> SoakReport:
    """Run the soak; see the module docstring.

    Args:
        seconds: how long the threads run (wall clock).
        threads: how many threads run operations at once.
        seed: seeds each thread's choice of operations (``seed``, thread index).
        media_dir: where the soak media is made (default: a temporary folder).

    Returns:
        A ``SoakReport``; ``ok`` is true when every result matched its single-threaded reference.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(media_dir or tmp)
        media = corpus.build(folder, SOAK_MEDIA + corpus.SEEDS)
        paths = {name: str(folder / name) for name in media}
        ops = build_ops(media, paths)
        if not ops:
            raise RuntimeError("the installed spdl.io has no demux/decode/convert entry points")
        for op in ops:  # single-threaded references
            op.reference = _digest(op.fn())
        report = SoakReport(threads=threads, rss_start_mb=_rss_mb())
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def work(index: int) -> None:
            rng = random.Random(f"{seed}:{index}")
            counts: Counter = Counter()
            while time.monotonic() < deadline:
                op = rng.choice(ops)
                try:
                    got = _digest(op.fn())
                except Exception as e:  # any exception on valid media is a failure
                    with lock:
                        report.errors.append(f"{op.name}: {type(e).__name__}: {e}")
                    continue
                counts[op.name] += 1
                if got != op.reference:
                    with lock:
                        report.mismatches.append(op.name)
            with lock:
                report.per_op.update(counts)

        t0 = time.monotonic()
        workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            # A single operation takes well under a second; a minute past the end is a hang.
            w.join(max(0.0, deadline - time.monotonic()) + 60)
        report.stuck_threads = sum(w.is_alive() for w in workers)
        report.seconds = time.monotonic() - t0
        report.operations = sum(report.per_op.values())
        report.rss_end_mb = _rss_mb()
        return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m fuzz.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    report = run_soak(seconds=args.seconds, threads=args.threads, seed=args.seed)
    print(json.dumps(report.as_dict(), indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
