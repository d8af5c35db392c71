"""One rank's share of a corpus given as files, balanced by bytes.

The rule (the same for every kind of file, so ranks need not agree on
anything but the file list and the world size):

* The files, decompressed, are laid end to end: file f starts at global
  offset G_f (the sum of the sizes of the files before it, decompressed).
* That stream is cut into blocks of ``block`` bytes; block k belongs to rank
  ``k % world_size`` (dealt round-robin).
* A line belongs to the block holding its first byte. A line is the bytes up
  to and including a newline, or up to the end of its file; every file starts
  a new line.

Dealing blocks round-robin instead of giving each rank one contiguous range
needs no total size up front (the decompressed size of a compressed file is
only known once it has been read), so no rank reads anything twice, and
every rank gets a sample of every part of the corpus (a corpus glued from
several sources is not split into one source per rank, which would make the
ranks' models drift apart). Shares differ by at most one block in bytes.

``block`` defaults to ``block_bytes(on-disk sizes, world_size)``: 1/64 of a
rank's fair share of the on-disk bytes, at most 1 MiB (so large corpora come
in runs of whole MiB, small ones still split into 64 blocks per rank).

Reading: a plain file is read only where the rank's blocks are (seek to the
first line start at or after the block start, read to the first line start at
or after the block end); a compressed file (gzip, bzip2, xz; recognised as
io/compression.py does) cannot be entered in the middle, so each rank
decompresses the whole stream and keeps the lines of its blocks.
Decompression is cheap next to what is done with the text.

The same cuts serve threads within one process (corpus_threads.py):
``line_cuts`` splits a plain file into ranges of whole lines that threads
read on their own, ``whole_line_chunks`` cuts one decompressing stream into
chunks of whole lines that the threads take in turn.

``rank_share``'s chunks, laid end to end, are what a rank's builder is fed:
whole lines, each ending in a newline (one is added after a file's last line
when the file lacks it), so lines of different files never run together. A
chunk may end inside a line (a block's bytes, then the rest of its last
line): one builder fed them in order sees whole lines; threads that take
chunks in turn cut them again where a builder of its own may start
(corpus_threads.build_from_chunks).
"""
from __future__ import annotations

import hashlib
import os
from typing import IO, Any, Dict, Iterable, Iterator, List, Sequence, Tuple, Union

import numpy as np

from .._typing import StrPath
from .compression import open_binary

__all__ = ["block_bytes", "owner_of", "rank_share", "files_fingerprint", "as_path_list",
           "line_cuts", "whole_line_chunks", "MAX_BLOCK", "BLOCKS_PER_RANK"]

MAX_BLOCK = 1 << 20
BLOCKS_PER_RANK = 64
_CHUNK = 4 << 20
_SCAN = 64 << 10
_FINGERPRINT_BYTES = 64 << 10


def as_path_list(source: Union[StrPath, Iterable[StrPath]]) -> List[str]:
    """A path or a list of paths as a list of str paths."""
    if isinstance(source, (str, os.PathLike)):
        return [os.fspath(source)]
    return [os.fspath(p) for p in source]


def block_bytes(disk_sizes: Sequence[int], world_size: int) -> int:
    """The default block: 1/BLOCKS_PER_RANK of a rank's share of the on-disk
    bytes, at least 1, at most MAX_BLOCK."""
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    total = int(sum(disk_sizes))
    return int(max(1, min(MAX_BLOCK, total // (BLOCKS_PER_RANK * world_size))))


def owner_of(offset: int, block: int, world_size: int) -> int:
    """The rank owning the line whose first byte is at global `offset`."""
    return (offset // block) % world_size


def rank_share(paths: Union[StrPath, Iterable[StrPath]], rank: int, world_size: int, *,
               block: int = 0, chunk_bytes: int = _CHUNK) -> Iterator[bytes]:
    """Yields rank `rank`'s lines of the files `paths` (a path or a list), in
    file order, as byte chunks that together hold whole newline-terminated
    lines (see the module's rule; a chunk may end inside a line). `block`
    0: block_bytes() of the on-disk sizes."""
    paths = as_path_list(paths)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    if not block:
        block = block_bytes([os.stat(p).st_size for p in paths], world_size)
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    start = 0  # global offset of the current file
    for path in paths:
        with open_binary(path) as (stream, size):
            if size is not None:
                yield from _plain_share(stream, size, start, rank, world_size, block, chunk_bytes)
                start += size
            else:
                length = [0]
                yield from _streamed_share(stream, start, rank, world_size, block, chunk_bytes,
                                           length)
                start += length[0]


def _owned_ranges(start: int, size: int, rank: int, world: int, block: int
                  ) -> List[Tuple[int, int]]:
    """[a, e) byte ranges of a file at global offset `start` lying in `rank`'s blocks."""
    if size == 0:
        return []
    if world == 1:
        return [(0, size)]
    first, last = start // block, (start + size - 1) // block
    k = first + (rank - first) % world
    return [(max(j * block - start, 0), min((j + 1) * block - start, size))
            for j in range(k, last + 1, world)]


def _line_start(f: IO[bytes], a: int, size: int) -> int:
    """The first line start at or after byte `a` of the plain file `f` of
    `size` bytes: 0 for 0, else the byte after the first newline at or after
    a - 1 (`size` when there is none)."""
    if a == 0:
        return 0
    f.seek(a - 1)
    position = a - 1
    while True:
        data = f.read(_SCAN)
        if not data:
            if position < size:  # the end came before the size seen at the start
                raise ValueError(f"{f.name}: the file shrank while it was read")
            return size
        i = data.find(b"\n")
        if i >= 0:
            return position + i + 1
        position += len(data)


def line_cuts(f: IO[bytes], size: int, block: int) -> List[Tuple[int, int]]:
    """[begin, end) byte ranges of the plain file `f` (`size` bytes) that cut
    it into runs of whole lines of about `block` bytes each: every range
    starts at a line start (the first line start at or after a multiple of
    `block`, as rank_share cuts), they cover the file in order, none is
    empty. A last line without its newline ends the last range."""
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    begins = [0]
    for a in range(block, size, block):
        if a <= begins[-1]:
            continue  # a line longer than a block: its range ends past `a`
        begin = _line_start(f, a, size)
        if begin < size and begin > begins[-1]:
            begins.append(begin)
    if size == 0:
        return []
    return list(zip(begins, begins[1:] + [size]))


def whole_line_chunks(stream: IO[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """A stream's bytes as chunks of whole lines (each ends in a newline,
    but the last when the stream does not), in order, none empty: what
    tokenising threads take from one decompressing stream. A chunk is about
    `chunk_bytes` long, longer when a line is."""
    tail: List[bytes] = []  # a line begun but not ended (joined once: a long line stays linear)
    while True:
        data = stream.read(chunk_bytes)
        if not data:
            if tail:
                yield b"".join(tail)
            return
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # no line ends in this piece: it all belongs to the next
            tail.append(data)
            continue
        if tail:
            tail.append(data[:cut])
            yield b"".join(tail)
        else:
            yield data[:cut]
        tail = [data[cut:]] if cut < len(data) else []


def _plain_share(f: IO[bytes], size: int, start: int, rank: int, world: int, block: int,
                 chunk_bytes: int) -> Iterator[bytes]:
    for a, e in _owned_ranges(start, size, rank, world, block):
        begin = _line_start(f, a, size)
        if begin >= e:
            continue  # no line starts in [a, e)
        f.seek(begin)
        remaining, last = e - begin, b"\n"
        while remaining > 0:
            data = f.read(min(chunk_bytes, remaining))
            if not data:
                raise ValueError(f"{f.name}: the file shrank while it was read")
            yield data
            remaining -= len(data)
            last = data[-1:]
        if last == b"\n":
            continue
        # the line holding byte e - 1 started in our range: read it to its end
        while True:
            data = f.read(_SCAN)
            if not data:
                yield b"\n"  # the file's last line has no newline
                break
            i = data.find(b"\n")
            if i >= 0:
                yield data[:i + 1]
                break
            yield data


def _streamed_share(stream: IO[bytes], start: int, rank: int, world: int, block: int,
                    chunk_bytes: int, length: List[int]) -> Iterator[bytes]:
    """Reads the whole stream, keeping the lines whose first byte lies in
    `rank`'s blocks; stores the stream's length in length[0]."""
    offset = start
    at_line_start = True  # the next byte starts a line
    mine = False          # the current line is ours
    while True:
        chunk = stream.read(chunk_bytes)
        if not chunk:
            break
        n = len(chunk)
        if world == 1:
            yield chunk
            at_line_start = chunk.endswith(b"\n")
            mine = True
            offset += n
            continue
        starts = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + 1
        starts = starts[starts < n]
        if at_line_start:
            starts = np.concatenate([np.zeros(1, dtype=starts.dtype), starts])
        flags = ((offset + starts) // block) % world == rank
        if not at_line_start:  # the line continued from the previous chunk
            starts = np.concatenate([np.zeros(1, dtype=starts.dtype), starts])
            flags = np.concatenate([[mine], flags])
        changes = np.flatnonzero(flags[1:] != flags[:-1]) + 1
        firsts = np.concatenate([[0], changes])
        begins = starts[firsts]
        ends = np.append(starts[changes], n)
        view = memoryview(chunk)
        kept = [view[b:e] for b, e, keep in zip(begins.tolist(), ends.tolist(),
                                               flags[firsts].tolist()) if keep]
        if kept:
            yield b"".join(kept)
        mine = bool(flags[-1])
        at_line_start = chunk.endswith(b"\n")
        offset += n
    if not at_line_start and mine:
        yield b"\n"  # the file's last line has no newline
    length[0] = offset - start


def files_fingerprint(paths: Union[StrPath, Iterable[StrPath]]) -> List[Dict[str, Any]]:
    """What ranks compare to make sure they read the same files (each may
    have its own copy, under another name): per file, its size on disk and a
    digest of its first and last 64 KiB. Cheap, not a proof: two files of
    the same size that differ only in the middle pass."""
    out = []
    for path in as_path_list(paths):
        size = os.stat(path).st_size
        h = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as f:
            h.update(f.read(_FINGERPRINT_BYTES))
            if size > 2 * _FINGERPRINT_BYTES:
                f.seek(size - _FINGERPRINT_BYTES)
            h.update(f.read(_FINGERPRINT_BYTES))
        out.append({"size": size, "head_and_tail": h.hexdigest()})
    return out
