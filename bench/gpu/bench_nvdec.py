"""NVDEC: whole 1080p H.264 clips to RGB (N, 3, H, W) in CUDA memory, spdl against spdl 0.8.0.

The clip is ``DATA/clip.mp4`` from ``make_data.py`` (10 s, 1920x1080, 30 fps, 300 frames), with
the ffmpeg command line's per-frame mean RGB values beside it for the check. Each side demuxes
and decodes whole clips from the file to an RGB CUDA buffer:

- ours: ``spdl.io.demux_annexb`` + ``spdl.io.decode_packets_nvdec`` (PyNvVideoCodec decoders
  cached per thread, our NV12 -> RGB kernel);
- spdl 0.8.0: ``spdl.io.demux_video`` + ``spdl.io.decode_packets_nvdec`` (its own NVDEC binding),
  run as a child process with the real wheels on ``PYTHONPATH`` (``--peer-path``).

Timed: frames/s with 1, 4 and 8 threads (each thread decodes whole clips, 2 per thread per run);
the first clip of a new thread (decoder creation included) apart from steady-state clips, which
gives the decoder creation cost; CPU decode + transfer of the same clip (rgb24 on the CPU, then
``transfer_buffer``) with 8 threads, where that side has a CPU decoder.

Usage: python bench/gpu/bench_nvdec.py --data DIR --json-out FILE [--peer-path DIR] [--runs 3]
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import _common
import numpy as np

THREADS = (1, 4, 8)


def _side():
    """(name, decode(path) -> CUDA buffer, cpu_decode_transfer(path) or None) for this spdl."""
    import spdl.io

    cfg = spdl.io.cuda_config(device_index=0)
    if hasattr(spdl.io, "demux_annexb"):  # this checkout

        def decode(path):
            return spdl.io.decode_packets_nvdec(spdl.io.demux_annexb(path), device_config=cfg)

        cpu = None
        if hasattr(spdl.io, "load_video"):

            def cpu(path):  # rgb24 on the CPU (one copy per frame), then to the GPU
                return spdl.io.transfer_buffer(spdl.io.load_video(path), device_config=cfg)

        return "ours", decode, cpu

    bsf = {"value": None}

    def decode(path):
        packets = (
            spdl.io.demux_video(path, bsf=bsf["value"])
            if bsf["value"]
            else spdl.io.demux_video(path)
        )
        return spdl.io.decode_packets_nvdec(packets, device_config=cfg, pix_fmt="rgb")

    def cpu(path):
        packets = spdl.io.demux_video(path)
        frames = spdl.io.decode_packets(
            packets, filter_desc=spdl.io.get_video_filter_desc(pix_fmt="rgb24")
        )
        return spdl.io.transfer_buffer(spdl.io.convert_frames(frames), device_config=cfg)

    decode.bsf = bsf
    return _common.PEER, decode, cpu


def _frame_means(buf) -> np.ndarray:
    import cupy

    arr = cupy.asarray(buf)
    axes = (2, 3) if arr.shape[1] == 3 else (1, 2)
    return cupy.asnumpy(arr.astype(cupy.float32).mean(axis=axes))


def _verify(decode, clip, means) -> dict:
    buf = decode(clip)
    _common.synchronize()
    shape = list(buf.__cuda_array_interface__["shape"])
    got = _frame_means(buf)
    ok = shape[0] == len(means) and got.shape == means.shape
    err = float(np.abs(got - means).max()) if ok else float("inf")
    return {"shape": shape, "max_frame_mean_error": err, "ok": bool(ok and err < 3.0)}


def main() -> int:
    p = _common.parser(__doc__)
    args = p.parse_args()
    clip = str(args.data / "clip.mp4")
    means = np.load(args.data / "clip.means.npy")  # (N, 3) per-frame mean R, G, B
    name, decode, cpu = _side()

    check = _verify(decode, clip, means)
    if not check["ok"] and name == _common.PEER:
        decode.bsf["value"] = "h264_mp4toannexb"  # older releases want the filter named
        check = {**_verify(decode, clip, means), "bsf": "h264_mp4toannexb"}
    if not check["ok"]:
        raise SystemExit(f"{name}: NVDEC output does not match the reference: {check}")
    frames = len(means)

    def per_thread_first_and_steady() -> dict:
        out = {}

        def body():
            t0 = time.perf_counter()
            decode(clip)
            _common.synchronize()
            t1 = time.perf_counter()
            for _ in range(3):
                decode(clip)
            _common.synchronize()
            out["first"], out["steady"] = t1 - t0, (time.perf_counter() - t1) / 3

        t = threading.Thread(target=body)
        t.start()
        t.join()
        return out

    creation = [per_thread_first_and_steady() for _ in range(3)]
    results: dict = {}
    for n in THREADS:
        pool = ThreadPoolExecutor(n)
        list(pool.map(lambda _: decode(clip), range(n)))  # warm every worker's decoder

        def run(pool=pool, n=n):
            list(pool.map(lambda _: decode(clip), range(2 * n)))
            _common.synchronize()
            return 2 * n * frames

        results[f"{n} threads"] = _common._harness.measure(run, runs=args.runs, warmup=0)
        pool.shutdown()

    cpu_results = {}
    if cpu is not None:
        pool = ThreadPoolExecutor(8)

        def run_cpu(pool=pool):
            list(pool.map(lambda _: cpu(clip), range(8)))
            _common.synchronize()
            return 8 * frames

        cpu_results["8 threads"] = _common._harness.measure(run_cpu, runs=max(2, args.runs - 1))
        pool.shutdown()

    data = {
        "side": name,
        "check": check,
        "frames_per_clip": frames,
        name: {"NVDEC whole clips to RGB in CUDA memory": results},
        "first clip in a new thread (s)": _common._harness.summarize(
            [c["first"] for c in creation]
        ),
        "steady clip (s)": _common._harness.summarize([c["steady"] for c in creation]),
        "decoder creation estimate (s)": statistics_median(
            [c["first"] - c["steady"] for c in creation]
        ),
    }
    if cpu_results:
        data[f"{name} CPU decode + transfer"] = {"whole clips to RGB in CUDA memory": cpu_results}
    if name == "ours":
        from spdl.io import _nvdec

        data["ours decoder stats"] = dict(_nvdec.decoder_stats)

    if not args.as_peer:
        peer = _common.run_peer(__file__, args, [])
        if peer is not None:
            data["peer"] = {k: v for k, v in peer.items() if k != "machine"}
            peer_results = peer.get(_common.PEER, {}).get(
                "NVDEC whole clips to RGB in CUDA memory", {}
            )
            if peer_results:
                data[_common.PEER] = {"NVDEC whole clips to RGB in CUDA memory": peer_results}
            data["ratio_ours_over_peer"] = {
                k: _common.ratio(results.get(k), peer_results.get(k)) for k in results
            }
            r1 = data["ratio_ours_over_peer"].get("1 threads")
            r8 = data["ratio_ours_over_peer"].get("8 threads")
            data["targets"] = {
                "8 threads >= 1.2": r8 is not None and r8 >= 1.2,
                "1 thread >= 1.0": r1 is not None and r1 >= 1.0,
            }
    _common.write(args.json_out, data)
    return 0


def statistics_median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


if __name__ == "__main__":
    sys.exit(main())
