#!/usr/bin/env bash
# Fills .gpu/ (ignored by git) with everything check.sh needs on the GPU machine, which has no
# network, no FFmpeg and no ffmpeg command:
#
#   .gpu/ffmpeg-kit.tar.gz   the FFmpeg 5.1 kit (headers, shared libraries, pkg-config files)
#   .gpu/whl/tools/          wheels to build and test there: meson, meson-python, ninja, pytest...
#   .gpu/whl/nvc/            PyNvVideoCodec for CPython 3.12
#   .gpu/whl/peer/           the real spdl 0.8.0 (spdl, spdl-core, spdl-io) for CPython 3.12
#   .gpu/media/              the GPU tests' media and ffmpeg references (tests/cuda_media.py)
#   .gpu/bench/              the benchmarks' JPEGs and 1080p clip (bench/gpu/make_data.py)
#
#   usage: bench/gpu/prepare.sh PATH/TO/ffmpeg-kit.tar.gz     (or FFMPEG_KIT=... in the env)
#
# Idempotent: what is there already is kept. Fails if the result is over 64 MiB (the most a
# device run carries).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kit=${1:-${FFMPEG_KIT:-}}
dest="$root/.gpu"
py=${PYTHON:-$root/.venv/bin/python}
[ -x "$py" ] || py=python3
mkdir -p "$dest/whl/tools" "$dest/whl/nvc" "$dest/whl/peer"

if [ ! -f "$dest/ffmpeg-kit.tar.gz" ]; then
  [ -n "$kit" ] && [ -f "$kit" ] || { echo "give the path of ffmpeg-kit.tar.gz (see its build script)" >&2; exit 2; }
  cp "$kit" "$dest/ffmpeg-kit.tar.gz"
fi

# Wheels for the GPU machine's CPython 3.12 on x86-64 Linux, without dependencies (it has
# NumPy, Cython, CuPy, torch and packaging already).
dl() {
  local into=$1 req; shift
  for req in "$@"; do
    "$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64 --platform any \
      -d "$into" "$req" 2>&1 | grep -v '^WARNING: Location' || true
    ls "$into" | grep -qi "^$(echo "${req%%[<>=]*}" | tr - _)" \
      || { echo "could not download $req" >&2; exit 1; }
  done
}
[ -n "$(ls "$dest/whl/tools" 2>/dev/null)" ] || dl "$dest/whl/tools" \
  'meson>=1.1' 'meson-python>=0.15' ninja pyproject-metadata 'pytest>=7' pluggy iniconfig \
  'pytest-timeout>=2.1' psutil packaging pygments
[ -n "$(ls "$dest/whl/nvc" 2>/dev/null)" ] || dl "$dest/whl/nvc" pynvvideocodec
[ -n "$(ls "$dest/whl/peer" 2>/dev/null)" ] || dl "$dest/whl/peer" spdl==0.8.0 spdl-core==0.8.0 spdl-io==0.8.0

[ -f "$dest/media/h264.mp4.rgb24.npz" ] || "$py" "$root/tests/cuda_media.py" "$dest/media"
[ -f "$dest/bench/clip.means.npy" ] || "$py" "$root/bench/gpu/make_data.py" "$dest/bench"

size=$(du -sb "$dest" | cut -f1)
echo "$dest: $((size / 1048576)) MiB"
du -sh "$dest"/* "$dest"/whl/* | sed 's/^/  /'
if [ "$size" -gt $((64 * 1048576)) ]; then
  echo "too big to carry (64 MiB at most)" >&2
  exit 1
fi
