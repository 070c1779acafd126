#!/usr/bin/env bash
# Installs the system packages spdl needs to build and test, if any are missing.
# As root it uses apt-get (Debian/Ubuntu); otherwise it names what to install and fails.
# Idempotent: with everything present it only checks, in well under a second.
set -euo pipefail
PYTHON=${PYTHON:-python3}

missing=()
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cc >/dev/null || missing+=(gcc)
command -v c++ >/dev/null || missing+=(g++)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
for lib in libavformat libavcodec libavfilter libavutil libswscale libswresample; do
  if ! pkg-config --exists "$lib" 2>/dev/null; then
    missing+=("$lib-dev")
  fi
done
if ! command -v "$PYTHON" >/dev/null; then
  missing+=(python3 python3-dev python3-venv)
else
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  inc=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  [ -f "$inc/Python.h" ] || missing+=(python3-dev)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "spdl needs these system packages: ${missing[*]}" >&2
  echo "On Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
  echo "(FFmpeg elsewhere: set PKG_CONFIG_PATH to its lib/pkgconfig folder.)" >&2
  exit 1
fi
