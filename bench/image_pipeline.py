"""Benchmark 1: ImageNet-like JPEGs decoded, resized to 224x224 RGB and batched by 32.

Every loader does the same job on the same files: read a JPEG (about 107 KB, around 500x375),
decode it, stretch it to 224x224 RGB with a bilinear filter, and stack 32 of them into one
(32, 224, 224, 3) uint8 array that reaches the consuming (main) thread. Contenders:

- ``spdl``           ours: ``spdl.io.load_image_batch`` per batch, run by ``spdl.pipeline`` with
                     N threads (by ``concurrent.futures`` threads if the pipeline is missing).
- ``spdl-fast``      ours with ``scale_algo="fast_bilinear"``: two taps, no antialiasing, the
                     same kind of filter as OpenCV's INTER_LINEAR (a like-for-like line).
- ``spdl-packed``    ours with the planar twins off (``_image_batch.use_twins(False)``):
                     swscale's own packed rgb24 output, same bytes; what the twins buy.
- ``spdl-lavc``      ours with every JPEG decoded by libavcodec's mjpeg decoder
                     (``_image_batch.use_fast_jpeg(False)``): same bytes; what our own scan
                     decoding (``spdl/_ext/jpeg_scan.h``) buys.
- ``spdl-gil-held``  the same as ``spdl``, from a build with ``-Drelease_gil=false``
                     (``--gil-held``).
- ``spdl-0.8.0``     the real spdl from PyPI, its ``load_image_batch`` with the same filter
                     (``scale=224:224:flags=bilinear``) in its own ``PipelineBuilder``.
- ``pil-processes``  Pillow in a pool of N processes (fork), batches pickled back to the main
                     process: what PyTorch's DataLoader with N workers does.
- ``pil-threads``    Pillow in N threads.
- ``opencv-threads`` OpenCV (``cv2.imread`` + ``cv2.resize`` INTER_LINEAR) in N threads, with
                     OpenCV's own thread pool off so N threads means N cores.

Each contender runs in its own fresh process (peers from ``bench/.venvs/``), checks its first
batch (spdl's bytes must equal the ``ffmpeg`` command line's; Pillow's and OpenCV's must be close
to them: same picture, their own filters), warms up, then times whole passes over the folder
while sampling the peak RSS of its process tree. Rounds alternate the contenders so that they
share the machine's noise; ratios are taken within each round.

Usage::

    python bench/image_pipeline.py                      # 2 threads, all contenders
    python bench/image_pipeline.py --threads 4,8,16     # scaling (benchmark 4, a 16-core box)
    python bench/image_pipeline.py --gil-held           # adds the GIL-held build (benchmark 3)
    python bench/image_pipeline.py --gil-held --consumer  # ... with a Python thread running too
    python bench/image_pipeline.py --only spdl,spdl-0.8.0 --rounds 5
    python bench/image_pipeline.py --lowres-study       # jpeg_lowres: speed and accuracy
    python bench/image_pipeline.py --chroma 420         # the same pictures as 4:2:0 JPEGs

The default folder holds 4:4:4 JPEGs (what the ``ffmpeg`` command line's mjpeg encoder makes of
RGB pictures); ``--chroma 420`` makes and uses a second folder with the same pictures as 4:2:0,
the layout libjpeg writes by default.

Writes ``bench/results/image_pipeline.json`` (``image_pipeline_420.json`` with ``--chroma 420``;
``--out`` to change).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h

ROOT = h.BENCH_DIR.parent
DATA = h.BENCH_DIR / ".data" / "imagenet_like"
BATCH = 32
SIZE = 224
# ImageNet's commonest sizes; each gets an equal share of the folder.
SIZES = [(500, 375), (500, 333), (375, 500), (500, 400), (400, 300), (500, 357), (333, 500)]
CONTENDERS = [
    "spdl", "spdl-fast", "spdl-packed", "spdl-lavc", "spdl-0.8.0", "pil-processes",
    "pil-threads", "opencv-threads",
]  # fmt: skip
GIL_HELD = "spdl-gil-held"


# --- data ---------------------------------------------------------------------------------------


def make_images(count: int, chroma: str = "444") -> list[Path]:
    """``count`` JPEGs under bench/.data/imagenet_like, made once by the ffmpeg command line.

    Content: frames of a zooming Mandelbrot with film-grain noise (fixed seeds), encoded at
    qscale 3, which lands at about 107 KB for 500x375 in 4:4:4, like ImageNet's photos.
    ``chroma="420"``: the same frames with chroma halved both ways (yuvj420p).
    """
    folder = DATA / (f"n{count}" if chroma == "444" else f"n{count}_{chroma}")
    pix_fmt = ["-pix_fmt", "yuvj420p"] if chroma == "420" else []
    stamp = folder / ".complete"
    if stamp.exists():
        return sorted(folder.glob("*.JPEG"))
    folder.mkdir(parents=True, exist_ok=True)
    per_size = -(-count // len(SIZES))
    made = 0
    for k, (w, h_) in enumerate(SIZES):
        n = min(per_size, count - made)
        if n <= 0:
            break
        source = (
            f"mandelbrot=size={w}x{h_}:rate=25:end_scale=0.001:start_x=-0.7{k}:start_y=-0.2{k},"
            f"noise=alls=14:allf=t:all_seed={k + 1}"
        )
        subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
             "-i", source, *pix_fmt, "-frames:v", str(n), "-q:v", "3",
             "-start_number", str(made),
             "-y", str(folder / "img_%05d.JPEG")],
            check=True,
        )  # fmt: skip
        made += n
    stamp.write_text(str(count))
    return sorted(folder.glob("*.JPEG"))


def reference(path: Path, algo: str = "bilinear") -> bytes:
    """What ``ffmpeg -vf scale=224:224:flags=ALGO,format=rgb24`` gives for ``path``."""
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-vf",
         f"scale={SIZE}:{SIZE}:flags={algo},format=rgb24", "-f", "rawvideo", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip


# --- contenders (run in the child process) --------------------------------------------------


def _pil_batch(paths):
    import numpy as np
    from PIL import Image

    out = np.empty((len(paths), SIZE, SIZE, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            out[i] = np.asarray(im.convert("RGB").resize((SIZE, SIZE), Image.BILINEAR))
    return out


def _cv2_batch(paths):
    import cv2
    import numpy as np

    out = np.empty((len(paths), SIZE, SIZE, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        small = cv2.resize(bgr, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
        cv2.cvtColor(small, cv2.COLOR_BGR2RGB, dst=out[i])
    return out


def _spdl_batch(paths):
    import spdl.io

    if _REAL_SPDL:
        buffer = spdl.io.load_image_batch(
            paths, width=SIZE, height=SIZE, pix_fmt="rgb24",
            filter_desc=f"scale=w={SIZE}:h={SIZE}:flags=bilinear,format=pix_fmts=rgb24",
        )  # fmt: skip
    else:
        buffer = spdl.io.load_image_batch(paths, width=SIZE, height=SIZE, scale_algo=_ALGO)
    return spdl.io.to_numpy(buffer)


_REAL_SPDL = False
_ALGO = "bilinear"


def _is_real_spdl() -> bool:
    import spdl.io

    return "demux_config" in spdl.io.load_image_batch.__code__.co_varnames


class Runner:
    """Yields the batches of one pass; set up once (pools, pipelines), reused for every pass."""

    def __init__(self, impl: str, threads: int):
        self.impl = impl
        self.threads = threads
        self.pool = None
        self.fn = {"pil": _pil_batch, "opencv": _cv2_batch, "spdl": _spdl_batch}[impl.split("-")[0]]
        if impl == "pil-processes":
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(threads, mp_context=multiprocessing.get_context("fork"))
            self.kind = f"ProcessPoolExecutor({threads}, fork)"
        elif impl.startswith("spdl") and self._has_pipeline():
            self.kind = f"spdl.pipeline, {threads} threads"
        else:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(threads)
            self.kind = f"concurrent.futures.ThreadPoolExecutor({threads})"
        if impl == "opencv-threads":
            import cv2

            cv2.setNumThreads(1)

    @staticmethod
    def _has_pipeline() -> bool:
        try:
            from spdl.pipeline import PipelineBuilder  # noqa: F401
        except ImportError:
            return False
        return True

    def batches(self, batches):
        if self.pool is not None:
            yield from self.pool.map(self.fn, batches)
            return
        from spdl.pipeline import PipelineBuilder

        pipeline = (
            PipelineBuilder()
            .add_source(batches)
            .pipe(self.fn, concurrency=self.threads)
            .add_sink(self.threads + 1)
            .build(num_threads=self.threads)
        )
        with pipeline.auto_stop():
            yield from pipeline

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()


def _versions(impl: str) -> dict[str, str]:
    from importlib.metadata import version

    names = {"pil": ["Pillow"], "opencv": ["opencv-python-headless"], "spdl": ["spdl"]}
    out = {}
    for name in names[impl.split("-")[0]] + ["numpy"]:
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "?"
    return out


class Consumer:
    """A pure-Python thread beside the loaders: what a training loop's Python side gets.

    It counts iterations of a small interpreted loop (dict and list work, no native calls) for
    as long as it runs. ``rate`` is iterations per second; ``share`` is that rate over the same
    loop's rate measured alone in this process before the loaders start, so 1.0 means the
    loaders cost the Python thread nothing and 0 means it was starved (the GIL never free).
    """

    def __init__(self):
        self.alone = self._rate(0.3)
        self.stop = False
        self.count = 0
        self.t0 = self.t1 = 0.0
        import threading

        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _step(d, lst):
        d[len(lst) % 97] = len(lst)
        lst.append(d.get(3, 0))
        if len(lst) > 64:
            lst.clear()

    def _rate(self, seconds):
        d, lst, n = {}, [], 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for _ in range(100):
                self._step(d, lst)
            n += 100
        return n / seconds

    def _run(self):
        d, lst = {}, []
        self.t0 = time.perf_counter()
        while not self.stop:
            for _ in range(100):
                self._step(d, lst)
            self.count += 100
        self.t1 = time.perf_counter()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()

    def result(self):
        rate = self.count / max(self.t1 - self.t0, 1e-9)
        return {"alone_per_s": self.alone, "rate_per_s": rate, "share": rate / self.alone}


def child(args) -> None:
    """Measure one contender in this process and write its JSON."""
    global _REAL_SPDL, _ALGO
    import numpy as np

    _ALGO = "fast_bilinear" if args.impl == "spdl-fast" else "bilinear"
    if args.impl == "spdl-packed":
        from spdl._ext import _image_batch

        _image_batch.use_twins(False)
    if args.impl == "spdl-lavc":
        from spdl._ext import _image_batch

        _image_batch.use_fast_jpeg(False)

    paths = [str(p) for p in sorted(Path(args.images).glob("*.JPEG"))]
    batches = [paths[i : i + BATCH] for i in range(0, len(paths), BATCH)]
    if args.impl.startswith("spdl"):
        _REAL_SPDL = _is_real_spdl()
        if (args.impl == "spdl-0.8.0") != _REAL_SPDL:
            raise SystemExit(
                f"{args.impl}: imported the wrong spdl ({__import__('spdl').__file__})"
            )
    runner = Runner(args.impl, args.threads)
    try:
        # Check the output before timing anything.
        first = next(iter(runner.batches(batches[:1])))
        assert first.shape == (len(batches[0]), SIZE, SIZE, 3) and first.dtype == np.uint8
        want = np.frombuffer(reference(Path(paths[0]), _ALGO), np.uint8).reshape(SIZE, SIZE, 3)
        diff = float(np.abs(first[0].astype(np.int16) - want).mean())
        if args.impl.startswith("spdl"):
            assert diff == 0, f"{args.impl}: differs from ffmpeg's scale filter (mean {diff})"
        else:
            assert diff < 12, f"{args.impl}: not the same picture as ffmpeg's (mean diff {diff})"

        def one_pass() -> int:
            n = 0
            for batch in runner.batches(batches):
                n += batch.shape[0]
            return n

        one_pass()  # warm-up: page cache, decoders, pools
        rates = []
        consumer = Consumer() if args.consumer else None
        cpu0 = h.cpu_seconds()
        with h.PeakRSS() as rss, consumer or contextlib.nullcontext():
            for _ in range(args.runs):
                t0 = time.perf_counter()
                n = one_pass()
                rates.append(n / (time.perf_counter() - t0))
                if n != len(paths):
                    raise SystemExit(f"{args.impl}: a pass loaded {n} of {len(paths)} images")
        rate = {**h.summarize(rates), "unit": "img/s", "samples": rates}
        cpu_ms = (h.cpu_seconds() - cpu0) * 1e3 / (len(paths) * args.runs)
    finally:
        runner.close()
    result = {
        "impl": args.impl,
        "threads": args.threads,
        "runner": runner.kind,
        "rate": rate,
        "peak_rss_bytes": rss.peak,
        "cpu_ms_per_image": cpu_ms,
        "mean_abs_diff_vs_ffmpeg": diff,
        "versions": _versions(args.impl),
    }
    if consumer is not None:
        result["consumer"] = consumer.result()
    if args.impl.startswith("spdl") and not _REAL_SPDL:
        from spdl.io import utils

        result["release_gil"] = utils.get_build_config()["release_gil"]
    h.write_json(args.json_out, result)


# --- interpreters ---------------------------------------------------------------------------


def _source_digest() -> str:
    """Changes whenever the checkout's sources do (HEAD plus uncommitted edits)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--", "spdl", "meson.build", "meson.options", "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
    )
    return hashlib.sha256(head.stdout.encode() + diff.stdout).hexdigest()[:16]


def gil_held_python() -> Path:
    """``bench/.venvs/spdl-gil-held``: this checkout built with ``-Drelease_gil=false``."""
    venv = h.VENVS / GIL_HELD
    python = venv / "bin" / "python"
    stamp = venv / ".source"
    digest = _source_digest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    print(f"[bench] building the GIL-held spdl into {venv}", file=sys.stderr)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "meson-python>=0.15", "meson>=1.1", "ninja", "Cython>=3.0.8", "numpy>=1.24",
         "psutil"],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [*pip, "--no-build-isolation", "--force-reinstall", "--no-deps",
         "-Csetup-args=-Drelease_gil=false", f"-Cbuild-dir={venv / 'build'}", str(ROOT)],
        check=True,
    )  # fmt: skip
    stamp.write_text(digest)
    return python


def interpreter(impl: str) -> Path:
    if impl in ("spdl", "spdl-fast", "spdl-packed", "spdl-lavc"):
        return Path(sys.executable)
    if impl == GIL_HELD:
        return gil_held_python()
    if impl == "spdl-0.8.0":
        return h.peer_python("spdl-0.8.0", (*h.REAL_SPDL, "psutil"))
    return h.peer_python("media-peers", h.MEDIA_PEERS)


# --- the lowres study ----------------------------------------------------------------------

LOWRES_SIZES = [(1024, 768), (1600, 1200), (2048, 1536)]


def lowres_study(args) -> None:
    """What ``jpeg_lowres=True`` buys and costs on photos larger than ImageNet's.

    For each size, 64 JPEGs go through ``load_image_batch`` (one thread, 224x224 bilinear) with
    and without the DCT-domain downscale: images per second, and how far the lowres output is
    from the full-size decode (PSNR in dB over all pixels, and the largest byte difference).
    """
    import numpy as np

    import spdl.io

    study: dict[str, dict] = {}
    speed: dict[str, dict] = {}
    for w, h_ in LOWRES_SIZES:
        folder = DATA / f"large_{w}x{h_}"
        stamp = folder / ".complete"
        if not stamp.exists():
            folder.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
                 "-i", f"mandelbrot=size={w}x{h_}:rate=25:end_scale=0.001,"
                 "noise=alls=14:allf=t:all_seed=3",
                 "-frames:v", "64", "-q:v", "3", "-y", str(folder / "img_%05d.JPEG")],
                check=True,
            )  # fmt: skip
            stamp.write_text("64")
        paths = [str(p) for p in sorted(folder.glob("*.JPEG"))]
        label = f"{w}x{h_}"

        def load(lowres: bool, paths=paths):
            return spdl.io.to_numpy(
                spdl.io.load_image_batch(paths, width=SIZE, height=SIZE, jpeg_lowres=lowres)
            )

        full, small = load(False), load(True)
        err = (full.astype(np.float64) - small) ** 2
        psnr = 10 * np.log10(255.0**2 / err.mean())
        study[label] = {
            "psnr_db": round(float(psnr), 2),
            "max_abs_diff": int(np.abs(full.astype(int) - small).max()),
            "mean_abs_diff": round(float(np.abs(full.astype(int) - small).mean()), 3),
        }
        rates: dict[str, list[float]] = {"full decode": [], "jpeg_lowres": []}
        for _ in range(args.runs):
            for name, flag in (("full decode", False), ("jpeg_lowres", True)):
                t0 = time.perf_counter()
                load(flag)
                rates[name].append(len(paths) / (time.perf_counter() - t0))
        speed[f"images per second, {label} to {SIZE}x{SIZE}, 1 thread"] = {
            k: {**h.summarize(v), "unit": "img/s"} for k, v in rates.items()
        }
        f, lr = (statistics.median(rates[k]) for k in ("full decode", "jpeg_lowres"))
        print(
            f"{label}: full {f:.0f} img/s, lowres {lr:.0f} img/s ({lr / f:.2f}x), "
            f"PSNR {psnr:.1f} dB, max diff {study[label]['max_abs_diff']}",
            file=sys.stderr,
        )
    out = h.write_json(
        Path(args.out).with_name("image_lowres.json"),
        {"benchmark": "image_lowres", "throughput": speed, "accuracy": study},
    )
    print(f"[bench] wrote {out}", file=sys.stderr)


# --- the parent ---------------------------------------------------------------------------


def _ratio_table(rounds: list[dict[str, float]], ours: str) -> dict[str, dict]:
    """Per-round ratio of ``ours`` over every other contender, summarized over rounds."""
    out = {}
    for other in rounds[0]:
        if other == ours:
            continue
        ratios = [r[ours] / r[other] for r in rounds if ours in r and other in r]
        if ratios:
            out[other] = {**h.summarize(ratios), "unit": "x"}
    return out


def parent(args) -> None:
    images = make_images(args.images, args.chroma)
    impls = args.only.split(",") if args.only else list(CONTENDERS)
    if args.gil_held and GIL_HELD not in impls:
        impls.insert(1, GIL_HELD)
    for impl in impls:
        if impl not in [*CONTENDERS, GIL_HELD]:
            raise SystemExit(f"unknown contender {impl!r}; known: {[*CONTENDERS, GIL_HELD]}")
    pythons = {impl: interpreter(impl) for impl in impls}
    sizes = [p.stat().st_size for p in images]
    print(
        f"[bench] {len(images)} JPEGs ({args.chroma}), mean {statistics.mean(sizes) / 1e3:.0f} KB, "
        f"contenders {impls}, threads {args.threads}",
        file=sys.stderr,
    )
    throughput: dict[str, dict] = {}
    memory: dict[str, dict] = {}
    cost: dict[str, dict] = {}
    ratios: dict[str, dict] = {}
    details: dict[str, dict] = {}
    consumers: dict[str, dict] = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        label = f"{threads} threads"
        samples: dict[str, list[float]] = {impl: [] for impl in impls}
        rss: dict[str, list[float]] = {impl: [] for impl in impls}
        cpu: dict[str, list[float]] = {impl: [] for impl in impls}
        share: dict[str, list[float]] = {impl: [] for impl in impls}
        rounds: list[dict[str, float]] = []
        for r in range(args.rounds):
            medians = {}
            for impl in impls:
                t0 = time.perf_counter()
                res = h.run_under(
                    pythons[impl],
                    __file__,
                    ["--impl", impl, "--threads", str(threads), "--runs", str(args.runs),
                     "--images", str(images[0].parent), *(["--consumer"] if args.consumer else [])],
                )  # fmt: skip
                samples[impl] += res["rate"]["samples"]
                rss[impl].append(res["peak_rss_bytes"] / 2**20)
                cpu[impl].append(res["cpu_ms_per_image"])
                medians[impl] = res["rate"]["median"]
                if "consumer" in res:
                    share[impl].append(res["consumer"]["share"])
                details.setdefault(label, {})[impl] = {
                    k: res[k] for k in ("runner", "versions", "mean_abs_diff_vs_ffmpeg")
                }
                print(
                    f"[bench] {label} round {r + 1}: {impl:15s} {res['rate']['median']:7.0f} "
                    f"img/s  {res['cpu_ms_per_image']:5.2f} CPU ms/img  "
                    f"peak RSS {res['peak_rss_bytes'] / 2**20:6.0f} MiB "
                    + (f"consumer {res['consumer']['share']:.2f} " if "consumer" in res else "")
                    + f"({time.perf_counter() - t0:.0f} s)",
                    file=sys.stderr,
                )
            rounds.append(medians)
        throughput[f"images per second, {label}"] = {
            impl: {**h.summarize(s), "unit": "img/s"} for impl, s in samples.items()
        }
        memory[f"peak RSS, {label}"] = {
            impl: {**h.summarize(m), "unit": "MiB"} for impl, m in rss.items()
        }
        cost[f"CPU time per image, {label}"] = {
            impl: {**h.summarize(c), "unit": "ms"} for impl, c in cpu.items()
        }
        if args.consumer:
            consumers[f"Python consumer thread's share of its solo rate, {label}"] = {
                impl: {**h.summarize(c), "unit": "x"} for impl, c in share.items() if c
            }
        if "spdl" in impls:
            ratios[f"spdl over each, {label}"] = _ratio_table(rounds, "spdl")
            # CPU cost per image of each contender over ours, round by round.
            per_round = [{i: 1.0 / cpu[i][r] for i in impls} for r in range(args.rounds)]
            ratios[f"CPU cost of each over spdl's, {label}"] = _ratio_table(per_round, "spdl")
    out = h.write_json(
        args.out,
        {
            "benchmark": "image_pipeline",
            "images": len(images),
            "chroma": args.chroma,
            "mean_jpeg_bytes": statistics.mean(sizes),
            "batch": BATCH,
            "size": SIZE,
            "throughput": throughput,
            "memory": memory,
            "cpu": cost,
            "ratios": ratios,
            "consumer": consumers,
            "details": details,
        },
    )
    _print_summary(throughput, memory, cost, ratios)
    for chart, rows in consumers.items():
        print(f"\n{chart}")
        for impl, m in rows.items():
            print(f"  {impl:15s} {m['median']:.2f}  [{m['min']:.2f}-{m['max']:.2f}]")
    print(f"[bench] wrote {out}", file=sys.stderr)


def _print_summary(throughput, memory, cost, ratios) -> None:
    for chart, rows in throughput.items():
        print(f"\n{chart}")
        mem = memory[chart.replace("images per second", "peak RSS")]
        cpu = cost[chart.replace("images per second", "CPU time per image")]
        for impl, m in rows.items():
            print(
                f"  {impl:15s} {m['median']:7.0f} img/s  [{m['min']:.0f}-{m['max']:.0f}]  "
                f"{cpu[impl]['median']:5.2f} CPU ms/img [{cpu[impl]['min']:.2f}-"
                f"{cpu[impl]['max']:.2f}]  peak RSS {mem[impl]['median']:6.0f} MiB"
            )
    for chart, rows in ratios.items():
        print(f"\n{chart}")
        for other, m in rows.items():
            print(f"  vs {other:15s} {m['median']:.2f}x  [{m['min']:.2f}-{m['max']:.2f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="2", help="comma-separated worker counts")
    parser.add_argument("--images", default=512, help="how many JPEGs (a folder in child mode)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all contenders")
    parser.add_argument("--runs", type=int, default=3, help="timed passes per contender per round")
    parser.add_argument("--only", default=None, help="comma-separated contenders")
    parser.add_argument("--gil-held", action="store_true", help="add the GIL-held build")
    parser.add_argument(
        "--consumer",
        action="store_true",
        help="run a pure-Python thread beside the loaders and report how far it gets",
    )
    parser.add_argument(
        "--lowres-study", action="store_true", help="measure jpeg_lowres on large photos instead"
    )
    parser.add_argument(
        "--chroma", choices=["444", "420"], default="444", help="chroma layout of the JPEGs"
    )
    parser.add_argument("--out", default=None, help="the JSON to write")
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.out is None:
        name = (
            "image_pipeline.json" if args.chroma == "444" else f"image_pipeline_{args.chroma}.json"
        )
        args.out = str(h.RESULTS / name)
    if args.impl:
        args.threads = int(args.threads)
        child(args)
    elif args.lowres_study:
        lowres_study(args)
    else:
        args.images = int(args.images)
        parent(args)


if __name__ == "__main__":
    # NumPy's BLAS threads must not spin beside the contenders (set before NumPy loads).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
