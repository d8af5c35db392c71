#!/usr/bin/env bash
# Developer build: compiles the extension modules into python/embforge/ so that
# `PYTHONPATH=python pytest` works without reinstalling. Builds are serialised
# with a lock because several people (or agents) may share this 2-core machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${EMBFORGE_DEV_BUILD:-$root/build-dev}
out=${EMBFORGE_DEV_OUTPUT:-$root/python/embforge}
exec 9>/tmp/embforge-build.lock
flock 9
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DEMBFORGE_OUTPUT_DIR="$out" \
    -DEMBFORGE_CUDA="${EMBFORGE_CUDA:-OFF}" \
    -Dpybind11_DIR="$(python3 -c 'import pybind11; print(pybind11.get_cmake_dir())')" >/dev/null
fi
cmake --build "$build" -j 2
