"""Trainer archives: a model's configuration, vocabulary and arrays in one
uncompressed .npz of plain arrays (``Word2Vec.save``, ``GloVe.save``,
``Cooccurrence.save``), read back without pickle and without np.load."""
from __future__ import annotations

import json
import os
import zipfile
from typing import Any, Dict, List, Sequence, Tuple, cast

import numpy as np

from .._typing import StrPath
from ._errors import parse_json
from ._npy import read_npy_header
from .atomic import atomic_write

__all__ = ["write_archive", "read_archive", "check_shapes"]

# Largest output per input byte of the member compressions read (np.savez
# stores, np.savez_compressed deflates; deflate's best case is 1032:1): a
# member's declared size beyond it cannot be real.
_MAX_RATIO = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: 1032}


def write_archive(path: StrPath, config: Dict[str, Any], words: Sequence[str],
                  **arrays: np.ndarray) -> None:
    """Writes a trainer's state as one uncompressed .npz of plain arrays,
    atomically: the JSON `config`, the vocabulary words (UTF-8, one per line)
    and the named numpy arrays. Read back with read_archive, never pickle."""
    blob = "\n".join(words).encode("utf-8")
    settings = json.dumps(config).encode("utf-8")
    # the payload; each member adds a few hundred bytes of zip and .npy headers
    size = len(blob) + len(settings) + sum(np.asarray(a).nbytes for a in arrays.values())
    with atomic_write(path, "wb", expected_bytes=size) as out:
        members: Dict[str, Any] = dict(config=np.frombuffer(settings, dtype=np.uint8),
                                       words=np.frombuffer(blob, dtype=np.uint8), **arrays)
        np.savez(out, **members)


def read_archive(path: StrPath, what: str, names: Sequence[str], magic: str, version: int
                 ) -> Tuple[Dict[str, Any], List[str], Dict[str, np.ndarray]]:
    """Reads a write_archive file: `(config, words, {name: array})`. Anything
    but an embforge archive of the expected `magic`/`version` holding every one
    of `names` is a ValueError saying the file is not `what`.

    Each member's .npy header is checked before its array is allocated: a
    stored (uncompressed) member of plain numbers, whose declared shape fits
    in the bytes the member holds; np.load would allocate the declared shape
    first, whatever the file holds."""
    path = os.fspath(path)

    def refuse(why: object) -> ValueError:
        return ValueError(f"{path}: not an embforge {what} ({why})")

    try:
        size = os.path.getsize(path)
        with zipfile.ZipFile(path) as archive:
            config_blob, words_blob, *arrays = (
                _read_member(archive, name, size) for name in ("config", "words", *names))
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise refuse(error) from error
    except (KeyError, ValueError) as error:
        raise refuse(error) from None
    for name, blob in (("config", config_blob), ("words", words_blob)):
        if blob.dtype != np.uint8 or blob.ndim != 1:
            raise refuse(f"{name} is {blob.dtype} of shape {blob.shape}, not bytes")
    config = parse_json(config_blob.tobytes(), f"{path}: not an embforge {what}: invalid config")
    try:
        words = words_blob.tobytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as error:
        raise refuse(f"the words are not UTF-8: {error}") from None
    if not isinstance(config, dict) or config.get("format") != magic \
            or config.get("version") != version:
        found = (config.get("format"), config.get("version")) if isinstance(config, dict) else None
        raise refuse(f"format/version {found!r}")
    return config, words, dict(zip(names, arrays))


def _read_member(archive: zipfile.ZipFile, name: str, file_size: int) -> np.ndarray:
    """The array of member `name`.npy, its size checked before allocation."""
    info = archive.getinfo(name + ".npy")
    ratio = _MAX_RATIO.get(info.compress_type)
    if ratio is None:
        raise ValueError(f"member {name} uses zip compression method {info.compress_type}; "
                         "embforge reads stored and deflated members")
    if info.compress_size > file_size or info.file_size > ratio * info.compress_size + 64:
        raise ValueError(f"member {name} declares {info.file_size} bytes from "
                         f"{info.compress_size}, more than the {file_size}-byte file can hold")
    with cast("zipfile.ZipExtFile", archive.open(info)) as member:  # read mode: a ZipExtFile
        shape, fortran, dtype = read_npy_header(member, name)
        if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
            raise ValueError(f"member {name} holds {dtype}, not plain numbers")
        count = 1
        for extent in shape:
            count *= extent
        needed, left = count * dtype.itemsize, info.file_size - member.tell()
        if needed != left:
            raise ValueError(f"member {name} declares shape {shape} of {dtype} ({needed} bytes) "
                             f"but holds {left} bytes")
        array = np.empty(count, dtype=dtype)
        view = array.data.cast("B")
        done = 0
        while done < needed:
            got = member.readinto(view[done:])
            if not got:
                raise ValueError(f"member {name} ends after {done} of its {needed} bytes")
            done += got
    return array.reshape(shape, order="F" if fortran else "C")


def check_shapes(path: StrPath, expected: Sequence[Tuple[str, np.ndarray, Tuple[int, ...]]]
                 ) -> None:
    """Raises ValueError naming `path` and the member unless every (name,
    array, shape) of `expected` has that shape (what the configuration says
    the arrays of a read_archive file must be)."""
    for name, array, shape in expected:
        if array.shape != shape:
            raise ValueError(f"{os.fspath(path)}: {name} has shape {array.shape}, expected {shape}")
