"""A corpus as byte chunks of whitespace-separated text.

What every reader of a corpus feeds the native CorpusBuilder: a file path
(plain, .gz, .bz2 or .xz, recognised by content), a list of such paths (a
newline after each file, so a file's last line never runs into the next), or
a re-iterable of sentences (lists of str tokens, as gensim takes), joined
into text with their tokens checked. Chunks are read on a helper thread
(`prefetched`) while the builder tokenises the previous one with the GIL
released.
"""
from __future__ import annotations

import os
import queue
import threading
from typing import TYPE_CHECKING, Any, Iterable, Iterator, List, Optional, Sequence, Tuple

from ._typing import StrPath
from ._tokens import is_token
from .io.compression import open_binary

if TYPE_CHECKING:
    from typing_extensions import TypeGuard

__all__ = ["CHUNK_BYTES", "iter_text_chunks", "sentence_chunks", "is_path", "files_of",
           "prefetched"]

CHUNK_BYTES = 4 << 20


def _file_chunks(path: StrPath) -> Iterator[bytes]:
    with open_binary(path) as (stream, _):
        while True:
            chunk = stream.read(CHUNK_BYTES)
            if not chunk:
                return
            yield chunk


def sentence_chunks(sentences: Iterable[Sequence[str]]) -> Iterator[bytes]:
    """Joins token lists into newline-separated text, checking the tokens."""
    batch: List[Sequence[str]] = []
    size = 0
    for sentence in sentences:
        if isinstance(sentence, (str, bytes)):
            raise TypeError("a corpus iterable must yield lists of tokens, got a "
                            f"{type(sentence).__name__}: {sentence[:40]!r}; split your lines first")
        batch.append(sentence)
        size += sum(len(token) + 1 for token in sentence)
        if size >= CHUNK_BYTES:
            yield _join_checked(batch)
            batch, size = [], 0
    if batch:
        yield _join_checked(batch)


def _join_checked(sentences: List[Sequence[str]]) -> bytes:
    data = ("\n".join(" ".join(sentence) for sentence in sentences) + "\n").encode("utf-8")
    # bytes.split() splits on ASCII whitespace, exactly what the reader splits on
    if len(data.split()) != sum(len(sentence) for sentence in sentences):
        # Some token held a separator or was empty: name it.
        for sentence in sentences:
            for token in sentence:
                if not is_token(token):
                    raise ValueError("tokens must be non-empty str without ASCII whitespace, got "
                                     f"{token!r}")
    return data


def is_path(item: object) -> "TypeGuard[StrPath]":
    return isinstance(item, (str, os.PathLike))


def iter_text_chunks(source: Any) -> Iterator[bytes]:
    """Yields the corpus as byte chunks of whitespace-separated text."""
    if is_path(source):
        yield from _file_chunks(source)
    elif isinstance(source, (list, tuple)) and source and all(is_path(s) for s in source):
        for path in source:
            yield from _file_chunks(path)
            yield b"\n"  # a file's last line never runs into the next file
    elif isinstance(source, Iterator):
        raise TypeError("the corpus must be re-iterable (a list, or an object whose __iter__ "
                        "restarts), not a one-shot iterator or generator")
    elif hasattr(source, "__iter__"):
        yield from sentence_chunks(source)
    else:
        raise TypeError(f"cannot read a corpus from {type(source).__name__}: pass a file path, "
                        "a list of paths, or an iterable of token lists")


def prefetched(chunks: Iterator[bytes], depth: int = 3) -> Iterator[bytes]:
    """Reads `chunks` on a helper thread (decompression releases the GIL)."""
    slots: "queue.Queue[Any]" = queue.Queue(maxsize=depth)
    done = object()
    cancelled = threading.Event()

    def reader() -> None:
        try:
            for chunk in chunks:
                if cancelled.is_set():
                    return
                slots.put(chunk)
            slots.put(done)
        except BaseException as error:  # handed to the consumer below
            slots.put(error)

    thread = threading.Thread(target=reader, name="embforge-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        cancelled.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                slots.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


def files_of(source: object) -> Tuple[Optional[List[str]], int]:
    """The files of a file corpus and the bytes one reader puts between
    them (iter_text_chunks: a newline after each file of a list); (None, 0)
    for token lists and the rest."""
    if is_path(source):
        return [os.fspath(source)], 0
    if isinstance(source, (list, tuple)) and source and all(is_path(s) for s in source):
        return [os.fspath(s) for s in source], 1
    return None, 0

