"""Trainer archives: a model's configuration, vocabulary and arrays in one
uncompressed .npz of plain arrays (``Word2Vec.save``, ``GloVe.save``,
``Cooccurrence.save``), read back without pickle."""
from __future__ import annotations

import json
import os
import zipfile
from typing import Sequence

import numpy as np

from .atomic import atomic_write

__all__ = ["write_archive", "read_archive"]


def write_archive(path, config: dict, words: Sequence[str], **arrays) -> None:
    """Writes a trainer's state as one uncompressed .npz of plain arrays,
    atomically: the JSON `config`, the vocabulary words (UTF-8, one per line)
    and the named numpy arrays. Read back with read_archive, never pickle."""
    blob = "\n".join(words).encode("utf-8")
    settings = json.dumps(config).encode("utf-8")
    # the payload; each member adds a few hundred bytes of zip and .npy headers
    size = len(blob) + len(settings) + sum(np.asarray(a).nbytes for a in arrays.values())
    with atomic_write(path, "wb", expected_bytes=size) as out:
        np.savez(out, config=np.frombuffer(settings, dtype=np.uint8),
                 words=np.frombuffer(blob, dtype=np.uint8), **arrays)


def read_archive(path, what: str, names: Sequence[str], magic: str, version: int):
    """Reads a write_archive file: `(config, words, {name: array})`. Anything
    but an embforge archive of the expected `magic`/`version` holding every one
    of `names` is a ValueError saying the file is not `what`."""
    try:
        archive = np.load(os.fspath(path), allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not an embforge {what} ({error})") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an embforge {what} (a bare array, not an archive)")
    with archive:
        try:
            config = json.loads(bytes(archive["config"]).decode("utf-8"))
            words = bytes(archive["words"]).decode("utf-8").split("\n")
            arrays = {name: archive[name] for name in names}
        except (KeyError, ValueError, UnicodeDecodeError, OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"{path}: not an embforge {what} ({error})") from error
    if not isinstance(config, dict) or config.get("format") != magic \
            or config.get("version") != version:
        found = (config.get("format"), config.get("version")) if isinstance(config, dict) else None
        raise ValueError(f"{path}: not an embforge {what} (format/version {found!r})")
    return config, words, arrays
