"""Builds and imports the test-only extension `embforge_emulation`.

The CUDA kernels' shared code (csrc/cuda/*_core.cuh, the co-occurrence
chunk loop) is plain C++ that also compiles for the host. emulation.cpp binds
it for the tests; it is not part of the wheel, so the tests compile it here
with the system C++ compiler (no nvcc, no GPU) against csrc/include and
pybind11's headers, into a cache folder named by a hash of every source it
reads, the compiler and the Python build. A later run with the same sources
imports the cached module without compiling.

load() returns the module or raises Unavailable (no C++ compiler, or no
pybind11 headers) with the reason, which the tests report as a skip. A
compiler error is a RuntimeError: a broken kernel header must fail the tests.
"""
import functools
import glob
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NAME = "embforge_emulation"
INCLUDES = [HERE, os.path.join(ROOT, "csrc", "include"), os.path.join(ROOT, "csrc", "cuda"),
            os.path.join(ROOT, "csrc", "python")]
FLAGS = ["-std=c++20", "-O2", "-fPIC", "-shared", "-pthread", "-fvisibility=hidden",
         "-Wno-psabi"]


class Unavailable(Exception):
    """The emulation module cannot be built here (the message says why)."""


def compiler():
    """The C++ compiler to use ($CXX, else c++, g++ or clang++), or None."""
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def unavailable_reason():
    """Why the module cannot be built here, or None when it can (cheap: no compile)."""
    if compiler() is None:
        return "no C++ compiler found (set CXX) to build the kernels' CPU emulation"
    if importlib.util.find_spec("pybind11") is None:
        return "pybind11 is not installed (pip install '.[test]') to build the kernels' CPU emulation"
    return None


def sources():
    """Every file the module's compilation reads from this repository."""
    files = [os.path.join(HERE, "emulation.cpp"), *sorted(glob.glob(os.path.join(HERE, "*.h")))]
    for pattern in ("csrc/include/embforge/*.h", "csrc/cuda/*.cuh", "csrc/cuda/*.h",
                    "csrc/python/*.h"):
        files += sorted(glob.glob(os.path.join(ROOT, pattern)))
    return files


def cache_root():
    base = os.environ.get("EMBFORGE_EMULATION_CACHE")
    if base:
        return base
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "embforge-emulation")


def _key(cxx, pybind11_include):
    digest = hashlib.sha256()
    for path in sources():
        digest.update(os.path.relpath(path, ROOT).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(f.read() + b"\0")
    for part in (cxx, pybind11_include, sys.version, sysconfig.get_config_var("EXT_SUFFIX"), *FLAGS):
        digest.update(str(part).encode() + b"\0")
    return digest.hexdigest()[:20]


@functools.lru_cache(maxsize=None)
def load():
    """The compiled module (built at most once per source hash)."""
    reason = unavailable_reason()
    if reason:
        raise Unavailable(reason)
    import pybind11
    cxx = compiler()
    folder = os.path.join(cache_root(), _key(cxx, pybind11.get_include()))
    target = os.path.join(folder, NAME + sysconfig.get_config_var("EXT_SUFFIX"))
    if not os.path.exists(target):
        os.makedirs(folder, exist_ok=True)
        # Compile to a private name, then rename: concurrent test runs never
        # import a half-written file.
        fd, partial = tempfile.mkstemp(suffix=".so", dir=folder)
        os.close(fd)
        includes = [pybind11.get_include(), sysconfig.get_paths()["include"], *INCLUDES]
        command = [cxx, *FLAGS, *(f"-I{d}" for d in includes),
                   os.path.join(HERE, "emulation.cpp"), "-o", partial]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            os.unlink(partial)
            raise RuntimeError(f"building the kernels' CPU emulation failed:\n{' '.join(command)}\n"
                               f"{result.stderr[-8000:]}")
        os.replace(partial, target)
    spec = importlib.util.spec_from_file_location(NAME, target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
