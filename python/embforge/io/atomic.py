"""Atomic file replacement: a save is seen whole or not at all."""
from __future__ import annotations

import contextlib
import os
import secrets
from typing import IO, Iterator, Tuple

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", encoding: str = "utf-8") -> Iterator[IO]:
    """Opens a temporary file next to `path` for writing; on success it is
    fsynced and renamed over `path` (``os.replace``), so readers see either the
    old file or the complete new one. On any error the temporary file is
    removed and `path` is left untouched.

    `mode` is ``"w"``/``"wt"`` (text, `encoding`) or ``"wb"``.
    """
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"atomic_write mode must be 'w', 'wt' or 'wb', not {mode!r}")
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    fd, tmp = _create_temp(directory, name)
    try:
        if mode == "wb":
            out = os.fdopen(fd, "wb")
        else:
            out = os.fdopen(fd, "w", encoding=encoding, newline="")
        with out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _create_temp(directory: str, name: str) -> Tuple[int, str]:
    # os.open with mode 0o666 lets the umask decide the permissions, as for a
    # plain open(); tempfile.mkstemp would leave the saved file at 0600.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
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
