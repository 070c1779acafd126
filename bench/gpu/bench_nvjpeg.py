"""nvJPEG batched decode into CUDA memory: spdl against torchvision and CPU decode + transfer.

Images: the 500x375 JPEGs of about 100 KB that ``make_data.py`` writes (``DATA/jpeg/*.jpg``).
For batch sizes 1, 16 and 128 it times, on the same bytes in memory:

- ours: ``spdl.io.decode_image_nvjpeg(batch)`` -> one (B, 3, 375, 500) uint8 CUDA buffer;
- torchvision: ``torchvision.io.decode_jpeg(batch, device="cuda")`` -> B CUDA tensors;
- CPU decode + transfer: PIL in 8 threads, stacked, then ``spdl.io.transfer_buffer``.

Both GPU sides are followed by a device synchronize, so every timed result is complete. Outputs
are checked first: ours against torchvision (PSNR above 40 dB) and against PIL.

Usage: python bench/gpu/bench_nvjpeg.py --data DIR --json-out FILE [--runs 5] [--images 1024]
"""

from __future__ import annotations

import io
import sys
from concurrent.futures import ThreadPoolExecutor

import _common
import numpy as np

BATCHES = (1, 16, 128)


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items) - size + 1, size)]


def main() -> int:
    p = _common.parser(__doc__)
    p.add_argument("--images", type=int, default=1024, help="images decoded per timed run")
    args = p.parse_args()

    import torch
    import torchvision.io
    from PIL import Image

    import spdl.io

    files = sorted((args.data / "jpeg").glob("*.jpg"))
    blobs = [f.read_bytes() for f in files]
    data = [blobs[i % len(blobs)] for i in range(args.images)]
    tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in data]
    cfg = spdl.io.cuda_config(0)

    # -- verify before timing --------------------------------------------------------------
    ours = spdl.io.to_cupy(spdl.io.decode_image_nvjpeg(blobs[:16], device_config=cfg)).get()
    tv = torch.stack(torchvision.io.decode_jpeg(tensors[:16], device="cuda")).cpu().numpy()
    pil = np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in blobs[:16]])
    checks = {
        "shape": list(ours.shape),
        "psnr_vs_torchvision_db": _common.psnr(ours, tv),
        "psnr_vs_pil_db": _common.psnr(ours.transpose(0, 2, 3, 1), pil),
    }
    assert ours.shape == (16, 3, 375, 500), ours.shape
    assert checks["psnr_vs_torchvision_db"] > 40, checks
    assert checks["psnr_vs_pil_db"] > 35, checks

    from spdl.io import _nvjpeg as ours_mod

    decoder = ours_mod._decoder(0)
    facts = {"hardware_engine": bool(decoder.has_hardware), "engines": decoder.hardware_engines}

    # -- time ------------------------------------------------------------------------------
    results: dict = {"ours": {}, "torchvision": {}, "pil 8 threads + transfer": {}}
    for b in BATCHES:
        groups = _batches(data, b)
        tgroups = _batches(tensors, b)

        def run_ours(groups=groups, b=b):
            for g in groups:
                spdl.io.decode_image_nvjpeg(g if b > 1 else g[0], device_config=cfg)
            _common.synchronize()
            return len(groups) * b

        def run_tv(tgroups=tgroups, b=b):
            for g in tgroups:
                torchvision.io.decode_jpeg(g if b > 1 else g[0], device="cuda")
            torch.cuda.synchronize()
            return len(tgroups) * b

        results["ours"][f"batch {b}"] = _common._harness.measure(run_ours, runs=args.runs)
        results["torchvision"][f"batch {b}"] = _common._harness.measure(run_tv, runs=args.runs)

    pool = ThreadPoolExecutor(8)

    def pil_decode(blob):
        return np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))

    for b in (16, 128):
        groups = _batches(data, b)

        def run_cpu(groups=groups, b=b):
            for g in groups:
                spdl.io.transfer_buffer(np.stack(list(pool.map(pil_decode, g))), device_config=cfg)
            return len(groups) * b

        results["pil 8 threads + transfer"][f"batch {b}"] = _common._harness.measure(
            run_cpu, runs=max(2, args.runs // 2)
        )
    pool.shutdown()

    ratios = {
        f"batch {b}": _common.ratio(
            results["ours"][f"batch {b}"], results["torchvision"][f"batch {b}"]
        )
        for b in BATCHES
    }
    _common.write(
        args.json_out,
        {
            "benchmark": "nvjpeg",
            "unit": "images/s",
            **{series: {"decode to CUDA memory": m} for series, m in results.items()},
            "ratio_ours_over_torchvision": ratios,
            "target_ratio": 1.2,
            "meets_target": all(r is not None and r >= 1.2 for r in ratios.values()),
            "checks": checks,
            "facts": facts,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
