"""A co-occurrence matrix on disk: the ``Cooccurrence.save`` archive, written
in pieces and memory-mapped back.

The archive is what ``archive.write_archive`` writes (an uncompressed .npz:
``config`` JSON, ``words``, ``counts``, ``rows``, ``cols``, ``values``), made
so that the three big members can be used in place:

* they are written from chunks (numpy arrays or the raw files the native
  count leaves), so the matrix never has to be in memory to be saved;
* their data starts on a 64-byte boundary: the zip extra field of each
  member is padded (header id 0xD935, as Android's zipalign does), so a
  memory map of them is aligned like a malloc'd array;
* ``open_members`` finds each member's data in the file (stored members are
  contiguous bytes) and ``read`` reads entries with ``os.pread``, so
  training and checks go through a bounded buffer, not the page tables.

Readers of other .npz files (np.load, read_archive) see a normal archive.
"""
from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from typing import IO, Any, Dict, Iterable, Iterator, Mapping, NamedTuple, Sequence, Tuple, Union

import numpy as np

from .._typing import StrPath
from ._npy import read_npy_header

__all__ = ["COLUMNS", "Member", "write_coo_archive", "open_members", "read", "result_path", "file_chunks", "memmap",
           "chunk_ranges"]

COLUMNS = (("rows", np.dtype("<i4")), ("cols", np.dtype("<i4")), ("values", np.dtype("<f4")))
_ALIGN = 64
_PAD_ID = 0xD935
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")   # zip local file header (30 bytes)
_COPY_BYTES = 4 << 20


class Member(NamedTuple):
    """One stored .npy member: its data's byte offset in the archive file."""
    offset: int
    dtype: np.dtype[Any]
    count: int  # type: ignore[assignment]  # shadows tuple.count; the field name is the file API


def _npy_header(dtype: np.dtype, count: int) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                 "shape": (count,)})
    return buffer.getvalue()


def _aligned_info(name: str, start: int, header_bytes: int) -> zipfile.ZipInfo:
    """A ZipInfo whose data, after an npy header of `header_bytes`, starts
    on an _ALIGN boundary when its local header is written at `start`."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.CRC = info.compress_size = info.file_size = 0  # set for real when the member is closed
    plain = len(info.FileHeader(zip64=True))  # the header zipfile writes (force_zip64)
    pad = -(start + plain + header_bytes) % _ALIGN
    if 0 < pad < 4:  # an extra record has a 4-byte header
        pad += _ALIGN
    if pad:
        info.extra = struct.pack("<HH", _PAD_ID, pad - 4) + bytes(pad - 4)
    return info


def _write_member(archive: zipfile.ZipFile, out: IO[bytes], name: str, dtype: np.dtype[Any],
                  count: int, chunks: Iterable[Union[bytes, np.ndarray]]) -> None:
    header = _npy_header(dtype, count)
    info = _aligned_info(name + ".npy", out.tell(), len(header))
    written = 0
    with archive.open(info, "w", force_zip64=True) as member:
        member.write(header)
        for chunk in chunks:
            data = chunk.data.cast("B") if isinstance(chunk, np.ndarray) else memoryview(chunk)
            member.write(data)
            written += len(data)
    if written != count * dtype.itemsize:
        raise ValueError(f"{name}: {written} bytes written for {count} entries of {dtype}")


def write_coo_archive(out: IO[bytes], config: Dict[str, Any], words: Sequence[str],
                      counts: np.ndarray, nnz: int,
                      columns: Mapping[str, Iterable[Union[bytes, np.ndarray]]]) -> None:
    """Writes the archive to the binary, seekable file `out`. `columns` maps
    rows/cols/values to iterables of chunks (arrays of the column's dtype,
    or raw bytes) holding `nnz` entries each, in order."""
    blob = "\n".join(words).encode("utf-8")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, data in (("config", json.dumps(config).encode("utf-8")), ("words", blob)):
            _write_member(archive, out, name, np.dtype(np.uint8), len(data), [data])
        counts = np.ascontiguousarray(counts, dtype="<i8")
        _write_member(archive, out, "counts", counts.dtype, len(counts), [counts])
        for name, dtype in COLUMNS:
            _write_member(archive, out, name, dtype, nnz, columns[name])


def open_members(file: IO[bytes], names: Iterable[str]) -> Dict[str, Member]:
    """The stored .npy members `names` of the archive open as `file` (binary,
    seekable): where each one's data starts, its dtype and length. A member
    that is compressed, not 1-D, or runs past the end of the file is a
    ValueError (the archive cannot be used in place)."""
    size = os.fstat(file.fileno()).st_size
    members: Dict[str, Member] = {}
    with zipfile.ZipFile(file) as archive:
        for name in names:
            info = archive.getinfo(name + ".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"member {name} is compressed: it cannot be memory-mapped")
            file.seek(info.header_offset)
            local = file.read(_LOCAL_HEADER.size)
            if len(local) != _LOCAL_HEADER.size or local[:4] != b"PK\x03\x04":
                raise ValueError(f"member {name}: no zip local header at byte {info.header_offset}")
            fields = _LOCAL_HEADER.unpack(local)
            start = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
            file.seek(start)
            shape, fortran, dtype = read_npy_header(file, name)
            if len(shape) != 1 or fortran or dtype.hasobject:
                raise ValueError(f"member {name} is not a 1-D array of numbers")
            offset = file.tell()
            end = offset + shape[0] * dtype.itemsize
            if end > start + info.file_size or end > size:
                raise ValueError(f"member {name} runs past the end of the file (truncated)")
            members[name] = Member(offset, dtype, int(shape[0]))
    return members


def read(file: IO[bytes], member: Member, start: int, count: int) -> np.ndarray:
    """Entries [start, start + count) of a member, read with os.pread."""
    out = np.empty(count, dtype=member.dtype)
    view = out.data.cast("B")
    at, done = member.offset + start * member.dtype.itemsize, 0
    while done < len(view):
        if hasattr(os, "preadv"):  # straight into the array
            got = os.preadv(file.fileno(), [view[done:]], at + done)
        else:  # e.g. macOS: through a bytes object
            data = os.pread(file.fileno(), len(view) - done, at + done)
            view[done:done + len(data)] = data
            got = len(data)
        if got == 0:
            raise ValueError(f"file ended inside a member at byte {at + done}")
        done += got
    return out


def result_path(result_dir: StrPath, thread: int, column: str) -> str:
    """The file a native count's merge thread writes one column of its result
    to (cooccur.h: CooccurParams::result_dir)."""
    return os.path.join(os.fspath(result_dir), f"result-{thread}.{column}")


def file_chunks(paths: Iterable[StrPath]) -> Iterator[bytes]:
    """The bytes of `paths`, one after the other, in pieces of 4 MiB."""
    for path in paths:
        with open(path, "rb") as stream:
            while True:
                data = stream.read(_COPY_BYTES)
                if not data:
                    break
                yield data


def memmap(file: IO[bytes], member: Member) -> np.ndarray:
    """A read-only memory map of a member (an empty array when it has no entries)."""
    if member.count == 0:
        return np.zeros(0, dtype=member.dtype)
    return np.memmap(file, dtype=member.dtype, mode="r", offset=member.offset,
                     shape=(member.count,))


def chunk_ranges(n: int, chunk: int) -> Iterator[Tuple[int, int]]:
    for start in range(0, n, chunk):
        yield start, min(n, start + chunk)
