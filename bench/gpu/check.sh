#!/usr/bin/env bash
# The one script the GPU machine runs (one NVIDIA H100/H200; no network, no FFmpeg there).
#
#   1. checks that there is a GPU (fails within seconds when there is none);
#   2. unpacks the FFmpeg kit and the wheels from .gpu/ (made by bench/gpu/prepare.sh);
#   3. builds and installs this checkout for the machine's Python;
#   4. runs the GPU tests with SPDL_REQUIRE_CUDA=1 (a missing GPU fails instead of skipping);
#   5. runs the GPU benchmarks (nvJPEG vs torchvision, NVDEC vs the real spdl 0.8.0, CPU decode +
#      transfer) and `spdl bench images|videos --device cuda`, writing JSON;
#   6. writes $OUT/summary.json: each step's status and time, and the headline ratios.
#
#   usage: OUT=DIR bench/gpu/check.sh          (OUT defaults to ./gpu-check)
#
# Everything it prints also goes to $OUT/check.log. It keeps to a time budget (SPDL_CHECK_BUDGET
# seconds, default 540) so one device command finishes: a step that would not fit is skipped and
# says so. Exit status: 0 when tests and benchmarks ran and passed, 1 when a step failed, 3 when
# there is no GPU, 2 when .gpu/ is missing.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$PWD/gpu-check}
mkdir -p "$OUT"
exec > >(tee "$OUT/check.log") 2>&1
budget=${SPDL_CHECK_BUDGET:-540}
start=$SECONDS
steps="$OUT/steps.tsv"
: > "$steps"

say() { echo "== [$(date -u +%H:%M:%S) +$((SECONDS - start))s] $*"; }
die() { say "FAIL: $2"; printf 'precheck\t%s\t0\t%s\n' "$1" "$2" >> "$steps"; summary; exit "$1"; }
left() { echo $((budget - (SECONDS - start))); }

# run NAME MIN_SECONDS CMD...: runs CMD with a timeout of what is left of the budget, records it.
run() {
  local name=$1 need=$2; shift 2
  local t0=$SECONDS rc
  if [ "$(left)" -lt "$need" ]; then
    say "SKIP $name: needs ${need}s, $(left)s left"
    printf '%s\tskipped\t0\tout of time\n' "$name" >> "$steps"
    return 0
  fi
  say "START $name"
  timeout --kill-after=10 "$(left)" "$@"
  rc=$?
  say "END $name: exit $rc after $((SECONDS - t0))s"
  printf '%s\t%s\t%s\t\n' "$name" "$rc" "$((SECONDS - t0))" >> "$steps"
  return 0
}

summary() {
  "${PY:-python3}" - "$OUT" <<'PYEOF' || true
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
steps = []
for line in (out / "steps.tsv").read_text().splitlines():
    name, status, seconds, note = (line.split("\t") + [""] * 4)[:4]
    steps.append({"step": name, "status": status, "seconds": int(seconds or 0), "note": note})
summary = {"steps": steps}
for name in ("nvjpeg", "nvdec"):
    f = out / f"{name}.json"
    if f.exists():
        data = json.loads(f.read_text())
        summary[name] = {k: data.get(k) for k in (
            "ratio_ours_over_torchvision", "meets_target", "ratio_ours_over_peer", "targets",
            "decoder creation estimate (s)", "checks", "check", "facts") if k in data}
(out / "summary.json").write_text(json.dumps(summary, indent=2))
print(json.dumps(summary, indent=2))
PYEOF
}

# -- 1. a GPU, fast -------------------------------------------------------------------------
say "spdl GPU check in $root, output in $OUT"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L > "$OUT/gpus.txt" 2>&1 \
    || ! grep -q '^GPU ' "$OUT/gpus.txt"; then
  cat "$OUT/gpus.txt" 2>/dev/null
  [ "${SPDL_CHECK_NO_GPU_OK:-0}" = 1 ] || die 3 "no NVIDIA GPU here (nvidia-smi finds none)"
  say "no GPU, going on because SPDL_CHECK_NO_GPU_OK=1 (rehearsal: the tests will fail)"
else
  cat "$OUT/gpus.txt"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/env.txt" 2>&1
fi
[ -f "$root/.gpu/ffmpeg-kit.tar.gz" ] || die 2 ".gpu/ is missing: run bench/gpu/prepare.sh where there is network"

# The machine's Python with CuPy and torch: its venv if there is one.
PY=${PYTHON:-}
for cand in /opt/torch/.venv/bin/python python3; do
  [ -n "$PY" ] && break
  command -v "$cand" >/dev/null && PY=$(command -v "$cand")
done
export PATH="/tmp/spdl-tools/bin:$(dirname "$PY"):$PATH"
"$PY" - <<'PYEOF' 2>&1 | tee -a "$OUT/env.txt"
import platform
print("python", platform.python_version())
for mod in ("numpy", "Cython", "cupy", "torch", "torchvision", "PIL"):
    try:
        m = __import__(mod)
        print(mod, getattr(m, "__version__", "?"))
    except Exception as e:
        print(mod, "MISSING", e)
try:
    import cupy
    print("cuda devices", cupy.cuda.runtime.getDeviceCount())
except Exception as e:
    print("cuda devices: none", e)
PYEOF

# -- 2. unpack ------------------------------------------------------------------------------
tar -C /tmp -xzf "$root/.gpu/ffmpeg-kit.tar.gz"
export PKG_CONFIG_PATH=/tmp/ffmpeg-kit/lib/pkgconfig LD_LIBRARY_PATH=/tmp/ffmpeg-kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
unpack() {
  local dir rc=0
  for dir in tools nvc peer; do
    "$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps \
      --target "/tmp/spdl-$dir" "$root"/.gpu/whl/$dir/*.whl || rc=1
  done
  return $rc
}
export -f unpack
export PY root OUT
run unpack-wheels 20 bash -c unpack

# -- 3. build -------------------------------------------------------------------------------
rm -rf /tmp/spdl-ours
run build 60 env PYTHONPATH=/tmp/spdl-tools:/tmp/spdl-tools/lib "$PY" -m pip install -v --disable-pip-version-check \
  --no-index --no-deps --no-build-isolation --config-settings=build-dir=/tmp/spdl-build --target /tmp/spdl-ours "$root"
export SPDL_BENCH_OURS=/tmp/spdl-ours
export PYTHONPATH=/tmp/spdl-ours:/tmp/spdl-nvc:/tmp/spdl-tools
run import 10 "$PY" -P -c "import spdl.io, spdl.io.utils as u; print(spdl.io.__file__); print(u.get_ffmpeg_versions())"

# -- 4. tests (run outside the checkout, so `import spdl` is the build) ------------------------
gpu_tests() {
  local work
  work=$(mktemp -d)
  cd "$work" || return 1
  SPDL_REQUIRE_CUDA=1 SPDL_TEST_MEDIA="$root/.gpu/media" \
    "$PY" -P -m pytest -p no:cacheprovider -rA -q --junitxml="$OUT/tests.xml" \
    "$root"/tests/test_cuda_nogpu.py "$root"/tests/test_cuda_transfer.py \
    "$root"/tests/test_cuda_nvjpeg.py "$root"/tests/test_cuda_nvdec.py 2>&1 | tee "$OUT/tests.log"
  return "${PIPESTATUS[0]}"
}
export -f gpu_tests
run tests 60 bash -c gpu_tests

# -- 5. benchmarks --------------------------------------------------------------------------
run bench-nvjpeg 60 "$PY" "$root/bench/gpu/bench_nvjpeg.py" --data "$root/.gpu/bench" \
  --json-out "$OUT/nvjpeg.json" --runs "${SPDL_CHECK_RUNS:-3}"
run bench-nvdec 90 "$PY" "$root/bench/gpu/bench_nvdec.py" --data "$root/.gpu/bench" \
  --json-out "$OUT/nvdec.json" --runs "${SPDL_CHECK_RUNS:-3}" --peer-path /tmp/spdl-peer

# The command line's GPU path (`spdl bench --device cuda`: nvJPEG for images, NVDEC for videos)
# on the benchmark data, its JSON report kept.
run cli-cuda-images 20 bash -c "cd /tmp && '$PY' -P -m spdl bench images '$root/.gpu/bench/jpeg' \
  --device cuda --threads 4 --json > '$OUT/cli_cuda_images.json'"
run cli-cuda-videos 20 bash -c "cd /tmp && '$PY' -P -m spdl bench videos '$root/.gpu/bench' \
  --device cuda --threads 2 --json > '$OUT/cli_cuda_videos.json'"

# -- 6. summary -----------------------------------------------------------------------------
summary
say "done in $((SECONDS - start))s"
if awk -F'\t' '$2 != "0" { bad = 1 } END { exit !bad }' "$steps"; then
  exit 1
fi
exit 0
