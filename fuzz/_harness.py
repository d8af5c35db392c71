"""What every fuzz target shares: the contract checked on each input, the
scratch file the readers are given, instrumentation and the libFuzzer driver.

A target is a module in this folder defining

* ``ALLOWED``: the exception types that are a clean refusal of bad input
  (the readers' documented errors: ValueError and its subclasses such as
  UnicodeDecodeError, a few file errors where documented). Anything else
  raised -- TypeError, KeyError, IndexError, MemoryError, RecursionError,
  struct.error, OverflowError, zipfile.BadZipFile, ... -- is a crash;
* ``one_input(data)``: hands `data` to the reader (through a scratch file,
  the way a user's file reaches it) and checks what comes back;
* ``seeds()``: ``{name: bytes}``, small valid inputs written with embforge's
  own writers (fuzz/make_seeds.py writes them to a folder).

A clean refusal must also say which file it is about when the reader promises
that (``NAMES_PATH = True``): a ValueError that does not contain the path is
a crash too, since a user with many files could not tell which one is bad.

Run a target (libFuzzer options pass through)::

    PYTHONPATH=python python3 fuzz/make_seeds.py /tmp/seeds
    PYTHONPATH=python python3 fuzz/word2vec_text.py /tmp/corpus /tmp/seeds/word2vec_text \\
        -runs=100000 -timeout=10 -rss_limit_mb=2048 -max_len=65536

Only embforge's Python modules are instrumented for coverage; the native
extension is covered only in the build of build_native_coverage.sh.
"""
from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import re
import resource
import shutil
import socket
import sys
import tempfile
import zlib

# Single-threaded numerics: the fuzzer runs one input at a time, and BLAS
# threads would only add noise to the per-input timeout.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

try:
    import atheris
except ImportError:  # the seed replay (tests/test_fuzz_targets.py) runs without it
    atheris = None

FUZZ_DIR = os.path.dirname(os.path.abspath(__file__))
# Address-space limit of a fuzzing process: an allocation sized from a
# declared (not yet read) size fails here as MemoryError, i.e. as a crash,
# even when the kernel would have granted it lazily. ASan builds reserve
# terabytes of shadow memory and run without it.
DEFAULT_ADDRESS_LIMIT_MB = 4096


class Scratch:
    """A private folder (in RAM when /dev/shm exists) holding the file each
    input is written to; readers take paths, so inputs reach them as files.

    The folder is made on first use, not at import, and is named after this
    host and process (``embforge-fuzz-<host>-<pid>-<random>``): atexit does
    not run when libFuzzer ends the process (it calls C's exit after -runs,
    _exit on a crash, timeout or out-of-memory) nor after a kill, so making
    one removes the folders of this host's processes that are gone."""

    def __init__(self):
        self._dir = None

    @property
    def dir(self) -> str:
        if self._dir is None:
            base = scratch_base()
            remove_stale_scratch(base)
            self._dir = tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-", dir=base)
        return self._dir

    def file(self, data: bytes, name: str = "input") -> str:
        path = os.path.join(self.dir, name)
        with open(path, "wb") as out:
            out.write(data)
        return path

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def clear(self) -> None:
        """Removes the inputs' files; names starting with "keep-" stay (a
        target's fixed surroundings, made once)."""
        if self._dir is None:
            return
        for entry in os.listdir(self._dir):
            if entry.startswith("keep-"):
                continue
            full = os.path.join(self._dir, entry)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.remove(full)

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


# The host is part of the name for a scratch base on a shared filesystem
# (EMBFORGE_FUZZ_SCRATCH), where another host's processes are not visible.
_HOST = zlib.crc32(socket.gethostname().encode("utf-8", "replace"))
_SCRATCH_PREFIX = f"embforge-fuzz-{_HOST:08x}-"


def scratch_base() -> str:
    """Where scratch folders go: $EMBFORGE_FUZZ_SCRATCH, else /dev/shm when
    writable, else the temporary folder."""
    base = os.environ.get("EMBFORGE_FUZZ_SCRATCH")
    if base:
        return base
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return "/dev/shm"
    return tempfile.gettempdir()


def remove_stale_scratch(base: str) -> int:
    """Removes the scratch folders in `base` of this host's processes that
    no longer run; returns how many. A live process's folder stays (it may be
    fuzzing now), and so does a zombie's until its parent collects it."""
    pattern = re.compile(re.escape(_SCRATCH_PREFIX) + r"([0-9]+)-[^/]+")
    removed = 0
    try:
        entries = os.listdir(base)
    except OSError:
        return 0
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match is None or _running(int(match.group(1))):
            continue
        shutil.rmtree(os.path.join(base, entry), ignore_errors=True)
        removed += 1
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (EPERM), or no kill(pid, 0) here
        return True
    return True


SCRATCH = Scratch()
atexit.register(SCRATCH.close)  # a plain exit; the next Scratch removes what a kill leaves


@contextlib.contextmanager
def instrumented():
    """Imports inside the block are instrumented for coverage (embforge's
    modules only) when a script of this folder runs with atheris there; a
    plain import otherwise (the test suite imports the targets to replay
    their inputs, and must not leave embforge instrumented, hence slower,
    for the tests after it)."""
    script = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else ""
    if atheris is None or script != FUZZ_DIR:
        yield
        return
    with atheris.instrument_imports(include=["embforge"]):
        yield


class ContractViolation(AssertionError):
    """A reader answered bad input in a way its contract rules out."""


def check_input(target, data: bytes) -> None:
    """Runs one input through `target`; allowed refusals pass, anything else
    propagates (and is a crash for the fuzzer)."""
    try:
        target.one_input(data)
    except target.ALLOWED as error:
        if getattr(target, "NAMES_PATH", False) and isinstance(error, ValueError) \
                and not isinstance(error, UnicodeError) and SCRATCH.dir not in str(error):
            raise ContractViolation(
                f"{type(error).__name__} does not name the file: {error}") from error
    finally:
        SCRATCH.clear()


def load_target(name: str):
    """The target module `name` (a file of this folder)."""
    if FUZZ_DIR not in sys.path:
        sys.path.insert(0, FUZZ_DIR)
    return importlib.import_module(name)


def _limit_address_space() -> None:
    limit = int(os.environ.get("EMBFORGE_FUZZ_ADDRESS_LIMIT_MB", DEFAULT_ADDRESS_LIMIT_MB))
    if limit <= 0 or "asan" in os.environ.get("LD_PRELOAD", ""):
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit << 20, limit << 20))


def main(target) -> None:
    """libFuzzer's driver on `target` (argv: corpus folders and -options)."""
    if atheris is None:
        sys.exit("atheris is not installed: pip install 'embforge[fuzz]' (or pip install atheris)")
    _limit_address_space()
    # Readers log warnings (duplicate words) that would drown libFuzzer's report.
    logging.disable(logging.WARNING)
    atheris.Setup(sys.argv, lambda data: check_input(target, data))
    atheris.Fuzz()
