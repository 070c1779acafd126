"""Write the GPU benchmarks' media and references into a folder (run where ``ffmpeg`` exists).

- ``jpeg/img_NNN.jpg``: 500x375 JPEGs of about 100 KB (testsrc2 with per-frame noise, q=2);
- ``clip.mp4``: 10 s of 1920x1080 H.264 at 30 fps (300 frames, B-frames, GOP 60);
- ``clip.means.npy``: the ffmpeg command line's per-frame mean R, G, B of the clip (N, 3), which
  the NVDEC benchmark checks each side's output against before timing.

Usage: python bench/gpu/make_data.py DIR [--images 48]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

import media


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--images", type=int, default=48)
    args = p.parse_args()
    (args.out / "jpeg").mkdir(parents=True, exist_ok=True)
    media.run_ffmpeg(
        [
            "-f", "lavfi", "-i", "testsrc2=size=500x375:rate=25",
            "-vf", "noise=alls=24:allf=t+u", "-q:v", "2", "-frames:v", str(args.images),
            "-y", args.out / "jpeg" / "img_%03d.jpg",
        ]
    )  # fmt: skip
    clip = media.make_video(
        args.out / "clip.mp4",
        width=1920,
        height=1080,
        rate=30,
        duration=10.0,
        extra=("-preset", "veryfast", "-crf", "26", "-g", "60", "-bf", "2"),
    )
    means = np.stack(
        [f.reshape(-1, 3).mean(axis=0) for f in media.reference_video(clip, pix_fmt="rgb24")]
    )
    np.save(args.out / "clip.means.npy", means.astype(np.float32))
    print(f"{args.out}: {args.images} JPEGs, clip of {len(means)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
