"""The vocabulary file, ``word count`` lines (Vocabulary.load, which reads
through embforge.io.vocab_file.read_vocab_file); an accepted file is written
back and must read back the same."""
import sys

import _harness

with _harness.instrumented():
    from embforge.vocab import Vocabulary

ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    vocab = Vocabulary.load(_harness.SCRATCH.file(data))
    again = _harness.SCRATCH.path("again")
    try:
        vocab.save(again)
    except ValueError as error:
        raise _harness.ContractViolation(f"read a vocabulary the writer refuses: {error}") from error
    if Vocabulary.load(again) != vocab:
        raise _harness.ContractViolation("a written vocabulary reads back different")


def seeds():
    import gzip
    plain = "the 120\nof 80\nand 80\ncaf\u00e9 3\n\u65e5\u672c 2\n".encode()
    return {
        "plain": plain,
        "crlf_and_cr": b"the 5\r\nof 4\rand 3\r\n\r\n",
        "tabs": b"the\t5\nof \t 4\n",
        "gzip": gzip.compress(plain, mtime=0),
    }


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
