"""Benchmark 2: every frame of H.264 and HEVC clips (1080p, 720p) decoded and converted to rgb24.

The job: decode all frames of a clip with one decoder thread and convert each to packed rgb24
(what a training job feeds on). One thread decodes the files one after the other; two threads
decode two files at once, one each. Contenders:

- ``ffmpeg-cli``  the ``ffmpeg`` command line, ``-threads 1 -filter_threads 1 -i CLIP
                  -vf format=rgb24 -f null -`` (one process per file).
- ``pyav``        PyAV, ``thread_count = 1``, ``frame.to_ndarray(format="rgb24")`` per frame.
- ``spdl-0.8.0``  the real spdl from PyPI: ``demux_video`` + ``decode_packets`` (rgb24 filter,
                  ``threads=1``) + ``convert_frames``, the whole clip at once.
- ``spdl``        ours, streaming: ``Demuxer.streaming_demux`` chunks of 8 packets into one
                  ``Decoder`` (rgb24 filter, one thread), each chunk to one array with
                  ``Decoder.decode_to_buffer``, so memory stays bounded whatever the clip's
                  length.

Each contender runs in its own process; outputs are checked against the ``ffmpeg`` command
line's raw frames before timing; rounds alternate the contenders and ratios are taken within a
round. Peak RSS covers the contender's whole process tree (the CLI's processes included).

Usage::

    python bench/video_decode.py
    python bench/video_decode.py --only spdl,pyav --rounds 5 --seconds 4

Writes ``bench/results/video_decode.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h

DATA = h.BENCH_DIR / ".data" / "video"
CONTENDERS = ["ffmpeg-cli", "pyav", "spdl-0.8.0", "spdl"]
CONFIGS = {  # name: (width, height, encoder, encoder options)
    "1080p h264": (1920, 1080, "libx264", ["-preset", "fast", "-crf", "23"]),
    "720p h264": (1280, 720, "libx264", ["-preset", "fast", "-crf", "23"]),
    "1080p hevc": (1920, 1080, "libx265", ["-preset", "veryfast", "-crf", "26"]),
    "720p hevc": (1280, 720, "libx265", ["-preset", "veryfast", "-crf", "26"]),
}
FILES_PER_CONFIG = 2
RATE = 30


def make_clips(config: str, seconds: float) -> list[Path]:
    """FILES_PER_CONFIG clips of ``config``, made once: testsrc2 with grain (fixed seeds)."""
    w, h_, encoder, options = CONFIGS[config]
    folder = DATA / f"{config.replace(' ', '_')}_{seconds:g}s"
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for k in range(FILES_PER_CONFIG):
        path = folder / f"clip{k}.mp4"
        if not path.exists():
            tmp = path.with_suffix(".tmp.mp4")
            source = (
                f"testsrc2=size={w}x{h_}:rate={RATE}:duration={seconds},"
                f"noise=alls=6:allf=t:all_seed={k + 1},hue=h={40 * k}"
            )
            subprocess.run(
                ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
                 "-i", source, "-c:v", encoder, *options, "-pix_fmt", "yuv420p",
                 "-x265-params", "log-level=error", "-y", str(tmp)]
                if encoder == "libx265" else
                ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
                 "-i", source, "-c:v", encoder, *options, "-pix_fmt", "yuv420p", "-y", str(tmp)],
                check=True,
            )  # fmt: skip
            tmp.rename(path)
        clips.append(path)
    return clips


def reference_frames(path: Path, count: int) -> bytes:
    """The first ``count`` frames as the ``ffmpeg`` command line converts them to rgb24."""
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-threads", "1", "-i", str(path),
         "-frames:v", str(count), "-vf", "format=rgb24", "-f", "rawvideo", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip


# --- contenders (child process) ---------------------------------------------------------------


def decode_cli(path: str, check: int = 0):
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-threads", "1", "-filter_threads", "1",
           "-i", path, "-vf", "format=rgb24"]  # fmt: skip
    if check:
        out = subprocess.run(
            [*cmd, "-frames:v", str(check), "-f", "rawvideo", "-"], check=True, capture_output=True
        ).stdout
        return out, None
    subprocess.run([*cmd, "-f", "null", "-"], check=True)
    return None, None


def decode_pyav(path: str, check: int = 0):
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        stream.thread_count = 1
        n, first = 0, []
        for frame in container.decode(stream):
            array = frame.to_ndarray(format="rgb24")
            n += 1
            if check:
                first.append(array.tobytes())
                if n == check:
                    return b"".join(first), n
    return None, n


def decode_real_spdl(path: str, check: int = 0):
    import spdl.io

    packets = spdl.io.demux_video(path)
    frames = spdl.io.decode_packets(
        packets,
        filter_desc="format=pix_fmts=rgb24",
        decode_config=spdl.io.decode_config(decoder_options={"threads": "1"}),
    )
    array = spdl.io.to_numpy(spdl.io.convert_frames(frames))
    return (array[:check].tobytes() if check else None), array.shape[0]


def decode_ours(path: str, check: int = 0):
    import spdl.io

    n, first = 0, []

    def take(buffer) -> None:
        nonlocal n
        if buffer is not None:
            array = spdl.io.to_numpy(buffer)
            n += array.shape[0]
            if len(first) < check:
                first.extend(a.tobytes() for a in array[: check - len(first)])

    with spdl.io.Demuxer(path) as demuxer:
        decoder = None
        for packets in demuxer.streaming_demux("video", num_packets=8):
            if decoder is None:
                decoder = spdl.io.Decoder(packets, filter_desc="format=rgb24")
            take(decoder.decode_to_buffer(packets))
        if decoder is not None:
            take(decoder.flush_to_buffer())
    return (b"".join(first) if check else None), n


DECODERS = {
    "ffmpeg-cli": decode_cli,
    "pyav": decode_pyav,
    "spdl-0.8.0": decode_real_spdl,
    "spdl": decode_ours,
}


def child(args) -> None:
    from concurrent.futures import ThreadPoolExecutor

    clips = args.clips.split(",")
    frames_per_clip = args.frames
    decode = DECODERS[args.impl]
    if args.impl == "spdl":
        import spdl.io

        if not hasattr(spdl.io, "Decoder"):
            h.write_json(args.json_out, {"impl": args.impl, "skipped": "no spdl.io.Decoder yet"})
            return
    # Check the first frames of every clip against the ffmpeg command line's.
    for clip in clips:
        got, _ = decode(clip, check=3)
        want = reference_frames(Path(clip), 3)
        if args.impl == "pyav":
            # PyAV converts with its own swscale settings: the same picture, not the same bytes.
            import numpy as np

            diff = np.abs(np.frombuffer(got, np.uint8).astype(int) - np.frombuffer(want, np.uint8))
            assert diff.mean() < 3, f"pyav: not the picture ffmpeg gives (mean diff {diff.mean()})"
        else:
            assert got == want, f"{args.impl}: frames differ from the ffmpeg command line's"

    def one_pass() -> int:
        if args.threads == 1:
            for clip in clips:
                decode(clip)
        else:
            with ThreadPoolExecutor(args.threads) as pool:
                list(pool.map(decode, clips[: args.threads]))
        used = clips if args.threads == 1 else clips[: args.threads]
        return frames_per_clip * len(used)

    one_pass()  # warm-up
    rates = []
    cpu0 = h.cpu_seconds()
    total = 0
    with h.PeakRSS() as rss:
        for _ in range(args.runs):
            t0 = time.perf_counter()
            n = one_pass()
            rates.append(n / (time.perf_counter() - t0))
            total += n
    cpu_ms = (h.cpu_seconds() - cpu0) * 1e3 / total
    h.write_json(
        args.json_out,
        {
            "impl": args.impl,
            "threads": args.threads,
            "rate": {**h.summarize(rates), "unit": "frames/s", "samples": rates},
            "peak_rss_bytes": rss.peak,
            "cpu_ms_per_frame": cpu_ms,
        },
    )


# --- parent ---------------------------------------------------------------------------------


def interpreter(impl: str) -> Path:
    if impl == "spdl":
        return Path(sys.executable)
    if impl == "spdl-0.8.0":
        return h.peer_python("spdl-0.8.0", (*h.REAL_SPDL, "psutil"))
    return h.peer_python("media-peers", h.MEDIA_PEERS)


def count_frames(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return int(out.strip().split(",")[0])


def parent(args) -> None:
    impls = args.only.split(",") if args.only else list(CONTENDERS)
    configs = args.configs.split(",") if args.configs else list(CONFIGS)
    pythons = {impl: interpreter(impl) for impl in impls}
    throughput: dict[str, dict] = {}
    memory: dict[str, dict] = {}
    cost: dict[str, dict] = {}
    ratios: dict[str, dict] = {}
    for config in configs:
        clips = make_clips(config, args.seconds)
        frames = count_frames(clips[0])
        for threads in (1, 2):
            label = f"{config}, {threads} thread{'s' if threads > 1 else ''}"
            samples: dict[str, list[float]] = {i: [] for i in impls}
            rss: dict[str, list[float]] = {i: [] for i in impls}
            cpu: dict[str, list[float]] = {i: [] for i in impls}
            rounds: list[dict[str, float]] = []
            for r in range(args.rounds):
                medians = {}
                for impl in impls:
                    res = h.run_under(
                        pythons[impl],
                        __file__,
                        ["--impl", impl, "--threads", str(threads), "--runs", str(args.runs),
                         "--clips", ",".join(map(str, clips)), "--frames", str(frames)],
                    )  # fmt: skip
                    if "skipped" in res:
                        print(f"[bench] {impl}: skipped ({res['skipped']})", file=sys.stderr)
                        continue
                    samples[impl] += res["rate"]["samples"]
                    rss[impl].append(res["peak_rss_bytes"] / 2**20)
                    cpu[impl].append(res["cpu_ms_per_frame"])
                    medians[impl] = res["rate"]["median"]
                    print(
                        f"[bench] {label} round {r + 1}: {impl:11s} "
                        f"{res['rate']['median']:6.1f} frames/s  "
                        f"{res['cpu_ms_per_frame']:6.2f} CPU ms/frame  "
                        f"peak RSS {res['peak_rss_bytes'] / 2**20:6.0f} MiB",
                        file=sys.stderr,
                    )
                rounds.append(medians)
            throughput[label] = {
                i: {**h.summarize(s), "unit": "frames/s"} for i, s in samples.items() if s
            }
            memory[label] = {i: {**h.summarize(m), "unit": "MiB"} for i, m in rss.items() if m}
            cost[label] = {i: {**h.summarize(c), "unit": "ms"} for i, c in cpu.items() if c}
            if any("spdl" in r for r in rounds):
                ratios[label] = {
                    other: {
                        **h.summarize([r["spdl"] / r[other] for r in rounds if "spdl" in r]),
                        "unit": "x",
                    }
                    for other in impls
                    if other != "spdl" and all(other in r for r in rounds)
                }
    out = h.write_json(
        args.out,
        {
            "benchmark": "video_decode",
            "seconds": args.seconds,
            "rate": RATE,
            "frames per second": throughput,
            "peak RSS": memory,
            "CPU time per frame": cost,
            "spdl over each": ratios,
        },
    )
    for label, rows in throughput.items():
        print(f"\n{label}")
        for impl, m in rows.items():
            print(
                f"  {impl:11s} {m['median']:7.1f} frames/s [{m['min']:.1f}-{m['max']:.1f}]"
                f"  {cost[label][impl]['median']:6.2f} CPU ms/frame"
                f"  peak RSS {memory[label][impl]['median']:6.0f} MiB"
            )
        for other, m in ratios.get(label, {}).items():
            print(f"  spdl / {other:11s} {m['median']:.2f}x [{m['min']:.2f}-{m['max']:.2f}]")
    print(f"[bench] wrote {out}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length, seconds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=2, help="timed passes per round")
    parser.add_argument("--only", default=None, help="comma-separated contenders")
    parser.add_argument("--configs", default=None, help=f"comma-separated of {list(CONFIGS)}")
    parser.add_argument("--out", default=str(h.RESULTS / "video_decode.json"))
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--clips", help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    (child if args.impl else parent)(args)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
