"""Atomic file replacement: a save is seen whole or not at all.

The new content goes to a temporary file beside the target, named after the
target, this host and this process (``.<name>.<host>-<pid>.<random>.tmp``),
is fsynced and renamed over the target, and the directory is fsynced. A
process killed mid-save (kill -9, power loss) leaves the previous complete
file and its temporary; the next save of that target removes the
temporaries of processes of this host that are no longer alive, never those
of a live process (which may be saving right now) nor those of another host
(whose processes this one cannot see, on a shared filesystem).
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import zlib
from typing import IO, Any, Iterator, Optional, Tuple

from .._typing import StrPath

__all__ = ["atomic_write", "remove_stale_temporaries"]

# errors that mean "the disk (or this process's file-size limit) is full"
_NO_SPACE = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _host_name() -> str:
    """socket.gethostname(), without loading socket where os.uname() has it."""
    try:
        return os.uname().nodename
    except AttributeError:  # not POSIX
        import socket
        return socket.gethostname()


_HOST = f"{zlib.crc32(_host_name().encode('utf-8', 'replace')):08x}"


@contextlib.contextmanager
def atomic_write(path: StrPath, mode: str = "w", encoding: str = "utf-8",
                 expected_bytes: Optional[int] = None) -> Iterator[IO[Any]]:
    """Opens a temporary file next to `path` for writing; on success it is
    fsynced and renamed over `path` (``os.replace``), so readers see either the
    old file or the complete new one. On any error the temporary file is
    removed and `path` is left untouched; a full disk (or file-size limit) is
    an OSError naming `path`, the bytes written and, with `expected_bytes`
    (the size the caller expects to write), the bytes needed.

    `mode` is ``"w"``/``"wt"`` (text, `encoding`) or ``"wb"``.
    """
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"atomic_write mode must be 'w', 'wt' or 'wb', not {mode!r}")
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    remove_stale_temporaries(directory, name)
    fd, tmp = _create_temp(directory, name)
    try:
        out: IO[Any]
        if mode == "wb":
            out = os.fdopen(fd, "wb")
        else:
            out = os.fdopen(fd, "w", encoding=encoding, newline="")
        try:
            with out:
                yield out
                out.flush()
                os.fsync(out.fileno())
        except OSError as error:
            if error.errno not in _NO_SPACE:
                raise
            raise _no_space(error, path, tmp, expected_bytes) from error
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def remove_stale_temporaries(directory: str, name: str) -> int:
    """Removes the temporaries of saves of `name` in `directory` that a
    process of this host, no longer alive, left behind (killed mid-save);
    returns how many. Those of live processes and of other hosts stay."""
    pattern = re.compile(r"\." + re.escape(name) + r"\.([0-9a-f]{8})-([0-9]+)\.[0-9a-f]+\.tmp")
    removed = 0
    try:
        entries = os.listdir(directory)
    except OSError:
        return 0  # the save itself will report what is wrong with the directory
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match is None or match.group(1) != _HOST or _alive(int(match.group(2))):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, entry))
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (a zombie counts as alive:
    its parent has not collected it yet; an unknown platform keeps all)."""
    if pid == os.getpid():
        return True
    if os.name != "posix" or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. EPERM: another user's live process
    return True


def _no_space(error: OSError, path: str, tmp: str, expected: Optional[int]) -> OSError:
    try:
        written = os.path.getsize(tmp)
    except OSError:
        written = None
    done = f"{written} bytes were written" if written is not None else "the write failed"
    needed = f"it needs about {int(expected)} bytes; " if expected is not None else ""
    reason = os.strerror(error.errno) if error.errno is not None else str(error)
    return OSError(error.errno, f"cannot save {path}: {reason}: {needed}{done} "
                                f"before the error; the partial file was removed and {path} "
                                "is unchanged")


def _create_temp(directory: str, name: str) -> Tuple[int, str]:
    # os.open with mode 0o666 lets the umask decide the permissions, as for a
    # plain open(); tempfile.mkstemp would leave the saved file at 0600.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{name}.{_HOST}-{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def _fsync_directory(directory: str) -> None:
    """Makes the rename durable (POSIX); best effort elsewhere."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
