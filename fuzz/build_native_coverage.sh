#!/usr/bin/env bash
# Builds embforge's native extension (_core) with clang's libFuzzer coverage
# hooks and AddressSanitizer (-fsanitize=fuzzer-no-link,address) into a
# scratch folder, next to a copy of the Python package, so that a long fuzz
# run also covers and checks the C++ readers (the corpus tokenizer and its
# UTF-8 validation): atheris instruments only Python.
#
#   fuzz/build_native_coverage.sh [OUT]        # default OUT: fuzz/work/native
#
# then run any target against that package, with atheris' ASan runtime
# preloaded (the interpreter itself is not built with ASan):
#
#   LD_PRELOAD="$(python3 -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so" \
#   ASAN_OPTIONS=detect_leaks=0,allocator_may_return_null=1 \
#   PYTHONPATH=OUT/python python3 fuzz/run_all.py --work OUT/run --runs 100000
#
# (the harness leaves out its address-space limit under ASan, which reserves
# terabytes of shadow memory). Needs clang/clang++ (Debian: apt-get install
# clang) and the build requirements of tools/dev_build.sh (cmake, ninja,
# pybind11). Builds are serialised with the same lock as tools/dev_build.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$root/fuzz/work/native}" && cd "${1:-$root/fuzz/work/native}" && pwd)
cxx=${CXX:-clang++}
if ! command -v "$cxx" >/dev/null; then
  echo "$cxx not found: the native coverage build needs clang (apt-get install clang)" >&2
  exit 2
fi
package=$out/python/embforge
mkdir -p "$package"
# The Python files as they are in the checkout; the extension comes from the build.
(cd "$root/python/embforge" && find . -name '*.py' -exec cp --parents {} "$package" \;)
flags="-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer -g"
exec 9>/tmp/embforge-build.lock
flock 9
if [ ! -f "$out/build/build.ninja" ]; then
  cmake -S "$root" -B "$out/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address" \
    -DEMBFORGE_OUTPUT_DIR="$package" -DEMBFORGE_CUDA=OFF \
    -Dpybind11_DIR="$(python3 -c 'import pybind11; print(pybind11.get_cmake_dir())')" >/dev/null
fi
cmake --build "$out/build" -j "${JOBS:-2}" --target _core
echo "instrumented package: $out/python (PYTHONPATH=$out/python)"
