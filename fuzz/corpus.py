"""The corpus reader: embforge.encode on a file (the opener recognises gzip,
bzip2 and xz by their magic bytes; the native CorpusBuilder splits tokens on
ASCII whitespace, validates UTF-8 and refuses NUL bytes).

The result is checked against a reference written here in plain Python from
the README's rules: tokens are separated by space, tab, CR, VT, FF and
newline; a line is a sentence, split into pieces of max_sentence_length
tokens after out-of-vocabulary tokens are dropped; the vocabulary is the
words seen at least min_count times, by count descending then byte order;
invalid UTF-8, NUL bytes, tokens over 64 KiB and a corpus without tokens
(or without a word that reaches min_count) are ValueErrors.

Compressed inputs are decompressed for the reference with embforge's own
opener (compression.open_binary, where damaged data is a ValueError); one
that inflates past REFERENCE_LIMIT is only read through (a bomb streams in
bounded chunks; the reference would not fit a fuzzing budget)."""
import collections
import re
import sys

import _harness

with _harness.instrumented():
    import embforge
    from embforge.io.compression import open_binary

# ValueError: damaged compressed data, invalid UTF-8, NUL bytes, no tokens.
ALLOWED = (ValueError,)
NAMES_PATH = False  # the native reader names the byte offset in the stream, not the file
MAX_TOKEN_BYTES = 1 << 16
REFERENCE_LIMIT = 32 << 20
_LINES = re.compile(rb"\n")
_SEPARATORS = re.compile(rb"[ \t\r\v\f]+")


class Refused(Exception):
    """The reference says the corpus is an error."""


def reference(text: bytes, min_count: int, max_sentence_length: int):
    """(words, counts, sentences as word lists, raw tokens, dropped tokens)."""
    if b"\0" in text:
        raise Refused("NUL byte")
    lines = [[t for t in _SEPARATORS.split(line) if t] for line in _LINES.split(text)]
    tokens = [t for line in lines for t in line]
    if not tokens:
        raise Refused("no tokens")
    if max(map(len, tokens)) > MAX_TOKEN_BYTES:
        raise Refused("token too long")
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("invalid UTF-8") from None
    counts = collections.Counter(tokens)
    kept = sorted((t for t, c in counts.items() if c >= max(min_count, 1)),
                  key=lambda t: (-counts[t], t))
    if not kept:
        raise Refused("no word reaches min_count")
    known = set(kept)
    sentences = []
    for line in lines:
        ids = [t.decode("utf-8") for t in line if t in known]
        for start in range(0, len(ids), max_sentence_length):
            sentences.append(ids[start:start + max_sentence_length])
    dropped = len(tokens) - sum(len(s) for s in sentences)
    return ([t.decode("utf-8") for t in kept], [counts[t] for t in kept], sentences,
            len(tokens), dropped)


def decompressed(path: str):
    """The bytes encode() will read from `path`, None past REFERENCE_LIMIT;
    Refused when the opener refuses the data."""
    try:
        with open_binary(path) as (stream, _):
            text = stream.read(REFERENCE_LIMIT + 1)
    except ValueError as error:
        raise Refused(str(error)) from None
    return text if len(text) <= REFERENCE_LIMIT else None


def check_file(path: str, min_count: int, max_sentence_length: int) -> None:
    try:
        text = decompressed(path)
        expected = None if text is None else reference(text, min_count, max_sentence_length)
    except Refused as why:
        expected = why
    try:
        corpus = embforge.encode(path, min_count=min_count, max_sentence_length=max_sentence_length)
    except ValueError as error:
        if expected is None or isinstance(expected, Refused):
            raise
        raise _harness.ContractViolation(f"refused a corpus the rules accept: {error}") from error
    if isinstance(expected, Refused):
        raise _harness.ContractViolation(f"accepted a corpus the rules refuse ({expected})")
    if expected is None:
        return
    words, counts, sentences, raw, dropped = expected
    got = (corpus.vocab.words, corpus.vocab.counts.tolist(), list(corpus), corpus.raw_tokens,
           corpus.dropped_tokens)
    if got != (words, counts, sentences, raw, dropped):
        raise _harness.ContractViolation(
            f"encode gives {str(got)[:300]}, the rules give {str(expected)[:300]}")


def settings(data: bytes):
    """min_count and max_sentence_length, varied with the input."""
    return 1 + len(data) % 3, 1 + len(data) % 7 if len(data) % 5 == 0 else 10000


def one_input(data: bytes) -> None:
    check_file(_harness.SCRATCH.file(data), *settings(data))


def seeds():
    import gzip
    text = ("the kernel of the caf\u00e9\n\nand the x\tof kernel\r\n"
            "\u65e5\u672c and the of\x0bthe\x0cof\n").encode() * 3
    return {"plain": text, "no_final_newline": b"a b c a b a", "gzip": gzip.compress(text, mtime=0),
            "one_word": b"word\n"}


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
