"""The labelled TSV reader of fine-tuning (embforge.finetune.load_tsv: a
header naming the columns, then tab-separated rows)."""
import sys

import _harness

with _harness.instrumented():
    from embforge.finetune.data import load_tsv

# UnicodeDecodeError (a ValueError) is the documented refusal of bytes that
# are not UTF-8; it carries no path of its own.
ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    texts, labels = load_tsv(_harness.SCRATCH.file(data), skip_empty=bool(len(data) % 2))
    if len(texts) != len(labels) or not texts or not all(texts) or not all(labels):
        raise _harness.ContractViolation("empty rows or mismatched columns came back")


def seeds():
    return {
        "two_columns": b"label\ttext\npos\tgood film\nneg\tbad plot , really\n",
        "three_columns": "id\ttext\tlabel\n1\tcaf\u00e9 au lait\tdrink\n2\tthe kernel\tos\n".encode(),
        "crlf_blank": b"label\ttext\r\nA\tsome words\r\n\r\nB\tother words\r\n",
    }


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
